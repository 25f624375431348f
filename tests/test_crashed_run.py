"""A run whose process was killed outright is shown Crashed in Prefect by the next run.

SIGKILL (the out-of-memory killer, ``kill -9``) or SIGBUS gives a run no say in how it
ends: the Prefect UI showed it Running for ever, though the warehouse's history knew it
had not finished (``pipeline status``: "last run did not finish"). The next run on the
embedded warehouse, which no other process can hold while it does, marks it Crashed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestration.asset_state import StateBook
from orchestration.crashed_run import LEFT_UNFINISHED
from orchestration.history import MaterializationRecord
from tests.memory_io import RememberingIOManager
from tests.prefect_api import api
from tests.safety_location import SLOW_MARKER_ENV
from tests.safety_location import defs as safety_defs
from tests.test_cli import REPO


def _materialize(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration", "materialize",
         "--definitions", "tests.safety_location", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _flow_runs_since(prefect_api: str, began: str) -> list[dict[str, Any]]:
    return api(prefect_api, "/flow_runs/filter", {
        "flow_runs": {"start_time": {"after_": began}}, "sort": "START_TIME_ASC",
    })  # fmt: skip


def test_the_next_run_marks_a_killed_run_crashed_once(tmp_path: Path, prefect_api_url: str):
    source, marker = tmp_path / "n.csv", tmp_path / "busy"
    source.write_text("n,q\n1,10\n2,20\n")
    env = {
        **os.environ,
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
        "PREFECT_API_URL": prefect_api_url,
    }
    began = datetime.now(UTC).isoformat()
    killed = _materialize({**env, SLOW_MARKER_ENV: str(marker)}, "--source", str(source))
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), killed.communicate(timeout=5)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
    (left,) = _flow_runs_since(prefect_api_url, began)
    assert left["state_type"] == "RUNNING", left["state"]  # nothing else would change it

    marked = []
    for _ in range(2):  # the second run finds it again, and leaves it as it is
        after = _materialize(env, "--select", "ingest", "--source", str(source))
        stdout, stderr = after.communicate(timeout=180)
        assert after.returncode == 0, stdout + stderr
        state = api(prefect_api_url, f"/flow_runs/{left['id']}")["state"]
        assert state["type"] == "CRASHED", state
        assert state["message"].startswith(LEFT_UNFINISHED), state["message"]
        marked.append((state["id"], state["timestamp"]))
    assert marked[0] == marked[1]  # marked once
    runs = _flow_runs_since(prefect_api_url, began)
    assert [run["state_type"] for run in runs] == ["CRASHED", "COMPLETED", "COMPLETED"]


def test_a_run_left_started_in_a_store_others_share_is_no_crash():
    """A store several processes use at once (a ClickHouse server) does not tell a run
    going on elsewhere from a dead one: nothing is taken for unfinished there."""
    io = RememberingIOManager()
    history = io.history()
    assert not history.one_process_at_a_time
    history.record(
        MaterializationRecord(
            materialization_id="m1",
            asset_key="ingest",
            table="safe.ingest",
            code_version="v1",
            started=datetime.now(UTC),
            run_id="6f1c2d8e-0000-4000-8000-000000000001",
        )
    )
    book = StateBook(safety_defs.graph(), {"warehouse": io})
    assert book.history["ingest"].last_attempt is not None
    assert book.unfinished_attempts() == []
