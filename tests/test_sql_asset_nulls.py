"""A SQL asset cannot publish NULL or NaN into a column its schema calls non-nullable.

ClickHouse would quietly turn a NULL into the column's default (0, '') on insert, and a
Float64 column holds NaN happily; Pandera counts both as missing. The staged table is
refused either way, naming the column, and the published table stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandera.pandas as pa
import pytest
from pandera.typing import Series

from io_managers import ClickHouseIOManager, MaterializationError
from tests.io_helpers import apply_test_ddl, context, new_database_name, sql_asset


class Numbers(pa.DataFrameModel):
    n: Series[pa.typing.UInt64]
    label: Series[str]
    score: Series[float] = pa.Field(nullable=True)


class Ratios(pa.DataFrameModel):
    id: Series[pa.typing.UInt64]
    ratio: Series[float]  # nullable=False: NaN is missing, as Pandera counts it


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[tuple[ClickHouseIOManager, str]]:
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        db = new_database_name()
        apply_test_ddl(warehouse, db, tmp_path)
        warehouse.command(f"INSERT INTO {db}.numbers VALUES (1, 'one', 0.5)")
        yield warehouse, db


def test_null_for_a_non_nullable_column_is_refused(
    warehouse: tuple[ClickHouseIOManager, str],
) -> None:
    io, db = warehouse
    spec = sql_asset(
        f"{db}.numbers",
        "SELECT toUInt64(2) AS n, CAST(NULL, 'Nullable(String)') AS label, 0.1 AS score",
        schema=Numbers,
    )
    with pytest.raises(MaterializationError, match="label"):
        io.materialize(spec, context(spec, io))
    assert io.query_arrow(f"SELECT n, label FROM {db}.numbers").to_pylist() == [
        {"n": 1, "label": "one"}
    ]


def test_nan_in_a_non_nullable_float_column_is_refused(
    warehouse: tuple[ClickHouseIOManager, str],
) -> None:
    io, db = warehouse
    columns = (
        "toUInt64(number) AS id, generateUUIDv4() AS hash_key, now64(0, 'UTC') AS invoice_date, "
        "toDecimal64(1, 4) AS unit_price, 'Normal' AS return_status, 'Normal' AS status, "
        "NULL AS description, toInt32(1) AS quantity, NULL AS maybe_quantity, "
        "today() AS day, toUInt16(2024) AS year"
    )
    spec = sql_asset(
        f"{db}.retail_types",
        f"SELECT {columns}, if(number = 1, nan, 0.5) AS ratio FROM numbers(3)",
        schema=Ratios,
    )
    with pytest.raises(MaterializationError) as raised:
        io.materialize(spec, context(spec, io))
    assert "column 'ratio'" in str(raised.value) and "1 row" in str(raised.value)
    assert io.row_count(f"{db}.retail_types") == 0
