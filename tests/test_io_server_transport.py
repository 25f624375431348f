"""The server backend's transport end to end, on every test run, without a ClickHouse server.

clickhouse-connect talks HTTP to ``tests/chdb_http_server.py``, which answers with the
real ClickHouse engine in chdb (in its own process: chdb allows one warehouse per
process; the session's ``chdb_stand_in`` fixture). This keeps the HTTP code path (Arrow
queries and streams, Arrow inserts, raw CSV, error translation, authentication) covered
even when ``CLICKHOUSE_TEST_URL`` points the server suite at a real server, as in CI.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from io_managers import (
    AssetValidationError,
    MaterializationError,
    ReadOnlyQueryError,
    WarehouseConnectionError,
    warehouse_from_env,
)
from tests.io_helpers import apply_test_ddl, context, new_database_name, python_asset, sql_asset


@pytest.fixture
def server_port(chdb_stand_in):
    return urlsplit(chdb_stand_in).port


@pytest.fixture
def warehouse(chdb_stand_in):
    with warehouse_from_env(chdb_stand_in) as warehouse:
        yield warehouse


@pytest.fixture
def db(warehouse, tmp_path):
    name = new_database_name()
    apply_test_ddl(warehouse, name, tmp_path)
    yield name
    warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


class Numbers(pa.DataFrameModel):
    n: Series[pd.UInt64Dtype] = pa.Field(unique=True)
    label: Series[str]
    score: Series[float] = pa.Field(nullable=True)

    @pa.check("label")
    def starts_with_n(cls, labels: pd.Series) -> pd.Series:
        return labels.str.startswith("n")


def test_server_backend_reports_its_host_as_authority(warehouse):
    assert warehouse.authority == "127.0.0.1"
    assert warehouse.asset_uri("marts.Fact_Sales") == "clickhouse://127.0.0.1/marts/Fact_Sales"


def test_a_server_warehouse_is_named_by_scheme_host_and_port(warehouse, server_port):
    """What its pages and run reports show (``location``): no user, no options."""
    assert warehouse.location() == f"clickhouse://127.0.0.1:{server_port}/"


def test_sql_and_python_assets_publish_over_http(warehouse, db):
    sql = sql_asset(
        f"{db}.numbers",
        "SELECT number AS n, concat('n', toString(number)) AS label, 0.5 AS score "
        "FROM numbers(100)",
        schema=Numbers,
    )
    assert warehouse.materialize(sql, context(sql, warehouse)).rows == 100

    frame = warehouse.query_df(f"SELECT * FROM {db}.numbers ORDER BY n DESC LIMIT 10")
    python = python_asset(f"{db}.numbers", lambda ctx: frame, key="copy")
    result = warehouse.materialize(python, context(python, warehouse))

    assert result.rows == 10
    assert warehouse.query_df(f"SELECT min(n) AS low FROM {db}.numbers")["low"][0] == 90


def test_custom_checks_stream_the_staged_table_over_http(warehouse, db):
    spec = sql_asset(
        f"{db}.numbers",
        "SELECT number AS n, if(number = 7, 'bad', 'n') AS label, NULL AS score FROM numbers(20)",
        schema=Numbers,
    )

    with pytest.raises(AssetValidationError) as raised:
        warehouse.materialize(spec, context(spec, warehouse))

    (failure,) = raised.value.failures
    assert (failure.column, failure.check, failure.examples) == (
        "label",
        "starts_with_n",
        ("'bad'",),
    )


def test_null_into_non_nullable_is_refused_over_http(warehouse, db):
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="UInt64"), "label": "n", "score": 1.0})
    spec = python_asset(f"{db}.numbers", lambda ctx: frame)

    with pytest.raises(MaterializationError, match="NULL"):
        warehouse.materialize(spec, context(spec, warehouse))


def test_insert_new_over_http(warehouse, db):
    from tests.test_io_materialize import hub_asset

    spec = hub_asset(db, 0, 9)
    assert warehouse.materialize(spec, context(spec, warehouse)).inserted_rows == 10
    assert warehouse.materialize(spec, context(spec, warehouse)).inserted_rows == 0


def test_read_only_csv_over_http(warehouse, db):
    warehouse.command(f"INSERT INTO {db}.numbers VALUES (1, 'n1', NULL)")

    csv = warehouse.read_only_raw(f"SELECT n, label, score FROM {db}.numbers", "CSVWithNames")

    assert csv.decode().splitlines() == ['"n","label","score"', '1,"n1",']


def test_read_only_csv_streams_over_http_as_the_whole_rendering(warehouse):
    sql = (
        "SELECT number AS n, if(number % 5 = 0, NULL, concat('a,\"b\"\\n', toString(number)))"
        " AS s, toDate('2020-01-01') + number % 100 AS day FROM numbers(150000)"
    )

    pieces = list(warehouse.read_only_stream(sql, "CSVWithNames"))

    assert pieces[0].startswith(b'"n","s","day"\n0,,"2020-01-01"\n1,"a,""b""\n1",')
    assert b"".join(pieces) == warehouse.read_only_raw(sql, "CSVWithNames")


def test_read_only_text_over_http_returns_labels_and_refuses_writes(warehouse, db):
    warehouse.command(f"INSERT INTO {db}.retail_types (id, status) VALUES (1, 'Return')")

    table = warehouse.read_only_text(f"SELECT id, status FROM {db}.retail_types")

    assert table.rows == (("1", "Return"),)
    assert [column.kind for column in table.columns] == ["number", "text"]
    values = warehouse.read_only_text(
        "SELECT toDateTime('2010-12-01 08:26:00', 'UTC') AS t, map('k', 1) AS m, "
        "CAST(NULL AS Nullable(String)) AS n"
    )
    assert values.rows == (("2010-12-01 08:26:00", "{'k':1}", None),)
    with pytest.raises(ReadOnlyQueryError):
        warehouse.read_only_text(f"DROP TABLE {db}.retail_types")
    assert warehouse.table_exists(f"{db}.retail_types")


def test_wrong_password_against_a_live_server(server_port):
    started = time.monotonic()
    with pytest.raises(WarehouseConnectionError) as raised:
        warehouse_from_env(f"clickhouse://default:wrong-secret@127.0.0.1:{server_port}/")

    assert "authentication failed" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)
    assert time.monotonic() - started < 30
