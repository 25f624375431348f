"""Apply a code location's DDL files to the warehouse, statement by statement.

Setup runs before every materialization (commands that only read never set up), and a
DDL file is mostly ``CREATE ... IF NOT EXISTS``: once a warehouse exists, each of those is
a no-op the engine still has to parse and look up. So the catalog is read once first,
and a ``CREATE DATABASE|TABLE|VIEW IF NOT EXISTS`` whose object it already holds is not
sent (the engine would not have changed anything). Which
statement creates what is read by sqlglot's ClickHouse parser, once per statement text
(:mod:`io_managers.ddl_analysis`); anything it does not recognise as such a CREATE runs
as before.

On a new warehouse every CREATE runs, and a table's creation is mostly the engine writing
its metadata and directories: 27 tables took 0.14-0.19 s one after another and
0.08-0.10 s two at a time on two cores (docs/benchmark.md). So consecutive CREATE TABLE
statements that need nothing but their own column list (a MergeTree, Log or Memory
engine, no ``AS``) run side by side; every other statement waits for those before it and
runs alone, so a view, an ``AS`` copy, an INSERT or a database is applied in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from io_managers.ddl_analysis import column_offset, statement_facts
from io_managers.errors import DdlFileError, DdlStatementError, WarehouseQueryError
from io_managers.sql_tokens import split_statements
from io_managers.transport import Transport
from orchestration.errors import Place, shown_path

#: Tables created side by side on a new warehouse (two cores gained 40%; more, little).
DDL_THREADS = 4

_EXISTING = (
    "SELECT 'database' AS kind, name FROM system.databases "
    "UNION ALL SELECT 'table' AS kind, concat(database, '.', name) AS name FROM system.tables"
)


def apply_ddl(transport: Transport, ddl_paths: Sequence[Path | str]) -> int:
    """Run DDL files (or directories of ``*.sql``); returns the number of statements
    applied (run, or a CREATE IF NOT EXISTS already in effect).

    Idempotent as long as the DDL says ``IF NOT EXISTS``. A failing statement is reported
    with its file and position, so a broken DDL file points at its own line (the first
    in file order, if statements run side by side failed).
    """
    statements = [statement for path in ddl_files(ddl_paths) for statement in _located(path)]
    existing = {(row["kind"], row["name"]) for row in transport.query_arrow(_EXISTING).to_pylist()}
    side_by_side: list[_Statement] = []
    for statement in statements:
        facts = statement_facts(statement.text)
        created = facts.created
        if created is not None and created in existing:
            continue
        if facts.self_contained:
            side_by_side.append(statement)
        else:
            _run_together(transport, side_by_side)
            side_by_side = []
            _run_together(transport, [statement])
        if created is not None:
            existing.add(created)
    _run_together(transport, side_by_side)
    return len(statements)


@dataclass(frozen=True)
class _Statement:
    path: Path
    number: int
    text: str
    #: Where it starts in its file, 1-based, as editors count.
    line: int
    column: int

    def place(self, engine_message: str) -> str:
        """``path:line:column`` of the error: the engine's ``(line L, col C)``, counted
        from the statement's start, turned into the file's; else the statement's start."""
        path = shown_path(self.path)
        where = _ENGINE_PLACE.search(engine_message)
        if where is None:
            return f"{path}:{self.line}:{self.column}"
        line, column = int(where["line"]), int(where["col"])
        if line == 1:
            column += self.column - 1
        return f"{path}:{self.line + line - 1}:{column}"


#: Where ClickHouse says a syntax error is, from the start of the statement it was sent.
_ENGINE_PLACE = re.compile(r"\(line (?P<line>[0-9]+), col (?P<col>[0-9]+)\)")


