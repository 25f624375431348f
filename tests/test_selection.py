"""Selection expressions, one behaviour each, on a small copy of the retail asset graph.

Expected answers follow Dagster's ``AssetSelection.from_string``, except that a bare name
means ``key:NAME`` (the exhaustive comparison with Dagster lives in
``test_selection_dagster.py``).
"""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from orchestration.asset import AssetSpec
from orchestration.graph import AssetGraph
from orchestration.selection import (
    EmptySelectionError,
    SelectionSyntaxError,
    key_term,
    parse_selection,
    select_keys,
)

# key: (group, tags, deps)
RETAIL = {
    "raw_online_retails": ("raw", {"layer": "raw", "pii": ""}, ()),
    "psa_online_retails": ("raw", {"layer": "staging", "pii": ""}, ("raw_online_retails",)),
    "hub_invoice": ("vault", {"layer": "vault"}, ("psa_online_retails",)),
    "hub_product": ("vault", {"layer": "vault"}, ("psa_online_retails",)),
    "link_invoice_product": (
        "vault",
        {"layer": "vault"},
        ("psa_online_retails", "hub_invoice", "hub_product"),
    ),
    "sat_invoice": ("vault", {"layer": "vault"}, ("psa_online_retails", "hub_invoice")),
    "fact_sales": (
        "marts",
        {"layer": "marts", "team": "data-eng"},
        ("link_invoice_product", "sat_invoice"),
    ),
    "dim_product": ("marts", {"layer": "marts", "team": "data-eng"}, ("hub_product",)),
    "data_quality": ("quality", {"layer": "quality"}, ("psa_online_retails", "fact_sales")),
    "sales_summary": ("quality", {"layer": "quality"}, ("fact_sales",)),
    "quality_metrics": ("metrics", {}, ("data_quality", "sales_summary")),
}
ALL = set(RETAIL)
VAULT = {"hub_invoice", "hub_product", "link_invoice_product", "sat_invoice"}
FACT_DESCENDANTS = {"data_quality", "sales_summary", "quality_metrics"}
FACT_ANCESTORS = VAULT | {"raw_online_retails", "psa_online_retails"}


def _spec(key: str) -> AssetSpec:
    group, tags, deps = RETAIL[key]
    return AssetSpec(
        key=key,
        table=f"db.{key}",
        body=lambda ctx: pd.DataFrame(),
        kind="python",
        deps=deps,
        group=group,
        tags=tags,
    )


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return AssetGraph(_spec(key) for key in RETAIL)


@pytest.fixture(scope="module")
def dag(graph: AssetGraph) -> nx.DiGraph:
    return graph.dag


def select(dag: nx.DiGraph, expression: str) -> set[str]:
    return set(select_keys(dag, expression))


# --------------------------------------------------------------------------- attributes


def test_key_selects_exactly_that_asset(dag):
    assert select(dag, "key:fact_sales") == {"fact_sales"}


def test_quoted_key_selects_that_asset(dag):
    assert select(dag, 'key:"dim_product"') == {"dim_product"}


def test_key_prefix_wildcard(dag):
    assert select(dag, "key:hub_*") == {"hub_invoice", "hub_product"}


def test_key_suffix_wildcard(dag):
    assert select(dag, "key:*_invoice") == {"hub_invoice", "sat_invoice"}


def test_key_wildcard_matches_inside_the_name(dag):
    assert select(dag, "key:*invoice*") == {"hub_invoice", "link_invoice_product", "sat_invoice"}


def test_quoted_key_wildcard(dag):
    assert select(dag, 'key:"sat_*"') == {"sat_invoice"}


def test_group_selects_its_assets(dag):
    assert select(dag, "group:vault") == VAULT


def test_quoted_group_with_star_is_a_wildcard(dag):
    assert select(dag, 'group:"ma*"') == {"fact_sales", "dim_product"}


def test_tag_with_value(dag):
    assert select(dag, "tag:layer=marts") == {"fact_sales", "dim_product"}


def test_tag_with_quoted_value(dag):
    assert select(dag, 'tag:team="data-eng"') == {"fact_sales", "dim_product"}


