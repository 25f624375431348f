"""A Python asset's Arrow columns, checked before their INSERT for values their table
would change without a word.

ClickHouse converts an Arrow column to its table column's type as ``INSERT ... SELECT``
does, silently: an int32 300 into Int8 is 44, a double 2.7 into Int32 is 2, an int32 -1
into UInt32 is 4294967295, an int64 2^53 + 1 into Float64 is 2^53, a decimal128(12, 4)
1.2345 into Decimal(12, 2) is 1.23, a timestamp[us] into DateTime64(3) loses its
microseconds. A SQL asset's such column is guarded in the engine
(:mod:`io_managers.guarded_insert`); an Arrow insert has no SELECT to guard, so the same
rule picks the columns (:func:`~io_managers.type_fit.silent_loss` of the type the engine
reads the Arrow column as, into its table column's), and ``pyarrow.compute`` finds, over
each whole column, the values the SQL path refuses: an integer beyond the column's
range, a float that is no whole number within it (NaN and the infinities included), an
integer its float column would round, a decimal or timestamp with a digit other than 0
beyond those its column keeps. ``tests/test_arrow_fit.py`` holds these to the engine.

Only a column of another type than its table's is looked at, and an integer one whose
minimum and maximum fit is passed on those two alone: the shipped pipeline's outputs
are of their tables' types, and are inserted with no pass over their values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from io_managers.guarded_insert import Guard, Output, guards
from io_managers.sql import quote_string
from io_managers.type_fit import MANTISSA_BITS, kept_digits, magnitude_bits
from io_managers.types import ClickHouseType

#: A Python asset's output, whose values the run refuses before they are inserted.
ARROW_OUTPUT = Output("output", "the run refused to insert it", "cast it in the body")

#: The ClickHouse type the engine reads each Arrow integer and float type as.
_ENGINE_TYPES = {
    pa.int8(): "Int8",
    pa.int16(): "Int16",
    pa.int32(): "Int32",
    pa.int64(): "Int64",
    pa.uint8(): "UInt8",
    pa.uint16(): "UInt16",
    pa.uint32(): "UInt32",
    pa.uint64(): "UInt64",
    pa.float16(): "Float32",
    pa.float32(): "Float32",
    pa.float64(): "Float64",
}
#: The sub-second digits of each Arrow timestamp unit: the engine reads a timestamp as a
#: DateTime64 of as many (and of its time zone).
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_DIGITS_UNIT = {digits: unit for unit, digits in _UNIT_DIGITS.items()}


def engine_type(arrow_type: pa.DataType) -> ClickHouseType | None:
    """The ClickHouse integer, float, Decimal or DateTime64 type the engine reads an Arrow
    column of ``arrow_type`` as (a dictionary's: its values'); None for any other, whose
    conversion :func:`~io_managers.type_fit.silent_loss` leaves to the engine or to
    ``pipeline validate``. Not Nullable: a NULL into a plain column is refused by the
    INSERT itself (``input_format_null_as_default = 0``)."""
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_decimal(arrow_type):
        precision, scale = arrow_type.precision, arrow_type.scale
        text = f"Decimal({precision}, {scale})"
        return ClickHouseType(text, "Decimal", numbers=(precision, scale))
    if pa.types.is_timestamp(arrow_type):
        digits, zone = _UNIT_DIGITS[arrow_type.unit], arrow_type.tz
        text = f"DateTime64({digits}, {quote_string(zone)})" if zone else f"DateTime64({digits})"
        return ClickHouseType(text, "DateTime64", numbers=(digits,), timezone=zone)
    name = _ENGINE_TYPES.get(arrow_type)
    return ClickHouseType(name, name) if name else None


def _arrow_type(ch_type: ClickHouseType) -> pa.DataType:
    """The Arrow type of a type :func:`engine_type` gives (``Float32``: ``float``)."""
    decimal = ch_type.decimal_precision_scale
    if decimal is not None:
        return (pa.decimal128 if decimal[0] <= 38 else pa.decimal256)(*decimal)
    if ch_type.name == "DateTime64":
        return pa.timestamp(_DIGITS_UNIT[ch_type.fraction_digits], ch_type.timezone)
    return pa.type_for_alias(ch_type.name.lower())


def arrow_guards(schema: pa.Schema, columns: Mapping[str, ClickHouseType]) -> list[Guard]:
    """The columns of ``schema`` some of whose values their table ``columns`` would
    change without a word; empty when each is of its column's type or one it fits."""
    produced = {field.name: engine_type(field.type) for field in schema}
    return guards({name: made for name, made in produced.items() if made}, columns)


def first_refused_value(data: pa.Table, found: Sequence[Guard]) -> tuple[Guard, str] | None:
    """The guard of ``found`` and the value of the first row of ``data`` whose value
    ``accurateCast`` would refuse (in the row, the first such column, as
    :func:`~io_managers.guarded_insert.first_refused` reads the SQL path's); None when
    every value fits."""
    first: tuple[int, Guard, pa.Scalar] | None = None
    for guard in found:
        values = data.column(guard.name).cast(_arrow_type(guard.produced))
        refused = refused_rows(values, guard.column)
        if refused is None:
            continue
        row = pc.index(refused, True).as_py()
        if row >= 0 and (first is None or row < first[0]):
            first = (row, guard, values[row])
    return None if first is None else (first[1], _said(first[2]))


