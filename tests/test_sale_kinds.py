"""Cancellations, stock write-offs and service codes, as the UCI Online Retail file has them.

In the UCI data a cancellation is an invoice of its own, numbered in the same sequence as
the sales with a ``C`` in front (``C581484`` cancels the order ``581483``: no sale is
numbered ``581484``); a stock write-off is a line of an ordinary invoice with a negative
quantity (``536381 85123A damaged -12 @ 0``); and some stock codes are not products
(``POST`` postage, ``DOT`` dotcom postage, ``M`` manual, ``D`` discount, ...). A tiny
file in the older UCI layout holds each of them; the whole pipeline runs on it in the
embedded ClickHouse (chdb), up to the sales dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets import DDL_PATHS
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions

GRAPH = load_definitions("assets").graph()
LOADED = datetime(2024, 3, 1, 6, 0, 0, tzinfo=UTC)
#: The older UCI file's layout and date format.
SOURCE = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom
536365,POST,POSTAGE,1,12/1/2010 8:26,18,17850,United Kingdom
536366,22423,REGENCY CAKESTAND 3 TIER,2,12/1/2010 8:28,12.75,17850,United Kingdom
536367,M,Manual,1,12/1/2010 8:34,5,13047,United Kingdom
536370,DOT,DOTCOM POSTAGE,1,12/1/2010 8:45,569.77,,United Kingdom
C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom
536381,85123A,damaged,-12,12/1/2010 9:41,0,,United Kingdom
581483,23843,"PAPER CRAFT , LITTLE BIRDIE",80995,12/9/2011 9:15,2.08,16446,United Kingdom
C581484,23843,"PAPER CRAFT , LITTLE BIRDIE",-80995,12/9/2011 9:27,2.08,16446,United Kingdom
"""
GROSS_SALES = 15.30 + 18 + 25.50 + 5 + 569.77 + 168469.60
RETURNS = -27.50 + 0 - 168469.60


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClickHouseIOManager, Path]]:
    """A warehouse holding the file, built up to the dashboard; and the dashboard's page."""
    directory = tmp_path_factory.mktemp("sale-kinds")
    source, page = directory / "online_retail.csv", directory / "sales_dashboard.html"
    source.write_text(SOURCE, encoding="utf-8")
    params = {"source": str(source), "sales_dashboard_path": str(page)}
    with ClickHouseIOManager.embedded(directory / "warehouse") as warehouse:
        warehouse.setup(DDL_PATHS)
        for spec in GRAPH.select("+key:sales_dashboard"):
            context = AssetContext(
                spec=spec, io_manager=warehouse, load_datetime=LOADED, params=params
            )
            warehouse.materialize(spec, context)
        yield warehouse, page


def rows(warehouse: ClickHouseIOManager, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in warehouse.query_arrow(sql).to_pylist()]


def test_a_return_line_keeps_its_invoice_number_as_delivered(
    built: tuple[ClickHouseIOManager, Path],
) -> None:
    """Stripping the C made ``C536379`` read as ``536379``, a number no sale of the
    cancelled order has, and made a cancellation look like a write-off."""
    warehouse, _ = built
    returns = rows(
        warehouse,
        "SELECT invoice_no, toFloat64(total_amount) FROM marts.Fact_Sale_Returns ORDER BY 1",
    )
    assert returns == [("536381", 0.0), ("C536379", -27.5), ("C581484", -168469.6)]
    sales = rows(warehouse, "SELECT DISTINCT invoice_no FROM marts.Fact_Sales ORDER BY 1")
    assert sales == [("536365",), ("536366",), ("536367",), ("536370",), ("581483",)]


def test_dim_product_says_which_stock_codes_are_products(
    built: tuple[ClickHouseIOManager, Path],
) -> None:
    warehouse, _ = built
    flags = rows(warehouse, "SELECT stock_code, is_product FROM marts.Dim_Product ORDER BY 1")
    assert flags == [
        ("22423", 1),
        ("23843", 1),
        ("85123A", 1),
        ("D", 0),
        ("DOT", 0),
        ("M", 0),
        ("POST", 0),
    ]


def test_the_dashboard_shows_gross_and_net_sales_and_ranks_products_only_by_net_sales(
    built: tuple[ClickHouseIOManager, Path],
) -> None:
    """The order of 80,995 birdies, cancelled twelve minutes later, topped "Top products
    by revenue", and DOTCOM POSTAGE came next; the KPI called "Revenue" counted both."""
    warehouse, page = built
    points = rows(
        warehouse,
        "SELECT chart, label, round(value, 4) FROM quality.sales_dashboard "
        "WHERE chart IN ('kpi', 'top_products') ORDER BY chart, position",
    )
    kpis = {label: value for chart, label, value in points if chart == "kpi"}
    assert "total_revenue" not in kpis
    assert kpis["gross_sales"] == pytest.approx(GROSS_SALES)
    assert kpis["net_sales"] == pytest.approx(GROSS_SALES + RETURNS)
    top = [(label, value) for chart, label, value in points if chart == "top_products"]
    assert top == [
        ("22423 REGENCY CAKESTAND 3 TIER", 25.5),
        ("85123A WHITE HANGING HEART T-LIGHT HOLDER", 15.3),
        ("23843 PAPER CRAFT , LITTLE BIRDIE", 0.0),
    ]
    text = page.read_text(encoding="utf-8")
    assert ">Gross sales<" in text and ">Net sales (after returns)<" in text
    assert ">Revenue<" not in text
    assert "products by net sales" in text


def test_a_dim_product_built_before_is_product_gains_it_at_setup_and_the_run_fills_it(
    built: tuple[ClickHouseIOManager, Path],
) -> None:
    """An existing warehouse: the DDL's own ALTER adds the column at the next set-up, so
    the table is not drifted (no ``--full-refresh`` asked), and a plain run of
    dim_product fills it as a fresh build does."""
    warehouse, _ = built
    fresh = rows(warehouse, "SELECT * FROM marts.Dim_Product ORDER BY stock_code")
    warehouse.command("ALTER TABLE marts.Dim_Product DROP COLUMN is_product")
    spec = GRAPH["dim_product"]
    warehouse.setup(DDL_PATHS)
    assert [name for name, _ in warehouse.describe("marts.Dim_Product")][-1] == "is_product"
    outlook = warehouse.table_outlook([spec]).get(spec.key)
    assert outlook is None or outlook.refusal is None, outlook
    context = AssetContext(spec=spec, io_manager=warehouse, load_datetime=LOADED, params={})
    warehouse.materialize(spec, context)
    assert rows(warehouse, "SELECT * FROM marts.Dim_Product ORDER BY stock_code") == fresh
