"""Which SELECT output types a table column holds without loss (io_managers/type_fit.py).

The rule table is held to the engine itself: each pair it passes keeps every sample
value through a real ``INSERT ... SELECT`` into the column, and each pair it flags loses
or refuses one. So the table can neither let a wrap through nor alarm on a widening.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager, WarehouseQueryError, parse_type
from io_managers.guarded_insert import guards
from io_managers.type_fit import conversion_loss, silent_loss

#: Values of each source type at its edges (within every date type's range: ranges of
#: date types are not compared, see the module under test).
SAMPLES = {
    "Int8": ["-128", "127"],
    "Int32": ["-2147483648", "2147483647"],
    "Int64": ["-9223372036854775808", "9223372036854775807"],
    "UInt8": ["0", "255"],
    "UInt16": ["0", "65535"],
    "UInt32": ["4294967295"],
    "UInt64": ["18446744073709551615"],
    "Float32": ["0.1", "-3.4e38"],
    "Float64": ["0.1", "-2.7", "1e300"],
    "Decimal(9, 0)": ["-999999999"],
    "Decimal(10, 0)": ["9999999999"],
    "Decimal(5, 0)": ["-99999"],
    "Decimal(10, 2)": ["-99999999.99", "0.01", "5.00"],
    "Decimal(12, 4)": ["-99999999.9999", "1.2000", "-0.0001"],
    "Decimal(15, 0)": ["-999999999999999"],
    "Decimal(15, 4)": ["-99999999999.9999"],
    "Decimal(18, 0)": ["-999999999999999999"],
    "Decimal(18, 2)": ["-9999999999999999.99"],
    "Date": ["1970-01-01", "2020-02-29"],
    "DateTime": ["2020-02-29 13:14:15"],
    "DateTime('UTC')": ["2020-02-29 13:14:15"],
    "DateTime64(0)": ["2020-02-29 13:14:15"],
    "DateTime64(3)": ["2020-02-29 13:14:15.123", "2020-02-29 13:14:15.000"],
    "DateTime64(6)": ["2020-02-29 13:14:15.123456", "2020-02-29 13:14:15.123000"],
    "String": ["", "12", "abc", "abcd"],
    "FixedString(3)": ["abc"],
    "FixedString(5)": ["abcde"],
    "Bool": ["true", "false"],
}

FITS = [
    ("Int8", "Int32"),
    ("UInt32", "Int64"),
    ("UInt16", "Int32"),
    ("Int32", "Nullable(Int64)"),
    ("Float32", "Float64"),
    ("UInt16", "Float32"),
    ("Int32", "Float64"),
    ("Int32", "String"),
    ("Bool", "UInt8"),
    ("Decimal(10, 2)", "Decimal(12, 4)"),
    ("Decimal(9, 0)", "Int32"),
    ("Decimal(15, 0)", "Float64"),
    ("Date", "DateTime"),
    ("Date", "Date32"),
    ("DateTime", "DateTime64(3)"),
    ("DateTime64(0)", "DateTime"),
    ("DateTime64(3)", "DateTime64(6)"),
    ("DateTime('UTC')", "DateTime('Asia/Tokyo')"),
    ("String", "LowCardinality(String)"),
    ("FixedString(3)", "String"),
    ("FixedString(3)", "FixedString(5)"),
]

LOSSES = [
    ("Int32", "Int8", "Int32 values wrap in Int8"),
    ("UInt16", "Int16", "UInt16 values wrap in Int16"),
    ("Int32", "UInt32", "negative Int32 values wrap in UInt32"),
    ("Int64", "UInt32", "Int64 values wrap in UInt32"),
    ("UInt64", "Int64", "UInt64 values wrap in Int64"),
    ("Int32", "Float32", "Int32 values beyond 2^24 are rounded in Float32"),
    ("Int64", "Float64", "Int64 values beyond 2^53 are rounded in Float64"),
    ("Int64", "Decimal(18, 2)", "Int64 values beyond 16 integer digits overflow Decimal(18, 2)"),
    ("Int32", "Bool", "Int32 values other than 0 and 1 lose their value in Bool"),
    (
        "Float64",
        "Int32",
        "Float64 values lose their fraction in Int32, and wrap beyond its range",
    ),
    ("Float64", "Float32", "Float64 values are rounded to Float32"),
    ("Float64", "Decimal(10, 2)", "Float64 values are cut to 2 decimal places in Decimal(10, 2)"),
    (
        "Decimal(12, 4)",
        "Decimal(10, 2)",
        "Decimal(12, 4) values are cut to 2 decimal places in Decimal(10, 2)",
    ),
    (
        "Decimal(18, 2)",
        "Decimal(9, 2)",
        "Decimal(18, 2) values overflow beyond 7 integer digits in Decimal(9, 2)",
    ),
    ("Decimal(10, 2)", "Int64", "Decimal(10, 2) values lose their fraction in Int64"),
    (
        "Decimal(10, 0)",
        "Int32",
        "Decimal(10, 0) values fail the INSERT into Int32 beyond its range",
    ),
    ("Decimal(5, 0)", "UInt32", "Decimal(5, 0) values fail the INSERT into UInt32 when negative"),
    ("Decimal(15, 4)", "Float64", "Decimal(15, 4) values are rounded to the nearest Float64"),
    ("Decimal(18, 0)", "Float64", "Decimal(18, 0) values are rounded to the nearest Float64"),
    ("DateTime", "Date", "DateTime values lose their time of day in Date"),
    (
        "DateTime64(6)",
        "DateTime64(3)",
        "DateTime64(6) values lose sub-second digits beyond 3 in DateTime64(3)",
    ),
    (
        "DateTime64(3)",
        "DateTime",
        "DateTime64(3) values lose their fractions of a second in DateTime",
    ),
    ("String", "UInt16", "String values are parsed as UInt16: one that is not fails the INSERT"),
    (
        "String",
        "FixedString(3)",
        "String values longer than 3 bytes fail the INSERT into FixedString(3)",
    ),
    (
        "FixedString(5)",
        "FixedString(3)",
        "FixedString(5) values longer than 3 bytes fail the INSERT into FixedString(3)",
    ),
    ("Nullable(Int32)", "Int32", "NULLs become Int32's default"),
    (
        "Nullable(Int32)",
        "Int8",
        "NULLs become Int8's default; Nullable(Int32) values wrap in Int8",
    ),
    ("LowCardinality(Nullable(String))", "String", "NULLs become String's default"),
]


@pytest.mark.parametrize(("source", "target"), FITS)
def test_a_type_goes_into_one_that_holds_each_of_its_values(source: str, target: str):
    assert conversion_loss(parse_type(source), parse_type(target)) is None


@pytest.mark.parametrize(("source", "target", "loss"), LOSSES)
def test_a_narrowing_says_what_becomes_of_the_values(source: str, target: str, loss: str):
    assert conversion_loss(parse_type(source), parse_type(target)) == loss


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("Array(Int32)", "Array(Int8)"),  # a kind the table does not name
        ("Enum8('a' = 1, 'b' = 2)", "Enum8('a' = 1)"),
        ("Int32", "DateTime"),
        ("Date32", "Date"),  # a date type's range is not compared
        ("BFloat16", "Float32"),  # unreadable: the schema comparison says so
    ],
)
def test_what_the_table_does_not_judge_is_no_finding(source: str, target: str):
    assert conversion_loss(parse_type(source), parse_type(target)) is None


#: The pairs of :data:`LOSSES` a run guards, and the loss each would be: wrapped in
#: ``accurateCast``, or (a Decimal's scale, a DateTime64's sub-seconds, which
#: ``accurateCast`` cuts as well) compared with the value cut to the column's digits.
SILENT = {
    ("Int32", "Int8"): "Int32 values wrap in Int8",
    ("UInt16", "Int16"): "UInt16 values wrap in Int16",
    ("Int32", "UInt32"): "negative Int32 values wrap in UInt32",
    ("Int64", "UInt32"): "Int64 values wrap in UInt32",
    ("UInt64", "Int64"): "UInt64 values wrap in Int64",
    ("Int32", "Float32"): "Int32 values beyond 2^24 are rounded in Float32",
    ("Int64", "Float64"): "Int64 values beyond 2^53 are rounded in Float64",
    ("Float64", "Int32"): "Float64 values lose their fraction in Int32, and wrap beyond its range",
    ("Decimal(12, 4)", "Decimal(10, 2)"): (
        "Decimal(12, 4) values are cut to 2 decimal places in Decimal(10, 2)"
    ),
    ("Decimal(10, 2)", "Int64"): "Decimal(10, 2) values lose their fraction in Int64",
    ("DateTime64(6)", "DateTime64(3)"): (
        "DateTime64(6) values lose sub-second digits beyond 3 in DateTime64(3)"
    ),
    ("DateTime64(3)", "DateTime"): (
        "DateTime64(3) values lose their fractions of a second in DateTime"
    ),
    ("Nullable(Int32)", "Int8"): "Nullable(Int32) values wrap in Int8",
}


@pytest.mark.parametrize(("source", "target", "loss"), LOSSES)
def test_a_run_wraps_only_what_the_insert_loses_without_a_word(source: str, target: str, loss: str):
    """Not a string's parse, a FixedString's or a Decimal's overflow, nor a NULL into a
    plain column (the INSERT refuses each); not a float's rounding into a narrower float,
    a float's digits in a Decimal or a time of day in a Date (``accurateCast`` refuses 0.1
    or cuts as the INSERT does): only the types tell those."""
    assert silent_loss(parse_type(source), parse_type(target)) == SILENT.get((source, target))


@pytest.mark.parametrize(("source", "target"), FITS)
def test_a_run_wraps_no_type_that_fits(source: str, target: str):
    assert silent_loss(parse_type(source), parse_type(target)) is None


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseIOManager]:
    warehouse = ClickHouseIOManager.embedded(Path(tmp_path_factory.mktemp("fit")) / "warehouse")
    warehouse.command("CREATE DATABASE fit")
    yield warehouse
    warehouse.close()


def _changed_rows(engine: ClickHouseIOManager, number: int, source: str, target: str) -> int:
    """How many sample values of ``source`` an INSERT into a ``target`` column changes;
    -1 if the INSERT refuses one."""
    values = [f"'{value}'" for value in _samples(source)]
    values += ["NULL"] if parse_type(source).nullable else []
    table = f"fit.t{number}"
    engine.command(f"CREATE TABLE {table} (n UInt32, o {source}, c {target}) ENGINE = Memory")
    try:
        engine.command(
            f"INSERT INTO {table} SELECT n, v, v FROM (SELECT number AS n, "
            f"CAST([{', '.join(values)}][number + 1] AS {source}) AS v FROM numbers({len(values)}))"
        )
    except WarehouseQueryError:
        return -1
    # Compared as they are (UInt16 65535 is no Int16 -1) and as the source type again
    # (Float64 1e300 into a Decimal equals it as a float, not as a Decimal); one of the two
    # has no meaning for some pairs (Int32 into String; 'abc' held in FixedString(5) is no
    # FixedString(3)), and the engine refuses to compare there.
    changed = []
    for held in ("c", f"CAST(c AS {source})"):
        same = f"ifNull(o = {held}, 0) OR (o IS NULL AND c IS NULL)"
        try:
            rows = engine.query_arrow(f"SELECT countIf(NOT ({same})) AS n FROM {table}")
        except WarehouseQueryError:
            continue
        changed.append(int(rows.to_pylist()[0]["n"]))
    assert changed, f"no comparison of {source} with {target} runs"
    return max(changed)


def _samples(source: str) -> list[str]:
    """The sample values of ``source``, its wrappers (LowCardinality, Nullable) peeled."""
    return SAMPLES[_base(source)]


def test_the_engine_keeps_what_the_table_passes_and_loses_what_it_flags(
    engine: ClickHouseIOManager,
):
    passed = [
        (source, target, changed)
        for number, (source, target) in enumerate(FITS)
        if (changed := _changed_rows(engine, number, source, target))
    ]
    assert passed == [], "the engine changes values of pairs the table passes"
    kept = [
        (source, target)
        for number, (source, target, _) in enumerate(LOSSES, start=len(FITS))
        if not _changed_rows(engine, number, source, target)
    ]
    assert kept == [], "the engine keeps every sample value of pairs the table flags"


def test_the_runs_guard_refuses_exactly_the_values_the_insert_changes(
    engine: ClickHouseIOManager,
):
    """What the run's guard relies on: for each pair :func:`silent_loss` names, the
    condition the run refuses a value by (:meth:`~io_managers.guarded_insert.Guard.refuses`)
    holds for exactly the sample values the INSERT's conversion (a ``CAST``) changes, of
    which there is one at least (the samples are each type's edges)."""
    wrong = []
    for number, (source, target) in enumerate(SILENT):
        (guard,) = guards({"v": parse_type(source)}, {"v": parse_type(target)})
        samples = _samples(source)
        values = ", ".join(f"'{value}'" for value in samples)
        table = f"fit.guard{number}"
        engine.command(f"CREATE TABLE {table} (n UInt32, v {_base(source)}) ENGINE = Memory")
        engine.command(
            f"INSERT INTO {table} SELECT number, CAST([{values}][number + 1] AS {_base(source)}) "
            f"FROM numbers({len(samples)})"
        )
        held = engine.query_arrow(
            f"SELECT v, {guard.refuses()} AS refused, CAST(v AS {target}) != v AS changed "
            f"FROM {table} ORDER BY n"
        ).to_pylist()
        if any(row["refused"] != row["changed"] for row in held) or not any(
            row["refused"] for row in held
        ):
            wrong.append((source, target, held))
    assert wrong == []


def _base(source: str) -> str:
    """``source`` without its Nullable or LowCardinality wrappers."""
    for wrapper in ("LowCardinality(", "Nullable("):
        if source.startswith(wrapper):
            source = source.removeprefix(wrapper).removesuffix(")")
    return source
