"""Hold a CSV file to the CSV grammar (RFC 4180) where a lenient read could lose rows.

Arrow's CSV reader, like most, is lenient about one thing: a quote that ends a quoted
value may be followed by more text, which it appends to the value. So a quote opened in a
Description and never closed on its line pairs with the next quote in the file, say the
one that opens ``"GLASS STAR" FROSTED`` rows later, and every row between becomes part of
one Description: the file loads, short of those rows, and nothing says so. The grammar
forbids it: a closing quote is followed by the delimiter, a line end or the end of the
file. ClickHouse's reader keeps that rule (so the engine declines such a file); this
module applies it to the files the Python reader reads.

Python's C ``csv`` reader with ``strict=True`` is that grammar, run without a line of
Python per row. Only after it has failed is the file read again, to name the row (by
the line it starts on, as every CSV error names a row: :mod:`assets.sources.places`) and
the column.
"""

from __future__ import annotations

import collections
import csv
import functools
import itertools
import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from assets.sources.errors import EXCERPT_CHARS, SourceError, excerpt
from assets.sources.places import Place

#: A quoted value as the grammar has it, possessive so that it ends where a CSV reader
#: ends it: at the first quote not doubled.
_QUOTED = re.compile(r'"(?:[^"]|"")*+"')
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
#: How the strict reader says a quoted value runs to the end of the file, and that a
#: value outgrew its limit (Modules/_csv.c). The limit stays: it bounds the memory a
#: runaway quote takes, and no Online Retail value comes near it.
_END_OF_DATA = "unexpected end of data"
_TOO_LONG_WORDS = "field larger than field limit"
_TOO_LONG = (
    f"a value of over {csv.field_size_limit()} characters on one line, more than the "
    "strict CSV check reads (the file's Descriptions wrap, so it is held to that check)"
)


def check_csv_grammar(
    path: Path, label: str, header: list[str], encoding: str, delimiter: str = ","
) -> None:
    """Raise :class:`SourceError` at the first record of ``path`` outside the CSV grammar.

    One pass of the C reader over the whole file (about 0.7 s of CPU a million rows, so
    the caller runs it only when a lenient read shows the sign of a runaway quote: a
    line break in a Description). ``encoding`` is how Python opens the file's text
    (``utf-8-sig`` for UTF-8), so the values it quotes read as the file's characters;
    ``delimiter`` separates its fields (see :mod:`assets.sources.csv_layout`).
    """
    with _open(path, encoding) as handle:
        reader = csv.reader(handle, strict=True, delimiter=delimiter)
        try:
            collections.deque(reader, maxlen=0)  # parse every record, keep none
        except csv.Error as error:
            raise _violation(path, label, header, str(error), encoding, delimiter) from error


def _open(path: Path, encoding: str) -> TextIO:
    # Undecodable bytes are Arrow's to name; they are never a quote or a delimiter.
    return path.open(encoding=encoding, errors="replace", newline="")


@dataclass(frozen=True)
class _Record:
    """The record the strict reader failed in: its data row (0: the header), the line it
    starts on and its text, from that line to the one the reader stopped on."""

    row: int
    line: int
    text: str

    def line_at(self, position: int) -> int:
        """The line of the file that ``text[position]`` sits on."""
        return self.line + len(_LINE_BREAK.findall(self.text, 0, position))


def _failing_record(path: Path, label: str, encoding: str, delimiter: str) -> _Record:
    """Read the file again up to the failure, noting each record's number and last line
    with C iterators (no Python per row); then read the failing record's lines.

    They are few: the reader fails as soon as a value ends badly or outgrows its limit,
    so the text is at most a record's worth of values of that limit.
    """
    last: collections.deque[tuple[list[str], int, int]] = collections.deque(maxlen=1)
    with _open(path, encoding) as handle:
        reader = csv.reader(handle, strict=True, delimiter=delimiter)
        records = filter(None, reader)  # a blank line is no record, as in Arrow
        line_numbers = map(operator.attrgetter("line_num"), itertools.repeat(reader))
        try:  # zip reads the line number after each record, so it is the record's last
            last.extend(zip(records, itertools.count(), line_numbers))
        except csv.Error:
            stopped_at = reader.line_num
        else:  # what failed a moment ago reads cleanly now: the file is being written
            raise SourceError(
                "the file changed while it was read; read it again when it is whole",
                source=label,
            )
    _, index, end_line = last[0] if last else ([], -1, 0)
    with _open(path, encoding) as handle:
        text = "".join(itertools.islice(handle, end_line, stopped_at))
    record = text.lstrip("\r\n")  # less the blank lines before it
    blank = len(_LINE_BREAK.findall(text, 0, len(text) - len(record)))
    return _Record(row=index + 1, line=end_line + 1 + blank, text=record)


