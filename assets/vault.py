"""Data Vault 2.0 layer: hubs, links and satellites, loaded insert-only from staging.

Every vault asset publishes with ``write_mode="insert_new"``: a load adds only rows whose
key is not in the table yet, so rerunning on the same source adds nothing and a later
source adds only what is new. Each SELECT below therefore returns one row per key of the
*current* staging table, with this run's LOAD_DATETIME (``sat_product`` also reads what it
recorded before, so that an older sale found later is recorded, whatever the load order;
``sat_invoice_status`` reads the lines earlier loads recorded of the invoices staging
holds, and retracts those staging lacks: a delivery carries whole invoices).

The fifteen tables share everything but their SELECT, so they are declared from one
table of specs (:data:`VAULT`) by one factory (:func:`vault_asset`). Each row names its
asset key and table; the insert-only key comes from the table's schema, and hubs and
links get the check that their hash key (``<key>_hash_key``) stays unique across loads.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from assets.checks import column_is_unique
from assets.sql import OWNERS, hash_text, layer_tags, load_datetime
from orchestration.asset import AssetSpec, register
from orchestration.context import AssetContext

_STAGING = "raw.psa_online_retails"
_TAGS = layer_tags("vault")
Role = Literal["hub", "link", "satellite"]


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


def _sat_invoice_select(load: str) -> str:
    """Measures of each invoice line: quantity, unit price, total amount, return status.

    HASH_DIFF hashes the measures, so a changed value would add a version; EFFECTIVE_FROM
    is the invoice timestamp.
    """
    diff = hash_text(
        "toString(Quantity)",
        "toString(UnitPrice)",
        "toString(TotalAmount)",
        "ReturnStatus",
        indent=4,
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
    {load} AS LOAD_DATETIME,
    RECORD_SOURCE
FROM {_STAGING}
LIMIT 1 BY hub_invoice_hash_key, HASH_DIFF
"""


def _sat_product_select(load: str) -> str:
    """Each description a product was sold under, effective from that text's first line.

    Products carry several spellings in the real data; each distinct (trimmed) text is a
    version, so history is kept (Dim_Product picks the current one). Lines without a
    description add no version (they say nothing about the product's name).

    ``Priced`` says whether the text was seen on a priced line (UnitPrice > 0): stock
    corrections are zero-price lines whose description is a warehouse note ("damaged",
    "?", "check"), which Dim_Product leaves out unless the product has no priced text.
    The vault records every text and leaves that choice to the mart, since a load holding
    only a product's note cannot tell a note from a name.

    A text's first line may come in a later load than the text (a backfill, or an older
    file loaded after a newer one), and so may its first priced line: then the text is
    recorded again, effective from this load's first line of it, so over every load a
    text's earliest EFFECTIVE_FROM is its first sale and its largest ``Priced`` says if it
    was ever priced, whatever the order of the loads. A load that tells nothing new of a
    text adds nothing, so a rerun adds nothing.
    """
    return f"""
SELECT
    hub_product_hash_key,
    {hash_text("text", "toString(priced)", indent=4)} AS HASH_DIFF,
    text AS Description,
    priced AS Priced,
    first_seen AS EFFECTIVE_FROM,
    {load} AS LOAD_DATETIME,
    source AS RECORD_SOURCE
FROM (
    SELECT
        hub_product_hash_key,
        assumeNotNull(Description) AS text,
        toUInt8(max(UnitPrice > 0)) AS priced,
        min(InvoiceDate) AS first_seen,
        min(RECORD_SOURCE) AS source
    FROM {_STAGING}
    WHERE Description IS NOT NULL
    GROUP BY hub_product_hash_key, text
) AS seen
LEFT JOIN (
    SELECT
        hub_product_hash_key,
        assumeNotNull(Description) AS text,
        max(Priced) AS recorded_priced,
        min(EFFECTIVE_FROM) AS recorded_from
    FROM vault.sat_product
    GROUP BY hub_product_hash_key, text
) AS recorded USING (hub_product_hash_key, text)
WHERE recorded_from IS NULL
    OR first_seen < recorded_from
    OR priced > recorded_priced
SETTINGS join_use_nulls = 1
"""


