"""Column lineage: for each column of an asset, the upstream columns it is computed from.

SQL assets get theirs by parsing their SELECT in the IO manager's dialect
(``IOManager.column_lineage``; sqlglot with ClickHouse's dialect for the warehouse), with
the columns of every table it reads taken from the warehouse. Python assets may declare
theirs (``@asset(column_lineage={...})``, and ``also_reads`` for the columns they read
feeding none of theirs); otherwise they say "not derived". Sources are
``database.table.column``, so a column's whole upstream chain can be followed from table
to table (:func:`upstream_chain`), down to where it ends (:func:`chain_ends`): the columns
of the tables loaded from outside the graph, or an asset whose lineage is not derived.
Each asset's lineage also holds every column its SQL reads in any clause, and what each
of its checks reads: :mod:`orchestration.column_impact` follows a column downstream with
them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.asset_code import at, literal_place
from orchestration.context import render_sql
from orchestration.errors import StorageUnreachableError, did_you_mean
from orchestration.findings import Finding
from orchestration.graph import AssetGraph
from orchestration.io_manager import IOManager, SqlAnalysisError
from orchestration.ui_lineage import through_reads

NOT_DERIVED = "not derived"
#: The origin of a Python asset that reads no other asset: its columns are where every
#: chain through them starts (:attr:`ChainEnd.SOURCE`).
LOADS_A_SOURCE = f"{NOT_DERIVED}: a Python asset that loads a source"


@dataclass(frozen=True)
class CheckColumns:
    """The columns one asset check's SQL reads, its ``{table}`` read as its asset's table;
    None when not known (``note`` says why): then ``tables`` are the tables it reads, as
    far as known (its asset's own at least)."""

    check: str
    columns: tuple[str, ...] | None
    tables: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AssetColumnLineage:
    """One asset's column lineage, or why there is none.

    ``columns`` maps each output column to its sorted ``database.table.column`` sources
    (empty: a constant or a function of nothing upstream); None when not derived.
    ``reads`` is every upstream column its SQL reads, in any clause (its filters' and
    joins' too, which feed no column but break the SQL when renamed); None when not known
    (a Python asset that declares no ``also_reads``). ``checks``: what each of its asset
    checks reads.
    """

    key: str
    table: str
    deps: tuple[str, ...]
    columns: dict[str, tuple[str, ...]] | None
    origin: str
    reads: tuple[str, ...] | None = None
    checks: tuple[CheckColumns, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "table": self.table,
            "deps": list(self.deps),
            "columns": (
                {name: list(sources) for name, sources in self.columns.items()}
                if self.columns is not None
                else None
            ),
            "column_lineage": self.origin,
        }


TableColumns = Callable[[str], Sequence[str]]


def derive(
    spec: AssetSpec,
    io_manager: IOManager,
    table_columns: TableColumns,
    params: Mapping[str, Any],
    *,
    stop_if_unreachable: bool = False,
) -> AssetColumnLineage:
    """``spec``'s column lineage: parsed from its SQL, declared, or not derived (and why).

    The SQL is rendered as the asset graph renders it (:func:`render_sql`, at a fixed
    instant): the run's own text differs only in its load time, which feeds no column
    from upstream, and the same text means the graph's parse of it is reused.

    ``stop_if_unreachable`` raises :class:`StorageUnreachableError` instead of making it
    this asset's answer: a command's one error line, where a run's pages say it per asset.
    """

    checks = _checks_columns(spec, io_manager, table_columns, stop_if_unreachable)

    def result(
        columns: dict[str, tuple[str, ...]] | None,
        origin: str,
        reads: tuple[str, ...] | None = None,
    ) -> AssetColumnLineage:
        return AssetColumnLineage(spec.key, spec.table, spec.deps, columns, origin, reads, checks)

    if spec.kind != "sql":
        if spec.column_lineage:
            declared = {name: tuple(sorted(src)) for name, src in spec.column_lineage.items()}
            return result(declared, "declared", _declared_reads(declared, spec.also_reads))
        if not spec.deps:
            return result(None, LOADS_A_SOURCE)
        return result(None, f"{NOT_DERIVED}: a Python asset that declares no column lineage")
    try:
        sql = render_sql(spec, io_manager, params)
        columns_of = _columns_read_by(sql, io_manager, table_columns)
        lineage = io_manager.column_lineage(sql, columns_of)
    except Exception as exc:
        return result(None, _not_derived(exc, stop_if_unreachable))
    return result(lineage, "parsed from the SQL", _all_read(sql, io_manager, columns_of))


def declared_lineage_problems(
    spec: AssetSpec,
    own_columns: Collection[str],
    table_columns: Callable[[str], Sequence[str] | None],
    upstream: Collection[str],
    produced: Collection[str],
) -> list[Finding]:
    """What is wrong with a Python asset's declared ``column_lineage`` and ``also_reads``
    (``pipeline validate``): a key that is not a column of its table (``own_columns``), a
    source that is not ``database.table.column`` of the table of an asset upstream of it
    (``upstream``; a table no asset produces, in ``produced``, is read from outside and
    only has to exist), or names no column of it. ``table_columns`` gives a table's
    columns, None for no such table. One finding each, at the literal that says it, so
    ``pipeline lineage --column`` never answers from a typo."""
    findings = []
    for key in spec.column_lineage:
        if key not in own_columns:
            found = f"column_lineage names {key!r}, not a column of {spec.table}"
            findings.append(_lineage_finding(spec, key, found + did_you_mean(key, [*own_columns])))
    sources = dict.fromkeys(
        [
            *(("column_lineage", src) for srcs in spec.column_lineage.values() for src in srcs),
            *(("also_reads", src) for src in spec.also_reads),
        ]
    )
    seen: set[str] = set()
    for role, source in sources:
        if source in seen:
            continue
        seen.add(source)
        problem = _source_problem(spec, source, table_columns, upstream, produced)
        if problem:
            findings.append(_lineage_finding(spec, source, f"{role} source {source!r}: {problem}"))
    return findings


def _source_problem(
    spec: AssetSpec,
    source: str,
    table_columns: Callable[[str], Sequence[str] | None],
    upstream: Collection[str],
    produced: Collection[str],
) -> str | None:
    """Why ``source`` is no column of a table ``spec`` reads; None when it is one."""
    table, _, column = source.rpartition(".")
    if table.count(".") != 1 or not column:
        return "not database.table.column"
    if table in produced and table not in upstream:
        return f"{table} is the table of no asset upstream of {spec.key}"
    columns = table_columns(table)
    if columns is None:
        return f"no table {table}"
    if column not in columns:
        return f"{table} has no column {column!r}{did_you_mean(column, [*columns])}"
    return None


def _lineage_finding(spec: AssetSpec, literal: str, found: str) -> Finding:
    """A finding about ``spec``'s declared lineage, at the literal ``literal``."""
    place = literal_place(spec, literal)
    column = literal if literal in spec.column_lineage else None
    return Finding(
        "lineage",
        spec.key,
        spec.table,
        column,
        found=at(place, found),
        place=place,
        named_in_found=frozenset({"column"}),
    )


def _declared_reads(
    lineage: Mapping[str, tuple[str, ...]], also_reads: Sequence[str]
) -> tuple[str, ...] | None:
    """Every column a Python asset says it reads: its columns' sources and ``also_reads``;
    None (not known) when it names none besides, as before ``also_reads`` existed."""
    if not also_reads:
        return None
    return tuple(sorted({*(c for sources in lineage.values() for c in sources), *also_reads}))


def _all_read(
    sql: str, io_manager: IOManager, columns_of: Mapping[str, Sequence[str]]
) -> tuple[str, ...] | None:
    """Every column ``sql`` reads; None if its IO manager cannot tell (its lineage stands)."""
    try:
        return io_manager.columns_read(sql, columns_of)
    except (SqlAnalysisError, NotImplementedError):
        return None


def _columns_read_by(
    sql: str, io_manager: IOManager, table_columns: TableColumns
) -> dict[str, list[str]]:
    """The columns of every table ``sql`` reads, as an analysis of it is given them."""
    return {table: list(table_columns(table)) for table in io_manager.tables_read(sql).tables}


def _not_derived(exc: Exception, stop_if_unreachable: bool) -> str:
    """Why an analysis failed, as a page says it (``not derived: ...``); a warehouse that
    cannot be reached raises instead if ``stop_if_unreachable``.

    Besides SQL that cannot be analysed, the columns of a table it reads may not be
    readable (the same read fails the asset's materialization, which reports it): the
    page says why, the run goes on."""
    if isinstance(exc, StorageUnreachableError) and stop_if_unreachable:
        raise exc
    if isinstance(exc, (SqlAnalysisError, NotImplementedError)):
        return f"{NOT_DERIVED}: {exc}"
    return f"{NOT_DERIVED}: {type(exc).__name__}: {exc}"


def _checks_columns(
    spec: AssetSpec, io_manager: IOManager, table_columns: TableColumns, stop_if_unreachable: bool
) -> tuple[CheckColumns, ...]:
    """What each check of ``spec`` reads, parsed as its SELECT is (and kept alike by
    :mod:`io_managers.analysis_cache`); a check that cannot be analysed says why."""
    found = []
    for check in spec.checks:
        sql = check.sql.replace("{table}", spec.table)
        tables: tuple[str, ...] = (spec.table,)
        try:
            tables = io_manager.tables_read(sql).tables
            columns_of = _columns_read_by(sql, io_manager, table_columns)
            found.append(CheckColumns(check.name, io_manager.columns_read(sql, columns_of), tables))
        except Exception as exc:
            found.append(
                CheckColumns(check.name, None, tables, _not_derived(exc, stop_if_unreachable))
            )
    return tuple(found)


class WarehouseColumns:
    """Column names of warehouse tables, asked once each (``IOManager.describe``), or
    ahead, all at once (:meth:`ask_ahead`)."""

    def __init__(self, graph: AssetGraph, io_managers: Mapping[str, IOManager]) -> None:
        self._by_table = {spec.table: spec for spec in graph}
        self._io_managers = io_managers
        self._known: dict[str, list[str]] = {}

    def __call__(self, table: str) -> list[str]:
        if table not in self._known:
            io_manager = self._io_managers[self._storage_of(table)]
            self._known[table] = [name for name, _ in io_manager.describe(table)]
        return self._known[table]

    def ask_ahead(self, graph: AssetGraph, specs: Iterable[AssetSpec]) -> None:
        """Read the columns of every table the SELECTs of ``specs`` read, in one request
        per storage (``IOManager.describe_tables``): on a server, one round trip instead
        of one a table. A table this misses is asked when it is needed, and a request
        that fails leaves each to fail there, as the asset's own error."""
        by_storage: dict[str, set[str]] = {}
        for table in _tables_read(graph, specs):
            by_storage.setdefault(self._storage_of(table), set()).add(table)
        for storage, tables in by_storage.items():
            io_manager = self._io_managers.get(storage)
            try:
                described = io_manager.describe_tables(tables) if io_manager else {}
            except StorageUnreachableError:
                raise
            except Exception:
                continue
            for table, columns in described.items():
                self._known[table] = [name for name, _ in columns]

    def _storage_of(self, table: str) -> str:
        """The IO manager holding ``table``: its asset's, else the default warehouse's."""
        spec = self._by_table.get(table)
        return spec.io_manager if spec else "warehouse"


def _tables_read(graph: AssetGraph, specs: Iterable[AssetSpec]) -> set[str]:
    """The tables the SELECTs and checks of ``specs`` read, as the graph knows them: each
    SQL asset's upstream tables and its own (an incremental load reads its earlier rows),
    each checked asset's own and those its checks read."""
    tables: set[str] = set()
    for spec in specs:
        upstream = graph.upstream_of(spec.key)
        read = (*(upstream.reads if spec.kind == "sql" else ()), *upstream.checked)
        if spec.kind == "sql" or spec.checks:
            tables.update((spec.table, *(graph[k].table for k in read)))
    return tables


def derive_all(
    graph: AssetGraph,
    keys: Iterable[str],
    io_managers: Mapping[str, IOManager],
    params: Mapping[str, Any] | None = None,
) -> list[AssetColumnLineage]:
    """Column lineage of ``keys`` in dependency order (for ``pipeline lineage``); a
    warehouse that cannot be reached raises, the command's one error line."""
    columns = WarehouseColumns(graph, io_managers)
    specs = graph.topological(keys)
    columns.ask_ahead(graph, specs)
    return [
        derive(spec, io_managers[spec.io_manager], columns, params or {}, stop_if_unreachable=True)
        for spec in specs
    ]


@dataclass
class BackgroundColumnLineage:
    """Derives the run's column lineage on one side thread while the assets materialize.

    Parsing is CPU work in Python (~0.1 s for a run's SQL assets, none for answers kept
    by :mod:`io_managers.analysis_cache`), so it runs beside the warehouse work instead of
    inside each task, where it would lengthen the run's critical path; a task's page
    waits only for its own asset's result, its ancestors' and its descendants'.

    The ancestors a selected asset reads from, directly or not, are derived too, though
    the run does not rebuild them: its page follows each column's chain through them down
    to the raw columns (:meth:`ends`); and so are the assets downstream of it, for the
    columns and checks that use each of its columns (:meth:`downstream_of`). Their SQL
    is analysed when the graph is built and the answers are kept on disk; the columns of
    the tables they read are one more catalog read of each (none on an embedded
    warehouse, which reads its catalog once).
    """

    futures: dict[str, Future[AssetColumnLineage]] = field(default_factory=dict)
    _pool: ThreadPoolExecutor | None = None
    _read_from: dict[str, set[str]] = field(default_factory=dict)
    _downstream: dict[str, set[str]] = field(default_factory=dict)

    def start(
        self,
        graph: AssetGraph,
        specs: Sequence[AssetSpec],
        io_managers: Mapping[str, IOManager],
        params: Mapping[str, Any],
    ) -> None:
        columns = WarehouseColumns(graph, io_managers)
        self._read_from = {spec.key: through_reads(graph, spec.key)[0] for spec in specs}
        self._downstream = {
            spec.key: graph.dag.reachable(spec.key, upstream=False) for spec in specs
        }
        wanted = {spec.key for spec in specs}.union(
            *self._read_from.values(), *self._downstream.values()
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="column-lineage")
        specs = graph.topological(wanted)
        self._pool.submit(columns.ask_ahead, graph, specs)  # failing, each asks on its own
        for spec in specs:  # ancestors first: a page waits for them
            io_manager = io_managers.get(spec.io_manager)
            if io_manager is None:  # an ancestor stored where this run does not look
                self.futures[spec.key] = _without_io_manager(spec)
                continue
            self.futures[spec.key] = self._pool.submit(derive, spec, io_manager, columns, params)

    def result(self, key: str) -> AssetColumnLineage | None:
        future = self.futures.get(key)
        return future.result() if future is not None else None

    def ends(self, key: str) -> dict[str, ChainEnds] | None:
        """Where each column of selected ``key`` ends upstream (:func:`ends_by_column`),
        once its lineage and its ancestors' are derived."""
        keys = [key, *self._read_from.get(key, ())]
        return ends_by_column([found for k in keys if (found := self.result(k))], key)

    def downstream_of(self, key: str) -> list[AssetColumnLineage]:
        """The lineage of selected ``key`` and of every asset downstream of it, once
        derived: where each of its columns is used (:func:`~orchestration.column_impact.
        uses_by_column`)."""
        keys = {key, *self._downstream.get(key, ())}
        # In dependency order, as derived: a page lists each column's uses in that order.
        return [found for k in self.futures if k in keys and (found := self.result(k))]

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _without_io_manager(spec: AssetSpec) -> Future[AssetColumnLineage]:
    """``spec``'s lineage where the run has not its IO manager: not derived, so a chain
    through it says it stops there rather than take its table for a source."""
    said = f"{NOT_DERIVED}: this run has no IO manager {spec.io_manager!r} to read it"
    future: Future[AssetColumnLineage] = Future()
    future.set_result(AssetColumnLineage(spec.key, spec.table, spec.deps, None, said))
    return future


class ChainEnd(StrEnum):
    """Why an upstream chain goes no further than a column (:attr:`ColumnNode.end`)."""

    #: A column of a source: its asset reads no other asset (it loads a file, an API),
    #: or no asset writes its table (an external table).
    SOURCE = "source"
    #: Its asset's column lineage is not derived (a Python asset that declares none, SQL
    #: that cannot be analysed): where the column comes from is not known.
    UNTRACED = "untraced"
    #: Computed from no upstream column: a constant, a function such as ``now()``, a count.
    COMPUTED = "computed"
    #: The asset's own earlier rows (an incremental load keeps them): their columns'
    #: other sources carry the chain on.
    PREVIOUS_ROWS = "previous rows"


@dataclass(frozen=True)
class ColumnNode:
    """One column in an upstream chain, with the columns it is computed from; a column
    computed from none says why the chain ends there (``end``)."""

    column: str
    asset: str | None
    note: str
    sources: tuple[ColumnNode, ...] = ()
    end: ChainEnd | None = None

    def as_dict(self) -> dict[str, Any]:
        """The chain from here as plain data (``pipeline lineage --column C --format
        json``): each column with the asset writing it, the note the text shows of a
        column computed from nothing further, and its sources, nested alike."""
        return {
            "column": self.column,
            "asset": self.asset,
            "note": self.note,
            "sources": [source.as_dict() for source in self.sources],
        }


def upstream_chain(lineage: Iterable[AssetColumnLineage], column: str) -> ColumnNode:
    """``database.table.column`` and, recursively, every column it is computed from.

    Raises KeyError naming the column when no asset has it.
    """
    by_table = {item.table: item for item in lineage}
    check_column(by_table, column)
    return _node(by_table, column, seen=frozenset())


def check_column(by_table: Mapping[str, AssetColumnLineage], column: str) -> None:
    """Raise KeyError saying what is wrong, when no asset of ``by_table`` (its lineage by
    table) has ``database.Table.column``: a column followed up or down is typed alike."""
    table, _, name = column.rpartition(".")
    if not table:
        raise KeyError(f"{column!r} is not database.Table.column{_example(by_table, name)}")
    item = by_table.get(table)
    if item is None:
        raise KeyError(
            f"no asset writes table {table!r} (columns are database.Table.column)"
            f"{_meant(by_table, table, name)}"
        )
    if item.columns is not None and name not in item.columns:
        raise KeyError(f"table {table} has no column {name!r}; it has {', '.join(item.columns)}")


def _example(by_table: Mapping[str, AssetColumnLineage], name: str) -> str:
    """`` (e.g. db.Table.name)``: a table that has the bare column typed, else any column."""
    having = [t for t, item in by_table.items() if item.columns and name in item.columns]
    if having:
        return f" (e.g. {having[0]}.{name})"
    for table, item in by_table.items():
        if item.columns:
            return f" (e.g. {table}.{next(iter(item.columns))})"
    return ""


def _meant(by_table: Mapping[str, AssetColumnLineage], table: str, name: str) -> str:
    """``; did you mean ...?`` for a table typed without its database or in another case
    (``Fact_Sales``, ``marts.fact_sales``): ClickHouse's names are case-sensitive."""
    typed = table.lower()
    close = [
        known for known in by_table if typed in (known.lower(), known.lower().rpartition(".")[2])
    ]
    return f"; did you mean {', '.join(f'{t}.{name}' for t in close)}?" if close else ""


def _node(
    by_table: Mapping[str, AssetColumnLineage], column: str, seen: frozenset[str]
) -> ColumnNode:
    table, _, name = column.rpartition(".")
    item = by_table.get(table)
    if item is None:
        return ColumnNode(column, None, "not produced by an asset", end=ChainEnd.SOURCE)
    if item.columns is None:
        end = ChainEnd.SOURCE if item.origin == LOADS_A_SOURCE else ChainEnd.UNTRACED
        return ColumnNode(column, item.key, item.origin, end=end)
    if column in seen:  # an incremental load reads its own table's previous rows
        return ColumnNode(column, item.key, "its own previous rows", end=ChainEnd.PREVIOUS_ROWS)
    sources = item.columns.get(name, ())
    if not sources:
        return ColumnNode(
            column, item.key, "computed from no upstream column", end=ChainEnd.COMPUTED
        )
    children = tuple(_node(by_table, source, seen | {column}) for source in sources)
    return ColumnNode(column, item.key, item.origin, children)


@dataclass(frozen=True)
class ChainEnds:
    """Where a column's whole upstream chain ends, as its asset's page shows it.

    ``sources``: the source columns it is read from (``raw.online_retails.Quantity``);
    ``untraced``: the columns where the chain stops, their asset's lineage not derived
    (each node's note says why). Each column once, sorted. Constants and an incremental
    load's earlier rows are neither: a column with neither is read from no source.
    """

    sources: tuple[ColumnNode, ...] = ()
    untraced: tuple[ColumnNode, ...] = ()


def leaves(node: ColumnNode) -> Iterator[ColumnNode]:
    """The columns ``node``'s chain ends in, depth first: those computed from none."""
    if not node.sources:
        yield node
    for source in node.sources:
        yield from leaves(source)


def chain_ends(node: ColumnNode) -> ChainEnds:
    """The sources and the untraced columns among the leaves of ``node``'s chain."""
    found: dict[ChainEnd | None, dict[str, ColumnNode]] = {}
    for leaf in leaves(node):
        found.setdefault(leaf.end, {}).setdefault(leaf.column, leaf)

    def ending(end: ChainEnd) -> tuple[ColumnNode, ...]:
        return tuple(sorted(found.get(end, {}).values(), key=lambda leaf: leaf.column))

    return ChainEnds(ending(ChainEnd.SOURCE), ending(ChainEnd.UNTRACED))


def ends_by_column(lineage: Iterable[AssetColumnLineage], key: str) -> dict[str, ChainEnds] | None:
    """Where each column of asset ``key`` ends upstream, followed as ``pipeline lineage
    --column`` follows it (:func:`upstream_chain`); None if ``key``'s lineage is not
    derived. ``lineage`` holds ``key``'s and that of each ancestor it reads from: a table
    without its asset's would read as a source."""
    items = list(lineage)
    item = next((found for found in items if found.key == key), None)
    if item is None or item.columns is None:
        return None
    return {
        name: chain_ends(upstream_chain(items, f"{item.table}.{name}")) for name in item.columns
    }


def chain_lines(node: ColumnNode, depth: int = 0) -> list[str]:
    """The chain as an indented tree, one column per line."""
    asset = f"  [{node.asset}]" if node.asset else ""
    note = f"  ({node.note})" if not node.sources else ""
    lines = [f"{'    ' * depth}{'<- ' if depth else ''}{node.column}{asset}{note}"]
    for child in node.sources:
        lines += chain_lines(child, depth + 1)
    return lines
