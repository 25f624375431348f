"""A run whose Prefect API goes away ends in seconds, says so in one line, keeps its tables.

Each test runs a real ``pipeline materialize`` against the real local background Prefect
server (a Prefect home of its own) and stops that server at a known point of the run: from
inside an asset (tests/server_death_location.py), or right after the command connected
to it. Before, such a run hung for minutes: every asset page, the run's final state and
each undelivered event was retried against the dead server, printing Prefect's errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration import local_server
from tests.server_death_location import STOPPED_AT_ENV
from tests.test_local_server import REPO, newcomer_env, pipeline

LOCATION = ("--definitions", "tests.server_death_location")
#: How long the command may take to end once its Prefect server is gone.
ENDS_WITHIN_SECONDS = 20.0
#: Before the fix the run took minutes; this stops waiting for it well before that.
GIVE_UP_SECONDS = 150.0
NOISE = ("Traceback", "EventsWorker", "Error logging to API", "prefect._internal")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[local_server.LocalServer]:
    """The local background server of a Prefect home of the test's own, as `pipeline
    server start` starts it; stopped at the end if the test did not."""
    home = tmp_path / "prefect-home"
    started, _ = local_server.ensure(300, home)
    yield started
    local_server.stop(home)


def run_pipeline(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``pipeline ARGS`` and the instant it ended; killed (and failed) after
    :data:`GIVE_UP_SECONDS`, as a user would give up on it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=GIVE_UP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(
            f"pipeline {' '.join(args)} still running {GIVE_UP_SECONDS:.0f} s after it started "
            f"(its Prefect server was gone); stderr so far:\n{stderr[-3000:]}"
        )
    ended = time.time()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), ended


def test_a_run_whose_prefect_server_stops_ends_at_once_and_keeps_its_tables(
    server: local_server.LocalServer, tmp_path: Path
) -> None:
    stopped_at = tmp_path / "stopped-at"
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    env = newcomer_env(server.log_path.parent, **{STOPPED_AT_ENV: str(stopped_at)})

    result, ended = run_pipeline(env, "materialize", *LOCATION, *warehouse)

    assert stopped_at.exists(), result.stderr  # the server was stopped from inside the run
    took = ended - float(stopped_at.read_text())
    assert took < ENDS_WITHIN_SECONDS, f"ended {took:.1f} s after its server: {result.stderr}"
    # Every table was published and recorded: the report says so, and so does the warehouse.
    assert "Run report: 3 materialized" in result.stdout, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"error: the Prefect API at {server.api_url} stopped answering"), line
    assert "pipeline status" in line
    assert not [noise for noise in NOISE if noise in result.stderr]
    # Not recorded in Prefect as a whole (its final state, its lineage page): not a success.
    assert result.returncode == 1
    status = pipeline(env, "status", "--json", *LOCATION, *warehouse)
    assert status.returncode == 0, status.stderr
    assert {a["key"]: a["state"] for a in json.loads(status.stdout)} == {
        "before_stop": "fresh",
        "stopper": "fresh",
        "after_stop": "fresh",
    }


STOP_ONCE_CONNECTED = """
import sys
from orchestration import cli_options, local_server

connect = cli_options.connect_prefect

def connect_then_stop(say, *, quiet):
    connect(say, quiet=quiet)
    local_server.stop()

cli_options.connect_prefect = connect_then_stop
from orchestration.cli import main
sys.argv = ["pipeline", *sys.argv[1:]]
main()
"""


def test_a_server_gone_before_the_run_started_is_one_line_and_nothing_is_published(
    server: local_server.LocalServer, tmp_path: Path
) -> None:
    """The server stops between the command finding it and the flow run being created."""
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    env = newcomer_env(server.log_path.parent)
    started = time.time()
    process = subprocess.run(
        [sys.executable, "-c", STOP_ONCE_CONNECTED, "materialize", *LOCATION, *warehouse],
        cwd=REPO,
        env={**env, STOPPED_AT_ENV: str(tmp_path / "not-reached")},
        capture_output=True,
        text=True,
        timeout=GIVE_UP_SECONDS,
    )
    assert time.time() - started < ENDS_WITHIN_SECONDS + 10, process.stderr
    assert process.returncode == 1
    assert process.stdout == ""
    (line,) = process.stderr.splitlines()
    assert line.startswith(f"error: the Prefect API at {server.api_url} does not answer"), line
    assert "nothing was materialized" in line and "pipeline server start" in line
    assert "PREFECT_API_URL" in line
    status = pipeline(env, "status", "--json", *LOCATION, *warehouse)
    assert {a["state"] for a in json.loads(status.stdout)} == {"missing"}
