"""Schemas of the data-quality tables."""

from __future__ import annotations

import pandera.pandas as pa
from pandera.api.pandas.model_config import BaseConfig
from pandera.typing import Series, UInt64

from schemas.marts import FactSales


class _QualityConfig(BaseConfig):
    """Every model of these tables: its columns, exactly and in the DDL\'s order."""

    strict = True
    ordered = True


class AnomalyCustomerInvoices(FactSales):
    """``quality.anomaly_customer_invoices``: sale lines whose customer is unknown.

    A subset of ``marts.Fact_Sales`` rows, so it shares that table's columns and checks.
    """


class AnomalyInvoice(FactSales):
    """``quality.anomaly_invoice``: sale lines with unit_price <= 0 or quantity > 1000.

    A subset of ``marts.Fact_Sales`` rows, so it shares that table's columns and checks.
    """


class DataQuality(pa.DataFrameModel):
    """``quality.data_quality``: one row per check date, earlier dates kept as history."""

    check_date: Series[pa.Date] = pa.Field(unique=True)
    missing_customer_id_ratio: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 1})
    anomaly_unit_price_count: Series[UInt64]
    anomaly_quantity_count: Series[UInt64]
    sale_line_count: Series[UInt64]
    return_line_count: Series[UInt64]
    adjustment_line_count: Series[UInt64]
    missing_customer_line_count: Series[UInt64]
    latest_load_row_count: Series[UInt64]
    latest_load_duplicate_row_count: Series[UInt64]

    Config = _QualityConfig


class SalesSummary(pa.DataFrameModel):
    """``quality.sales_summary``: per sales date, the spread and volume of sale amounts."""

    sales_date: Series[pa.Date] = pa.Field(unique=True)
    min_total_amount: Series[float]
    max_total_amount: Series[float]
    median_total_amount: Series[float]
    avg_total_amount: Series[float]
    volume: Series[float]

    Config = _QualityConfig
