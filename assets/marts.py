"""Star-schema marts, rebuilt from the whole vault on every run.

Marts read the vault, never the latest raw load, so they reflect every load so far. The
business rules of DESIGN.md section 5 live here:

- a line is a distinct source row (the vault already stores each line once);
- a delivery carries whole invoices: a line a later delivery of its invoice no longer
  holds is retracted (``vault.sat_invoice_status``) and in no fact table;
- ``A`` invoices ("Adjust bad debt") are accounting entries: in neither fact table;
- a return (C invoice or quantity < 0) goes to ``Fact_Sale_Returns``, every other line is
  a sale in ``Fact_Sales`` - zero prices and unknown customers included;
- invoice numbers are as delivered: a cancellation keeps its C;
- ``Dim_Product.is_product`` tells products from postage, fees and manual entries;
- every fact key resolves in its dimension (``Dim_Customer`` has the unknown customer).
"""

from __future__ import annotations

from assets.checks import CHECKS
from assets.sql import NIL_UUID, OWNERS, current_line, layer_tags, unknown_customer_key
from orchestration.asset import sql_asset
from orchestration.context import AssetContext

_TAGS = layer_tags("marts")

#: Every current invoice line of the vault (not retracted by a later delivery of its
#: invoice) with its keys and measures, in fact-table column order.
_VAULT_LINES = f"""
SELECT
    hub.hub_invoice_hash_key AS sale_id,
    hub.InvoiceNo AS invoice_no,
    product.hub_product_hash_key AS product_key,
    customer.hub_customer_hash_key AS customer_key,
    moment.hub_time_hash_key AS time_key,
    country.hub_country_hash_key AS country_key,
    sat.Quantity AS quantity,
    sat.UnitPrice AS unit_price,
    sat.TotalAmount AS total_amount
FROM vault.hub_invoice AS hub
INNER JOIN vault.sat_invoice AS sat
    ON sat.hub_invoice_hash_key = hub.hub_invoice_hash_key
INNER JOIN vault.link_invoice_product AS product
    ON product.hub_invoice_hash_key = hub.hub_invoice_hash_key
INNER JOIN vault.link_invoice_customer AS customer
    ON customer.hub_invoice_hash_key = hub.hub_invoice_hash_key
INNER JOIN vault.link_invoice_time AS moment
    ON moment.hub_invoice_hash_key = hub.hub_invoice_hash_key
INNER JOIN vault.link_invoice_country AS country
    ON country.hub_invoice_hash_key = hub.hub_invoice_hash_key
WHERE NOT startsWith(hub.InvoiceNo, 'A') AND sat.ReturnStatus = '{{status}}'
    AND {current_line("hub.hub_invoice_hash_key", indent=4)}
SETTINGS join_algorithm = 'full_sorting_merge'
"""
# Every table here holds about one row per invoice line: a hash join would keep four
# million-row tables in memory at once (1.4 GiB peak on the full data set), a sort-merge
# join streams them (0.8 GiB) and is no slower.
# The line key covers every attribute of sat_invoice, so a line has exactly one version
# and one row per link: these joins cannot multiply lines (the unique sale_id check in
# the fact schemas would stop the run if they ever did).

#: The dimensions every fact key must resolve in (the facts' checks read them): ordering
#: only, so the checks see this run's dimensions. The tables the facts read come from SQL.
_FACT_DEPS = ["dim_product", "dim_customer", "dim_time", "dim_country"]


@sql_asset(
    table="marts.Fact_Sales",
    deps=_FACT_DEPS,
    group="marts",
    schema="schemas.marts:FactSales",
    tags={**_TAGS, "role": "fact"},
    owners=OWNERS,
    checks=CHECKS["fact_sales"],
)
def fact_sales(context: AssetContext) -> str:
    """One row per distinct sale line: not a return, not an ``A`` adjustment.

    Zero-price lines and lines without a customer are sales too (the original dropped the
    latter); quality tables flag them. ``total_amount = quantity x unit_price``.
    """
    return _VAULT_LINES.format(status="Normal")


