"""A code location whose columns' chains run through several assets, for asset pages.

``raw`` loads two columns from outside the graph; ``staged`` (SQL) multiplies them;
``notes`` is a Python asset that reads ``raw`` and declares no column lineage; ``mart``
(SQL) reads ``staged`` and ``notes``. So ``mart.total_amount`` ends in two raw columns two
assets up, and ``mart.note`` in a chain no parser can follow past ``notes``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions


def _raw(context) -> pd.DataFrame:
    return pd.DataFrame({"Quantity": [2, 3], "UnitPrice": [1.5, 4.0]})


def _staged(context) -> str:
    return "SELECT Quantity, UnitPrice, Quantity * UnitPrice AS Total FROM chain.raw"


def _notes(context) -> pd.DataFrame:
    return pd.DataFrame({"note": ["checked by hand"]})


def _mart(context) -> str:
    return (
        "SELECT s.Total AS total_amount, n.note AS note\n"
        "FROM chain.staged AS s\n"
        "CROSS JOIN chain.notes AS n"
    )


defs = Definitions(
    assets=[
        AssetSpec(key="raw", table="chain.raw", body=_raw, kind="python"),
        AssetSpec(key="staged", table="chain.staged", body=_staged, kind="sql", deps=("raw",)),
        AssetSpec(key="notes", table="chain.notes", body=_notes, kind="python", deps=("raw",)),
        AssetSpec(key="mart", table="chain.mart", body=_mart, kind="sql", deps=("staged", "notes")),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "chain_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
