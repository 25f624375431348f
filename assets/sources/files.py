"""Read local source files in chunks: CSV, Parquet, xlsx (every sheet) and zip archives.

Each reader yields :class:`SourceChunk` objects in the source's own layout; nothing here
interprets values (that is ``normalize``'s job), except that the CSV reader refuses a
line break in any column but Description: the sign of a quote that never closes; and
when a Description wraps, it holds the file to the CSV grammar (``csv_grammar``), which
tells a real line break from a quote closed only by a later row's.
Chunks keep memory flat: a 1 M-row file never sits in memory as more than one chunk at a
time.

CSV and Parquet are read with Arrow's streaming readers (multi-threaded C++, every CSV
cell as text, so nothing is guessed), straight into Arrow tables that never touch
pandas; only spreadsheets, whose cells calamine returns as Python objects, become pandas
frames. CSV is UTF-8 unless the run names another encoding (``--source-encoding``):
Arrow then transcodes the stream to UTF-8 a block at a time as it reads, and every
check that compares text with the file's bytes encodes it the file's way.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import itertools
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import python_calamine

from assets.sources.csv_grammar import check_csv_grammar
from assets.sources.csv_layout import CsvLayout, header_layout
from assets.sources.decoding import not_text_error, refuse_utf8_named_otherwise
from assets.sources.errors import EXCERPT_CHARS, SourceError, excerpt, file_error
from assets.sources.normalize import map_columns, source_field
from assets.sources.places import DATA_ROWS, CsvLines, Place, RowNumbering, Rows
from orchestration.text_encoding import DEFAULT_ENCODING, is_utf8, opening_codec

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_PARQUET_MAGIC = b"PAR1"
_READABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".tsv", ".parquet")
#: Compression methods :mod:`zipfile` extracts (each with a module every CPython build has).
_EXTRACTABLE = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
#: Names of the other methods met in the wild (Windows writes deflate64 past 2 GB, 7-Zip
#: the others on request).
_METHOD_NAMES = {9: "deflate64", 93: "Zstandard", 95: "xz", 98: "PPMd"}
#: General purpose flag bit 0: the member is encrypted.
_ENCRYPTED_FLAG = 0x1
#: Bytes of CSV text Arrow parses per block (one block per thread at a time).
_CSV_BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class SourceChunk:
    """Rows of one file or sheet, with where they came from.

    ``origin`` names the file/sheet for error messages and RECORD_SOURCE; ``first_row``
    is the 1-based data-row number of ``frame``'s first row within that origin, and
    ``numbering`` how errors name a row of it (:mod:`assets.sources.places`).
    ``frame`` is an Arrow table (CSV, Parquet, generator) or a pandas frame (xlsx).
    ``decimal_comma``: its numbers are text that may use a decimal comma (a ``;`` CSV
    file, see :class:`assets.sources.csv_layout.CsvLayout`).
    """

    frame: pd.DataFrame | pa.Table
    origin: str
    first_row: int
    decimal_comma: bool = False
    numbering: RowNumbering = DATA_ROWS

    @property
    def column_names(self) -> list[object]:
        if isinstance(self.frame, pa.Table):
            return list(self.frame.column_names)
        return list(self.frame.columns)

    @property
    def num_rows(self) -> int:
        return self.frame.num_rows if isinstance(self.frame, pa.Table) else len(self.frame)


def _magic(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4)


def source_kind(path: Path, label: str) -> str:
    """``zip``, ``xlsx``, ``parquet`` or ``csv``: by extension, confirmed by content."""
    suffix = path.suffix.lower()
    magic = _magic(path)
    if suffix in (".xlsx", ".xlsm"):
        if magic != _ZIP_MAGIC:
            raise SourceError(
                "corrupt xlsx: the file is not an Excel workbook (no zip "
                "signature); download it again",
                source=label,
            )
        return "xlsx"
    if suffix == ".zip":
        if magic not in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
            raise SourceError(
                "corrupt zip: the file has no zip signature; download it again", source=label
            )
        return "zip"
    if suffix == ".parquet":
        if magic != _PARQUET_MAGIC:
            raise SourceError("corrupt parquet: missing the PAR1 signature", source=label)
        return "parquet"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    # No telling extension (a download URL, say): trust the content.
    if magic in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as error:
            raise SourceError(f"corrupt zip: {error}", source=label) from error
        return "xlsx" if "[Content_Types].xml" in names else "zip"
    if magic == _PARQUET_MAGIC:
        return "parquet"
    return "csv"


def read_path(
    path: Path, label: str, chunk_rows: int, encoding: str = DEFAULT_ENCODING
) -> Iterator[SourceChunk]:
    """Chunks of every table in a local file; ``label`` names it in errors. ``encoding``
    (a codec name, :func:`orchestration.text_encoding.codec_name`) is that of CSV text,
    the file's or a zip member's; Parquet and xlsx say their own."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise SourceError("not a file", source=label)
        if info.st_size == 0:
            raise SourceError("the file is empty (0 bytes)", source=label)
        kind = source_kind(path, label)  # the first open: the file's mode is met here
    except OSError as error:
        raise file_error(error, label) from error
    if kind == "zip":
        yield from _read_zip(path, label, chunk_rows, encoding)
    elif kind == "xlsx":
        yield from _read_xlsx(path, label, chunk_rows)
    elif kind == "parquet":
        yield from _read_parquet(path, label, chunk_rows)
    else:
        yield from _read_csv(path, label, chunk_rows, encoding)


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Arrow batches of any size as tables of exactly ``rows`` rows (the last may be short).

    Arrow's readers cut by bytes or row groups; callers number rows and size inserts by
    ``chunk_rows``, so the stream is re-cut. Slicing and concatenating are zero-copy.
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - held, batch.num_rows)
            pending.append(batch.slice(0, take))
            held += take
            batch = batch.slice(take)
            if held == rows:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


