"""Tables for people and for pipes: Rich boxes on a terminal, plain columns otherwise.

Rich sizes its output to the terminal and, when stdout is a pipe or a file, to 80
columns, so piped tables came out folded or cut (``raw_online_re…``). Output that is not
a terminal therefore gets plain, space-aligned columns with every value whole, one row
per line, ready for ``grep``, ``cut`` or ``awk``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration.output import discard

#: A cell: plain text (never read as Rich markup or emoji codes: ``root:x:0`` is data) or a
#: styled ``Text``.
Cell = str | Text
#: Narrowest a folding column may be on a terminal before it moves below the table.
MIN_WRAP_WIDTH = 40


@dataclass(frozen=True)
class Column:
    """One column. ``wrap`` columns (errors, tags) fold on a terminal instead of being cut."""

    header: str
    right: bool = False
    wrap: bool = False


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

    On a terminal too narrow to give each ``wrap`` column :data:`MIN_WRAP_WIDTH`
    characters, those columns leave the box and follow it as whole lines, one per row
    (``<first cell>  <value>``), rather than being folded into a sliver mid-word. A
    table of only ``wrap`` columns (query results) folds them all inside the box.
    """
    if not console.is_terminal:
        _print_plain(console, columns, rows, title)
        return
    if title:  # above the box, not inside it: a title as wide as the box would wrap
        console.print(Text(title, style="italic"))
    wrapped = [i for i, column in enumerate(columns) if column.wrap]
    boxed = [i for i, column in enumerate(columns) if not column.wrap]
    table = _rich_table([columns[i] for i in boxed], [[row[i] for i in boxed] for row in rows])
    spare = console.width - console.measure(table).maximum - 3 * len(wrapped)
    if not wrapped or not boxed or spare >= MIN_WRAP_WIDTH * len(wrapped):
        console.print(_rich_table(columns, rows))
        return
    console.print(table)
    for i in wrapped:
        lines = [(row[0], row[i]) for row in rows if _plain(row[i])]
        if lines:
            print_keyed_lines(console, columns[i].header, lines)


def print_keyed_lines(console: Console, header: str, lines: Sequence[tuple[Cell, Cell]]) -> None:
    """A bold ``header:``, then ``  key  value`` per line, each value whole: a column too
    wide for the terminal's table, or a run report's causes under its table."""
    console.print(Text(f"{header}:", style="bold"))
    for key, value in lines:
        console.print(Text.assemble("  ", key, "  ", value))


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


def _rich_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> Table:
    table = Table()
    for column in columns:
        table.add_column(
            Text(column.header),  # a query's column name, as the engine spelled it
            justify="right" if column.right else "left",
            no_wrap=not column.wrap,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return " ".join(text.splitlines())
