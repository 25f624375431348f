"""Raw layer: ingest the source, then stage it cleaned, typed and hashed (all in SQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from assets.sources.fingerprint import source_fingerprint
from assets.sql import OWNERS, hash_key, layer_tags, load_datetime, trimmed
from orchestration.asset import asset, sql_asset
from orchestration.context import AssetContext
from orchestration.io_manager import EngineSelect
from orchestration.text_encoding import SOURCE_ENCODING_PARAM, is_utf8, shown_encoding

if TYPE_CHECKING:
    import pyarrow as pa


@asset(
    table="raw.online_retails",
    group="raw",
    schema="schemas.raw:OnlineRetails",
    tags={**layer_tags("raw"), "role": "ingest"},
    owners=OWNERS,
    fingerprint=source_fingerprint,
)
def raw_online_retails(context: AssetContext) -> Iterator[pa.Table] | EngineSelect:
    """The Online Retail source as loaded, one row per source row, streamed in chunks.

    The source is the run parameter ``source``, else ``$ONLINE_RETAIL_DATA_URL``, else
    ``synthetic:100000``: a UCI zip/xlsx (every sheet), CSV or Parquet file, a URL to one,
    or the offline generator. Values stay as the source wrote them (descriptions keep their
    spaces) so staging can be rebuilt from here; only timestamps are normalised to ISO
    text, because only the reader knows ``12/1/2010`` means 1 December. CSV text is
    UTF-8 unless the run parameter ``source_encoding`` (else
    ``$ONLINE_RETAIL_SOURCE_ENCODING``) names another.

    A plain local CSV file is read by the warehouse itself when it can
    (:mod:`assets.sources.engine_csv`), with the Python reader as the way back. Either
    way every row comes from the version of a local file found before anything read it:
    a file changed while it is read fails the asset (:mod:`assets.sources.unchanged`).
    """
    from assets.sources import (
        describe_source,
        engine_read,
        read_source,
        resolve_source,
        resolve_source_encoding,
        resolve_source_timeout,
        source_named_by,
        source_version,
    )
    from assets.sources.normalize import RAW_COLUMNS

    source = resolve_source(context.params)
    encoding = resolve_source_encoding(context.params)
    given = context.params.get(SOURCE_ENCODING_PARAM)  # as typed: latin-1 (iso8859-1)
    shown = shown_encoding(encoding, str(given) if given is not None else None)
    read_as = "" if is_utf8(encoding) else f" (CSV text read as {shown})"
    context.log.info("ingesting Online Retail rows from %s%s", describe_source(source), read_as)
    timeout = resolve_source_timeout(context.params)
    named_by = source_named_by(context.params)
    # Before anything opens the file: every row loaded must come from this version of it.
    version = source_version(source)

    def read() -> Iterator[pa.Table]:
        return read_source(
            source, timeout=timeout, named_by=named_by, encoding=encoding, version=version
        )

    if version is None:  # the generator, a URL, or no file there: only Python reads those
        return read()
    in_engine = engine_read(source, encoding)
    if in_engine is None:
        return read()
    return EngineSelect(in_engine, fallback=read, columns=RAW_COLUMNS, verify_read=version.check)


def _staging_sql(load: str) -> str:
    invoice_key = hash_key(
        "source_invoice",
        "stock_code",
        "ifNull(description, '')",
        "quantity",
        "invoice_date",
        "unit_price",
        "customer_id",
        "country",
        indent=12,
    )

    def key(part: str) -> str:  # a hub key, in the keyed CTE
        return hash_key(part, indent=12)

    def link(*hubs: str) -> str:
        # A link key hashes the keys of the hubs it joins, like any other business key.
        return hash_key(*hubs, indent=4)

    return f"""
WITH
    cleaned AS (
        SELECT
            upperUTF8({trimmed("CAST(InvoiceNo, 'String')", indent=16)})
                AS source_invoice,
            upperUTF8({trimmed("CAST(StockCode, 'String')", indent=16)})
                AS stock_code,
            nullIf({trimmed("Description", indent=16)}, '')
                AS description,
            CAST(Quantity, 'Int32') AS quantity,
            toDateTime64(CAST(InvoiceDate, 'String'), 0, 'UTC')
                AS invoice_date,
            -- via shortest text, so 2.55 stays 2.55
            -- (a float cast would truncate to 2.5499)
            toDecimal64(toString(round(CAST(UnitPrice, 'Float64'), 4)), 4)
                AS unit_price,
            ifNull(CustomerID, 0) AS customer_id,
            ifNull(
                nullIf({trimmed("Country", indent=20)}, ''),
                'Unspecified'
            ) AS country,
            RECORD_SOURCE AS record_source
        FROM raw.online_retails
    ),
    keyed AS (
        SELECT
            *,
            {invoice_key} AS invoice_key,
            {key("stock_code")} AS product_key,
            {key("customer_id")} AS customer_key,
            {key("invoice_date")} AS time_key,
            {key("country")} AS country_key
        FROM cleaned
    )
SELECT
    invoice_key AS hub_invoice_hash_key,
    product_key AS hub_product_hash_key,
    customer_key AS hub_customer_hash_key,
    time_key AS hub_time_hash_key,
    country_key AS hub_country_hash_key,
    {link("invoice_key", "product_key")} AS link_invoice_product_hash_key,
    {link("invoice_key", "customer_key")} AS link_invoice_customer_hash_key,
    {link("invoice_key", "time_key")} AS link_invoice_time_hash_key,
    {link("invoice_key", "country_key")} AS link_invoice_country_hash_key,
    {link("customer_key", "country_key")} AS link_customer_country_hash_key,
    source_invoice AS InvoiceNo,
    stock_code AS StockCode,
    description AS Description,
    quantity AS Quantity,
    invoice_date AS InvoiceDate,
    CAST(unit_price, 'Decimal(10, 4)') AS UnitPrice,
    CAST(quantity * unit_price, 'Decimal(10, 4)') AS TotalAmount,
    customer_id AS CustomerID,
    country AS Country,
    if(startsWith(source_invoice, 'C') OR quantity < 0, 'Return', 'Normal')
        AS ReturnStatus,
    {load} AS LOAD_DATETIME,
    record_source AS RECORD_SOURCE
FROM keyed
"""


@sql_asset(
    table="raw.psa_online_retails",
    group="raw",
    schema="schemas.raw:PsaOnlineRetails",
    tags={**layer_tags("raw"), "role": "staging"},
    owners=OWNERS,
)
def psa_online_retails(context: AssetContext) -> str:
    """The latest load cleaned, typed and hashed: the vault's only input.

    Trimmed text, ``DateTime64``/``Decimal`` types, CustomerID 0 for an unknown customer,
    ``ReturnStatus`` (C invoice or negative quantity), and every hub and link hash key
    computed here, once, inside ClickHouse. Exact duplicate source rows stay (same
    invoice-line key) so data quality can count them.

    InvoiceNo keeps its C: a cancellation is an invoice of its own, numbered in the
    sales' sequence (``C581484`` cancels ``581483``), so without the C its number would
    name no sale, and the line would read as a write-off (a negative quantity on an
    ordinary invoice, such as ``536381 ... damaged -12``).
    """
    return _staging_sql(load_datetime(context))
