"""Impact analysis of a column: every column computed from it downstream, the assets whose
SQL reads it elsewhere, and the checks that read it.

Derived from the shipped pipeline's SQL against a real embedded warehouse with the
shipped DDL (sqlglot, ClickHouse dialect); ``pipeline lineage --column C --downstream``
is run as a user runs it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from orchestration.column_impact import (
    CheckRef,
    downstream,
    downstream_lines,
    uses,
    uses_by_column,
)
from orchestration.column_lineage import (
    LOADS_A_SOURCE,
    AssetColumnLineage,
    BackgroundColumnLineage,
)
from orchestration.definitions import load_definitions

REPO = Path(__file__).resolve().parents[1]
GRAPH = load_definitions("assets").graph()
#: The keys of a node of ``--downstream --format json``, and of each of its ``used_by``.
NODE_KEYS = {"column", "asset", "used_by", "read_by", "checks", "untraced"}


@pytest.fixture(scope="module")
def lineage(shipped_lineage: list[AssetColumnLineage]) -> list[AssetColumnLineage]:
    return shipped_lineage


def _columns(node) -> list[tuple[str, str | None, int]]:
    """Every column of ``node``'s tree with its asset and depth, depth first."""

    def walk(at, depth: int):
        yield at.column, at.asset, depth
        for child in at.used_by:
            yield from walk(child, depth + 1)

    return list(walk(node, 0))


def test_a_staging_column_is_used_by_the_vault_and_mart_columns_computed_from_it(lineage):
    tree = downstream(lineage, "raw.psa_online_retails.Quantity")
    assert (tree.column, tree.asset) == ("raw.psa_online_retails.Quantity", "psa_online_retails")
    found = _columns(tree)
    assert ("vault.sat_invoice.Quantity", "sat_invoice", 1) in found
    assert ("marts.Fact_Sales.quantity", "fact_sales", 2) in found
    assert ("marts.Fact_Sale_Returns.quantity", "fact_sale_returns", 2) in found
    assert ("quality.anomaly_invoice.quantity", "anomaly_invoice", 3) in found
    # pipeline_metrics declares its lineage: its value is computed from data_quality's count
    assert ("quality.pipeline_metrics.value", "pipeline_metrics", 4) in found
    # data_quality keeps its earlier rows: a column read from its own table is no new use
    assert [c for c, _, _ in found].count("quality.data_quality.anomaly_quantity_count") == 1


def test_a_column_read_only_by_a_filter_names_the_assets_whose_sql_reads_it(lineage):
    """The facts keep a satellite's rows by ReturnStatus, which feeds none of their
    columns: renaming it breaks them all the same."""
    tree = downstream(lineage, "vault.sat_invoice.ReturnStatus")
    assert tree.read_by == ("fact_sales", "fact_sale_returns")
    assert CheckRef("fact_sales", "lines_reconcile_with_vault") in tree.checks
    assert CheckRef("fact_sale_returns", "lines_reconcile_with_vault") in tree.checks


def test_the_checks_reading_a_column_are_its_own_assets_and_others(lineage):
    tree = downstream(lineage, "marts.Fact_Sales.time_key")
    assert tree.checks == (
        CheckRef("fact_sales", "time_key_resolves"),
        CheckRef("sales_summary", "volume_matches_fact_sales"),
    )
    dimension = downstream(lineage, "marts.Dim_Time.time_key")
    assert CheckRef("fact_sales", "time_key_resolves") in dimension.checks
    assert CheckRef("fact_sale_returns", "time_key_resolves") in dimension.checks


def test_an_asset_reading_the_table_without_column_lineage_may_use_the_column():
    """A Python asset that declares no column lineage may use any column of what it
    reads: the answer says so rather than nothing."""
    items = [
        AssetColumnLineage("raw", "db.raw", (), None, LOADS_A_SOURCE),
        AssetColumnLineage(
            "notes", "db.notes", ("raw",), None, "not derived: a Python asset that declares none"
        ),
    ]
    tree = downstream(items, "db.raw.a")
    (maybe,) = tree.untraced
    assert (maybe.asset, maybe.check) == ("notes", None)
    assert maybe.note == "not derived: a Python asset that declares none"


