"""A served run that marked itself Cancelled keeps its own message in the Prefect UI.

A served run that is stopped (``pipeline serve`` stopped, a Cancel in the UI) marks itself
Cancelled with its partial outcome, ``interrupted (SIGTERM): 1 materialized, 26
cancelled`` (:mod:`orchestration.served_stop`), and exits. Prefect's runner (3.9,
``CancellationManager.cancel``) signals the run's process, waits for it to exit, then sets
the run Cancelled, forced, from the state it read *before* the signal, with a message of
its own: the UI showed "Runner is shutting down." (or "Flow run was cancelled
successfully.") instead of what the run did (measured, tests/test_serve_stop.py).

So the runner's last step first asks the server how the run ended: a run already Cancelled
is left as it is, and counted as cancelled, as Prefect counts its own; any other state
(the run could not mark itself: the API was slow, say) is finalized by Prefect as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun


class Finalize(Protocol):
    """Prefect's ``CancellationManager._finalize_cancelled_state``: True once the run is
    Cancelled on the server."""

    async def __call__(
        self, flow_run: FlowRun, state_updates: dict[str, object] | None = None
    ) -> bool: ...


def keeping_its_own_cancel(
    finalize: Finalize, read_flow_run: Callable[[UUID], Awaitable[FlowRun]]
) -> Finalize:
    """``finalize``, which leaves a run already Cancelled on the server as it is."""

    async def finalizing(flow_run: FlowRun, state_updates: dict[str, object] | None = None) -> bool:
        try:
            current = (await read_flow_run(flow_run.id)).state
        except Exception:  # Prefect's own finalize meets the same problem, and says it
            current = None
        if current is not None and current.is_cancelled():
            return True
        return await finalize(flow_run, state_updates)

    return finalizing
