"""A code location whose fact's check reads a dimension it does not read: the retail
``fact_sales`` and ``dim_customer`` in five assets.

``dim_customer`` keeps the unknown customer (key 0) that one of the orders has, unless
``CDL_DROP_UNKNOWN`` is set: its SQL then drops it (a code change, as its code version
says), and ``fact_orders``' check ``customer_key_resolves``, which reads
``cdl.dim_customer``, finds that order. ``fact_orders`` declares the dimension as a dep
its SQL does not read, so it runs after it (an ordering edge); ``order_count`` reads the
facts, and is skipped when they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions

#: Setting it changes dim_customer's SQL: the unknown customer's row is dropped.
DROP_UNKNOWN = "CDL_DROP_UNKNOWN"
CUSTOMER_KEY_RESOLVES = AssetCheck(
    "customer_key_resolves",
    "SELECT order_id, customer_key FROM {table} "
    "WHERE customer_key NOT IN (SELECT customer_key FROM cdl.dim_customer)",
)


def _customers(context) -> pd.DataFrame:
    return pd.DataFrame({"customer_key": [0, 1, 2]})


def _orders(context) -> pd.DataFrame:
    return pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_key": [1, 2, 0, 1]})


def _dim_customer(context) -> str:
    known_only = " WHERE customer_key != 0" if os.environ.get(DROP_UNKNOWN) else ""
    return f"SELECT customer_key FROM cdl.customers{known_only}"


def _fact_orders(context) -> str:
    return "SELECT order_id, customer_key FROM cdl.orders"


def _order_count(context) -> str:
    return "SELECT toUInt64(count()) AS orders FROM cdl.fact_orders"


defs = Definitions(
    assets=[
        AssetSpec(key="customers", table="cdl.customers", body=_customers, kind="python"),
        AssetSpec(key="orders", table="cdl.orders", body=_orders, kind="python"),
        AssetSpec(
            key="dim_customer",
            table="cdl.dim_customer",
            body=_dim_customer,
            kind="sql",
            deps=("customers",),
        ),
        AssetSpec(
            key="fact_orders",
            table="cdl.fact_orders",
            body=_fact_orders,
            kind="sql",
            deps=("orders", "dim_customer"),
            checks=(CUSTOMER_KEY_RESOLVES,),
        ),
        AssetSpec(
            key="order_count",
            table="cdl.order_count",
            body=_order_count,
            kind="sql",
            deps=("fact_orders",),
        ),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "checked_dimension_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
