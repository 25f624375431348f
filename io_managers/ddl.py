"""Apply a code location's DDL files to the warehouse, statement by statement."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from io_managers.errors import WarehouseError, WarehouseQueryError
from io_managers.sql import split_statements
from io_managers.transport import Transport


def apply_ddl(transport: Transport, ddl_paths: Sequence[Path | str]) -> int:
    """Run DDL files (or directories of ``*.sql``); returns the number of statements.

    Idempotent as long as the DDL says ``IF NOT EXISTS``. A failing statement is reported
    with its file and position, so a broken DDL file points at its own line.
    """
    count = 0
    for path in ddl_files(ddl_paths):
        for number, statement in enumerate(split_statements(path.read_text()), start=1):
            try:
                transport.command(statement)
            except WarehouseQueryError as exc:
                head = " ".join(statement.split())[:80]
                raise WarehouseQueryError(
                    f"{path}: statement {number} ({head}...) failed: {exc}"
                ) from None
            count += 1
    return count


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
