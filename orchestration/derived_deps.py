"""A SQL asset's upstream assets, read from its SELECT instead of written by hand.

Hand-written ``deps`` that repeat a query's FROM and JOIN tables drift: drop one and the
asset may run before, or alongside, the table it reads - silently stale data. So the
graph takes a SQL asset's upstream from the tables its SELECT reads (parsed by its IO
manager, in that storage's dialect) mapped to the assets that write them. Declared deps
the SQL does not show stay as ordering-only edges (facts after the dimensions their
checks read). A read of a table no asset writes is an error unless the code location
declares the table an external source; an asset reading its own table (a history kept
by ``UNION ALL`` with the previous rows) is no edge at all. Its checks' SQL is parsed the
same way, for the other assets' tables each check reads (``Upstream.checks_read``): no
edge of their own, but what a failed check's reader must look at besides the asset.

Every command refuses the first such problem (:func:`build_graph`); ``pipeline validate``
takes them all, and checks the rest of the graph (:func:`check_graph`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestration.asset import AssetSpec
from orchestration.asset_code import (
    at,
    body_failure,
    failure_place,
    read_place,
    select_place,
)
from orchestration.checks import AssetCheck
from orchestration.context import render_sql
from orchestration.errors import Place, of_asset
from orchestration.graph import (
    CANNOT_LOAD,
    AssetGraph,
    AssetGraphError,
    GraphProblem,
    PartialGraph,
    Upstream,
    partial_graph,
)
from orchestration.io_manager import IOManager, SqlAnalysisError


@dataclass(frozen=True)
class UncoveredRead:
    """An asset reads a table that no asset produces and no one declared external."""

    asset: str
    table: str
    #: The produced table whose name is closest to :attr:`table` (a likely misspelling).
    closest: str | None = None
    #: Where the asset's SELECT names the table (else its body), as other findings say it.
    place: Place | None = None

    def cause(self) -> str:
        """What is wrong and what to do, for a line that already names asset and table."""
        return at(
            self.place,
            f"its SELECT reads this table, which no asset produces{self._meant()}; add an "
            "asset for it or declare it in Definitions(external_tables=[...])",
        )

    def message(self) -> str:
        said = f"asset {self.asset!r} reads table {self.table}, which no asset produces"
        return at(self.place, said + self._meant())

    def _meant(self) -> str:
        return f" (did you mean {self.closest}?)" if self.closest else ""


class UncoveredReadError(AssetGraphError):
    """One or more SQL assets read tables nothing produces."""

    def __init__(self, reads: Sequence[UncoveredRead], lead: str = "") -> None:
        self.reads = tuple(reads)
        named = "; ".join(read.message() for read in self.reads)
        which = "it" if len(self.reads) == 1 else "each"
        super().__init__(
            f"{lead}{named}; add an asset for {which} or declare it in "
            "Definitions(external_tables=[...])"
        )

    def refusal(self) -> UncoveredReadError:
        """:meth:`AssetGraphError.refusal`, still holding the reads."""
        return UncoveredReadError(self.reads, f"{CANNOT_LOAD}: ")


class SqlReadError(AssetGraphError):
    """A SQL asset's body cannot be rendered or parsed, so its reads are unknown; the
    message names the asset and where in its code (``place``)."""

    def __init__(self, asset: str, place: Place | None, message: str) -> None:
        super().__init__(message)
        self.asset = asset
        self.place = place

    def __reduce__(self) -> tuple[type[SqlReadError], tuple[str, Place | None, str]]:
        return type(self), (self.asset, self.place, str(self))

    def problem(self) -> GraphProblem:
        return GraphProblem(str(self), (self.asset,), self.place)

    def refusal(self) -> SqlReadError:
        """:meth:`AssetGraphError.refusal`, still naming the asset and its place: the
        graph's edges come from every SQL asset's SELECT, so one asset's stops them all."""
        return SqlReadError(self.asset, self.place, f"{CANNOT_LOAD}: {self}")


