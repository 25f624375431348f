"""The common case of a local CSV source, read by ClickHouse itself.

:mod:`assets.sources.normalize` turns any source into ``raw.online_retails`` rows in
Arrow, and points at the exact row and column of a bad value. For a clean CSV file on
the warehouse's own machine most of that work is parsing and casting, which ClickHouse
does in its own threads (``file()``), without the Python reader's CPU and without
handing a million rows across: the whole ingest is one ``INSERT ... SELECT``.

This module writes that SELECT so that it yields exactly the rows the Python path
yields, or fails. It accepts only values whose meaning is beyond doubt - plain integers,
plain decimals, ISO ``YYYY-MM-DD HH:MM:SS`` or month/day/year ``M/D/YYYY H:MM[:SS]``
timestamps that exist and lie in range, text that is valid UTF-8 - and
``throwIf``\\ s on the first row with anything else. The warehouse then stages the
source the Python way (:class:`orchestration.io_manager.EngineSelect`), which either
reads it (an unusual but valid form) or names the row, column and cause. So the SELECT
never decides what a value means where the two paths could disagree; it only declines.
"""

from __future__ import annotations

from pathlib import Path

from assets.sources.errors import SourceError
from assets.sources.files import csv_layout, ends_in_quotes, source_kind
from assets.sources.normalize import RAW_COLUMNS, map_columns, source_field
from assets.sql import UNICODE_SPACE, plain_edges
from io_managers.sql import quote_string
from schemas.types import EARLIEST_INVOICE_DATE, LATEST_INVOICE_DATE, MONEY_LIMIT

_FIRST = f"{EARLIEST_INVOICE_DATE:%Y-%m-%d %H:%M:%S}"
_LAST = f"{LATEST_INVOICE_DATE:%Y-%m-%d %H:%M:%S}"
#: ClickHouse's file() expands these in a path (globs), so such paths stay with Python.
_GLOB_CHARACTERS = frozenset("*?{}[]")
#: Read exactly as Arrow reads: nothing trimmed, double quotes only, one row per record;
#: and with ``pread``: a mapped file (chdb's default) that is rewritten or cut short while
#: it is read kills the process with SIGBUS, where a read meets the new end and fails.
SETTINGS: dict[str, int | str] = {
    "storage_file_read_method": "pread",
    "input_format_csv_trim_whitespaces": 0,
    "format_csv_allow_single_quotes": 0,
    "format_csv_allow_double_quotes": 1,
    "input_format_csv_allow_variable_number_of_columns": 0,
    "input_format_with_names_use_header": 0,
    "input_format_skip_unknown_fields": 0,
    "input_format_allow_errors_num": 0,
    # A \\N would be read as NULL (then blank): fail, so Python keeps it as the text it is.
    "input_format_null_as_default": 0,
    "input_format_allow_errors_ratio": 0,
    "precise_float_parsing": 1,
}


def _setting(value: int | str) -> str:
    return quote_string(value) if isinstance(value, str) else str(value)


def _text_or_null(column: str) -> str:
    """The value as written, NULL when blank (only white space), as Arrow decides."""
    blank = quote_string(f"^{UNICODE_SPACE}*$")
    return f"if({plain_edges(column)}, {column}, if(match({column}, {blank}), NULL, {column}))"


#: Plain values: digits (invoices optionally after C or A), decimals with a point, and
#: customer ids as spreadsheets write them (17303 or 17303.0).
_INVOICE = "^[CcAa]?[0-9]+$"
_QUANTITY = "^-?[0-9]{1,9}$"
_PRICE = r"^-?[0-9]{1,9}(\.[0-9]{1,12})?$"
_CUSTOMER = r"^([0-9]{1,15})(\.0+)?$"
#: Fields whose every accepted value matches an ASCII pattern (or is blank).
_PATTERNED = frozenset({"InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate"})

#: Timestamps the engine reads: ISO (which must print back exactly as written), and the
#: old UCI file's month/day/year ``M/D/YYYY H:MM[:SS]`` (one or two digits for month, day
#: and hour; the day must exist in its month - Python refuses 2/30 rather than roll over).
_ISO_FORMAT = "%Y-%m-%d %H:%i:%S"
_US = r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}) ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$"


def _days_in_month(year: str, month: str) -> str:
    leap = f"(({year} % 4 = 0 AND {year} % 100 != 0) OR {year} % 400 = 0)"
    return f"multiIf({month} = 2, if({leap}, 29, 28), {month} IN (4, 6, 9, 11), 30, 31)"


def _timestamp_columns(text: str) -> str:
    """Inner-SELECT columns ending in ``InvoiceDate``: ISO text, or NULL if not plain."""
    iso = quote_string(_ISO_FORMAT)
    order = ("month", "day", "year", "hour", "minute", "second")  # the pattern's groups
    part = {name: f"toUInt16OrZero(_us[{index}])" for index, name in enumerate(order, 1)}
    valid_us = (
        f"length(_us) = 6 AND {part['year']} BETWEEN 2000 AND 2100 "
        f"AND {part['month']} BETWEEN 1 AND 12 AND {part['day']} >= 1 "
        f"AND {part['day']} <= {_days_in_month(part['year'], part['month'])} "
        f"AND {part['hour']} <= 23 AND {part['minute']} <= 59 AND {part['second']} <= 59"
    )
    stamp = ", ".join(part[name] for name in ("year", "month", "day", "hour", "minute", "second"))
    return ",\n        ".join(
        [
            f"if(position({text}, '/') > 0, extractGroups({text}, {quote_string(_US)}), []) AS _us",
            f"""multiIf(
            position({text}, '/') = 0,
            if(formatDateTime(parseDateTimeOrZero({text}, {iso}, 'UTC'), {iso}, 'UTC') = {text},
                {text}, NULL),
            {valid_us},
            formatDateTime(makeDateTime({stamp}, 'UTC'), {iso}, 'UTC'),
            NULL) AS InvoiceDate""",
        ]
    )


