"""The sales dashboard: aggregated in ClickHouse, drawn by Plotly, opened in real Chromium.

Chromium (Debian ``chromium``) is driven by Playwright; the page must render its three
charts with data while every network request is blocked, so it truly works offline.
Set ``UPDATE_DOCS_SCREENSHOT=1`` to refresh ``docs/img/sales_dashboard.png`` from the
full-pipeline test.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import assets
import assets.dashboard
import assets.metrics  # registers the metrics asset, so the graph is complete
from assets.dashboard import (
    CHART_IDS,
    DASHBOARD_PATH_ENV,
    SERIES_SQL,
    dashboard_path,
    sales_dashboard,
)
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.errors import AssetFailure
from tests.retail_seed import open_seeded
from tests.ui_browser import CHROMIUM_ARGS, require_browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "img" / "sales_dashboard.png"
LOAD_DATETIME = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _context(spec, warehouse, params: dict[str, Any]) -> AssetContext:
    return AssetContext(
        spec=spec, io_manager=warehouse, load_datetime=LOAD_DATETIME, params=params, run_id="t"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the module; in CI a missing browser is a failure."""
    from playwright.sync_api import sync_playwright

    executable = require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_offline(browser, path: Path):
    """Open the file with every non-file request refused; returns (page, refused URLs)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    refused: list[str] = []

    def guard(route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "ids => ids.every(id => document.getElementById(id)?._fullData?.length)",
        arg=list(CHART_IDS.values()),
        timeout=30_000,
    )
    return page, refused


def rendered(page) -> dict[str, dict[str, Any]]:
    """Per chart: the trace type, its points as Plotly holds them, and the marks drawn."""
    return page.evaluate(
        """ids => Object.fromEntries(ids.map(id => {
            const chart = document.getElementById(id);
            const trace = chart._fullData[0];
            return [id, {
                type: trace.type,
                x: Array.from(trace.x),
                y: Array.from(trace.y),
                bars: chart.querySelectorAll('.barlayer .point path').length,
                line: chart.querySelector('.scatterlayer path.js-line')?.getAttribute('d') || '',
            }];
        }))""",
        list(CHART_IDS.values()),
    )


def test_seeded_dashboard_draws_the_known_aggregates(tmp_path, browser):
    page_path = tmp_path / "out" / "dashboard.html"
    warehouse = open_seeded(tmp_path / "warehouse")
    try:
        warehouse.materialize(
            sales_dashboard,
            _context(sales_dashboard, warehouse, {"sales_dashboard_path": str(page_path)}),
        )
        points = warehouse.query_arrow(
            "SELECT chart, position, label, value FROM quality.sales_dashboard "
            "ORDER BY chart, position"
        ).to_pylist()
    finally:
        warehouse.close()
    by_chart: dict[str, list[tuple[str, float]]] = {}
    for row in points:
        by_chart.setdefault(row["chart"], []).append((row["label"], round(row["value"], 4)))
    assert by_chart["daily_sales"] == [
        ("2010-12-01", 40.8),
        ("2010-12-02", 2.55),
        ("2010-12-03", 13148.85),
    ]
    assert by_chart["sales_by_country"] == [("France", 13151.4), ("United Kingdom", 40.8)]
    # Net of the return of two hearts; postage is no product.
    assert by_chart["top_products"] == [
        ("22423 REGENCY CAKESTAND 3 TIER", 13165.5),
        ("85123A WHITE HANGING HEART T-LIGHT HOLDER", 21.6),
    ]
    kpis = dict(by_chart["kpi"])
    assert kpis["gross_sales"] == pytest.approx(13192.2)
    assert kpis["net_sales"] == pytest.approx(13187.1)
    assert (kpis["sale_lines"], kpis["sales_days"], kpis["countries"]) == (6, 3, 2)

    page, refused = open_offline(browser, page_path)
    try:
        charts = rendered(page)
        cards = page.eval_on_selector_all(
            ".kpi", "cards => cards.map(c => [c.dataset.kpi, c.innerText])"
        )
    finally:
        page.close()
    assert refused == [], "the page must not need the network"
    daily = charts["daily-sales"]
    assert daily["type"] == "scatter" and len(daily["x"]) == 3
    assert daily["y"] == pytest.approx([40.8, 2.55, 13148.85])
    assert daily["line"].count("L") == 2, "a line through the three days was drawn"
    country = charts["sales-by-country"]
    assert (country["type"], country["bars"]) == ("bar", 2)
    assert country["y"] == ["France", "United Kingdom"]
    products = charts["top-products"]
    assert products["bars"] == 2 and products["x"] == pytest.approx([13165.5, 21.6])
    cards = dict(cards)
    assert cards["gross_sales"] == "£13,192\nGross sales"
    assert cards["net_sales"] == "£13,187\nNet sales (after returns)"
    assert cards["missing_customer_id_ratio"].startswith("16.7%")


def test_full_pipeline_dashboard_renders_three_charts_offline(tmp_path, browser):
    page_path = tmp_path / "sales_dashboard.html"
    params = {"source": "synthetic:20000:7", "sales_dashboard_path": str(page_path)}
    graph = load_definitions(assets.__name__).graph()
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup([*assets.DDL_PATHS, REPO / "ddl" / "metrics.sql"])
        for spec in graph.topological(graph.ancestors("sales_dashboard") | {"sales_dashboard"}):
            warehouse.materialize(spec, _context(spec, warehouse, params))
        countries = (
            warehouse.query_arrow("SELECT uniqExact(country_key) AS n FROM marts.Fact_Sales")
            .column("n")[0]
            .as_py()
        )
        days = warehouse.row_count("quality.sales_summary")

    assert page_path.stat().st_size > 1_000_000, "Plotly's JavaScript is embedded"
    page, refused = open_offline(browser, page_path)
    try:
        charts = rendered(page)
        screenshot = tmp_path / "sales_dashboard.png"
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    assert refused == []
    assert len(charts["daily-sales"]["x"]) == days > 30
    assert charts["daily-sales"]["line"]
    assert charts["sales-by-country"]["bars"] == countries
    assert charts["top-products"]["bars"] == 10
    net_sales = charts["top-products"]["x"]
    assert net_sales == sorted(net_sales, reverse=True), "ranked by net sales"
    assert screenshot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, SCREENSHOT)


def test_labels_that_close_a_script_are_drawn_as_text(tmp_path, browser):
    """Chart data sits inside ``<script>``: a product description holding ``</script>``
    must neither end it early nor run as markup."""
    import pandas as pd

    from assets.dashboard import render_dashboard
    from io_managers.atomic_write import write_atomically

    hostile = '</script><script>document.title = "owned"</script> MUG & <b>JUG</b>'
    points = pd.DataFrame(
        {
            "chart": ["daily_sales", "sales_by_country", "top_products", "kpi"],
            "position": [1, 1, 1, 1],
            "label": ["2010-12-01", "France", hostile, "gross_sales"],
            "value": [10.5, 10.5, 10.5, 10.5],
        }
    )
    page_path = tmp_path / "dashboard.html"
    write_atomically(page_path, render_dashboard(points, "subtitle </script> & <i>"))
    page, refused = open_offline(browser, page_path)
    try:
        charts = rendered(page)
        title = page.title()
        subtitle = page.inner_text(".subtitle")
    finally:
        page.close()
    assert refused == []
    assert charts["top-products"]["y"] == [hostile]
    assert charts["top-products"]["bars"] == 1
    assert title == "Online Retail - sales dashboard"
    assert subtitle == "subtitle </script> & <i>"


def test_the_dashboard_page_gets_the_mode_the_umask_gives(tmp_path):
    """The page is for people to share or serve: 0644 under umask 022, as any file a
    program creates, not the owner-only 0600 of a temporary file."""
    import stat

    page_path = tmp_path / "reports" / "sales_dashboard.html"
    warehouse = open_seeded(tmp_path / "warehouse")
    previous = os.umask(0o022)
    try:
        warehouse.materialize(
            sales_dashboard,
            _context(sales_dashboard, warehouse, {"sales_dashboard_path": str(page_path)}),
        )
    finally:
        os.umask(previous)
        warehouse.close()
    assert oct(stat.S_IMODE(page_path.stat().st_mode)) == oct(0o644)


def test_the_dashboard_says_where_it_wrote_its_page(tmp_path, monkeypatch):
    """The run's last lines name the page (``Dashboard: reports/...``): the asset says
    where it wrote it, the path whole, whatever directory the run started in."""
    monkeypatch.chdir(tmp_path)
    warehouse = open_seeded(tmp_path / "warehouse")
    context = _context(sales_dashboard, warehouse, {"sales_dashboard_path": "out/page.html"})
    try:
        warehouse.materialize(sales_dashboard, context)
    finally:
        warehouse.close()
    assert context.files == {"dashboard": tmp_path / "out" / "page.html"}


#: How every failure of the dashboard asset starts, as every other asset's does.
LEAD = "asset 'sales_dashboard' (table quality.sales_dashboard): "


def test_dashboard_fails_clearly_without_data(tmp_path):
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup([*assets.DDL_PATHS, REPO / "ddl" / "metrics.sql"])
        context = _context(sales_dashboard, warehouse, {"sales_dashboard_path": str(tmp_path)})
        with pytest.raises(AssetFailure) as raised:
            sales_dashboard.body(context)
    assert str(raised.value) == (
        f"{LEAD}no data for chart(s) daily_sales, sales_by_country, top_products, kpi; "
        "materialize the marts and quality tables first"
    )
    assert not list(tmp_path.glob("*.html"))


def test_a_page_it_cannot_write_fails_the_asset_in_one_line_naming_the_path(tmp_path):
    """A file where the page's directory should be: the path and the system's words,
    after the lead every asset's failure has (it read ``OSError: asset '...': ...``)."""
    (tmp_path / "taken").write_text("")
    page = tmp_path / "taken" / "page.html"
    warehouse = open_seeded(tmp_path / "warehouse")
    context = _context(sales_dashboard, warehouse, {"sales_dashboard_path": str(page)})
    try:
        with pytest.raises(AssetFailure) as raised:
            sales_dashboard.body(context)
    finally:
        warehouse.close()
    assert str(raised.value) == (
        f"{LEAD}cannot write the dashboard to {page}: [Errno 17] File exists: '{page.parent}'"
    )


