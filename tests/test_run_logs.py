"""A failed run's Logs tab in the Prefect UI tells each failure once, at ERROR.

The UI review of a run where one asset failed its blocking check and its descendants
were skipped: with the Error filter on, one failure was 13 lines - every skipped asset's
"Finished in state Skipped(...)", and for the failure itself, besides its check's line
and the run's "fact_sales failed: ...", Prefect's "Task run failed with state: ..." (with
a meaningless ``NoneType: None`` under it) and "Finished in state Failed(...)".

Real runs on a real Prefect server (the session's) and an embedded warehouse; the logs
are read back through the Prefect client, as the UI reads them.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pandas as pd
import pytest

from io_managers import ClickHouseIOManager
from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.graph import AssetGraph
from orchestration.resolver import materialize
from orchestration.run_report import RunReport
from tests.checks_location import defs as CHECKS_LOCATION
from tests.memory_io import MemoryIOManager
from tests.prefect_records import EVENT_WAIT
from tests.waiting import wait_for

pytestmark = pytest.mark.usefixtures("prefect_server")

FINISHED = "Finished in state "


def run_logs(report: RunReport) -> list[tuple[str, str]]:
    """The flow run's log lines as (level name, message), oldest first, once every task
    run and the flow run logged its final state."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(report.flow_run_id)]))
    expected = len(report.outcomes) + 1  # each task run's final state, and the flow run's
    with get_client(sync_client=True) as client:

        def all_finished() -> list[tuple[str, str]] | None:
            logs = client.read_logs(log_filter=log_filter, limit=200, sort=LogSort.TIMESTAMP_ASC)
            lines = [(logging.getLevelName(log.level), log.message) for log in logs]
            finished = [line for line in lines if line[1].startswith(FINISHED)]
            return lines if len(finished) >= expected else None

        return wait_for(all_finished, EVENT_WAIT, "every run's final log line")


def at(level: str, lines: list[tuple[str, str]]) -> list[str]:
    return [message for name, message in lines if name == level]


def test_a_failed_check_is_told_at_error_once_and_its_skipped_descendants_at_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")  # readings fails its error check
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(CHECKS_LOCATION.ddl_paths)
        report = materialize(CHECKS_LOCATION.graph(), {"warehouse": warehouse})
    assert {o.key: o.status for o in report.outcomes} == {
        "readings": "failed",
        "summary": "skipped",
        "unchecked": "materialized",
    }
    lines = run_logs(report)

    errors = at("ERROR", lines)
    assert errors == [
        "check 'values_below_100' (error): 1 offending row, e.g. {sensor='b', value=250}",
        "readings failed: asset 'readings' (table chk.readings): failed its checks: check "
        "'values_below_100' (error): 1 offending row, e.g. {sensor='b', value=250}",
    ], lines
    info = at("INFO", lines)
    assert "Finished in state Skipped('upstream failed: readings', type=CANCELLED)" in info
    assert any(m.startswith("Finished in state Failed(\"asset 'readings'") for m in info)
    # The Logs tab names no task run: Prefect's Skipped lines alone said not which asset.
    assert "summary skipped: upstream failed: readings" in info
    assert not any("NoneType: None" in message for _, message in lines), lines


def test_an_unforeseen_failure_keeps_its_traceback_at_error() -> None:
    def bug(context: object) -> pd.DataFrame:
        raise KeyError("oops")

    database = f"t{uuid.uuid4().hex[:10]}"
    graph = AssetGraph(
        [
            AssetSpec(key="bug", table=f"{database}.bug", body=bug, kind="python"),
            AssetSpec(
                key="after",
                table=f"{database}.after",
                body=lambda context: pd.DataFrame({"n": [1]}),
                kind="python",
                deps=("bug",),
            ),
        ]
    )
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    lines = run_logs(report)

    errors = at("ERROR", lines)
    assert len(errors) == 2, lines
    # After the line of the asset's code that raised it (bug's, in this file).
    raised = f"tests/test_run_logs.py:{bug.__code__.co_firstlineno + 1}"
    assert errors[0] == f"bug failed: {raised}: KeyError: 'oops'"
    assert errors[1].startswith("Task run failed with exception: KeyError('oops')\nTraceback")
    assert errors[1].endswith("KeyError: 'oops'")
    info = at("INFO", lines)
    assert "Finished in state Skipped('upstream failed: bug', type=CANCELLED)" in info
    assert any(m.startswith('Finished in state Failed("Task run encountered') for m in info)


def test_what_an_asset_body_logs_reaches_the_runs_logs() -> None:
    """README: ``context.log`` lines "reach the run's log in the Prefect UI". They went
    to a bare Python logger: "pushed 13 gauges to ..." or "PUSHGATEWAY_URL is not set"
    were in no run's logs, so a served run's missing push was seen nowhere."""

    def talks(context: AssetContext) -> pd.DataFrame:
        context.log.info("read %d rows from the shelf", 3)
        context.log.warning("the shelf is dusty")
        return pd.DataFrame({"n": [1, 2, 3]})

    database = f"t{uuid.uuid4().hex[:10]}"
    graph = AssetGraph(
        [AssetSpec(key="talks", table=f"{database}.talks", body=talks, kind="python")]
    )
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    lines = run_logs(report)

    assert "read 3 rows from the shelf" in at("INFO", lines), lines
    assert "the shelf is dusty" in at("WARNING", lines), lines
