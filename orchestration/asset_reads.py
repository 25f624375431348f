"""What an asset's body may read through ``context.io_manager``: what the graph knows.

A SQL asset's upstream is read from its SELECT, so it always reads what the graph knows
(:mod:`orchestration.derived_deps`). A Python asset reads with
``context.io_manager.query_df(...)`` / ``query_arrow(...)``, which no parser of the
graph sees: after its upstream's table was renamed (asset, DDL and schema alike), it went
on reading the old table, left in the warehouse and refreshed by no run, and published
its rows with no error; one reading a table of an asset missing from its ``deps`` ran in
an order that may read that table before it is built.

So the body's IO manager is a view (:func:`reads_of`) that parses each query as a SQL
asset's SELECT is parsed (the IO manager's own analysis, in its dialect: sqlglot, its
answers cached) before it runs, and refuses one reading a table that is neither its
deps' tables, nor its own (a history kept with ``UNION ALL``), nor an external one
(``Definitions(external_tables=...)``). Table functions are allowed, as in a SQL asset's
SELECT; a query whose tables cannot be told (not one SELECT, a table without its
database) is refused, as a SQL asset's would be. One parse per query, no per-row work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from orchestration.io_manager import IOManager, SqlAnalysisError

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.graph import AssetGraph


class UndeclaredReadError(Exception):
    """An asset's body queried a table the graph does not know it reads. Not a foreseen
    error: where it is said, the line of the body that queried comes first."""


class AssetReads:
    """``io_manager`` as ``spec``'s body sees it: every attribute is the IO manager's,
    but a query (``query_arrow``, ``query_df``) runs only if it reads what the graph knows.
    """

    def __init__(self, io_manager: IOManager, spec: AssetSpec, graph: AssetGraph) -> None:
        self._io_manager = io_manager
        self._spec = spec
        self._graph = graph
        deps = {graph[dep].table: dep for dep in spec.deps if dep in graph}
        self._allowed = {spec.table, *deps, *graph.external_tables}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._io_manager, name)

    def __repr__(self) -> str:
        return f"AssetReads({self._io_manager!r}, {self._spec.key!r})"

    def query_arrow(self, sql: str) -> Any:
        """The IO manager's ``query_arrow``, once :meth:`check` allows ``sql``."""
        self.check(sql)
        return self._io_manager.query_arrow(sql)

    def query_df(self, sql: str) -> Any:
        """The IO manager's ``query_df``, once :meth:`check` allows ``sql``."""
        self.check(sql)
        return self._io_manager.query_df(sql)

    def check(self, sql: str) -> None:
        """Raise :class:`UndeclaredReadError` if ``sql`` reads a table the asset may not.

        An IO manager that cannot analyse SQL cannot tell: its queries run as before."""
        try:
            tables = self._io_manager.tables_read(sql).tables
        except NotImplementedError:
            return
        except SqlAnalysisError as exc:
            raise UndeclaredReadError(
                f"asset {self._spec.key!r} cannot tell which tables its query reads: {exc}; "
                "query one SELECT naming each table as database.table"
            ) from None
        for table in tables:
            if table not in self._allowed:
                raise UndeclaredReadError(self._refusal(table))

    def _refusal(self, table: str) -> str:
        key = self._spec.key
        producer = self._graph.producer_of(table)
        if producer is not None:
            return (
                f"asset {key!r} reads table {table} of asset {producer!r}, which is not in its "
                f"deps (it may run before that table is built): add {producer!r} to its deps=[...]"
            )
        import difflib  # here: only a refusal looks for a likely misspelling

        close = difflib.get_close_matches(table, self._graph.tables(), n=1)
        meant = f"; did you mean {close[0]}?" if close else ""
        return (
            f"asset {key!r} reads table {table}, which no asset produces (renamed or removed? "
            f"the old table stays in the warehouse and no run refreshes it{meant}): read a "
            "table of its deps=[...] or declare it in Definitions(external_tables=[...])"
        )


def reads_of(io_manager: IOManager, spec: AssetSpec, graph: AssetGraph) -> IOManager:
    """``io_manager`` as ``spec``'s body is handed it in ``context.io_manager``
    (:class:`AssetReads`): it delegates everything else, so it stands for the IO manager."""
    return cast(IOManager, AssetReads(io_manager, spec, graph))
