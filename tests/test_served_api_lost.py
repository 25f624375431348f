"""A served run whose Prefect server goes away ends in seconds; ``pipeline serve`` carries on.

Real processes throughout: a Prefect server the test owns, on a port of its own, then
``pipeline serve`` against it (as a user with their own server runs it, ``PREFECT_API_URL``
set); a run started from the deployment, as the UI's Run button starts one, stops that
server from inside an asset (tests/server_death_location.py). Then the server is started
again on the same port and database, as after a restart, and serve runs the next run.

Measured before this test (Prefect 3.9): the run's process lived 56 s after its server,
Prefect's exit handlers retrying each of its 8 undelivered events for 7 s, and the serve
log got three tracebacks of the lost API, 24 lines of event-delivery errors, and the
runner's own "Failed the last 3 attempts" traceback on stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from tests.prefect_api import api, ended
from tests.serve_processes import OwnServer
from tests.server_death_location import STOP_PID_ENV, STOPPED_AT_ENV
from tests.test_local_server import pipeline, serve_env, served_deployment, serving
from tests.waiting import wait_for

LOCATION = ("--definitions", "tests.server_death_location")
#: How long the served run's process may live once its Prefect server is gone.
ENDS_WITHIN_SECONDS = 20.0
#: What the serve log must not show for the outage: tracebacks, Prefect's retries of
#: the run's events and logs, the engine's failure to record the run's end.
#: How often serve asks for runs, and polls for cancellations while its event stream is
#: down. Prefect's default is 10 s; the serve tests' 1 s would have serve's polling give
#: up on a run (a traceback, and no cancel until the API is back) within ~3 s of the
#: outage, sooner than any run can close its warehouse, a user's default never does.
POLL_ENV, POLL_SECONDS = "PREFECT_RUNNER_POLL_FREQUENCY", "5"
NOISE = ("Traceback", "EventsWorker", "Error logging to API", "PrefectApiLostError")


def run_processes(flow_run_id: str) -> list[int]:
    """The live processes running flow run ``flow_run_id`` (the runner names it in their
    environment)."""
    wanted = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or wanted not in (proc / "environ").read_bytes().split(
                b"\0"
            ):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            found.append(int(proc.name))
    return found


def test_a_served_run_whose_prefect_server_stops_ends_at_once_and_serve_carries_on(
    tmp_path: Path,
) -> None:
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    stopped_at = tmp_path / "stopped-at"
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    run_ids: list[str] = []
    try:
        with server.start() as first:
            env = serve_env(
                tmp_path / "prefect-home",
                PREFECT_API_URL=api_url,
                **{STOPPED_AT_ENV: str(stopped_at), STOP_PID_ENV: str(first.pid)},
            )
            env[POLL_ENV] = POLL_SECONDS
            args = ("--name", "outage", *warehouse)
            with serving(env, tmp_path, *args, location=LOCATION) as (out, err):
                deployment = wait_for(
                    lambda: served_deployment(api_url, "outage"), 120, "the deployment"
                )
                run = api(api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
                run_ids.append(run["id"])
                wait_for(stopped_at.exists, 120, "the run to stop its server", interval=0.1)
                gone = float(stopped_at.read_text())
                wait_for(
                    lambda: not run_processes(run["id"]),
                    ENDS_WITHIN_SECONDS + 60,
                    "the served run's process to end",
                    interval=0.1,
                )
                took = time.time() - gone
                said = err.read_text() + out.read_text()
                status = pipeline(env, "status", "--json", *LOCATION, *warehouse)

                with server.start():  # back, as after a restart
                    # Serve picks runs up again (just the first asset: the stopper would
                    # stop this server too).
                    again = api(
                        api_url,
                        f"/deployments/{deployment['id']}/create_flow_run",
                        {"parameters": {"select": "before_stop"}},
                    )
                    run_ids.append(again["id"])
                    state = wait_for(
                        lambda: ended(api_url, again["id"]), 120, "the next served run"
                    )
    finally:
        for pid in (pid for run_id in run_ids for pid in run_processes(run_id)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a failed test leaves no run behind

    assert took < ENDS_WITHIN_SECONDS, f"the run ended {took:.1f} s after its server:\n{said}"
    # One line says what happened, naming the API; no tracebacks, no retries' noise.
    lost = [line for line in said.splitlines() if f"Prefect API at {api_url} stopped" in line]
    assert len(lost) == 1, said
    assert "3 materialized" in lost[0] and "pipeline status" in lost[0], lost[0]
    assert not [noise for noise in NOISE if noise in said], said
    # The tables were published and recorded in the warehouse's history.
    assert status.returncode == 0, status.stderr
    assert {a["key"]: a["state"] for a in json.loads(status.stdout)} == {
        "before_stop": "fresh",
        "stopper": "fresh",
        "after_stop": "fresh",
    }
    assert (state["type"], state["message"]) == ("COMPLETED", "1 materialized"), err.read_text()
