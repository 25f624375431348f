"""A three-asset code location whose run loses its Prefect server half way, for
tests/test_prefect_api_lost.py.

``stopper`` stops the local background Prefect server (the one of ``$PREFECT_HOME``) from
inside the run, as ``pipeline server stop`` in another terminal would, and writes the
instant it was gone to ``$STOPPED_AT_FILE``: a deterministic point in the run, not a sleep.
``before_stop`` runs before it, ``after_stop`` after it, so the run has a page written
before the server went away and assets that finish once it is gone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration import local_server
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions

DDL = Path(__file__).parent / "fixtures" / "server_death_location.sql"
STOPPED_AT_ENV = "STOPPED_AT_FILE"


def _before_stop(context) -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2, 3]}, dtype="uint64")


def _stopper(context) -> pd.DataFrame:
    stopped = local_server.stop()
    if stopped is None:
        raise RuntimeError("no local Prefect server was running to stop")
    Path(os.environ[STOPPED_AT_ENV]).write_text(repr(time.time()))
    return pd.DataFrame({"n": [1]}, dtype="uint64")


def _after_stop(context) -> str:
    return "SELECT n FROM gone.stopper"


defs = Definitions(
    assets=[
        AssetSpec(key="before_stop", table="gone.before_stop", body=_before_stop, kind="python"),
        AssetSpec(
            key="stopper",
            table="gone.stopper",
            body=_stopper,
            kind="python",
            deps=("before_stop",),
        ),
        AssetSpec(key="after_stop", table="gone.after_stop", body=_after_stop, kind="sql"),
    ],
    ddl_paths=(DDL,),
    io_managers={"warehouse": warehouse_io_manager},
)
