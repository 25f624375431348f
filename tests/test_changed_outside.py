"""A table changed outside the pipeline is stale, and ``status`` and ``plan`` say so.

The UI review deleted customers from ``marts.Dim_Customer`` by hand after a full run:
``pipeline status`` called the dimension fresh, so did ``status:stale``, and the facts'
rerun failed its check on the deleted customers again and again. A table whose rows
differ in number from those its last materialization recorded was changed outside the
pipeline: rows deleted (``ALTER TABLE ... DELETE``, or a lightweight ``DELETE FROM``,
whose masked rows the parts' counts still hold) or added.

The counts come with the catalog statement ``status`` and ``plan`` already send
(``system.tables.total_rows``): no statement per asset, and one ``count()`` for all the
tables a lightweight ``DELETE`` masked rows of. A table whose engine changes its count on
its own (a ``ReplacingMergeTree`` merging its keys' rows) is not compared. Real engines:
embedded chdb and the server stand-in (a real ClickHouse server in CI), runs on the
session's Prefect server, statements counted on their way to the engine
(:mod:`tests.counting_transport`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from io_managers import ClickHouseIOManager, warehouse_from_env
from tests.locations import write_location
from tests.test_status_catalog_reads import Location as CountedLocation

DDL = """CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.dim (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.hub (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.sat (n Int64, v Int64) ENGINE = ReplacingMergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.total (n Int64) ENGINE = MergeTree ORDER BY n;
"""
#: ``dim`` replaced each run, ``hub`` and ``sat`` insert-only, ``total`` reading ``dim``.
ASSETS = """from tests.counting_transport import counting_warehouse

ASSETS = [
    AssetSpec(key='dim', table='{db}.dim', kind='sql',
              body=lambda context: 'SELECT toInt64(number) AS n FROM numbers(5)'),
    AssetSpec(key='hub', table='{db}.hub', kind='sql', write_mode='insert_new',
              unique_key=('n',),
              body=lambda context: 'SELECT toInt64(number) AS n FROM numbers(4)'),
    AssetSpec(key='sat', table='{db}.sat', kind='sql', write_mode='insert_new',
              unique_key=('n',),
              body=lambda context: 'SELECT toInt64(number) AS n, toInt64(1) AS v FROM numbers(3)'),
    AssetSpec(key='total', table='{db}.total', kind='sql', deps=('dim',),
              body=lambda context: 'SELECT toInt64(count()) AS n FROM {db}.dim'),
]
"""
#: What each changed table's state says once changed by hand (:func:`_change_by_hand`).
CHANGED = {
    "dim": "changed outside the pipeline: holds 6 rows, 5 when built",
    "hub": "changed outside the pipeline: holds 3 rows, 4 when built",
    "total": "changed outside the pipeline: holds 0 rows, 1 when built",
}


class Location(CountedLocation):
    """A code location built by one run, counting the statements of each command."""

    def sent(self, *args: str) -> tuple[str, list[str]]:
        """``pipeline ARGS`` on the location: its output and the statements it sent."""
        result, sent = self.counted(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout, sent

    def command(self, sql: str) -> None:
        """Run ``sql`` on the warehouse as someone outside the pipeline does."""
        opened = (
            ClickHouseIOManager.embedded(self.url.removeprefix("chdb://"))
            if self.url.startswith("chdb://")
            else warehouse_from_env(self.url)
        )
        with opened as warehouse:
            warehouse.command(sql)


@pytest.fixture(params=["embedded", "server"])
def location(
    request: pytest.FixtureRequest, tmp_path: Path, prefect_api_url: str
) -> Iterator[Location]:
    db = f"co_{uuid.uuid4().hex[:12]}"
    if request.param == "embedded":
        url = f"chdb://{tmp_path / 'wh'}"
    else:
        url = request.getfixturevalue("clickhouse_test_url")
    module = f"outside_{db}"
    write_location(tmp_path, module, ASSETS.format(db=db), DDL.format(db=db), "counting_warehouse")
    built = Location(tmp_path, module, db, url, prefect_api_url)
    built.sent("materialize")
    yield built
    if request.param == "server":
        built.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def _change_by_hand(location: Location) -> None:
    """Rows added to ``dim``, deleted from ``hub`` (a lightweight DELETE, which masks them
    in their part) and from ``total`` (a mutation, which rewrites the part), and from
    ``sat``, whose engine's counts are not compared."""
    db = location.db
    location.command(f"INSERT INTO {db}.dim VALUES (100)")
    location.command(f"DELETE FROM {db}.hub WHERE n = 0")
    location.command(f"ALTER TABLE {db}.total DELETE WHERE 1 SETTINGS mutations_sync = 2")
    location.command(f"DELETE FROM {db}.sat WHERE n = 0")


def _catalog_reads(sent: list[str]) -> list[str]:
    """The catalog statements that read the assets' tables (not the history's own)."""
    return [s for s in sent if "FROM system.columns" in s and "'_pipeline'" not in s]


def _counts(sent: list[str]) -> list[str]:
    """The statements that count an asset's rows by reading them."""
    return [s for s in sent if "count()" in s and "_pipeline" not in s]


def _why(states: list[dict[str, Any]]) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    return {
        s["key"]: (s["state"], [(r["kind"], r["detail"]) for r in s["reasons"]]) for s in states
    }


def test_status_and_plan_say_a_table_changed_outside_the_pipeline_is_stale(location: Location):
    _change_by_hand(location)

    output, sent = location.sent("status", "--json")
    assert _why(json.loads(output)) == {
        "dim": ("stale", [("changed_outside", CHANGED["dim"])]),
        "hub": ("stale", [("changed_outside", CHANGED["hub"])]),
        "sat": ("fresh", []),
        "total": ("stale", [("changed_outside", CHANGED["total"])]),
    }
    assert len(_catalog_reads(sent)) == 1, _catalog_reads(sent)
    # Only the table a lightweight DELETE masked rows of is counted by reading it.
    (counted,) = _counts(sent)
    assert f"`{location.db}`.`hub`" in counted
    assert f"`{location.db}`.`sat`" not in counted

    output, sent = location.sent("plan", "--select", "status:stale", "--json")
    steps = {step["key"]: step["why"] for step in json.loads(output)["run"]}
    assert sorted(steps) == ["dim", "hub", "total"]
    assert all(CHANGED[key] in why for key, why in steps.items()), steps
    assert len(_catalog_reads(sent)) == 1, _catalog_reads(sent)

    # The rebuild it selects brings each table back to what its code makes, and records
    # the rows each holds: the insert-only hub's part still masks the deleted row, which
    # its count after the run must not count (4 rows, not 5).
    location.sent("materialize", "--select", "status:stale")
    output, _ = location.sent("status", "--json")
    assert {key: state for key, (state, _) in _why(json.loads(output)).items()} == dict.fromkeys(
        ("dim", "hub", "sat", "total"), "fresh"
    )
