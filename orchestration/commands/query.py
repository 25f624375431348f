"""``pipeline query "SQL"``: read the warehouse from the command line.

The statement runs on a session where ClickHouse itself refuses writes, settings changes
and table functions reaching files or the network (``--allow-external`` allows those
reads); ClickHouse's parser and sqlglot first make sure it is exactly one read statement
and say why not (:mod:`io_managers.read_only`).
The statement goes to the code location's ``warehouse`` IO manager
(:meth:`IOManager.read_only_text` for the table, which shows each value as the engine
prints it); where it does not exist the query is refused ("no warehouse at PATH") and
nothing is created. Errors propagate; the CLI's ``main`` prints them as one line
(``--verbose`` for the engine's whole message, ``--debug`` for the traceback) and exits
non-zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from orchestration.cli_options import (
    DefinitionsOption,
    JsonFormatOption,
    WarehouseOption,
    format_or_json,
)
from orchestration.definitions import load_definitions
from orchestration.errors import ExpectedError, said_in_full
from orchestration.missing_storage import for_reading
from orchestration.output import document_option, write_bytes
from orchestration.text_table import Column, make_console, print_table

if TYPE_CHECKING:
    from orchestration.io_manager import IOManager, QueryText, TextColumn

#: The table format is for eyes; beyond this many rows use csv or json.
TABLE_MAX_ROWS = 1000


class OutputFormat(StrEnum):
    """How ``pipeline query`` prints its result."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        case_sensitive=False,
        help="table (for people), csv (header row, then rows) or json (a list of objects, "
        "one a line; NaN and infinities null, 64-bit and wider integers and decimals as "
        "strings, date-times ISO 8601 UTC); csv and json hold all of stdout.",
        callback=document_option,
    ),
]


def query(
    ctx: typer.Context,
    sql: Annotated[
        str,
        typer.Argument(
            metavar="SQL",
            help="One read statement: SELECT, WITH, SHOW, DESCRIBE or EXPLAIN of a SELECT.",
        ),
    ],
    format: FormatOption = OutputFormat.table,
    as_json: JsonFormatOption = False,
    allow_external: Annotated[
        bool,
        typer.Option(
            "--allow-external",
            help="Let table functions read files and the network (file, url, s3, remote, ...); "
            "writes stay refused.",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",  # one flag, as materialize's: no "--no-verbose" column in the help
            help="Say an error in full: the engine's whole message (every token a syntax "
            "error could have taken, its quote of the query).",
        ),
    ] = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Run a read-only query against the warehouse and print the result."""
    from orchestration.interrupts import run_interruptibly

    output_format = format_or_json(
        ctx, OutputFormat(str(format).lower()), as_json, OutputFormat.json
    )
    # Opened for reading: a warehouse that does not exist is refused, never created.
    wh = for_reading(load_definitions(definitions).io_manager(location=warehouse))

    def read() -> None:
        _read_and_print(wh, sql, output_format, allow_external)

    # The embedded engine keeps the thread running a statement until it ends: Ctrl-C or
    # SIGTERM reached the command only then (71 s into a long sum). The statement runs
    # in a worker; a signal ends the process at once (130 / 143), as a stopped run does.
    # A read leaves nothing half-done: the engine's lock goes with the process.
    try:
        with contextlib.closing(wh):
            run_interruptibly(read, on_interrupt=lambda _signal: None)
    except ExpectedError as exc:
        if verbose:
            said_in_full(exc)
        raise


def _read_and_print(
    wh: IOManager, sql: str, output_format: OutputFormat, allow_external: bool
) -> None:
    """Run ``sql`` on ``wh`` and print its rows in ``output_format``."""
    if output_format is OutputFormat.csv:
        # ClickHouse's own CSV, a block of rows at a time: the whole text of
        # numbers(5000000) held at once took 0.4 GB.
        _write_stream(wh.read_only_stream(sql, "CSVWithNames", allow_external=allow_external))
        return
    if output_format is OutputFormat.json:
        # ClickHouse's own JSON too, its rules for NaN, big integers and date-times
        # (io_managers.read_only.JSON_SETTINGS), written as it comes.
        _write_stream(wh.read_only_json(sql, allow_external=allow_external))
        return
    # The table shows TABLE_MAX_ROWS rows: the engine is asked for one more, to say the
    # result was cut, not for all of them (numbers(5000000): peak RSS 455 MB, now 320 MB,
    # as much as SELECT 1). It renders each value as it prints it (a DateTime as a date
    # and time, not the Unix timestamp a client library holds).
    result = wh.read_only_text(sql, allow_external=allow_external, max_rows=TABLE_MAX_ROWS + 1)
    _print_table(result)


def _write_stream(pieces: Generator[bytes, None, None]) -> None:
    """Write each piece as it comes. Once the reader has gone (``| head``) the rest is
    not wanted: the query is stopped rather than run to its end into /dev/null."""
    with contextlib.closing(pieces):
        for piece in pieces:
            if not write_bytes(piece):
                return


def _column(column: TextColumn, *, terminal: bool) -> Column:
    """How a result column is drawn, by its type (:class:`TextColumn`): a number
    right-aligned (on a terminal: piped columns stay as scripts read them) and, like a
    date, time or boolean, never folded; any other value (text, a UUID, an array) folds
    when the table is wider than the terminal."""
    if column.kind == "number":
        return Column(column.name, right=terminal)
    if column.kind == "fixed":
        return Column(column.name)
    return Column(column.name, fold=True)


def _print_table(result: QueryText) -> None:
    console = make_console()
    columns = [_column(column, terminal=console.is_terminal) for column in result.columns]
    shown = result.rows[:TABLE_MAX_ROWS]
    rows = [["NULL" if value is None else value for value in row] for row in shown]
    print_table(console, columns, rows)
    total = len(result.rows)
    hidden = total - len(shown)
    if hidden == 1:  # the row past the table, asked for to tell: a query's result goes on
        footer = f"first {len(shown)} rows shown; there are more"
        footer += ": use --format csv or json for all of them"
    else:  # all of them (a SHOW, DESCRIBE or EXPLAIN is not cut by the engine)
        footer = f"{total} row{'s' if total != 1 else ''}"
        if hidden:
            footer += f" ({hidden} not shown; use --format csv or json for all of them)"
    make_console(stderr=True).print(footer, style="dim")