def _select(path: Path, header: list[str], columns: dict[object, str], record_source: str) -> str:
    # Columns by position (c0, c1, ...), so no source header can clash with a name below.
    structure = ", ".join(f"c{index} String" for index in range(len(header)))
    source = f"file({quote_string(str(path))}, 'CSVWithNames', {quote_string(structure)})"
    position = {name: index for index, name in enumerate(header)}
    field = {name: f"c{position[str(column)]}" for column, name in columns.items()}
    money = f"{MONEY_LIMIT - 1:.4f}"
    customer_pattern = quote_string(_CUSTOMER)
    # Arrow refuses a file with any invalid UTF-8; the patterns below only pass ASCII.
    free_text = set(position.values()) - {
        position[str(column)] for column, name in columns.items() if name in _PATTERNED
    }
    utf8 = " AND ".join(f"isValidUTF8(c{index})" for index in sorted(free_text))
    # A line break outside Description, or in the last field, may be a quote that never
    # closes and swallows the rows after it: Python names that (or reads the rare layout).
    unwrapped = {index for name, index in position.items() if source_field(name) != "Description"}
    one_line = " AND ".join(
        f"position(c{index}, '\\n') = 0 AND position(c{index}, '\\r') = 0"
        for index in sorted(unwrapped | {len(header) - 1})
    )
    declined = quote_string("not the plain form the engine reads; reading it in Python")
    return f"""
SELECT {", ".join(RAW_COLUMNS)}
FROM (
    SELECT
        {field["InvoiceNo"]} AS InvoiceNo,
        {field["StockCode"]} AS StockCode,
        {_text_or_null(field["Description"])} AS Description,
        toInt32OrZero({field["Quantity"]}) AS Quantity,
        {_timestamp_columns(field["InvoiceDate"])},
        toFloat64OrZero({field["UnitPrice"]}) AS UnitPrice,
        if({field["CustomerID"]} = '', NULL,
            toUInt64OrZero(extractGroups({field["CustomerID"]}, {customer_pattern})[1]))
            AS CustomerID,
        {_text_or_null(field["Country"])} AS Country,
        toFloat64(Quantity) * UnitPrice AS TotalAmount,
        {quote_string(record_source)} AS RECORD_SOURCE,
        ifNull(NOT (
        match(InvoiceNo, {quote_string(_INVOICE)})
        AND {plain_edges("StockCode")}
        AND {utf8}
        AND {one_line}
        AND match({field["Quantity"]}, {quote_string(_QUANTITY)})
        AND match({field["UnitPrice"]}, {quote_string(_PRICE)})
        AND abs(UnitPrice) <= {money}
        AND abs(TotalAmount) + abs(Quantity) * 0.0001 <= {money}
        AND ({field["CustomerID"]} = '' OR match({field["CustomerID"]}, {customer_pattern}))
        AND InvoiceDate BETWEEN {quote_string(_FIRST)} AND {quote_string(_LAST)}
        ), 1) AS _declined
    FROM {source}
)
-- Out here, so the engine's error names the column, not the whole condition.
WHERE throwIf(_declined, {declined}) = 0
SETTINGS {", ".join(f"{name} = {_setting(value)}" for name, value in SETTINGS.items())}
"""


#: Bytes at the end of a file searched for its last line.
_TAIL_BYTES = 64 << 10


def _may_end_in_quotes(path: Path) -> bool:
    """Whether the file may end inside a quote opened on its last line, with no line break
    after it: both CSV readers then take the value as if the quote were closed, and only
    Python compares it with the file's end. (With a line break after it the value holds
    that break, which the SELECT declines.) True also when the last line is too long to
    tell: Python decides."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return False
    breaks = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
    if breaks < 0 and size > len(tail):
        return True
    last_line = tail[breaks + 1 :].decode("utf-8", errors="replace")
    return ends_in_quotes(last_line)


def engine_csv_select(path: Path, record_source: str) -> str | None:
    """The SELECT that reads ``path`` as ``raw.online_retails`` rows inside ClickHouse, or
    None when the file is no plain local comma-separated CSV with a usable header (the
    Python reader then reads it, and names whatever is wrong).

    A file separated by ``;``, tabs or ``|`` (:mod:`assets.sources.csv_layout`) is left
    to Python: ``file()`` could split it (``format_csv_delimiter``), but a ``;`` file's
    decimal commas, and every check that tells a runaway quote by its delimiter, would
    need a second copy of the rules here, held equal to Python's by a property test of
    its own, for files that only a spreadsheet re-saved and that are read in seconds.
    """
    if _GLOB_CHARACTERS & set(str(path)):
        return None
    try:
        if not path.is_file() or source_kind(path, str(path)) != "csv":
            return None
        layout = csv_layout(path, str(path))
        if layout.delimiter != ",":
            return None
        header = layout.header
        columns = map_columns(header, str(path))
    except (OSError, SourceError):
        return None
    if len(set(header)) != len(header) or not all(header):
        return None
    if _may_end_in_quotes(path):
        return None
    return _select(path.resolve(), header, columns, record_source)
