"""Asset checks of the Online Retail pipeline, keyed by the asset they are attached to.

Each check selects the rows that break a business rule of DESIGN.md section 5 (no rows =
the rule holds). Attach them in the asset decorators with ``checks=CHECKS["<key>"]``; the
vault factory attaches :func:`column_is_unique` to each hub and link key itself.
``error`` checks guard what downstream assets and dashboards rely on (keys that resolve,
unique hub keys, totals that reconcile), so a failure stops the descendants; ``warn``
checks flag data that is poor but usable.

A check reading another table (a dimension, the facts) must only read tables upstream of
its asset, or it may run before that table is rebuilt. ``SETTINGS final = 1`` reads the
ReplacingMergeTree quality tables as merged (one row per date) and leaves other engines be.
"""

from __future__ import annotations

from types import MappingProxyType

from orchestration.checks import AssetCheck

#: Above this share of sale lines without a customer, the customer analyses are unreliable.
MAX_MISSING_CUSTOMER_ID_RATIO = 0.3
#: Float64 sums of Decimal(10, 4) amounts may differ in the last bits; a cent never does.
VOLUME_TOLERANCE = 0.005

#: Fact column -> (dimension table, its key column).
FACT_DIMENSIONS = {
    "product_key": ("marts.Dim_Product", "product_key"),
    "customer_key": ("marts.Dim_Customer", "customer_key"),
    "time_key": ("marts.Dim_Time", "time_key"),
    "country_key": ("marts.Dim_Country", "country_key"),
}


def key_resolves(column: str, dimension: str, dimension_key: str) -> AssetCheck:
    """Every fact row's ``column`` is a key of ``dimension`` (no orphan facts)."""
    return AssetCheck(
        name=f"{column}_resolves",
        sql=(
            f"SELECT sale_id, invoice_no, {column} FROM {{table}} "
            f"WHERE {column} NOT IN (SELECT {dimension_key} FROM {dimension})"
        ),
        severity="error",
        description=f"every {column} of the facts is a key of {dimension}",
    )


def column_is_unique(column: str) -> AssetCheck:
    """No two rows share ``column``: an insert-only load must never add a key twice."""
    return AssetCheck(
        name=f"{column}_unique",
        sql=(
            f"SELECT {column}, count() AS copies FROM {{table}} GROUP BY {column} HAVING copies > 1"
        ),
        severity="error",
        description=f"{column} identifies one row",
    )


MISSING_CUSTOMER_ID_RATIO = AssetCheck(
    name="missing_customer_id_ratio",
    sql=(
        "SELECT check_date, missing_customer_id_ratio FROM {table} "
        "WHERE check_date = (SELECT max(check_date) FROM {table}) "
        f"AND missing_customer_id_ratio > {MAX_MISSING_CUSTOMER_ID_RATIO} "
        "SETTINGS final = 1"
    ),
    severity="warn",
    description=(
        f"at most {MAX_MISSING_CUSTOMER_ID_RATIO:.0%} of the latest check's sale lines "
        "lack a customer id"
    ),
)

#: Days whose volume differs from the facts, and days present on one side only.
SALES_VOLUME_MATCHES_FACTS = AssetCheck(
    name="volume_matches_fact_sales",
    sql=f"""
SELECT
    sales_date,
    summary.volume AS summary_volume,
    facts.volume AS fact_sales_volume
FROM (SELECT sales_date, volume, 1 AS present FROM {{table}}) AS summary
FULL OUTER JOIN (
    SELECT moment.date AS sales_date, toFloat64(sum(fact.total_amount)) AS volume, 1 AS present
    FROM marts.Fact_Sales AS fact
    INNER JOIN marts.Dim_Time AS moment ON moment.time_key = fact.time_key
    GROUP BY sales_date
) AS facts USING (sales_date)
WHERE summary.present = 0
   OR facts.present = 0
   OR abs(summary.volume - facts.volume) > {VOLUME_TOLERANCE}
ORDER BY sales_date
SETTINGS final = 1
""",
    severity="error",
    description="each day's sales volume equals the sum of Fact_Sales.total_amount that day",
)


def _fact_checks() -> tuple[AssetCheck, ...]:
    return tuple(
        key_resolves(column, dimension, dimension_key)
        for column, (dimension, dimension_key) in FACT_DIMENSIONS.items()
    )


#: Asset key -> the checks to attach to it.
CHECKS: MappingProxyType[str, tuple[AssetCheck, ...]] = MappingProxyType(
    {
        "fact_sales": _fact_checks(),
        "fact_sale_returns": _fact_checks(),
        "data_quality": (MISSING_CUSTOMER_ID_RATIO,),
        "sales_summary": (SALES_VOLUME_MATCHES_FACTS,),
    }
)