def test_tag_without_value_matches_tags_whose_value_is_empty(dag):
    assert select(dag, "tag:pii") == {"raw_online_retails", "psa_online_retails"}


def test_tag_without_value_does_not_match_a_tag_that_has_a_value(dag):
    with pytest.raises(EmptySelectionError):
        select(dag, "tag:layer")


def test_whole_expression_tag_value_may_hold_any_character(dag):
    # Dagster's legacy fallback: unquoted `data-eng` is not a token, the rest is verbatim.
    assert select(dag, "tag:team=data-eng") == {"fact_sales", "dim_product"}


def test_star_selects_every_asset(dag):
    assert select(dag, "*") == ALL


# --------------------------------------------------------------------------- bare names
# A bare name means key:NAME everywhere (DESIGN.md section 3). Dagster would instead read a
# whole-expression bare name with its legacy syntax, where `fact_sales+` is one level.


def test_bare_name_selects_that_asset(dag):
    assert select(dag, "fact_sales") == {"fact_sales"}


def test_bare_name_plus_adds_all_descendants(dag):
    assert select(dag, "fact_sales+") == {"fact_sales"} | FACT_DESCENDANTS


@pytest.mark.parametrize(
    "expression", ["fact_sales+", "+fact_sales", "2+fact_sales", "fact_sales+1"]
)
def test_bare_name_means_key_name(dag, expression):
    with_key = expression.replace("fact_sales", "key:fact_sales")
    assert select(dag, expression) == select(dag, with_key)


def test_leading_plus_on_a_bare_name_adds_all_ancestors(dag):
    assert select(dag, "+fact_sales") == {"fact_sales"} | FACT_ANCESTORS


def test_bare_name_depth_limits(dag):
    assert select(dag, "1+fact_sales+1") == {
        "link_invoice_product",
        "sat_invoice",
        "fact_sales",
        "data_quality",
        "sales_summary",
    }


def test_bare_name_combines_with_and(dag):
    assert select(dag, "fact_sales+ and group:quality") == {"data_quality", "sales_summary"}


def test_bare_names_combine_with_or_and_not(dag):
    assert select(dag, "dim_product or not +fact_sales") == {"dim_product"} | FACT_DESCENDANTS


def test_bare_names_inside_parentheses_and_functions(dag):
    assert select(dag, "(hub_invoice or hub_product)+1") == {
        "hub_invoice",
        "hub_product",
        "link_invoice_product",
        "sat_invoice",
        "dim_product",
    }
    assert select(dag, "sinks(+sat_invoice)") == {"sat_invoice"}


def test_bare_wildcard_is_a_key_wildcard(dag):
    assert select(dag, "hub_*") == {"hub_invoice", "hub_product"}
    assert select(dag, "*_invoice") == {"hub_invoice", "sat_invoice"}


def test_bare_wildcard_star_is_not_a_traversal(dag):
    # `fact_sales*` is a key wildcard (no asset name continues "fact_sales"), not descendants.
    assert select(dag, "fact_sales*") == {"fact_sales"}
    assert select(dag, "*fact_sales") == {"fact_sales"}


def test_bare_wildcard_with_traversal(dag):
    assert select(dag, "sat_*+1") == {"sat_invoice", "fact_sales"}


def test_repeated_plus_is_a_syntax_error_with_a_hint(dag):
    with pytest.raises(SelectionSyntaxError, match="one '\\+' per side") as error:
        select(dag, "++fact_sales")
    assert error.value.position == 1
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, "fact_sales++")
    assert error.value.position == 11


def test_keyword_cannot_be_a_bare_name_and_the_error_says_how_to_quote_it(dag):
    with pytest.raises(SelectionSyntaxError, match='write key:"job"') as error:
        select(dag, "job+")
    assert error.value.position == 3


def test_quoted_bare_name_is_a_syntax_error_suggesting_key(dag):
    with pytest.raises(SelectionSyntaxError, match='key:"fact_sales"') as error:
        select(dag, '"fact_sales"')
    assert error.value.position == 0