@dataclass(frozen=True)
class DerivedReads:
    """Each asset's upstream, and what kept some from being known or covered."""

    upstream: dict[str, Upstream]
    #: SQL assets whose reads are unknown (their upstream is their declared deps).
    unreadable: list[SqlReadError]
    uncovered: list[UncoveredRead]


def derive_upstream(
    specs: Sequence[AssetSpec],
    analysers: Mapping[str, IOManager],
    external_tables: Iterable[str] = (),
) -> dict[str, Upstream]:
    """Every asset's upstream: SQL reads mapped to assets, then ordering-only deps.

    ``analysers`` are IO managers by name; a SQL asset is analysed by the one that will
    run it. An asset whose IO manager is not given, or cannot analyse SQL, keeps its
    declared deps as they are. Raises for the first SQL that cannot be read, else for
    every read of a table no asset produces.
    """
    derived = derive_reads(specs, analysers, external_tables)
    if derived.unreadable:
        raise derived.unreadable[0]
    if derived.uncovered:
        raise UncoveredReadError(derived.uncovered)
    return derived.upstream


def derive_reads(
    specs: Sequence[AssetSpec],
    analysers: Mapping[str, IOManager],
    external_tables: Iterable[str] = (),
) -> DerivedReads:
    """:func:`derive_upstream`'s work, every problem collected rather than raised."""
    producers = {spec.table: spec.key for spec in specs}
    declared_at = {spec.key: index for index, spec in enumerate(specs)}
    external = set(external_tables)
    upstream: dict[str, Upstream] = {}
    unreadable: list[SqlReadError] = []
    uncovered: list[UncoveredRead] = []
    for spec in specs:
        analyser = analysers.get(spec.io_manager)
        checks_read = _checks_read(spec, analyser, producers)
        try:
            read = _tables_read(spec, analyser)
        except SqlReadError as exc:
            unreadable.append(exc)
            read = None
        if read is None:
            upstream[spec.key] = Upstream(reads=spec.deps, checks_read=checks_read)
            continue
        select, tables = read
        reads: list[str] = []
        for table in tables:
            if table == spec.table or table in external:
                continue
            producer = producers.get(table)
            if producer is None:
                import difflib  # here: most graphs read no table nothing produces

                close = difflib.get_close_matches(table, producers, n=1)
                place = read_place(spec, select, table)
                uncovered.append(UncoveredRead(spec.key, table, close[0] if close else None, place))
            elif producer not in reads:
                reads.append(producer)
        reads.sort(key=declared_at.__getitem__)
        ordering = tuple(dep for dep in spec.deps if dep not in reads)
        upstream[spec.key] = Upstream(
            reads=tuple(reads),
            ordering=ordering,
            derived=True,
            checks_read=checks_read,
            select=select,
        )
    return DerivedReads(upstream, unreadable, uncovered)


def _tables_read(spec: AssetSpec, analyser: IOManager | None) -> tuple[str, tuple[str, ...]] | None:
    """``spec``'s SQL as rendered for analysis and the tables it reads, or None when
    nothing here can tell."""
    if spec.kind != "sql" or analyser is None:
        return None
    try:
        sql = render_sql(spec, analyser)
    except Exception as exc:
        raise SqlReadError(
            spec.key,
            failure_place(spec, exc),
            of_asset(spec.key, spec.table)
            + f"its SQL body failed when rendered for analysis: {body_failure(spec, exc)}",
        ) from exc
    try:
        return sql, analyser.tables_read(sql).tables
    except NotImplementedError:
        return None
    except SqlAnalysisError as exc:
        place, exact = select_place(spec, sql, exc.line, exc.col)
        cause = at(place, f"cannot tell which tables it reads: {exc.said(placed=exact)}")
        message = of_asset(spec.key, spec.table) + cause
        raise SqlReadError(spec.key, place, message) from None


