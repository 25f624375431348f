"""The asset graph rejects malformed declarations with messages that name the culprits."""

from __future__ import annotations

import pandas as pd
import pytest

from orchestration.asset import AssetDefinitionError, AssetSpec, asset
from orchestration.graph import AssetGraph, AssetGraphError


def spec(key: str, *deps: str, table: str | None = None, group: str = "g") -> AssetSpec:
    return AssetSpec(
        key=key,
        table=table or f"db.{key}",
        body=lambda ctx: pd.DataFrame(),
        kind="python",
        deps=deps,
        group=group,
    )


def test_cycle_is_rejected_and_printed():
    with pytest.raises(
        AssetGraphError,
        match=r"dependency cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)",
    ):
        AssetGraph([spec("a", "b"), spec("b", "c"), spec("c", "a")])


def test_unknown_dependency_names_both_assets():
    with pytest.raises(AssetGraphError, match="asset 'child' depends on 'ghost'"):
        AssetGraph([spec("child", "ghost")])


def test_duplicate_keys_are_rejected():
    with pytest.raises(AssetGraphError, match="duplicate asset key 'a'"):
        AssetGraph([spec("a"), spec("a", table="db.other")])


def test_two_assets_writing_one_table_are_rejected():
    with pytest.raises(AssetGraphError, match=r"assets 'a' and 'b' both write table db\.shared"):
        AssetGraph([spec("a", table="db.shared"), spec("b", table="db.SHARED")])


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
        ({"write_mode": "insert_new"}, "needs unique_key"),
        ({"deps": ("x", "x")}, "lists a dependency twice"),
        ({"deps": ("k",)}, "depends on itself"),
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
