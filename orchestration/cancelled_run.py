"""An interrupted run is shown Cancelled in the Prefect UI, not Running for ever.

``pipeline materialize`` ends an interrupted run at once (:mod:`orchestration.interrupts`):
the assets in flight are stopped and the process exits without waiting for Prefect's flow
engine, whose thread is still busy with them. So the engine never reports a final state,
and the UI showed the run, and the task runs it had started, Running for ever (nothing
else would change them); an asset the stop refused to publish showed Failed, though
the run report calls it cancelled. The interrupt now sets them Cancelled itself, with the
signal and the partial outcome as the message, within a bound: an interrupt must end the
command in seconds even when the API is slow or gone.
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import TaskRun

    from orchestration.interrupts import OutcomeLog
    from orchestration.run_report import RunReport

#: How long marking the run may take before the command ends without it.
MARK_SECONDS = 3.0
#: Task run states a run stopped this way leaves behind, unfinished.
_UNFINISHED = {"PENDING", "RUNNING", "SCHEDULED"}
#: Of the marking's bound, what is kept for setting the states once the task runs are read.
_SETTING_SECONDS = 0.5
#: Statuses only an asset whose task body began can have.
_BEGAN_STATUSES = ("materialized", "failed")
#: How often the server is asked again for task runs it has not recorded yet.
_POLL_SECONDS = 0.1


def mark_interrupted(
    outcomes: OutcomeLog, partial: RunReport, number: signal.Signals
) -> str | None:
    """:func:`mark_cancelled` for a run stopped by signal ``number`` with report
    ``partial``; None, too, when its flow run never began."""
    if not outcomes.flow_run_id:
        return None
    return mark_cancelled(
        outcomes.flow_run_id,
        interrupted_message(partial, number),
        {outcome.key: outcome.status for outcome in partial.outcomes},
        began=outcomes.began(),
    )


def interrupted_message(partial: RunReport, number: signal.Signals) -> str:
    """The Cancelled state's message: ``interrupted (SIGINT): 1 materialized, 3 cancelled``;
    once every asset had ended, what the interrupt cut too."""
    if not partial.cut:
        return f"interrupted ({number.name}): {partial.summary()}"
    return (
        f"interrupted ({number.name}) once {partial.all_ended()}: {partial.summary()}; "
        f"not done: {', '.join(partial.cut)}"
    )


def unmarked_line(why_not: str) -> str:
    """What a stopped run says when :func:`mark_cancelled` could not mark it."""
    return (
        f"the Prefect UI may still show the run as running: marking it cancelled failed ({why_not})"
    )


def mark_cancelled(
    flow_run_id: str,
    message: str,
    statuses: Mapping[str, str],
    timeout: float = MARK_SECONDS,
    began: Collection[str] = (),
) -> str | None:
    """Set the flow run Cancelled with ``message``, and its task runs as the run report
    has their assets (``statuses``, by key: a task run is named after its asset): an
    unfinished one Completed if its table was published as the run stopped, else
    Cancelled; a failed one Cancelled if the report calls it cancelled (the stop refused
    its publish). The task runs of the assets that ``began`` (and of those the report
    has materialized or failed) are waited for, within the bound, until the server has
    recorded them.

    Returns None when done, else why not, in a few words (the caller says it in one line:
    the tables are safe whatever the UI shows). The requests go through a circuit breaker
    of their own (:class:`ApiOutage`): a server that does not answer is given up at once
    instead of being retried for a minute.
    """
    failure: list[BaseException] = []

    reading_until = time.monotonic() + max(0.0, timeout - _SETTING_SECONDS)

    def mark() -> None:
        try:
            _mark(UUID(flow_run_id), message, statuses, began, reading_until)
        except Exception as exc:  # reported to the caller, which says it in one line
            failure.append(exc)

    # Settings scoped with context variables (Prefect's temporary_settings) hold there too.
    context = contextvars.copy_context()
    marking = threading.Thread(target=context.run, args=(mark,), name="mark-cancelled", daemon=True)
    marking.start()
    marking.join(timeout)
    if marking.is_alive():
        return f"no answer within {timeout:g} s"
    return _why(failure[0]) if failure else None


def _why(exc: BaseException) -> str:
    """``connection refused``, ``the API answered HTTP 404`` and the like."""
    from orchestration.api_outage import lost_cause
    from orchestration.exception_chain import exception_chain
    from orchestration.unanswered import cause_in_words

    for seen in exception_chain(exc):  # Prefect's ObjectNotFound wraps the HTTP error
        status = getattr(getattr(seen, "response", None), "status_code", None)
        if isinstance(status, int):
            return f"the API answered HTTP {status}"
    return lost_cause(exc) or cause_in_words(exc)


def _mark(
    flow_run_id: UUID,
    message: str,
    statuses: Mapping[str, str],
    began: Collection[str],
    reading_until: float,
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker
    from prefect.states import Cancelled, Completed, State

    from orchestration.api_outage import ApiOutage, api_url

    # The task runs' states reach the server as events, recorded as they arrive: those
    # still queued here would land after the marks and undo them.
    EventsWorker.drain_all(timeout=max(0.0, reading_until - time.monotonic()), at_exit=False)
    outage = ApiOutage(api_url())
    with get_client(sync_client=True) as client:
        outage.watch(client)
        for task_run in _recorded_task_runs(client, flow_run_id, statuses, began, reading_until):
            status = statuses.get(task_run.name)
            state_type = getattr(task_run.state_type, "value", None)
            unfinished = state_type in _UNFINISHED
            if unfinished and status == "materialized":
                state: State[None] = Completed(message="published as the run stopped")
            elif unfinished or (state_type == "FAILED" and status == "cancelled"):
                state = Cancelled(message=message)
            else:
                continue  # finished on its own account: failed before the stop stays Failed
            client.set_task_run_state(task_run.id, state, force=True)
        client.set_flow_run_state(flow_run_id, Cancelled(message=message), force=True)


def _recorded_task_runs(
    client: SyncPrefectClient,
    flow_run_id: UUID,
    statuses: Mapping[str, str],
    began: Collection[str],
    reading_until: float,
) -> list[TaskRun]:
    """The flow run's task runs, once the server has recorded every one whose asset
    ``began`` (so do those ``materialized`` or ``failed`` in ``statuses``), or as they are
    at ``reading_until``.

    The server records task runs from the events it is sent, in its own time: on a busy
    machine an asset that published as the run stopped was not there yet, was left
    unmarked, and the server's clean-up of cancelled runs later made it Cancelled,
    though the report (and its table) said materialized. An asset cancelled before its
    task body began may never have been sent at all: should it arrive later, the
    clean-up makes it Cancelled, as the report says.
    """
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    expected = {*began, *(k for k, status in statuses.items() if status in _BEGAN_STATUSES)}
    while True:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        if (
            expected <= {task_run.name for task_run in task_runs}
            or time.monotonic() >= reading_until
        ):
            return task_runs
        time.sleep(_POLL_SECONDS)
