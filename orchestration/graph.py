"""The asset graph: declarations joined by their dependencies, checked once when built.

Every command refuses declarations that do not form a graph, with the first problem
found; ``pipeline validate`` asks for all of them (:func:`graph_problems`) and checks the
assets none of them reaches, so one CI run says every problem of a change.

The graph is a few dozen nodes, so it is kept in plain dicts rather than networkx: every
command builds it, and importing networkx alone costs ~0.3 s, a third of what
``pipeline list`` may take.
"""

from __future__ import annotations

import copy
import functools
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.asset_code import at_end, declaration_place, deps_place, read_place
from orchestration.errors import ExpectedError, Place, did_you_mean

#: How every command's refusal of the code location's declarations begins.
CANNOT_LOAD = "cannot load the code location"


class AssetGraphError(ExpectedError, ValueError):
    """The declarations cannot form a valid graph (cycle, unknown dep, duplicate)."""

    def refusal(self) -> AssetGraphError:
        """This error as a command that needs the code location's graph refuses with it:
        one problem stops the whole graph, whichever assets the command was asked about,
        so its line says so first, the same for every problem of the declarations."""
        return AssetGraphError(f"{CANNOT_LOAD}: {self}")


class NodeView:
    """The nodes of a :class:`Dag`, iterable like networkx's ``DiGraph.nodes``.

    ``nodes(data="group")`` yields ``(key, group)`` pairs, as networkx does, so selection
    evaluates the same way on this graph and on a networkx one.
    """

    def __init__(self, data: Mapping[str, Mapping[str, Any]]) -> None:
        self._data = data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        return self._data[key]

    def __call__(self, data: str) -> Iterator[tuple[str, Any]]:
        return ((key, attributes.get(data)) for key, attributes in self._data.items())


class Dag:
    """Directed edges from each upstream asset to its dependants, with node attributes.

    The subset of networkx's ``DiGraph`` that selection reads: ``nodes``,
    ``predecessors``, ``successors`` and ``in``.
    """

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._upstream: dict[str, list[str]] = {}
        self._downstream: dict[str, list[str]] = {}
        self.nodes = NodeView(self._data)

    def add_node(self, key: str, **attributes: Any) -> None:
        self._data[key] = attributes
        self._upstream.setdefault(key, [])
        self._downstream.setdefault(key, [])

    def add_edge(self, upstream: str, downstream: str) -> None:
        self._upstream[downstream].append(upstream)
        self._downstream[upstream].append(downstream)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def predecessors(self, key: str) -> Iterator[str]:
        return iter(self._upstream[key])

    def successors(self, key: str) -> Iterator[str]:
        return iter(self._downstream[key])

    def find_cycle(self, leave_out: Iterable[str] = ()) -> list[str] | None:
        """One dependency cycle as a closed path (``[a, c, b, a]``), or None; none
        through the nodes in ``leave_out``."""
        finished: set[str] = set(leave_out)
        for root in self._data:
            if root in finished:
                continue
            path: list[str] = [root]
            on_path = {root}
            stack = [iter(self._downstream[root])]
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    stack.pop()
                    done = path.pop()
                    on_path.discard(done)
                    finished.add(done)
                elif child in on_path:
                    return [*path[path.index(child) :], child]
                elif child not in finished:
                    path.append(child)
                    on_path.add(child)
                    stack.append(iter(self._downstream[child]))
        return None

    def find_cycles(self) -> list[list[str]]:
        """A cycle through each tangle of nodes: after one is found, the next is sought
        without its nodes, so a node is on one cycle found at most."""
        cycles: list[list[str]] = []
        on_one: set[str] = set()
        while cycle := self.find_cycle(on_one):
            cycles.append(cycle)
            on_one.update(cycle)
        return cycles

    def reachable(self, key: str, *, upstream: bool) -> set[str]:
        """Every node reached from ``key`` against (ancestors) or along (descendants) edges."""
        edges = self._upstream if upstream else self._downstream
        reached: set[str] = set()
        frontier = [key]
        while frontier:
            for other in edges[frontier.pop()]:
                if other not in reached:
                    reached.add(other)
                    frontier.append(other)
        return reached

    def topological_order(self, rank: Mapping[str, int]) -> list[str]:
        """Upstream first; among assets ready at the same time, the lowest ``rank`` first."""
        waiting = {key: len(ups) for key, ups in self._upstream.items()}
        ready = [(rank[key], key) for key, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, key = heapq.heappop(ready)
            order.append(key)
            for child in self._downstream[key]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (rank[child], child))
        return order


