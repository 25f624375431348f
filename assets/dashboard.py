"""The sales dashboard: the original BI dashboard as one self-contained HTML file.

The asset's table, ``quality.sales_dashboard``, holds every chart point (aggregated in
ClickHouse: a few hundred rows whatever the data size); the HTML page drawn from those
rows is the asset's side output, written atomically so a reader never opens half a file.
Plotly's JavaScript is embedded, so the page opens offline, from a mail attachment or
an artifact store, with no server.

Where the page goes: the run parameter ``sales_dashboard_path``, else
``$SALES_DASHBOARD_PATH`` (a relative path is relative to the working directory), else
``reports/sales_dashboard.html`` in the project's directory (the one whose pyproject.toml
names the code location, wherever in it the run started); a sandboxed run (``pipeline
validate --sample``) writes it into its scratch directory, whatever those say.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assets.plotly_page import chart_div, template
from assets.sql import OWNERS, layer_tags
from io_managers.atomic_write import write_atomically
from orchestration.asset import asset
from orchestration.context import AssetContext
from orchestration.errors import AssetFailure
from orchestration.project import project_dir

if TYPE_CHECKING:
    import pandas as pd

DASHBOARD_PATH_ENV = "SALES_DASHBOARD_PATH"
DASHBOARD_PATH_PARAM = "sales_dashboard_path"
DEFAULT_DASHBOARD_PATH = Path("reports") / "sales_dashboard.html"
TOP_PRODUCTS = 10
#: DOM ids of the three charts (tests and bookmarks rely on them).
CHART_IDS = {
    "daily_sales": "daily-sales",
    "sales_by_country": "sales-by-country",
    "top_products": "top-products",
}

#: Every chart point in one query; ``position`` is the display order within a chart. The
#: KPIs are one row each by ``arrayJoin`` in the SELECT, not ``ARRAY JOIN ... AS``, whose
#: aliases the SQL analysis (sqlglot) cannot resolve: tests/test_dashboard.py parses this.
SERIES_SQL = f"""
SELECT 'daily_sales' AS chart,
       toUInt32(row_number() OVER (ORDER BY sales_date)) AS position,
       toString(sales_date) AS label,
       toFloat64(volume) AS value
