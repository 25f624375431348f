"""The safety location, with something slow once its assets have finished.

A test interrupts a run there, once every asset has finished: with ``$LATE_HOOK_MARKER``
set, the run hook creates that file and then waits (as a metrics push to a gateway that
does not answer would); with ``$LATE_CLOSE_MARKER`` set, closing the warehouse the run
wrote creates that file and then takes a few seconds, after the run has ended.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from io_managers.config import load_config
from io_managers.declared import DeclaredWarehouse
from orchestration.definitions import Definitions
from orchestration.run_hooks import FinishedRun
from tests.safety_location import defs as safety

HOOK_MARKER_ENV = "LATE_HOOK_MARKER"
CLOSE_MARKER_ENV = "LATE_CLOSE_MARKER"
#: How long closing the warehouse takes with ``$LATE_CLOSE_MARKER`` set.
CLOSE_SECONDS = 3.0


def push_metrics(run: FinishedRun) -> None:
    """A run hook that never gets an answer, once ``$LATE_HOOK_MARKER`` says so."""
    if marker := os.environ.get(HOOK_MARKER_ENV):
        Path(marker).touch()
        time.sleep(300)


class SlowToClose(DeclaredWarehouse):
    """The declared warehouse; the one a run wrote to announces its close and takes a while."""

    _wrote = False

    def setup(self, ddl_paths: Sequence[Path]) -> int:
        self._wrote = True
        return super().setup(ddl_paths)

    def close(self) -> None:
        if self._wrote and (marker := os.environ.get(CLOSE_MARKER_ENV)):
            Path(marker).touch()
            time.sleep(CLOSE_SECONDS)
        super().close()


def slow_to_close(location: str | None = None) -> SlowToClose:
    return SlowToClose(load_config(location))


defs = Definitions(
    assets=safety.assets,
    ddl_paths=safety.ddl_paths,
    io_managers={"warehouse": slow_to_close},
    run_hooks=(push_metrics,),
)
