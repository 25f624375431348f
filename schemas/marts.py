"""Schemas of the star-schema marts, rebuilt from the whole vault on every run."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.api.pandas.model_config import BaseConfig
from pandera.typing import Int32, Series, UInt8, UInt16, UInt64

from schemas.types import UUID, Money


class _MartConfig(BaseConfig):
    """Every model of these tables: its columns, exactly and in the DDL\'s order."""

    strict = True
    ordered = True


class DimProduct(pa.DataFrameModel):
    """``marts.Dim_Product``: one row per stock code with its current description, and
    whether the code is a product (not postage, a fee, a discount or a manual entry)."""

    product_key: Series[UUID] = pa.Field(unique=True)
    stock_code: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})
    description: Series[str] = pa.Field(nullable=True)
    is_product: Series[UInt8] = pa.Field(isin=[0, 1])

    Config = _MartConfig


class DimCustomer(pa.DataFrameModel):
    """``marts.Dim_Customer``: one row per customer, plus the unknown customer (id 0)."""

    customer_key: Series[UUID] = pa.Field(unique=True)
    customer_id: Series[UInt64] = pa.Field(unique=True)
    country_key: Series[UUID]

    Config = _MartConfig


class DimTime(pa.DataFrameModel):
    """``marts.Dim_Time``: one row per invoice timestamp with its calendar attributes."""

    time_key: Series[UUID] = pa.Field(unique=True)
    date: Series[pa.Date]
    year: Series[UInt16] = pa.Field(in_range={"min_value": 2000, "max_value": 2100})
    month: Series[UInt8] = pa.Field(in_range={"min_value": 1, "max_value": 12})
    day_of_week: Series[UInt8] = pa.Field(in_range={"min_value": 1, "max_value": 7})

    Config = _MartConfig


class DimCountry(pa.DataFrameModel):
    """``marts.Dim_Country``: one row per country."""

    country_key: Series[UUID] = pa.Field(unique=True)
    country_name: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})

    Config = _MartConfig


class FactSales(pa.DataFrameModel):
    """``marts.Fact_Sales``: one row per distinct sale line (no returns, no A invoices)."""

    sale_id: Series[UUID] = pa.Field(unique=True)
    invoice_no: Series[str] = pa.Field(str_matches=r"^[0-9]+$")
    product_key: Series[UUID]
    customer_key: Series[UUID]
    time_key: Series[UUID]
    country_key: Series[UUID]
    quantity: Series[Int32] = pa.Field(ge=0)
    unit_price: Series[Money]
    total_amount: Series[Money]

    Config = _MartConfig


class FactSaleReturns(pa.DataFrameModel):
    """``marts.Fact_Sale_Returns``: one row per distinct return line (C invoice or qty < 0)."""

    sale_id: Series[UUID] = pa.Field(unique=True)
    invoice_no: Series[str] = pa.Field(str_matches=r"^C?[0-9]+$")
    product_key: Series[UUID]
    customer_key: Series[UUID]
    time_key: Series[UUID]
    country_key: Series[UUID]
    quantity: Series[Int32]
    unit_price: Series[Money]
    total_amount: Series[Money]

    Config = _MartConfig
