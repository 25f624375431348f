"""A run's log line that the terminal's report says too reaches Prefect, not the terminal.

A failed flow run's log ends with its ``Next:`` line, for a reader of the run's page who
never saw the terminal that started it. ``pipeline materialize --verbose`` shows Prefect's
log lines on the terminal as well, so the line came twice there: once as the flow run's
log line, once at the end of the report, a few lines below. The run logs such a line with
:func:`report_says_it` as its ``extra``; the command that prints the report keeps it off
every handler but Prefect's API one (:func:`leave_to_the_report`). A served run has no
report: its log line is the only one, on serve's terminal too.
"""

from __future__ import annotations

import logging

#: The attribute of a log record that the terminal's report says too.
_REPORT_SAYS_IT = "pipeline_report_says_it"
#: The logger Prefect's run logger writes a flow run's lines to.
_FLOW_RUN_LOGGER = "prefect.flow_runs"


def report_says_it() -> dict[str, bool]:
    """The ``extra`` of a run's log line that the terminal's report says too."""
    return {_REPORT_SAYS_IT: True}


class ReportSaysItFilter(logging.Filter):
    """Drops a record marked by :func:`report_says_it`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, _REPORT_SAYS_IT, False)


def leave_to_the_report() -> None:
    """Keep the flow run's lines that the report says too off every handler they reach
    but Prefect's API ones (the console's, a user's file): the run's page keeps them.

    A filter on the handlers, not the logger: a logger's filter would drop the record
    before the API handler saw it. Called once Prefect configured its logging."""
    from prefect.logging.handlers import APILogHandler

    logger: logging.Logger | None = logging.getLogger(_FLOW_RUN_LOGGER)
    while logger is not None:
        for handler in logger.handlers:
            if isinstance(handler, APILogHandler):
                continue
            if not any(isinstance(f, ReportSaysItFilter) for f in handler.filters):
                handler.addFilter(ReportSaysItFilter())
        logger = logger.parent if logger.propagate else None
