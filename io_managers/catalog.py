"""What the warehouse holds: each table's columns, defaults, engine and readers.

A materialization needs to know whether its table exists, its columns (by name, with
types and defaults) and whether its parts may be attached (engine, materialized views).
Asked one statement at a time that was an exists check, a ``DESCRIBE`` and an engine
query per asset; here it is one read of ``system.columns`` joined to ``system.tables``.

How long a read stays true depends on who else may change the warehouse:

* a ClickHouse server is shared: another process may alter or drop a table between two
  assets, so every :meth:`Catalog.table` reads that one table again (one statement);
* the embedded warehouse belongs to this process alone (``Transport.exclusive``): the
  whole catalog is read once and kept until :meth:`Catalog.forget` - which the IO
  manager calls after every statement of its own that may change a table's structure
  (DDL, a full refresh, a statement run on a user's behalf).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from io_managers.sql import quote_string
from io_managers.transport import Transport
from io_managers.types import ClickHouseType, parse_type

#: Databases of the engine itself, never holding assets.
_SYSTEM_DATABASES = ("system", "INFORMATION_SCHEMA", "information_schema")


@dataclass(frozen=True)
class TableFacts:
    """One table as the catalog describes it."""

    #: Column -> parsed type, in table order (what ``DESCRIBE`` reports).
    columns: dict[str, ClickHouseType]
    #: Columns with a DEFAULT / MATERIALIZED / ALIAS expression.
    defaults: frozenset[str]
    engine: str
    #: Materialized views that read this table (they only see INSERTs).
    views: int

    @property
    def parts_attachable(self) -> bool:
        """Whether new rows may be published by attaching parts rather than INSERTing."""
        return self.views == 0 and "MergeTree" in self.engine


def _catalog_sql(where: str) -> str:
    return (
        "SELECT c.database AS database, c.table AS table, c.name AS name, c.type AS type, "
        "c.default_kind AS default_kind, t.engine AS engine, "
        "length(t.dependencies_table) AS views "
        "FROM system.columns AS c INNER JOIN system.tables AS t "
        "ON c.database = t.database AND c.table = t.name "
        f"WHERE {where} ORDER BY c.database, c.table, c.position"
    )


class Catalog:
    """Table facts of one warehouse, read as rarely as its backend allows; thread-safe."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        #: Embedded only: every table's facts, from one read (None: not read yet).
        self._all: dict[str, TableFacts] | None = None

    def table(self, table: str) -> TableFacts | None:
        """Facts of ``database.Table``; None if it does not exist."""
        if not self._transport.exclusive:
            database, name = table.split(".", 1)
            where = f"c.database = {quote_string(database)} AND c.table = {quote_string(name)}"
            return self._read(where).get(table)
        with self._lock:
            if self._all is None:
                listed = ", ".join(quote_string(name) for name in _SYSTEM_DATABASES)
                self._all = self._read(f"c.database NOT IN ({listed})")
            return self._all.get(table)

    def forget(self) -> None:
        """A statement may have changed some table's structure: read again next time."""
        with self._lock:
            self._all = None

    def _read(self, where: str) -> dict[str, TableFacts]:
        rows = self._transport.query_arrow(_catalog_sql(where)).to_pylist()
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(f"{row['database']}.{row['table']}", []).append(row)
        return {
            table: TableFacts(
                columns={c["name"]: parse_type(c["type"]) for c in columns},
                defaults=frozenset(c["name"] for c in columns if c["default_kind"]),
                engine=columns[0]["engine"],
                views=int(columns[0]["views"]),
            )
            for table, columns in grouped.items()
        }
