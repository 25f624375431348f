"""The verdict "these checks compile on this staged table", kept on disk between runs.

A run compiles an asset's checks on its staged table before publishing it (one
``DESCRIBE``), so a check that cannot run never fails the asset after its table was
replaced. A repeated run asks the engine nothing when everything the verdict depends on is
as it was: the checks' SQL, the columns, types and engine of every table they read, the
engine's version and the code that compiles them (``io_managers/analysis_cache.py``).
These tests hold the cache to that guarantee: whatever changed, a check that stopped
compiling is refused as it was without the cache, and nothing is published.

Real engines (embedded chdb and the server backend); the statements are counted on their
way in by the real transport wrapped in ``tests/counting_transport.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from io_managers import ClickHouseIOManager, analysis_cache
from io_managers.errors import MaterializationError
from orchestration.checks import AssetCheck
from tests.counting_transport import STATEMENT_LOG_ENV, counting_warehouse, statements
from tests.io_helpers import BACKENDS, context, new_database_name, python_asset

DDL = """
CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.numbers (n UInt64, label String)
ENGINE = ReplacingMergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.labels (k UInt64, v String) ENGINE = MergeTree ORDER BY k;
CREATE TABLE IF NOT EXISTS {db}.keys (k UInt64) ENGINE = MergeTree ORDER BY k;
"""
LABELLED = "SELECT n FROM {table} WHERE label = 'seven'"


class Warehouse:
    """A counted warehouse with the tables of :data:`DDL` in a database of its own."""

    def __init__(self, warehouse: ClickHouseIOManager, db: str, ddl: Path, log: Path) -> None:
        self.io, self.db, self._ddl, self._log = warehouse, db, ddl, log
        self._ddl.write_text(DDL.format(db=db))
        self.io.setup([ddl])

    def rename(self, table: str, column: str, to: str) -> None:
        """String ``column`` of ``table`` renamed as a DDL edit does it, which the next
        set-up applies: declared so in its ``CREATE TABLE``, and an ``ALTER`` for the
        table that exists."""
        declared = self._ddl.read_text().replace(f"{column} String", f"{to} String")
        alter = f"ALTER TABLE {self.db}.{table} RENAME COLUMN IF EXISTS {column} TO {to};\n"
        self._ddl.write_text(declared + alter)
        self.io.setup([self._ddl])

    def run(self, *checks: AssetCheck, label: str = "label", rows: int = 5) -> None:
        """``numbers`` materialized with ``checks``: ``rows`` rows, ``label`` the name of
        its second column."""

        def numbers(context: object) -> pd.DataFrame:
            n = pd.Series(range(1, rows + 1), dtype="uint64")
            return pd.DataFrame({"n": n, label: n.map(lambda value: f"#{value}")})

        spec = python_asset(f"{self.db}.numbers", numbers, checks=checks)
        self.io.materialize(spec, context(spec, self.io))

    def compiles(self) -> int:
        """``DESCRIBE`` statements of the checks on a staged table, so far."""
        return sum(
            1 for sql in statements(self._log) if sql.startswith("DESCRIBE") and "_stg_" in sql
        )

    def refused(self, *checks: AssetCheck, label: str = "label") -> str:
        """The run's error: a check does not compile; nothing was published."""
        before = self.io.row_count(f"{self.db}.numbers")
        with pytest.raises(MaterializationError) as raised:
            self.run(*checks, label=label, rows=before + 2)
        assert self.io.row_count(f"{self.db}.numbers") == before, "nothing is published"
        return str(raised.value)


@pytest.fixture(params=BACKENDS)
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Warehouse]:
    """Its own cache directory, so what one test keeps another never reads."""
    monkeypatch.setenv(analysis_cache.CACHE_ENV, str(tmp_path / "cache"))
    log = tmp_path / "statements.log"
    monkeypatch.setenv(STATEMENT_LOG_ENV, str(log))
    server = request.param == "server"
    location = (
        request.getfixturevalue("clickhouse_test_url")
        if server
        else f"chdb://{tmp_path / 'warehouse'}"
    )
    io = counting_warehouse(location)
    db = new_database_name()
    yield Warehouse(io, db, tmp_path / "tables.sql", log)
    if server:
        io.command(f"DROP DATABASE IF EXISTS {db} SYNC")
    io.close()


