"""Schemas of the metrics layer: pushed gauges and the sales dashboard's series."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import UINT32, Series

from schemas.types import DateTimeUTC

#: Every gauge the metrics asset measures (DESIGN.md section 5, plus line counts).
GAUGE_NAMES = (
    "anomaly_unit_price_count",
    "anomaly_quantity_count",
    "missing_customer_id_ratio",
    "sale_line_count",
    "return_line_count",
    "adjustment_line_count",
    "latest_load_duplicate_row_count",
    "latest_min_total_amount",
    "latest_max_total_amount",
    "latest_median_total_amount",
    "latest_avg_total_amount",
    "latest_sales_volume",
    "latest_sales_date_seconds",
)
#: The charts of the sales dashboard (``kpi`` rows are the headline numbers).
DASHBOARD_CHARTS = ("daily_sales", "sales_by_country", "top_products", "kpi")


class _MetricsConfig:
    strict = True
    ordered = True


class PipelineMetrics(pa.DataFrameModel):
    """``quality.pipeline_metrics``: one row per gauge and run; ``pushed_to`` is the
    Pushgateway group URL (password masked) or empty when nothing was pushed."""

    run_id: Series[str] = pa.Field(str_length={"min_value": 1})
    measured_at: Series[DateTimeUTC]
    source: Series[str] = pa.Field(str_length={"min_value": 1})
    metric: Series[str] = pa.Field(isin=GAUGE_NAMES)
    value: Series[float]
    pushed_to: Series[str]

    class Config(_MetricsConfig):
        unique = ["run_id", "metric"]


class SalesDashboard(pa.DataFrameModel):
    """``quality.sales_dashboard``: one row per chart point, in display order."""

    chart: Series[str] = pa.Field(isin=DASHBOARD_CHARTS)
    position: Series[UINT32]
    label: Series[str]
    value: Series[float]

    class Config(_MetricsConfig):
        unique = ["chart", "position"]
