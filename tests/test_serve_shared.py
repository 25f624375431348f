"""Two ``pipeline serve`` processes of one deployment: said, run one at a time, and the
first stopped does not pause the schedule the other serves.

Measured before: neither said a word of the other; two runs started at once ran at once
(the deployment had no concurrency limit: on a ClickHouse server two runs wrote the same
tables together, on chdb one failed with ``WarehouseInUseError``); and Ctrl+C on one
paused the deployment ("All deployments have been paused!") while the other ran on, so
the API showed it paused with no scheduled run and the other, looking healthy, never ran
again. Real processes: the session's Prefect server and two serves on it.
"""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path
from typing import Any

from tests.prefect_api import api, ended
from tests.serve_processes import serve_in_background, stop_serve
from tests.test_local_server import serve_env, served_deployment
from tests.waiting import wait_for

NAME = "shared"
LOCATION = ("--definitions", "tests.serve_location", "--source", "synthetic:3")


def said_by(api_url: str, deployment_id: str, pid: int, event: str) -> bool:
    """Whether ``pipeline serve`` process ``pid`` has said ``event`` of the deployment."""
    events = api(api_url, "/events/filter", {
        "filter": {
            "event": {"name": [event]},
            "related": {"id": [f"prefect.deployment.{deployment_id}"]},
        },
        "limit": 50,
    })["events"]  # fmt: skip
    return any(f"pid {pid} on" in e["resource"].get("prefect.resource.name", "") for e in events)


def line_with(log: Path, words: str) -> str | None:
    return next((line for line in log.read_text().splitlines() if words in line), None)


def test_a_second_serve_is_told_and_the_first_stopped_leaves_it_serving(
    tmp_path: Path, prefect_api_url: str
) -> None:
    env = serve_env(tmp_path / "prefect-home", PREFECT_API_URL=prefect_api_url)
    args = (*LOCATION, "--name", NAME, "--warehouse", f"chdb://{tmp_path / 'wh'}")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    host = socket.gethostname()
    with serve_in_background(env, first_log, *args) as first:
        deployment: dict[str, Any] = wait_for(
            lambda: served_deployment(prefect_api_url, NAME), 300, "the deployment"
        )
        # Runs queue for one another, on whichever runner takes them.
        assert (deployment["global_concurrency_limit"] or {}).get("limit") == 1, deployment
        assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
        heard = "pipeline.serve.heartbeat"
        wait_for(lambda: said_by(prefect_api_url, deployment["id"], first.pid, heard), 120, heard)

        with serve_in_background(env, second_log, *args) as second:
            warned = wait_for(
                lambda: line_with(second_log, "another process already serves"), 300, "a warning"
            )
            assert re.search(
                rf"\| WARNING \| prefect\.runner - another process already serves deployment "
                rf"'materialize-assets/{NAME}' \(pipeline serve, pid {first.pid} on {host}\): ",
                warned,
            ), second_log.read_text()
            wait_for(
                lambda: said_by(prefect_api_url, deployment["id"], second.pid, heard), 120, heard
            )

            stop_serve(first, signal.SIGINT, to_group=True, timeout=60)
            said = first_log.read_text()
            assert first.returncode == 130, said
            assert "Pausing all deployments" not in said and "paused" not in said, said
            assert (
                f"another process still serves deployment 'materialize-assets/{NAME}' "
                f"(pipeline serve, pid {second.pid} on {host}): its schedule stays active"
            ) in said
            assert not served_deployment(prefect_api_url, NAME)["paused"]
            assert second.poll() is None, second_log.read_text()

            # The one left serves: a run now is its.
            run = api(prefect_api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
            state = wait_for(lambda: ended(prefect_api_url, run["id"]), 300, "the run")
            assert state["type"] == "COMPLETED", (state, second_log.read_text())

            # Alone now, it pauses the schedule on its way out, as Prefect's runner does.
            stopped = "pipeline.serve.stopped"
            wait_for(
                lambda: said_by(prefect_api_url, deployment["id"], first.pid, stopped), 60, stopped
            )
            stop_serve(second, signal.SIGINT, to_group=True, timeout=60)
    assert second.returncode == 130
    assert "All deployments have been paused!" in second_log.read_text()
    assert served_deployment(prefect_api_url, NAME)["paused"]
