"""A code location for the ``pipeline checks`` tests: one asset with a warn and an error check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions


def _readings(context) -> pd.DataFrame:
    return pd.DataFrame({"sensor": ["a", "b"], "value": [3, 40]})


def _unchecked(context) -> pd.DataFrame:
    return pd.DataFrame({"n": [1]})


defs = Definitions(
    assets=[
        AssetSpec(
            key="readings",
            table="chk.readings",
            body=_readings,
            kind="python",
            checks=(
                AssetCheck("no_negative_values", "SELECT * FROM {table} WHERE value < 0", "warn"),
                AssetCheck("values_below_100", "SELECT * FROM {table} WHERE value >= 100"),
            ),
        ),
        AssetSpec(key="unchecked", table="chk.unchecked", body=_unchecked, kind="python"),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "checks_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