def refused_rows(values: pa.ChunkedArray, column: ClickHouseType) -> pa.ChunkedArray | None:
    """True for each of ``values`` (of an Arrow type :func:`engine_type` reads) that the
    SQL path refuses into ``column`` (``accurateCast``, or a digit cut), null for a null;
    None when, by their minimum and maximum alone, every integer fits."""
    made = engine_type(values.type)
    digits = kept_digits(made, column) if made is not None else None
    if made is not None and digits is not None:
        return _cut(values, made, digits)
    target = column.integer
    if target is not None:
        end = 2 ** magnitude_bits(target)
        low = -end if target[0] else 0
        if pa.types.is_floating(values.type):
            return _not_whole_within(values, low, end)
        return _integers_beyond(values, low, end - 1)
    bits = column.float_bits
    if bits is not None and made is not None and made.integer is not None:
        return _rounded(values, made.integer, bits)
    return None


def _cut(values: pa.ChunkedArray, made: ClickHouseType, digits: int) -> pa.ChunkedArray:
    """True for a value of type ``made`` with a digit other than 0 beyond ``digits`` after
    the point: a decimal unequal to itself rounded toward zero to them, a timestamp whose
    ticks (units of its last digit) are no multiple of the unit of the last digit kept."""
    if pa.types.is_decimal(values.type):
        return pc.not_equal(pc.round(values, ndigits=digits, round_mode="towards_zero"), values)
    step = 10 ** (made.fraction_digits - digits)
    ticks = values.cast(pa.int64())
    return pc.not_equal(pc.multiply(pc.divide(ticks, step), step), ticks)


def _not_whole_within(values: pa.ChunkedArray, low: int, end: int) -> pa.ChunkedArray:
    """True for a float that is not a whole number from ``low`` up to, not including,
    ``end`` (both powers of two or 0, so exact as floats): NaN compares false to both,
    an infinity is beyond them."""
    within = pc.and_(
        pc.greater_equal(values, _float(low, values.type)),
        pc.less(values, _float(end, values.type)),
    )
    return pc.invert(pc.and_(within, pc.equal(pc.floor(values), values)))


def _integers_beyond(values: pa.ChunkedArray, low: int, high: int) -> pa.ChunkedArray | None:
    """True for an integer below ``low`` or above ``high``; None when none is. Only a
    bound some value is beyond is compared: the values' own type holds that one."""
    least, most = _min_max(values)
    beyond = []
    if least is not None and least < low:
        beyond.append(pc.less(values, pa.scalar(low, values.type)))
    if most is not None and most > high:
        beyond.append(pc.greater(values, pa.scalar(high, values.type)))
    if not beyond:
        return None
    return beyond[0] if len(beyond) == 1 else pc.or_(*beyond)


def _rounded(
    values: pa.ChunkedArray, integer: tuple[bool, int], bits: int
) -> pa.ChunkedArray | None:
    """True for an integer of type ``integer`` that a Float of ``bits`` does not hold
    exactly: one that does not come back from the float, or that the float rounds past
    the integers' own range (2^63 for an Int64 2^63 - 1); None when, by their minimum
    and maximum, all are within the float's mantissa."""
    mantissa = 2 ** MANTISSA_BITS[bits]
    least, most = _min_max(values)
    if least is None or most is None or (-mantissa <= least and most <= mantissa):
        return None
    float_type = pa.type_for_alias(f"float{bits}")
    as_float = pc.cast(values, float_type, safe=False)
    past_range = pc.greater_equal(as_float, _float(2 ** magnitude_bits(integer), float_type))
    back = pc.cast(pc.if_else(past_range, _float(0, float_type), as_float), values.type, safe=False)
    return pc.or_(past_range, pc.not_equal(back, values))


def _min_max(values: pa.ChunkedArray) -> tuple[int | None, int | None]:
    found = pc.min_max(values)
    return found["min"].as_py(), found["max"].as_py()


def _float(number: int, float_type: pa.DataType) -> pa.Scalar:
    """``number`` (a power of two, or 0: exact in any float) as a ``float_type`` scalar."""
    return pa.scalar(float(number), float_type)


def _said(value: pa.Scalar) -> str:
    """``value`` as ClickHouse's ``toString`` writes it: a whole float without its
    ``.0`` (3000000000), a Float32 at its own precision (2.7, not 2.700000047683716), a
    decimal without its trailing zeros (2.7 for 2.70), a timestamp in its time zone with
    each of its sub-second digits."""
    if pa.types.is_timestamp(value.type):
        return str(pc.strftime(value, format="%Y-%m-%d %H:%M:%S"))
    if pa.types.is_decimal(value.type):
        text = f"{value.as_py():f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    number = value.as_py()
    if not isinstance(number, float):
        return str(number)
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    if pa.types.is_float32(value.type):
        import numpy as np  # here: only a refused Float32 needs it

        return str(np.float32(number))
    return str(number)
