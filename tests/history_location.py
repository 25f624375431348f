"""A code location for the history and staleness tests.

``source`` reads a one-column CSV named by the run parameter ``source`` (fingerprinted by
:func:`~orchestration.fingerprint.file_fingerprint`); ``doubled`` and ``total`` are SQL
assets below it. ``stalls`` announces itself by creating the file named by the parameter
``stall_marker`` and then blocks, so a test can kill the process while it runs; ``total``
fails when ``HIST_TOTAL_FAILS`` is set, ``doubled`` when ``HIST_DOUBLED_FAILS`` is.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions
from orchestration.fingerprint import file_fingerprint


def _source(context) -> pd.DataFrame:
    return pd.read_csv(context.params["source"])


def _doubled(context) -> str:
    column = "no_such_column" if os.environ.get("HIST_DOUBLED_FAILS") else "n"
    return f"SELECT {column} * 2 AS n FROM hist.source"


def _total(context) -> str:
    column = "no_such_column" if os.environ.get("HIST_TOTAL_FAILS") else "n"
    return f"SELECT toInt64(sum({column})) AS total FROM hist.doubled"


def _stalls(context) -> pd.DataFrame:
    marker = context.params.get("stall_marker")
    if marker:
        Path(marker).touch()
        time.sleep(120)
    return pd.DataFrame({"n": [1]})


defs = Definitions(
    assets=[
        AssetSpec(
            key="source",
            table="hist.source",
            body=_source,
            kind="python",
            fingerprint=lambda params: file_fingerprint(params["source"]),
        ),
        AssetSpec(key="doubled", table="hist.doubled", body=_doubled, kind="sql", deps=("source",)),
        AssetSpec(key="total", table="hist.total", body=_total, kind="sql", deps=("doubled",)),
        AssetSpec(key="stalls", table="hist.stalls", body=_stalls, kind="python", deps=("source",)),
    ],
    ddl_paths=[Path(__file__).parent / "fixtures" / "history_location.sql"],
    io_managers={"warehouse": warehouse_io_manager},
)
