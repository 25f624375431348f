"""Data Vault 2.0 layer: hubs, links and satellites, loaded insert-only from staging.

Every vault asset publishes with ``write_mode="insert_new"``: a load adds only rows whose
key is not in the table yet, so rerunning on the same source adds nothing and a later
source adds only what is new. Each SELECT below therefore returns one row per key of the
*current* staging table, with this run's LOAD_DATETIME.
"""

from __future__ import annotations

from assets.checks import CHECKS
from assets.sql import OWNERS, hash_text, layer_tags, load_datetime
from orchestration.asset import sql_asset
from orchestration.context import AssetContext

_STAGING = "raw.psa_online_retails"
_TAGS = layer_tags("vault")


def _one_row_per_key(key: str, columns: list[str], load: str, where: str = "") -> str:
    """One row per ``key`` of staging; ties broken by ``min`` so reruns pick the same row."""
    picked = ",\n    ".join(f"min({column}) AS {column}" for column in columns)
    return f"""
SELECT
    {key},
    {picked},
    {load} AS LOAD_DATETIME,
    min(RECORD_SOURCE) AS RECORD_SOURCE
FROM {_STAGING}
{where}
GROUP BY {key}
"""


# ------------------------------------------------------------------------------ hubs


@sql_asset(
    table="vault.hub_invoice",
    group="vault",
    schema="schemas.vault:HubInvoice",
    tags={**_TAGS, "role": "hub"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_invoice_hash_key"],
    checks=CHECKS["hub_invoice"],
)
def hub_invoice(context: AssetContext) -> str:
    """One row per invoice line; the key hashes every column of the source line.

    The original keyed a line by (InvoiceNo, StockCode, InvoiceDate), which merged
    distinct lines sharing those three values; exact duplicate rows still collapse here.
    """
    return _one_row_per_key(
        "hub_invoice_hash_key", ["InvoiceNo", "InvoiceDate"], load_datetime(context)
    )


@sql_asset(
    table="vault.hub_product",
    group="vault",
    schema="schemas.vault:HubProduct",
    tags={**_TAGS, "role": "hub"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_product_hash_key"],
    checks=CHECKS["hub_product"],
)
def hub_product(context: AssetContext) -> str:
    """One row per stock code (non-product codes such as POST and M included)."""
    return _one_row_per_key("hub_product_hash_key", ["StockCode"], load_datetime(context))


@sql_asset(
    table="vault.hub_customer",
    group="vault",
    schema="schemas.vault:HubCustomer",
    tags={**_TAGS, "role": "hub"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_customer_hash_key"],
    checks=CHECKS["hub_customer"],
)
def hub_customer(context: AssetContext) -> str:
    """One row per customer id; id 0 is the unknown customer, kept so no line is lost."""
    return _one_row_per_key("hub_customer_hash_key", ["CustomerID"], load_datetime(context))


@sql_asset(
    table="vault.hub_time",
    group="vault",
    schema="schemas.vault:HubTime",
    tags={**_TAGS, "role": "hub"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_time_hash_key"],
    checks=CHECKS["hub_time"],
)
def hub_time(context: AssetContext) -> str:
    """One row per invoice timestamp (the source has minute precision): Dim_Time's grain."""
    return _one_row_per_key("hub_time_hash_key", ["InvoiceDate"], load_datetime(context))


@sql_asset(
    table="vault.hub_country",
    group="vault",
    schema="schemas.vault:HubCountry",
    tags={**_TAGS, "role": "hub"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_country_hash_key"],
    checks=CHECKS["hub_country"],
)
def hub_country(context: AssetContext) -> str:
    """One row per country (names compared trimmed and case-insensitively)."""
    return _one_row_per_key("hub_country_hash_key", ["Country"], load_datetime(context))


# ----------------------------------------------------------------------------- links


def _link(link_key: str, left: str, right: str, load: str, where: str = "") -> str:
    return _one_row_per_key(link_key, [left, right], load, where)


@sql_asset(
    table="vault.link_invoice_product",
    group="vault",
    schema="schemas.vault:LinkInvoiceProduct",
    tags={**_TAGS, "role": "link"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["link_invoice_product_hash_key"],
    checks=CHECKS["link_invoice_product"],
)
def link_invoice_product(context: AssetContext) -> str:
    """Invoice line -> the product (stock code) it sold, for Fact_Sales.product_key."""
    return _link(
        "link_invoice_product_hash_key",
        "hub_invoice_hash_key",
        "hub_product_hash_key",
        load_datetime(context),
    )


@sql_asset(
    table="vault.link_invoice_customer",
    group="vault",
    schema="schemas.vault:LinkInvoiceCustomer",
    tags={**_TAGS, "role": "link"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["link_invoice_customer_hash_key"],
    checks=CHECKS["link_invoice_customer"],
)
def link_invoice_customer(context: AssetContext) -> str:
    """Invoice line -> its customer (the unknown customer when the source had none)."""
    return _link(
        "link_invoice_customer_hash_key",
        "hub_invoice_hash_key",
        "hub_customer_hash_key",
        load_datetime(context),
    )


@sql_asset(
    table="vault.link_invoice_time",
    group="vault",
    schema="schemas.vault:LinkInvoiceTime",
    tags={**_TAGS, "role": "link"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["link_invoice_time_hash_key"],
    checks=CHECKS["link_invoice_time"],
)
def link_invoice_time(context: AssetContext) -> str:
    """Invoice line -> its timestamp (hub_time), for the time dimension of the facts."""
    return _link(
        "link_invoice_time_hash_key",
        "hub_invoice_hash_key",
        "hub_time_hash_key",
        load_datetime(context),
    )


@sql_asset(
    table="vault.link_invoice_country",
    group="vault",
    schema="schemas.vault:LinkInvoiceCountry",
    tags={**_TAGS, "role": "link"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["link_invoice_country_hash_key"],
    checks=CHECKS["link_invoice_country"],
)
def link_invoice_country(context: AssetContext) -> str:
    """Invoice line -> the country it was sold to, for Fact_Sales.country_key."""
    return _link(
        "link_invoice_country_hash_key",
        "hub_invoice_hash_key",
        "hub_country_hash_key",
        load_datetime(context),
    )


@sql_asset(
    table="vault.link_customer_country",
    group="vault",
    schema="schemas.vault:LinkCustomerCountry",
    tags={**_TAGS, "role": "link"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["link_customer_country_hash_key"],
    checks=CHECKS["link_customer_country"],
)
def link_customer_country(context: AssetContext) -> str:
    """Known customer -> each country they bought from.

    The unknown customer (id 0) is left out: it is many people, not one with countries.
    """
    return _link(
        "link_customer_country_hash_key",
        "hub_customer_hash_key",
        "hub_country_hash_key",
        load_datetime(context),
        where="WHERE CustomerID != 0",
    )


# ------------------------------------------------------------------------ satellites


@sql_asset(
    table="vault.sat_invoice",
    group="vault",
    schema="schemas.vault:SatInvoice",
    tags={**_TAGS, "role": "satellite"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_invoice_hash_key", "HASH_DIFF"],
)
def sat_invoice(context: AssetContext) -> str:
    """Measures of each invoice line: quantity, unit price, total amount, return status.

    HASH_DIFF hashes the measures, so a changed value would add a version; EFFECTIVE_FROM
    is the invoice timestamp.
    """
    diff = hash_text(
        "toString(Quantity)", "toString(UnitPrice)", "toString(TotalAmount)", "ReturnStatus"
    )
    return f"""
SELECT
    hub_invoice_hash_key,
    {diff} AS HASH_DIFF,
    Quantity,
    UnitPrice,
    TotalAmount,
    CAST(ReturnStatus AS Enum8('Normal' = 0, 'Return' = 1)) AS ReturnStatus,
    InvoiceDate AS EFFECTIVE_FROM,
    {load_datetime(context)} AS LOAD_DATETIME,
    RECORD_SOURCE
FROM {_STAGING}
LIMIT 1 BY hub_invoice_hash_key, HASH_DIFF
"""


@sql_asset(
    table="vault.sat_product",
    group="vault",
    schema="schemas.vault:SatProduct",
    tags={**_TAGS, "role": "satellite"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_product_hash_key", "HASH_DIFF"],
)
def sat_product(context: AssetContext) -> str:
    """Each description a product was sold under, effective from its first sale.

    Products carry several spellings in the real data; each distinct (trimmed) text is a
    version, so history is kept and the latest-introduced text is the current one. Lines
    without a description add no version (they say nothing about the product's name).
    """
    return f"""
SELECT
    hub_product_hash_key,
    {hash_text("text")} AS HASH_DIFF,
    text AS Description,
    first_sold AS EFFECTIVE_FROM,
    {load_datetime(context)} AS LOAD_DATETIME,
    source AS RECORD_SOURCE
FROM (
    SELECT
        hub_product_hash_key,
        assumeNotNull(Description) AS text,
        min(InvoiceDate) AS first_sold,
        min(RECORD_SOURCE) AS source
    FROM {_STAGING}
    WHERE Description IS NOT NULL
    GROUP BY hub_product_hash_key, text
)
"""


@sql_asset(
    table="vault.sat_time",
    group="vault",
    schema="schemas.vault:SatTime",
    tags={**_TAGS, "role": "satellite"},
    owners=OWNERS,
    write_mode="insert_new",
    unique_key=["hub_time_hash_key", "HASH_DIFF"],
)
def sat_time(context: AssetContext) -> str:
    """Calendar attributes of each invoice timestamp (ISO day of week, Monday = 1)."""
    return f"""
SELECT
    hub_time_hash_key,
    {hash_text("toString(date)")} AS HASH_DIFF,
    date,
    toInt32(toYear(date)) AS year,
    toInt32(toMonth(date)) AS month,
    toInt32(toDayOfWeek(date)) AS day_of_week,
    InvoiceDate AS EFFECTIVE_FROM,
    {load_datetime(context)} AS LOAD_DATETIME,
    RECORD_SOURCE
FROM (
    SELECT
        hub_time_hash_key,
        InvoiceDate,
        toDate(InvoiceDate) AS date,
        min(RECORD_SOURCE) AS RECORD_SOURCE
    FROM {_STAGING}
    GROUP BY hub_time_hash_key, InvoiceDate
)
"""
