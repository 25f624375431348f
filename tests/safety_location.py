"""A code location for the safety tests: an ingest, an insert-only hub, a replaced report.

``ingest`` reads a CSV (columns ``n,q``) named by the run parameter ``source``; ``hub``
is insert-only on ``n`` (like a Data Vault hub) and ``report`` is replaced on every run,
both SQL assets reading ``ingest``. ``slow`` announces itself by creating the file named
by ``$SAFE_SLOW_MARKER`` and then sleeps, so a test can interrupt a run while it is busy.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions

SLOW_MARKER_ENV = "SAFE_SLOW_MARKER"


class Ingest(pa.DataFrameModel):
    n: Series[pa.typing.UInt32] = pa.Field(unique=True)
    q: Series[pa.typing.Int32]


def _ingest(context) -> pd.DataFrame:
    return pd.read_csv(context.params["source"]).astype({"n": "uint32", "q": "int32"})


def _hub(context) -> str:
    return "SELECT n, q FROM safe.ingest"


def _report(context) -> str:
    return "SELECT n, q FROM safe.ingest"


def _slow(context) -> pd.DataFrame:
    marker = os.environ.get(SLOW_MARKER_ENV)
    if marker:
        Path(marker).touch()
        time.sleep(300)
    return pd.DataFrame({"n": pd.Series([1], dtype="uint32")})


defs = Definitions(
    assets=[
        AssetSpec(key="ingest", table="safe.ingest", body=_ingest, kind="python", schema=Ingest),
        AssetSpec(
            key="hub",
            table="safe.hub",
            body=_hub,
            kind="sql",
            deps=("ingest",),
            write_mode="insert_new",
            unique_key=("n",),
        ),
        AssetSpec(key="report", table="safe.report", body=_report, kind="sql", deps=("ingest",)),
        AssetSpec(key="slow", table="safe.slow", body=_slow, kind="python", deps=("ingest",)),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "safety_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
