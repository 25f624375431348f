"""The asset graph rejects malformed declarations with messages that name the culprits."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.asset import AssetDefinitionError, AssetSpec, asset
from orchestration.graph import AssetGraph, AssetGraphError, Dag, partial_graph


def spec(key: str, *deps: str, table: str | None = None, group: str = "g") -> AssetSpec:
    return AssetSpec(
        key=key,
        table=table or f"db.{key}",
        body=lambda ctx: pd.DataFrame(),
        kind="python",
        deps=deps,
        group=group,
    )


def _deps_at() -> str:
    """``tests/test_graph.py:LINE:COL``: the ``deps=`` of :func:`spec`'s ``AssetSpec(...)``."""
    lines = Path(__file__).read_text().splitlines()
    number = next(n for n, line in enumerate(lines, 1) if line == "        deps=deps,")
    return f"{Path(__file__).relative_to(Path.cwd())}:{number}:9"


DEPS_AT = _deps_at()


def test_cycle_is_rejected_and_printed_with_where_each_edge_is_declared():
    """Each edge after the asset it leads to: that asset's ``deps=`` names the one before
    (here all of them in :func:`spec`'s ``AssetSpec(...)``, at its ``deps=``)."""
    with pytest.raises(AssetGraphError) as refused:
        AssetGraph([spec("a", "b"), spec("b", "c"), spec("c", "a")])
    at = DEPS_AT
    assert str(refused.value) == (
        f"dependency cycle: a -> c (its deps= names a, {at}) -> b (its deps= names c, {at}) "
        f"-> a (its deps= names b, {at})"
    )


def test_unknown_dependency_names_both_assets():
    with pytest.raises(AssetGraphError, match="asset 'child' depends on 'ghost'"):
        AssetGraph([spec("child", "ghost")])


def test_a_mistyped_dependency_is_told_the_asset_it_meant():
    with pytest.raises(
        AssetGraphError, match=r"which is not a declared asset; did you mean dim_country\?$"
    ):
        AssetGraph([spec("dim_country"), spec("fact", "dim_countryy")])


def test_duplicate_keys_are_rejected():
    with pytest.raises(AssetGraphError, match="duplicate asset key 'a'"):
        AssetGraph([spec("a"), spec("a", table="db.other")])


def test_two_assets_writing_one_table_are_rejected():
    with pytest.raises(AssetGraphError, match=r"assets 'a' and 'b' both write table db\.shared"):
        AssetGraph([spec("a", table="db.shared"), spec("b", table="db.SHARED")])


def test_a_partial_graph_has_every_problem_and_sets_aside_only_what_they_reach():
    """What ``validate`` checks: the first problem is what AssetGraph refuses with, and
    the others are there too, each with its assets; an asset on a cycle, depending on no
    declared asset, or downstream of either, is set aside, the rest is a graph."""
    specs = [
        spec("ok"),
        spec("a", "ok", "ghost"),
        spec("b", "a"),
        spec("c", "d"),
        spec("d", "c"),
        spec("e", "d"),
        spec("f", "ok", table="db.ok"),
        spec("g", "ok"),
    ]
    with pytest.raises(AssetGraphError) as refused:
        AssetGraph(specs)

    partial = partial_graph(specs, {})
    assert [(p.message, p.assets) for p in partial.problems] == [
        (str(refused.value), ("ok", "f")),
        ("asset 'a' depends on 'ghost', which is not a declared asset", ("a",)),
        (
            f"dependency cycle: c -> d (its deps= names c, {DEPS_AT}) -> c (its deps= names d, "
            f"{DEPS_AT})",
            ("c", "d"),
        ),
    ]
    assert dict(partial.set_aside) == {
        "ok": ("ok",),
        "f": ("f", "ok"),
        "a": ("a", "ok"),
        "b": ("a", "ok"),
        "c": ("c", "d"),
        "d": ("c", "d"),
        "e": ("c", "d"),
        "g": ("ok",),
    }
    assert [s.key for s in partial.graph] == []

    fine = partial_graph([spec("x"), spec("y", "x"), spec("z", "ghost")], {})
    assert [s.key for s in fine.graph] == ["x", "y"]
    assert dict(fine.set_aside) == {"z": ("z",)}


def test_topological_order_puts_upstream_first_and_keeps_declaration_order():
    graph = AssetGraph([spec("d", "b", "c"), spec("c", "a"), spec("b", "a"), spec("a")])
    assert [s.key for s in graph] == ["a", "c", "b", "d"]


