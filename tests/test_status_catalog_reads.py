"""``status`` and ``plan`` read the structure of an IO manager's tables once per command.

Beside each asset both say whether a run would refuse its table as drifted from its DDL,
and what the run's set-up (the DDL's own ALTERs) changes in it. They asked the IO manager
each question on its own, and each answer read the tables' columns from the catalog and
had the engine spell the DDL's types: on a server, two catalog statements and two type
queries for what one of each answers. The statements are counted on their way to the
real engine (:mod:`tests.counting_transport`), on both backends; the answers must stay
what they were.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager, warehouse_from_env
from tests.counting_transport import STATEMENT_LOG_ENV, statements
from tests.locations import run_location, write_location

#: Nothing listens there: status and plan must not ask Prefect anything.
NO_PREFECT = "http://127.0.0.1:9/api"

#: The tables as an older DDL built them ...
BUILT = """CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.a (n Int64, q Int32) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.b (n Int64) ENGINE = MergeTree ORDER BY n;
"""
#: ... and the DDL now: its ALTERs bring ``a`` to it (no drift), not ``b`` (drift).
ALTERED = """CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.a (n Int64, priced UInt8 DEFAULT 1, q Int64)
ENGINE = MergeTree ORDER BY n;
ALTER TABLE {db}.a ADD COLUMN IF NOT EXISTS priced UInt8 DEFAULT 1 AFTER n;
ALTER TABLE {db}.a MODIFY COLUMN q Int64;
CREATE TABLE IF NOT EXISTS {db}.b (n Int64, avg_price Float64) ENGINE = MergeTree ORDER BY n;
"""
ASSETS = """from tests.counting_transport import counting_warehouse

ASSETS = [
    AssetSpec(key='a', table='{db}.a', kind='sql', body=lambda context: 'SELECT 1 AS n'),
    AssetSpec(key='b', table='{db}.b', kind='sql', body=lambda context: 'SELECT 1 AS n'),
]
"""


@dataclass
class Location:
    """A code location whose tables were built by an older DDL, counting its statements."""

    directory: Path
    module: str
    db: str
    url: str
    prefect: str = NO_PREFECT

    def counted(self, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
        """``pipeline ARGS`` on the location against its warehouse and Prefect API: how
        it ended and the statements it sent."""
        log = self.directory / f"statements-{uuid.uuid4().hex[:8]}.jsonl"
        result = run_location(
            self.directory,
            self.module,
            *args,
            "--warehouse",
            self.url,
            PREFECT_API_URL=self.prefect,
            **{STATEMENT_LOG_ENV: str(log)},
        )
        return result, statements(log)

    def sent(self, *args: str) -> tuple[str, list[str]]:
        """``pipeline ARGS`` on the location: its output and the statements it sent."""
        result, sent = self.counted(*args)
        assert result.stdout, result.stderr
        return result.stdout, sent


@pytest.fixture(params=["embedded", "server"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Location]:
    db = f"cr_{uuid.uuid4().hex[:12]}"
    if request.param == "embedded":
        url = f"chdb://{tmp_path / 'wh'}"
        opened = ClickHouseIOManager.embedded(tmp_path / "wh")
    else:
        url = request.getfixturevalue("clickhouse_test_url")
        opened = warehouse_from_env(url)
    built = tmp_path / "built.sql"
    built.write_text(BUILT.format(db=db))
    with opened as warehouse:
        warehouse.setup([built])
    module = f"counted_{db}"
    write_location(
        tmp_path, module, ASSETS.format(db=db), ALTERED.format(db=db), "counting_warehouse"
    )
    yield Location(tmp_path, module, db, url)
    if request.param == "server":
        with warehouse_from_env(url) as warehouse:
            warehouse.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def structure_reads(sent: list[str]) -> tuple[list[str], list[str]]:
    """The catalog statements that read the assets' tables (not the history's own look
    at ``_pipeline``), and the queries that spell the DDL's types."""
    catalog = [s for s in sent if "FROM system.columns" in s and "'_pipeline'" not in s]
    spelled = [s for s in sent if "defaultValueOfTypeName" in s]
    return catalog, spelled


CHANGES = "adds column 'priced' (UInt8), changes column 'q' to Int64"
DRIFT = "column 'avg_price' is missing in the warehouse (Float64 in the DDL)"


def test_status_reads_the_tables_structure_once(location: Location) -> None:
    output, sent = location.sent("status", "--json")

    listed = {row["key"]: (row["drifted"], row["ddl_changes"]) for row in json.loads(output)}
    assert listed == {"a": (None, CHANGES), "b": (DRIFT, None)}
    catalog, spelled = structure_reads(sent)
    assert len(catalog) == 1, catalog
    assert len(spelled) == 1, spelled


def test_plan_reads_the_tables_structure_once(location: Location) -> None:
    output, sent = location.sent("plan", "--json")

    steps = {step["key"]: step for step in json.loads(output)["run"]}
    assert {key: (s["drifted"], s["ddl_changes"]) for key, s in steps.items()} == {
        "a": (None, CHANGES),
        "b": (DRIFT, None),
    }
    assert steps["b"]["outcome"] == "refused"
    catalog, spelled = structure_reads(sent)
    assert len(catalog) == 1, catalog
    assert len(spelled) == 1, spelled