def csv_layout(path: Path, label: str, encoding: str = DEFAULT_ENCODING) -> CsvLayout:
    """The header row and the separator it shows (``,``, ``;``, tab or ``|``; see
    :mod:`assets.sources.csv_layout`), parsed the way the data rows will be (quotes,
    BOM, encoding)."""
    refuse_utf8_named_otherwise(path, label, encoding)
    return header_layout(lambda delimiter: _header(path, label, encoding, delimiter), label)


def _header(path: Path, label: str, encoding: str, delimiter: str) -> list[str]:
    try:
        with path.open(encoding=opening_codec(encoding), newline="") as handle:
            rows = csv.reader(handle, delimiter=delimiter)
            header = next(rows, None)
            if not _holds_text(header):
                # Only the lines up to the first that holds text, and only on this error.
                below = next((rows.line_num for row in rows if _holds_text(row)), None)
    except UnicodeDecodeError as error:
        raise not_text_error(path, label, encoding, str(error)) from error
    except csv.Error as error:
        raise SourceError(f"malformed CSV header: {error}", source=label) from error
    if header is None or not _holds_text(header):
        if below is None:
            raise SourceError("the file has no header and no rows", source=label)
        # Arrow reads the first line as the header; a blank one is no file's header.
        raise SourceError(
            "blank, but the header must be the first line "
            f"(the first line that holds text is line {below})",
            source=label,
            place=Place(row=0, unit="line", first=1, last=1),  # row 0: the header's
        )
    return header


def _holds_text(row: list[str] | None) -> bool:
    """Whether a parsed line names anything (not blank, not only separators)."""
    return row is not None and any(name.strip() for name in row)


def _csv_options(layout: CsvLayout) -> tuple[pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    # Everything as text, only empty cells missing: "NA" is a description, not a null.
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(layout.header, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    # Quoted descriptions may wrap.
    parse = pa_csv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=True)
    return parse, convert


def _read_options(encoding: str, **options: object) -> pa_csv.ReadOptions:
    """Arrow's options for CSV text in ``encoding``: UTF-8 is read as it is (Arrow skips
    its byte order mark); any other encoding is transcoded to UTF-8 as the stream is read,
    a block at a time (Python's incremental decoder), so memory stays as flat as for
    UTF-8."""
    return pa_csv.ReadOptions(
        block_size=_CSV_BLOCK_BYTES, encoding="utf8" if is_utf8(encoding) else encoding, **options
    )


def _read_csv(path: Path, label: str, chunk_rows: int, encoding: str) -> Iterator[SourceChunk]:
    layout = csv_layout(path, label, encoding)
    parse, convert = _csv_options(layout)
    numbering = CsvLines(path, opening_codec(encoding), layout.delimiter)
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=_read_options(encoding),
            parse_options=parse,
            convert_options=convert,
        )
        with reader:
            next_row = 1
            last: pa.Table | None = None
            held_to_grammar = False
            for table in rebatch(iter(reader), chunk_rows):
                _check_line_breaks(path, label, table, next_row, encoding, numbering)
                if not held_to_grammar and _description_wraps(table):
                    check_csv_grammar(
                        path, label, layout.header, opening_codec(encoding), layout.delimiter
                    )
                    held_to_grammar = True
                yield SourceChunk(table, label, next_row, layout.decimal_comma, numbering)
                next_row += table.num_rows
                last = table
            if last is not None:
                _check_last_value(path, label, last, next_row - 1, encoding, numbering)
            if next_row == 1:  # a header alone: still a chunk, so missing columns are named
                yield SourceChunk(reader.schema.empty_table(), label, 1, layout.decimal_comma)
    except UnicodeDecodeError as error:  # the transcoding of a non-UTF-8 file
        raise not_text_error(path, label, encoding, str(error)) from error
    except pa.ArrowInvalid as error:
        message = str(error)
        if "invalid UTF8" in message:
            raise not_text_error(path, label, encoding, message) from error
        raise _malformed_csv(path, label, layout, error, encoding, numbering) from error


