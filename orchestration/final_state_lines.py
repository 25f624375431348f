"""A failed run's Logs tab tells each failure once, at ERROR: a task run's final state is INFO.

Prefect's task engine logs a task run's last line, "Finished in state ...", at ERROR for
every state but Completed. After one asset failed its blocking check and 6 descendants
were skipped, the UI's Error filter showed 13 lines: the 6 skipped assets' lines (they did
not fail), and for the failure, besides its check's line and the run's own ``fact_sales
failed: ...``, "Finished in state Failed(...)" and "Task run failed with state:
Failed(...)", which the engine logs for a task that returns a Failed state, with
``exc_info`` outside any ``except``: a meaningless ``NoneType: None`` under it.

Every final state but Completed is told at ERROR in a line of its own already: a failure
by the run's ``<asset> failed: ...`` (:mod:`orchestration.run_review`, for every failed
asset), an unforeseen error by Prefect's "Task run failed with exception" and its
traceback too, a crash by its "Crash detected!", a timeout by its "Task run exceeded
timeout"; a skip is no failure but the consequence of one (the run's flow-run line counts
them, ``1 failed, 6 skipped``). So a filter on Prefect's task-run logger (which the
console and the API handler both read after it) logs the final state at INFO, as Prefect
logs a flow run's, and drops the returned state's line, which says what "Finished in
state Failed(...)" says. A task run's line for a state that is not final (Prefect's
``NotReady``, an unawaited ``Pending``) stays an ERROR: nothing else says it.
"""

from __future__ import annotations

import logging

from orchestration.skipping import SKIPPED_STATE_NAME

#: The logger of Prefect's task engine, and of the lines a task run logs itself.
TASK_RUN_LOGGER = "prefect.task_runs"
#: How the engine's line for a task run's last state begins.
FINISHED = "Finished in state "
#: How its line for a task that returned a Failed state (``handle_retry``) begins.
RETURNED_FAILED = "Task run failed with state: "
#: The final states whose cause or reason is told at ERROR elsewhere, or is no error.
TOLD_STATES = frozenset({"Failed", "Crashed", "Cancelled", "TimedOut", SKIPPED_STATE_NAME})


class FinalStateAtInfo(logging.Filter):
    """Logs a task run's told final state at INFO and drops the engine's repetition of a
    returned Failed state; passes any other record as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if record.levelno != logging.ERROR or not isinstance(message, str):
            return True
        if message.startswith(RETURNED_FAILED):
            return False
        if told_final_state(message):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


def told_final_state(message: str) -> bool:
    """Whether ``message`` is the engine's line for a final state in :data:`TOLD_STATES`
    (``Finished in state Skipped('upstream failed: x', type=CANCELLED)``)."""
    if not message.startswith(FINISHED):
        return False
    name = message[len(FINISHED) :].partition("(")[0]
    return name in TOLD_STATES


def final_states_at_info() -> None:
    """Log task runs' final states at INFO in this process (once, however often asked)."""
    logger = logging.getLogger(TASK_RUN_LOGGER)
    if not any(isinstance(f, FinalStateAtInfo) for f in logger.filters):
        logger.addFilter(FinalStateAtInfo())
