"""Insert-only publishing: staged new keys are attached, or inserted where attaching is wrong.

A SQL ``insert_new`` asset stages only keys the target lacks and publishes them by
attaching staging's parts (no second copy). Where that would change what readers see,
the IO manager inserts instead: a materialized view only sees INSERTs, and engines
outside the MergeTree family have no parts to attach. Runs on the embedded engine (and
on a server when CLICKHOUSE_TEST_URL is set).
"""

from __future__ import annotations

import pytest

from tests.io_helpers import context, new_database_name, sql_asset


@pytest.fixture
def db(backend):
    name = new_database_name()
    backend.warehouse.command(f"CREATE DATABASE {name}")
    yield name
    backend.warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def events_select(first: int, last: int) -> str:
    """One row per key ``first..last``; keys fall into several monthly partitions."""
    return (
        "SELECT toUInt64(number) AS event_id, "
        "toDate('2024-01-01') + toIntervalDay(number * 7) AS day, "
        "concat('e', toString(number)) AS label "
        f"FROM numbers({first}, {last - first + 1})"
    )


def load(backend, db: str, table: str, first: int, last: int):
    spec = sql_asset(
        f"{db}.{table}",
        events_select(first, last),
        write_mode="insert_new",
        unique_key=("event_id",),
    )
    return backend.warehouse.materialize(spec, context(spec, backend.warehouse))


def keys(warehouse, table: str) -> list[int]:
    frame = warehouse.query_df(f"SELECT event_id FROM {table} ORDER BY event_id")
    return frame["event_id"].tolist()


def test_partitioned_table_gets_every_partition_and_reruns_add_nothing(backend, db):
    backend.warehouse.command(
        f"CREATE TABLE {db}.events (event_id UInt64, day Date, label String) "
        "ENGINE = MergeTree PARTITION BY toYYYYMM(day) ORDER BY event_id"
    )

    first = load(backend, db, "events", 0, 19)  # 20 weeks: six monthly partitions
    again = load(backend, db, "events", 0, 19)
    later = load(backend, db, "events", 10, 29)

    assert [first.inserted_rows, again.inserted_rows, later.inserted_rows] == [20, 0, 10]
    assert keys(backend.warehouse, f"{db}.events") == list(range(30))
    partitions = backend.warehouse.query_df(
        f"SELECT uniqExact(partition_id) AS n FROM system.parts "
        f"WHERE database = '{db}' AND table = 'events' AND active"
    )
    assert partitions["n"].iloc[0] >= 6


def test_materialized_view_on_the_target_sees_every_new_row(backend, db):
    warehouse = backend.warehouse
    warehouse.command(
        f"CREATE TABLE {db}.events (event_id UInt64, day Date, label String) "
        "ENGINE = MergeTree ORDER BY event_id"
    )
    warehouse.command(
        f"CREATE TABLE {db}.per_day (day Date, events UInt64) "
        "ENGINE = SummingMergeTree ORDER BY day"
    )
    warehouse.command(
        f"CREATE MATERIALIZED VIEW {db}.per_day_mv TO {db}.per_day AS "
        f"SELECT day, count() AS events FROM {db}.events GROUP BY day"
    )

    load(backend, db, "events", 0, 4)
    load(backend, db, "events", 3, 9)  # 3 and 4 exist already: only 5..9 are new

    counted = warehouse.query_df(f"SELECT sum(events) AS n FROM {db}.per_day")
    assert counted["n"].iloc[0] == 10  # attaching parts would have bypassed the view
    assert keys(warehouse, f"{db}.events") == list(range(10))


def test_table_outside_the_merge_tree_family_is_inserted_into(backend, db):
    backend.warehouse.command(
        f"CREATE TABLE {db}.events (event_id UInt64, day Date, label String) ENGINE = Memory"
    )

    first = load(backend, db, "events", 0, 4)
    later = load(backend, db, "events", 2, 6)

    assert [first.inserted_rows, later.inserted_rows] == [5, 2]
    assert keys(backend.warehouse, f"{db}.events") == list(range(7))


def test_reported_size_is_the_published_table_in_every_publishing_path(backend, db):
    """Rows and bytes come from the validation's aggregate, not a query after publishing:
    they must still be what the engine reports for the table once published."""
    warehouse = backend.warehouse

    def published(table: str) -> tuple[int | None, int | None]:
        row = warehouse.query_arrow(
            "SELECT total_rows AS rows, total_bytes AS bytes FROM system.tables "
            f"WHERE database = '{db}' AND name = '{table}'"
        ).to_pylist()[0]
        return row["rows"], row["bytes"]

    for table, engine in (
        ("parts", "MergeTree PARTITION BY toYYYYMM(day) ORDER BY event_id"),
        ("logged", "StripeLog"),
    ):
        warehouse.command(
            f"CREATE TABLE {db}.{table} (event_id UInt64, day Date, label String) ENGINE = {engine}"
        )
        if engine.startswith("MergeTree"):  # a merge would change the size under the test
            warehouse.command(f"SYSTEM STOP MERGES {db}.{table}")
        for first, last, rows in ((0, 29, 30), (20, 59, 60)):
            result = load(backend, db, table, first, last)
            rows_seen, bytes_seen = published(table)
            assert result.rows == rows and rows_seen in (None, rows)  # StripeLog: not known
            assert result.bytes == bytes_seen

    replaced = sql_asset(f"{db}.parts", events_select(0, 9))
    result = warehouse.materialize(replaced, context(replaced, warehouse))
    assert (result.rows, result.bytes) == published("parts")
    assert result.rows == 10
