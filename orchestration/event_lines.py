"""An event Prefect could not send to a lost API is one line, not the event printed whole.

A run's process (and serve's) sends Prefect events - its asset pages'
``prefect.artifact.created``, its task runs' states - over a websocket, from Prefect's
events worker. When the API is gone the client tries to reconnect for ~7 s, then logs a
warning that names the cause ("Unable to connect to 'ws://…/api/events/in' … event data
… may be lost. Reason: [Errno 111] Connect call failed …"), and the worker logs the same
failure again as an ERROR that prints the whole event ("Service 'EventsWorker' failed to
process item Event(occurred=…, resource=…, related=[…], payload=…)", ~1,000 characters)
and no cause. Measured in serve's log, its server stopped as a run sent an event (the run
busy in an asset through the outage: a run whose own requests fail ends at once, before
the worker's ~7 s are up, :mod:`orchestration.served_outage`): that pair for each event.
``PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL`` (:func:`orchestration.prefect_setup.prefect_defaults`)
would hide the ERROR, with every other line of Prefect's internals, but serve keeps
Prefect's logs (they are its runs' log), and its runs inherit its settings.

So the worker's ERROR for an error the client's warning already said is not logged again;
for a lost connection it did not say (the worker's own HTTP requests, for the run's
related resources), it is one line naming the event's name and the cause. Any other
failure stays as Prefect logs it, event and all (a bug must show what it broke on).

Prefect logs both lines without the exception (its traceback only in its debug mode), but
while handling it: a filter, which runs as the record is logged, reads it from
:func:`sys.exc_info`.
"""

from __future__ import annotations

import logging
import sys

from orchestration.unanswered import lost_connection

#: The logger of the events client's warning, and of the worker's ERROR (Prefect's
#: services log through ``prefect._internal``'s own handler, not the console's).
CLIENT_LOGGER = "prefect.events.clients"
WORKER_LOGGER = "prefect._internal.concurrency"
#: How the client's warning starts, and the worker's ERROR for an item it failed on.
UNABLE = "Unable to connect to %r."
FAILED_ITEM = "Service %r failed to process item %r"
WORKER = "EventsWorker"
#: The mark the client's warning leaves on the error it reported (exceptions take no
#: weak references; a mark goes when the error does).
_SAID = "_orchestration_said_by_events_client"


class _MarkReported(logging.Filter):
    """Marks the error the events client's warning reported (the record passes as is)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = sys.exc_info()[1]
        if exc is not None and isinstance(record.msg, str) and record.msg.startswith(UNABLE):
            setattr(exc, _SAID, True)
        return True


class _OneLineEventFailure(logging.Filter):
    """The worker's failure on an event: dropped when the client's warning said it, one
    line with the cause for another lost connection, else as Prefect logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg != FAILED_ITEM or not isinstance(args, tuple) or args[:1] != (WORKER,):
            return True
        exc = sys.exc_info()[1]
        if exc is None:
            return True
        if getattr(exc, _SAID, False):
            return False  # said a line ago, with its cause, by the client's warning
        lost = lost_connection(exc)
        if lost is not None:
            name = getattr(args[1], "event", None) if len(args) > 1 else None
            record.msg = "Service %r failed to process event %r (%s: %s)"
            record.args = (WORKER, name, type(lost).__name__, lost)
        return True


def _add_once(logger_name: str, kind: type[logging.Filter]) -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, kind) for f in logger.filters):
        logger.addFilter(kind())


def one_line_event_failures() -> None:
    """Make Prefect's events worker say an event it could not send to a lost API in one
    line (in this process)."""
    _add_once(CLIENT_LOGGER, _MarkReported)
    _add_once(WORKER_LOGGER, _OneLineEventFailure)