def ends_in_quotes(text: str, delimiter: str = ",") -> bool:
    """Whether CSV ``text`` ends inside a quoted value (quotes mid-value are literal, as
    Arrow reads them)."""
    try:
        list(csv.reader([text], strict=True, delimiter=delimiter))
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


def _malformed_csv(
    path: Path,
    label: str,
    layout: CsvLayout,
    error: pa.ArrowInvalid,
    encoding: str,
    numbering: CsvLines,
) -> SourceError:
    """The first row Arrow cannot split into the header's fields, named by its line.

    Arrow's threaded reader knows no row numbers, so only after it has failed is the file
    read again, serially, up to the first bad row: still Arrow's C++ parser, with a
    Python handler called for that row alone. Its number counts records as the chunks
    do (the header is record 1; quoted line breaks and blank lines are not rows), which
    ``numbering`` turns into the line the row starts on.
    """
    parse, convert = _csv_options(layout)
    invalid: list[pa_csv.InvalidRow] = []

    def first_invalid(row: pa_csv.InvalidRow) -> str:
        invalid.append(row)
        return "error"

    parse.invalid_row_handler = first_invalid
    # The read is expected to fail: the handler stops it at the first bad row, which it
    # has recorded; the caller's `error` stays the error raised.
    with (
        contextlib.suppress(pa.ArrowInvalid),
        pa_csv.open_csv(
            path,
            read_options=_read_options(encoding, use_threads=False),
            parse_options=parse,
            convert_options=convert,
        ) as reader,
    ):
        collections.deque(reader, maxlen=0)  # read every batch, keep none
    if not invalid:  # not a row of the wrong width: Arrow's own words, on one line
        return SourceError(f"malformed CSV: {excerpt(str(error))}", source=label)
    row = invalid[0]
    text = row.text
    cause = f"{row.actual_columns} fields where the header has {row.expected_columns}"
    lines = _line_count(text)
    if ends_in_quotes(text, layout.delimiter):  # the quote ran to the end of the file
        cause += '; a quote (") opened in this row is never closed'
    elif lines > 1:  # only a quoted value spans lines
        cause += f"; the row runs over {lines} lines, so a quoted value may lack its closing quote"
    return SourceError(
        f"malformed CSV: {cause}: {excerpt(text)}",
        source=label,
        place=_start(numbering, row.number - 1) if row.number is not None else None,
        value=text[:EXCERPT_CHARS],
    )


def _start(numbering: CsvLines, row: int) -> Place:
    """Where data row ``row`` starts: the row of an error here is read wrongly (a quote
    that swallows the lines after it), so the lines it appears to span are no place."""
    return numbering.places((row,))[row].start()


# A quote opened in a row's last field and never closed raises nothing in the parser: the
# row has all its fields, and the rest of the file (or everything up to a quote meant for
# a later row) becomes part of that one value, so the rows after it vanish. A quote that
# pairs with a later row's quote in the same column does the same mid-row. Both leave
# line breaks in the value, and of the Online Retail fields only Description ever wraps
# (where a line break may be real, so it calls for the CSV grammar: _description_wraps).
_LINE_FEED, _CARRIAGE_RETURN = 10, 13


def _holds_line_break(column: pa.ChunkedArray) -> bool:
    """Whether any value of a text column holds a line break: one scan of the bytes the
    values occupy (about 10 ms for seven columns of a million rows; a string kernel per
    value costs fifteen times that)."""
    for chunk in column.chunks:
        _, offset_buffer, data_buffer = chunk.buffers()
        if not len(chunk) or data_buffer is None:
            continue
        width = np.dtype(np.int64 if pa.types.is_large_string(chunk.type) else np.int32)
        offsets = np.frombuffer(
            offset_buffer, width, count=len(chunk) + 1, offset=chunk.offset * width.itemsize
        )
        data = np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]
        if (data == _LINE_FEED).any() or (data == _CARRIAGE_RETURN).any():
            return True
    return False


