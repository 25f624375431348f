"""Schemas of the raw layer: the source as loaded, and persistent staging."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.typing import INT32, UINT64, Int32, Series, UInt64

from schemas.types import (
    EARLIEST_INVOICE_DATE,
    INVOICE_PATTERN,
    LATEST_INVOICE_DATE,
    MONEY_LIMIT,
    RETURN_STATUSES,
    SOURCE_INVOICE_PATTERN,
    UUID,
    DateTimeUTC,
    Money,
)

#: The ingest writes timestamps in this one form, whatever the source used.
ISO_TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


class OnlineRetails(pa.DataFrameModel):
    """``raw.online_retails``: one row per source row, values as the source had them.

    Every column is nullable, as in the DDL (the original's types, kept): the loader itself
    refuses rows without an invoice, stock code, quantity, date or price, naming the row.
    ``InvoiceDate`` is the one normalised value (ISO text), because month/day/year can
    only be told from day/month/year at ingest.
    """

    InvoiceNo: Series[str] = pa.Field(nullable=True, str_matches=SOURCE_INVOICE_PATTERN)
    StockCode: Series[str] = pa.Field(nullable=True, str_length={"min_value": 1})
    Description: Series[str] = pa.Field(nullable=True)
    Quantity: Series[INT32] = pa.Field(nullable=True)
    InvoiceDate: Series[str] = pa.Field(nullable=True, str_matches=ISO_TIMESTAMP_PATTERN)
    UnitPrice: Series[float] = pa.Field(
        nullable=True, in_range={"min_value": -MONEY_LIMIT, "max_value": MONEY_LIMIT}
    )
    CustomerID: Series[UINT64] = pa.Field(nullable=True)
    Country: Series[str] = pa.Field(nullable=True)
    TotalAmount: Series[float] = pa.Field(
        nullable=True, in_range={"min_value": -MONEY_LIMIT, "max_value": MONEY_LIMIT}
    )
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        coerce = False


class PsaOnlineRetails(pa.DataFrameModel):
    """``raw.psa_online_retails``: cleaned, typed and hashed staging rows.

    Exact duplicate source rows stay as separate rows (same ``hub_invoice_hash_key``), so
    the hash keys are not unique here; the vault stores each line once.
    """

    hub_invoice_hash_key: Series[UUID]
    hub_product_hash_key: Series[UUID]
    hub_customer_hash_key: Series[UUID]
    hub_time_hash_key: Series[UUID]
    hub_country_hash_key: Series[UUID]
    link_invoice_product_hash_key: Series[UUID]
    link_invoice_customer_hash_key: Series[UUID]
    link_invoice_time_hash_key: Series[UUID]
    link_invoice_country_hash_key: Series[UUID]
    link_customer_country_hash_key: Series[UUID]
    InvoiceNo: Series[str] = pa.Field(str_matches=INVOICE_PATTERN)
    StockCode: Series[str] = pa.Field(str_length={"min_value": 1})
    Description: Series[str] = pa.Field(nullable=True)
    Quantity: Series[Int32]
    InvoiceDate: Series[DateTimeUTC] = pa.Field(
        in_range={"min_value": EARLIEST_INVOICE_DATE, "max_value": LATEST_INVOICE_DATE}
    )
    UnitPrice: Series[Money]
    TotalAmount: Series[Money]
    CustomerID: Series[UInt64]
    Country: Series[str] = pa.Field(str_length={"min_value": 1})
    ReturnStatus: Series[str] = pa.Field(isin=RETURN_STATUSES)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
