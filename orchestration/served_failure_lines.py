"""A served run's failure is told once in serve's log, by the run, not again by Prefect.

Serve's log shows Prefect's lines for the runs it serves. An asset that fails for a
foreseen reason (a bad source row, an unreachable file) is one line from the run
(``raw_online_retails failed: bad.csv, row 2, ...``); Prefect's task engine then logged
"Task run failed with exception" with ~40 lines of traceback, and its flow engine, for
the Failed state the flow returns, "Engine execution exited with unexpected exception"
with ~35 more, after the flow's own "Finished in state Failed(...)".
"""

from __future__ import annotations

import logging

from orchestration.errors import ExpectedError

#: Where Prefect's engines log a task's and a flow's failure.
ENGINE_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


def one_telling_of_failures() -> None:
    """Drop Prefect's second telling of a foreseen failure in this process's log."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatedFailureFilter) for f in logger.filters):
            logger.addFilter(RepeatedFailureFilter())


class RepeatedFailureFilter(logging.Filter):
    """Drops a record of a failure already told: a foreseen error's
    (:class:`~orchestration.errors.ExpectedError`, whose line the run logged) and the
    ``FailedRun`` of the Failed state the flow returned. An unforeseen error keeps its
    traceback (a bug must show where it broke); serve's ``--debug`` installs no filter."""

    def filter(self, record: logging.LogRecord) -> bool:
        from prefect.exceptions import FailedRun

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ExpectedError | FailedRun)
