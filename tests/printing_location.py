"""A code location that prints, as code being debugged does: at import and in an asset.

``pipeline ... --json`` on it must still print only its JSON document on stdout; the
prints go to stderr (tests/test_document_output.py, tests/test_warm_start.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions

#: What the module prints when imported, and what its asset prints when it runs.
AT_IMPORT = "printing at import"
IN_THE_BODY = "printing in the body"

print(AT_IMPORT)


class Orders(pa.DataFrameModel):
    n: Series[pa.typing.UInt32]


class Totals(pa.DataFrameModel):
    orders: Series[pa.typing.UInt64]


def _orders(context) -> pd.DataFrame:
    print(IN_THE_BODY)
    return pd.DataFrame({"n": pd.Series([1, 2, 3], dtype="uint32")})


def _totals(context) -> str:
    return "SELECT count() AS orders FROM printing.orders"


defs = Definitions(
    assets=[
        AssetSpec(
            key="orders", table="printing.orders", body=_orders, kind="python", schema=Orders
        ),
        AssetSpec(
            key="totals",
            table="printing.totals",
            body=_totals,
            kind="sql",
            deps=("orders",),
            schema=Totals,
        ),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "printing_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
