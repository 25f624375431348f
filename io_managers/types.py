"""ClickHouse types, and how they map to Pandera dtypes and pandas.

One mapping serves three readers: materialization (a staged table's ``DESCRIBE`` against
the asset's schema), ``pipeline validate`` (DDL against schema, no data) and
:func:`arrow_to_pandas` (what a DataFrame read from the warehouse looks like). It is
documented in ``docs/warehouse.md``; keep the two in step.

The rule: a schema dtype accepts a ClickHouse type when every value of that type is
represented exactly by the dtype (integers may widen, never narrow; decimals must keep
their scale; timestamps must keep their time zone). ``Nullable`` must agree with the
schema's ``nullable`` in both directions, so DDL and schema cannot drift apart.

A type is read by sqlglot's ClickHouse parser (the one the assets' SQL is read with), not
matched as text: wrappers, aliases and quoted time zones or enum labels are its business.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from io_managers.analysis_cache import cached
from io_managers.sql import DIALECT

if TYPE_CHECKING:
    import pandas as pd

_INT_BITS = {"Int8": 8, "Int16": 16, "Int32": 32, "Int64": 64, "Int128": 128, "Int256": 256}
_UINT_BITS = {f"U{name}": bits for name, bits in _INT_BITS.items()}
_FLOAT_BITS = {"Float32": 32, "Float64": 64}
#: Sub-second digits a pandas datetime unit can hold exactly.
_UNIT_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_STRINGISH = {"String", "FixedString", "UUID", "Enum8", "Enum16", "IPv4", "IPv6"}
#: Where sqlglot's ClickHouse generator writes a type unlike ``DESCRIBE`` does.
_CLICKHOUSE_SPELLING = {"DATE": "Date"}


@dataclass(frozen=True)
class ClickHouseType:
    """A column type as the engine prints it, read by sqlglot: base type, wrappers peeled off.

    ``readable`` is False for a type sqlglot's ClickHouse dialect does not know (``BFloat16``,
    ``Object('json')``, ...): then only ``text`` is known, and the mapping below says so
    instead of guessing.
    """

    text: str
    #: The base type as ClickHouse spells it: ``String`` for ``LowCardinality(Nullable(String))``.
    name: str
    nullable: bool = False
    low_cardinality: bool = False
    #: Its integer parameters: ``Decimal(P, S)``, ``Decimal32(S)``, ``DateTime64(P)``, ...
    numbers: tuple[int, ...] = ()
    #: The explicit time zone of a ``DateTime``/``DateTime64``, else ``None``.
    timezone: str | None = None
    readable: bool = True

    @property
    def is_enum(self) -> bool:
        return self.name in ("Enum8", "Enum16")

    @property
    def is_string(self) -> bool:
        return self.name in ("String", "FixedString")

    @property
    def is_float(self) -> bool:
        return self.name in _FLOAT_BITS

    @property
    def integer(self) -> tuple[bool, int] | None:
        """``(signed, bits)`` of an Int/UInt type (``UInt16``: ``(False, 16)``), else None."""
        if self.name in _INT_BITS:
            return True, _INT_BITS[self.name]
        if self.name in _UINT_BITS:
            return False, _UINT_BITS[self.name]
        return None

    @property
    def float_bits(self) -> int | None:
        """32 or 64 for a Float type, else None."""
        return _FLOAT_BITS.get(self.name)

    @property
    def decimal_precision_scale(self) -> tuple[int, int] | None:
        numbers = self.numbers
        if self.name == "Decimal":
            return (numbers[0] if numbers else 10), (numbers[1] if len(numbers) > 1 else 0)
        fixed = {"Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76}
        if self.name in fixed:
            return fixed[self.name], numbers[0] if numbers else 0
        return None

    @property
    def fraction_digits(self) -> int:
        """Sub-second digits of a DateTime64 (0 for DateTime)."""
        return self.numbers[0] if self.name == "DateTime64" and self.numbers else 0


def parse_type(text: str) -> ClickHouseType:
    """Read a type as ``DESCRIBE`` prints it, e.g. ``LowCardinality(Nullable(String))``.

    sqlglot's ClickHouse parser reads it (kept on disk: ``status`` and ``plan`` read every
    column's type and never import sqlglot for text they read before).
    """
    return _kept_type(text.strip())


@functools.lru_cache(maxsize=1024)
def _kept_type(text: str) -> ClickHouseType:
    return cached(
        "clickhouse_type",
        text,
        lambda: _read_type(text),
        encode=dataclasses.asdict,
        decode=lambda kept: ClickHouseType(**{**kept, "numbers": tuple(kept["numbers"])}),
    )


def _read_type(text: str) -> ClickHouseType:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        node = sqlglot.parse_one(text, read=DIALECT, into=exp.DataType)
    except SqlglotError:
        return ClickHouseType(text, text, readable=False)
    low_cardinality = node.is_type(exp.DataType.Type.LOWCARDINALITY)
    if low_cardinality:
        node = node.expressions[0]
    params = [
        param.this
        for param in node.expressions
        if isinstance(param, exp.DataTypeParam) and isinstance(param.this, exp.Literal)
    ]
    zones = [p.this for p in params if p.is_string]
    is_datetime = node.is_type(exp.DataType.Type.DATETIME, exp.DataType.Type.DATETIME64)
    bare = exp.DataType(this=node.this, nullable=False).sql(dialect=DIALECT)
    return ClickHouseType(
        text,
        _CLICKHOUSE_SPELLING.get(bare, bare),
        nullable=bool(node.args.get("nullable")),
        low_cardinality=low_cardinality,
        numbers=tuple(int(p.this) for p in params if p.is_int),
        timezone=zones[0] if zones and is_datetime else None,
    )


def needs_text_projection(ch_type: ClickHouseType) -> bool:
    """Types read back as text: Arrow has no enum labels, and UUIDs are friendlier as str."""
    return ch_type.is_enum or ch_type.name == "UUID"


# --------------------------------------------------------------------- pandera <-> ClickHouse


def _dtype_name(dtype: object) -> str:
    return str(dtype)


def dtype_mismatch(dtype: object | None, ch_type: ClickHouseType) -> str | None:
    """Why a ClickHouse column cannot hold the schema's dtype, or ``None`` if it can.

    ``dtype`` is a Pandera ``DataType`` (``Column.dtype``). ``None`` and ``object`` accept
    anything, as they do in Pandera.
    """
    from pandera import dtypes as pdt

    if dtype is None or _dtype_name(dtype) == "object":
        return None
    if not ch_type.readable:
        return _unreadable(ch_type, f"whether it fits dtype {_dtype_name(dtype)}")
    name = ch_type.name
    expected: str
    if isinstance(dtype, pdt.Bool):
        if name == "Bool":
            return None
        expected = "Bool"
    elif isinstance(dtype, pdt.Int):
        bits = dtype.bit_width
        if isinstance(dtype, pdt.UInt):
            if name in _UINT_BITS and _UINT_BITS[name] <= bits:
                return None
            expected = f"UInt{bits} or narrower UInt"
        else:
            if name in _INT_BITS and _INT_BITS[name] <= bits:
                return None
            if name in _UINT_BITS and _UINT_BITS[name] < bits:
                return None
            expected = f"Int{bits}, or a narrower Int/UInt"
    elif isinstance(dtype, pdt.Float):
        bits = dtype.bit_width
        if name in _FLOAT_BITS and _FLOAT_BITS[name] <= bits:
            return None
        expected = f"Float{bits} or narrower Float"
    elif isinstance(dtype, pdt.Decimal):
        found = ch_type.decimal_precision_scale
        precision, scale = dtype.precision, dtype.scale
        if found is not None and found[1] == scale and (precision is None or found[0] <= precision):
            return None
        expected = f"Decimal(P, {scale}) with P <= {precision}"
    elif isinstance(dtype, pdt.DateTime):
        tz = getattr(dtype, "tz", None)
        tz_name = str(tz) if tz is not None else None
        unit = getattr(dtype, "unit", None) or "ns"
        digits = _UNIT_DIGITS.get(str(unit), 9)
        if (
            name in ("DateTime", "DateTime64")
            and ch_type.timezone == tz_name
            and ch_type.fraction_digits <= digits
        ):
            return None
        zone = f"time zone '{tz_name}'" if tz_name else "no explicit time zone"
        expected = f"DateTime or DateTime64(P <= {digits}) with {zone}"
    elif isinstance(dtype, pdt.Date):  # after DateTime: pandera's DateTime is a Date
        if name in ("Date", "Date32"):
            return None
        expected = "Date or Date32"
    elif isinstance(dtype, pdt.Category):
        if name in _STRINGISH:
            return None
        expected = "String, LowCardinality(String) or Enum"
    elif isinstance(dtype, pdt.String):
        if name in _STRINGISH:
            return None
        expected = "String, FixedString, LowCardinality(String), UUID, Enum8/16 or IPv4/6"
    elif isinstance(dtype, pdt.Binary):
        if name in ("String", "FixedString"):
            return None
        expected = "String or FixedString"
    else:
        return f"pandera dtype {_dtype_name(dtype)} has no ClickHouse mapping"
    return (
        f"ClickHouse type {ch_type.text} does not fit dtype {_dtype_name(dtype)} "
        f"(expected {expected})"
    )


def nullability_mismatch(schema_nullable: bool, ch_type: ClickHouseType) -> str | None:
    """Whether the schema's ``nullable`` and the column's ``Nullable(...)`` disagree."""
    if not ch_type.readable:
        return _unreadable(ch_type, "whether it is Nullable")
    if schema_nullable and not ch_type.nullable:
        return (
            f"schema says nullable=True but the column is {ch_type.text}; "
            "wrap it in Nullable(...) or set nullable=False"
        )
    if not schema_nullable and ch_type.nullable:
        return (
            f"column is {ch_type.text} but the schema says nullable=False; "
            "set nullable=True or drop Nullable(...)"
        )
    return None


def _unreadable(ch_type: ClickHouseType, question: str) -> str:
    return (
        f"cannot tell {question}: sqlglot's ClickHouse dialect cannot read the type "
        f"{ch_type.text}; declare the column with a type it reads"
    )


# --------------------------------------------------------------------- Arrow -> pandas


@functools.cache
def _nullable_pandas() -> dict[pa.DataType, Any]:
    # pandas is imported here, not with the module: commands that only read Arrow
    # (``pipeline query``, ``checks``) do without its ~0.45 s import.
    import pandas as pd

    return {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A warehouse result as pandas, with dtypes Pandera schemas can state exactly.

    Timestamps keep ClickHouse's precision (``DateTime64(0, 'UTC')`` becomes
    ``datetime64[s, UTC]``, ``DateTime64(3)`` milliseconds, ...); ``Nullable`` integers
    and booleans become pandas' nullable ``Int*``/``boolean`` (not float with NaN);
    Decimals stay exact as ``decimal.Decimal``; dates stay ``datetime.date`` (Pandera's
    ``Date``).
    """
    nullable = _nullable_pandas()
    nullable_ints = {
        field.name for field in table.schema if field.nullable and field.type in nullable
    }
    frame = table.to_pandas(split_blocks=True)
    for name in nullable_ints:
        column = table.column(name)
        frame[name] = column.to_pandas(types_mapper=nullable.get)
    return frame
