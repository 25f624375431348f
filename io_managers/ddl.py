"""Apply a code location's DDL files to the warehouse, statement by statement.

Setup runs on every command, and a DDL file is mostly ``CREATE ... IF NOT EXISTS``: once a
warehouse exists, each of those is a no-op the engine still has to parse and look up. So
the catalog is read once first, and a ``CREATE DATABASE|TABLE|VIEW IF NOT EXISTS`` whose
object it already holds is not sent (the engine would not have changed anything). Which
statement creates what is read by sqlglot's ClickHouse parser; anything it does not
recognise as such a CREATE runs as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from io_managers.errors import WarehouseError, WarehouseQueryError
from io_managers.sql import split_statements
from io_managers.transport import Transport

DIALECT = "clickhouse"

#: What the catalog holds: ``("database", name)`` and ``("table", "db.name")`` (views too).
CatalogObject = tuple[str, str]

_EXISTING = (
    "SELECT 'database' AS kind, name FROM system.databases "
    "UNION ALL SELECT 'table' AS kind, concat(database, '.', name) AS name FROM system.tables"
)


def apply_ddl(transport: Transport, ddl_paths: Sequence[Path | str]) -> int:
    """Run DDL files (or directories of ``*.sql``); returns the number of statements
    applied (run, or a CREATE IF NOT EXISTS already in effect).

    Idempotent as long as the DDL says ``IF NOT EXISTS``. A failing statement is reported
    with its file and position, so a broken DDL file points at its own line.
    """
    statements = [
        (path, number, statement)
        for path in ddl_files(ddl_paths)
        for number, statement in enumerate(split_statements(path.read_text()), start=1)
    ]
    existing = {(row["kind"], row["name"]) for row in transport.query_arrow(_EXISTING).to_pylist()}
    for path, number, statement in statements:
        created = created_if_missing(statement)
        if created is not None and created in existing:
            continue
        try:
            transport.command(statement)
        except WarehouseQueryError as exc:
            head = " ".join(statement.split())[:80]
            raise WarehouseQueryError(
                f"{path}: statement {number} ({head}...) failed: {exc}"
            ) from None
        if created is not None:
            existing.add(created)
    return len(statements)


@lru_cache(maxsize=1024)
def parsed(statement: str) -> exp.Expr | None:
    """sqlglot's tree of one DDL statement (None if it cannot parse it); shared with the
    drift check (:mod:`io_managers.ddl_drift`), so each statement is parsed once."""
    try:
        return sqlglot.parse_one(statement, dialect=DIALECT)
    except SqlglotError:
        return None


def created_if_missing(statement: str) -> CatalogObject | None:
    """The object a ``CREATE DATABASE|TABLE|VIEW IF NOT EXISTS`` makes; None for any other
    statement (including a CREATE of a table whose database is not named)."""
    tree = parsed(statement)
    if not isinstance(tree, exp.Create) or not tree.args.get("exists"):
        return None
    if tree.args.get("replace"):
        return None
    kind = str(tree.kind).upper()
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(target, exp.Table) or not target.name:
        return None
    if kind in ("SCHEMA", "DATABASE"):
        return ("database", target.name)
    if kind in ("TABLE", "VIEW") and target.db:
        return ("table", f"{target.db}.{target.name}")
    return None


def ddl_files(paths: Sequence[Path | str]) -> Iterator[Path]:
    """The files named, with each directory expanded to its ``*.sql`` in name order."""
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from sorted(path.glob("*.sql"))
        elif path.is_file():
            yield path
        else:
            raise WarehouseError(f"DDL file {path} does not exist")
