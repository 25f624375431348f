"""The ClickHouse type <-> Pandera dtype mapping used by validation (docs/warehouse.md)."""

from __future__ import annotations

import decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.engines import pandas_engine

from io_managers import dtype_mismatch, nullability_mismatch, parse_type
from io_managers.sql import quote_string


def dtype(spec):
    return pandas_engine.Engine.dtype(spec)


def test_parse_peels_wrappers_and_reads_arguments():
    parsed = parse_type("LowCardinality(Nullable(String))")
    assert (parsed.name, parsed.nullable, parsed.low_cardinality) == ("String", True, True)
    stamp = parse_type("DateTime64(0, 'UTC')")
    assert (stamp.fraction_digits, stamp.timezone) == (0, "UTC")
    assert parse_type("Decimal(10, 4)").decimal_precision_scale == (10, 4)
    assert parse_type("Decimal64(4)").decimal_precision_scale == (18, 4)
    assert parse_type("Enum8('Normal' = 0, 'Return' = 1)").is_enum


def test_parse_reads_types_as_sqlglot_reads_clickhouse():
    # A real parser, so ClickHouse's aliases read as the types they stand for ...
    assert parse_type("Nullable(INTEGER)").name == "Int32"
    assert dtype_mismatch(dtype("Int32"), parse_type("Nullable(INTEGER)")) is None
    aliased = parse_type("LowCardinality(Nullable(TEXT))")
    assert (aliased.name, aliased.nullable, aliased.low_cardinality) == ("String", True, True)
    # ... and quotes and parentheses inside a time zone or an enum label are only text.
    assert parse_type("DateTime64(3, 'Etc/GMT+1')").timezone == "Etc/GMT+1"
    assert parse_type("Enum8('a), (b' = 1, 'c\\'d' = 2)").is_enum


@pytest.mark.parametrize("text", ["Nullable(String", "BFloat16", "Object('json')"])
def test_a_type_sqlglot_cannot_read_is_reported_not_guessed(text):
    unreadable = parse_type(text)
    assert not unreadable.readable
    for reason in (
        dtype_mismatch(dtype(str), unreadable),
        nullability_mismatch(True, unreadable),
        nullability_mismatch(False, unreadable),
    ):
        assert reason is not None and f"cannot read the type {text}" in reason
    assert dtype_mismatch(dtype("object"), unreadable) is None  # object accepts anything


@pytest.mark.parametrize(
    ("schema_dtype", "clickhouse"),
    [
        (str, "String"),
        (str, "LowCardinality(String)"),
        (str, "UUID"),
        (str, "Enum8('Normal' = 0, 'Return' = 1)"),
        ("int64", "Int32"),
        ("int64", "UInt16"),
        ("int32", "Int32"),
        ("uint64", "UInt64"),
        ("Int32", "Nullable(Int32)"),
        ("float64", "Float64"),
        (pd.DatetimeTZDtype("s", "UTC"), "DateTime64(0, 'UTC')"),
        (pd.DatetimeTZDtype("ns", "UTC"), "DateTime64(3, 'UTC')"),
        ("date", "Date"),
        (pandas_engine.Decimal(10, 4, decimal.ROUND_HALF_EVEN), "Decimal(10, 4)"),
        ("bool", "Bool"),
        ("object", "Array(String)"),
    ],
)
def test_compatible_pairs(schema_dtype, clickhouse):
    assert dtype_mismatch(dtype(schema_dtype), parse_type(clickhouse)) is None


@pytest.mark.parametrize(
    ("schema_dtype", "clickhouse", "expected"),
    [
        ("int64", "UInt64", "Int64, or a narrower Int/UInt"),
        ("int32", "Int64", "Int32"),
        ("uint16", "Int16", "UInt16 or narrower UInt"),
        ("float32", "Float64", "Float32"),
        (str, "Int32", "String, FixedString"),
        (pd.DatetimeTZDtype("s", "UTC"), "DateTime64(3, 'UTC')", "DateTime64(P <= 0)"),
        (pd.DatetimeTZDtype("s", "UTC"), "DateTime64(0)", "time zone 'UTC'"),
        ("datetime64[ns]", "DateTime64(0, 'UTC')", "no explicit time zone"),
        (pandas_engine.Decimal(10, 2), "Decimal(10, 4)", "Decimal(P, 2)"),
        ("date", "DateTime", "Date or Date32"),
        ("timedelta64[ns]", "Int64", "has no ClickHouse mapping"),
    ],
)
def test_incompatible_pairs_say_what_was_expected(schema_dtype, clickhouse, expected):
    reason = dtype_mismatch(dtype(schema_dtype), parse_type(clickhouse))
    assert reason is not None and expected in reason


def test_nullability_must_agree_both_ways():
    assert nullability_mismatch(True, parse_type("String"))
    assert nullability_mismatch(False, parse_type("Nullable(String)"))
    assert nullability_mismatch(True, parse_type("LowCardinality(Nullable(String))")) is None
    assert nullability_mismatch(False, parse_type("UInt64")) is None


#: ClickHouse base types and the facts the reader must find in them: (type, name, numbers).
_BASES = st.one_of(
    st.sampled_from(
        [
            *[(f"{u}Int{b}", f"{u}Int{b}", ()) for u in ("", "U") for b in (8, 16, 32, 64, 128)],
            ("Float32", "Float32", ()),
            ("Float64", "Float64", ()),
            ("Date", "Date", ()),
            ("Date32", "Date32", ()),
            ("DateTime", "DateTime", ()),
            ("String", "String", ()),
            ("UUID", "UUID", ()),
            ("Bool", "Bool", ()),
            ("IPv4", "IPv4", ()),
            ("Enum8('a' = 1, 'b''c' = 2)", "Enum8", ()),
        ]
    ),
    st.builds(
        lambda p, s: (f"Decimal({p}, {min(s, p)})", "Decimal", (p, min(s, p))),
        st.integers(1, 76),
        st.integers(0, 76),
    ),
    st.integers(1, 64).map(lambda n: (f"FixedString({n})", "FixedString", (n,))),
    st.integers(0, 9).map(lambda p: (f"DateTime64({p})", "DateTime64", (p,))),
)
_ZONES = st.sampled_from([None, "UTC", "Europe/Berlin", "Etc/GMT+1", "America/Argentina/Salta"])


@st.composite
def _types(draw):
    text, name, numbers = draw(_BASES)
    zone = draw(_ZONES) if name in ("DateTime", "DateTime64") else None
    if zone is not None:
        text = f"{text[:-1]}, '{zone}')" if numbers else f"{text}('{zone}')"
    nullable = draw(st.booleans())
    low_cardinality = name in ("String", "FixedString") and draw(st.booleans())
    if nullable:
        text = f"Nullable({text})"
    if low_cardinality:
        text = f"LowCardinality({text})"
    return text, (name, nullable, low_cardinality, numbers, zone)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_types(), min_size=1, max_size=10))
def test_the_reader_finds_in_the_engines_spelling_what_the_type_is(backend, declared):
    # The engine spells each type its own way (DESCRIBE's text); the reader must find the
    # declared base type, wrappers and parameters in that text.
    spelled = ", ".join(
        f"toTypeName(defaultValueOfTypeName({quote_string(text)})) AS t{i}"
        for i, (text, _) in enumerate(declared)
    )
    (row,) = backend.warehouse.query_arrow(f"SELECT {spelled}").to_pylist()
    for i, (text, facts) in enumerate(declared):
        read = parse_type(row[f"t{i}"])
        found = (read.name, read.nullable, read.low_cardinality, read.numbers, read.timezone)
        assert found == facts, (text, row[f"t{i}"])