def test_external_upstream_lists_unselected_parents_only():
    graph = AssetGraph([spec("a"), spec("b", "a"), spec("c", "b"), spec("x"), spec("d", "c", "x")])
    assert [s.key for s in graph.external_upstream(["c", "d"])] == ["b", "x"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "bad-key"}, "must be an identifier"),
        ({"table": "no_database"}, "must be written 'database.Table'"),
        ({"write_mode": "insert_new"}, "needs a unique key"),
        ({"deps": ("x", "x")}, "lists a dependency twice"),
        ({"deps": ("k",)}, "depends on itself"),
        ({"schema": "schemas.marts.DimCountry"}, "'package.module:Model' reference"),
        ({"also_reads": ("db.t.key",)}, "also_reads adds to a declared column_lineage"),
        # Ordered by in a query pasted into a shell: a column name, not an expression.
        ({"latest_by": "at DESC; DROP"}, "latest_by 'at DESC; DROP' must be a column name"),
    ],
)
def test_malformed_declarations_fail_at_definition(kwargs, message):
    base = {"key": "k", "table": "db.k", "body": lambda ctx: None, "kind": "python"}
    with pytest.raises(AssetDefinitionError, match=message):
        AssetSpec(**(base | kwargs))


def test_decorator_uses_function_name_docstring_and_kind():
    @asset(table="db.decorated_example", kind="sql", tags={"layer": "x"})
    def decorated_example(context):
        """Why this table exists."""
        return "SELECT 1"

    assert decorated_example.key == "decorated_example"
    assert decorated_example.kind == "sql"
    assert decorated_example.description == "Why this table exists."
    assert dict(decorated_example.tags) == {"layer": "x"}


def test_schema_reference_is_imported_when_first_read():
    from schemas.marts import DimCountry

    declared = AssetSpec(
        key="k", table="db.k", body=lambda ctx: None, kind="sql", schema="schemas.marts:DimCountry"
    )
    assert declared.schema is DimCountry


def test_schema_reference_that_does_not_resolve_names_the_asset():
    declared = AssetSpec(
        key="k", table="db.k", body=lambda ctx: None, kind="sql", schema="schemas.marts:Nope"
    )
    with pytest.raises(AssetDefinitionError, match=r"asset 'k': schema 'schemas\.marts:Nope'"):
        _ = declared.schema


# The graph is kept in plain dicts so that listing assets never imports networkx; networkx
# is the reference its order, reachability and cycle detection must agree with.
_edge_lists = st.integers(min_value=1, max_value=12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda e: e[0] != e[1]),
            unique=True,
            max_size=3 * n,
        ),
    )
)


def _both(n: int, edges: list[tuple[int, int]]) -> tuple[Dag, nx.DiGraph]:
    dag, reference = Dag(), nx.DiGraph()
    for i in range(n):
        dag.add_node(f"n{i}")
        reference.add_node(f"n{i}")
    for a, b in edges:
        dag.add_edge(f"n{a}", f"n{b}")
        reference.add_edge(f"n{a}", f"n{b}")
    return dag, reference


@settings(max_examples=300, deadline=None)
@given(_edge_lists)
def test_dag_agrees_with_networkx(case):
    n, edges = case
    dag, reference = _both(n, edges)
    cycle = dag.find_cycle()
    if not nx.is_directed_acyclic_graph(reference):
        assert cycle is not None and cycle[0] == cycle[-1]
        assert all(reference.has_edge(a, b) for a, b in itertools.pairwise(cycle))
        return
    assert cycle is None
    rank = {f"n{i}": (i * 7) % n for i in range(n)}  # ties broken by an arbitrary rank
    expected = nx.lexicographical_topological_sort(reference, key=lambda k: (rank[k], k))
    assert dag.topological_order(rank) == list(expected)
    for node in reference:
        assert dag.reachable(node, upstream=True) == nx.ancestors(reference, node)
        assert dag.reachable(node, upstream=False) == nx.descendants(reference, node)


def test_a_docstring_becomes_a_description_without_sphinx_roles():
    # The description is shown in the Prefect UI (asset pages, the task run), where
    # ":mod:`assets.sources.engine_csv`" is markup nobody renders.
    @asset(table="db.t", key="test_graph_with_roles")
    def with_roles(context):
        """Read with :mod:`assets.sources.engine_csv`; see :func:`~assets.sql.hash_key`
        and :py:class:`Thing`. Plain ``code`` stays."""

    assert with_roles.description == (
        "Read with `assets.sources.engine_csv`; see `assets.sql.hash_key`\n"
        "and `Thing`. Plain ``code`` stays."
    )