@sql_asset(
    table="marts.Fact_Sale_Returns",
    deps=_FACT_DEPS,
    group="marts",
    schema="schemas.marts:FactSaleReturns",
    tags={**_TAGS, "role": "fact"},
    owners=OWNERS,
    checks=CHECKS["fact_sale_returns"],
)
def fact_sale_returns(context: AssetContext) -> str:
    """One row per distinct return line: invoice started with C, or quantity < 0.

    ``invoice_no`` is as delivered, so it tells the two kinds apart: ``C581484`` is a
    cancellation, an invoice of its own numbered in the sales' sequence (no sale is
    ``581484``: a return cannot be matched to its sale by number), and a number without
    the C is an adjustment on an ordinary invoice, such as a stock write-off
    (``536381 ... damaged -12`` at price 0).
    """
    return _VAULT_LINES.format(status="Return")


@sql_asset(
    table="marts.Dim_Product",
    group="marts",
    schema="schemas.marts:DimProduct",
    tags={**_TAGS, "role": "dimension"},
    owners=OWNERS,
)
def dim_product(context: AssetContext) -> str:
    """One row per stock code with its current description (the latest-introduced text).

    Over every version in sat_product: a text's first sale is its earliest EFFECTIVE_FROM,
    and it is a name if any version is ``Priced`` (a zero-price stock note such as
    "damaged" is not, unless the product has no priced text at all, like the bad-debt
    code B). The name whose first sale is latest wins, a tie going to the text that sorts
    last. No load time takes part, so the order the files were loaded in never decides.
    A product never sold with a description has none (NULL, the join's miss).

    ``is_product`` is 0 for the stock codes that name no product (the list is the SQL's
    pattern, docs/data_model.md explains each), so product rankings can leave out
    postage, fees and manual entries; a code not listed counts as a product.
    """
    return """
SELECT
    hub.hub_product_hash_key AS product_key,
    hub.StockCode AS stock_code,
    latest.description AS description,
    -- postage and carriage (POST, DOT, C2), charges and fees (BANK CHARGES,
    -- AMAZONFEE, CRUK), manual entries (M, D discount, B bad debt, S samples,
    -- ADJUST, TEST), gift vouchers (GIFT_...) and PADS (lines at 0.001)
    NOT match(
        hub.StockCode,
        concat('^(POST|DOT|C2|BANK CHARGES|AMAZONFEE|CRUK|PADS|[MDBS]',
               '|ADJUST[0-9]*|TEST[0-9]*|GIFT_[0-9_]+)$')
    ) AS is_product
FROM vault.hub_product AS hub
LEFT JOIN (
    SELECT
        hub_product_hash_key,
        toNullable(argMax(text, (first_sold, text))) AS description
    FROM (
        SELECT
            hub_product_hash_key,
            assumeNotNull(Description) AS text,
            min(EFFECTIVE_FROM) AS first_sold,
            max(Priced) AS priced,
            max(priced) OVER (PARTITION BY hub_product_hash_key)
                AS product_priced
        FROM vault.sat_product
        GROUP BY hub_product_hash_key, text
    )
    WHERE priced OR NOT product_priced
    GROUP BY hub_product_hash_key
) AS latest ON latest.hub_product_hash_key = hub.hub_product_hash_key
"""


