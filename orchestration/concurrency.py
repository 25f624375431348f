"""How many assets a run materializes at once when the user does not say.

Threads help while one asset waits on something another can use: the embedded engine
runs the statements of different threads at once (each call has its own connection),
most of an asset's statements are short and single-threaded (query analysis, DDL,
checks, history), and the Python side (Prefect's API calls, validation) shares one GIL.
So the useful count follows the cores only loosely. Measured on 2 cores with
``bench/run_benchmark.py`` (docs/benchmark.md, "Threads"): 1 thread leaves the engine
idle while Prefect talks to its server; from 2 threads on the whole command is flat
within noise, and more threads only add contention; hence ``cores + 1``, within 2..8."""

from __future__ import annotations

import os

#: How a user sets it on the command line (``pipeline materialize --concurrency N``).
CONCURRENCY_OPTION = "--concurrency"


def default_concurrency(cores: int | None = None) -> int:
    """The resolver's default thread count on a machine with ``cores`` CPUs."""
    available = cores or os.cpu_count() or 1
    return max(2, min(8, available + 1))