def _sat_time_select(load: str) -> str:
    """Calendar attributes of each invoice timestamp (ISO day of week, Monday = 1)."""
    return f"""
SELECT
    hub_time_hash_key,
    {hash_text("toString(date)", indent=4)} AS HASH_DIFF,
    date,
    toInt32(toYear(date)) AS year,
    toInt32(toMonth(date)) AS month,
    toInt32(toDayOfWeek(date)) AS day_of_week,
    InvoiceDate AS EFFECTIVE_FROM,
    {load} AS LOAD_DATETIME,
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


def _sat_country_select(load: str) -> str:
    """Each spelling of a country (trimmed, case kept), once per invoice that used it.

    hub_country's name is the spelling its first load saw; a country's name is a choice
    among every spelling, so each is recorded with the invoices that wrote it (multi-active
    on InvoiceNo) and Dim_Country names the country as most invoices spell it, over every
    load. An invoice counts once however many lines or loads repeat it, so a rerun adds
    nothing and the counts do not depend on the load order.
    """
    return f"""
SELECT
    hub_country_hash_key,
    InvoiceNo,
    {hash_text("Country", indent=4)} AS HASH_DIFF,
    Country,
    min(InvoiceDate) AS EFFECTIVE_FROM,
    {load} AS LOAD_DATETIME,
    min(RECORD_SOURCE) AS RECORD_SOURCE
FROM {_STAGING}
GROUP BY hub_country_hash_key, InvoiceNo, Country
"""


def _sat_invoice_status_select(load: str) -> str:
    """Lines retracted by a later delivery of their invoice, and lines delivered again.

    A delivery carries whole invoices: when this load holds an invoice, the lines of it
    that earlier loads recorded and this load lacks are no longer the invoice's (a
    corrected quantity is a new line, the old one is dropped; a removed line is gone),
    so each gets a row with ``Retracted`` 1. A retracted line that this load delivers
    again gets a row with ``Retracted`` 0. Invoices this load does not hold are left as
    they are, so a delivery of new invoices retracts nothing.

    A row is added only when a line's status changes (a line without a row is current),
    so delivering the same file again adds nothing. Nothing is ever updated or deleted:
    the hub, links and satellite keep every version, and this satellite says when each
    stopped, or started again, to count. The marts count the lines whose latest row is
    not a retraction. Invoices are compared by their number as the hub records it: as
    delivered, a cancellation's C included.
    """
    return f"""
SELECT
    hub_invoice_hash_key,
    retracted AS Retracted,
    {load} AS LOAD_DATETIME,
    source AS RECORD_SOURCE
FROM (
    SELECT
        line.hub_invoice_hash_key AS hub_invoice_hash_key,
        toUInt8(line.hub_invoice_hash_key NOT IN (
            SELECT hub_invoice_hash_key FROM {_STAGING}
        )) AS retracted,
        delivered.source AS source
    FROM vault.hub_invoice AS line
    INNER JOIN (
        SELECT InvoiceNo, min(RECORD_SOURCE) AS source
        FROM {_STAGING}
        GROUP BY InvoiceNo
    ) AS delivered ON delivered.InvoiceNo = line.InvoiceNo
) AS now
LEFT JOIN (
    SELECT
        hub_invoice_hash_key,
        argMax(Retracted, LOAD_DATETIME) AS recorded
    FROM vault.sat_invoice_status
    GROUP BY hub_invoice_hash_key
) AS recorded USING (hub_invoice_hash_key)
WHERE retracted != recorded
"""


@dataclass(frozen=True)
class VaultTable:
    """One vault table: its asset key, table, schema, role and SELECT (given LOAD_DATETIME)."""

    key: str
    table: str
    schema: str
    role: Role
    select: Callable[[str], str]
    description: str


def _hub(key: str, table: str, schema: str, columns: list[str], description: str) -> VaultTable:
    select = partial(_one_row_per_key, f"{key}_hash_key", columns)
    return VaultTable(key, table, schema, "hub", select, description)


def _link(
    key: str, table: str, schema: str, hubs: tuple[str, str], description: str, where: str = ""
) -> VaultTable:
    """A link: one row per link key, with the hash keys of the two hubs it joins."""

    def select(load: str) -> str:
        columns = [f"{hub}_hash_key" for hub in hubs]
        return _one_row_per_key(f"{key}_hash_key", columns, load, where)

    return VaultTable(key, table, schema, "link", select, description)


def _satellite(key: str, table: str, schema: str, select: Callable[[str], str]) -> VaultTable:
    """A satellite: its SELECT is its own; that function's docstring describes it."""
    return VaultTable(
        key, table, schema, "satellite", select, inspect.cleandoc(select.__doc__ or "")
    )