def test_unknown_bare_name_is_an_empty_selection_suggesting_close_names(dag):
    with pytest.raises(
        EmptySelectionError, match=r"no asset named 'fact_sale'.*did you mean fact_sales\?"
    ):
        select(dag, "fact_sale+")


@pytest.mark.parametrize(
    ("expression", "hint"),
    [
        # 'group:mart' said only "matches no asset": the group's name was a letter short.
        ("group:mart", "there is no group named 'mart'; did you mean marts?"),
        ("group:Vault", "there is no group named 'Vault'; did you mean vault?"),
        ("tag:layer=mart", "no asset has tag layer='mart'; did you mean layer=marts?"),
        ("tag:layr=marts", "no asset has tag layr='marts'; did you mean layer=marts?"),
        # In another case, a name shares no letter with the key: none was suggested.
        ("FACT_SALES", "there is no asset named 'FACT_SALES'; did you mean fact_sales?"),
        ("Dim_Product+", "there is no asset named 'Dim_Product'; did you mean dim_product?"),
        ("group:MARTS", "there is no group named 'MARTS'; did you mean marts?"),
    ],
)
def test_unknown_group_or_tag_is_an_empty_selection_suggesting_close_ones(dag, expression, hint):
    with pytest.raises(EmptySelectionError) as error:
        select(dag, expression)
    assert str(error.value) == f"asset selection {expression!r} matches no asset: {hint}"


def test_unknown_bare_name_next_to_a_match_is_ignored_as_in_dagster(dag):
    assert select(dag, "fact_sale or dim_product") == {"dim_product"}


# --------------------------------------------------------------------------- traversals


def test_trailing_plus_adds_all_descendants(dag):
    assert select(dag, "key:fact_sales+") == {"fact_sales"} | FACT_DESCENDANTS


def test_leading_plus_adds_all_ancestors(dag):
    assert select(dag, "+key:fact_sales") == {"fact_sales"} | FACT_ANCESTORS


def test_downstream_depth_limit(dag):
    assert select(dag, "key:fact_sales+1") == {"fact_sales", "data_quality", "sales_summary"}


def test_upstream_depth_limit(dag):
    assert select(dag, "1+key:fact_sales") == {
        "fact_sales",
        "link_invoice_product",
        "sat_invoice",
    }


def test_upstream_depth_counts_the_shortest_path(dag):
    # psa feeds link_invoice_product directly, so it is 2 levels up although also 3 via hubs.
    assert select(dag, "2+key:fact_sales") == FACT_ANCESTORS - {"raw_online_retails"} | {
        "fact_sales"
    }


def test_both_sides_depth_limited(dag):
    assert select(dag, "1+key:fact_sales+1") == {
        "link_invoice_product",
        "sat_invoice",
        "fact_sales",
        "data_quality",
        "sales_summary",
    }


def test_depth_zero_adds_nothing(dag):
    assert select(dag, "0+key:fact_sales+0") == {"fact_sales"}


def test_traversal_of_a_parenthesised_expression(dag):
    assert select(dag, "(key:hub_invoice or key:hub_product)+1") == {
        "hub_invoice",
        "hub_product",
        "link_invoice_product",
        "sat_invoice",
        "dim_product",
    }


def test_traversal_of_a_function_call(dag):
    assert select(dag, "sinks(group:vault)+1") == {
        "link_invoice_product",
        "sat_invoice",
        "fact_sales",
    }


# --------------------------------------------------------------------------- functions


def test_roots_of_everything(dag):
    assert select(dag, "roots(*)") == {"raw_online_retails"}


def test_sinks_of_everything(dag):
    assert select(dag, "sinks(*)") == {"dim_product", "quality_metrics"}


def test_roots_are_relative_to_the_inner_selection(dag):
    assert select(dag, "roots(group:vault)") == {"hub_invoice", "hub_product"}


def test_sinks_are_relative_to_the_inner_selection(dag):
    assert select(dag, "sinks(group:vault)") == {"link_invoice_product", "sat_invoice"}