@dataclass(frozen=True)
class Upstream:
    """Where an asset's upstream edges come from.

    ``reads`` are the assets whose tables the asset reads: parsed from a SQL asset's
    SELECT (``derived``), or as declared for a Python asset, whose reads no parser sees.
    ``ordering`` are declared deps it does not read: they only order the run (facts after
    the dimensions their checks read). ``checks_read`` pairs each of its checks that reads
    other assets' tables with those assets, parsed from the check's SQL as the asset's
    SELECT is: a check failing may be such a table's doing, and an ordering dep its checks
    read is no "order only" edge (no rows of it are in the table, but the checks judge
    them). ``select`` is the SELECT ``reads`` were parsed from (``derived`` only): where
    it names a table is found in it only when an error says so (an edge of a cycle).
    """

    reads: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    derived: bool = False
    checks_read: tuple[tuple[str, tuple[str, ...]], ...] = ()
    select: str | None = field(default=None, compare=False, repr=False)

    @property
    def deps(self) -> tuple[str, ...]:
        return self.reads + self.ordering

    @property
    def checked(self) -> tuple[str, ...]:
        """The assets whose tables its checks read, each once."""
        return tuple(dict.fromkeys(key for _, keys in self.checks_read for key in keys))

    def read_by_check(self, check: str) -> tuple[str, ...]:
        """The other assets whose tables its check ``check`` reads (none if not known)."""
        return dict(self.checks_read).get(check, ())

    def shown(self) -> list[str]:
        """Deps for people: the tables read, then ``(order)`` for ordering-only ones."""
        return [*self.reads, *(f"{dep} (order)" for dep in self.ordering)]


def _with_deps(spec: AssetSpec, deps: tuple[str, ...]) -> AssetSpec:
    """``spec`` with other deps; a shallow copy, so a schema reference stays unimported."""
    if deps == spec.deps:
        return spec
    changed = copy.copy(spec)
    object.__setattr__(changed, "deps", deps)
    return changed


def _with_upstream(specs: Iterable[AssetSpec], upstream: Mapping[str, Upstream]) -> list[AssetSpec]:
    """``specs``, each carrying its ``upstream`` edges (if given) as its deps."""
    return [
        _with_deps(spec, upstream[spec.key].deps) if spec.key in upstream else spec
        for spec in specs
    ]


@dataclass(frozen=True)
class GraphProblem:
    """One way declarations fail to form a graph: the words every command refuses them
    with, the assets it is a problem of, and where in their code, when the words say it."""

    message: str
    assets: tuple[str, ...]
    place: Place | None = None


