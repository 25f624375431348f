"""A user's query as ClickHouse prints each value: ``pipeline query``'s table.

The table printed what Arrow handed Python, as Python prints it: a DateTime as its Unix
timestamp (right-aligned like a number), an Int128 and a FixedString as bytes
(``b'ab'``), an IPv4 as an integer, a Map as a list of pairs, a Tuple as a dict. What a
person expects is ClickHouse's own text of a value, the one its CSV, its client and its
docs show (``2010-12-01 08:26:00``, ``1.2.3.4``, ``{'k':1}``, ``(1,'x')``). So the
engine renders it: :data:`TEXT_FORMAT` gives every value as that text, for any statement
(a ``SHOW`` or an ``EXPLAIN`` as well as a ``SELECT``), after a line of the columns'
names and one of their types, which say how each column is drawn. Python only reads the
JSON, one document for all the rows the table shows (at most 1,001).

These formats print a NULL as the engine's Pretty formats do, ``ᴺᵁᴸᴸ``; in a column
whose type can hold NULL that text is NULL (:func:`query_text`), which the table shows as
it always has. A String that holds those very characters in such a column reads as NULL
too, as one holding ``NULL`` always did.
"""

from __future__ import annotations

import json
from typing import Literal

from io_managers.transport import SettingValue
from io_managers.types import ClickHouseType, parse_type
from orchestration.io_manager import QueryText, TextColumn

#: Every value as its text (JSON strings), the columns' names and types first.
TEXT_FORMAT = "JSONCompactStringsEachRowWithNamesAndTypes"
#: How the engine renders for the table: bytes that are not UTF-8 as U+FFFD (a String
#: holds any bytes; raw, they make the document unreadable, and the command failed on
#: them), and decimals with every digit of their scale (``12.5000``), so a column of
#: them lines up on its decimal point, as ``--format json`` gives them.
TEXT_SETTINGS: dict[str, SettingValue] = {
    "output_format_json_validate_utf8": 1,
    "output_format_decimal_trailing_zeros": 1,
}
#: How these formats print a NULL.
_NULL = "ᴺᵁᴸᴸ"
#: Types, beside ``Nullable`` ones, whose value may be NULL.
_MAY_BE_NULL = frozenset({"VARIANT", "DYNAMIC", "NOTHING"})
#: Types read whole, never folded: a date, a date-time, a boolean (spelled as
#: :func:`~io_managers.types.parse_type` gives them, upper-cased).
_FIXED = frozenset({"DATE", "DATE32", "DATETIME", "DATETIME64", "BOOL", "NOTHING"})


def query_text(rendered: bytes) -> QueryText:
    """The engine's :data:`TEXT_FORMAT` rendering of a result as names, types and rows.

    Each row is one line (a line break in a value is escaped), so the lines joined by
    commas are one JSON list. No line at all (a statement that returns no columns) is
    an empty result.
    """
    lines = rendered.rstrip(b"\n")
    # U+FFFD for bytes that are not UTF-8 is the engine's (TEXT_SETTINGS), unless the
    # query's own SETTINGS clause turned it off: then here, rather than failing.
    text = lines.decode("utf-8", "replace")
    document = json.loads("[" + text.replace("\n", ",") + "]") if text else []
    if len(document) < 2:
        return QueryText((), ())
    names, types, *rows = document
    parsed = [parse_type(kind) for kind in types]
    columns = tuple(
        TextColumn(name, kind, _kind(ch_type))
        for name, kind, ch_type in zip(names, types, parsed, strict=True)
    )
    nullable = [_may_be_null(ch_type) for ch_type in parsed]
    return QueryText(
        columns,
        tuple(
            tuple(
                None if value == _NULL and may else value
                for value, may in zip(row, nullable, strict=True)
            )
            for row in rows
        ),
    )


def _kind(ch_type: ClickHouseType) -> Literal["number", "fixed", "text"]:
    """How a column of ``ch_type`` is drawn: numbers stand right, dates and booleans are
    never folded, everything else may fold (:class:`~orchestration.io_manager.TextColumn`)."""
    name = ch_type.name.upper()
    numeric = (
        ch_type.integer is not None
        or ch_type.float_bits is not None
        or ch_type.decimal_precision_scale is not None
        or name == "BFLOAT16"
    )
    if numeric:
        return "number"
    if name in _FIXED or name.startswith("TIME"):  # Time, Time64(3)
        return "fixed"
    return "text"


def _may_be_null(ch_type: ClickHouseType) -> bool:
    return ch_type.nullable or ch_type.name.upper() in _MAY_BE_NULL
