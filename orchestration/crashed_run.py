"""A run whose process was killed is shown Crashed in the Prefect UI, not Running for ever.

A run killed outright (SIGKILL, the out-of-memory killer, SIGBUS, a machine that stopped)
has no say in how it ends: Prefect's engine never reports a final state, and with flow
heartbeats off (:mod:`orchestration.quick_exit`) nothing on the server notices, so the UI
showed the run Running for ever. The warehouse knew better: the run's history records say
``started`` and nothing after (``pipeline status``: "last run did not finish").

The next run reads that history anyway (its states are judged on it), and on an embedded
warehouse it can tell a run left unfinished from one going on: chdb opens a warehouse
directory in one process at a time (:mod:`io_managers.warehouse_lock`), so while this
process has it open, a run that recorded ``started`` and is not going on in this process
(:func:`running_here`) has no process left. Each such run is proposed Crashed, with a
message that says so: one request per run found, none at all when there is none.
Prefect's rules refuse Crashed for a run already finished (Completed, Failed, Cancelled as
an interrupt marks it, or Crashed by an earlier run), so a run is marked at most once.

On a ClickHouse server, processes on several machines run side by side, and the history
does not say which process wrote a record or whether it still lives: marking would end a
run going on elsewhere in the UI. Runs there are left as they are (Prefect's own flow
heartbeats, ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, with an automation that marks runs
whose heartbeats stop, are the way there).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from orchestration.api_outage import ApiOutage
    from orchestration.asset_state import StateBook
    from orchestration.context import Log

#: What a run left unfinished is marked Crashed with (the run that found it is added).
LEFT_UNFINISHED = "its process ended before the run did (killed, or out of memory)"

_lock = threading.Lock()
#: Flow runs going on in this process (a served deployment may run several).
_running: set[str] = set()


@contextlib.contextmanager
def running_here(run_id: str | None) -> Iterator[None]:
    """Count flow run ``run_id`` as going on in this process for the block: its own
    ``started`` records, and those of the other runs of this process, are no crash."""
    if not run_id:
        yield
        return
    with _lock:
        _running.add(run_id)
    try:
        yield
    finally:
        with _lock:
            _running.discard(run_id)


def left_unfinished(book: StateBook) -> list[str]:
    """The flow runs ``book``'s history shows unfinished and no process runs any more."""
    with _lock:
        here = set(_running)
    attempts = book.unfinished_attempts()
    return list(dict.fromkeys(a.run_id for a in attempts if a.run_id and a.run_id not in here))


def mark_crashed(book: StateBook, found_by: str, outage: ApiOutage, log: Log) -> None:
    """Propose Crashed for each run :func:`left_unfinished` finds, saying that run
    ``found_by`` found it, through the run's breaker ``outage``; ``log`` (the run's
    logger) says what was marked. It never fails the run: the run's tables do not depend
    on how the UI shows another run."""
    runs = left_unfinished(book)
    if not runs:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    message = f"{LEFT_UNFINISHED}; found unfinished in the warehouse by flow run {found_by}"
    with get_client(sync_client=True) as client:  # the run's own, when it has one
        outage.watch(client)
        for run_id in runs:
            try:
                result = outage.guard(
                    client.set_flow_run_state, UUID(run_id), Crashed(message=message)
                )
            except ObjectNotFound:  # a run another Prefect API keeps: not this one's to mark
                continue
            except Exception as exc:  # said in the run's logs; the run goes on
                log.warning("could not mark flow run %s Crashed: %s", run_id, exc)
                continue
            if result is not None and result.status == SetStateStatus.ACCEPT:
                log.warning("flow run %s was marked Crashed: %s", run_id, message)