FROM (SELECT sales_date, volume FROM quality.sales_summary SETTINGS final = 1)
UNION ALL
SELECT 'sales_by_country', toUInt32(row_number() OVER (ORDER BY value DESC, label)), label, value
FROM (
    SELECT country.country_name AS label, toFloat64(sum(sale.total_amount)) AS value
    FROM marts.Fact_Sales AS sale
    INNER JOIN marts.Dim_Country AS country ON country.country_key = sale.country_key
    GROUP BY label
)
UNION ALL
SELECT 'top_products', toUInt32(row_number() OVER (ORDER BY value DESC, label)), label, value
FROM (
    SELECT
        concat(any(product.stock_code), ' ', ifNull(any(product.description), '')) AS label,
        toFloat64(sum(line.total_amount)) AS value
    FROM (
        SELECT product_key, total_amount FROM marts.Fact_Sales
        UNION ALL
        SELECT product_key, total_amount FROM marts.Fact_Sale_Returns
    ) AS line
    INNER JOIN marts.Dim_Product AS product ON product.product_key = line.product_key
    WHERE product.is_product = 1
    GROUP BY line.product_key
    ORDER BY value DESC, label
    LIMIT {TOP_PRODUCTS}
)
UNION ALL
SELECT 'kpi', toUInt32(position), labels[position], amounts[position]
FROM (
    SELECT
        [
            'gross_sales', 'net_sales', 'sale_lines', 'sales_days', 'countries',
            'missing_customer_id_ratio', 'anomaly_unit_price_count',
            'anomaly_quantity_count', 'return_line_count', 'latest_load_duplicate_row_count'
        ] AS labels,
        [
            toFloat64(facts.gross), toFloat64(facts.gross + returned.amount),
            toFloat64(facts.lines), toFloat64(facts.days),
            toFloat64(facts.countries),
            quality.missing_customer_id_ratio, toFloat64(quality.anomaly_unit_price_count),
            toFloat64(quality.anomaly_quantity_count), toFloat64(quality.return_line_count),
            toFloat64(quality.latest_load_duplicate_row_count)
        ] AS amounts,
        arrayJoin(arrayEnumerate(labels)) AS position
    FROM (
        SELECT sum(sale.total_amount) AS gross, count() AS lines,
               uniqExact(moment.date) AS days, uniqExact(sale.country_key) AS countries
        FROM marts.Fact_Sales AS sale
        INNER JOIN marts.Dim_Time AS moment ON moment.time_key = sale.time_key
    ) AS facts
    CROSS JOIN (SELECT sum(total_amount) AS amount FROM marts.Fact_Sale_Returns) AS returned
    CROSS JOIN (
        SELECT missing_customer_id_ratio, anomaly_unit_price_count, anomaly_quantity_count,
               return_line_count, latest_load_duplicate_row_count
        FROM quality.data_quality ORDER BY check_date DESC LIMIT 1 SETTINGS final = 1
    ) AS quality
)
"""

#: What each chart point column is computed from: ``pipeline lineage --column C
#: --downstream`` and the asset pages' Used downstream trust it. It is what the warehouse's
#: SQL analysis finds in :data:`SERIES_SQL` (tests/test_dashboard.py holds the two
#: together), written out so that listing the assets needs no SQL parser.
SERIES_COLUMN_LINEAGE: dict[str, tuple[str, ...]] = {
    "chart": (),
    "position": (
        "marts.Dim_Country.country_name",
        "marts.Dim_Product.description",
        "marts.Dim_Product.stock_code",
        "marts.Fact_Sale_Returns.total_amount",
        "marts.Fact_Sales.total_amount",
        "quality.sales_summary.sales_date",
    ),
    "label": (
        "marts.Dim_Country.country_name",
        "marts.Dim_Product.description",
        "marts.Dim_Product.stock_code",
        "quality.sales_summary.sales_date",
    ),
    "value": (
        "marts.Dim_Time.date",
        "marts.Fact_Sale_Returns.total_amount",
        "marts.Fact_Sales.country_key",
        "marts.Fact_Sales.total_amount",
        "quality.data_quality.anomaly_quantity_count",
        "quality.data_quality.anomaly_unit_price_count",
        "quality.data_quality.latest_load_duplicate_row_count",
        "quality.data_quality.missing_customer_id_ratio",
        "quality.data_quality.return_line_count",
        "quality.sales_summary.volume",
    ),
}
#: What :data:`SERIES_SQL` reads only to join, group, filter and pick the latest quality
#: check: no chart point is computed from these, but renaming one breaks the dashboard.
SERIES_ALSO_READS = (
    "marts.Dim_Country.country_key",
    "marts.Dim_Product.is_product",
    "marts.Dim_Product.product_key",
    "marts.Dim_Time.time_key",
    "marts.Fact_Sale_Returns.product_key",
    "marts.Fact_Sales.product_key",
    "marts.Fact_Sales.time_key",
    "quality.data_quality.check_date",
)

#: How each KPI is titled and printed on the page.
KPI_FORMATS: dict[str, tuple[str, str]] = {
    "gross_sales": ("Gross sales", "£{:,.0f}"),
    "net_sales": ("Net sales (after returns)", "£{:,.0f}"),
    "sale_lines": ("Sale lines", "{:,.0f}"),
    "sales_days": ("Trading days", "{:,.0f}"),
    "countries": ("Countries", "{:,.0f}"),
    "missing_customer_id_ratio": ("Lines without customer", "{:.1%}"),
    "anomaly_unit_price_count": ("Price anomalies (≤ 0)", "{:,.0f}"),
    "anomaly_quantity_count": ("Bulk quantities (> 1000)", "{:,.0f}"),
    "return_line_count": ("Return lines", "{:,.0f}"),
    "latest_load_duplicate_row_count": ("Duplicate rows (latest load)", "{:,.0f}"),
}


def dashboard_path(params: Mapping[str, Any], sandbox: Path | None = None) -> Path:
    """Where the page is written: run parameter, then environment (as given), then the
    default in the project's directory, so a run started in ``docs/`` writes no
    ``docs/reports/``.

    A sandboxed run (``pipeline validate --sample``, :attr:`AssetContext.sandbox`) writes
    into its sandbox whatever those say: its page draws a sample, and must neither
    replace the published one nor land in the checkout.
    """
    if sandbox is not None:
        return sandbox / DEFAULT_DASHBOARD_PATH.name
    chosen = params.get(DASHBOARD_PATH_PARAM) or os.environ.get(DASHBOARD_PATH_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return project_dir() / DEFAULT_DASHBOARD_PATH


def _chart(points: pd.DataFrame, name: str) -> pd.DataFrame:
    return points[points["chart"] == name].sort_values("position")


def _ranked_bars(chart: pd.DataFrame, colour: str) -> dict[str, Any]:
    """Horizontal bars, one per label, in the chart's order."""
    return {
        "type": "bar",
        "x": chart["value"].tolist(),
        "y": chart["label"].tolist(),
        "orientation": "h",
        "marker": {"color": colour},
        "hovertemplate": "%{y}<br>£%{x:,.2f}<extra></extra>",
    }


