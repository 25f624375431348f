"""Prefect says in one line, not a traceback, that its API connection dropped.

``pipeline serve`` and each run it starts watch the Prefect API's event stream (for
cancellations, for suspensions). When the server goes away, or restarts, each observer
logs a warning that it falls back to polling until the stream reconnects, with the
traceback of the closed websocket: ~20 lines of Prefect and websockets internals in the
serve log, for a connection loss the line itself already names. If its polls fail too
(a run in flight through an outage), the loop that polls prints ~60 lines more and the
observer logs an ERROR with a traceback as it gives up
(:mod:`orchestration.service_loop_lines`). Serve's runner, cancelling a run as its API
goes, logs each step it could not take with a traceback too: reading the flow's
on-cancellation hooks from the API, then setting the run's final state, checking it,
reporting the run crashed (measured: four tracebacks of ~60 lines of httpx each). Each
line stays, with the reason on it; a traceback of anything but a lost connection stays
too (a bug must show where it broke).
An event Prefect could not send meanwhile is one line too, not the event printed whole
(:mod:`orchestration.event_lines`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from orchestration.event_lines import one_line_event_failures
from orchestration.service_loop_lines import one_line_give_ups
from orchestration.unanswered import lost_client_connection, lost_connection

#: The loggers of Prefect's event-stream observers (``prefect._internal.observers``).
OBSERVER_LOGGERS = ("prefect.FlowRunCancellingObserver", "prefect.FlowRunSuspendingObserver")
#: The modules whose polling loops give up on a lost API: the observers' polls while
#: their stream is down, and (in serve only: a run's process has no runner) the runner's
#: poll for scheduled runs.
OBSERVER_LOOPS = "prefect._internal._observation_delivery"
RUNNER_LOOPS = "prefect.runner._scheduled_run_poller"
#: The loggers of Prefect's runner (3.9, ``prefect.runner``'s modules) that log an error
#: with its traceback: its own, its helpers' (cancelling a run, proposing its states,
#: starting and signalling its process), and the flow-run logger with which it says that
#: it could not read a run's flow for its on-cancellation or on-crashed hooks, and that a
#: hook failed (the hooks run in serve's process).
RUNNER_LOGGERS = (
    "prefect.runner",
    "prefect.runner.cancellation_manager",
    "prefect.runner.state_proposer",
    "prefect.runner.process_manager",
    "prefect.runner.flow_run_executor",
    "prefect.runner.event_emitter",
    "prefect.runner.control_channel",
    "prefect.flow_runs",
)


class _ReasonInsteadOfTraceback(logging.Filter):
    """Turns a record's lost-connection traceback into its reason, in the message.

    ``lost`` tells a lost connection: :func:`~orchestration.unanswered.lost_connection`
    for loggers of code that only talks to the API, where any ``OSError`` is the
    connection's; for the runner's, which also signals processes and runs hooks, the
    narrower :func:`~orchestration.unanswered.lost_client_connection`.
    """

    def __init__(self, lost: Callable[[BaseException], BaseException | None]) -> None:
        super().__init__()
        self._lost = lost

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        lost = self._lost(exc) if exc is not None else None
        if lost is not None:
            record.msg = f"{record.getMessage()} ({type(lost).__name__}: {lost})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _reason_instead_of_traceback(
    names: tuple[str, ...], lost: Callable[[BaseException], BaseException | None]
) -> None:
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ReasonInsteadOfTraceback) for f in logger.filters):
            logger.addFilter(_ReasonInsteadOfTraceback(lost))


def one_line_reconnect_warnings(*, runner: bool = False) -> None:
    """Make Prefect's observers, its events worker, and with ``runner`` the runner (its
    poll for scheduled runs, its steps around a run), say a lost API connection in one
    line each (in this process)."""
    _reason_instead_of_traceback(OBSERVER_LOGGERS, lost_connection)
    one_line_give_ups(OBSERVER_LOOPS)
    one_line_event_failures()
    if runner:
        one_line_give_ups(RUNNER_LOOPS)
        _reason_instead_of_traceback(RUNNER_LOGGERS, lost_client_connection)
