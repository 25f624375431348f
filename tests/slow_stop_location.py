"""The safety location (:mod:`tests.safety_location`) whose warehouse is slow to stop.

Its IO manager's :meth:`stop`, the clean stop of an interrupted run, announces itself by
creating the file named by ``$SLOW_STOP_MARKER`` and then takes a minute before stopping
as the warehouse does, as a publish in flight or a long drop of staging may: a test sends a
second Ctrl-C while the first one's clean stop is under way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from io_managers.config import load_config
from io_managers.declared import DeclaredWarehouse
from orchestration.definitions import Definitions
from tests import safety_location

SLOW_STOP_MARKER_ENV = "SLOW_STOP_MARKER"


class SlowToStop(DeclaredWarehouse):
    """The configured warehouse, with a clean stop that takes a minute."""

    def stop(self, timeout: float) -> list[str]:
        Path(os.environ[SLOW_STOP_MARKER_ENV]).touch()
        time.sleep(60)
        return super().stop(timeout)


def _slow_to_stop(location: str | None = None) -> SlowToStop:
    return SlowToStop(load_config(location))


defs = Definitions(
    assets=list(safety_location.defs.assets),
    ddl_paths=list(safety_location.defs.ddl_paths),
    io_managers={"warehouse": _slow_to_stop},
)