def test_the_dashboard_declares_which_mart_columns_its_chart_points_come_from(lineage):
    """The dashboard is a Python asset that declares its column lineage (held to its SQL
    by tests/test_dashboard.py): what it computes from a column, what it reads only to
    join, and what it does not read at all are each said, none as a maybe."""
    total = uses(downstream(lineage, "marts.Fact_Sales.total_amount"))
    assert ("quality.sales_dashboard.value", "sales_dashboard") in total.columns
    assert ("quality.sales_dashboard.position", "sales_dashboard") in total.columns
    assert "sales_dashboard" not in total.read_by
    assert total.untraced == ()
    key = uses(downstream(lineage, "marts.Fact_Sales.product_key"))
    assert "sales_dashboard" in key.read_by and "sales_dashboard" not in key.assets
    invoice = uses(downstream(lineage, "marts.Fact_Sales.invoice_no"))
    assert "sales_dashboard" not in (*invoice.assets, *invoice.read_by)
    assert invoice.untraced == ()
    # Net sales deduct the returns; the top products keep to Dim_Product.is_product.
    returned = uses(downstream(lineage, "marts.Fact_Sale_Returns.total_amount"))
    assert ("quality.sales_dashboard.value", "sales_dashboard") in returned.columns
    flag = uses(downstream(lineage, "marts.Dim_Product.is_product"))
    assert "sales_dashboard" in flag.read_by and "sales_dashboard" not in flag.assets


def test_the_column_that_picks_the_latest_quality_row_names_who_picks_by_it(lineage):
    """Both Python assets read the latest data_quality row by check_date, which feeds
    none of their columns: they declare it, so renaming it names them."""
    tree = downstream(lineage, "quality.data_quality.check_date")
    assert tree.read_by == ("sales_dashboard", "pipeline_metrics")
    assert tree.untraced == ()


def test_uses_names_each_downstream_column_check_and_reader_once_nearest_first(lineage):
    used = uses(downstream(lineage, "raw.psa_online_retails.TotalAmount"))
    columns = [column for column, _ in used.columns]
    assert set(columns[:2]) == {"vault.sat_invoice.TotalAmount", "vault.sat_invoice.HASH_DIFF"}
    assert columns.index("marts.Fact_Sales.total_amount") < columns.index(
        "quality.sales_summary.volume"
    )
    assert len(columns) == len(set(columns))
    assert columns.count("quality.pipeline_metrics.value") == 1
    assert CheckRef("sales_summary", "volume_matches_fact_sales") in used.checks
    assert ("quality.sales_dashboard.value", "sales_dashboard") in used.columns
    assert used.untraced == ()  # every asset downstream says what it computes from it


def test_a_column_nothing_reads_has_no_uses(lineage):
    used = uses(downstream(lineage, "quality.pipeline_metrics.run_id"))
    assert not used
    assert (used.columns, used.read_by, used.checks, used.untraced) == ((), (), (), ())


def test_an_unknown_column_is_named_as_the_upstream_chain_names_it(lineage):
    with pytest.raises(KeyError, match="has no column 'nope'"):
        downstream(lineage, "raw.psa_online_retails.nope")
    with pytest.raises(KeyError, match=re.escape("did you mean raw.psa_online_retails.Quantity?")):
        downstream(lineage, "psa_online_retails.Quantity")


def test_the_text_fits_80_columns_on_a_terminal_and_is_a_line_a_column_piped(lineage):
    tree = downstream(lineage, "raw.online_retails.InvoiceDate")
    piped = downstream_lines(tree)
    on_terminal = downstream_lines(tree, width=80)
    assert piped[0] == "raw.online_retails.InvoiceDate  [raw_online_retails]"
    assert "    -> raw.psa_online_retails.InvoiceDate  [psa_online_retails]" in piped
    assert max(len(line) for line in on_terminal) <= 80
    assert max(len(line) for line in piped) > 80  # the deepest columns, whole, for grep
    shown = {line.strip().removeprefix("-> ").split("  [")[0] for line in piped}
    assert {column for column, _ in uses(tree).columns} <= shown


def test_uses_by_column_gives_a_page_each_columns_uses_from_the_same_tree(lineage):
    by_column = uses_by_column(lineage, "vault.sat_invoice", ["Quantity", "UnitPrice"])
    assert list(by_column) == ["Quantity", "UnitPrice"]
    assert by_column["Quantity"] == uses(downstream(lineage, "vault.sat_invoice.Quantity"))
    # The raw file's loader declares no lineage of its own, but its columns are read.
    raw = uses_by_column(lineage, "raw.online_retails", ["Quantity"])["Quantity"]
    assert ("raw.psa_online_retails.Quantity", "psa_online_retails") in raw.columns


def test_a_run_of_one_asset_derives_its_descendants_for_its_pages_used_by(ddl_warehouse: Path):
    """A page of the PSA rebuilt alone still says which vault and mart columns use each of
    its columns: the run derives the lineage of the assets downstream of what it rebuilds."""
    with ClickHouseIOManager.embedded(ddl_warehouse) as warehouse:
        background = BackgroundColumnLineage()
        background.start(GRAPH, [GRAPH["psa_online_retails"]], {"warehouse": warehouse}, {})
        found = background.downstream_of("psa_online_retails")
        by_column = uses_by_column(found, "raw.psa_online_retails", ["Quantity"])
        background.stop()
    descendants = GRAPH.dag.reachable("psa_online_retails", upstream=False)
    in_order = [spec.key for spec in GRAPH.topological({"psa_online_retails", *descendants})]
    assert [item.key for item in found] == in_order  # so a page's lists keep one order
    columns = [column for column, _ in by_column["Quantity"].columns]
    assert "marts.Fact_Sales.quantity" in columns


