"""A two-asset code location on the embedded warehouse, for the scheduled deployment test.

``numbers`` makes as many rows as the run's ``source`` parameter says (``synthetic:N``),
so a test can see that a deployment parameter reached the assets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions

DDL = Path(__file__).parent / "fixtures" / "serve_location.sql"


def _numbers(context) -> pd.DataFrame:
    source = context.params.get("source") or "synthetic:3"
    kind, _, rows = source.partition(":")
    if kind != "synthetic" or not rows.isdigit():
        raise ValueError(f"asset 'numbers': source must be synthetic:N, got {source!r}")
    return pd.DataFrame({"n": range(int(rows))}, dtype="uint64")


def _numbers_total(context) -> str:
    return "SELECT toUInt64(count()) AS total FROM served.numbers"


defs = Definitions(
    assets=[
        AssetSpec(key="numbers", table="served.numbers", body=_numbers, kind="python"),
        AssetSpec(
            key="numbers_total",
            table="served.numbers_total",
            body=_numbers_total,
            kind="sql",
            deps=("numbers",),
        ),
    ],
    ddl_paths=(DDL,),
    io_managers={"warehouse": warehouse_io_manager},
)
