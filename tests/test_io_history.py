"""The history store on both backends: written twice per materialization, read as one."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from io_managers.history import LAYOUT
from orchestration.history import AssetHistory, MaterializationRecord

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def started(key: str, minutes: int = 0) -> MaterializationRecord:
    return MaterializationRecord(
        materialization_id=str(uuid.uuid4()),
        asset_key=key,
        table="db.t",
        code_version="abc",
        started=T0 + timedelta(minutes=minutes),
        run_id="run-1",
        upstream={"up": "u-1", "other": None},
        source_fingerprint="file size=1",
        check_versions={"unique": {"sql": "0123456789abcdef", "severity": "error"}},
    )


def test_outcome_replaces_started_and_reads_back_whole(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"  # the server's _pipeline database is shared
    first = started(key)
    history.record(first)
    ended = T0 + timedelta(seconds=3)
    done = replace(first, status="materialized", rows=5, inserted_rows=2, ended=ended)
    history.record(done)

    latest = history.latest({key: "db.t", "never_recorded": "db.t"})
    assert list(latest) == [key]
    assert latest[key].last_attempt == done
    assert latest[key].last_success == done
    count = backend.warehouse.query_arrow(
        f"SELECT count() AS n FROM _pipeline.materializations FINAL WHERE asset_key = '{key}'"
    ).to_pylist()
    assert count == [{"n": 1}]


def test_a_later_failure_is_the_last_attempt_and_the_success_is_kept(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"
    good = replace(started(key), status="materialized")
    history.record(good)
    bad = replace(started(key, minutes=5), status="failed", error="boom")
    history.record(bad)
    interrupted = started(f"{key}_b")
    history.record(interrupted)

    latest = history.latest({key: "db.t", f"{key}_b": "db.t"})
    assert latest[key].last_attempt == bad
    assert latest[key].last_success == good
    assert latest[f"{key}_b"].last_attempt == interrupted
    assert latest[f"{key}_b"].last_success is None


def test_records_written_together_are_one_write_and_read_one_by_one(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"
    first, second = started(key), started(f"{key}_b", minutes=1)
    history.record_all([first, second])
    parts = backend.warehouse.query_arrow(
        "SELECT DISTINCT _part AS part FROM _pipeline.materializations "
        f"WHERE asset_key IN ('{key}', '{key}_b')"
    ).to_pylist()
    assert len(parts) == 1
    latest = history.latest({key: "db.t", f"{key}_b": "db.t"})
    assert latest[key].last_attempt == first
    assert latest[f"{key}_b"].last_attempt == second


def test_a_skipped_record_is_no_attempt(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"
    failed = replace(started(key), status="failed", error="boom")
    history.record(failed)
    later = started(key, minutes=5)
    history.record(later)
    history.record(replace(later, status="skipped", error="upstream failed: up"))
    never_ran = started(f"{key}_b")
    history.record_all([never_ran, replace(never_ran, status="skipped")])

    latest = history.latest({key: "db.t", f"{key}_b": "db.t"})
    assert latest[key].last_attempt == failed
    assert latest[key].last_success is None
    assert f"{key}_b" not in latest


def test_an_asset_is_read_by_its_key_and_its_table(backend):
    """Two code locations on one warehouse, each with an asset of this key writing its own
    table: each reads only its own records, as one statement. A table name differing in
    case is another table, as ClickHouse compares names."""
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"
    team_a = replace(started(key), table="team_a.orders", status="materialized")
    team_b = replace(started(key, minutes=5), table="team_b.orders", status="failed")
    history.record_all([team_a, team_b])

    assert history.latest({key: "team_a.orders"})[key] == AssetHistory(team_a, team_a)
    assert history.latest({key: "team_b.orders"})[key] == AssetHistory(team_b, None)
    assert history.latest({key: "team_c.orders"}) == {}
    assert history.latest({key: "team_a.Orders"}) == {}
    both = history.latest({key: "team_a.orders", f"{key}_b": "team_b.orders"})
    assert both == {key: AssetHistory(team_a, team_a)}


def newest_part_storage(warehouse) -> str:
    rows = warehouse.query_arrow(
        "SELECT part_storage_type AS storage FROM system.parts WHERE database = '_pipeline' "
        "AND table = 'materializations' AND active ORDER BY modification_time DESC, name DESC "
        "LIMIT 1"
    ).to_pylist()
    return rows[0]["storage"]


def table_comment(warehouse) -> str:
    rows = warehouse.query_arrow(
        "SELECT comment FROM system.tables "
        "WHERE database = '_pipeline' AND name = 'materializations'"
    ).to_pylist()
    return rows[0]["comment"]


def test_each_write_is_one_packed_part(backend):
    """A one-row part as one file, not a dozen: the cheap write the history relies on."""
    history = backend.warehouse.history()
    history.record(started(f"a_{uuid.uuid4().hex[:8]}"))
    assert table_comment(backend.warehouse) == LAYOUT
    assert newest_part_storage(backend.warehouse) == "Packed"


#: The table as the previous version created it (no settings, no comment).
OLDER_DDL = """
CREATE TABLE _pipeline.materializations (
    materialization_id String, run_id Nullable(String), asset_key String, `table` String,
    code_version String, upstream String, source_fingerprint Nullable(String),
    rows_in_table Nullable(UInt64), rows_inserted Nullable(UInt64),
    started DateTime64(6, 'UTC'), ended Nullable(DateTime64(6, 'UTC')),
    status LowCardinality(String), error Nullable(String), stage UInt8
)
ENGINE = ReplacingMergeTree(stage)
ORDER BY (asset_key, materialization_id)
"""


def _insert_as_an_older_version_did(warehouse, older) -> None:
    """Write ``older`` (asset ``kept``) with only the columns an older layout had."""
    warehouse.command(
        "INSERT INTO _pipeline.materializations FORMAT JSONEachRow\n"
        + json.dumps(
            {
                "materialization_id": older.materialization_id,
                "run_id": older.run_id,
                "asset_key": "kept",
                "table": older.table,
                "code_version": older.code_version,
                "upstream": json.dumps(dict(older.upstream), sort_keys=True),
                "source_fingerprint": older.source_fingerprint,
                "started": "2026-01-01 12:00:00.123456",
                "status": "materialized",
                "stage": 1,
            }
        )
    )


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)  # drops the shared table
def test_an_older_table_is_read_as_it_is_and_laid_out_by_the_first_write(backend):
    warehouse = backend.warehouse
    warehouse.command("CREATE DATABASE IF NOT EXISTS _pipeline")
    warehouse.command(OLDER_DDL)
    older = replace(started("kept"), status="materialized", check_versions=None)
    _insert_as_an_older_version_did(warehouse, older)
    reader = backend.reopen().history()
    assert reader.latest({"kept": "db.t"})["kept"].last_success == older
    assert table_comment(backend.warehouse) == ""  # reading alone alters nothing

    reader.record(started("next"))
    assert table_comment(backend.warehouse) == LAYOUT
    assert newest_part_storage(backend.warehouse) == "Packed"
    latest = backend.reopen().history().latest({"kept": "db.t", "next": "db.t"})
    assert latest["kept"].last_success == older
    assert latest["next"].last_attempt.status == "started"


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)  # the server's is shared
def test_reading_a_warehouse_that_recorded_nothing_creates_no_history(backend):
    # `pipeline status` only reads: it must not write the framework's table into a warehouse.
    history = backend.warehouse.history()
    assert history.latest({"never": "db.t"}) == {}
    assert not backend.warehouse.table_exists("_pipeline.materializations")

    history.record(started("first"))  # a write after that read still creates it
    assert table_comment(backend.warehouse) == LAYOUT
    assert history.latest({"first": "db.t"})["first"].last_attempt.status == "started"


#: The table as the version before check versions laid it out (layout 2, no column
#: ``check_versions``), with its settings and comment.
LAYOUT_2 = "pipeline materialization history, layout 2: one-row parts packed"


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)  # drops the shared table
def test_a_table_without_check_versions_is_read_and_given_the_column_by_the_first_write(
    backend,
):
    warehouse = backend.warehouse
    warehouse.command("CREATE DATABASE IF NOT EXISTS _pipeline")
    warehouse.command(
        f"{OLDER_DDL} SETTINGS min_bytes_for_full_part_storage = 1048576 COMMENT '{LAYOUT_2}'"
    )
    older = replace(started("kept"), status="materialized", check_versions=None)
    _insert_as_an_older_version_did(warehouse, older)
    reader = backend.reopen().history()
    assert reader.latest({"kept": "db.t"})["kept"].last_success == older
    assert table_comment(backend.warehouse) == LAYOUT_2  # reading alone alters nothing

    written = replace(started("next"), status="materialized")
    reader.record(written)
    assert table_comment(backend.warehouse) == LAYOUT
    latest = backend.reopen().history().latest({"kept": "db.t", "next": "db.t"})
    assert latest["kept"].last_success == older
    assert latest["next"].last_success == written
    assert written.check_versions  # what was written is what is read
