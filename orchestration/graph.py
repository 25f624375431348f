"""The asset graph: declarations joined by their dependencies, checked once when built."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import networkx as nx

from orchestration.asset import AssetSpec


class AssetGraphError(ValueError):
    """The declarations cannot form a valid graph (cycle, unknown dep, duplicate)."""


class AssetGraph:
    """A validated DAG of assets; edges point from an upstream asset to its dependant.

    Node attributes ``group`` and ``tags`` are what selection expressions match on.
    """

    def __init__(self, specs: Iterable[AssetSpec]) -> None:
        specs = list(specs)
        self.specs: dict[str, AssetSpec] = {}
        tables: dict[str, str] = {}
        for spec in specs:
            if spec.key in self.specs:
                raise AssetGraphError(
                    f"duplicate asset key {spec.key!r} "
                    f"(tables {self.specs[spec.key].table} and {spec.table})"
                )
            owner = tables.get(spec.table.lower())
            if owner is not None:
                raise AssetGraphError(
                    f"assets {owner!r} and {spec.key!r} both write table {self.specs[owner].table}"
                )
            tables[spec.table.lower()] = spec.key
            self.specs[spec.key] = spec

        dag = nx.DiGraph()
        for spec in specs:
            dag.add_node(spec.key, group=spec.group, tags=dict(spec.tags))
        for spec in specs:
            for dep in spec.deps:
                if dep not in self.specs:
                    raise AssetGraphError(
                        f"asset {spec.key!r} depends on {dep!r}, which is not a declared asset"
                    )
                dag.add_edge(dep, spec.key)
        try:
            cycle = nx.find_cycle(dag)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            raise AssetGraphError(f"dependency cycle: {path}")
        self.dag: nx.DiGraph = dag
        self._order = {key: i for i, key in enumerate(self._stable_topological_order())}

    def _stable_topological_order(self) -> list[str]:
        """Topological order, ties broken by declaration order, so output is reproducible."""
        position = {key: i for i, key in enumerate(self.specs)}
        return list(nx.lexicographical_topological_sort(self.dag, key=position.__getitem__))

    def __contains__(self, key: object) -> bool:
        return key in self.specs

    def __iter__(self) -> Iterator[AssetSpec]:
        return iter(self.topological(self.specs))

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, key: str) -> AssetSpec:
        return self.specs[key]

    def topological(self, keys: Iterable[str]) -> list[AssetSpec]:
        """The given assets in dependency order (upstream first)."""
        return [self.specs[k] for k in sorted(set(keys), key=self._order.__getitem__)]

    def upstream(self, key: str) -> list[str]:
        """Direct upstream keys, in declaration order."""
        return list(self.specs[key].deps)

    def ancestors(self, key: str) -> set[str]:
        """Every asset ``key`` depends on, directly or transitively."""
        return nx.ancestors(self.dag, key)

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
