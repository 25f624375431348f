"""Stopping ``pipeline serve`` while a served run is busy cancels that run cleanly.

The run is stopped as an interrupted ``pipeline materialize`` is (tests/test_interrupts.py):
no table half-published, no staging table left, the Prefect UI showing it Cancelled (not
Running for ever), and no traceback in serve's log; serve then exits with 130 (Ctrl+C) or
143 (SIGTERM, as a supervisor stops it). Real processes: the session's Prefect server,
``pipeline serve`` on it, the run Prefect starts for the deployment, and an asset
(``slow``, tests/safety_location.py) busy when the signal comes.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from io_managers import ClickHouseIOManager
from tests.prefect_api import api
from tests.safety_location import SLOW_MARKER_ENV
from tests.serve_processes import STOPPED_EITHER_WAY, serve_in_background, stop_serve
from tests.test_local_server import serve_env, served_deployment
from tests.waiting import wait_for


@STOPPED_EITHER_WAY
def test_stopping_serve_cancels_its_busy_run_cleanly(
    tmp_path: Path, prefect_api_url: str, signum: signal.Signals, to_group: bool, code: int
) -> None:
    source, marker, warehouse = tmp_path / "n.csv", tmp_path / "busy", tmp_path / "wh"
    source.write_text("n,q\n1,10\n2,20\n")
    name = f"stop-{signum.name.lower()}"
    env = serve_env(tmp_path / "prefect-home", PREFECT_API_URL=prefect_api_url)
    env[SLOW_MARKER_ENV] = str(marker)
    log = tmp_path / "serve.log"
    args = ("--source", str(source), "--name", name, "--warehouse", f"chdb://{warehouse}")
    with serve_in_background(env, log, "--definitions", "tests.safety_location", *args) as process:
        deployment = wait_for(
            lambda: served_deployment(prefect_api_url, name), 300, "the deployment"
        )
        run = api(prefect_api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
        wait_for(marker.exists, 300, "the served run's slow asset to be busy")
        stopped_in = stop_serve(process, signum, to_group, timeout=60)
    said = log.read_text()
    assert process.returncode == code, said
    assert stopped_in < 30, f"took {stopped_in:.1f} s to stop\n{said}"
    assert "Traceback" not in said, said
    flow_run = api(prefect_api_url, f"/flow_runs/{run['id']}")
    assert flow_run["state_type"] == "CANCELLED", (flow_run["state"], said)
    # The UI shows the run's own summary, not the runner's "Runner is shutting down."
    # (How many of hub and report were done when the stop came varies; slow never is.)
    message = flow_run["state"]["message"]
    summary = rf"interrupted \({signum.name}\): \d materialized, (.*, )?\d cancelled"
    assert re.fullmatch(summary, message), (message, said)
    task_runs = api(prefect_api_url, "/task_runs/filter", {
        "flow_runs": {"id": {"any_": [run["id"]]}},
    })  # fmt: skip
    states = {task_run["name"]: task_run["state_type"] for task_run in task_runs}
    assert states["slow"] == "CANCELLED", states
    assert not {"RUNNING", "PENDING", "SCHEDULED"} & set(states.values()), states
    with ClickHouseIOManager.embedded(warehouse) as io:
        tables = io.query_arrow("SELECT name FROM system.tables WHERE database = 'safe'")
        assert sorted(tables.column("name").to_pylist()) == ["hub", "ingest", "report", "slow"]
        assert io.row_count("safe.slow") == 0  # never published
        assert io.row_count("safe.ingest") == 2
