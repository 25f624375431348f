"""Prefect says in one line, not a traceback, that its API connection dropped.

``pipeline serve`` and each run it starts watch the Prefect API's event stream (for
cancellations, for suspensions). When the server goes away, or restarts, each observer
logs a warning that it falls back to polling until the stream reconnects, with the
traceback of the closed websocket: ~20 lines of Prefect and websockets internals in the
serve log, for a connection loss the line itself already names. If its polls fail too
(a run in flight through an outage), the loop that polls prints ~60 lines more and the
observer logs an ERROR with a traceback as it gives up
(:mod:`orchestration.service_loop_lines`). Each line stays, with the reason on it; a
traceback of anything but a lost connection stays too (a bug must show where it broke).
An event Prefect could not send meanwhile is one line too, not the event printed whole
(:mod:`orchestration.event_lines`).
"""

from __future__ import annotations

import logging

from orchestration.event_lines import one_line_event_failures
from orchestration.service_loop_lines import one_line_give_ups
from orchestration.unanswered import lost_connection

#: The loggers of Prefect's event-stream observers (``prefect._internal.observers``).
OBSERVER_LOGGERS = ("prefect.FlowRunCancellingObserver", "prefect.FlowRunSuspendingObserver")
#: The modules whose polling loops give up on a lost API: the observers' polls while
#: their stream is down, and (in serve only: a run's process has no runner) the runner's
#: poll for scheduled runs.
OBSERVER_LOOPS = "prefect._internal._observation_delivery"
RUNNER_LOOPS = "prefect.runner._scheduled_run_poller"


class _ReasonInsteadOfTraceback(logging.Filter):
    """Turns a record's lost-connection traceback into its reason, in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        lost = lost_connection(exc) if exc is not None else None
        if lost is not None:
            record.msg = f"{record.getMessage()} ({type(lost).__name__}: {lost})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def one_line_reconnect_warnings(*, runner: bool = False) -> None:
    """Make Prefect's observers, its events worker, and with ``runner`` the runner's poll
    for scheduled runs, say a lost API connection in one line each (in this process)."""
    for name in OBSERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ReasonInsteadOfTraceback) for f in logger.filters):
            logger.addFilter(_ReasonInsteadOfTraceback())
    one_line_give_ups(OBSERVER_LOOPS)
    one_line_event_failures()
    if runner:
        one_line_give_ups(RUNNER_LOOPS)
