"""Turn a chunk of source rows, in either UCI column layout, into ``raw.online_retails`` rows.

Work is columnar (Arrow compute kernels), never a Python loop over rows. Values are kept
as the source wrote them (descriptions keep their spaces, commas and quotes); only what
cannot be stored otherwise is converted: numbers become numbers, and the invoice
timestamp becomes ISO text, because only here do we know that ``12/1/2010`` means
1 December (month/day/year, as the UCI files write it) and never 12 January.

A chunk arrives as an Arrow table (CSV, Parquet, the generator: columns are Arrow from
the start, so nothing passes through pandas) or as a pandas frame (spreadsheets, whose
cells calamine hands over as Python objects). Each column is turned into one Arrow array
first; everything after that is the same code for every format. The fast paths assume
clean data (one cast per column) and fall back to the slower, row-pinpointing checks
only when a cast fails, so a good 1 M-row file costs a few hundred milliseconds here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from assets.sources.errors import SourceError
from assets.sources.places import DATA_ROWS, RowNumbering, span
from orchestration.errors import closest_names
from schemas.types import EARLIEST_INVOICE_DATE, LATEST_INVOICE_DATE, MONEY_LIMIT

#: Raw table layout (ddl/init.sql, raw.online_retails), column order included.
RAW_SCHEMA = pa.schema(
    [
        pa.field("InvoiceNo", pa.string()),
        pa.field("StockCode", pa.string()),
        pa.field("Description", pa.string()),
        pa.field("Quantity", pa.int32()),
        pa.field("InvoiceDate", pa.string()),
        pa.field("UnitPrice", pa.float64()),
        pa.field("CustomerID", pa.uint64()),
        pa.field("Country", pa.string()),
        pa.field("TotalAmount", pa.float64()),
        pa.field("RECORD_SOURCE", pa.string(), nullable=False),
    ]
)
RAW_COLUMNS: tuple[str, ...] = tuple(RAW_SCHEMA.names)

#: The eight source fields, each with the header spellings of both UCI layouts.
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    "InvoiceNo": ("InvoiceNo", "Invoice"),
    "StockCode": ("StockCode",),
    "Description": ("Description",),
    "Quantity": ("Quantity",),
    "InvoiceDate": ("InvoiceDate",),
    "UnitPrice": ("UnitPrice", "Price"),
    "CustomerID": ("CustomerID", "Customer ID"),
    "Country": ("Country",),
}

#: month/day/year forms of the old UCI file, tried in this order. Two-digit years come
#: first: ``%Y`` also reads ``12/1/10`` (as the year 10), ``%y`` never reads a 4-digit year.
_US_DATE_FORMATS = (
    "%m/%d/%y %H:%M",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
)
#: ISO forms Arrow parses itself; anything else (offsets, fractions) goes through pandas.
_ISO_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)
#: Month and day as written, for the dates strptime parses (no offset, so no UTC shift).
_WRITTEN_DAY_PATTERNS = (
    r"^(?P<month>\d{1,2})/(?P<day>\d{1,2})/\d{2,4}(?:\s.*)?$",
    r"^\d{4}-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$",
)
#: What raw.psa_online_retails accepts (schemas.types); checked here, where rows have numbers.
_FIRST_STAMP = pa.scalar(EARLIEST_INVOICE_DATE.tz_convert(None).to_pydatetime(), pa.timestamp("s"))
_LAST_STAMP = pa.scalar(LATEST_INVOICE_DATE.tz_convert(None).to_pydatetime(), pa.timestamp("s"))
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INVOICE = r"^[CcAa]?[0-9]+$"
#: The range of an Int32 column (Quantity), both ends included.
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
#: The largest integer float64 (how numbers are parsed) holds exactly.
_FLOAT_EXACT_MAX = 2**53


def _header_key(name: object) -> str:
    return re.sub(r"[\s_]+", "", str(name)).lower()


@functools.cache
def source_field(name: object) -> str | None:
    """The raw field a source header names (either layout), or None for another column.

    Cached: the CSV reader asks it of every column of every chunk."""
    key = _header_key(name)
    return next(
        (field for field, names in SOURCE_FIELDS.items() if key in map(_header_key, names)),
        None,
    )


def _match_columns(columns: list[object]) -> tuple[dict[object, str], list[str]]:
    """The source columns that name each field, and the fields no column names."""
    by_key = {_header_key(c): c for c in columns}
    mapping: dict[object, str] = {}
    missing: list[str] = []
    for field, spellings in SOURCE_FIELDS.items():
        found = next((by_key[k] for k in map(_header_key, spellings) if k in by_key), None)
        if found is None:
            missing.append(field)
        else:
            mapping[found] = field
    return mapping, missing


def names_every_field(columns: Iterable[object]) -> bool:
    """Whether a header names all eight fields (either layout): how a CSV reader tells
    which separator splits a header into the columns it should have."""
    return not _match_columns(list(columns))[1]


def map_columns(
    columns: Iterable[object], source: str, *, found: str = "the header has"
) -> dict[object, str]:
    """Map the source's header to raw column names, or say which field is missing.

    Both layouts are accepted (``Invoice/Price/Customer ID`` and
    ``InvoiceNo/UnitPrice/CustomerID``), case, spaces and underscores ignored. A missing
    field is offered the header's unmatched columns that look like a renaming of it
    (``Qty``); ``found`` introduces the columns the error lists (a CSV reader says how
    it split the header).
    """
    columns = list(columns)
    mapping, missing = _match_columns(columns)
    if missing:
        unmatched = [str(c) for c in columns if c not in mapping]
        found_names = ", ".join(repr(str(c)) for c in columns) or "none"
        if len(missing) == 1:  # the error names that column, as every column error does
            column: str | None = missing[0]
            problem = f"not in the header{_missing_field(missing[0], unmatched)}"
        else:  # a list, and no one column to name
            column = None
            listed = ", ".join(f"{f!r}{_missing_field(f, unmatched)}" for f in missing)
            problem = f"{len(missing)} required columns are not in the header: {listed}"
        raise SourceError(f"{problem}; {found}: {found_names}", source=source, column=column)
    return mapping


def _missing_field(field: str, unmatched: list[str]) -> str:
    """`` (header 'UnitPrice' or 'Price'; did you mean 'Cost'?)``: the headers that name
    ``field`` when they are not its name alone, and the ``unmatched`` columns that may
    be one renamed; ``""`` when neither has anything to say."""
    spellings = SOURCE_FIELDS[field]
    notes = [f"header {' or '.join(map(repr, spellings))}"] if spellings != (field,) else []
    # 0.5: a header abbreviates (Qty for Quantity scores 0.55, difflib's default is 0.6).
    close = next(
        (found for name in spellings if (found := closest_names(name, unmatched, cutoff=0.5))),
        [],
    )
    if close:
        notes.append(f"did you mean {' or '.join(map(repr, close))}?")
    return f" ({'; '.join(notes)})" if notes else ""


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


class _Chunk:
    """One chunk being normalised: its columns as Arrow, and how to point at a bad row."""

    def __init__(
        self,
        frame: pd.DataFrame | pa.Table,
        columns: Mapping[object, str],
        source: str,
        first_row: int,
        numbering: RowNumbering,
    ) -> None:
        self.source = source
        self.first_row = first_row
        self.numbering = numbering
        self.num_rows = len(frame) if isinstance(frame, pd.DataFrame) else frame.num_rows
        # Field -> the source's own column, for showing an offending value as written.
        self._originals: dict[str, pd.Series | pa.ChunkedArray] = {}
        self.arrays: dict[str, pa.Array] = {}
        # Field -> its header as the source writes it ('Customer ID'): what errors name,
        # since the raw field's name may be nowhere in the file.
        self.headers: dict[str, str] = {}
        for name, field in columns.items():
            self.headers[field] = str(name)
            if isinstance(frame, pd.DataFrame):
                series = frame[name].reset_index(drop=True)
                self._originals[field] = series
                self.arrays[field] = _as_arrow(series)
            else:
                column = frame.column(name)
                self._originals[field] = column
                self.arrays[field] = _plain(column)

    def value_at(self, field: str, position: int) -> object:
        original = self._originals[field]
        if isinstance(original, pd.Series):
            return original.iloc[position]
        return original[position].as_py()

    def fail_first(self, bad: pa.Array, field: str, problem: str, hint: str) -> None:
        """Raise for the first row flagged in ``bad``, naming its number and value, and how
        many rows like it the rows read with it hold (a file is read in chunks, so the
        count names the rows it counted rather than claim the whole file's)."""
        flagged = pc.fill_null(bad, False)
        count = pc.sum(flagged).as_py() or 0
        if not count:
            return
        position = int(np.flatnonzero(flagged.to_numpy(zero_copy_only=False))[0])
        value = self.value_at(field, position)
        row, last = self.first_row + position, self.first_row + self.num_rows - 1
        places = self.numbering.places((self.first_row, row, last))
        rows = span(places[self.first_row], places[last])
        such = f"{count:,} such row{'' if count == 1 else 's'} in {rows}"
        # An empty cell has no value to quote: Python's None (or a sheet's '') is not the
        # user's word for it.
        shown = "" if _is_absent(value) else f" {value!r}"
        raise SourceError(
            f"{problem}{shown} ({such}); {hint}",
            source=self.source,
            place=places[row],
            column=self.headers[field],
            value=value,
        )


def _is_absent(value: object) -> bool:
    """True for a cell that holds nothing: None, ``''`` (a spreadsheet's empty cell), or the
    NaN a frame may hold. A cell of only spaces is not: quoting it shows the spaces."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array of a plain type (no dictionary, no large/view strings)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        array = pc.cast(array, pa.string())
    return array


def _integral_text(numbers: pa.Array) -> pa.Array:
    """Numbers as text, whole ones without ``.0`` (spreadsheets store 489434 as 489434.0)."""
    if pa.types.is_integer(numbers.type):
        return pc.cast(numbers, pa.string())
    whole = pc.equal(numbers, pc.floor(numbers))
    as_int = pc.cast(pc.if_else(whole, numbers, None), pa.int64())
    return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(numbers, pa.string()))


def _mixed_to_text(values: pd.Series) -> pa.Array:
    """Spreadsheet cells of mixed type as text (numbers, dates and strings together)."""
    kinds = values.map(type)
    text = pd.Series(None, index=values.index, dtype=object)
    strings = kinds.isin([str])
    text[strings] = values[strings]
    numbers = kinds.isin([float, int, np.float64, np.int64])
    if numbers.any():
        converted = _integral_text(pa.array(values[numbers].astype("float64")))
        text[numbers] = converted.to_pandas().to_numpy()
    stamps = kinds.isin([dt.datetime, dt.date, pd.Timestamp])
    if stamps.any():
        text[stamps] = pd.to_datetime(values[stamps]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return pa.array(text, type=pa.string(), from_pandas=True)


def _as_arrow(values: pd.Series) -> pa.Array:
    """A pandas column as Arrow: typed columns as they are, text as text.

    Object columns are classified first (one C-level pass): Arrow would otherwise infer
    the type from the first cell and silently truncate, e.g. a datetime after a date.
    """
    if values.dtype != object:
        return _plain(pa.array(values, from_pandas=True))
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        return pa.array(values, type=pa.string(), from_pandas=True)
    if kind in ("integer", "floating", "mixed-integer-float"):
        return pa.array(values.astype("float64"), from_pandas=True)
    if kind in ("datetime", "datetime64"):
        return pa.array(pd.to_datetime(values), from_pandas=True)
    return _mixed_to_text(values)


class _Text:
    """A column as text: ``value`` as written (blank -> null) and ``trimmed``."""

    def __init__(self, array: pa.Array) -> None:
        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
            array = _integral_text(array)
        elif pa.types.is_null(array.type):
            array = pa.nulls(len(array), pa.string())
        elif not pa.types.is_string(array.type):
            array = pc.cast(array, pa.string())
        trimmed = pc.utf8_trim_whitespace(array)
        blank = pc.fill_null(pc.equal(trimmed, ""), False)
        if _any(blank):
            array = pc.if_else(blank, None, array)
            trimmed = pc.if_else(blank, None, trimmed)
        self.value = array
        self.trimmed = trimmed
        self.missing = pc.is_null(array)


def _as_number(chunk: _Chunk, field: str, text: _Text, decimal_comma: bool) -> pa.Array:
    """Float64 from numbers or numeric text; anything else fails naming the row.

    With ``decimal_comma`` a comma in the text is a decimal point (``2,55``), as
    spreadsheets in much of Europe write numbers; errors still show the value as written.
    """
    array = chunk.arrays[field]
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        return pc.cast(array, pa.float64())
    written = text.trimmed
    if decimal_comma:  # one kernel; a second comma or a thousands point stays no number
        written = pc.replace_substring(written, ",", ".")
    try:
        numbers = pc.cast(written, pa.float64())
    except pa.ArrowInvalid:
        numbers = None
    if numbers is not None and not _any(pc.invert(pc.is_finite(numbers))):
        return numbers  # the common case: every value a plain number
    # Slow path, only for a chunk with a bad value: find it. Arrow also reads 'nan' and
    # 'inf', which are no quantities or prices, so the pattern decides what a number is.
    numeric = pc.match_substring_regex(written, _NUMBER)
    chunk.fail_first(pc.invert(numeric), field, "not a number:", "fix the value or remove the row")
    numbers = pc.cast(written, pa.float64())
    chunk.fail_first(
        pc.invert(pc.is_finite(numbers)), field, "out of range:", "the number is too large"
    )
    return numbers


def _as_integer(chunk: _Chunk, field: str, numbers: pa.Array, kind: pa.DataType) -> pa.Array:
    fractional = pc.not_equal(numbers, pc.floor(numbers))
    chunk.fail_first(
        fractional, field, "not a whole number:", "quantities and customer ids are integers"
    )
    if kind == pa.int32():
        low, high = _INT32_MIN, _INT32_MAX
    else:
        # Values arrive as float64, which holds every integer only up to 2**53: a larger
        # id would be stored rounded (and one near 2**64 overflows the cast), so refuse it.
        low, high = 0, _FLOAT_EXACT_MAX
    outside = pc.or_(pc.less(numbers, low), pc.greater(numbers, high))
    between = f"{chunk.headers[field]} must be between {low} and {high}"
    chunk.fail_first(outside, field, "out of range:", between)
    return pc.cast(numbers, kind)


def _parse_formats(text: pa.Array, formats: Iterable[str]) -> pa.Array:
    parsed = pa.nulls(len(text), pa.timestamp("s"))
    for fmt in formats:
        attempt = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        parsed = pc.coalesce(parsed, attempt)
        if not _any(pc.and_(pc.is_null(parsed), pc.is_valid(text))):
            break
    return parsed


def _parse_iso(text: pa.Array) -> pa.Array:
    # One kernel for clean ISO columns; any value it rejects sends the column the slow way.
    with contextlib.suppress(pa.ArrowInvalid):
        return pc.cast(text, pa.timestamp("s"))
    parsed = _parse_formats(text, _ISO_DATE_FORMATS)
    left = pc.and_(pc.is_null(parsed), pc.is_valid(text))
    if not _any(left):
        return parsed
    # Offsets such as +01:00, fractions, or a bad value: pandas, value by value, to UTC
    # ("mixed": pandas' ISO8601 mode applies the first value's offset to all of them).
    rest = pd.to_datetime(
        pc.filter(text, left).to_pandas(), format="mixed", errors="coerce", utc=True
    ).dt.tz_convert(None)
    rest_stamps = pc.cast(pa.array(rest, from_pandas=True), pa.timestamp("s"), safe=False)
    return pc.replace_with_mask(parsed, left, rest_stamps)


def _as_timestamp(chunk: _Chunk, text: _Text) -> pa.Array:
    """The invoice timestamp, UTC, whole seconds."""
    array = chunk.arrays["InvoiceDate"]
    if pa.types.is_date(array.type):
        stamps = pc.cast(array, pa.timestamp("s"))
    elif pa.types.is_timestamp(array.type):
        # A zoned timestamp holds UTC instants: dropping the zone keeps them, in UTC.
        floored = pc.floor_temporal(array, unit="second")
        stamps = pc.cast(floored, pa.timestamp("s"), safe=False)
    else:
        us = pc.fill_null(pc.match_substring(text.trimmed, "/"), False)
        if not _any(us):
            stamps = _parse_iso(text.trimmed)
        else:
            stamps = pc.if_else(
                us,
                _parse_formats(pc.if_else(us, text.trimmed, None), _US_DATE_FORMATS),
                _parse_iso(pc.if_else(us, None, text.trimmed)),
            )
    chunk.fail_first(
        pc.and_(pc.is_null(stamps), pc.invert(text.missing)),
        "InvoiceDate",
        "unparseable date",
        "write dates as ISO (2010-12-01 08:26) or month/day/year (12/1/2010 8:26)",
    )
    if pa.types.is_string(array.type):
        chunk.fail_first(
            _rolled_over(text.trimmed, stamps),
            "InvoiceDate",
            "impossible date",
            "that day does not exist in that month; fix the value or remove the row",
        )
    chunk.fail_first(
        pc.or_(pc.less(stamps, _FIRST_STAMP), pc.greater(stamps, _LAST_STAMP)),
        "InvoiceDate",
        "date out of range",
        f"invoice dates must lie between {EARLIEST_INVOICE_DATE:%Y-%m-%d} and "
        f"{LATEST_INVOICE_DATE:%Y-%m-%d} (what raw.psa_online_retails accepts)",
    )
    return stamps


def _rolled_over(written: pa.Array, stamps: pa.Array) -> pa.Array:
    """Rows whose parsed month or day differs from the one written.

    Arrow's strptime, like C's, carries an impossible day into the next month
    (``2/30/2010`` -> 2010-03-02). Such a day always lands on the 1st to 3rd, so only
    those rows are compared with the digits as written (vectorised regex extraction).
    """
    flagged = pa.repeat(False, len(written))
    candidates = pc.fill_null(pc.less_equal(pc.day(stamps), 3), False)
    if not _any(candidates):
        return flagged
    text, parsed = pc.filter(written, candidates), pc.filter(stamps, candidates)
    differs = pa.repeat(False, len(text))
    for pattern in _WRITTEN_DAY_PATTERNS:
        parts = pc.extract_regex(text, pattern)
        month = pc.cast(pc.struct_field(parts, "month"), pa.int64())
        day = pc.cast(pc.struct_field(parts, "day"), pa.int64())
        moved = pc.or_(pc.not_equal(month, pc.month(parsed)), pc.not_equal(day, pc.day(parsed)))
        differs = pc.or_(differs, pc.fill_null(moved, False))
    return pc.replace_with_mask(flagged, candidates, differs)


def _check_money(chunk: _Chunk, quantity: pa.Array, price: pa.Array) -> None:
    """Price and line total must fit staging's ``Decimal(10, 4)``, as staging rounds them."""
    staged_price = pc.round(price, 4)
    price_name, quantity_name = chunk.headers["UnitPrice"], chunk.headers["Quantity"]
    hint = (
        f"{price_name} and {quantity_name} x {price_name} must lie within +/-{MONEY_LIMIT} "
        "(Decimal(10, 4))"
    )
    chunk.fail_first(
        pc.greater(pc.abs(staged_price), MONEY_LIMIT), "UnitPrice", "out of range:", hint
    )
    chunk.fail_first(
        pc.greater(pc.abs(pc.multiply(quantity, staged_price)), MONEY_LIMIT),
        "UnitPrice",
        "line total out of range at price",
        hint,
    )


def normalize_chunk(
    frame: pd.DataFrame | pa.Table,
    columns: Mapping[object, str],
    *,
    source: str,
    first_row: int,
    record_source: str,
    decimal_comma: bool = False,
    numbering: RowNumbering = DATA_ROWS,
) -> pa.Table:
    """Source rows -> raw rows (``RAW_SCHEMA``: DDL order and types of raw.online_retails).

    ``columns`` maps the source's column names to fields (see :func:`map_columns`).
    ``first_row`` is the 1-based data-row number of the chunk's first row in ``source``;
    ``numbering`` turns it into the place a person finds the row at (a CSV file's line:
    :mod:`assets.sources.places`). ``decimal_comma``: the source writes numbers with a
    decimal comma (a CSV file separated by ``;``).
    """
    chunk = _Chunk(frame, columns, source, first_row, numbering)
    text = {field: _Text(chunk.arrays[field]) for field in SOURCE_FIELDS}
    for field in ("InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice"):
        chunk.fail_first(
            text[field].missing,
            field,
            "empty value",
            "every line needs an invoice, stock code, quantity, date and price",
        )

    invoice = text["InvoiceNo"].trimmed
    chunk.fail_first(
        pc.invert(pc.match_substring_regex(invoice, _INVOICE)),
        "InvoiceNo",
        "not an invoice number:",
        "invoice numbers are digits, optionally after C (cancellation) or A (bad-debt adjustment)",
    )
    quantity_numbers = _as_number(chunk, "Quantity", text["Quantity"], decimal_comma)
    quantity = _as_integer(chunk, "Quantity", quantity_numbers, pa.int32())
    price = _as_number(chunk, "UnitPrice", text["UnitPrice"], decimal_comma)
    _check_money(chunk, quantity_numbers, price)
    customer = _as_integer(
        chunk,
        "CustomerID",
        _as_number(chunk, "CustomerID", text["CustomerID"], decimal_comma),
        pa.uint64(),
    )
    stamps = _as_timestamp(chunk, text["InvoiceDate"])
    columns_out = [
        invoice,
        text["StockCode"].trimmed,
        text["Description"].value,
        quantity,
        # Arrow renders timestamp[s] as 'YYYY-MM-DD HH:MM:SS', the raw layer's ISO form.
        pc.cast(stamps, pa.string()),
        price,
        customer,
        text["Country"].value,
        pc.multiply(quantity_numbers, price),
        pa.repeat(record_source, chunk.num_rows),
    ]
    return pa.Table.from_arrays(columns_out, schema=RAW_SCHEMA)