def _line_count(text: str) -> int:
    return 1 + len(re.findall(r"\r\n?|\n", text.rstrip("\r\n")))


def _encoded(text: str, encoding: str) -> bytes:
    """``text`` as the file's bytes hold it mid-file: without the byte order mark an
    encoder of UTF-16 or UTF-32 writes first (its first call, with no text, takes it)."""
    encoder = codecs.getincrementalencoder(encoding)()
    encoder.encode("")
    return encoder.encode(text)


def _runs_to_end(path: Path, value: str, encoding: str) -> bool:
    """Whether the file ends with ``value`` quoted but never closed: ``"`` then the value
    as written (quotes doubled). A value closed properly ends the file with ``"`` (or a
    line break) instead; only a value of nothing but quotes reads the same both ways."""
    if not value.strip('"'):
        return False
    written = _encoded('"' + value.replace('"', '""'), encoding)
    size = path.stat().st_size
    if len(written) > size:
        return False
    with path.open("rb") as handle:
        handle.seek(size - len(written))
        return handle.read() == written


def _never_closed(label: str, name: str, place: Place, value: str) -> SourceError:
    lines = _line_count(value) - 1
    swallowed = f", so the {lines} line(s) after it read as part of it" if lines else ""
    return SourceError(
        f'malformed CSV: a quote (") opened in this value is never closed{swallowed}: '
        f"{excerpt(value)}",
        source=label,
        place=place,
        column=name,
        value=value[:EXCERPT_CHARS],
    )


def _check_line_breaks(
    path: Path, label: str, table: pa.Table, first_row: int, encoding: str, numbering: CsvLines
) -> None:
    """Refuse a chunk with a line break in any column but Description (vectorised; only
    the failure looks at a single value)."""
    first: tuple[int, int] | None = None  # (position in the chunk, column)
    for index, name in enumerate(table.column_names):
        if source_field(name) == "Description":
            continue
        column = table.column(index)
        if not _holds_line_break(column):
            continue
        broken = pc.or_(pc.match_substring(column, "\n"), pc.match_substring(column, "\r"))
        position = pc.index(broken, True).as_py()
        if first is None or position < first[0]:
            first = (position, index)
    if first is None:
        return
    position, index = first
    name = table.column_names[index]
    value = table.column(index)[position].as_py()
    place = _start(numbering, first_row + position)
    if index == table.num_columns - 1 and _runs_to_end(path, value, encoding):
        raise _never_closed(label, name, place, value)
    raise SourceError(
        f'malformed CSV: a line break, which only Description may hold: a quote (") opened '
        f"in this value runs over {_line_count(value)} lines, so it is likely closed only by "
        f"a later row's quote: {excerpt(value)}",
        source=label,
        place=place,
        column=name,
        value=value[:EXCERPT_CHARS],
    )


def _description_wraps(table: pa.Table) -> bool:
    """Whether a Description of the chunk holds a line break: legitimate, or a quote that
    pairs with one rows later (see :mod:`assets.sources.csv_grammar`), which only the
    strict grammar tells apart. Checking for it costs a scan of the bytes; the check it
    calls for, a pass over the whole file, is paid only by files whose Descriptions wrap."""
    return any(
        _holds_line_break(table.column(index))
        for index, name in enumerate(table.column_names)
        if source_field(name) == "Description"
    )


def _check_last_value(
    path: Path, label: str, table: pa.Table, row: int, encoding: str, numbering: CsvLines
) -> None:
    """Refuse a file that ends inside a quote opened in its last row's last field (a
    Description may wrap, and a quote opened on the last line leaves no line break)."""
    value = table.column(table.num_columns - 1)[table.num_rows - 1].as_py()
    if value is not None and _runs_to_end(path, value, encoding):
        raise _never_closed(label, table.column_names[-1], _start(numbering, row), value)


def _read_parquet(path: Path, label: str, chunk_rows: int) -> Iterator[SourceChunk]:
    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=chunk_rows)
        next_row = 1
        for table in rebatch(batches, chunk_rows):
            yield SourceChunk(table, label, next_row)
            next_row += table.num_rows
        if next_row == 1:
            yield SourceChunk(parquet.schema_arrow.empty_table(), label, 1)
    except (pa.ArrowInvalid, OSError) as error:
        raise SourceError(f"corrupt parquet: {error}", source=label) from error


