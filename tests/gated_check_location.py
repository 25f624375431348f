"""A code location whose checks stop a publish: the same check on a table each run
replaces, on an insert-only table and on a Python asset's table.

``amounts`` holds five positive amounts. With ``GCL_NEGATE`` set, each SQL asset's
SELECT gives the last two negative (``priced`` replaces its table with them,
``ledger`` adds them under new ids) and ``scored``'s Python body does the same: the
check ``no_negative_amount`` then fails, before publishing, and each table keeps the
rows of the run before, which pass it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions

#: Setting it makes the last two amounts of each asset negative.
NEGATE = "GCL_NEGATE"
#: Its own SETTINGS clause, as fact_sales's reconciling check has: ``pipeline query``
#: runs it only with ``--allow-external``.
NO_NEGATIVE_AMOUNT = AssetCheck(
    "no_negative_amount",
    "SELECT id, amount FROM {table} WHERE amount < 0 ORDER BY id SETTINGS max_threads = 1",
)


def _amounts(context) -> pd.DataFrame:
    return pd.DataFrame({"id": [1, 2, 3, 4, 5], "amount": [10, 20, 30, 40, 50]})


def _sign() -> str:
    return "if(amount > 30, -amount, amount)" if os.environ.get(NEGATE) else "amount"


def _priced(context) -> str:
    return f"SELECT id, {_sign()} AS amount FROM gcl.amounts"


def _ledger(context) -> str:
    shift = 10 if os.environ.get(NEGATE) else 0
    return f"SELECT id + {shift} AS id, {_sign()} AS amount FROM gcl.amounts"


def _scored(context) -> pd.DataFrame:
    frame = _amounts(context)
    if os.environ.get(NEGATE):
        frame.loc[frame["amount"] > 30, "amount"] *= -1
    return frame


defs = Definitions(
    assets=[
        AssetSpec(key="amounts", table="gcl.amounts", body=_amounts, kind="python"),
        AssetSpec(
            key="priced",
            table="gcl.priced",
            body=_priced,
            kind="sql",
            deps=("amounts",),
            checks=(NO_NEGATIVE_AMOUNT,),
        ),
        AssetSpec(
            key="ledger",
            table="gcl.ledger",
            body=_ledger,
            kind="sql",
            deps=("amounts",),
            write_mode="insert_new",
            unique_key=("id",),
            checks=(NO_NEGATIVE_AMOUNT,),
        ),
        AssetSpec(
            key="scored",
            table="gcl.scored",
            body=_scored,
            kind="python",
            checks=(NO_NEGATIVE_AMOUNT,),
        ),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "gated_check_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
