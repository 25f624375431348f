"""``status:stale|missing|fresh`` combined with the rest of the selection syntax."""

from __future__ import annotations

import networkx as nx
import pytest

from orchestration.selection import (
    EmptySelectionError,
    SelectionSyntaxError,
    StatusUnavailableError,
    select_keys,
)

# raw -> psa -> hub -> fact -> summary;  psa -> dim (marts)
EDGES = [
    ("raw", "psa"),
    ("psa", "hub"),
    ("hub", "fact"),
    ("fact", "summary"),
    ("psa", "dim"),
]
GROUPS = {"raw": "raw", "psa": "raw", "hub": "vault", "fact": "marts", "dim": "marts"}
STATES = {
    "raw": "fresh",
    "psa": "fresh",
    "hub": "stale",
    "fact": "fresh",
    "summary": "fresh",
    "dim": "missing",
}


@pytest.fixture
def dag() -> nx.DiGraph:
    graph = nx.DiGraph()
    for key in STATES:
        graph.add_node(key, group=GROUPS.get(key, "quality"), tags={})
    graph.add_edges_from(EDGES)
    return graph


def select(dag: nx.DiGraph, expression: str, states=STATES) -> set[str]:
    return set(select_keys(dag, expression, lambda: states))


def test_status_stale_selects_the_stale_assets_only(dag):
    assert select(dag, "status:stale") == {"hub"}


def test_status_missing_and_fresh(dag):
    assert select(dag, "status:missing") == {"dim"}
    assert select(dag, "status:fresh") == {"raw", "psa", "fact", "summary"}


def test_status_stale_plus_adds_everything_downstream(dag):
    assert select(dag, "status:stale+") == {"hub", "fact", "summary"}


def test_status_with_depth_limited_traversal(dag):
    assert select(dag, "status:stale+1") == {"hub", "fact"}
    assert select(dag, "+status:missing") == {"dim", "psa", "raw"}


def test_status_or_status_then_downstream(dag):
    assert select(dag, "(status:stale or status:missing)+") == {"hub", "fact", "summary", "dim"}


def test_status_and_group(dag):
    assert select(dag, "status:stale+ and group:marts") == {"fact"}


def test_not_status_fresh(dag):
    assert select(dag, "not status:fresh") == {"hub", "dim"}


def test_status_with_a_bare_name(dag):
    assert select(dag, "fact+ and not status:stale") == {"fact", "summary"}


def test_nothing_stale_is_an_empty_answer_not_an_error(dag):
    all_fresh = dict.fromkeys(STATES, "fresh")
    assert select(dag, "status:stale+", all_fresh) == set()


def test_empty_status_selection_still_reports_a_misspelt_key(dag):
    with pytest.raises(EmptySelectionError, match="no asset named 'fcat'; did you mean fact"):
        select(dag, "status:stale and fcat")


def test_empty_selection_without_status_is_still_an_error(dag):
    with pytest.raises(EmptySelectionError):
        select(dag, "group:vault and group:marts")


def test_unknown_status_value_points_at_it():
    with pytest.raises(SelectionSyntaxError, match="unknown status 'old'") as error:
        select_keys(nx.DiGraph(), "group:x or status:old", dict)
    assert error.value.position == 18


def test_quoted_status_value(dag):
    assert select(dag, 'status:"stale"') == {"hub"}


def test_status_without_history_says_where_it_works(dag):
    with pytest.raises(StatusUnavailableError, match="needs the warehouse's materialization"):
        select_keys(dag, "status:stale+")


def test_states_are_asked_once_and_only_when_needed(dag):
    calls = []

    def states():
        calls.append(1)
        return STATES

    select_keys(dag, "group:raw", states)
    assert calls == []
    select_keys(dag, "status:stale+ or status:missing or not status:fresh", states)
    assert calls == [1]