def _checks_read(
    spec: AssetSpec, analyser: IOManager | None, producers: Mapping[str, str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each check of ``spec`` that reads other assets' tables, with those assets
    (:attr:`Upstream.checks_read`); nothing when no analyser can tell."""
    if analyser is None:
        return ()
    found = []
    for check in spec.checks:
        tables = _check_tables(spec, check, analyser) or ()
        keys = [producers[t] for t in tables if t in producers and producers[t] != spec.key]
        if keys:
            found.append((check.name, tuple(dict.fromkeys(keys))))
    return tuple(found)


def _check_tables(
    spec: AssetSpec, check: AssetCheck, analyser: IOManager
) -> tuple[str, ...] | None:
    """The tables ``check`` reads, its ``{table}`` written as its asset's table; None when
    its SQL cannot be parsed (left to the run, which reports the check's own error) or
    the analyser cannot analyse SQL. Answers are kept like an asset's SELECT's
    (:mod:`io_managers.analysis_cache`), so a command pays for them once."""
    try:
        return analyser.tables_read(check.sql.replace("{table}", spec.table)).tables
    except (NotImplementedError, SqlAnalysisError):
        return None


@dataclass(frozen=True)
class UncoveredCheckRead:
    """An asset check reads a table that no asset produces and no one declared external."""

    asset: str
    check: str
    table: str
    #: Where the check is declared (its ``AssetCheck(...)``), as other findings say it.
    place: Place | None = None

    def cause(self) -> str:
        """What is wrong and what to do, for a line that already names asset and table."""
        return at(
            self.place,
            f"its check {self.check!r} reads this table, which no asset produces (renamed "
            "or removed? an old table stays in the warehouse, and the check would judge "
            "rows no run refreshes); read a table an asset produces, or declare it in "
            "Definitions(external_tables=[...])",
        )


def uncovered_check_reads(
    specs: Sequence[AssetSpec],
    analysers: Mapping[str, IOManager],
    external_tables: Iterable[str] = (),
) -> list[UncoveredCheckRead]:
    """Asset checks reading tables no asset produces, for ``pipeline validate``.

    The graph never runs a check before the tables it reads are rebuilt, but nothing else
    holds a check to tables that have an asset: after a table is renamed, the old one
    stays in the warehouse, and a check still reading it passes against rows no run
    refreshes. Each check's SQL, its ``{table}`` written as the asset's table, is parsed
    by the asset's IO manager like an asset's SELECT; one it cannot parse is left to the
    run, which reports the check's error.
    """
    producers = {spec.table for spec in specs} | set(external_tables)
    found: list[UncoveredCheckRead] = []
    for spec in specs:
        analyser = analysers.get(spec.io_manager)
        if analyser is None:
            continue
        for check in spec.checks:
            found.extend(
                UncoveredCheckRead(spec.key, check.name, table, check.place)
                for table in _check_tables(spec, check, analyser) or ()
                if table not in producers
            )
    return found


def build_graph(
    specs: Iterable[AssetSpec],
    analysers: Mapping[str, IOManager],
    external_tables: Iterable[str] = (),
    ddl_paths: Iterable[Path] = (),
) -> AssetGraph:
    """The asset graph with every SQL asset's upstream derived from its SQL, knowing the
    tables it may read that no asset produces and the DDL that creates its tables; the
    first problem of the declarations refused as the code location's
    (:meth:`~orchestration.graph.AssetGraphError.refusal`)."""
    specs, external_tables = list(specs), tuple(external_tables)
    try:
        upstream = derive_upstream(specs, analysers, external_tables)
        return AssetGraph(specs, upstream, external_tables, ddl_paths)
    except AssetGraphError as error:  # any problem of them: the code location's refusal
        raise error.refusal() from (error.__cause__ or error)  # a body's failure: --debug


def check_graph(
    specs: Iterable[AssetSpec],
    analysers: Mapping[str, IOManager],
    external_tables: Iterable[str] = (),
) -> tuple[PartialGraph, list[UncoveredRead]]:
    """Every problem of the graph (:func:`build_graph` refuses the first), each read of
    a table no asset produces, and the graph of the assets none of them reaches."""
    specs, external_tables = list(specs), tuple(external_tables)
    derived = derive_reads(specs, analysers, external_tables)
    partial = partial_graph(
        specs,
        derived.upstream,
        [unreadable.problem() for unreadable in derived.unreadable],
        broken=[read.asset for read in derived.uncovered],
        external_tables=external_tables,
    )
    return partial, derived.uncovered