def reads_labels(db: str) -> AssetCheck:
    """A check that reads another table besides its own."""
    return AssetCheck(
        "labels_known", f"SELECT n FROM {{table}} WHERE label NOT IN (SELECT v FROM {db}.labels)"
    )


def test_a_repeated_run_compiles_its_checks_once(warehouse: Warehouse) -> None:
    """Issue 15: ~230 ms of a warm 100,000-row run was the checks' compile, the same
    verdict every run. The second run asks the engine nothing about them."""
    checks = (AssetCheck("labelled", LABELLED), reads_labels(warehouse.db))
    warehouse.run(*checks)
    assert warehouse.compiles() == 1

    warehouse.run(*checks)
    assert warehouse.compiles() == 1
    assert warehouse.io.row_count(f"{warehouse.db}.numbers") == 5  # published as before


def test_a_column_renamed_since_the_checks_compiled_is_refused(warehouse: Warehouse) -> None:
    """The table's column renamed by the DDL and the asset's output with it, in the same
    warehouse and cache: the check naming the old column no longer compiles on the
    staged table (which has the table's columns: ``CREATE TABLE ... AS`` it)."""
    warehouse.run(AssetCheck("labelled", LABELLED))
    warehouse.rename("numbers", "label", "tag")

    said = warehouse.refused(AssetCheck("labelled", LABELLED), label="tag")

    assert "check 'labelled' does not compile: " in said and "`label`" in said, said
    assert warehouse.compiles() == 3  # the kept verdict was not used: all, then each


def test_an_edited_check_is_compiled_again(warehouse: Warehouse) -> None:
    warehouse.run(AssetCheck("labelled", LABELLED))

    said = warehouse.refused(AssetCheck("labelled", LABELLED.replace("label =", "labl =")))

    assert "check 'labelled' does not compile: " in said and "`labl`" in said, said


def test_a_renamed_column_of_another_table_a_check_reads_is_refused(
    warehouse: Warehouse,
) -> None:
    """A check joining another table (a fact's key in its dimension) depends on that
    table's columns too: they are part of what the verdict is kept under."""
    check = reads_labels(warehouse.db)
    warehouse.run(check)
    warehouse.rename("labels", "v", "w")

    said = warehouse.refused(check)

    assert "check 'labels_known' does not compile: " in said and "`v`" in said, said


def test_a_table_of_another_engine_is_compiled_again(warehouse: Warehouse) -> None:
    """The same columns in a table of another engine: ``FINAL`` only compiles on an engine
    that merges rows (the table's engine is part of the key, not only its columns)."""
    final = AssetCheck("latest", "SELECT n FROM {table} FINAL WHERE label = ''")
    warehouse.run(final)
    table = f"{warehouse.db}.numbers"
    warehouse.io.command(f"DROP TABLE {table} SYNC")
    warehouse.io.command(
        f"CREATE TABLE {table} (n UInt64, label String) ENGINE = MergeTree ORDER BY n"
    )

    said = warehouse.refused(final)

    assert "check 'latest' does not compile: " in said and "FINAL" in said, said


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("SELECT n FROM {table} WHERE n IN {db}.keys", id="in-a-table"),
        pytest.param(
            "SELECT n FROM {table} WHERE n NOT IN (SELECT number FROM numbers(3))",
            id="table-function",
        ),
        pytest.param(
            "SELECT n FROM {table} WHERE hasColumnInTable('{db}', 'keys', 'k') = 0",
            id="table-by-name",
        ),
    ],
)
def test_a_check_reading_a_table_no_analysis_sees_is_compiled_every_run(
    warehouse: Warehouse, sql: str
) -> None:
    """Where the analysis cannot name every table a check reads, its verdict is not kept:
    a change to a table it reads out of sight would go unnoticed."""
    check = AssetCheck("unseen", sql.replace("{db}", warehouse.db))
    warehouse.run(check)
    warehouse.run(check)

    assert warehouse.compiles() == 2


def test_a_check_that_does_not_compile_is_refused_on_every_run(warehouse: Warehouse) -> None:
    """Only a success is kept: a failure is asked again, and said the same way."""
    typo = AssetCheck("labelled", LABELLED.replace("label =", "labl ="))

    assert warehouse.refused(typo) == warehouse.refused(typo)
    assert warehouse.compiles() == 4  # each run: all of them, then each alone
