"""A three-asset code location whose run loses its Prefect server half way, for
tests/test_prefect_api_lost.py.

``stopper`` stops the local background Prefect server (the one of ``$PREFECT_HOME``) from
inside the run, as ``pipeline server stop`` in another terminal would, or the server a
test started itself (``$STOP_SERVER_PID``, its process group), and writes the instant it
was gone to ``$STOPPED_AT_FILE``: a deterministic point in the run, not a sleep.
``before_stop`` runs before it, ``after_stop`` after it, so the run has a page written
before the server went away and assets that finish once it is gone.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd

from io_managers import warehouse_io_manager
from orchestration import local_server
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions
from orchestration.prefect_server import healthy

DDL = Path(__file__).parent / "fixtures" / "server_death_location.sql"
STOPPED_AT_ENV = "STOPPED_AT_FILE"
STOP_PID_ENV = "STOP_SERVER_PID"
#: How long a server stopped by its process group may take to stop answering.
STOP_SECONDS = 30.0


def _before_stop(context) -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2, 3]}, dtype="uint64")


def _stop_the_test_server(pid: int) -> None:
    """SIGTERM the server's process group; it is gone once its API refuses connections."""
    from prefect.settings import get_current_settings

    os.killpg(pid, signal.SIGTERM)
    api_url = str(get_current_settings().api.url)
    deadline = time.monotonic() + STOP_SECONDS
    while healthy(api_url, timeout=0.5):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Prefect server at {api_url} still answers")
        time.sleep(0.05)


def _stopper(context) -> pd.DataFrame:
    if pid := os.environ.get(STOP_PID_ENV):
        _stop_the_test_server(int(pid))
    elif local_server.stop() is None:
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
