"""A small code location for CLI tests: a diamond of Python assets in two groups."""

from __future__ import annotations

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import asset

#: Where the assets live (module attributes: this location has no ``defs``).
IO_MANAGERS = {"warehouse": warehouse_io_manager}


def _rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"n": range(n)})


@asset(table="src.orders", group="raw", tags={"layer": "raw"})
def orders(context):
    """Orders as received."""
    return _rows(4)


@asset(table="src.customers", group="raw", tags={"layer": "raw"})
def customers(context):
    """Customers as received."""
    return _rows(2)


@asset(
    table="mart.order_facts", deps=["orders", "customers"], group="marts", tags={"layer": "marts"}
)
def order_facts(context):
    """Orders joined to customers."""
    return _rows(4)


@asset(table="mart.daily_revenue", deps=["order_facts"], group="marts", tags={"layer": "marts"})
def daily_revenue(context):
    """Revenue per day."""
    return _rows(1)