#: A row of a sheet, as calamine yields it.
_Row = TypeVar("_Row", bound=Sequence[object])


def _sheet_header(rows: Iterator[_Row]) -> tuple[_Row, int] | None:
    """A sheet's header, its first row that is not blank, and that row's number as a
    spreadsheet shows it; None if every row is blank. calamine yields a sheet's rows from
    its row 1, so a sheet whose table starts lower down (a header on row 3) starts with
    blank rows, which hold nothing to load."""
    for number, row in enumerate(rows, 1):
        if any(str(cell).strip() for cell in row):
            return row, number
    return None


def _read_xlsx(path: Path, label: str, chunk_rows: int) -> Iterator[SourceChunk]:
    """Every sheet, in workbook order (the UCI file splits the years over two sheets)."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises several unexported error types
        raise SourceError(f"corrupt xlsx: {error}", source=label) from error
    try:
        for sheet_name in workbook.sheet_names:
            origin = f"{label} sheet {sheet_name!r}"
            try:
                sheet = workbook.get_sheet_by_name(sheet_name)
                rows = sheet.iter_rows()
                found = _sheet_header(rows)
                if found is None:
                    continue  # a blank sheet holds no data; the workbook may have others
                header, header_row = found
                # Named here, with its row: rows under no header are refused, not skipped,
                # and a sheet of one row (no chunk follows) would otherwise go unchecked.
                map_columns(
                    header,
                    origin,
                    found=f"its header, row {header_row} (the sheet's first row that is "
                    "not blank), holds",
                )
                numbering = Rows(header_rows=header_row)
                next_row = 1
                while True:
                    # islice + list consume calamine's iterator in C, a chunk at a time.
                    block = list(itertools.islice(rows, chunk_rows))
                    if not block:
                        break
                    frame = pd.DataFrame(block, columns=header, dtype=object)
                    yield SourceChunk(frame, origin, next_row, numbering=numbering)
                    next_row += len(block)
            except SourceError:
                raise
            except Exception as error:
                raise SourceError(f"corrupt xlsx sheet: {error}", source=origin) from error
    finally:
        workbook.close()


def _unextractable(info: zipfile.ZipInfo) -> str | None:
    """Why the member ``info`` cannot be extracted, with the fix; None if it can. Asked
    before extracting: zipfile's own errors (``RuntimeError: File <ZipInfo ...> is
    encrypted, password required for extraction``, ``NotImplementedError: That compression
    method is not supported``) read like a crash of the pipeline and name no archive."""
    if info.flag_bits & _ENCRYPTED_FLAG:
        return (
            "encrypted zip member (password-protected); the pipeline reads no passwords, "
            "so decrypt it first (extract it, or zip it again without -P)"
        )
    if info.compress_type not in _EXTRACTABLE:
        method = info.compress_type
        name = _METHOD_NAMES.get(method, "not a standard method")
        return (
            f"zip member compressed with method {method} ({name}), which the reader cannot "
            "extract; zip it again with deflate (zip's default), or extract it"
        )
    return None


def _read_zip(path: Path, label: str, chunk_rows: int, encoding: str) -> Iterator[SourceChunk]:
    """Every xlsx/csv/tsv/parquet member, extracted one at a time to a temporary file (a CSV
    member read in the run's encoding, as a CSV file is). Not ``.txt``: in a zip that is
    most often its notes (a README), not its rows."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise SourceError(f"corrupt zip: {error}", source=label) from error
    with archive, tempfile.TemporaryDirectory(prefix="online-retail-") as scratch:
        members = sorted(
            (
                info
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and info.filename.lower().endswith(_READABLE_SUFFIXES)
            ),
            key=lambda info: info.filename,
        )
        if not members:
            names = ", ".join(archive.namelist()[:10]) or "nothing"
            raise SourceError(
                f"the zip holds no .xlsx, .csv, .tsv or .parquet file (it holds: {names})",
                source=label,
            )
        for info in members:
            member_label = f"{label}!{info.filename}"
            if problem := _unextractable(info):
                raise SourceError(problem, source=member_label)
            target = Path(scratch) / Path(info.filename).name
            try:
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, length=1 << 20)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
                # zlib.error: a deflated member whose bytes do not inflate (bzip2 and lzma
                # raise OSError and EOFError for theirs).
                raise SourceError(f"corrupt zip member: {error}", source=member_label) from error
            yield from read_path(target, member_label, chunk_rows, encoding)
            target.unlink()
