"""Our selection answers equal Dagster's on recorded random graphs and expressions.

The fixture is produced by ``scripts/dagster_selection_fixture.py`` under a throwaway
venv with Dagster installed; this test needs no Dagster. Each case pairs the expression a
user types here (``expression``) with the one Dagster was asked (``dagster_expression``:
``key:`` written before every bare name, the product's one deliberate difference from
Dagster); for expressions already in Dagster's grammar the two are equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from orchestration.selection import (
    All,
    And,
    Downstream,
    EmptySelectionError,
    Group,
    KeyPattern,
    Not,
    Or,
    Roots,
    SelectionSyntaxError,
    Sinks,
    Tag,
    Upstream,
    parse_selection,
    select_keys,
)

FIXTURE = Path(__file__).parent / "fixtures" / "dagster_selection.json"
_DATA = json.loads(FIXTURE.read_text())
_CASES = _DATA["cases"]


def _graph(spec: dict) -> nx.DiGraph:
    dag = nx.DiGraph()
    for node in spec["nodes"]:
        dag.add_node(node["key"], group=node["group"], tags=dict(node["tags"]))
    dag.add_edges_from(tuple(edge) for edge in spec["edges"])
    return dag


_GRAPHS = [_graph(spec) for spec in _DATA["graphs"]]


def _bare_names(expression: str, dagster_expression: str) -> list[str]:
    """The words before which ``key:`` was inserted; fails if the texts differ otherwise."""
    names: list[str] = []
    i = j = 0
    while j < len(dagster_expression):
        if dagster_expression.startswith("key:", j) and not expression.startswith("key:", i):
            j += len("key:")
            end = i
            while end < len(expression) and (expression[end].isalnum() or expression[end] in "_*/"):
                end += 1
            names.append(expression[i:end])
            continue
        assert i < len(expression) and expression[i] == dagster_expression[j], (
            f"{dagster_expression!r} is not {expression!r} with key: inserted"
        )
        i += 1
        j += 1
    assert i == len(expression), f"{dagster_expression!r} drops the end of {expression!r}"
    return names


def _nodes(expression: str) -> list[object]:
    stack: list[object] = [parse_selection(expression)]
    nodes: list[object] = []
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack += [getattr(node, name) for name in ("child", "left", "right") if hasattr(node, name)]
    return nodes


def test_fixture_holds_enough_cases_with_a_dagster_answer():
    answered = [case for case in _CASES if "result" in case]
    assert len(answered) >= 200
    assert sum(1 for case in answered if case["result"]) >= 200


def test_dagster_was_asked_the_same_expression_with_key_before_bare_names():
    bare = [case for case in _CASES if _bare_names(case["expression"], case["dagster_expression"])]
    assert sum(1 for case in bare if case.get("result")) >= 100


def test_fixture_covers_every_operator_with_non_empty_answers():
    """Each operator appears in cases where Dagster selected something, so they compare."""
    seen: set[str] = set()
    for case in _CASES:
        if not case.get("result"):
            continue
        expression = case["expression"]
        for name in _bare_names(expression, case["dagster_expression"]):
            seen.add("bare wildcard" if "*" in name else "bare name")
        if "(" in expression.replace("roots(", "").replace("sinks(", ""):
            seen.add("parentheses")
        for node in _nodes(expression):
            match node:
                case KeyPattern(pattern):
                    seen.add("key wildcard" if "*" in pattern else "key")
                case Tag(_, value):
                    seen.add("tag:K=V" if value else "tag:K")
                case Upstream(_, depth) | Downstream(_, depth):
                    limit = "all levels" if depth is None else "N levels"
                    seen.add(f"{type(node).__name__} {limit}")
                case All() | Group() | Not() | And() | Or() | Roots() | Sinks():
                    seen.add(type(node).__name__)
    expected = {"bare name", "bare wildcard", "parentheses", "key", "key wildcard"}
    expected |= {"tag:K=V", "tag:K", "All", "Group", "Not", "And", "Or", "Roots", "Sinks"}
    expected |= {f"{d} {n}" for d in ("Upstream", "Downstream") for n in ("all levels", "N levels")}
    assert expected - seen == set()


@pytest.mark.parametrize(
    "case",
    _CASES,
    ids=[f"g{case['graph']}:{case['expression']!r}" for case in _CASES],
)
def test_selection_matches_dagster(case: dict):
    dag = _GRAPHS[case["graph"]]
    expression = case["expression"]
    if case.get("error") == "syntax":
        with pytest.raises(SelectionSyntaxError):
            select_keys(dag, expression)
    elif case.get("result") == []:
        with pytest.raises(EmptySelectionError):
            select_keys(dag, expression)
    else:
        assert sorted(select_keys(dag, expression)) == case["result"]