def _bad_field(text: str, delimiter: str) -> tuple[int, int, re.Match[str] | None] | None:
    """The field of a record's ``text`` that breaks the grammar: its index, where its
    opening quote is and the quoted value, or None as the value never closes; None if
    every field is well formed."""
    index = position = 0
    while True:
        quoted = _QUOTED.match(text, position)
        if text.startswith('"', position) and quoted is None:
            return index, position, None
        end = quoted.end() if quoted else _end_of_unquoted(text, position, delimiter)
        if text.startswith(delimiter, end):
            index, position = index + 1, end + 1
        elif quoted and end < len(text) and text[end] not in "\r\n":
            return index, position, quoted
        else:
            return None


@functools.cache
def _unquoted(delimiter: str) -> re.Pattern[str]:
    """An unquoted value: anything up to the delimiter or a line end."""
    return re.compile(f"[^{re.escape(delimiter)}\\r\\n]*")


def _end_of_unquoted(text: str, position: int, delimiter: str) -> int:
    """Where an unquoted value starting at ``position`` ends: at a delimiter or line end."""
    match = _unquoted(delimiter).match(text, position)
    return match.end() if match else position


def _lines_on(text: str) -> int:
    """Lines ``text`` runs on past its first, less blank ones: the data rows it reaches
    into when its line breaks are taken for row ends."""
    lines = _LINE_BREAK.split(text)
    return sum(1 for line in lines[1:-1] if line) + (len(lines) > 1)


def _violation(
    path: Path, label: str, header: list[str], reason: str, encoding: str, delimiter: str
) -> SourceError:
    """The strict reader's failure as one line naming the row's line, column and cause."""
    record = _failing_record(path, label, encoding, delimiter)
    source = label if record.row else f"{label} header"
    place = Place(record.row, "line", record.line, record.line) if record.row else None
    found = _bad_field(record.text, delimiter)
    if found is None:  # no quote's doing: an unquoted value over the reader's limit
        cause = _TOO_LONG if _TOO_LONG_WORDS in reason else reason
        return SourceError(
            f"malformed CSV: {cause}", source=source, place=place, value=record.text[:EXCERPT_CHARS]
        )
    index, opened, quoted = found
    name = header[index] if index < len(header) else f"field {index + 1}"
    value = record.text[opened:]
    if quoted is None:
        cause = _never_closed(value, reason)
    else:
        value, cause = _closed_too_soon(record, opened, quoted, delimiter)
    return SourceError(
        f"malformed CSV: {cause}",
        source=source,
        place=place,
        column=name,
        value=value[:EXCERPT_CHARS],
    )


def _never_closed(value: str, reason: str) -> str:
    """Why a quoted value that runs to the end of the file, or past the reader's limit, is
    refused."""
    lines = _lines_on(value.rstrip("\r\n"))
    if _END_OF_DATA in reason:
        return (
            f'a quote (") opened in this value is never closed, so the {lines} line(s) after '
            f"it read as part of it: {excerpt(value)}"
        )
    if lines:
        return (
            f"the quote opened here is still open {lines} lines later (over "
            f"{csv.field_size_limit()} characters), so it would swallow the rows after it"
        )
    return _TOO_LONG


def _closed_too_soon(
    record: _Record, opened: int, quoted: re.Match[str], delimiter: str
) -> tuple[str, str]:
    """The value shown and the cause, for a quoted value with text after its closing quote."""
    text = record.text
    closing = quoted.end() - 1
    end = _end_of_unquoted(text, closing + 1, delimiter)
    line_start = 1 + max(text.rfind("\n", 0, closing), text.rfind("\r", 0, closing))
    if line_start <= opened:  # opened and closed on one line
        written = text[opened:end]
        return written, (
            f"text after the closing quote of a quoted value: {excerpt(written)} (a quote "
            'inside a quoted value is written twice: "")'
        )
    # The closing quote sits in a later row: quote the value it sits in, as that row has it.
    later = text[max(text.rfind(delimiter, line_start, closing) + 1, line_start) : end]
    return text[opened:], (
        f"the quote opened here closes inside a later value (line {record.line_at(closing)}: "
        f"{excerpt(later)}), which would swallow the rows between"
    )
