"""``prefect server start``, with the server's long-lived heap kept out of the collector.

The Prefect server is one Python process: importing it, building its app and starting its
services leave ~650,000 container objects (modules, classes, routes, schemas, the
database layer) that live as long as the process. CPython's garbage collector walks all
of them in each full collection, with the GIL held, so every request waits. Measured on a
running server with gc callbacks: 6-7 full collections while it starts (0.65-0.87 s), then
one every 4-5 pipeline runs of 0.22-0.30 s, landing in the middle of a run whose API
calls all stall behind it.

So the servers this project starts (:mod:`orchestration.local_server`,
:mod:`orchestration.prefect_server`) run ``python -m orchestration.server_process`` with
``prefect``'s own arguments, and Prefect's command line runs unchanged, except that

* the server's modules are imported with the collector off and frozen
  (:func:`orchestration.preload.import_libraries`), and
* once uvicorn has started (app built, services running), one collection clears the
  start-up garbage and what is left is frozen too.

Collections afterwards walk only what the server allocates while serving: a full one
took 0.03-0.04 s (one per run or two), none at start-up. Frozen objects are never freed,
which is why only start-up objects are frozen: they live as long as the process anyway.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from orchestration.preload import import_libraries

MODULE = "orchestration.server_process"
#: Prefect's command line and everything ``prefect server start`` serves with.
SERVER_MODULES = ("prefect.cli", "prefect.server.api.server", "uvicorn")


def server_command(host: str, port: int) -> list[str]:
    """The command that starts a Prefect server (API and UI) on ``host:port`` this way."""
    return [sys.executable, "-m", MODULE, "server", "start", "--host", host, "--port", str(port)]


def main() -> None:
    """``prefect`` with the arguments given (``server start ...``), its start-up frozen."""
    import_libraries(SERVER_MODULES, freeze=True)
    _freeze_once_started()
    from prefect.cli import app

    app()


def _freeze_once_started() -> None:
    """Make uvicorn's start-up end with a collection and a freeze (and say so on stderr,
    which the server's log keeps).

    Prefect's command builds the app and calls ``uvicorn.run`` itself; ``Server.startup``
    is the one point after the app and its services are up and before the first request
    is served, so it is wrapped (the server's tests read the line it prints).
    """
    import uvicorn

    started = uvicorn.Server.startup

    async def startup(self: uvicorn.Server, *args: Any, **kwargs: Any) -> None:
        await started(self, *args, **kwargs)
        gc.collect()
        gc.freeze()
        print(
            f"pipeline: {gc.get_freeze_count():,} start-up objects frozen out of the garbage "
            "collector",
            file=sys.stderr,
            flush=True,
        )

    uvicorn.Server.startup = startup  # type: ignore[method-assign]


if __name__ == "__main__":
    main()