def test_roots_look_through_unselected_assets(dag):
    # sales_summary descends from raw via fact_sales, which is not selected.
    assert select(dag, "roots(key:raw_online_retails or key:sales_summary)") == {
        "raw_online_retails"
    }


# --------------------------------------------------------------------------- boolean logic


def test_and_intersects(dag):
    assert select(dag, "group:vault and key:*invoice*") == {
        "hub_invoice",
        "link_invoice_product",
        "sat_invoice",
    }


def test_or_unites(dag):
    assert select(dag, "key:dim_product or key:fact_sales") == {"dim_product", "fact_sales"}


def test_group_and_tag_intersection(dag):
    assert select(dag, "group:raw and tag:layer=staging") == {"psa_online_retails"}


def test_not_complements(dag):
    assert select(dag, "not group:vault") == ALL - VAULT


def test_not_binds_tighter_than_and(dag):
    assert select(dag, "not group:vault and not group:raw") == {
        "fact_sales",
        "dim_product",
        "data_quality",
        "sales_summary",
        "quality_metrics",
    }


def test_and_binds_tighter_than_or(dag):
    assert select(dag, "key:dim_product or group:vault and key:hub_*") == {
        "dim_product",
        "hub_invoice",
        "hub_product",
    }


def test_parentheses_override_precedence(dag):
    assert select(dag, "(key:dim_product or group:vault) and key:hub_*") == {
        "hub_invoice",
        "hub_product",
    }


def test_nested_parentheses(dag):
    assert select(dag, "not ((group:vault or group:raw) and not key:hub_*)") == ALL - (
        VAULT | {"raw_online_retails", "psa_online_retails"}
    ) | {"hub_invoice", "hub_product"}


def test_not_applies_to_the_whole_traversal(dag):
    assert select(dag, "not key:fact_sales+") == ALL - FACT_DESCENDANTS - {"fact_sales"}


def test_uppercase_operators(dag):
    assert select(dag, "NOT group:vault AND NOT group:raw OR key:hub_product") == (
        ALL - VAULT - {"raw_online_retails", "psa_online_retails"} | {"hub_product"}
    )


def test_whitespace_between_tokens_is_ignored(dag):
    assert select(dag, "  key : fact_sales  + 1 ") == {
        "fact_sales",
        "data_quality",
        "sales_summary",
    }


def test_operators_need_no_space_next_to_parentheses(dag):
    assert select(dag, "key:dim_product or(key:fact_sales)and(group:marts)") == {
        "dim_product",
        "fact_sales",
    }


def test_names_starting_with_keywords_are_plain_names():
    dag = nx.DiGraph()
    for key in ("order", "notes", "keynote", "job"):
        dag.add_node(key, group="default", tags={})
    assert select(dag, "key:order or key:notes or key:keynote") == {"order", "notes", "keynote"}


def test_keyword_named_asset_needs_quotes():
    dag = nx.DiGraph()
    dag.add_node("job", group="default", tags={})
    assert select(dag, 'key:"job"') == {"job"}
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, "key:job")
    assert error.value.position == 4


@pytest.mark.parametrize("key", ["fact_sales", "order", "job", "and", "key", "roots"])
def test_key_term_writes_any_key_so_it_selects_that_asset_alone(key: str):
    dag = nx.DiGraph()
    for name in (key, "other"):
        dag.add_node(name, group="default", tags={})
    term = key_term(key)
    assert term == (f'key:"{key}"' if key in ("job", "and", "key", "roots") else key)
    assert select(dag, f"{term} or other") == {key, "other"}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("key:fact_sales and", 18),
        ("group:vault and and key:x", 16),
        ("(key:fact_sales", 15),
        ("key:fact_sales)", 14),
        ("key:fact-sales", 8),
        ("++key:fact_sales", 1),
        ("+not key:fact_sales", 1),
        ("key:fact_sales+2+key:dim_product", 16),
        ("key:*", 4),
        ("key:a And key:b", 6),
        ("fact_sales and", 14),
        ("fact_sales group:vault", 11),
        ("fact-sales", 4),
        ("roots()", 6),
        ('key:"fact_sales', 4),
        ("", 0),
    ],
)
def test_syntax_error_points_at_the_offending_position(dag, expression, position):
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, expression)
    assert error.value.position == position
    assert error.value.expression == expression


