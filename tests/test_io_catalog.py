"""The catalog the IO manager keeps (io_managers/catalog.py) never hides a change.

Embedded, the catalog is read once and kept, so every statement of ours that may change
a table's structure must make it read again; on a server another client may change a
table at any time, so nothing is kept there.
"""

from __future__ import annotations

import pytest

from io_managers import MaterializationError
from io_managers.clickhouse import ClickHouseIOManager, warehouse_from_env
from tests.io_helpers import (
    context,
    new_database_name,
    sql_asset,
    staging_tables,
)


@pytest.fixture
def db(backend):
    name = with_database(backend.warehouse)
    yield name
    if backend.kind == "server":
        backend.warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def with_database(warehouse: ClickHouseIOManager) -> str:
    """A new database holding table ``t (n UInt64)``."""
    name = new_database_name()
    warehouse.command(f"CREATE DATABASE {name}")
    warehouse.command(f"CREATE TABLE {name}.t (n UInt64) ENGINE = MergeTree ORDER BY n")
    return name


def materialize(warehouse: ClickHouseIOManager, table: str, select: str):
    spec = sql_asset(table, select)
    return warehouse.materialize(spec, context(spec, warehouse))


def test_structure_changed_through_the_io_manager_is_seen_at_once(backend, db):
    warehouse = backend.warehouse
    materialize(warehouse, f"{db}.t", "SELECT number AS n FROM numbers(3)")
    assert warehouse.describe(f"{db}.t") == [("n", "UInt64")]

    warehouse.command(f"ALTER TABLE {db}.t ADD COLUMN label String DEFAULT 'x'")
    assert warehouse.describe(f"{db}.t") == [("n", "UInt64"), ("label", "String")]
    # A column with a default may be left out of the SELECT: the new shape is used.
    result = materialize(warehouse, f"{db}.t", "SELECT number AS n FROM numbers(4)")
    assert result.columns == ("n", "label")

    warehouse.command(f"CREATE TABLE {db}.later (n UInt64) ENGINE = MergeTree ORDER BY n")
    assert warehouse.table_exists(f"{db}.later")
    warehouse.command(f"DROP TABLE {db}.later SYNC")
    assert not warehouse.table_exists(f"{db}.later")


def test_embedded_sees_ddl_run_as_a_query(tmp_path):
    """query_arrow / query_df run any one statement; one that is not a SELECT may be DDL."""
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        db = with_database(warehouse)
        assert warehouse.describe(f"{db}.t") == [("n", "UInt64")]
        warehouse.query_arrow(f"ALTER TABLE {db}.t ADD COLUMN label String")
        assert warehouse.describe(f"{db}.t") == [("n", "UInt64"), ("label", "String")]
        warehouse.query_df(f"DROP TABLE {db}.t SYNC")
        assert not warehouse.table_exists(f"{db}.t")


def test_server_sees_a_table_another_client_changed(clickhouse_test_url):
    warehouse, other = (
        warehouse_from_env(clickhouse_test_url),
        warehouse_from_env(clickhouse_test_url),
    )
    db = with_database(warehouse)
    try:
        materialize(warehouse, f"{db}.t", "SELECT number AS n FROM numbers(3)")
        other.command(f"DROP TABLE {db}.t SYNC")

        assert not warehouse.table_exists(f"{db}.t")
        with pytest.raises(MaterializationError, match="does not exist"):
            materialize(warehouse, f"{db}.t", "SELECT number AS n FROM numbers(3)")
    finally:
        other.command(f"DROP DATABASE IF EXISTS {db} SYNC")
        other.close()
        warehouse.close()


def test_embedded_sweeps_every_dead_runs_staging_at_the_first_materialization(tmp_path):
    """The directory is this process's alone, so any staging not of this run is dead."""
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        db = with_database(warehouse)
        sweep_at_first_materialization(warehouse, db)


def sweep_at_first_materialization(warehouse: ClickHouseIOManager, db: str) -> None:
    warehouse.command(f"CREATE TABLE {db}.other (n UInt64) ENGINE = MergeTree ORDER BY n")
    dead = "_stg_other_00000000_deadbeef"
    ours = f"_stg_other_{warehouse.staging.run_token}_deadbeef"
    for name in (dead, ours):
        warehouse.command(f"CREATE TABLE {db}.{name} AS {db}.other")

    materialize(warehouse, f"{db}.t", "SELECT number AS n FROM numbers(3)")

    assert staging_tables(warehouse, db) == [ours]


def test_two_io_managers_on_one_embedded_directory_share_what_they_know(tmp_path):
    """One engine per directory and process: DDL through either is seen by both."""
    first = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    second = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    try:
        db = with_database(first)
        assert second.describe(f"{db}.t") == [("n", "UInt64")]
        first.command(f"ALTER TABLE {db}.t ADD COLUMN label String")
        assert second.describe(f"{db}.t") == [("n", "UInt64"), ("label", "String")]
        first.command(f"DROP TABLE {db}.t SYNC")
        with pytest.raises(MaterializationError, match="does not exist"):
            materialize(second, f"{db}.t", "SELECT number AS n FROM numbers(3)")
    finally:
        second.close()
        first.close()
