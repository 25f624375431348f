"""Prefect's polling loops say in one line that they gave up on a lost API connection.

Prefect (3.9) polls its API in a ``critical_service_loop``: the runner's poll for
scheduled runs, and each event-stream observer's polls while its stream is down (in
serve, the watch for cancelled runs). After three failed polls in a row the loop
*prints* - ``print``, to stdout, no log record a logging filter could reach - "Failed the
last 3 attempts", "Examples of recent errors:" and the traceback of each kind of error
it met (~60 lines of httpx and httpcore for a refused connection), then gives up with a
bare ``RuntimeError("Service exceeded error threshold.")``, which the observer logs as an
ERROR with a traceback of its own that names no cause. Measured in serve's log, its
server stopped while a run was in flight: one such printout and one such ERROR.

So the loops of those modules are wrapped: when every error a loop met lost the
connection (:func:`orchestration.unanswered.lost_connection`), its printout is one
warning that names the last of them, and the ``RuntimeError`` it gives up with is raised
*from* that error, so that the line which reports it can name the cause too
(:mod:`orchestration.reconnect_logs`). A printout with any other error in it (a server's
500: a bug) stays as Prefect prints it, tracebacks and all.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from traceback import format_exception
from typing import Any

from orchestration.unanswered import lost_connection

Workload = Callable[[], Coroutine[Any, Any, Any]]
Loop = Callable[..., Coroutine[Any, Any, None]]

#: How Prefect's loop opens its printout, and the line that introduces its tracebacks.
GAVE_UP = "\nFailed the last"
EXAMPLES = "Examples of recent errors:\n"
#: The loop's name in the modules that run it, and its own logger, for the one line.
LOOP = "critical_service_loop"
LOGGER = "prefect.utilities.services.critical_service_loop"
#: Whether a loop is this module's wrapper already (installing twice wraps once).
_WRAPPED = "_one_line_when_connection_lost"


def _traceback(exc: BaseException) -> str:
    """``exc`` as the loop prints it."""
    return "".join(format_exception(None, exc, exc.__traceback__))


class _Printout:
    """A loop's ``printer``. It sees the errors the loop met (``failures``, as the loop
    keeps them: the last ``memory``, forgotten once a printout says them) and says a
    printout of lost connections only in one line; anything else is printed as is."""

    def __init__(self, failures: deque[BaseException]) -> None:
        self._failures = failures
        #: The tracebacks of the printout said in one line, which are not printed.
        self._unsaid: set[str] = set()
        #: What the last printout blamed, for the error the loop gives up with.
        self.blamed: BaseException | None = None

    def __call__(self, text: str = "") -> None:
        if text.startswith(GAVE_UP):
            failures, lost = list(self._failures), [lost_connection(e) for e in self._failures]
            self._failures.clear()
            self.blamed = failures[-1] if failures else None
            self._unsaid = set()
            cause = lost[-1] if lost else None
            if cause is not None and None not in lost:
                self._unsaid = {_traceback(exc) for exc in failures}
                logging.getLogger(LOGGER).warning(
                    "%s (%s: %s)", text.strip(), type(cause).__name__, cause
                )
                return
        elif self._unsaid and (text in ("", EXAMPLES) or text in self._unsaid):
            return
        print(text)


def _one_line_when_connection_lost(loop: Loop) -> Loop:
    """``loop`` (Prefect's ``critical_service_loop``), saying lost connections in one line."""

    @functools.wraps(loop)
    async def quieter(workload: Workload, interval: float, **kwargs: Any) -> None:
        if "printer" in kwargs:  # a printer of the caller's own: what it says is its choice
            return await loop(workload=workload, interval=interval, **kwargs)
        failures: deque[BaseException] = deque(maxlen=kwargs.get("memory", 10))
        raised: list[BaseException] = []  # the workload's last error, to tell it from the loop's

        @functools.wraps(workload)  # its name is in the loop's debug log
        async def recorded() -> Any:
            try:
                return await workload()
            except Exception as exc:
                failures.append(exc)
                raised[:] = [exc]
                raise

        printout = _Printout(failures)
        try:
            await loop(workload=recorded, interval=interval, printer=printout, **kwargs)
        except RuntimeError as exc:  # the loop gave up, or the workload's own error
            if printout.blamed is None or exc in raised or exc.__cause__ is not None:
                raise
            raise exc from printout.blamed

    setattr(quieter, _WRAPPED, True)
    return quieter


def one_line_give_ups(module_name: str) -> None:
    """Make the ``critical_service_loop`` that the module ``module_name`` of Prefect's runs
    (it imported it by name) say a lost API connection in one line (in this process)."""
    module = importlib.import_module(module_name)
    loop = getattr(module, LOOP)
    if not getattr(loop, _WRAPPED, False):
        setattr(module, LOOP, _one_line_when_connection_lost(loop))
