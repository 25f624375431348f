"""Materialization on a real ClickHouse engine: staging, validation, atomic publishing.

Runs on the embedded engine always and on a ClickHouse server when CLICKHOUSE_TEST_URL
is set (see tests/io_helpers.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import subprocess
import sys
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pytest
from pandera import typing as pandera_typing
from pandera.engines import pandas_engine
from pandera.typing import Series

from io_managers import AssetValidationError, MaterializationError
from tests.io_helpers import (
    apply_test_ddl,
    context,
    python_asset,
    sql_asset,
    staging_tables,
)

REPO = Path(__file__).resolve().parents[1]


class Numbers(pa.DataFrameModel):
    n: Series[np.uint64] = pa.Field(unique=True, ge=0)
    label: Series[str] = pa.Field(str_matches=r"n\d+")
    score: Series[float] = pa.Field(nullable=True, in_range={"min_value": 0, "max_value": 100})


def materialize(backend, spec):
    return backend.warehouse.materialize(spec, context(spec, backend.warehouse))


def numbers_select(count: int, offset: int = 0) -> str:
    return (
        f"SELECT number + {offset} AS n, concat('n', toString(number + {offset})) AS label, "
        f"if(number % 3 = 0, NULL, number % 100) AS score FROM numbers({count})"
    )


# --------------------------------------------------------------------------- publishing


def test_sql_asset_publishes_rows_and_reports_metadata(backend, db):
    spec = sql_asset(f"{db}.numbers", numbers_select(1000), schema=Numbers)

    result = materialize(backend, spec)

    assert result.table == f"{db}.numbers"
    assert result.rows == 1000
    assert result.columns == ("n", "label", "score")
    assert result.bytes and result.bytes > 0
    assert result.seconds > 0
    assert result.inserted_rows is None
    assert result.metadata["staged_rows"] == 1000
    frame = backend.warehouse.query_df(f"SELECT * FROM {db}.numbers ORDER BY n")
    assert frame["n"].tolist() == list(range(1000))
    assert frame["label"].iloc[7] == "n7"
    assert frame["score"].isna().sum() == 334
    assert staging_tables(backend.warehouse, db) == []


def test_replace_swaps_the_whole_table(backend, db):
    materialize(backend, sql_asset(f"{db}.numbers", numbers_select(10), schema=Numbers))

    result = materialize(backend, sql_asset(f"{db}.numbers", numbers_select(3, offset=500)))

    assert result.rows == 3
    rows = backend.warehouse.query_df(f"SELECT n FROM {db}.numbers ORDER BY n")
    assert rows["n"].tolist() == [500, 501, 502]
    assert staging_tables(backend.warehouse, db) == []


def test_output_columns_are_matched_by_name_not_position(backend, db):
    select = "SELECT 'n1' AS label, toUInt64(1) AS n, 5.0 AS score"

    materialize(backend, sql_asset(f"{db}.numbers", select, schema=Numbers))

    row = backend.warehouse.query_df(f"SELECT * FROM {db}.numbers").iloc[0]
    assert (row["n"], row["label"], row["score"]) == (1, "n1", 5.0)


def test_columns_with_a_ddl_default_may_be_omitted(backend, db):
    materialize(backend, sql_asset(f"{db}.numbers", "SELECT toUInt64(1) AS n, 2.5 AS score"))

    row = backend.warehouse.query_df(f"SELECT label, score FROM {db}.numbers").iloc[0]
    assert (row["label"], row["score"]) == ("none;really", 2.5)


def test_python_asset_streams_dataframes_and_arrow_tables(backend, db, monkeypatch):
    import io_managers.stage as stage

    monkeypatch.setattr(stage, "INSERT_BATCH_ROWS", 250)
    inserts = []
    original = backend.warehouse._transport.insert_arrow

    def counting_insert(table, data, settings):
        inserts.append(data.num_rows)
        return original(table, data, settings)

    monkeypatch.setattr(backend.warehouse._transport, "insert_arrow", counting_insert)

    def chunks(ctx):
        for start in range(0, 900, 100):
            yield pd.DataFrame(
                {
                    "n": pd.Series(range(start, start + 100), dtype="uint64"),
                    "label": [f"n{i}" for i in range(start, start + 100)],
                    "score": 1.5,
                }
            )
        yield pa_arrow.table(
            {
                "n": pa_arrow.array(range(900, 1000), pa_arrow.uint64()),
                "label": [f"n{i}" for i in range(900, 1000)],
                "score": [None] * 100,
            },
            schema=pa_arrow.schema(
                [("n", pa_arrow.uint64()), ("label", pa_arrow.string()), ("score", "double")]
            ),
        )

    result = materialize(backend, python_asset(f"{db}.numbers", chunks, schema=Numbers))

    assert result.rows == 1000
    # 100-row chunks are buffered into inserts of >= 250 rows, never one insert per chunk
    assert sum(inserts) == 1000
    assert len(inserts) < 10
    assert backend.warehouse.query_df(
        f"SELECT count() AS c, uniqExact(n) AS u, countIf(score IS NULL) AS nulls FROM {db}.numbers"
    ).iloc[0].tolist() == [1000, 1000, 100]


# --------------------------------------------------------------------------- atomicity


def test_sql_asset_failing_midway_leaves_previous_table_and_no_staging(backend, db):
    materialize(backend, sql_asset(f"{db}.numbers", numbers_select(5), schema=Numbers))
    failing = sql_asset(
        f"{db}.numbers",
        "SELECT number AS n, concat('n', toString(number)) AS label, "
        "throwIf(number = 900000, 'source row is corrupt') + 1.0 AS score "
        "FROM numbers(1000000)",
    )

    with pytest.raises(MaterializationError) as raised:
        materialize(backend, failing)

    message = str(raised.value)
    assert "asset 'numbers'" in message
    assert f"{db}.numbers" in message
    assert "source row is corrupt" in message
    assert backend.warehouse.row_count(f"{db}.numbers") == 5
    assert staging_tables(backend.warehouse, db) == []


def test_python_asset_violating_its_schema_publishes_nothing(backend, db):
    materialize(backend, sql_asset(f"{db}.numbers", numbers_select(5), schema=Numbers))
    bad = pd.DataFrame(
        {
            "n": pd.Series([1, 2, 3], dtype="uint64"),
            "label": ["n1", "bogus", "n3"],
            "score": [1.0, 2.0, 250.0],
        }
    )

    with pytest.raises(AssetValidationError) as raised:
        materialize(backend, python_asset(f"{db}.numbers", lambda ctx: bad, schema=Numbers))

    error = raised.value
    assert (error.asset, error.table) == ("numbers", f"{db}.numbers")
    by_column = {failure.column: failure for failure in error.failures}
    assert "str_matches" in by_column["label"].check
    assert by_column["label"].examples == ("'bogus'",)
    assert "in_range" in by_column["score"].check
    assert by_column["score"].examples == ("250.0",)
    assert "asset 'numbers' (table " in str(error) and "'bogus'" in str(error)
    assert backend.warehouse.query_df(f"SELECT n FROM {db}.numbers ORDER BY n")["n"].tolist() == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert staging_tables(backend.warehouse, db) == []


def test_python_chunks_are_checked_by_pandera_before_anything_is_written(backend, db, monkeypatch):
    good = pd.DataFrame({"n": pd.Series([1], dtype="uint64"), "label": ["n1"], "score": [1.0]})
    wrong_dtype = good.assign(n=pd.Series([2], dtype="int64"))
    writes = []
    monkeypatch.setattr(backend.warehouse._transport, "insert_arrow", lambda *a: writes.append(a))

    with pytest.raises(AssetValidationError) as raised:
        materialize(
            backend, python_asset(f"{db}.numbers", lambda ctx: [good, wrong_dtype], schema=Numbers)
        )

    (failure,) = raised.value.failures
    assert failure.column == "n"
    assert failure.check == "dtype: expected uint64, found int64 (in chunk 2)"
    assert writes == []  # the first chunk was still buffered: nothing reached the warehouse


def test_sql_asset_violations_are_counted_in_clickhouse_with_examples(backend, db):
    select = (
        "SELECT number % 7 AS n, if(number = 3, 'x3', concat('n', toString(number))) AS label, "
        "if(number = 4, -1, number) AS score FROM numbers(20)"
    )

    with pytest.raises(AssetValidationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", select, schema=Numbers))

    failures = {(f.column, f.check.split("(")[0]): f for f in raised.value.failures}
    unique = failures[("n", "unique")]
    assert unique.failing_rows == 13  # 20 rows, 7 distinct values
    assert unique.examples[0].endswith("(x3)")
    assert failures[("label", "str_matches")].failing_rows == 1
    assert failures[("label", "str_matches")].examples == ("'x3'",)
    assert failures[("score", "in_range")].examples == ("-1",)
    assert backend.warehouse.row_count(f"{db}.numbers") == 0
    assert staging_tables(backend.warehouse, db) == []


def test_null_in_a_non_nullable_column_fails_instead_of_becoming_a_default(backend, db):
    select = "SELECT toUInt64(1) AS n, CAST(NULL AS Nullable(String)) AS label, 1.0 AS score"

    with pytest.raises(MaterializationError, match="NULL"):
        materialize(backend, sql_asset(f"{db}.numbers", select))

    assert backend.warehouse.row_count(f"{db}.numbers") == 0


def test_schema_and_ddl_type_drift_is_reported_per_column(backend, db):
    class Drifted(pa.DataFrameModel):
        n: Series[np.int32]  # UInt64 does not fit int32
        label: Series[str] = pa.Field(nullable=True)  # the DDL says String, not Nullable
        score: Series[float] = pa.Field(nullable=True)
        extra: Series[str]

    with pytest.raises(AssetValidationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", numbers_select(3), schema=Drifted))

    checks = {(f.column, f.check.split(":")[0]) for f in raised.value.failures}
    assert checks == {
        ("n", "dtype"),
        ("label", "nullable"),
        ("extra", "column is in the schema but not in the table"),
    }


def test_custom_checks_run_through_pandera_on_streamed_batches(backend, db):
    class Even(pa.DataFrameModel):
        n: Series[np.uint64]
        label: Series[str]
        score: Series[float] = pa.Field(nullable=True)

        @pa.check("n")
        def even(cls, series: pd.Series) -> pd.Series:
            return series % 2 == 0

    with pytest.raises(AssetValidationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", numbers_select(6), schema=Even))

    (failure,) = raised.value.failures
    assert failure.column == "n"
    assert failure.check == "even"
    assert failure.failing_rows == 3
    assert set(failure.examples) == {"1", "3", "5"}


def test_missing_target_table_says_to_declare_it_in_the_ddl(backend, db):
    with pytest.raises(MaterializationError) as raised:
        materialize(backend, sql_asset(f"{db}.nowhere", "SELECT 1 AS x"))
    # The lead every asset's failure has, the cause kept apart for a row that names it.
    cause = (
        f"table {db}.nowhere does not exist; declare it in the code location's DDL "
        "(CREATE TABLE IF NOT EXISTS), which the next materialize applies"
    )
    assert str(raised.value) == f"asset 'nowhere' (table {db}.nowhere): {cause}"
    assert raised.value.cause == cause


def test_a_select_syntax_error_is_placed_in_the_authors_text(backend, db):
    """As the author wrote it (its first line is the empty one after the opening quotes),
    not in the statement materialize wraps it in, whose SETTINGS the engine quoted."""
    select = "\nSELECT\n    number AS n,\n    'x' AS label,\nFROM numbers(3)\n"
    with pytest.raises(MaterializationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", select))
    # After where the asset's body is (tests/io_helpers.py's sql_asset, here).
    assert re.fullmatch(
        rf"asset 'numbers' \(table {db}\.numbers\): tests/io_helpers\.py:\d+: SELECT does not "
        r"compile: syntax error at line 5, col 6, at 'numbers': expected one of: token "
        r"sequence, Dot, token, OR, AND, \.\.\.",
        str(raised.value),
    )
    with pytest.raises(MaterializationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", "SELECT toUInt64(number AS n\nFROM t"))
    assert str(raised.value).endswith(
        ": SELECT does not compile: syntax error at line 2, col 1, at 'FROM': "
        "unmatched parentheses: '(' at line 1, col 16 is never closed"
    )
    # Columns count characters, as an editor does (the engine counts bytes).
    with pytest.raises(MaterializationError, match=r"line 1, col 30, at 'n':"):
        materialize(backend, sql_asset(f"{db}.numbers", "SELECT 'Ñandú' AS label, 1 x n"))
    # A clause a subquery cannot take: the SELECT parses alone, its wrapper's text is no
    # place in it, so the token and what the engine expected say it.
    with pytest.raises(MaterializationError) as raised:
        materialize(backend, sql_asset(f"{db}.numbers", "SELECT 1 AS n FORMAT JSON"))
    assert str(raised.value).endswith(
        ": SELECT does not compile: syntax error at 'FORMAT', where a run reads the SELECT "
        "as a subquery: expected one of: token, Comma, FROM, PREWHERE, WHERE, ..."
    )


def test_unknown_and_missing_output_columns_are_named(backend, db):
    with pytest.raises(MaterializationError, match=r"output column\(s\) colour are not in"):
        materialize(backend, sql_asset(f"{db}.numbers", "SELECT toUInt64(1) AS n, 'x' AS colour"))
    with pytest.raises(MaterializationError, match=r"lacks column\(s\) n"):
        materialize(
            backend, python_asset(f"{db}.numbers", lambda ctx: pd.DataFrame({"label": ["a"]}))
        )


# --------------------------------------------------------------------------- insert-only


def hub_select(first: int, last: int, source: str = "synthetic") -> str:
    return (
        "SELECT reinterpretAsUUID(substring(SHA256(toString(number)), 1, 16)) "
        "AS hub_customer_hash_key, number AS CustomerID, "
        "toDateTime64('2024-01-02 03:04:05', 0, 'UTC') AS LOAD_DATETIME, "
        f"'{source}' AS RECORD_SOURCE "
        f"FROM numbers({first}, {last - first + 1})"
    )


def hub_asset(db: str, first: int, last: int):
    return sql_asset(
        f"{db}.hub_customer",
        hub_select(first, last),
        write_mode="insert_new",
        unique_key=("hub_customer_hash_key",),
    )


def assert_no_duplicate_keys(warehouse, db):
    counts = warehouse.query_df(
        f"SELECT count() AS rows, uniqExact(hub_customer_hash_key) AS keys FROM {db}.hub_customer"
    ).iloc[0]
    assert counts["rows"] == counts["keys"]


def hub_rows(first: int, last: int) -> pd.DataFrame:
    """Hub rows computed in Python: keys are UUIDs of the customer ids."""
    ids = range(first, last + 1)
    return pd.DataFrame(
        {
            "hub_customer_hash_key": [uuid.uuid5(uuid.NAMESPACE_OID, str(i)) for i in ids],
            "CustomerID": pd.Series(ids, dtype="uint64"),
            "LOAD_DATETIME": pd.Timestamp("2024-01-02 03:04:05", tz="UTC"),
            "RECORD_SOURCE": "python",
        }
    )


def python_hub_asset(db: str, first: int, last: int):
    return python_asset(
        f"{db}.hub_customer",
        lambda ctx: hub_rows(first, last),
        write_mode="insert_new",
        unique_key=("hub_customer_hash_key",),
    )


# SQL assets stage only new keys; Python assets stage every row and publish by anti-join.
@pytest.mark.parametrize("hub", [hub_asset, python_hub_asset], ids=["sql", "python"])
def test_insert_new_adds_only_new_keys_across_reruns(backend, db, hub):
    first = materialize(backend, hub(db, 0, 9))
    rerun = materialize(backend, hub(db, 0, 9))
    later = materialize(backend, hub(db, 5, 14))

    assert (first.inserted_rows, first.rows) == (10, 10)
    assert (rerun.inserted_rows, rerun.rows) == (0, 10)
    assert (later.inserted_rows, later.rows) == (5, 15)
    assert_no_duplicate_keys(backend.warehouse, db)
    ids = backend.warehouse.query_df(f"SELECT CustomerID FROM {db}.hub_customer ORDER BY 1")
    assert ids["CustomerID"].tolist() == list(range(15))
    assert staging_tables(backend.warehouse, db) == []


def test_insert_new_rejects_duplicate_keys_in_its_own_output(backend, db):
    doubled = f"{hub_select(0, 2)} UNION ALL {hub_select(2, 3, source='other')}"
    spec = sql_asset(
        f"{db}.hub_customer",
        doubled,
        write_mode="insert_new",
        unique_key=("hub_customer_hash_key",),
    )

    with pytest.raises(AssetValidationError, match="unique_key") as raised:
        materialize(backend, spec)

    assert raised.value.failures[0].failing_rows == 1
    assert backend.warehouse.row_count(f"{db}.hub_customer") == 0


def test_insert_new_after_a_partial_publish_adds_no_duplicates(backend, db):
    """A run that died part-way through the publishing INSERT left some rows behind."""
    backend.warehouse.command(f"INSERT INTO {db}.hub_customer {hub_select(0, 3)}")

    result = materialize(backend, hub_asset(db, 0, 9))

    assert (result.inserted_rows, result.rows) == (6, 10)
    assert_no_duplicate_keys(backend.warehouse, db)


CRASHING_RUN = textwrap.dedent(
    """
    import os, sys
    from io_managers import warehouse_from_env
    from io_managers.publish import Publisher
    from tests.io_helpers import context, sql_asset
    from tests.test_io_materialize import hub_select

    def die(*args, **kwargs):
        os._exit(3)  # the process dies between staging and publishing: no cleanup at all

    Publisher.publish = die
    db = sys.argv[1]
    spec = sql_asset(f"{db}.hub_customer", hub_select(0, 19), write_mode="insert_new",
                     unique_key=("hub_customer_hash_key",))
    warehouse = warehouse_from_env()
    warehouse.materialize(spec, context(spec, warehouse))
    """
)


def test_insert_new_rerun_after_a_crash_between_staging_and_publish(backend, db):
    materialize(backend, hub_asset(db, 0, 9))
    if backend.kind == "embedded":
        url = f"chdb://{backend.warehouse._transport.path}"
        backend.close()  # the crashing run needs the directory to itself
    else:
        url = backend.server_url

    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, db],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert crashed.returncode == 3, crashed.stderr
    warehouse = backend.reopen()
    assert len(staging_tables(warehouse, db)) == 1  # the dead run's debris
    assert warehouse.row_count(f"{db}.hub_customer") == 10  # nothing was published

    result = materialize(backend, hub_asset(db, 0, 19))

    assert (result.inserted_rows, result.rows) == (10, 20)
    assert_no_duplicate_keys(warehouse, db)
    if backend.kind == "embedded":  # the directory is ours alone, so debris is swept
        assert staging_tables(warehouse, db) == []


def test_sweeping_abandoned_staging_spares_other_tables_staging(backend, db):
    warehouse = backend.warehouse
    warehouse.command(f"CREATE TABLE {db}.pair (n UInt64) ENGINE = MergeTree ORDER BY n")
    warehouse.command(f"CREATE TABLE {db}.pair_b AS {db}.pair")
    abandoned = "_stg_pair_00000000_deadbeef"
    live_of_pair_b = f"_stg_pair_b_{warehouse.staging.run_token}_deadbeef"
    for name in (abandoned, live_of_pair_b):
        warehouse.command(f"CREATE TABLE {db}.{name} AS {db}.pair")

    materialize(backend, sql_asset(f"{db}.pair", "SELECT number AS n FROM numbers(3)"))

    remaining = staging_tables(warehouse, db)
    assert live_of_pair_b in remaining
    if backend.kind == "embedded":
        assert abandoned not in remaining


def sat_select(descriptions: dict[int, str], load: str) -> str:
    rows = ", ".join(f"({key}, '{text}')" for key, text in descriptions.items())
    return (
        "SELECT reinterpretAsUUID(substring(SHA256(toString(k)), 1, 16)) AS hub_product_hash_key, "
        "d AS Description, reinterpretAsUUID(substring(SHA256(d), 1, 16)) AS hash_diff, "
        f"toDateTime64('{load}', 0, 'UTC') AS EFFECTIVE_FROM, "
        f"toDateTime64('{load}', 0, 'UTC') AS LOAD_DATETIME, 'synthetic' AS RECORD_SOURCE "
        f"FROM values('k UInt64, d String', {rows})"
    )


def test_satellite_on_replacing_merge_tree_adds_a_version_only_when_attributes_change(backend, db):
    def load(descriptions, when):
        spec = sql_asset(
            f"{db}.sat_product",
            sat_select(descriptions, when),
            write_mode="insert_new",
            unique_key=("hub_product_hash_key", "hash_diff"),
        )
        return materialize(backend, spec)

    first = load({1: "MUG", 2: "LAMP"}, "2024-01-01 00:00:00")
    same = load({1: "MUG", 2: "LAMP"}, "2024-01-02 00:00:00")
    changed = load({1: "MUG", 2: "DESK LAMP"}, "2024-01-03 00:00:00")

    assert [first.inserted_rows, same.inserted_rows, changed.inserted_rows] == [2, 0, 1]
    history = backend.warehouse.query_df(
        f"SELECT Description FROM {db}.sat_product FINAL ORDER BY EFFECTIVE_FROM, Description"
    )
    assert history["Description"].tolist() == ["LAMP", "MUG", "DESK LAMP"]


# --------------------------------------------------------------------------- concurrency


def test_concurrent_materializations_from_a_thread_pool(backend, db):
    tables = [f"c{i}" for i in range(8)]
    backend.warehouse.command(
        f"CREATE TABLE {db}.c0 (n UInt64, label String) ENGINE = MergeTree ORDER BY n"
    )
    for name in tables[1:]:
        backend.warehouse.command(f"CREATE TABLE {db}.{name} AS {db}.c0")
    specs = []
    for i, name in enumerate(tables):
        if i % 2:
            specs.append(
                sql_asset(
                    f"{db}.{name}",
                    f"SELECT number AS n, toString(number) AS label FROM numbers({1000 * (i + 1)})",
                )
            )
        else:
            rows = 1000 * (i + 1)
            specs.append(
                python_asset(
                    f"{db}.{name}",
                    lambda ctx, rows=rows: pd.DataFrame(
                        {"n": pd.Series(range(rows), dtype="uint64"), "label": "x"}
                    ),
                )
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda spec: materialize(backend, spec), specs))

    assert [r.rows for r in results] == [1000 * (i + 1) for i in range(8)]
    for i, name in enumerate(tables):
        assert backend.warehouse.row_count(f"{db}.{name}") == 1000 * (i + 1)
    assert staging_tables(backend.warehouse, db) == []


# --------------------------------------------------------------------------- set-up and reads


def test_setup_is_idempotent(backend, db, tmp_path):
    ddl = apply_test_ddl(backend.warehouse, db, tmp_path)

    statements = backend.warehouse.setup([ddl])

    assert statements == 5
    assert backend.warehouse.table_exists(f"{db}.numbers")
    assert not backend.warehouse.table_exists(f"{db}.absent")
    assert backend.warehouse.describe(f"{db}.numbers") == [
        ("n", "UInt64"),
        ("label", "String"),
        ("score", "Nullable(Float64)"),
    ]


def test_setup_names_the_file_and_statement_that_failed(backend, db, tmp_path):
    broken = tmp_path / "broken.sql"
    broken.write_text(
        f"CREATE TABLE IF NOT EXISTS {db}.ok (a UInt8) ENGINE = Memory;\nCREATE TABLE oops;"
    )

    with pytest.raises(Exception, match=r"broken\.sql:2:1: statement 2 \(CREATE TABLE oops"):
        backend.warehouse.setup([broken])


# --------------------------------------------------------------------------- types


RETAIL_SELECT = """
SELECT
    number AS id,
    reinterpretAsUUID(substring(SHA256(toString(number)), 1, 16)) AS hash_key,
    toDateTime64('2010-12-01 08:26:00', 0, 'UTC') + toIntervalHour(number) AS invoice_date,
    toDecimal64(number * 1.25 - 2, 4) AS unit_price,
    if(number % 2 = 1, 'Return', 'Sale') AS return_status,
    if(number % 2 = 1, 'Return', 'Normal') AS status,
    if(number % 3 = 0, NULL, concat('item, "quoted" ', toString(number))) AS description,
    toInt32(number) - 2 AS quantity,
    if(number % 2 = 0, NULL, -toInt32(number)) AS maybe_quantity,
    toDate('2010-12-01') + number AS day,
    number / 8 AS ratio,
    toUInt16(2010 + number) AS year
