"""A run never loses a value silently to a column narrower than its SELECT's output.

``INSERT ... SELECT`` converts each output column to its column's type without a word:
an Int32 300 into Int8 is 44, a Float64 2.7 into Int32 is 2, an Int32 -1 into UInt32 is
4294967295. Refusing such a type outright stopped valid runs (commit 222dc10), so a run
wraps each such column in ClickHouse's ``accurateCast``: values that fit go in as before,
and the first that does not fails the run, named by column, type and value, before
anything is published. Columns of their table's very type are inserted as they were.

Runs on the embedded engine and on the server backend (see ``tests/io_helpers.py``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assets import DDL_PATHS
from io_managers import ClickHouseIOManager, MaterializationError
from io_managers.guarded_insert import first_refused, guards
from io_managers.statements import described_select
from io_managers.transport import query_error
from orchestration.asset_code import body_place
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.errors import Place
from orchestration.io_manager import EngineSelect
from tests.io_helpers import (
    LOAD_DATETIME,
    context,
    new_database_name,
    python_asset,
    sql_asset,
    staging_tables,
)
from tests.locations import line_of, run_location, write_location
from tests.test_cli import failure_of

DDL = """CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.narrow
(
    id UInt32,
    small Int8,
    whole Int32,
    count UInt32,
    plain Int32,
    maybe Nullable(Int8),
    price Decimal(12, 2),
    refund Nullable(Decimal(12, 2)),
    units Int32,
    stamp DateTime64(3, 'UTC'),
    second DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY id;
"""

#: What each test's SELECT gives when it gives no other value: each fits its column.
FITTING = {
    "small": "toInt32(3)",
    "whole": "toFloat64(2.0)",
    "count": "toInt32(5)",
    "plain": "toNullable(toInt32(7))",
    "maybe": "CAST(NULL AS Nullable(Int32))",
    "price": "CAST('1.2000' AS Decimal(12, 4))",
    "refund": "CAST(NULL AS Nullable(Decimal(12, 4)))",
    "units": "CAST('2.0' AS Decimal(9, 1))",
    "stamp": "toDateTime64('2020-01-01 00:00:00.123000', 6, 'UTC')",
    "second": "toDateTime64('2020-01-01 00:00:01', 3, 'UTC')",
}


def narrow_select(db: str, **values: str) -> str:
    """Two rows of ``{db}.narrow``; ``values`` replace the second row's of :data:`FITTING`."""
    columns = ", ".join(
        f"if(number = 0, {fitting}, {values.get(name, fitting)}) AS {name}"
        for name, fitting in FITTING.items()
    )
    return f"SELECT toUInt32(number) AS id, {columns} FROM numbers(2)"


@pytest.fixture
def db(backend, tmp_path: Path) -> Iterator[str]:
    name = new_database_name()
    ddl = tmp_path / "narrow.sql"
    ddl.write_text(DDL.format(db=name))
    backend.warehouse.setup([ddl])
    yield name
    if backend.kind == "server":
        backend.warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def materialize(backend, db: str, select: str):
    spec = sql_asset(f"{db}.narrow", select)
    return backend.warehouse.materialize(spec, context(spec, backend.warehouse))


def rows(backend, db: str) -> list[dict[str, object]]:
    return backend.warehouse.query_arrow(f"SELECT * FROM {db}.narrow ORDER BY id").to_pylist()


#: Where a SELECT of :func:`tests.io_helpers.sql_asset` is: its body, the one lambda there.
SELECT_PLACE = body_place(sql_asset("db.t", "SELECT 1"))


def ddl_line(tmp_path: Path, text: str) -> int:
    return line_of(tmp_path / "narrow.sql", text)


def pipeline(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` on the location written in ``cwd``, run there."""
    return run_location(cwd, "silent_location", *args, **env)


#: The second row of :func:`narrow_select` as the table holds it.
FITTING_ROW = {
    "id": 1,
    "small": 3,
    "whole": 2,
    "count": 5,
    "plain": 7,
    "maybe": None,
    "price": Decimal("1.20"),
    "refund": None,
    "units": 2,
    "stamp": datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=ZoneInfo("UTC")),
    "second": 1577836801,  # a DateTime reads back as Arrow's uint32 of its seconds
}


def test_values_that_fit_a_narrower_column_go_in_as_they_are(backend, db):
    """1.2000 into Decimal(12, 2), 2.0 into Int32, .123000 into DateTime64(3): exact."""
    materialize(backend, db, narrow_select(db))

    assert rows(backend, db)[1] == FITTING_ROW


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        (
            "small",
            "toInt32(300)",
            "the value 300 of the SELECT's Int32 does not fit the table's Int8 "
            "(Int32 values wrap in Int8)",
        ),
        (
            "whole",
            "toFloat64(2.7)",
            "the value 2.7 of the SELECT's Float64 does not fit the table's Int32 "
            "(Float64 values lose their fraction in Int32, and wrap beyond its range)",
        ),
        (
            "count",
            "toInt32(-1)",
            "the value -1 of the SELECT's Int32 does not fit the table's UInt32 "
            "(negative Int32 values wrap in UInt32)",
        ),
        (
            "plain",
            "CAST(NULL AS Nullable(Int32))",
            "a NULL of the SELECT's Nullable(Int32) does not fit the table's Int32, "
            "which holds no NULL",
        ),
        (
            "maybe",
            "toNullable(toInt32(-129))",
            "the value -129 of the SELECT's Nullable(Int32) does not fit the table's "
            "Nullable(Int8) (Nullable(Int32) values wrap in Nullable(Int8))",
        ),
        (
            "price",
            "CAST('1.2345' AS Decimal(12, 4))",
            "the value 1.2345 of the SELECT's Decimal(12, 4) does not fit the table's "
            "Decimal(12, 2) (Decimal(12, 4) values are cut to 2 decimal places in "
            "Decimal(12, 2))",
        ),
        (
            "refund",
            "CAST('-0.0001' AS Nullable(Decimal(12, 4)))",
            "the value -0.0001 of the SELECT's Nullable(Decimal(12, 4)) does not fit the "
            "table's Nullable(Decimal(12, 2)) (Nullable(Decimal(12, 4)) values are cut to 2 "
            "decimal places in Nullable(Decimal(12, 2)))",
        ),
        (
            "units",
            "CAST('2.7' AS Decimal(9, 1))",
            "the value 2.7 of the SELECT's Decimal(9, 1) does not fit the table's Int32 "
            "(Decimal(9, 1) values lose their fraction in Int32)",
        ),
        (
            "stamp",
            "toDateTime64('2020-01-01 00:00:00.123456', 6, 'UTC')",
            "the value 2020-01-01 00:00:00.123456 of the SELECT's DateTime64(6, 'UTC') does "
            "not fit the table's DateTime64(3, 'UTC') (DateTime64(6, 'UTC') values lose "
            "sub-second digits beyond 3 in DateTime64(3, 'UTC'))",
        ),
        (
            "second",
            "toDateTime64('1960-01-01 00:00:01.5', 3, 'UTC')",
            "the value 1960-01-01 00:00:01.500 of the SELECT's DateTime64(3, 'UTC') does "
            "not fit the table's DateTime('UTC') (DateTime64(3, 'UTC') values lose their "
            "fractions of a second in DateTime('UTC'))",
        ),
    ],
)
def test_a_value_its_column_would_change_fails_the_run_naming_it_and_publishes_nothing(
    backend, db, tmp_path: Path, column: str, value: str, said: str
):
    """Nine of the ten columns are guarded; the error names the one whose value failed."""
    materialize(backend, db, narrow_select(db))
    published = rows(backend, db)

    with pytest.raises(MaterializationError) as failed:
        materialize(backend, db, narrow_select(db, **{column: value}))

    fix = (
        "make the column Nullable" if column == "plain" else "widen the column",
        "or replace the NULL in the SELECT" if column == "plain" else "or CAST it in the SELECT",
    )
    declared = Place.at(tmp_path / "narrow.sql", ddl_line(tmp_path, f"    {column} "))
    assert str(failed.value) == (
        f"asset 'narrow' (table {db}.narrow): column {column}: {said}, so ClickHouse "
        f"refused the INSERT; {fix[0]} ({declared}) {fix[1]} ({SELECT_PLACE})"
    )
    assert rows(backend, db) == published
    assert staging_tables(backend.warehouse, db) == []


def test_an_insert_only_table_refuses_a_value_and_takes_the_new_keys_that_fit(backend, db):
    """Its SELECT is narrowed to keys the table lacks before the wrap: both hold."""
    spec = sql_asset(f"{db}.narrow", narrow_select(db), write_mode="insert_new", unique_key=("id",))
    backend.warehouse.materialize(spec, context(spec, backend.warehouse))
    wraps = sql_asset(
        f"{db}.narrow",
        narrow_select(db, small="toInt32(300)").replace("numbers(2)", "numbers(3)"),
        write_mode="insert_new",
        unique_key=("id",),
    )

    with pytest.raises(MaterializationError, match="column small: the value 300 of"):
        backend.warehouse.materialize(wraps, context(wraps, backend.warehouse))
    assert [row["id"] for row in rows(backend, db)] == [0, 1]

    fits = sql_asset(
        f"{db}.narrow",
        narrow_select(db).replace("numbers(2)", "numbers(3)"),
        write_mode="insert_new",
        unique_key=("id",),
    )
    assert backend.warehouse.materialize(fits, context(fits, backend.warehouse)).inserted_rows == 1


def test_a_select_of_its_tables_types_is_inserted_as_it_is_written(
    backend, db, monkeypatch: pytest.MonkeyPatch
):
    sent = recorded_commands(backend.warehouse, monkeypatch)
    select = (
        "SELECT toUInt32(1) AS id, toInt8(3) AS small, toInt32(2) AS whole, "
        "toUInt32(5) AS count, toInt32(7) AS plain, CAST(NULL AS Nullable(Int8)) AS maybe, "
        "CAST('1.25' AS Decimal(12, 2)) AS price, CAST(NULL AS Nullable(Decimal(12, 2))) "
        "AS refund, toInt32(2) AS units, toDateTime64('2020-01-01 00:00:00.123', 3, 'UTC') "
        "AS stamp, toDateTime('2020-01-01 00:00:01', 'UTC') AS second"
    )

    materialize(backend, db, select)

    (insert,) = [sql for sql in sent if sql.startswith("INSERT INTO") and "_stg_" in sql]
    assert insert.endswith(f"\n{select}")
    assert "accurateCast" not in insert
    assert "throwIf" not in insert


def engine_select(db: str, select: str):
    """A Python asset of ``{db}.narrow`` whose rows ``select`` computes in the engine."""

    def no_fallback() -> None:
        raise AssertionError("the Python fallback ran")

    return python_asset(
        f"{db}.narrow", lambda ctx: EngineSelect(select, no_fallback, reads_local_files=False)
    )


def test_an_engine_select_is_guarded_as_a_sql_assets_select(backend, db, tmp_path: Path):
    """A Python asset's :class:`EngineSelect` is inserted by the engine as a SQL asset's
    SELECT is: values that fit go in, one its column would cut fails the run in the same
    words, and its fallback is not run (it gives the same rows, by its contract)."""
    fits = engine_select(db, narrow_select(db))
    backend.warehouse.materialize(fits, context(fits, backend.warehouse))
    published = rows(backend, db)
    assert published[1] == FITTING_ROW
    cut = engine_select(db, narrow_select(db, price="CAST('1.2345' AS Decimal(12, 4))"))

    with pytest.raises(MaterializationError) as failed:
        backend.warehouse.materialize(cut, context(cut, backend.warehouse))

    declared = Place.at(tmp_path / "narrow.sql", ddl_line(tmp_path, "    price "))
    assert str(failed.value) == (
        f"asset 'narrow' (table {db}.narrow): column price: the value 1.2345 of the SELECT's "
        "Decimal(12, 4) does not fit the table's Decimal(12, 2) (Decimal(12, 4) values are "
        "cut to 2 decimal places in Decimal(12, 2)), so ClickHouse refused the INSERT; "
        f"widen the column ({declared}) or CAST it in the SELECT ({body_place(cut)})"
    )
    assert rows(backend, db) == published
    assert staging_tables(backend.warehouse, db) == []


def recorded_commands(warehouse: ClickHouseIOManager, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement ``warehouse`` runs for its effect from now on, as it is sent
    (``write`` runs those that insert rows, and says how many it wrote)."""
    transport = warehouse._transport
    sent: list[str] = []
    for name in ("command", "write"):
        monkeypatch.setattr(transport, name, _recording(getattr(transport, name), sent))
    return sent


def _recording(run: Callable[[str], Any], sent: list[str]) -> Callable[[str], Any]:
    def recording(sql: str) -> Any:
        sent.append(sql)
        return run(sql)

    return recording


def test_the_shipped_pipeline_wraps_no_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Its SELECTs give their tables' types: its statements are as they were."""
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(DDL_PATHS)
        sent = recorded_commands(warehouse, monkeypatch)
        for spec in load_definitions("assets").graph().select(None):
            params = {"source": "synthetic:2000"}
            run = AssetContext(
                spec=spec, io_manager=warehouse, load_datetime=LOAD_DATETIME, params=params
            )
            warehouse.materialize(spec, run)

    inserts = [sql for sql in sent if sql.startswith("INSERT INTO") and "_stg_" in sql]
    assert inserts
    assert [sql for sql in inserts if "accurateCast" in sql or "throwIf" in sql] == []


ASSETS = """import os

DB = "silent"


def narrow(context):
    return f"SELECT toInt32({os.environ['NARROW_VALUE']}) AS n"


ASSETS = [AssetSpec(key="narrow", table=f"{DB}.narrow", kind="sql", body=narrow)]
"""

CLI_DDL = """CREATE DATABASE IF NOT EXISTS silent;
CREATE TABLE IF NOT EXISTS silent.narrow (n Int8) ENGINE = MergeTree ORDER BY n;
"""


def test_a_run_that_would_wrap_a_value_exits_non_zero_on_one_line_and_offers_the_rerun(
    tmp_path: Path, prefect_api_url: str
):
    write_location(tmp_path, "silent_location", ASSETS, CLI_DDL)
    fits = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url, NARROW_VALUE="100")
    assert fits.returncode == 0, fits.stdout + fits.stderr

    failed = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url, NARROW_VALUE="300")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = failure_of(failed.stderr, "narrow")
    select = f"silent_location.py:{line_of(tmp_path / 'silent_location.py', 'AS n')}"
    assert line == (
        "column n: the value 300 of the SELECT's Int32 "
        "does not fit the table's Int8 (Int32 values wrap in Int8), so ClickHouse refused the "
        f"INSERT; widen the column (silent_location.sql:2) or CAST it in the SELECT ({select})"
    ), line
    last = failed.stderr.splitlines()[-1]
    assert last.startswith("Next: pipeline materialize --select 'narrow+' "), last
    assert "--verbose" not in last
    kept = pipeline(tmp_path, "query", "SELECT n FROM silent.narrow")
    assert kept.stdout.split() == ["n", "100"], kept.stdout + kept.stderr


def test_a_refused_insert_is_told_by_the_engines_error_code_not_its_words(backend, db):
    """A NULL into a plain column: the engine's code (349) says it was refused, whatever
    its words (a long message cut before them, another version's wording); words alone,
    under another code, say nothing of a refused value."""
    select = narrow_select(db, plain="CAST(NULL AS Nullable(Int32))")
    produced = backend.warehouse.queries.columns(described_select(select))
    table = backend.warehouse.queries.columns(f"SELECT * FROM {db}.narrow")
    found = guards(produced, table)

    worded_otherwise = query_error("Code: 349. DB::Exception: (cut)", 349)
    refused = first_refused(backend.warehouse.queries, select, found, worded_otherwise)
    assert refused is not None and (refused[0].name, refused[1]) == ("plain", None)

    other_code = query_error("cannot be safely converted: CANNOT_CONVERT_TYPE", 62)
    assert first_refused(backend.warehouse.queries, select, found, other_code) is None
