"""A second Ctrl-C while an interrupted run stops cleanly: stop at once, but keep the truth.

The first signal's clean stop (:func:`orchestration.interrupts.stop_run`) may take seconds:
a publish in flight, staging dropped, the assets published meanwhile recorded, the
report, the run marked in Prefect. A second Ctrl-C, by the common convention of command
lines, means "stop now". It ended the process on the spot, saying nothing: no report, the
flow run left Running in Prefect, and the next run on the embedded warehouse marked it
Crashed, "killed, or out of memory".

Now the second signal says in one line that the command stops at once and without its
report; lets a publish in flight finish (a publish is a metadata swap or an attach, short;
cut, an insert-only table could keep part of its new rows); marks the flow run Cancelled,
as stopped by a second Ctrl-C, within :data:`MARK_AT_ONCE_SECONDS`; and ends with 130.
Left for the next run: the staging tables (it drops them), the history records of the
assets that were running (``started``: ``pipeline status`` says "last run did not finish
(interrupted, ...)").
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orchestration.asset_page import run_warehouses
from orchestration.cancelled_run import mark_cancelled
from orchestration.interrupts import STOP_SECONDS, OutcomeLog

if TYPE_CHECKING:
    from orchestration.io_manager import IOManager
    from orchestration.run_report import MaterializationPlan

#: How long marking the run Cancelled may take once the user asked twice to stop.
MARK_AT_ONCE_SECONDS = 1.0


def at_once_line(number: signal.Signals) -> str:
    """What the command says when a second signal comes during the clean stop."""
    return (
        f"interrupted again ({number.name}): stopping at once, without the report; a publish "
        "in flight is let finish (pipeline status tells what each table holds)"
    )


def stop_at_once(
    io_managers: Mapping[str, IOManager],
    outcomes: OutcomeLog,
    plan: MaterializationPlan,
    number: signal.Signals,
) -> str | None:
    """Let the publishes in flight finish (at most :data:`STOP_SECONDS`) and start no
    other, then mark the flow run and its task runs as far as they are known (at most
    :data:`MARK_AT_ONCE_SECONDS`); None when marked, else why not.

    It works in a thread of its own: the first signal's stop, which this one cut, may hold
    locks of the main thread that this work needs, and then it ends unmarked, in bounds.
    """
    said: list[str | None] = []

    def stop() -> None:
        outcomes.interrupt()  # an asset failing from now on is the stop's doing
        deadline = time.monotonic() + STOP_SECONDS
        published = {
            key
            for io in io_managers.values()
            for key in io.stop_publishing(max(0.0, deadline - time.monotonic()))
        }
        if not outcomes.flow_run_id:
            said.append(None)
            return
        selected = [(spec.key, spec.table) for spec in plan.selected]
        partial = outcomes.partial_report(selected, published, run_warehouses(plan, io_managers))
        said.append(
            mark_cancelled(
                outcomes.flow_run_id,
                f"interrupted again ({number.name}): stopped at once, without its report; "
                f"{partial.summary()}",
                {outcome.key: outcome.status for outcome in partial.outcomes},
                timeout=MARK_AT_ONCE_SECONDS,
                began=outcomes.began(),
            )
        )

    context = contextvars.copy_context()
    stopping = threading.Thread(target=context.run, args=(stop,), name="stop-at-once", daemon=True)
    stopping.start()
    stopping.join(STOP_SECONDS + MARK_AT_ONCE_SECONDS)
    if not said:
        return "the run's stop did not end in time"
    return said[0]
