"""What an asset body sees while it runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.io_manager import IOManager


@dataclass(frozen=True)
class AssetContext:
    """Run-wide facts handed to every asset body.

    ``load_datetime`` is fixed once per run so that every row a run writes (all vault
    rows in particular) carries the same ``LOAD_DATETIME``. ``params`` are the run's
    parameters (for example ``source`` for the ingest asset).
    """

    spec: AssetSpec
    io_manager: IOManager
    load_datetime: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("pipeline.asset"))
