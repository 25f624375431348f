"""What a Prefect server this project started says in its log."""

from __future__ import annotations

import re


def frozen_start_up_objects(log: str) -> int:
    """How many start-up objects the server says it froze (0 if it says nothing):
    :mod:`orchestration.server_process` prints it once uvicorn has started."""
    said = re.search(r"pipeline: ([\d,]+) start-up objects frozen", log)
    return int(said.group(1).replace(",", "")) if said else 0