def test_syntax_error_message_shows_a_caret_under_the_position(dag):
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, "group:vault and and key:x")
    lines = str(error.value).splitlines()
    assert lines[1] == "  group:vault and and key:x"
    assert lines[2] == "  " + " " * 16 + "^"
    assert "'and'" in lines[0]


def test_tag_with_two_equals_is_a_syntax_error(dag):
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, "tag:a=b=c")
    assert error.value.position == 7


def test_keyword_where_a_name_is_expected_suggests_quotes(dag):
    with pytest.raises(SelectionSyntaxError, match=r'keyword .kind. .*write "kind"') as error:
        select(dag, "group:vault and tag:kind=hub")
    assert error.value.position == 20


@pytest.mark.parametrize(
    ("expression", "position"),
    [("owner:team_a", 0), ("group:vault and kind:sql", 16), ("not code_location:x", 4)],
)
def test_unsupported_attribute_is_rejected_at_its_position(expression, position):
    with pytest.raises(SelectionSyntaxError, match="unsupported attribute") as error:
        parse_selection(expression)
    assert error.value.position == position


def test_absurdly_deep_nesting_is_a_syntax_error_not_a_crash(dag):
    with pytest.raises(SelectionSyntaxError, match="nests too deeply"):
        select(dag, "(" * 5000 + "key:fact_sales" + ")" * 5000)


def test_absurdly_long_expression_is_a_syntax_error_not_a_crash(dag):
    with pytest.raises(SelectionSyntaxError, match="too many terms"):
        select(dag, " or ".join(["fact_sales"] * 5000))


def test_errors_are_value_errors():
    assert issubclass(SelectionSyntaxError, ValueError)
    assert issubclass(EmptySelectionError, ValueError)


def test_unknown_key_is_an_empty_selection_naming_the_expression(dag):
    with pytest.raises(EmptySelectionError, match="'key:unknown_asset' matches no asset"):
        select(dag, "key:unknown_asset")


def test_expression_matching_nothing_is_an_empty_selection(dag):
    with pytest.raises(EmptySelectionError):
        select(dag, "group:vault and group:marts")


# --------------------------------------------------------------------------- AssetGraph


def test_asset_graph_select_returns_matches_in_dependency_order(graph):
    assert [spec.key for spec in graph.select("key:fact_sales+1 or key:sat_invoice")] == [
        "sat_invoice",
        "fact_sales",
        "data_quality",
        "sales_summary",
    ]


@pytest.mark.parametrize(
    ("expression", "position", "says"),
    [
        # A function that does not exist, most often a typo of roots(...) or sinks(...).
        ("sink(*)", 4,
         "'sink' is not a function (roots(...) and sinks(...) are); did you mean sinks?"),
        # An attribute that does not exist: the supported ones, and the closest.
        ("statu:stale", 5,
         "'statu:' is not an attribute (supported: key:, group:, tag:, status:); "
         "did you mean status:?"),
        # Dagster's older comma list: the grammar joins selections with or.
        ("fact_sales,dim_country", 10,
         "a ',' does not join selections: write or (fact_sales or dim_country)"),
        # A table's name, where an asset's key goes.
        ("marts.Fact_Sales", 5,
         "asset keys have no '.': select an asset by its key, not its table "
         "(`pipeline list` shows both)"),
    ],
)  # fmt: skip
def test_a_common_mistake_is_named_with_what_to_write(dag, expression, position, says):
    with pytest.raises(SelectionSyntaxError) as error:
        select(dag, expression)
    assert (error.value.position, error.value.reason) == (position, says)


def test_a_name_that_begins_several_keys_suggests_the_wildcard(dag):
    with pytest.raises(
        EmptySelectionError,
        match=r"no asset named 'hub_'; did you mean hub_\* \(hub_invoice, hub_product\)\?$",
    ):
        select(dag, "key:hub_")
