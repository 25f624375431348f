"""Prefect's temporary server, owned by ``pipeline serve``: it ends when the command does.

With no Prefect API (``PIPELINE_PREFECT_SERVER=temporary``), Prefect starts its
temporary server (a uvicorn process) lazily, from whichever of its threads first needs
an API - for ``serve``, its event-loop thread registering the deployment, a few seconds
after "Serving deployment" - and stops it from an exit handler registered once the
process exists. Two ways to stop ``serve`` skipped that and left the server running,
re-parented to PID 1 (measured):

* a Ctrl+C while that thread was forking the server ended the command before the
  handler was registered (the thread is a daemon: nothing waits for it);
* SIGTERM before Prefect's runner installs its own handler (throughout the 5-20 s the
  server takes to start) killed the process outright, with no exit handler at all.

So ``serve`` starts Prefect's own server object (the one Prefect's clients then find
running, so they start no other) itself, in a thread it watches, and stops it however
the command ends, waiting first for a start in progress to have its process.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from orchestration.interrupts import EXIT_CODES


def _terminated(_signum: int, _frame: FrameType | None) -> None:
    """SIGTERM ends the command as an exception does, so the server is stopped on the way."""
    raise SystemExit(EXIT_CODES[signal.SIGTERM])


@contextlib.contextmanager
def temporary_server_owned() -> Iterator[None]:
    """Within the block, Prefect's temporary server is running, if this process has no
    Prefect API configured; it is stopped when the block ends, by an error or a signal too.

    It starts in a thread of its own: the main thread, which a signal interrupts, only
    waits for it, so an interrupt never falls between the server's fork and the moment
    its process is known. SIGTERM raises ``SystemExit(143)`` until Prefect's runner
    replaces this handler with its own graceful stop.
    """
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        yield  # a server of the user's or the local one: not this process's to stop
        return
    server = SubprocessASGIServer()  # Prefect's clients use this one instance
    failure: list[BaseException] = []

    def start() -> None:
        try:
            server.start()
        except BaseException as exc:  # handed to the main thread, raised there
            failure.append(exc)

    starting = threading.Thread(target=start, name="prefect-temporary-server", daemon=True)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        starting.start()
        while starting.is_alive():
            starting.join(0.2)
        if failure:
            raise failure[0]
        yield
    finally:
        # Interrupted while it starts: its process may be a few milliseconds from known.
        while starting.is_alive() and server.server_process is None:
            starting.join(0.01)
        server.stop()
        signal.signal(signal.SIGTERM, previous)
