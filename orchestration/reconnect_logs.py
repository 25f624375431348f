"""Prefect's run observers say in one line, not a traceback, that their API connection dropped.

``pipeline serve`` and each run it starts watch the Prefect API's event stream (for
cancellations, for suspensions). When the server goes away, or restarts, each observer
logs a warning that it falls back to polling until the stream reconnects, with the
traceback of the closed websocket: ~20 lines of Prefect and websockets internals in the
serve log, for a connection loss the line itself already names. The warning stays, with
the reason on the same line; a traceback of anything but a lost connection stays too.
"""

from __future__ import annotations

import logging

#: The loggers of Prefect's event-stream observers (``prefect._internal.observers``).
OBSERVER_LOGGERS = ("prefect.FlowRunCancellingObserver", "prefect.FlowRunSuspendingObserver")


class _ReasonInsteadOfTraceback(logging.Filter):
    """Turns a record's lost-connection traceback into its reason, in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from websockets.exceptions import ConnectionClosed

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionClosed | OSError):
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def one_line_reconnect_warnings() -> None:
    """Make Prefect's observers log a lost event stream in one line (in this process)."""
    for name in OBSERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ReasonInsteadOfTraceback) for f in logger.filters):
            logger.addFilter(_ReasonInsteadOfTraceback())
