"""Data-quality tables: the lines that need a look, and the numbers to watch over time."""

from __future__ import annotations

from assets.checks import CHECKS
from assets.sql import OWNERS, current_line, layer_tags, run_date, unknown_customer_key
from orchestration.asset import sql_asset
from orchestration.context import AssetContext

_TAGS = layer_tags("quality")

#: A sale line is an anomaly when its price is not positive or its quantity is bulk.
UNIT_PRICE_ANOMALY = "unit_price <= 0"
QUANTITY_ANOMALY = "quantity > 1000"


@sql_asset(
    table="quality.anomaly_customer_invoices",
    group="quality",
    schema="schemas.quality:AnomalyCustomerInvoices",
    tags={**_TAGS, "role": "anomaly"},
    owners=OWNERS,
)
def anomaly_customer_invoices(context: AssetContext) -> str:
    """Sale lines without a customer: kept in Fact_Sales, listed here for follow-up."""
    return f"""
SELECT * FROM marts.Fact_Sales
WHERE customer_key = {unknown_customer_key()}
"""


@sql_asset(
    table="quality.anomaly_invoice",
    group="quality",
    schema="schemas.quality:AnomalyInvoice",
    tags={**_TAGS, "role": "anomaly"},
    owners=OWNERS,
)
def anomaly_invoice(context: AssetContext) -> str:
    """Sale lines with unit_price <= 0 or quantity > 1000 (free goods, bulk orders, typos)."""
    return f"SELECT * FROM marts.Fact_Sales WHERE {UNIT_PRICE_ANOMALY} OR {QUANTITY_ANOMALY}"


@sql_asset(
    table="quality.data_quality",
    group="quality",
    schema="schemas.quality:DataQuality",
    tags={**_TAGS, "role": "metrics"},
    owners=OWNERS,
    checks=CHECKS["data_quality"],
)
def data_quality(context: AssetContext) -> str:
    """Today's quality numbers over the whole warehouse; earlier check dates kept as history.

    Ratios and anomaly counts are over sale lines (Fact_Sales). ``adjustment_line_count``
    counts the current ``A`` lines the facts leave out (not retracted by a later delivery
    of their invoice, like the facts' lines); the ``latest_load_*`` columns count the
    latest source's rows and its exact duplicates (which enter the facts once). A rerun on
    the same day replaces that day's row.
    """
    today = run_date(context)
    return f"""
SELECT
    {today} AS check_date,
    if(sales = 0, 0., missing / sales) AS missing_customer_id_ratio,
    toUInt64(price_anomalies) AS anomaly_unit_price_count,
    toUInt64(quantity_anomalies) AS anomaly_quantity_count,
    toUInt64(sales) AS sale_line_count,
    toUInt64(ifNull((SELECT count() FROM marts.Fact_Sale_Returns), 0))
        AS return_line_count,
    toUInt64(ifNull(
        (
            SELECT count() FROM vault.hub_invoice
            WHERE startsWith(InvoiceNo, 'A')
                AND {current_line("hub_invoice_hash_key", indent=16)}
        ),
        0
    )) AS adjustment_line_count,
    toUInt64(missing) AS missing_customer_line_count,
    toUInt64(staged_rows) AS latest_load_row_count,
    toUInt64(staged_rows - staged_lines) AS latest_load_duplicate_row_count
FROM
    (
        SELECT
            count() AS sales,
            countIf({UNIT_PRICE_ANOMALY}) AS price_anomalies,
            countIf({QUANTITY_ANOMALY}) AS quantity_anomalies
        FROM marts.Fact_Sales
    ) AS facts,
    (
        SELECT count() AS missing FROM quality.anomaly_customer_invoices
    ) AS customers,
    (
        SELECT
            count() AS staged_rows,
            uniqExact(hub_invoice_hash_key) AS staged_lines
        FROM raw.psa_online_retails
    ) AS staged
UNION ALL
SELECT * FROM quality.data_quality
WHERE check_date != {today}
"""


@sql_asset(
    table="quality.sales_summary",
    group="quality",
    schema="schemas.quality:SalesSummary",
    tags={**_TAGS, "role": "metrics"},
    owners=OWNERS,
    checks=CHECKS["sales_summary"],
)
def sales_summary(context: AssetContext) -> str:
    """Per sales date: min, max, median (midpoint for even counts), mean and volume of
    sale-line totals. The gauges of the metrics layer read the latest date from here."""
    return """
SELECT
    day.date AS sales_date,
    toFloat64(min(sale.total_amount)) AS min_total_amount,
    toFloat64(max(sale.total_amount)) AS max_total_amount,
    quantileExactInclusive(0.5)(toFloat64(sale.total_amount))
        AS median_total_amount,
    toFloat64(sum(sale.total_amount)) / count() AS avg_total_amount,
    toFloat64(sum(sale.total_amount)) AS volume
FROM marts.Fact_Sales AS sale
INNER JOIN marts.Dim_Time AS day ON day.time_key = sale.time_key
GROUP BY sales_date
"""
