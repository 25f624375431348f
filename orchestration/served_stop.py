"""A served run that is stopped stops as an interrupted ``pipeline materialize`` does.

A run started by a deployment runs in a process of Prefect's own; its runner stops it with
SIGTERM (``pipeline serve`` stopped, a Cancel in the UI), which Prefect's engine raises in
the flow body as ``TerminationSignal`` (on Ctrl+C the terminal's SIGINT comes first, as
``KeyboardInterrupt``). Left to Prefect (measured, tests/test_serve_stop.py),
the exception unwound the body while the assets in flight went on in their threads: the
warehouse was closed under them, each failed with tracebacks into the serve log ("embedded
warehouse ... is closed", "cannot schedule new futures after shutdown"), their failures
could not be recorded, and an asset busy in Python (a sleep, a download) kept the process
alive until the runner killed it 30 s later.

So the body's stop is :func:`orchestration.interrupts.stop_run`'s, the one the CLI uses: no
publish starts any more, one in flight finishes, staging is dropped, the assets published
meanwhile are recorded; then the run and its task runs are marked as the partial report has
them (:mod:`orchestration.cancelled_run`), its logs are delivered, and the process ends
without waiting for the threads that cannot be stopped.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, NoReturn

from orchestration.cancelled_run import mark_interrupted, unmarked_line
from orchestration.interrupts import EXIT_CODES, OutcomeLog, stop_run, stopping_line
from orchestration.quick_exit import end_now

if TYPE_CHECKING:
    from orchestration.io_manager import IOManager
    from orchestration.run_report import MaterializationPlan

#: How long the run's last log lines may take to reach the Prefect API.
LOG_DELIVERY_SECONDS = 2.0


def _stop_signal(stop: BaseException) -> signal.Signals:
    """The signal behind ``stop`` (Prefect's ``TerminationSignal`` carries it; a
    ``KeyboardInterrupt`` is SIGINT)."""
    return signal.Signals(getattr(stop, "signal", signal.SIGINT))


def end_stopped_run(
    stop: BaseException,
    io_managers: Mapping[str, IOManager],
    outcomes: OutcomeLog,
    plan: MaterializationPlan,
) -> NoReturn:
    """Stop the run's assets in flight, mark the run, deliver its logs and end the process."""
    from prefect import get_run_logger
    from prefect.logging.handlers import APILogWorker

    number = _stop_signal(stop)
    # Once stopping, a further signal must not cut it short: on Ctrl+C the terminal's SIGINT
    # and the runner's SIGTERM (its cancellation) both come, and Prefect's handler for the
    # latter would raise into the stop. The stop has bounds of its own.
    for other in EXIT_CODES:
        signal.signal(other, signal.SIG_IGN)
    logger = get_run_logger()
    logger.warning("%s", stopping_line(number, ended=outcomes.assets_ended()))
    partial = stop_run(io_managers, outcomes, plan)
    cancelled = ", ".join(outcome.key for outcome in partial.by_status("cancelled"))
    logger.warning("%s%s", partial.summary(), f"; cancelled: {cancelled}" if cancelled else "")
    if cut := partial.cut_line():
        logger.warning("%s", cut)
    why_not = mark_interrupted(outcomes, partial, number)
    if why_not:
        logger.warning("%s", unmarked_line(why_not))
    APILogWorker.drain_all(timeout=LOG_DELIVERY_SECONDS, at_exit=False)
    # Stopped and marked as asked: exit 0, which the runner takes as handled. Unmarked, a
    # signal's code has the runner report the run Crashed, a final state at least.
    end_now(0 if why_not is None else EXIT_CODES[number])