def test_a_python_asset_that_loads_a_source_has_its_columns_followed_downstream():
    items = [
        AssetColumnLineage("raw", "db.raw", (), None, LOADS_A_SOURCE),
        AssetColumnLineage(
            "report", "db.report", ("raw",), {"total": ("db.raw.a",)}, "parsed from the SQL"
        ),
    ]
    assert [c for c, _, _ in _columns(downstream(items, "db.raw.a"))] == [
        "db.raw.a",
        "db.report.total",
    ]


# --------------------------------------------------------------------------- the CLI


def _pipeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_lineage_downstream_prints_every_column_computed_from_a_staging_column(ddl_warehouse):
    result = _pipeline(
        "lineage", "--column", "raw.psa_online_retails.Quantity", "--downstream",
        "--warehouse", f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "raw.psa_online_retails.Quantity  [psa_online_retails]"
    assert "        -> marts.Fact_Sales.quantity  [fact_sales]" in lines
    assert "                -> quality.sales_dashboard.value  [sales_dashboard]" in lines
    assert lines[-1] == "Used by 9 columns of 8 assets."


def test_lineage_downstream_names_the_dashboard_only_where_it_reads_the_column(ddl_warehouse):
    def lines(column: str) -> list[str]:
        result = _pipeline(
            "lineage", "--column", column, "--downstream",
            "--warehouse", f"chdb://{ddl_warehouse}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    total = lines("marts.Fact_Sales.total_amount")
    assert "    -> quality.sales_dashboard.value  [sales_dashboard]" in total
    assert not [line for line in total if "maybe used by" in line]
    invoice = lines("marts.Fact_Sales.invoice_no")
    assert not [line for line in invoice if "sales_dashboard" in line]


def test_lineage_downstream_of_a_column_nothing_reads_says_so(ddl_warehouse):
    result = _pipeline(
        "lineage", "--column", "quality.pipeline_metrics.run_id", "--downstream",
        "--warehouse", f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "quality.pipeline_metrics.run_id  [pipeline_metrics]",
        "Used by no column, asset's SQL or check downstream: nothing reads it.",
    ]


def test_lineage_downstream_of_an_unknown_column_is_one_line_as_upstream(ddl_warehouse):
    result = _pipeline(
        "lineage", "--column", "raw.psa_online_retails.nope", "--downstream",
        "--warehouse", f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "error: Invalid value for --column: table raw.psa_online_retails has no column 'nope'"
    )


def test_downstream_without_a_column_is_refused_in_one_line():
    result = _pipeline("lineage", "--downstream")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--downstream': it follows one column to what reads it; "
        "give it with --column DB.TABLE.COL (see 'pipeline lineage --help')"
    ]


def test_a_selection_beside_a_columns_downstream_is_refused_in_its_words():
    result = _pipeline(
        "lineage", "--column", "marts.Fact_Sales.time_key", "--downstream", "--select", "dim_time"
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--select': --column traces one column through every "
        "asset, to everything that uses it; give --select or --column, not both "
        "(see 'pipeline lineage --help')"
    ]


def test_lineage_downstream_as_json_is_one_nested_document(ddl_warehouse):
    def document(column: str) -> dict:
        result = _pipeline(
            "lineage", "--column", column, "--downstream", "--json",
            "--warehouse", f"chdb://{ddl_warehouse}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def nodes(node: dict):
        yield node
        for child in node["used_by"]:
            yield from nodes(child)

    tree = document("vault.sat_invoice.Quantity")
    assert all(set(node) == NODE_KEYS for node in nodes(tree))
    assert (tree["column"], tree["asset"]) == ("vault.sat_invoice.Quantity", "sat_invoice")
    (fact,) = [n for n in tree["used_by"] if n["column"] == "marts.Fact_Sales.quantity"]
    assert fact["asset"] == "fact_sales"
    assert "quality.anomaly_invoice.quantity" in [n["column"] for n in fact["used_by"]]

    key = document("marts.Fact_Sales.time_key")
    assert key["read_by"] == ["sales_summary", "sales_dashboard"]
    assert key["checks"] == [
        {"asset": "fact_sales", "check": "time_key_resolves"},
        {"asset": "sales_summary", "check": "volume_matches_fact_sales"},
    ]
    assert key["untraced"] == []