def _charts(points: pd.DataFrame) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """The three charts' Plotly traces and layouts, keyed like :data:`CHART_IDS`."""
    daily = _chart(points, "daily_sales")
    countries = _chart(points, "sales_by_country")
    products = _chart(points, "top_products")
    layout = {"template": template("plotly_white"), "margin": {"l": 10, "r": 10, "t": 50, "b": 10}}
    trend = {
        "type": "scatter",
        "x": daily["label"].tolist(),  # ISO dates: plotly.js draws a date axis
        "y": daily["value"].tolist(),
        "mode": "lines",
        "name": "sales volume",
        "line": {"width": 1.5, "color": "#1f5fbf"},
        "hovertemplate": "%{x|%a %d %b %Y}<br>£%{y:,.2f}<extra></extra>",
    }
    by_country = _ranked_bars(countries, "#1e7e34")
    top = _ranked_bars(products, "#b58105")
    return {
        "daily_sales": (
            [trend],
            {
                **layout,
                "title": {"text": "Daily gross sales"},
                "yaxis": {"tickprefix": "£"},
                "xaxis": {"rangeslider": {"visible": True}},
            },
        ),
        "sales_by_country": (
            [by_country],
            {
                **layout,
                "title": {"text": "Gross sales by country (ranked)"},
                "height": max(360, 22 * len(countries) + 90),
                "xaxis": {
                    "type": "log",
                    "dtick": 1,
                    "tickprefix": "£",
                    "title": {"text": "volume (log scale)"},
                },
                "yaxis": {"autorange": "reversed", "automargin": True},
            },
        ),
        "top_products": (
            [top],
            {
                **layout,
                "title": {"text": f"Top {TOP_PRODUCTS} products by net sales"},
                "height": 420,
                "xaxis": {"tickprefix": "£"},
                "yaxis": {"autorange": "reversed", "automargin": True},
            },
        ),
    }


def _kpi_cards(points: pd.DataFrame) -> str:
    cards = []
    for row in _chart(points, "kpi").itertuples(index=False):  # at most a dozen KPIs
        label = str(row.label)  # a KPI's name: the chart points' label column is text
        title, pattern = KPI_FORMATS.get(label, (label, "{:,.2f}"))
        cards.append(
            f'<div class="kpi" data-kpi="{html.escape(label)}">'
            f'<div class="kpi-value">{html.escape(pattern.format(row.value))}</div>'
            f'<div class="kpi-title">{html.escape(title)}</div></div>'
        )
    return "\n".join(cards)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Online Retail - sales dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }}
h1 {{ margin: 0 0 4px; font-size: 22px; }}
.subtitle {{ color: #666; margin-bottom: 16px; font-size: 13px; }}
.kpis {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
         gap: 10px; margin-bottom: 16px; }}
.kpi {{ background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; }}
.kpi-value {{ font-size: 20px; font-weight: 600; }}
.kpi-title {{ color: #666; font-size: 12px; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }}
.chart {{ background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 6px; }}
.wide {{ grid-column: 1 / span 2; }}
</style>
</head>
<body>
<h1>Online Retail - sales dashboard</h1>
<div class="subtitle">{subtitle}</div>
<div class="kpis">{kpis}</div>
<div class="charts">
<div class="chart wide">{daily_sales}</div>
<div class="chart">{sales_by_country}</div>
<div class="chart">{top_products}</div>
</div>
</body>
</html>
"""


def render_dashboard(points: pd.DataFrame, subtitle: str) -> str:
    """The whole page; Plotly's JavaScript is embedded once, with the first chart."""
    parts = {
        name: chart_div(
            CHART_IDS[name],
            traces,
            layout,
            config={"displaylogo": False, "responsive": True},
            include_plotlyjs=number == 0,
        )
        for number, (name, (traces, layout)) in enumerate(_charts(points).items())
    }
    return _PAGE.format(subtitle=html.escape(subtitle), kpis=_kpi_cards(points), **parts)


@asset(
    table="quality.sales_dashboard",
    deps=[
        "sales_summary",
        "data_quality",
        "fact_sales",
        "fact_sale_returns",
        "dim_country",
        "dim_product",
        "dim_time",
    ],
    group="metrics",
    schema="schemas.metrics:SalesDashboard",
    tags={**layer_tags("metrics"), "role": "dashboard"},
    owners=OWNERS,
    column_lineage=SERIES_COLUMN_LINEAGE,
    also_reads=SERIES_ALSO_READS,
)
def sales_dashboard(context: AssetContext) -> pd.DataFrame:
    """The sales dashboard's chart points; also writes the dashboard as one HTML file.

    Daily gross sales, gross sales by country (ranked), the top-10 products by net sales
    (returns deducted; postage, fees and manual entries left out by
    ``Dim_Product.is_product``), gross and net sales and the quality KPIs. The page goes
    to ``sales_dashboard_path`` / ``$SALES_DASHBOARD_PATH`` / the project's
    ``reports/sales_dashboard.html``.
    """
    points = context.io_manager.query_arrow(SERIES_SQL).to_pandas()
    missing = [chart for chart in (*CHART_IDS, "kpi") if not (points["chart"] == chart).any()]
    if missing:
        raise AssetFailure.for_asset(
            context.spec.key,
            context.spec.table,
            f"no data for chart(s) {', '.join(missing)}; materialize the marts and quality "
            "tables first",
        )
    path = dashboard_path(context.params, context.sandbox)
    subtitle = (
        f"Generated {context.load_datetime:%Y-%m-%d %H:%M} UTC "
        "from the warehouse marts and quality tables."
    )
    try:
        write_atomically(path, render_dashboard(points, subtitle))
    except OSError as exc:
        raise AssetFailure.for_asset(
            context.spec.key, context.spec.table, f"cannot write the dashboard to {path}: {exc}"
        ) from exc
    context.log.info("sales dashboard written to %s", path.resolve())
    context.add_file("dashboard", path)
    return points.astype({"position": "uint32", "value": "float64"})
