"""Schemas of the Data Vault: hubs (unique business keys), links, satellites.

A vault load only adds rows, so each schema is checked against the rows a load adds: hub
and link keys are unique among them, and a satellite adds a (key, HASH_DIFF) at most once.
"""

from __future__ import annotations

import pandera.pandas as pa
from pandera.api.pandas.model_config import BaseConfig
from pandera.typing import Int32, Series, UInt8, UInt64

from schemas.types import (
    EARLIEST_INVOICE_DATE,
    INVOICE_PATTERN,
    LATEST_INVOICE_DATE,
    RETURN_STATUSES,
    UUID,
    DateTimeUTC,
    Money,
)

_INVOICE_DATE_RANGE = {"min_value": EARLIEST_INVOICE_DATE, "max_value": LATEST_INVOICE_DATE}


class _VaultConfig(BaseConfig):
    """Every model of these tables: its columns, exactly and in the DDL\'s order."""

    strict = True
    ordered = True


# ------------------------------------------------------------------------------ hubs


class HubInvoice(pa.DataFrameModel):
    """``vault.hub_invoice``: one row per invoice line (key over every column of the line)."""

    hub_invoice_hash_key: Series[UUID] = pa.Field(unique=True)
    InvoiceNo: Series[str] = pa.Field(str_matches=INVOICE_PATTERN)
    InvoiceDate: Series[DateTimeUTC] = pa.Field(in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class HubProduct(pa.DataFrameModel):
    """``vault.hub_product``: one row per stock code."""

    hub_product_hash_key: Series[UUID] = pa.Field(unique=True)
    StockCode: Series[str] = pa.Field(str_length={"min_value": 1})
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class HubCustomer(pa.DataFrameModel):
    """``vault.hub_customer``: one row per customer id; 0 is the unknown customer."""

    hub_customer_hash_key: Series[UUID] = pa.Field(unique=True)
    CustomerID: Series[UInt64] = pa.Field(unique=True)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class HubTime(pa.DataFrameModel):
    """``vault.hub_time``: one row per invoice timestamp (minute precision in the source)."""

    hub_time_hash_key: Series[UUID] = pa.Field(unique=True)
    InvoiceDate: Series[DateTimeUTC] = pa.Field(unique=True, in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class HubCountry(pa.DataFrameModel):
    """``vault.hub_country``: one row per country name (case-insensitive)."""

    hub_country_hash_key: Series[UUID] = pa.Field(unique=True)
    Country: Series[str] = pa.Field(str_length={"min_value": 1})
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


# ----------------------------------------------------------------------------- links


class LinkInvoiceProduct(pa.DataFrameModel):
    """``vault.link_invoice_product``: which product an invoice line sold."""

    link_invoice_product_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_invoice_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_product_hash_key: Series[UUID]
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class LinkInvoiceCustomer(pa.DataFrameModel):
    """``vault.link_invoice_customer``: who bought an invoice line (maybe the unknown)."""

    link_invoice_customer_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_invoice_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_customer_hash_key: Series[UUID]
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class LinkInvoiceTime(pa.DataFrameModel):
    """``vault.link_invoice_time``: when an invoice line was written."""

    link_invoice_time_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_invoice_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_time_hash_key: Series[UUID]
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class LinkInvoiceCountry(pa.DataFrameModel):
    """``vault.link_invoice_country``: the country an invoice line was sold to."""

    link_invoice_country_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_invoice_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_country_hash_key: Series[UUID]
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


class LinkCustomerCountry(pa.DataFrameModel):
    """``vault.link_customer_country``: countries a known customer bought from."""

    link_customer_country_hash_key: Series[UUID] = pa.Field(unique=True)
    hub_customer_hash_key: Series[UUID]
    hub_country_hash_key: Series[UUID]
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    Config = _VaultConfig


# ------------------------------------------------------------------------ satellites


class SatInvoice(pa.DataFrameModel):
    """``vault.sat_invoice``: the measures of an invoice line, versioned by HASH_DIFF."""

    hub_invoice_hash_key: Series[UUID]
    HASH_DIFF: Series[UUID]
    Quantity: Series[Int32]
    UnitPrice: Series[Money]
    TotalAmount: Series[Money]
    ReturnStatus: Series[str] = pa.Field(isin=RETURN_STATUSES)
    EFFECTIVE_FROM: Series[DateTimeUTC] = pa.Field(in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        unique = ["hub_invoice_hash_key", "HASH_DIFF"]


class SatProduct(pa.DataFrameModel):
    """``vault.sat_product``: a product's descriptions, one version per distinct text.

    A text is recorded again when a later load finds it sold earlier than recorded, or
    sold at a price when recorded only from zero-price lines (``Priced`` 0), so a text's
    earliest row is its first sale and its largest ``Priced`` says if it was ever priced.
    """

    hub_product_hash_key: Series[UUID]
    HASH_DIFF: Series[UUID]
    Description: Series[str] = pa.Field(nullable=True)
    Priced: Series[UInt8] = pa.Field(isin=[0, 1])
    EFFECTIVE_FROM: Series[DateTimeUTC] = pa.Field(in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        unique = ["hub_product_hash_key", "HASH_DIFF", "EFFECTIVE_FROM"]


class SatTime(pa.DataFrameModel):
    """``vault.sat_time``: calendar attributes of an invoice timestamp."""

    hub_time_hash_key: Series[UUID]
    HASH_DIFF: Series[UUID]
    date: Series[pa.Date]
    year: Series[Int32] = pa.Field(in_range={"min_value": 2000, "max_value": 2100})
    month: Series[Int32] = pa.Field(in_range={"min_value": 1, "max_value": 12})
    day_of_week: Series[Int32] = pa.Field(in_range={"min_value": 1, "max_value": 7})
    EFFECTIVE_FROM: Series[DateTimeUTC] = pa.Field(in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        unique = ["hub_time_hash_key", "HASH_DIFF"]


class SatCountry(pa.DataFrameModel):
    """``vault.sat_country``: each spelling of a country, once per invoice that used it.

    Multi-active on ``InvoiceNo``, so counting a spelling's rows counts its invoices.
    """

    hub_country_hash_key: Series[UUID]
    InvoiceNo: Series[str] = pa.Field(str_matches=INVOICE_PATTERN)
    HASH_DIFF: Series[UUID]
    Country: Series[str] = pa.Field(str_length={"min_value": 1})
    EFFECTIVE_FROM: Series[DateTimeUTC] = pa.Field(in_range=_INVOICE_DATE_RANGE)
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        unique = ["hub_country_hash_key", "InvoiceNo", "HASH_DIFF"]


class SatInvoiceStatus(pa.DataFrameModel):
    """``vault.sat_invoice_status``: when a later delivery of its invoice retracted a line
    (``Retracted`` 1), or delivered it again (0); one row per change of a line's status.

    A load adds at most one row per line, so (line, LOAD_DATETIME) is the key.
    """

    hub_invoice_hash_key: Series[UUID]
    Retracted: Series[UInt8] = pa.Field(isin=[0, 1])
    LOAD_DATETIME: Series[DateTimeUTC]
    RECORD_SOURCE: Series[str] = pa.Field(str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True
        unique = ["hub_invoice_hash_key", "LOAD_DATETIME"]