def _located(path: Path) -> list[_Statement]:
    """The statements of one DDL file with where each starts in it."""
    text = path.read_text()
    located: list[_Statement] = []
    cursor = 0
    for number, statement in enumerate(_split(path, text), start=1):
        start = text.index(statement, cursor)  # a statement is a slice of the text, in order
        cursor = start + len(statement)
        line_start = text.rfind("\n", 0, start) + 1
        located.append(
            _Statement(
                path, number, statement, text.count("\n", 0, start) + 1, start - line_start + 1
            )
        )
    return located


def column_place(ddl_paths: Sequence[Path | str], table: str, column: str) -> Place | None:
    """Where the DDL declares ``column`` of ``table`` (``database.table``),
    as a finding about that column names it; None when no ``CREATE TABLE`` with its own
    column list declares it. The statements' kept facts say which one is the table's, so
    only that statement is parsed again, for where the column is in it."""
    for path in ddl_files(ddl_paths):
        for statement in _located(path):
            declares = statement_facts(statement.text).declares
            if declares is None or declares.table != table or column not in declares.columns:
                continue
            offset = column_offset(statement.text, column)
            if offset is not None:
                line = statement.line + statement.text.count("\n", 0, offset)
                return Place.at(path, line)
    return None


def declared_tables(ddl_paths: Sequence[Path | str]) -> dict[str, Place]:
    """Each table a ``CREATE TABLE`` with its own column list declares in ``ddl_paths``,
    with where its name is, and each table or view a ``CREATE ... IF NOT EXISTS``
    without one creates (``AS other``, a view), with where its statement starts; in file
    order (a table declared twice: its first place). What the DDL creates, for validate
    and for the refusal of an asset whose table it does not create.

    Raises :class:`DdlFileError` at a statement sqlglot cannot parse: it may create a
    table, so the DDL's tables cannot be told, and a refusal for a missing ``CREATE
    TABLE`` would point away from the statement to fix (applying it says why)."""
    tables: dict[str, Place] = {}
    for path in ddl_files(ddl_paths):
        for statement in _located(path):
            facts = statement_facts(statement.text)
            if not facts.parsed:
                raise DdlFileError(f"{statement.place('')}: a statement sqlglot cannot parse")
            declares, created = facts.declares, facts.created
            if declares is not None:
                name = declares.table
                line = statement.line + statement.text.count("\n", 0, declares.name_span[0])
            elif created is not None and created[0] == "table":
                name, line = created[1], statement.line
            else:
                continue
            tables.setdefault(name, Place.at(path, line))
    return tables


def _run_together(transport: Transport, statements: Sequence[_Statement]) -> None:
    """Run ``statements`` at once (one alone: in this thread); raise the first failure."""
    if len(statements) <= 1:
        for statement in statements:
            _run(transport, statement)
        return
    with ThreadPoolExecutor(max_workers=min(len(statements), DDL_THREADS)) as pool:
        jobs = [pool.submit(_run, transport, statement) for statement in statements]
    for job in jobs:
        job.result()


def _run(transport: Transport, statement: _Statement) -> None:
    try:
        transport.command(statement.text)
    except WarehouseQueryError as exc:
        head = " ".join(statement.text.split())[:80]
        raise DdlStatementError(
            f"{statement.place(str(exc))}: statement {statement.number} ({head}...) failed: {exc}"
        ) from None


def ddl_statements(path: Path) -> list[str]:
    """The statements of one DDL file (kept on disk: every command reads them); a file
    that cannot be split is named with the cause."""
    return _split(path, path.read_text())


def _split(path: Path, text: str) -> list[str]:
    try:
        return split_statements(text, keep=True)
    except ValueError as exc:
        raise DdlFileError(f"DDL file {shown_path(path)}: {exc}") from None


def ddl_files(paths: Sequence[Path | str]) -> Iterator[Path]:
    """The files named, with each directory expanded to its ``*.sql`` in name order."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from sorted(path.glob("*.sql"))
        elif path.is_file():
            yield path
        else:
            raise DdlFileError(f"DDL file {shown_path(path)} does not exist")
