"""Materialization history in the warehouse, and the states it yields, on real chdb.

Runs go through the resolver and a real Prefect server; the crash test kills a real
``pipeline``-like subprocess with SIGKILL while an asset is mid-materialization.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager, WarehouseQueryError
from orchestration.asset_state import StateBook
from orchestration.fingerprint import file_fingerprint
from orchestration.history import MaterializationRecord
from orchestration.resolver import materialize
from tests.history_location import defs

REPO = Path(__file__).resolve().parent.parent
ALL_BUT_STALLS = "not stalls"


@pytest.fixture
def source_csv(tmp_path) -> Path:
    path = tmp_path / "numbers.csv"
    path.write_text("n\n1\n2\n3\n")
    return path


@pytest.fixture
def warehouse(tmp_path):
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as io:
        io.setup(defs.ddl_paths)
        yield io


def run(warehouse, source_csv, selection=ALL_BUT_STALLS):
    return materialize(
        defs.graph(), {"warehouse": warehouse}, selection, params={"source": str(source_csv)}
    )


def history_rows(warehouse) -> dict[str, list[dict]]:
    rows = warehouse.query_arrow(
        "SELECT * FROM _pipeline.materializations FINAL ORDER BY started"
    ).to_pylist()
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(row["asset_key"], []).append(row)
    return by_key


def states(warehouse, source_csv) -> dict[str, tuple[str, list[str]]]:
    book = StateBook(defs.graph(), {"warehouse": warehouse}, {"source": str(source_csv)})
    return {k: (s.state, [r.kind for r in s.reasons]) for k, s in book.states.items()}


def test_success_writes_one_row_per_materialization(prefect_server, warehouse, source_csv):
    report = run(warehouse, source_csv)
    assert report.ok
    rows = history_rows(warehouse)
    assert sorted(rows) == ["doubled", "source", "total"]
    source, doubled, total = rows["source"][0], rows["doubled"][0], rows["total"][0]
    book = StateBook(defs.graph(), {"warehouse": warehouse}, {"source": str(source_csv)})
    for key, row in (("source", source), ("doubled", doubled), ("total", total)):
        assert len(rows[key]) == 1
        assert row["status"] == "materialized"
        assert row["run_id"] == report.flow_run_id
        assert row["code_version"] == book.code_versions[key]
        assert row["started"] <= row["ended"]
        assert row["error"] is None
    assert source["table"] == "hist.source"
    assert source["rows_in_table"] == 3
    assert source["source_fingerprint"] == file_fingerprint(source_csv)
    assert doubled["source_fingerprint"] is None
    assert doubled["upstream"] == f'{{"source": "{source["materialization_id"]}"}}'
    assert total["upstream"] == f'{{"doubled": "{doubled["materialization_id"]}"}}'
    outcome = {o.key: o for o in report.outcomes}["total"]
    assert outcome.code_version == total["code_version"]


def test_states_after_a_run_and_after_each_change(prefect_server, warehouse, source_csv):
    assert states(warehouse, source_csv)["source"] == ("missing", ["never_materialized"])
    run(warehouse, source_csv)
    assert states(warehouse, source_csv) == {
        "source": ("fresh", []),
        "doubled": ("fresh", []),
        "total": ("fresh", []),
        "stalls": ("missing", ["never_materialized"]),
    }
    source_csv.write_text("n\n1\n2\n3\n4\n")
    os.utime(source_csv, ns=(1, 2_000_000_000))
    assert states(warehouse, source_csv)["source"] == ("stale", ["source_changed"])
    assert states(warehouse, source_csv)["doubled"] == ("fresh", [])

    assert [o.key for o in run(warehouse, source_csv, "source").outcomes] == ["source"]
    after = states(warehouse, source_csv)
    assert after["source"] == ("fresh", [])
    assert after["doubled"] == ("stale", ["upstream_materialized"])
    assert after["stalls"][0] == "missing"

    rerun = run(warehouse, source_csv, "status:stale+ and not stalls")
    assert [o.key for o in rerun.outcomes] == ["doubled", "total"]
    assert warehouse.query_arrow("SELECT total FROM hist.total").to_pylist() == [{"total": 20}]
    assert run(warehouse, source_csv, "status:stale+ and not stalls").outcomes == []


def test_failure_is_recorded_and_the_last_success_kept(
    prefect_server, warehouse, source_csv, monkeypatch
):
    run(warehouse, source_csv)
    monkeypatch.setenv("HIST_TOTAL_FAILS", "1")
    report = run(warehouse, source_csv, "total")
    assert not report.ok
    rows = history_rows(warehouse)["total"]
    assert [row["status"] for row in rows] == ["materialized", "failed"]
    assert "no_such_column" in rows[1]["error"]
    assert rows[1]["rows_in_table"] is None
    state, reasons = states(warehouse, source_csv)["total"]
    assert state == "stale"
    assert "last_run_failed" in reasons
    book = StateBook(defs.graph(), {"warehouse": warehouse}, {"source": str(source_csv)})
    assert book.states["total"].last_success.materialization_id == rows[0]["materialization_id"]


def test_an_asset_that_never_ran_keeps_its_state_and_an_earlier_failure(
    prefect_server, warehouse, source_csv, monkeypatch
):
    run(warehouse, source_csv)
    monkeypatch.setenv("HIST_TOTAL_FAILS", "1")
    assert not run(warehouse, source_csv, "total").ok
    monkeypatch.delenv("HIST_TOTAL_FAILS")
    monkeypatch.setenv("HIST_DOUBLED_FAILS", "1")
    report = run(warehouse, source_csv, "doubled+")
    assert {o.key: o.status for o in report.outcomes} == {"doubled": "failed", "total": "skipped"}

    rows = history_rows(warehouse)
    assert [row["status"] for row in rows["total"]] == ["materialized", "failed", "skipped"]
    skipped = rows["total"][-1]
    assert skipped["run_id"] == report.flow_run_id
    assert skipped["error"] == "upstream failed: doubled"
    assert skipped["ended"] is not None
    # The skip is no attempt: total's last attempt is still the failure before it.
    book = StateBook(defs.graph(), {"warehouse": warehouse}, {"source": str(source_csv)})
    assert book.states["total"].last_attempt.status == "failed"
    assert [r.kind for r in book.states["total"].reasons] == ["last_run_failed"]


def test_an_outcome_carries_the_last_success_and_the_rows_its_table_kept(
    prefect_server, warehouse, source_csv, monkeypatch
):
    """What the page of a failed or skipped attempt says of its table, from the run's own
    history: its last success (none yet, then the first run's) and, when the records
    tell, the rows the table still holds."""
    monkeypatch.setenv("HIST_DOUBLED_FAILS", "1")
    never = {o.key: o for o in run(warehouse, source_csv).outcomes}
    assert (never["doubled"].status, never["total"].status) == ("failed", "skipped")
    for key in ("doubled", "total"):
        assert never[key].state == "missing"
        assert never[key].last_success is None
        assert never[key].kept_rows is None
    monkeypatch.delenv("HIST_DOUBLED_FAILS")
    first = run(warehouse, source_csv)
    built = {o.key: o for o in first.outcomes}
    assert built["doubled"].last_success.run_id == first.flow_run_id  # its own

    monkeypatch.setenv("HIST_DOUBLED_FAILS", "1")
    doubled, total = run(warehouse, source_csv, "doubled+").outcomes
    assert (doubled.status, total.status) == ("failed", "skipped")
    for outcome in (doubled, total):
        success, then = outcome.last_success, built[outcome.key].last_success
        assert success.materialization_id == then.materialization_id
        assert (success.run_id, success.rows) == (first.flow_run_id, then.rows)
        assert success.ended is not None
    assert (doubled.kept_rows, total.kept_rows) == (3, 1)
    # Failed again: its latest attempt before this one published nothing, and the records
    # do not say what an attempt before that left (it could have failed in its checks).
    (again,) = run(warehouse, source_csv, "doubled").outcomes
    assert again.last_success.materialization_id == built["doubled"].last_success.materialization_id
    assert again.kept_rows is None


def test_a_run_writes_its_started_records_at_once(prefect_server, warehouse, source_csv):
    """One write for every asset's ``started``, then one per outcome: each write is a part
    of the history table (merges stopped, so none is folded into another)."""
    # A write creates the table (a read creates nothing): one part of one row, before the run.
    earlier = MaterializationRecord("m-0", "earlier", "hist.earlier", "v", datetime.now(UTC))
    warehouse.history().record(earlier)
    warehouse.command("SYSTEM STOP MERGES _pipeline.materializations")
    assert run(warehouse, source_csv).ok
    parts = warehouse.query_arrow(
        "SELECT rows FROM system.parts WHERE database = '_pipeline' "
        "AND table = 'materializations' AND active ORDER BY modification_time, name"
    ).to_pylist()
    assert sorted(part["rows"] for part in parts) == [1, 1, 1, 1, 3]


_CHILD = textwrap.dedent(
    """
    import sys
    from io_managers import ClickHouseIOManager
    from orchestration.resolver import materialize
    from tests.history_location import defs

    path, source, marker = sys.argv[1:4]
    with ClickHouseIOManager.embedded(path) as io:
        io.setup(defs.ddl_paths)
        materialize(defs.graph(), {"warehouse": io}, "source+",
                    params={"source": source, "stall_marker": marker}, concurrency=1)
    """
)


def test_kill_9_mid_run_leaves_no_row_claiming_a_publish(prefect_server, tmp_path, source_csv):
    from prefect.settings import PREFECT_API_URL

    path = tmp_path / "killed-warehouse"
    marker = tmp_path / "stalls-is-running"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(source_csv), str(marker)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"the child ended early: {child.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, "the stalling asset never started"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stderr.close()

    with ClickHouseIOManager.embedded(path) as io:
        rows = history_rows(io)
        assert rows["source"][-1]["status"] == "materialized"
        stalls = rows["stalls"]
        assert [row["status"] for row in stalls] == ["started"]
        assert stalls[0]["ended"] is None
        assert io.row_count("hist.stalls") == 0
        book = StateBook(defs.graph(), {"warehouse": io}, {"source": str(source_csv)})
        state = book.states["stalls"]
        assert state.state == "missing"
        assert "did not finish" in state.explain()


def test_run_report_outcomes_carry_code_version_and_state_after_the_run(
    prefect_server, warehouse, source_csv, monkeypatch
):
    monkeypatch.setenv("HIST_TOTAL_FAILS", "1")
    report = run(warehouse, source_csv)
    outcomes = {o.key: o for o in report.outcomes}
    book = StateBook(defs.graph(), {"warehouse": warehouse}, {"source": str(source_csv)})
    assert (outcomes["source"].state, outcomes["source"].reasons) == ("fresh", ())
    assert outcomes["doubled"].code_version == book.code_versions["doubled"]
    assert outcomes["total"].state == "missing"
    assert [r.kind for r in outcomes["total"].reasons] == ["never_materialized", "last_run_failed"]
    assert outcomes["total"].reasons[0].detail == "never materialized"
    assert outcomes["total"].reasons[1].detail.startswith("last run failed")
    # What the report says after the run is what status says now.
    assert {k: o.state for k, o in outcomes.items()} == {
        k: s.state for k, s in book.states.items() if k in outcomes
    }


def test_a_broken_history_table_stops_the_run_before_any_work(warehouse, source_csv):
    warehouse.command("CREATE DATABASE IF NOT EXISTS _pipeline")
    warehouse.command(
        "CREATE TABLE _pipeline.materializations (unrelated UInt8) ENGINE = MergeTree ORDER BY ()"
    )
    with pytest.raises(WarehouseQueryError, match=r"materialization history _pipeline\.mat"):
        run(warehouse, source_csv, "source")
    assert warehouse.row_count("hist.source") == 0


def test_a_run_asks_only_the_selected_assets_sources(prefect_server):
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.graph import AssetGraph
    from tests.memory_io import MemoryIOManager

    asked: list[str] = []

    def fingerprint(params):
        asked.append("ingest")
        raise OSError("cannot reach https://bob:hunter2@data.example/x.csv?token=abc")

    graph = AssetGraph(
        [
            AssetSpec(
                key="ingest",
                table="m.ingest",
                body=lambda c: pd.DataFrame({"n": [1]}),
                kind="python",
                fingerprint=fingerprint,
            ),
            AssetSpec(key="alone", table="m.alone", body=lambda c: pd.DataFrame(), kind="python"),
        ]
    )
    assert materialize(graph, {"warehouse": MemoryIOManager()}, "alone").ok
    assert asked == []
    book = StateBook(graph, {"warehouse": MemoryIOManager()})
    # Stored with every materialization and printed by status: never the error's text,
    # which may echo the source's URL with its credentials.
    assert book.fingerprints == {"ingest": "unavailable: OSError from the fingerprint"}


def test_a_run_versions_only_the_selected_assets_code(prefect_server):
    """A code version renders the asset's SQL (and reads its schema and DDL): a run of one
    asset computes that asset's only, and still reports it with its state."""
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.graph import AssetGraph
    from tests.memory_io import MemoryIOManager

    rendered: list[str] = []

    def other_sql(context) -> str:
        rendered.append("other")
        return "SELECT 1 AS n"

    graph = AssetGraph(
        [
            AssetSpec(key="other", table="m.other", body=other_sql, kind="sql"),
            AssetSpec(
                key="alone", table="m.alone", body=lambda c: pd.DataFrame({"n": [1]}), kind="python"
            ),
        ]
    )
    io = MemoryIOManager()
    report = materialize(graph, {"warehouse": io}, "alone")
    assert report.ok
    assert rendered == []
    (outcome,) = report.outcomes
    assert outcome.code_version == StateBook(graph, {"warehouse": io}).code_versions["alone"]
    assert outcome.state == "fresh"


def test_reading_the_history_imports_no_pandas(tmp_path: Path) -> None:
    """`pipeline checks` and `status` read the history to tell what was never built:
    pyarrow turns a timestamp into a datetime through pandas (~0.15-0.3 s to import), which
    nothing else those commands do needs."""
    script = f"""
import sys
from datetime import UTC, datetime
from io_managers import ClickHouseIOManager
from orchestration.history import MaterializationRecord
with ClickHouseIOManager.embedded({str(tmp_path / "wh")!r}) as io:
    started = datetime(2026, 12, 6, 19, 0, 0, 123456, tzinfo=UTC)
    io.history().record(MaterializationRecord("m1", "orders", "shop.orders", "v1", started,
        status="materialized", rows=3, ended=started))
    assert "pandas" not in sys.modules
    found = io.history().latest({{"orders": "shop.orders"}})["orders"].last_success
    print(found.started.isoformat(), found.ended.isoformat(), found.rows, "pandas" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    moment = "2026-12-06T19:00:00.123456+00:00"
    assert result.stdout.split() == [moment, moment, "3", "False"]


def test_the_last_attempts_of_several_assets_are_read_together(
    prefect_server, warehouse, source_csv, monkeypatch
):
    """What each asset page lists (its asset's last records, skips included): newest
    first, at most ``limit`` per asset, the given run's own left out, and only the records
    of the asset's own table."""
    first = run(warehouse, source_csv)
    monkeypatch.setenv("HIST_DOUBLED_FAILS", "1")
    failed = run(warehouse, source_csv)  # doubled fails, total is skipped
    monkeypatch.delenv("HIST_DOUBLED_FAILS")
    last = run(warehouse, source_csv)
    ids = [str(report.flow_run_id) for report in (first, failed, last)]

    store = warehouse.history()
    tables = {"source": "hist.source", "doubled": "hist.doubled", "total": "hist.total"}
    found = store.recent(tables, 2, except_run=ids[2])
    assert {key: [(r.run_id, r.status) for r in records] for key, records in found.items()} == {
        "source": [(ids[1], "materialized"), (ids[0], "materialized")],
        "doubled": [(ids[1], "failed"), (ids[0], "materialized")],
        "total": [(ids[1], "skipped"), (ids[0], "materialized")],
    }
    assert found["source"][0].rows == 3
    assert [r.run_id for r in store.recent(tables, 5)["total"]] == ids[::-1]
    assert store.recent({"source": "hist.elsewhere"}, 5) == {}