VAULT: tuple[VaultTable, ...] = (
    # ------------------------------------------------------------------------- hubs
    _hub(
        "hub_invoice",
        "vault.hub_invoice",
        "HubInvoice",
        ["InvoiceNo", "InvoiceDate"],
        "One row per invoice line; the key hashes every column of the source line.\n\n"
        "The original keyed a line by (InvoiceNo, StockCode, InvoiceDate), which merged "
        "distinct lines sharing those three values; exact duplicate rows still collapse here.",
    ),
    _hub(
        "hub_product",
        "vault.hub_product",
        "HubProduct",
        ["StockCode"],
        "One row per stock code (non-product codes such as POST and M included).",
    ),
    _hub(
        "hub_customer",
        "vault.hub_customer",
        "HubCustomer",
        ["CustomerID"],
        "One row per customer id; id 0 is the unknown customer, kept so no line is lost.",
    ),
    _hub(
        "hub_time",
        "vault.hub_time",
        "HubTime",
        ["InvoiceDate"],
        "One row per invoice timestamp (the source has minute precision): Dim_Time's grain.",
    ),
    _hub(
        "hub_country",
        "vault.hub_country",
        "HubCountry",
        ["Country"],
        "One row per country (names compared trimmed and case-insensitively).",
    ),
    # ------------------------------------------------------------------------ links
    _link(
        "link_invoice_product",
        "vault.link_invoice_product",
        "LinkInvoiceProduct",
        ("hub_invoice", "hub_product"),
        "Invoice line -> the product (stock code) it sold, for Fact_Sales.product_key.",
    ),
    _link(
        "link_invoice_customer",
        "vault.link_invoice_customer",
        "LinkInvoiceCustomer",
        ("hub_invoice", "hub_customer"),
        "Invoice line -> its customer (the unknown customer when the source had none).",
    ),
    _link(
        "link_invoice_time",
        "vault.link_invoice_time",
        "LinkInvoiceTime",
        ("hub_invoice", "hub_time"),
        "Invoice line -> its timestamp (hub_time), for the time dimension of the facts.",
    ),
    _link(
        "link_invoice_country",
        "vault.link_invoice_country",
        "LinkInvoiceCountry",
        ("hub_invoice", "hub_country"),
        "Invoice line -> the country it was sold to, for Fact_Sales.country_key.",
    ),
    _link(
        "link_customer_country",
        "vault.link_customer_country",
        "LinkCustomerCountry",
        ("hub_customer", "hub_country"),
        "Known customer -> each country they bought from.\n\n"
        "The unknown customer (id 0) is left out: it is many people, not one with countries.",
        where="WHERE CustomerID != 0",
    ),
    # ------------------------------------------------------------------- satellites
    _satellite(
        "sat_invoice",
        "vault.sat_invoice",
        "SatInvoice",
        _sat_invoice_select,
    ),
    _satellite(
        "sat_product",
        "vault.sat_product",
        "SatProduct",
        _sat_product_select,
    ),
    _satellite(
        "sat_time",
        "vault.sat_time",
        "SatTime",
        _sat_time_select,
    ),
    _satellite(
        "sat_country",
        "vault.sat_country",
        "SatCountry",
        _sat_country_select,
    ),
    _satellite(
        "sat_invoice_status",
        "vault.sat_invoice_status",
        "SatInvoiceStatus",
        _sat_invoice_status_select,
    ),
)


def vault_asset(table: VaultTable) -> AssetSpec:
    """Declare one vault table as an insert-only SQL asset of the ``vault`` group."""

    def body(context: AssetContext) -> str:
        return table.select(load_datetime(context))

    body.__qualname__ = body.__name__ = table.key
    checks = (column_is_unique(f"{table.key}_hash_key"),) if table.role != "satellite" else ()
    return register(
        AssetSpec(
            key=table.key,
            table=table.table,
            body=body,
            kind="sql",
            group="vault",
            schema=f"schemas.vault:{table.schema}",
            description=table.description,
            tags={**_TAGS, "role": table.role},
            owners=OWNERS,
            write_mode="insert_new",
            checks=checks,
        )
    )


ASSETS: tuple[AssetSpec, ...] = tuple(vault_asset(table) for table in VAULT)