def _checked_dag(
    specs: Sequence[AssetSpec], upstream: Mapping[str, Upstream]
) -> tuple[Dag, list[GraphProblem]]:
    """The DAG of ``specs`` and every problem in it, in the order a command meets them
    (the first is what it refuses with): a duplicate key or a table two assets write, in
    declaration order, then each dependency on no declared asset, then each cycle, each
    edge of it said with where it comes from (``upstream``: a SELECT, or ``deps=``).

    The DAG holds one node a key and only the edges from declared assets, so the problems
    after the first are found too, and what is downstream of each is known."""
    problems: list[GraphProblem] = []
    dag = Dag()
    keys: dict[str, AssetSpec] = {}
    tables: dict[str, str] = {}
    for spec in specs:
        if spec.key in keys:
            tables_of = f"tables {keys[spec.key].table} and {spec.table}"
            problems.append(
                GraphProblem(
                    f"duplicate asset key {spec.key!r} ({tables_of})",
                    (spec.key,),
                    declaration_place(spec),
                )
            )
            continue
        owner = tables.get(spec.table.lower())
        if owner is not None:
            problems.append(
                GraphProblem(
                    f"assets {owner!r} and {spec.key!r} both write table {keys[owner].table}",
                    (owner, spec.key),
                )
            )
        tables.setdefault(spec.table.lower(), spec.key)
        keys[spec.key] = spec
        dag.add_node(spec.key, group=spec.group, tags=dict(spec.tags))
    for spec in keys.values():
        for dep in spec.deps:
            if dep in keys:
                dag.add_edge(dep, spec.key)
                continue
            problems.append(
                GraphProblem(
                    f"asset {spec.key!r} depends on {dep!r}, which is not a declared "
                    f"asset{did_you_mean(dep, list(keys))}",
                    (spec.key,),
                    declaration_place(spec),
                )
            )
    problems.extend(_cycle(cycle, keys, upstream) for cycle in dag.find_cycles())
    return dag, problems


def _cycle(
    cycle: Sequence[str], specs: Mapping[str, AssetSpec], upstream: Mapping[str, Upstream]
) -> GraphProblem:
    """A cycle (a closed path, ``[a, c, b, a]``) as a problem whose words follow each
    edge with where it comes from, after the asset it leads to: a cycle through an edge
    only a SQL asset's SELECT makes was searched for in vain among the ``deps=``."""
    edges = "".join(
        f" -> {key} ({_edge_origin(specs, before, key, upstream.get(key))})"
        for before, key in itertools.pairwise(cycle)
    )
    return GraphProblem(f"dependency cycle: {cycle[0]}{edges}", tuple(cycle[:-1]))


def _edge_origin(
    specs: Mapping[str, AssetSpec], before: str, key: str, upstream: Upstream | None
) -> str:
    """Why ``key`` depends on ``before``, and where: its SELECT reads ``before``'s table,
    or its ``deps=`` names it (a Python asset's reads, an ordering dep)."""
    spec = specs[key]
    if upstream is not None and upstream.select is not None and before in upstream.reads:
        place = read_place(spec, upstream.select, specs[before].table)
        return at_end(f"its SELECT reads {before}", place)
    return at_end(f"its deps= names {before}", deps_place(spec))


@dataclass(frozen=True)
class PartialGraph:
    """Declarations that may not form a graph, as ``pipeline validate`` checks them:
    every problem, and the graph of the assets none of them reaches."""

    graph: AssetGraph
    problems: tuple[GraphProblem, ...]
    #: Each asset left out of ``graph``: the assets with a problem it is or is downstream of.
    set_aside: Mapping[str, tuple[str, ...]]


def partial_graph(
    specs: Iterable[AssetSpec],
    upstream: Mapping[str, Upstream],
    problems: Sequence[GraphProblem] = (),
    broken: Iterable[str] = (),
    external_tables: Iterable[str] = (),
) -> PartialGraph:
    """Every problem of the graph of ``specs`` after the ``problems`` found already (an
    asset's SQL that does not parse), and the graph without the assets of any of them,
    nor those of ``broken`` (an asset reading a table nothing writes), nor anything
    downstream of them: checking those would only repeat their problem."""
    specs = _with_upstream(specs, upstream)
    dag, own = _checked_dag(specs, upstream)
    found = (*problems, *own)
    roots = {key for problem in found for key in problem.assets} | set(broken)
    set_aside: dict[str, set[str]] = {}
    for root in roots:
        for key in {root, *dag.reachable(root, upstream=False)}:
            set_aside.setdefault(key, set()).add(root)
    kept = [spec for spec in specs if spec.key not in set_aside]
    return PartialGraph(
        AssetGraph(kept, upstream, external_tables),
        found,
        {key: tuple(sorted(roots)) for key, roots in set_aside.items()},
    )


