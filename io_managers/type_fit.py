"""Whether a SELECT's output column goes into its table's column without loss.

``INSERT ... SELECT`` converts each output column to its table column's type, silently:
an Int32 300 into Int8 is 44, a Float64 2.7 into Int32 is 2, a DateTime64(6) into
DateTime64(3) loses its microseconds, a NULL into a plain column becomes its default.
The Pandera schema cannot see it: its ``int32`` accepts an ``Int8`` column (every Int8
value is an int32), and what a sample run validates is what is left after the wrap. So
``pipeline validate`` holds the type of each output column (``DESCRIBE`` of the SELECT:
the engine's own) to its column's (``DESCRIBE TABLE``), both read by sqlglot's
ClickHouse parser (:func:`io_managers.types.parse_type`), through the rule table below.

Exact rather than broad, as a false alarm fails CI: a type goes into any type that holds
each of its values (Int8 into Int32, UInt32 into Int64, Float32 into Float64, Int32 into
Float64, Date into DateTime, String into LowCardinality(String), a type into Nullable of
itself). A pair of kinds the table does not name (Array, Map, an Enum into another, an
Int into a DateTime) is no finding, nor is the range of a date type (Date into DateTime
passes, though DateTime ends in 2106): only a conversion that loses or refuses values of
the SELECT's type is. A Decimal's precision is held to as declared, although the engine
keeps the digits beyond it that its storage has room for (Decimal(18, 2) into
Decimal(10, 2), both 64 bits): what the DDL declares is what the column promises. A
SELECT that CASTs to its column's type chose that conversion, and is no finding.

A run holds to part of the table, value by value (:func:`silent_loss`): the conversions
the INSERT makes without a word. ClickHouse's ``accurateCast`` refuses exactly where a
value would change for an integer wrapped, a float's fraction cut or an integer rounded
into a float; a Decimal's scale and a DateTime64's sub-seconds it cuts as the INSERT does,
so for those the run compares a value with itself cut to the digits its column keeps
(:func:`kept_digits`). The rest stays ``validate``'s: a string that does not parse, a
value too long for a FixedString or a Decimal beyond its digits fails the INSERT by
itself; a NULL into a plain column does too (the INSERT sets ``insert_null_as_default =
0``); a Decimal's declared precision is a promise whose excess the engine keeps; and a
float's digits cut in a Decimal or rounded in a narrower float, or a DateTime's time of
day in a Date, only the types tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from io_managers.types import ClickHouseType

#: The bits of an integer a float holds exactly (its mantissa): Int32 fits Float64.
MANTISSA_BITS = {32: 24, 64: 53}
#: Kinds of the types no number of bits or digits describes.
_NAMED_KINDS = {
    "Bool": "bool",
    "Date": "date",
    "Date32": "date",
    "DateTime": "time",
    "DateTime64": "time",
    "String": "string",
    "FixedString": "fixed",
    "UUID": "parsed",
    "Enum8": "parsed",
    "Enum16": "parsed",
    "IPv4": "parsed",
    "IPv6": "parsed",
}

#: Pairs of kinds whose loss the INSERT makes silently and ``accurateCast`` refuses
#: value by value (:func:`silent_loss`).
_SILENT_KINDS = {("int", "int"), ("int", "float"), ("float", "int")}
#: Pairs of kinds whose digits after the point the INSERT cuts silently, and
#: ``accurateCast`` too (:func:`kept_digits`).
_CUT_KINDS = {("decimal", "decimal"), ("decimal", "int"), ("time", "time")}

T = TypeVar("T")
Rule = Callable[[ClickHouseType, ClickHouseType], str | None]


def conversion_loss(source: ClickHouseType, target: ClickHouseType) -> str | None:
    """What inserting values of ``source`` into a ``target`` column does to them
    (``Int32 values wrap in Int8``), or None when it keeps every one.

    A type sqlglot cannot read is no finding here: the schema comparison says so already.
    """
    if not (source.readable and target.readable):
        return None
    losses = []
    if source.nullable and not target.nullable:
        losses.append(f"NULLs become {target.text}'s default")
    rule = _RULES.get((_kind(source), _kind(target)))
    loss = rule(source, target) if rule is not None else None
    if loss:
        losses.append(loss)
    return "; ".join(losses) or None


def silent_loss(source: ClickHouseType, target: ClickHouseType) -> str | None:
    """What inserting values of ``source`` into a ``target`` column does to them without
    an error (``Int32 values wrap in Int8``), where the run can tell each value that
    changes: ``accurateCast(value, target)`` refuses it, or it differs from itself cut to
    the :func:`kept_digits`. None when no value is lost silently, or when the loss is one
    the engine refuses by itself or one only the types can tell.

    A run guards such a column (:mod:`io_managers.guarded_insert`), so it fails at a
    value that does not fit, not at a type that might not.
    """
    if not (source.readable and target.readable):
        return None
    kinds = (_kind(source), _kind(target))
    if kinds in _SILENT_KINDS or kept_digits(source, target) is not None:
        return _RULES[kinds](source, target)
    return None


def kept_digits(source: ClickHouseType, target: ClickHouseType) -> int | None:
    """The digits after the point a ``target`` column keeps of ``source``'s values, when
    it keeps fewer than ``source`` has: a Decimal's scale in a Decimal of a smaller one or
    an integer (0), a DateTime64's sub-seconds in one of fewer digits or a DateTime (0).
    The INSERT cuts the other digits without a word, and ``accurateCast`` cuts them too,
    so a value is held to being equal to itself cut. None for any other pair."""
    if not (source.readable and target.readable):
        return None
    kinds = (_kind(source), _kind(target))
    if kinds not in _CUT_KINDS:
        return None
    has, kept = _fraction_digits(source), _fraction_digits(target)
    return kept if has > kept else None


def _fraction_digits(ch_type: ClickHouseType) -> int:
    """The digits after the point of a Decimal (its scale), a DateTime64 (its precision),
    a DateTime or an integer (0)."""
    decimal = ch_type.decimal_precision_scale
    return decimal[1] if decimal is not None else ch_type.fraction_digits


def _kind(ch_type: ClickHouseType) -> str | None:
    if ch_type.integer is not None:
        return "int"
    if ch_type.float_bits is not None:
        return "float"
    if ch_type.decimal_precision_scale is not None:
        return "decimal"
    return _NAMED_KINDS.get(ch_type.name)


def magnitude_bits(integer: tuple[bool, int]) -> int:
    """The bits of its largest magnitude: 7 for Int8, 8 for UInt8."""
    signed, bits = integer
    return bits - 1 if signed else bits


def _digits(integer: tuple[bool, int]) -> int:
    """The decimal digits of its largest magnitude: 3 for Int8 (128), 20 for UInt64."""
    return len(str(2 ** magnitude_bits(integer)))


def _known(value: T | None) -> T:
    """A measure of a type that the rule table dispatched on, so it is there."""
    if value is None:
        raise ValueError("a type-fit rule was given a type of another kind")
    return value


def _int_into_int(source: ClickHouseType, target: ClickHouseType) -> str | None:
    made, held = _known(source.integer), _known(target.integer)
    into_unsigned = made[0] and not held[0]
    if into_unsigned and made[1] <= held[1]:
        return f"negative {source.text} values wrap in {target.text}"
    if into_unsigned or magnitude_bits(made) > magnitude_bits(held):
        return f"{source.text} values wrap in {target.text}"
    return None


def _int_into_float(source: ClickHouseType, target: ClickHouseType) -> str | None:
    mantissa = MANTISSA_BITS[_known(target.float_bits)]
    if magnitude_bits(_known(source.integer)) <= mantissa:
        return None
    return f"{source.text} values beyond 2^{mantissa} are rounded in {target.text}"


def _int_into_decimal(source: ClickHouseType, target: ClickHouseType) -> str | None:
    precision, scale = _known(target.decimal_precision_scale)
    if _digits(_known(source.integer)) <= precision - scale:
        return None
    return f"{source.text} values beyond {precision - scale} integer digits overflow {target.text}"


def _int_into_bool(source: ClickHouseType, target: ClickHouseType) -> str:
    # A UInt8 2 is kept as it is: it reads true, yet is not equal to true.
    return f"{source.text} values other than 0 and 1 lose their value in {target.text}"


def _float_into_int(source: ClickHouseType, target: ClickHouseType) -> str:
    return f"{source.text} values lose their fraction in {target.text}, and wrap beyond its range"


def _float_into_float(source: ClickHouseType, target: ClickHouseType) -> str | None:
    if _known(source.float_bits) <= _known(target.float_bits):
        return None
    return f"{source.text} values are rounded to {target.text}"


def _float_into_decimal(source: ClickHouseType, target: ClickHouseType) -> str:
    scale = _known(target.decimal_precision_scale)[1]
    return f"{source.text} values are cut to {scale} decimal places in {target.text}"


def _decimal_into_int(source: ClickHouseType, target: ClickHouseType) -> str | None:
    precision, scale = _known(source.decimal_precision_scale)
    held = _known(target.integer)
    losses = [f"lose their fraction in {target.text}"] if scale else []
    if not held[0]:
        losses.append(f"fail the INSERT into {target.text} when negative")
    elif precision - scale >= _digits(held):
        losses.append(f"fail the INSERT into {target.text} beyond its range")
    return f"{source.text} values {' and '.join(losses)}" if losses else None


def _decimal_into_float(source: ClickHouseType, target: ClickHouseType) -> str | None:
    # Only whole numbers the mantissa holds are exact: 0.1 has no binary float.
    precision, scale = _known(source.decimal_precision_scale)
    if not scale and 10**precision <= 2 ** MANTISSA_BITS[_known(target.float_bits)]:
        return None
    return f"{source.text} values are rounded to the nearest {target.text}"


def _decimal_into_decimal(source: ClickHouseType, target: ClickHouseType) -> str | None:
    made_precision, made_scale = _known(source.decimal_precision_scale)
    precision, scale = _known(target.decimal_precision_scale)
    losses = []
    if made_scale > scale:
        losses.append(f"are cut to {scale} decimal places")
    if made_precision - made_scale > precision - scale:
        losses.append(f"overflow beyond {precision - scale} integer digits")
    return f"{source.text} values {' and '.join(losses)} in {target.text}" if losses else None


def _time_into_date(source: ClickHouseType, target: ClickHouseType) -> str:
    return f"{source.text} values lose their time of day in {target.text}"


def _time_into_time(source: ClickHouseType, target: ClickHouseType) -> str | None:
    digits = target.fraction_digits
    if source.fraction_digits <= digits:
        return None
    if not digits:
        return f"{source.text} values lose their fractions of a second in {target.text}"
    return f"{source.text} values lose sub-second digits beyond {digits} in {target.text}"


def _into_fixed(source: ClickHouseType, target: ClickHouseType) -> str | None:
    width = target.numbers[0] if target.numbers else 1
    if source.name == "FixedString" and source.numbers and source.numbers[0] <= width:
        return None
    return f"{source.text} values longer than {width} bytes fail the INSERT into {target.text}"


def _parsed(source: ClickHouseType, target: ClickHouseType) -> str:
    return f"{source.text} values are parsed as {target.text}: one that is not fails the INSERT"


_RULES: dict[tuple[str | None, str | None], Rule] = {
    ("int", "int"): _int_into_int,
    ("int", "float"): _int_into_float,
    ("int", "decimal"): _int_into_decimal,
    ("int", "bool"): _int_into_bool,
    ("float", "int"): _float_into_int,
    ("float", "float"): _float_into_float,
    ("float", "decimal"): _float_into_decimal,
    ("decimal", "int"): _decimal_into_int,
    ("decimal", "float"): _decimal_into_float,
    ("decimal", "decimal"): _decimal_into_decimal,
    ("time", "date"): _time_into_date,
    ("time", "time"): _time_into_time,
    ("string", "fixed"): _into_fixed,
    ("fixed", "fixed"): _into_fixed,
    **{
        ("string", kind): _parsed
        for kind in ("int", "bool", "float", "decimal", "date", "time", "parsed")
    },
}
