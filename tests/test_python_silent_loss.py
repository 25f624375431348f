"""A Python asset never loses a value silently to a column narrower than its output's.

ClickHouse converts an Arrow column to its table column's type as ``INSERT ... SELECT``
does, without a word: an int32 300 into Int8 is 44, a float 2.7 into Int32 is 2, an int32
-1 into UInt32 is 4294967295, an int64 2^53 + 1 into Float64 is 2^53. A SQL asset's such
column is inserted through ``accurateCast`` (``tests/test_silent_loss.py``); a Python
asset's DataFrame or Arrow table is checked by the same rule before its rows are
inserted: values that fit go in, and the first that does not fails the run, named by
column, types and value, before anything is published.

Runs on the embedded engine and on the server backend (see ``tests/io_helpers.py``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from io_managers import MaterializationError
from orchestration.asset_code import body_place
from orchestration.context import AssetContext
from orchestration.errors import Place
from tests.io_helpers import context, new_database_name, python_asset, staging_tables
from tests.locations import line_of, run_location, write_location
from tests.test_cli import failure_of

DDL = """CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.narrow
(
    id UInt32,
    small Int8,
    whole Int32,
    count UInt32,
    exact Float64,
    maybe Nullable(Int8),
    price Decimal(12, 2),
    units Int32,
    stamp DateTime64(3, 'UTC'),
    second DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY id;
"""

#: Each column's Arrow type and the value it has when a test gives it no other: each
#: is of a type its column may change, and each value fits.
FITTING: dict[str, tuple[pa.DataType, Any]] = {
    "small": (pa.int32(), 3),
    "whole": (pa.float64(), 2.0),
    "count": (pa.int32(), 5),
    "exact": (pa.int64(), 2**53),
    "maybe": (pa.int32(), None),
    "price": (pa.decimal128(12, 4), Decimal("1.2000")),
    "units": (pa.decimal128(9, 1), Decimal("2.0")),
    "stamp": (pa.timestamp("us", tz="UTC"), datetime(2020, 1, 1, 0, 0, 0, 123000, UTC)),
    "second": (pa.timestamp("ns", tz="UTC"), datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC)),
}


def narrow_rows(**values: Any) -> pa.Table:
    """Two rows of ``narrow``; ``values`` replace the second row's of :data:`FITTING`."""
    columns = {"id": pa.array([0, 1], pa.uint32())}
    for name, (arrow_type, fitting) in FITTING.items():
        columns[name] = pa.array([fitting, values.get(name, fitting)], arrow_type)
    return pa.table(columns)


def narrow_frame(**values: Any) -> pd.DataFrame:
    """:func:`narrow_rows` as the DataFrame an asset would build (pandas' own dtypes; its
    decimals of their Arrow types, not Python objects whose type Arrow would infer)."""
    dtypes = {pa.int32(): pd.Int32Dtype()}
    dtypes |= {
        arrow_type: pd.ArrowDtype(arrow_type)
        for arrow_type, _ in FITTING.values()
        if pa.types.is_decimal(arrow_type)
    }
    return narrow_rows(**values).to_pandas(types_mapper=dtypes.get)


@pytest.fixture
def db(backend, tmp_path: Path) -> Iterator[str]:
    name = new_database_name()
    ddl = tmp_path / "narrow.sql"
    ddl.write_text(DDL.format(db=name))
    backend.warehouse.setup([ddl])
    yield name
    if backend.kind == "server":
        backend.warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def body(output: Any) -> Callable[[AssetContext], Any]:
    """The body of the asset :func:`materialize` runs: it returns ``output``."""
    return lambda ctx: output


def materialize(backend, db: str, output: Any):
    spec = python_asset(f"{db}.narrow", body(output))
    return backend.warehouse.materialize(spec, context(spec, backend.warehouse))


def rows(backend, db: str) -> list[dict[str, object]]:
    return backend.warehouse.query_arrow(f"SELECT * FROM {db}.narrow ORDER BY id").to_pylist()


#: Where the body of every asset here is: the lambda of :func:`body`.
BODY_PLACE = body_place(python_asset("db.t", body(None)))


def refusal(db: str, tmp_path: Path, column: str, said: str) -> str:
    """The run's error when ``column``'s value does not fit, as ``said``."""
    declared = Place.at(tmp_path / "narrow.sql", ddl_line(tmp_path, f"    {column} "))
    return (
        f"asset 'narrow' (table {db}.narrow): column {column}: {said}, so the run refused "
        f"to insert it; widen the column ({declared}) or cast it in the body ({BODY_PLACE})"
    )


def pipeline(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` on the location written in ``cwd``, run there."""
    return run_location(cwd, "silent_location", *args, **env)


def test_values_that_fit_a_narrower_column_go_in_as_they_are(backend, db):
    materialize(backend, db, narrow_frame())

    assert rows(backend, db)[1] == {
        "id": 1,
        "small": 3,
        "whole": 2,
        "count": 5,
        "exact": 2.0**53,
        "maybe": None,
        "price": Decimal("1.20"),
        "units": 2,
        "stamp": datetime(2020, 1, 1, 0, 0, 0, 123000, ZoneInfo("UTC")),
        "second": 1577836801,  # a DateTime reads back as Arrow's uint32 of its seconds
    }


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        (
            "small",
            300,
            "the value 300 of the output's Int32 does not fit the table's Int8 "
            "(Int32 values wrap in Int8)",
        ),
        (
            "whole",
            2.7,
            "the value 2.7 of the output's Float64 does not fit the table's Int32 "
            "(Float64 values lose their fraction in Int32, and wrap beyond its range)",
        ),
        (
            "whole",
            3e9,
            "the value 3000000000 of the output's Float64 does not fit the table's Int32 "
            "(Float64 values lose their fraction in Int32, and wrap beyond its range)",
        ),
        (
            "count",
            -1,
            "the value -1 of the output's Int32 does not fit the table's UInt32 "
            "(negative Int32 values wrap in UInt32)",
        ),
        (
            "exact",
            2**53 + 1,
            "the value 9007199254740993 of the output's Int64 does not fit the table's "
            "Float64 (Int64 values beyond 2^53 are rounded in Float64)",
        ),
        (
            "maybe",
            -129,
            "the value -129 of the output's Int32 does not fit the table's Nullable(Int8) "
            "(Int32 values wrap in Nullable(Int8))",
        ),
        (
            "price",
            Decimal("1.2345"),
            "the value 1.2345 of the output's Decimal(12, 4) does not fit the table's "
            "Decimal(12, 2) (Decimal(12, 4) values are cut to 2 decimal places in "
            "Decimal(12, 2))",
        ),
        (
            "units",
            Decimal("-2.5"),
            "the value -2.5 of the output's Decimal(9, 1) does not fit the table's Int32 "
            "(Decimal(9, 1) values lose their fraction in Int32)",
        ),
        (
            "stamp",
            datetime(2020, 1, 1, 0, 0, 0, 123456, UTC),
            "the value 2020-01-01 00:00:00.123456 of the output's DateTime64(6, 'UTC') does "
            "not fit the table's DateTime64(3, 'UTC') (DateTime64(6, 'UTC') values lose "
            "sub-second digits beyond 3 in DateTime64(3, 'UTC'))",
        ),
        (
            "second",
            datetime(1960, 1, 1, 0, 0, 1, 500000, UTC),
            "the value 1960-01-01 00:00:01.500000000 of the output's DateTime64(9, 'UTC') "
            "does not fit the table's DateTime('UTC') (DateTime64(9, 'UTC') values lose "
            "their fractions of a second in DateTime('UTC'))",
        ),
    ],
)
def test_a_value_its_column_would_change_fails_the_run_naming_it_and_publishes_nothing(
    backend, db, tmp_path: Path, column: str, value: Any, said: str
):
    materialize(backend, db, narrow_frame())
    published = rows(backend, db)

    with pytest.raises(MaterializationError) as failed:
        materialize(backend, db, narrow_frame(**{column: value}))

    assert str(failed.value) == refusal(db, tmp_path, column, said)
    assert rows(backend, db) == published
    assert staging_tables(backend.warehouse, db) == []


def test_an_arrow_tables_nan_or_infinity_is_refused_as_the_value_it_is(backend, db, tmp_path):
    """A DataFrame's NaN reaches Arrow as a null (the engine refuses a NULL by itself);
    an Arrow table keeps it a NaN, which no integer column holds."""
    with pytest.raises(MaterializationError) as failed:
        materialize(backend, db, narrow_rows(whole=float("inf")))

    said = (
        "the value inf of the output's Float64 does not fit the table's Int32 "
        "(Float64 values lose their fraction in Int32, and wrap beyond its range)"
    )
    assert str(failed.value) == refusal(db, tmp_path, "whole", said)
    assert rows(backend, db) == []


def test_the_first_row_refused_is_named_whatever_its_column(backend, db, tmp_path: Path):
    """Row 1's count is named, though small comes first among the columns and is refused
    in row 2: the row order, as the SQL path's probe reads it."""
    frame = narrow_frame()
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    frame["id"] = np.array([0, 1, 2], dtype="uint32")
    frame["count"] = np.array([5, -1, 5], dtype="int32")
    frame["small"] = np.array([3, 3, 300], dtype="int32")

    with pytest.raises(MaterializationError) as failed:
        materialize(backend, db, frame)

    said = (
        "the value -1 of the output's Int32 does not fit the table's UInt32 "
        "(negative Int32 values wrap in UInt32)"
    )
    assert str(failed.value) == refusal(db, tmp_path, "count", said)


def test_a_later_chunk_is_checked_too_and_nothing_is_published(backend, db, tmp_path: Path):
    """The second chunk differs in types (a batch of its own) and holds the refused value."""
    materialize(backend, db, narrow_frame())
    published = rows(backend, db)
    later = narrow_rows(small=300).cast(narrow_rows().schema.set(1, pa.field("small", pa.int64())))

    with pytest.raises(MaterializationError, match="column small: the value 300 of the output's"):
        materialize(backend, db, iter([narrow_rows(), later]))

    assert rows(backend, db) == published
    assert staging_tables(backend.warehouse, db) == []


def test_a_dictionary_column_is_checked_by_its_values(backend, db):
    """A pandas category of integers reaches Arrow as a dictionary; the engine reads its
    values, and wraps them alike."""
    frame = narrow_frame()
    frame["small"] = pd.Categorical(np.array([3, 300], dtype="int32"))

    with pytest.raises(MaterializationError, match="column small: the value 300 of the output's"):
        materialize(backend, db, frame)
    assert rows(backend, db) == []


ASSETS = """import os

import pandas as pd

DB = "silent"


def narrow(context):
    return pd.DataFrame({"n": pd.array([int(os.environ["NARROW_VALUE"])], dtype="int32")})


ASSETS = [AssetSpec(key="narrow", table=f"{DB}.narrow", kind="python", body=narrow)]
"""

CLI_DDL = """CREATE DATABASE IF NOT EXISTS silent;
CREATE TABLE IF NOT EXISTS silent.narrow (n Int8) ENGINE = MergeTree ORDER BY n;
"""


def ddl_line(tmp_path: Path, text: str) -> int:
    return line_of(tmp_path / "narrow.sql", text)


def test_a_python_asset_that_would_wrap_a_value_exits_non_zero_on_one_line(
    tmp_path: Path, prefect_api_url: str
):
    write_location(tmp_path, "silent_location", ASSETS, CLI_DDL)
    fits = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url, NARROW_VALUE="100")
    assert fits.returncode == 0, fits.stdout + fits.stderr

    failed = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url, NARROW_VALUE="300")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = failure_of(failed.stderr, "narrow")
    body = f"silent_location.py:{line_of(tmp_path / 'silent_location.py', 'return pd.')}"
    assert line == (
        "column n: the value 300 of the output's Int32 "
        "does not fit the table's Int8 (Int32 values wrap in Int8), so the run refused to "
        f"insert it; widen the column (silent_location.sql:2) or cast it in the body ({body})"
    ), line
    kept = pipeline(tmp_path, "query", "SELECT n FROM silent.narrow")
    assert kept.stdout.split() == ["n", "100"], kept.stdout + kept.stderr