class AssetGraph:
    """A validated DAG of assets; edges point from an upstream asset to its dependant.

    Node attributes ``group`` and ``tags`` are what selection expressions match on.
    ``upstream`` (see :mod:`orchestration.derived_deps`) replaces an asset's declared deps
    by what its SQL reads plus its ordering-only deps; each spec in the graph then carries
    those edges as ``deps``, so everything built on the graph sees one set of edges.
    ``external_tables`` are the tables its assets may read that no asset produces
    (``Definitions(external_tables=...)``): what a Python asset's body may read besides
    its deps' tables (:mod:`orchestration.asset_reads`); ``ddl_paths`` the DDL that
    creates their tables: a run of an asset whose table it lacks is refused
    (:mod:`orchestration.ddl_coverage`).
    """

    def __init__(
        self,
        specs: Iterable[AssetSpec],
        upstream: Mapping[str, Upstream] | None = None,
        external_tables: Iterable[str] = (),
        ddl_paths: Iterable[Path] = (),
    ) -> None:
        upstream = upstream or {}
        self.external_tables = frozenset(external_tables)
        self.ddl_paths = tuple(ddl_paths)
        specs = _with_upstream(specs, upstream)
        self._upstream = {
            spec.key: upstream.get(spec.key) or Upstream(reads=spec.deps) for spec in specs
        }
        dag, problems = _checked_dag(specs, self._upstream)
        if problems:
            raise AssetGraphError(problems[0].message)
        self.specs: dict[str, AssetSpec] = {spec.key: spec for spec in specs}
        self.dag = dag
        # Ties broken by declaration order, so output is reproducible.
        declared = {key: i for i, key in enumerate(self.specs)}
        self._order = {key: i for i, key in enumerate(dag.topological_order(declared))}

    def __contains__(self, key: object) -> bool:
        return key in self.specs

    def __iter__(self) -> Iterator[AssetSpec]:
        return iter(self.topological(self.specs))

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, key: str) -> AssetSpec:
        return self.specs[key]

    def tables(self) -> list[str]:
        """Every asset's table, in declaration order."""
        return list(self._producers)

    def producer_of(self, table: str) -> str | None:
        """The key of the asset whose table ``table`` is; None when no asset's is."""
        return self._producers.get(table)

    @functools.cached_property
    def _producers(self) -> dict[str, str]:
        return {spec.table: spec.key for spec in self.specs.values()}

    def topological(self, keys: Iterable[str]) -> list[AssetSpec]:
        """The given assets in dependency order (upstream first)."""
        return [self.specs[k] for k in sorted(set(keys), key=self._order.__getitem__)]

    def upstream(self, key: str) -> list[str]:
        """Direct upstream keys: the tables read first, then ordering-only deps."""
        return list(self.specs[key].deps)

    def upstream_of(self, key: str) -> Upstream:
        """Which of ``key``'s upstream edges are reads and which only order the run."""
        return self._upstream[key]

    def ancestors(self, key: str) -> set[str]:
        """Every asset ``key`` depends on, directly or transitively."""
        return self.dag.reachable(key, upstream=True)

    def external_upstream(self, keys: Iterable[str]) -> list[AssetSpec]:
        """Assets feeding the selection without being part of it (read as they are)."""
        selected = set(keys)
        outside = {dep for key in selected for dep in self.specs[key].deps} - selected
        return self.topological(outside)

    def select(
        self,
        expression: str | None,
        states: Callable[[], Mapping[str, str]] | None = None,
    ) -> list[AssetSpec]:
        """Assets matching a Dagster-style selection expression, in dependency order.

        ``None`` or ``"*"`` selects everything; ``states`` answers ``status:`` (see
        :class:`orchestration.asset_state.StateBook`).
        """
        if expression is None:
            return list(self)
        from orchestration.selection import select_keys

        return self.topological(select_keys(self.dag, expression, states))
