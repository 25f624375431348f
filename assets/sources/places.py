"""Where a row sits in its source, in the numbers a person finds it by.

A text file (CSV) is numbered by its physical lines, the header being line 1: an editor
goes to a line, a spreadsheet that opens the file shows the same numbers, and an error
in the bytes (:mod:`assets.sources.decoding`) can only be placed by line. Rows are no
substitute: a quoted value holding a line break, or a blank line, puts every later row
further down than its count says. A workbook is numbered by its sheet's rows, as a
spreadsheet shows them (the header is row 1, or lower down below blank rows), and
Parquet, which has neither lines nor a header row, by its rows from 1.

Arrow's CSV reader counts records, never lines, so a CSV row's lines are found only once
an error names it: the file is read again with Python's C ``csv`` reader (the same
dialect: double quotes, a line break inside quotes is part of the value, blank lines are
no rows) up to that row, noting the line each record ends on, without a line of Python
per row (about 0.6 s of CPU a million rows). Where that read cannot follow (a value over
its field limit, which Arrow reads), the error names the data row and says so, rather
than guess a line.
"""

from __future__ import annotations

import csv
import itertools
import operator
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

#: What a place counts: a text file's lines, a sheet's or Parquet file's rows, or the data
#: rows of a text file whose lines could not be counted.
Unit = Literal["line", "row", "data row"]


@dataclass(frozen=True)
class Place:
    """Where a row sits: its 1-based data ``row`` (the header not counted) and the
    ``unit`` and numbers (``first`` to ``last``) a person finds it by: ``line`` 5 to 7 of
    a text file, ``row`` 32 of a sheet, or ``data row`` 31 of a text file whose lines are
    not known."""

    row: int
    unit: Unit
    first: int
    last: int

    def __str__(self) -> str:
        if self.first == self.last:
            return f"{self.unit} {self.first}"
        return f"{self.unit}s {self.first}-{self.last}"

    @property
    def lines(self) -> tuple[int, int] | None:
        """The physical lines the row spans, if it is a text file's and they are known."""
        return (self.first, self.last) if self.unit == "line" else None

    def start(self) -> Place:
        """The row's first line alone: where a row that swallowed the lines after it
        (a quote never closed) begins, its apparent end being the error's doing."""
        return Place(self.row, self.unit, self.first, self.first)


def span(first: Place, last: Place) -> str:
    """The rows from ``first`` to ``last`` (of one numbering): ``lines 2-1,001``, or
    ``line 2`` when they are one line."""
    if first.first == last.last:
        return f"{first.unit} {first.first:,}"
    return f"{first.unit}s {first.first:,}-{last.last:,}"


class RowNumbering(Protocol):
    """How a source's rows are named in errors."""

    def places(self, rows: Collection[int]) -> dict[int, Place]:
        """The place of each data row in ``rows`` (1-based, the header not counted)."""
        ...


@dataclass(frozen=True)
class Rows:
    """Rows counted from the source's first: Parquet's and the generator's from 1 (no
    header), a sheet's from the row below its header (``header_rows``: the header's row,
    1 unless blank rows sit above it)."""

    header_rows: int = 0

    def places(self, rows: Collection[int]) -> dict[int, Place]:
        shown = {row: row + self.header_rows for row in rows}
        return {row: Place(row, "row", at, at) for row, at in shown.items()}


#: Rows numbered from 1, for sources with no header row.
DATA_ROWS = Rows()


@dataclass(frozen=True)
class CsvLines:
    """The physical lines of a CSV file's rows. ``encoding`` is how Python opens its text
    (``utf-8-sig`` for UTF-8, :func:`orchestration.text_encoding.opening_codec`),
    ``delimiter`` what separates its fields."""

    path: Path
    encoding: str
    delimiter: str

    def places(self, rows: Collection[int]) -> dict[int, Place]:
        try:
            return self._read(sorted(set(rows)))
        except (OSError, UnicodeDecodeError, csv.Error):
            # Unreadable past some row (a value over the field limit): no line is guessed.
            return {row: Place(row, "data row", row, row) for row in rows}

    def _read(self, wanted: list[int]) -> dict[int, Place]:
        found: dict[int, Place] = {}
        with self.path.open(encoding=self.encoding, newline="") as handle:
            records = _numbered_records(csv.reader(handle, delimiter=self.delimiter))
            passed = 0  # records consumed so far, the header included
            for row in wanted:
                record = next(itertools.islice(records, row - passed, None), None)
                if record is None:  # the file is shorter now than when it was read
                    raise OSError(f"no data row {row}")
                before, last = record
                found[row] = Place(row, "line", before + 1, last)
                passed = row + 1
        return found


def _numbered_records(reader: Iterator[list[str]]) -> Iterator[tuple[int, int]]:
    """For each record (the header first), the line before it and the line it ends on;
    blank lines, which Arrow skips, are no records. The line before is the end of the
    reader's previous record, a blank line being one of its own: counting back from the
    end by the line breaks a record's values hold would miss by one at a quote never
    closed, whose value holds the file's last line break. C iterators only: ``zip``
    reads the reader's line count right after each record, and ``tee`` keeps one record
    beside the one before it."""
    ends = map(operator.attrgetter("line_num"), itertools.repeat(reader))
    records, previous, kept = itertools.tee(zip(reader, ends, strict=False), 3)
    befores = itertools.chain((0,), map(operator.itemgetter(1), previous))
    spans = zip(befores, map(operator.itemgetter(1), records), strict=False)
    return itertools.compress(spans, map(operator.itemgetter(0), kept))
