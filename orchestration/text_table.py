"""Tables for people and for pipes: Rich boxes on a terminal, plain columns otherwise.

Rich sizes its output to the terminal and, when stdout is a pipe or a file, to 80
columns, so piped tables came out folded or cut (``raw_online_re…``). Output that is not
a terminal therefore gets plain, space-aligned columns with every value whole, one row
per line, ready for ``grep``, ``cut`` or ``awk``.

On a terminal the box is laid out here, not by Rich, whose squeezing of a wide table cut
headers and short values alike (``sever``, ``pa`` for ``passed``, ``77.76``/``00``). A
value is only ever folded in a column made to fold: a whole table when it fits; else its
text (``wrap``) columns fold, each at least :data:`MIN_WRAP_WIDTH` wide, or leave the box
to follow it, keyed by the row's names; then its names (``fold``) fold, at ``_``, ``-``,
``.``; and a table whose headers and short values alone are wider than the terminal
prints each row as a record, ``header  value`` a line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration.output import discard

#: A cell: plain text (never read as Rich markup or emoji codes: ``root:x:0`` is data) or a
#: styled ``Text``.
Cell = str | Text
#: Narrowest a text (``wrap``) column may be in the box; narrower, it follows the box.
MIN_WRAP_WIDTH = 40
#: Narrowest a name (``fold``) column may fold to, unless its header is wider.
MIN_FOLD_WIDTH = 8
#: Narrowest room for values lined up after their keys in lines under a box; with less,
#: a value too long for its key's line starts on the next one.
MIN_VALUE_WIDTH = 30
#: What a box adds to its columns' widths: one space either side of each column and a rule
#: after it, and the rule before the first.
_PER_COLUMN = 3
_EDGE = 1
#: Where a line under a box starts, and how much deeper a value goes that is too long for
#: its key's line (a hanging indent).
_INDENT = 2
_HANGING = 2
#: After these a name too long for its column may fold (``hub_`` ``invoice``).
_PART = re.compile(r"[^_\-./,:;=]*[_\-./,:;=]+|[^_\-./,:;=]+")
#: What a column that leaves the box says of a row with nothing to say: no line for it.
_NOTHING = ("", "-")


@dataclass(frozen=True)
class Column:
    """One column: how it is drawn on a terminal, what gives way when the box is too wide.

    ``right``: numbers, right-aligned. ``wrap``: text (errors, reasons, deps, tags), folded
    at spaces, or moved below the box. ``fold``: names (assets, checks, UUIDs), folded
    inside the box. ``key``: names the row in the lines under the box (by default the first
    column does). Any other column (a status, a count, a date) is never folded nor cut, nor
    is any header.
    """

    header: str
    right: bool = False
    wrap: bool = False
    fold: bool = False
    key: bool = False


class _Console(Console):
    """A console whose closed pipe ends its output, not the command (:mod:`.output`)."""

    def on_broken_pipe(self) -> None:
        # Rich's own raises SystemExit(1), from whichever thread printed: a piped
        # ``pipeline list | head -1`` failed, and a run's progress line could fail a task.
        self.quiet = True
        discard(self.file)


def make_console(*, stderr: bool = False) -> Console:
    """A console that soft-wraps (never inserts line breaks) when not writing to a terminal,
    and goes quiet, the command carrying on, once a reader closes its pipe. On stderr it
    always soft-wraps: an error line broken at the terminal's width came apart when
    copied (into a search, an issue); the terminal wraps it for the eye anyway."""
    console = _Console(stderr=stderr, file=sys.stderr if stderr else sys.stdout)
    console.soft_wrap = stderr or not console.is_terminal
    return console


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    *,
    title: str | None = None,
) -> None:
    """Print ``rows`` under ``columns``: boxed on a terminal, plain columns on a pipe.

    On a terminal, a ``wrap`` column the box has no room for follows it, a line per row
    that has something to say (not ``-``): the row's ``key`` cells, then the value.
    """
    if not console.is_terminal:
        _print_plain(console, columns, rows, title)
        return
    if title:  # above the box, not inside it: a title as wide as the box would wrap
        console.print(Text(title, style="italic"))
    layout = _layout(columns, rows, console.width)
    if layout is None:
        _print_records(console, columns, rows)
        return
    widths, moved = layout
    console.print(_box(columns, rows, widths))
    keys = _keys(columns)
    for i in moved:
        entries = [
            ([row[k] for k in keys], row[i]) for row in rows if _plain(row[i]) not in _NOTHING
        ]
        if entries:
            _print_entries(console, Text(f"{columns[i].header}:", style="bold"), entries)


def print_keyed_lines(console: Console, header: str, lines: Sequence[tuple[Cell, Cell]]) -> None:
    """A bold ``header:``, then ``  key  value`` per line, each value whole, its lines under
    its first: a column too wide for the terminal's table, or a run report's causes."""
    _print_entries(console, Text(f"{header}:", style="bold"), [([k], v) for k, v in lines])


def _print_plain(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None
) -> None:
    lines = [[column.header for column in columns]]
    lines += [[_plain(cell) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    if title:
        console.print(title, markup=False, emoji=False, highlight=False, soft_wrap=True)
    for line in lines:
        cells = [
            value.rjust(width) if column.right else value.ljust(width)
            for value, width, column in zip(line, widths, columns, strict=True)
        ]
        console.print(
            "  ".join(cells).rstrip(), markup=False, emoji=False, highlight=False, soft_wrap=True
        )


def _layout(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int
) -> tuple[dict[int, int], list[int]] | None:
    """The width of each column in the box, and the ``wrap`` columns that follow it; None
    when not even the headers and short values fit: each row is then a record."""
    natural = [
        max([cell_len(column.header), *(_width(row[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    keys = _keys(columns)
    movable = [i for i, column in enumerate(columns) if column.wrap and i not in keys]
    shown: list[int] = []
    for count in range(len(movable) + 1):  # the rightmost text leaves first
        moved = movable[len(movable) - count :]
        shown = [i for i in range(len(columns)) if i not in moved]
        floors = {i: _floor(columns[i], natural[i]) for i in shown if columns[i].wrap}
        widths = _shared(width, shown, natural, floors)
        if widths is not None:
            return widths, moved
    folding = [i for i in shown if columns[i].wrap or columns[i].fold]
    widths = _shared(width, shown, natural, {i: _floor(columns[i], natural[i]) for i in folding})
    return None if widths is None else (widths, moved)


def _floor(column: Column, natural: int) -> int:
    """The narrowest ``column`` folds to: never narrower than its header."""
    least = MIN_WRAP_WIDTH if column.wrap else MIN_FOLD_WIDTH
    return min(natural, max(cell_len(column.header), least))


def _shared(
    width: int, shown: list[int], natural: list[int], floors: dict[int, int]
) -> dict[int, int] | None:
    """Widths for the ``shown`` columns in a box ``width`` wide: the others whole, those of
    ``floors`` cut down from the widest (a long value folds before a short one), none below
    its floor; None if the floors do not fit."""
    room = (
        width - _EDGE - _PER_COLUMN * len(shown) - sum(natural[i] for i in shown if i not in floors)
    )
    if sum(floors.values()) > room:
        return None
    level = max(natural[i] for i in shown)
    while sum(max(floor, min(natural[i], level)) for i, floor in floors.items()) > room:
        level -= 1
    widths = {
        i: max(floors[i], min(natural[i], level)) if i in floors else natural[i] for i in shown
    }
    spare = room - sum(widths[i] for i in floors)
    for i in floors:  # what the level leaves over, to the leftmost columns cut down
        if spare and widths[i] < natural[i]:
            widths[i] += 1
            spare -= 1
    return widths


def _box(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], widths: dict[int, int]
) -> Table:
    table = Table()
    for i, width in widths.items():
        table.add_column(
            Text(columns[i].header),  # a query's column name, as the engine spelled it
            justify="right" if columns[i].right else "left",
            width=width,
            no_wrap=True,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(Text("\n").join(_wrap(_text(row[i]), w)) for i, w in widths.items()))
    return table


def _print_records(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]
) -> None:
    """Each row as ``header  value`` lines under its keys (or ``row N``): for a table whose
    headers and short values alone are wider than the terminal."""
    keys = [i for i, column in enumerate(columns) if column.key]
    for number, row in enumerate(rows, start=1):
        title = Text("  ").join(_text(row[k]) for k in keys) if keys else Text(f"row {number}")
        title.stylize("bold")
        entries = [([columns[i].header], row[i]) for i in range(len(columns)) if i not in keys]
        _print_entries(console, title, entries)


def _print_entries(
    console: Console, heading: Text, entries: Sequence[tuple[Sequence[Cell], Cell]]
) -> None:
    """``heading``, then a line per entry: its keys lined up in columns, then its value,
    whose further lines start under its first; when the keys leave less room than
    :data:`MIN_VALUE_WIDTH`, see :func:`_under_the_keys`. No line ends in spaces."""
    console.print(heading)
    widths = [max(_width(keys[j]) for keys, _ in entries) for j in range(len(entries[0][0]))]
    value_at = _INDENT + sum(width + 2 for width in widths)
    for keys, value in entries:
        if console.width - value_at >= MIN_VALUE_WIDTH:
            lead = Text(" " * _INDENT)
            for key, width in zip(keys, widths, strict=True):
                lead.append_text(_text(key))
                lead.append(" " * (width - _width(key) + 2))
            first, *rest = _wrap(_text(value), console.width - value_at)
            lines = [lead + first, *(Text(" " * value_at) + line for line in rest)]
        else:
            lines = _under_the_keys(keys, _text(value), console.width)
        for line in lines:
            line.rstrip()
            console.print(line, soft_wrap=True)


def _under_the_keys(keys: Sequence[Cell], value: Text, width: int) -> list[Text]:
    """An entry whose keys are too wide to line values up after them: the value after its
    keys if it fits there whole, else on the lines under them, a little deeper."""
    lead = Text(" " * _INDENT) + Text("  ").join(_text(key) for key in keys)
    if cell_len(lead.plain) + 2 + _width(value) <= width and "\n" not in value.plain:
        return [lead + "  " + value]
    deeper = _INDENT + _HANGING
    return [lead, *(Text(" " * deeper) + line for line in _wrap(value, width - deeper))]


def _wrap(text: Text, width: int) -> list[Text]:
    """``text`` in lines at most ``width`` cells wide, styles kept: broken at its spaces
    and newlines, a word too long for a line after its ``_ - . / , : ; =``, and only a
    piece too long even so between characters."""
    lines = []
    start = 0
    for paragraph in text.plain.split("\n"):
        lines += [text[start + a : start + b] for a, b in _line_spans(paragraph, width)]
        start += len(paragraph) + 1
    return lines


def _line_spans(plain: str, width: int) -> list[tuple[int, int]]:
    spans = []
    line: tuple[int, int] | None = None
    for start, end in _pieces(plain, width):
        if line is not None and cell_len(plain[line[0] : end]) <= width:
            line = (line[0], end)
            continue
        if line is not None:
            spans.append(line)
        while cell_len(plain[start:end]) > width:
            cut = _cut(plain, start, width)
            spans.append((start, cut))
            start = cut
        line = (start, end)
    return [*spans, line] if line is not None else [(0, 0)]


def _pieces(plain: str, width: int) -> Iterator[tuple[int, int]]:
    """The words of ``plain``; of a word wider than ``width``, the parts it may fold after."""
    for word in re.finditer(r"\S+", plain):
        if cell_len(word.group()) <= width:
            yield word.span()
            continue
        for part in _PART.finditer(word.group()):
            yield word.start() + part.start(), word.start() + part.end()


def _cut(plain: str, start: int, width: int) -> int:
    """Where a piece starting at ``start`` is cut to fit ``width``: one character at least."""
    end = start + 1
    while end < len(plain) and cell_len(plain[start : end + 1]) <= width:
        end += 1
    return end


def _keys(columns: Sequence[Column]) -> list[int]:
    return [i for i, column in enumerate(columns) if column.key] or [0]


def _width(cell: Cell) -> int:
    """The cells its widest line takes on a terminal."""
    text = cell.plain if isinstance(cell, Text) else cell
    return max(cell_len(line) for line in text.split("\n"))


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return " ".join(text.splitlines())