FROM numbers(6)
"""


class RetailTypes(pa.DataFrameModel):
    """The pandas side of every retail column type, as query_df returns it."""

    id: Series[np.uint64] = pa.Field(unique=True)
    hash_key: Series[str] = pa.Field(str_matches=r"[0-9a-f]{8}-[0-9a-f]{4}-", str_length=36)
    invoice_date: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs={"unit": "s", "tz": "UTC"})
    unit_price: Series[pandas_engine.Decimal] = pa.Field(dtype_kwargs={"precision": 10, "scale": 4})
    return_status: Series[str] = pa.Field(isin=["Sale", "Return"])
    status: Series[str] = pa.Field(isin=["Normal", "Return"])
    description: Series[str] = pa.Field(nullable=True)
    quantity: Series[np.int32] = pa.Field(ge=-2)
    maybe_quantity: Series[pd.Int32Dtype] = pa.Field(nullable=True, le=0)
    day: Series[pandera_typing.Date]
    ratio: Series[np.float64] = pa.Field(ge=0)
    year: Series[np.uint16] = pa.Field(in_range={"min_value": 2010, "max_value": 2015})

    class Config:
        strict = True


def test_every_retail_type_round_trips_through_arrow_and_pandas(backend, db):
    warehouse = backend.warehouse
    warehouse.command(f"CREATE TABLE {db}.retail_copy AS {db}.retail_types")
    materialize(backend, sql_asset(f"{db}.retail_types", RETAIL_SELECT, schema=RetailTypes))

    frame = warehouse.query_df(f"SELECT * FROM {db}.retail_types ORDER BY id")
    result = materialize(
        backend,
        python_asset(f"{db}.retail_copy", lambda ctx: frame, schema=RetailTypes, key="copy"),
    )

    assert result.rows == 6
    RetailTypes.validate(frame)  # what query_df returns is exactly what the schema states
    assert str(frame["invoice_date"].dtype) == "datetime64[s, UTC]"
    assert frame["hash_key"].iloc[0] == str(frame["hash_key"].iloc[0]).lower()
    assert frame["unit_price"].iloc[0] == decimal.Decimal("-2.0000")
    assert frame["status"].tolist()[:2] == ["Normal", "Return"]
    assert frame["maybe_quantity"].isna().tolist() == [True, False] * 3
    assert frame["day"].iloc[1] == dt.date(2010, 12, 2)
    assert frame["invoice_date"].iloc[1] == pd.Timestamp("2010-12-01 09:26:00", tz="UTC")
    differences = warehouse.query_df(
        f"SELECT count() AS n FROM (SELECT * FROM {db}.retail_types "
        f"EXCEPT SELECT * FROM {db}.retail_copy)"
    )
    assert differences["n"].iloc[0] == 0
    original = warehouse.query_arrow(f"SELECT * FROM {db}.retail_types ORDER BY id")
    copied = warehouse.query_arrow(f"SELECT * FROM {db}.retail_copy ORDER BY id")
    assert copied.equals(original)
    assert warehouse.describe(f"{db}.retail_copy") == warehouse.describe(f"{db}.retail_types")


def test_query_arrow_returns_enum_labels_and_uuid_text(backend, db):
    materialize(backend, sql_asset(f"{db}.retail_types", RETAIL_SELECT, schema=RetailTypes))

    table = backend.warehouse.query_arrow(
        f"SELECT status, hash_key, unit_price FROM {db}.retail_types ORDER BY id LIMIT 2"
    )

    assert table.column("status").to_pylist() == ["Normal", "Return"]
    assert table.schema.field("hash_key").type == pa_arrow.string()
    assert table.schema.field("unit_price").type == pa_arrow.decimal128(10, 4)


def test_an_insert_setting_holding_a_quote_reaches_the_engine_as_a_string(backend, db):
    # A string setting is a literal in the INSERT's SETTINGS clause: quoted, not pasted.
    rows = pa_arrow.table(
        {"n": pa_arrow.array([7], pa_arrow.uint64()), "label": ["n7"], "score": [1.0]}
    )
    backend.warehouse._transport.insert_arrow(
        f"`{db}`.`numbers`", rows, {"insert_deduplication_token": "it's 'quoted'"}
    )
    assert backend.warehouse.row_count(f"{db}.numbers") == 1
