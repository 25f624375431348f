"""A SQL asset's upstream comes from its SELECT; declared deps only add ordering edges."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assets.vault import VAULT
from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions, load_definitions
from orchestration.derived_deps import SqlReadError, UncoveredReadError, build_graph
from orchestration.graph import AssetGraphError

REPO = Path(__file__).resolve().parents[1]
ANALYSERS = {"warehouse": warehouse_io_manager(None)}

_VAULT = tuple(table.key for table in VAULT)
_FACT_DEPS = (
    "dim_country",
    "dim_customer",
    "dim_product",
    "dim_time",
    "hub_invoice",
    "link_invoice_country",
    "link_invoice_customer",
    "link_invoice_product",
    "link_invoice_time",
    "sat_invoice",
    "sat_invoice_status",
)
#: The retail graph as it was when every dep was written by hand (before derivation).
HAND_WRITTEN = {
    "raw_online_retails": [],
    "psa_online_retails": ["raw_online_retails"],
    **{key: ["psa_online_retails"] for key in _VAULT},
    "sat_invoice_status": ["hub_invoice", "psa_online_retails"],
    "dim_country": ["hub_country", "sat_country"],
    "dim_customer": [
        "hub_customer",
        "hub_invoice",
        "link_invoice_country",
        "link_invoice_customer",
    ],
    "dim_product": ["hub_product", "sat_product"],
    "dim_time": ["hub_time", "sat_time"],
    **{key: list(_FACT_DEPS) for key in ("fact_sales", "fact_sale_returns")},
    "anomaly_customer_invoices": ["fact_sales"],
    "anomaly_invoice": ["fact_sales"],
    "data_quality": [
        "anomaly_customer_invoices",
        "fact_sale_returns",
        "fact_sales",
        "hub_invoice",
        "psa_online_retails",
        "sat_invoice_status",
    ],
    "sales_summary": ["dim_time", "fact_sales"],
    "sales_dashboard": [
        "data_quality",
        "dim_country",
        "dim_product",
        "dim_time",
        "fact_sale_returns",
        "fact_sales",
        "sales_summary",
    ],
    "pipeline_metrics": ["data_quality", "sales_summary"],
}


def retail_specs() -> list[AssetSpec]:
    return list(load_definitions("assets").assets)


def edges(graph) -> dict[str, list[str]]:
    return {spec.key: sorted(spec.deps) for spec in graph}


def sql(key: str, table: str, select: str, deps: tuple[str, ...] = ()) -> AssetSpec:
    return AssetSpec(key=key, table=table, kind="sql", body=lambda context: select, deps=deps)


def test_the_retail_graph_derived_from_sql_equals_the_hand_written_one():
    assert edges(load_definitions("assets").graph()) == HAND_WRITTEN


def test_removing_a_read_table_from_hand_written_deps_does_not_change_the_graph():
    specs = retail_specs()
    with_reads = [dataclasses.replace(s, deps=tuple(HAND_WRITTEN[s.key])) for s in specs]
    without_hub = [
        dataclasses.replace(s, deps=tuple(d for d in s.deps if d != "hub_invoice"))
        for s in with_reads
    ]
    assert "hub_invoice" not in {d for s in without_hub for d in s.deps}
    assert edges(build_graph(with_reads, ANALYSERS)) == HAND_WRITTEN
    assert edges(build_graph(without_hub, ANALYSERS)) == HAND_WRITTEN


def test_declared_deps_the_sql_does_not_read_are_ordering_only():
    graph = load_definitions("assets").graph()
    fact = graph.upstream_of("fact_sales")
    assert fact.derived
    assert fact.ordering == ("dim_product", "dim_customer", "dim_time", "dim_country")
    assert "hub_invoice" in fact.reads and not set(fact.reads) & set(fact.ordering)
    assert graph.upstream_of("dim_time").ordering == ()


def test_python_assets_keep_their_declared_deps_as_reads():
    upstream = load_definitions("assets").graph().upstream_of("pipeline_metrics")
    assert (upstream.reads, upstream.ordering, upstream.derived) == (
        ("data_quality", "sales_summary"),
        (),
        False,
    )


def place_of(select: str, table: str) -> str:
    """``tests/test_derived_deps.py:LINE:COL``: where ``table`` is named in the first
    literal of this file that is ``select``, as a finding about that read names it."""
    lines = Path(__file__).read_text().splitlines()
    number, line = next((n, line) for n, line in enumerate(lines, 1) if f'"{select}"' in line)
    column = line.index(select) + select.index(table) + 1
    return f"{Path(__file__).relative_to(REPO)}:{number}:{column}"


def test_a_read_of_a_table_no_asset_produces_names_asset_table_and_where_it_is_read():
    select = "SELECT sum(amount) AS total FROM shop.orders"
    specs = [sql("totals", "shop.totals", "SELECT sum(amount) AS total FROM shop.orders")]
    with pytest.raises(UncoveredReadError) as raised:
        build_graph(specs, ANALYSERS)
    assert [(r.asset, r.table) for r in raised.value.reads] == [("totals", "shop.orders")]
    (read,) = raised.value.reads
    assert str(read.place) == place_of(select, "shop.orders")
    assert f"{read.place}: asset 'totals' reads table shop.orders, which no asset produces" in str(
        raised.value
    )


def test_a_misspelt_table_names_the_table_an_asset_produces_it_is_closest_to():
    select = "SELECT sum(amount) AS total FROM shop.order"
    specs = [
        sql("orders", "shop.orders", "SELECT 1 AS amount"),
        sql("totals", "shop.totals", "SELECT sum(amount) AS total FROM shop.order"),
    ]
    with pytest.raises(UncoveredReadError) as raised:
        build_graph(specs, ANALYSERS)
    assert str(raised.value).startswith(
        f"cannot load the code location: {place_of(select, 'shop.order')}: asset 'totals' "
        "reads table shop.order, which no "
        "asset produces (did you mean shop.orders?); add an asset"
    )


def test_a_cycle_says_which_edges_a_select_reads_and_which_deps_declares():
    """A cycle through a derived edge read as if every edge were a ``deps=``: the user
    searched the deps for an edge only the SELECT makes. Each edge now says its origin
    and where it is (``deps=`` of the helper's ``AssetSpec(...)`` here)."""
    select = "SELECT n FROM shop.totals"
    specs = [
        sql("orders", "shop.orders", "SELECT n FROM shop.totals"),
        sql("totals", "shop.totals", "SELECT 1 AS n", deps=("orders",)),
    ]
    lines = Path(__file__).read_text().splitlines()
    declared = next(n for n, line in enumerate(lines, 1) if "body=lambda context: select" in line)
    deps_at = lines[declared - 1].index("deps=deps") + 1
    here = Path(__file__).relative_to(REPO)
    with pytest.raises(AssetGraphError) as raised:
        build_graph(specs, ANALYSERS)
    assert str(raised.value) == (
        f"cannot load the code location: dependency cycle: orders -> totals (its deps= names "
        f"orders, {here}:{declared}:"
        f"{deps_at}) -> orders (its SELECT reads totals, {place_of(select, 'shop.totals')})"
    )


def test_a_declared_external_table_may_be_read_and_adds_no_edge():
    specs = [sql("totals", "shop.totals", "SELECT sum(amount) AS total FROM shop.orders")]
    graph = build_graph(specs, ANALYSERS, external_tables=["shop.orders"])
    assert graph.upstream_of("totals").reads == ()


def test_an_asset_reading_its_own_table_keeps_history_without_a_self_edge():
    history = "SELECT today() AS d UNION ALL SELECT d FROM shop.days WHERE d != today()"
    graph = build_graph([sql("days", "shop.days", history)], ANALYSERS)
    assert graph["days"].deps == ()


def test_an_unparseable_select_fails_the_graph_naming_the_asset_and_its_table():
    """Every command builds the graph: its line says first that the code location cannot
    load, then the asset, and where in the file (the literal here) the SQL stops parsing."""
    with pytest.raises(
        SqlReadError,
        match=r"^cannot load the code location: asset 'broken' \(table shop.broken\): "
        r"\S+test_derived_deps\.py:\d+:\d+: cannot tell which tables it reads: SQL does not "
        r"parse at 'WHERE': Expected table name$",
    ):
        build_graph([sql("broken", "shop.broken", "SELECT FROM WHERE")], ANALYSERS)


def test_an_unclosed_literal_fails_the_graph_at_its_place_in_the_file():
    """A tokenizer error named the body's ``return`` line; now, as a parse error, the
    line and column of the literal's quote in the file."""
    select = "SELECT 'abc FROM shop.orders"
    where = place_of(select, "'abc")
    with pytest.raises(
        SqlReadError,
        match=rf"^cannot load the code location: asset 'broken' \(table shop.broken\): "
        rf"{re.escape(where)}: cannot tell which tables it reads: SQL does not parse at "
        r"\"'abc\": unclosed quote or comment$",
    ):
        build_graph([sql("broken", "shop.broken", "SELECT 'abc FROM shop.orders")], ANALYSERS)


def test_the_tables_each_check_reads_are_known_by_their_assets():
    """fact_sales' check customer_key_resolves reads marts.Dim_Customer, a table its SELECT
    does not: a failure of that check may be the dimension's doing, and the edge to it is
    no mere ordering. A check reading only its own table names no asset."""
    graph = load_definitions("assets").graph()
    facts = graph.upstream_of("fact_sales")
    assert facts.read_by_check("customer_key_resolves") == ("dim_customer",)
    dimensions = {"dim_customer", "dim_product", "dim_time", "dim_country"}
    # lines_reconcile_with_vault reads the vault's lines, which its SELECT reads too.
    vault = set(facts.read_by_check("lines_reconcile_with_vault"))
    assert {"hub_invoice", "sat_invoice"} <= vault <= set(facts.reads)
    assert set(facts.checked) == dimensions | vault
    assert dimensions <= set(facts.ordering)
    summary = graph.upstream_of("sales_summary")
    assert set(summary.read_by_check("volume_matches_fact_sales")) == {"fact_sales", "dim_time"}
    assert graph.upstream_of("data_quality").checks_read == ()  # its check reads itself


def test_a_check_whose_sql_cannot_be_parsed_reads_nothing_known_and_fails_no_graph():
    broken = AssetCheck("broken", "SELECT FROM WHERE")
    spec = dataclasses.replace(sql("orders", "shop.orders", "SELECT 1 AS n"), checks=(broken,))
    assert build_graph([spec], ANALYSERS).upstream_of("orders").checks_read == ()


def test_without_an_analyser_declared_deps_stay_as_they_are():
    specs = [
        AssetSpec(key="a", table="s.a", kind="python", body=lambda c: None),
        sql("b", "s.b", "SELECT * FROM s.elsewhere", deps=("a",)),
    ]
    graph = Definitions(assets=specs).graph()
    assert graph.upstream_of("b").reads == ("a",) and not graph.upstream_of("b").derived


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_json_tells_read_deps_from_ordering_deps_without_opening_the_warehouse():
    # Port 9 (discard) has no ClickHouse: listing must analyse SQL without connecting.
    result = run_cli(
        "list", "--json", "--select", "fact_sales", WAREHOUSE_URL="clickhouse://127.0.0.1:9/"
    )
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["deps"] == row["read_deps"] + row["ordering_deps"]
    assert row["ordering_deps"] == ["dim_product", "dim_customer", "dim_time", "dim_country"]
    assert "link_invoice_time" in row["read_deps"]
