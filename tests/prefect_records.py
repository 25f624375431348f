"""Waiting for what a Prefect server records asynchronously, in tests.

Prefect 3 records task runs from their state events (our servers batch them and flush
every second): right after a flow returns, the API may not have all of them yet.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.waiting import wait_for

#: Seconds to wait for a server to record events, task runs or logs.
EVENT_WAIT = 60.0


def settled_task_runs(client: Any, flow_run_id: uuid.UUID, expected: int) -> list[Any]:
    """The run's task runs once all ``expected`` are recorded and none is still running."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    def settled() -> list[Any] | None:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
        done = len(runs) >= expected and all(
            run.state and (run.state.is_final() or run.state.name == "NotReady") for run in runs
        )
        return runs if done else None

    return wait_for(settled, EVENT_WAIT, f"{expected} task runs of flow run {flow_run_id}")