@sql_asset(
    table="marts.Dim_Customer",
    group="marts",
    schema="schemas.marts:DimCustomer",
    tags={**_TAGS, "role": "dimension"},
    owners=OWNERS,
)
def dim_customer(context: AssetContext) -> str:
    """One row per customer with the country of their latest line, plus the unknown member.

    One row per customer (not per customer and country) so that joining facts to this
    dimension never counts a sale twice. The unknown customer (id 0) is always present,
    with the nil UUID as country: it stands for buyers in many countries.
    """
    unknown = unknown_customer_key()
    # Sort-merge joins for the same reason as the facts: the inner join pairs two
    # million-row links with the invoice hub.
    return f"""
SELECT
    hub.hub_customer_hash_key AS customer_key,
    hub.CustomerID AS customer_id,
    home.country_key AS country_key
FROM vault.hub_customer AS hub
INNER JOIN (
    SELECT
        customer.hub_customer_hash_key AS customer_key,
        argMax(
            country.hub_country_hash_key,
            (line.InvoiceDate, country.hub_country_hash_key)
        ) AS country_key
    FROM vault.link_invoice_customer AS customer
    INNER JOIN vault.link_invoice_country AS country
        ON country.hub_invoice_hash_key = customer.hub_invoice_hash_key
    INNER JOIN vault.hub_invoice AS line
        ON line.hub_invoice_hash_key = customer.hub_invoice_hash_key
    WHERE customer.hub_customer_hash_key
        != {unknown}
    GROUP BY customer_key
) AS home ON home.customer_key = hub.hub_customer_hash_key
WHERE hub.CustomerID != 0
UNION ALL
SELECT
    {unknown} AS customer_key,
    toUInt64(0) AS customer_id,
    toUUID('{NIL_UUID}') AS country_key
SETTINGS join_algorithm = 'full_sorting_merge'
"""


@sql_asset(
    table="marts.Dim_Time",
    group="marts",
    schema="schemas.marts:DimTime",
    tags={**_TAGS, "role": "dimension"},
    owners=OWNERS,
)
def dim_time(context: AssetContext) -> str:
    """One row per invoice timestamp with its date, year, month and ISO day of week."""
    return """
SELECT
    hub.hub_time_hash_key AS time_key,
    sat.date AS date,
    toUInt16(sat.year) AS year,
    toUInt8(sat.month) AS month,
    toUInt8(sat.day_of_week) AS day_of_week
FROM vault.hub_time AS hub
INNER JOIN (
    SELECT
        hub_time_hash_key,
        argMax(date, LOAD_DATETIME) AS date,
        argMax(year, LOAD_DATETIME) AS year,
        argMax(month, LOAD_DATETIME) AS month,
        argMax(day_of_week, LOAD_DATETIME) AS day_of_week
    FROM vault.sat_time
    GROUP BY hub_time_hash_key
) AS sat ON sat.hub_time_hash_key = hub.hub_time_hash_key
"""


@sql_asset(
    table="marts.Dim_Country",
    group="marts",
    schema="schemas.marts:DimCountry",
    tags={**_TAGS, "role": "dimension"},
    owners=OWNERS,
)
def dim_country(context: AssetContext) -> str:
    """One row per country, named as most of its invoices spell it; keyed like hub_country.

    Over every spelling sat_country recorded (trimmed, case kept), the one written on the
    most invoices wins, a tie going to the spelling that sorts first; so one stray
    ``UNITED KINGDOM`` among thousands of ``United Kingdom`` invoices renames nothing,
    whichever load brought it. A country with no recorded spelling (its lines were all
    loaded before sat_country existed) keeps hub_country's.
    """
    return """
SELECT
    hub.hub_country_hash_key AS country_key,
    ifNull(spelled.country_name, hub.Country) AS country_name
FROM vault.hub_country AS hub
LEFT JOIN (
    SELECT
        hub_country_hash_key,
        -- most invoices first, then the spelling that sorts first
        argMin(Country, (-toInt64(invoices), Country)) AS country_name
    FROM (
        SELECT hub_country_hash_key, Country, count() AS invoices
        FROM vault.sat_country
        GROUP BY hub_country_hash_key, Country
    )
    GROUP BY hub_country_hash_key
) AS spelled ON spelled.hub_country_hash_key = hub.hub_country_hash_key
SETTINGS join_use_nulls = 1
"""