def test_dashboard_path_comes_from_param_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(DASHBOARD_PATH_ENV, raising=False)
    monkeypatch.chdir(REPO / "docs")  # the default is the project's (test_project_root.py)
    assert dashboard_path({}) == REPO / "reports" / "sales_dashboard.html"
    monkeypatch.setenv(DASHBOARD_PATH_ENV, "/srv/www/sales.html")
    assert dashboard_path({}) == Path("/srv/www/sales.html")
    assert dashboard_path({"sales_dashboard_path": "out/x.html"}) == Path("out/x.html")
    # A sandboxed run (validate --sample) keeps to its sandbox, whatever both say.
    sandboxed = dashboard_path({"sales_dashboard_path": "out/x.html"}, Path("/tmp/scratch"))
    assert sandboxed == Path("/tmp/scratch/sales_dashboard.html")


def test_the_declared_column_lineage_is_what_the_sql_analysis_finds_in_series_sql(tmp_path):
    """What uses a mart or quality column downstream (``pipeline lineage --column C
    --downstream``, the pages' Used downstream) trusts the dashboard's declaration: it
    must name exactly what the warehouse's own analysis of SERIES_SQL finds, each output
    column's sources and every column read besides (joins, groupings, orderings), so that
    a change to the SQL that reads another column fails here until it is declared."""
    graph = load_definitions("assets").graph()
    with ClickHouseIOManager.embedded(tmp_path) as warehouse:
        warehouse.setup(assets.DDL_PATHS)
        tables = warehouse.tables_read(SERIES_SQL).tables
        columns_of = {table: [name for name, _ in warehouse.describe(table)] for table in tables}
        parsed = warehouse.column_lineage(SERIES_SQL, columns_of)
        read = warehouse.columns_read(SERIES_SQL, columns_of)
        output = [name for name, _ in warehouse.describe(sales_dashboard.table)]
    assert sorted(tables) == sorted(graph[dep].table for dep in sales_dashboard.deps)
    declared = {name: tuple(sorted(s)) for name, s in sales_dashboard.column_lineage.items()}
    assert list(declared) == list(parsed) == output
    for name, sources in parsed.items():
        assert declared[name] == sources, f"SERIES_SQL computes {name} from {sources}"
    fed = set().union(*declared.values())
    also = set(sales_dashboard.also_reads)
    assert not fed & also, f"also_reads names sources of a column: {sorted(fed & also)}"
    undeclared = sorted(set(read) - fed - also)
    assert not undeclared, f"SERIES_SQL also reads {undeclared}: declare them in also_reads"
    assert sorted(fed | also) == list(read), "also_reads names what SERIES_SQL does not read"
