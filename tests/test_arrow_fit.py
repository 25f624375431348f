"""The Arrow check refuses exactly the values the engine refuses for a SQL asset.

A Python asset's column is checked in pyarrow.compute (:mod:`io_managers.arrow_fit`),
a SQL asset's in the engine (:mod:`io_managers.guarded_insert`: ``accurateCast``, or the
value compared with itself cut to its column's digits): one rule, two implementations.
Each case here holds the first to the second on values at the edges of both types, on a
real embedded engine: the values are stored in their own type, and the engine says which
the SQL path's condition refuses (``tests/test_type_fit.py`` holds that condition to the
INSERT's own conversion).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pyarrow as pa
import pytest

from io_managers import ClickHouseIOManager
from io_managers.arrow_fit import arrow_guards, engine_type, refused_rows
from io_managers.guarded_insert import guards
from io_managers.statements import INSERT_SETTINGS
from io_managers.types import parse_type


def at(year: int, microseconds: int) -> datetime:
    """A moment of ``year`` (before 1970: ticks below zero) with sub-seconds."""
    return datetime(year, 12, 31, 23, 59, 59, microseconds, UTC)


CASES: list[tuple[pa.DataType, str, list[object]]] = [
    (pa.int32(), "Int8", [-129, -128, 0, 127, 128, 300, None]),
    (pa.int8(), "UInt8", [-1, 0, 127]),
    (pa.int64(), "UInt64", [-(2**63), -1, 0, 2**63 - 1]),
    (pa.uint64(), "Int64", [0, 2**63 - 1, 2**63, 2**64 - 1]),
    (pa.uint32(), "Int32", [0, 2**31 - 1, 2**31, 2**32 - 1]),
    (
        pa.float64(),
        "Int32",
        [2.7, -0.5, -0.0, 5.0, 2.0**31 - 1, 2.0**31, -(2.0**31), -(2.0**31) - 1, None],
    ),
    (pa.float64(), "Int16", [float("nan"), float("inf"), float("-inf"), 1.0]),
    (pa.float32(), "UInt8", [-0.0, 0.5, 255.0, 256.0, -1.0, 2.7]),
    (pa.float64(), "Int64", [2.0**63, -(2.0**63), 2.0**63 - 1024, 1e300]),
    (pa.float64(), "UInt64", [2.0**64, 2.0**64 - 2048, -1.0, -0.0]),
    (pa.float32(), "Int64", [2.0**63, -(2.0**63), 2.0**62]),
    (
        pa.int64(),
        "Float64",
        [2**53, 2**53 + 1, 2**53 + 2, -(2**53) - 1, 2**63 - 1, -(2**63), 2**62 + 1],
    ),
    (pa.int64(), "Float32", [2**24, 2**24 + 1, 2**24 + 2, 2**62, 2**63 - 1, -(2**63)]),
    (pa.uint64(), "Float64", [2**64 - 1, 2**63, 2**53 + 1, 2**53]),
    (pa.int32(), "Float32", [2**24 + 1, 2**31 - 1, -(2**31), 2**24]),
    (
        pa.decimal128(12, 4),
        "Decimal(12, 2)",
        [D("1.2345"), D("1.2000"), D("-1.2301"), D("-0.0001"), D("99999999.9900"), None],
    ),
    (pa.decimal128(9, 1), "Int32", [D("2.7"), D("2.0"), D("-0.5"), D("-3.0"), D("0.0")]),
    (pa.decimal256(40, 6), "Decimal(38, 3)", [D("1.000001"), D("-123.456000"), D("0.0005")]),
    (
        pa.timestamp("us", tz="UTC"),
        "DateTime64(3, 'UTC')",
        [at(2020, 123456), at(2020, 123000), at(1960, 1), at(1960, 999000), None],
    ),
    (pa.timestamp("ns"), "DateTime", [at(2020, 0), at(2020, 1), at(1969, 500000)]),
    (
        pa.timestamp("ms", tz="Asia/Tokyo"),
        "DateTime64(0, 'UTC')",
        [at(2020, 0), at(2020, 1000), at(1950, 999000)],
    ),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseIOManager]:
    path: Path = tmp_path_factory.mktemp("arrow_fit") / "warehouse"
    with ClickHouseIOManager.embedded(path) as opened:
        opened.command("CREATE DATABASE IF NOT EXISTS fit")
        yield opened


def engine_refuses(
    warehouse: ClickHouseIOManager, number: int, values: pa.Array, target: str
) -> list[bool]:
    """Which of ``values``, stored in their own type, the SQL path refuses into ``target``."""
    own = engine_type(values.type)
    assert own is not None
    (guard,) = guards({"v": parse_type(f"Nullable({own.text})")}, {"v": parse_type(target)})
    table = f"fit.own_{number}"
    warehouse.command(
        f"CREATE TABLE {table} (row UInt32, v Nullable({own.text})) ENGINE = MergeTree ORDER BY row"
    )
    rows = pa.table({"row": pa.array(range(len(values)), pa.uint32()), "v": values})
    warehouse._transport.insert_arrow(table, rows, INSERT_SETTINGS)
    refused = warehouse.query_arrow(
        f"SELECT isNotNull(v) AND ({guard.refuses()}) AS r FROM {table} ORDER BY row"
    )
    return [bool(value) for value in refused.column("r").to_pylist()]


@pytest.mark.parametrize(
    ("number", "arrow_type", "target", "values"),
    [(number, *case) for number, case in enumerate(CASES)],
    ids=[f"{arrow_type}->{target}" for arrow_type, target, _ in CASES],
)
def test_the_check_refuses_what_accurate_cast_refuses(
    warehouse: ClickHouseIOManager,
    number: int,
    arrow_type: pa.DataType,
    target: str,
    values: list[object],
):
    array = pa.array(values, arrow_type)
    (guard,) = arrow_guards(pa.schema([("v", arrow_type)]), {"v": parse_type(target)})
    expected = engine_refuses(warehouse, number, array, target)
    assert any(expected), "each case holds a value the engine refuses"

    refused = refused_rows(pa.chunked_array([array]), guard.column)

    found = [False] * len(values) if refused is None else refused.to_pylist()
    assert [bool(value) for value in found] == expected, list(zip(values, found, strict=True))


def test_values_that_all_fit_need_no_pass_over_the_column():
    """A guarded column whose values all fit its column is found so by its minimum and
    maximum alone: no refused rows to look through."""
    column = parse_type("Int8")

    assert refused_rows(pa.chunked_array([pa.array([-128, 5, 127], pa.int32())]), column) is None


def test_a_column_of_its_tables_type_or_wider_is_not_looked_at():
    schema = pa.schema([("a", pa.int8()), ("b", pa.float32()), ("c", pa.string())])
    columns = {name: parse_type(kind) for name, kind in [("a", "Int32"), ("b", "Float64")]}

    assert arrow_guards(schema, {**columns, "c": parse_type("LowCardinality(String)")}) == []
