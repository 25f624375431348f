"""A code location for the ``pipeline checks`` tests.

``readings`` has a warn and an error check (its values reach 250 when
``CHK_READINGS_TOO_HIGH`` is set, so its error check fails; with ``CHK_CHECK_TYPO`` set
its error check's SQL does not compile); ``summary`` reads it and has a check of its own;
``unchecked`` has none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions


def _readings(context) -> pd.DataFrame:
    high = 250 if os.environ.get("CHK_READINGS_TOO_HIGH") else 40
    return pd.DataFrame({"sensor": ["a", "b"], "value": [3, high]})


#: The error check's column, misspelled when ``CHK_CHECK_TYPO`` is set.
_VALUE = "valeu" if os.environ.get("CHK_CHECK_TYPO") else "value"


def _summary(context) -> str:
    return "SELECT toUInt64(count()) AS sensors FROM chk.readings"


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
                AssetCheck("values_below_100", f"SELECT * FROM {{table}} WHERE {_VALUE} >= 100"),
            ),
        ),
        AssetSpec(
            key="summary",
            table="chk.summary",
            body=_summary,
            kind="sql",
            deps=("readings",),
            checks=(AssetCheck("has_sensors", "SELECT * FROM {table} WHERE sensors = 0"),),
        ),
        AssetSpec(key="unchecked", table="chk.unchecked", body=_unchecked, kind="python"),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "checks_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)


def run_pipeline(
    command: str, warehouse_dir: Path, *args: str, columns: int = 160
) -> subprocess.CompletedProcess[str]:
    """``pipeline COMMAND ARGS`` on this code location and the warehouse in
    ``warehouse_dir`` (never ``WAREHOUSE_URL``'s), as a terminal ``columns`` wide."""
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "orchestration", command, "--definitions", __name__,
         "--warehouse", f"chdb://{warehouse_dir}", *args],
        cwd=Path(__file__).resolve().parents[1],
        env={**env, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
