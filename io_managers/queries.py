"""The warehouse's query API: read tables and their structure, as Arrow or pandas.

Everything that asks ClickHouse a question goes through :class:`WarehouseQueries`, so
the rules for reading live in one place: Enum and UUID columns come back as text (Arrow
has no enum labels, and string UUIDs read the same from either backend), and a user's
query passes the read-only guard first.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from io_managers.errors import WarehouseQueryError
from io_managers.sql import quote_string, quote_table
from io_managers.sql_tokens import Statement, one_statement
from io_managers.transport import Transport
from io_managers.types import ClickHouseType, arrow_to_pandas, needs_text_projection, parse_type
from io_managers.validation import read_projection

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.io_manager import QueryText


class WarehouseQueries:
    """Read access to one warehouse; thread-safe because its transport is."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """A small query's result as a list of dicts (system tables, counts)."""
        return self._transport.query_arrow(sql).to_pylist()

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        """``CREATE TABLE`` of each existing table, as the engine holds it (one query)."""
        if not tables:
            return {}
        listed = ", ".join(quote_string(table) for table in tables)
        databases, names = (
            ", ".join(sorted({quote_string(table.split(".", 1)[part]) for table in tables}))
            for part in (0, 1)
        )
        # database/name conditions of their own: system.tables then renders the DDL of
        # those tables only, not of every table in the engine (0.08-0.25 s measured).
        rows = self.rows(
            "SELECT concat(database, '.', name) AS table, create_table_query AS ddl "
            f"FROM system.tables WHERE database IN ({databases}) AND name IN ({names}) "
            f"AND concat(database, '.', name) IN ({listed})"
        )
        return {row["table"]: row["ddl"] for row in rows}

    def table_stats(self, table: str) -> tuple[int | None, int | None]:
        """``(rows, bytes)`` of a table from ``system.tables`` (None where not known)."""
        database, name = table.split(".", 1)
        stats = self.rows(
            "SELECT total_rows AS rows, total_bytes AS bytes FROM system.tables "
            f"WHERE database = {quote_string(database)} AND name = {quote_string(name)}"
        )
        if not stats:
            return None, None
        rows, size = stats[0]["rows"], stats[0]["bytes"]
        return (int(rows) if rows is not None else None, int(size) if size is not None else None)

    def row_count(self, table: str) -> int:
        """Rows of ``database.Table``."""
        return self.count_rows(quote_table(table))

    def row_counts(self, tables: Collection[str]) -> dict[str, int]:
        """Rows of each ``database.Table`` of ``tables``, in one statement: ``count()``
        of each, not ``system.tables.total_rows``, which still counts the rows a
        lightweight ``DELETE`` masked (1,904 for a table that held 1,901). A MergeTree
        table with no such rows answers from its parts' metadata, reading nothing."""
        if not tables:
            return {}
        counts = " UNION ALL ".join(
            f"SELECT {quote_string(table)} AS name, count() AS n FROM {quote_table(table)}"
            for table in sorted(tables)
        )
        return {row["name"]: int(row["n"]) for row in self.rows(counts)}

    def count_rows(self, quoted_table: str) -> int:
        """Rows of a table given as quoted SQL (a generated staging name)."""
        return int(self.rows(f"SELECT count() AS n FROM {quoted_table}")[0]["n"])

    def describe(self, table: str) -> list[tuple[str, str]]:
        """``(column, ClickHouse type)`` pairs of ``database.Table``, in table order."""
        return [(name, t.text) for name, t in self.columns(f"TABLE {quote_table(table)}").items()]

    def columns(self, described: str) -> dict[str, ClickHouseType]:
        """Parsed ``DESCRIBE <described>`` (``TABLE db.t`` or ``(SELECT ...)``)."""
        return self.describe_with_defaults(described)[0]

    def describe_with_defaults(self, described: str) -> tuple[dict[str, ClickHouseType], set[str]]:
        """Column types, and the columns with a DEFAULT/MATERIALIZED/ALIAS expression."""
        table = self._transport.query_arrow(f"DESCRIBE {described}")
        names = table.column("name").to_pylist()
        types = table.column("type").to_pylist()
        kinds = table.column("default_type").to_pylist()
        columns = {name: parse_type(kind) for name, kind in zip(names, types, strict=True)}
        return columns, {name for name, kind in zip(names, kinds, strict=True) if kind}

    def query_arrow(self, sql: str) -> pa.Table:
        """A query's result as Arrow, Enum and UUID columns as text."""
        return self._transport.query_arrow(self._text_projection(_one_statement(sql)))

    def query_df(self, sql: str) -> pd.DataFrame:
        """A query's result as pandas, through Arrow (dtypes: :func:`arrow_to_pandas`)."""
        return arrow_to_pandas(self.query_arrow(sql))

    def read_only_text(
        self, sql: str, allow_external: bool = False, *, max_rows: int | None = None
    ) -> QueryText:
        """A user's query on a session where the engine refuses writes (see
        :mod:`io_managers.read_only`), each value as ClickHouse prints it; a SELECT's
        first ``max_rows`` rows only, if given."""
        from io_managers.read_only import read_only_text  # sqlglot: only a user's query

        return read_only_text(
            self._transport, sql, allow_external=allow_external, max_rows=max_rows
        )

    def read_only_raw(self, sql: str, fmt: str, allow_external: bool = False) -> bytes:
        """A user's read query rendered by ClickHouse itself in output format ``fmt``."""
        from io_managers.read_only import read_only_bytes

        return read_only_bytes(self._transport, sql, fmt, allow_external=allow_external)

    def read_only_stream(
        self, sql: str, fmt: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """:meth:`read_only_raw` a block of rows at a time (:func:`read_only_stream`)."""
        from io_managers.read_only import read_only_stream

        yield from read_only_stream(self._transport, sql, fmt, allow_external=allow_external)

    def read_only_json(
        self, sql: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """A user's read query as one JSON list of objects, in pieces (:func:`read_only_json`)."""
        from io_managers.read_only import read_only_json

        yield from read_only_json(self._transport, sql, allow_external=allow_external)

    def _text_projection(self, statement: Statement) -> str:
        if not statement.is_query:
            return statement.text
        columns = self.columns(f"({statement.text})")
        if not any(needs_text_projection(t) for t in columns.values()):
            return statement.text
        return f"SELECT {read_projection(columns, columns)} FROM ({statement.text})"


def _one_statement(sql: str) -> Statement:
    try:
        return one_statement(sql, "query")
    except ValueError as exc:
        raise WarehouseQueryError(str(exc)) from None
