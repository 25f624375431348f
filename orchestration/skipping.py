"""A skipped asset's Prefect task run ends ``Skipped``, naming the failed asset that stopped it.

Left to Prefect, a task whose upstream did not complete is refused before it starts: its
task run stays ``Pending`` with state name ``NotReady`` and the message "Upstream task run
'<id>' did not reach a 'COMPLETED' state" for ever, while the run report, the lineage
artifact and the asset pages say "upstream failed: raw_online_retails".

So the flow decides it (:func:`stopped_by`), at submission, when every upstream task is
done: an asset with a selected upstream that did not materialize is submitted as a task
that writes its page of the run (saying why) and returns :func:`skipped_state`, a
final ``Cancelled``-type state named ``Skipped`` - not failed (the asset did not fail),
and not ``Completed``: a
``prefect.assets.materialize`` task emits a materialization event for a completed or
failed state only, so a skipped asset still emits none. Its upstream futures are still
its ``wait_for`` (:func:`tolerated_upstream`), so the run graph keeps every edge. A run
where nothing fails does none of this.

Prefect's task engine puts a task in ``Running`` (with a start time) before it calls the
task, so a skipped asset's task run shows one, and 0 seconds. Leaving Prefect's
``NotReady`` and setting the final state through the API when the run ends would avoid
that, but only once the server has recorded those task runs from their events (up to its
recorder's flush interval: 1 s on our servers, 5 s by default) - seconds added to every
failed run, and a request per skipped asset.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from orchestration.graph import AssetGraph
from orchestration.run_report import AssetOutcome

#: The name of a skipped asset's final task run state in the Prefect UI.
SKIPPED_STATE_NAME = "Skipped"


def skip_reason(blockers: Sequence[str]) -> str:
    """Why an asset did not run, as the run report, the history and Prefect all say it."""
    if blockers:
        return f"upstream failed: {', '.join(blockers)}"
    return "did not run (the flow stopped before it)"


def failed_ancestors(graph: AssetGraph, key: str, failed: Collection[str]) -> tuple[str, ...]:
    """The failed assets upstream of ``key`` (directly or not) that stopped it, sorted."""
    return tuple(sorted(graph.ancestors(key) & set(failed)))


def stopped_by(
    graph: AssetGraph,
    key: str,
    deps: Iterable[str],
    selected: Collection[str],
    outcomes: Mapping[str, AssetOutcome],
) -> str | None:
    """Why ``key`` must be skipped, or None when every selected upstream materialized.

    Called once every upstream task is done: a selected upstream without a
    ``materialized`` outcome failed, was skipped, or stopped before it recorded one.
    """
    for dep in deps:
        if dep in selected:
            outcome = outcomes.get(dep)
            if outcome is None or outcome.status != "materialized":
                # Copied in one step: worker threads may record outcomes meanwhile.
                failed = [k for k, o in list(outcomes.items()) if o.status == "failed"]
                return skip_reason(failed_ancestors(graph, key, failed))
    return None


def skipped_state(reason: str) -> Any:
    """The final state of a skipped asset's task run: the UI shows it neither as run nor
    as failed, with the reason as its message."""
    from prefect.states import Cancelled

    return Cancelled(name=SKIPPED_STATE_NAME, message=reason)


def tolerated_upstream(upstream: Sequence[Any], skipped_runs: Collection[UUID]) -> list[Any]:
    """``wait_for`` for a skipped asset's task: each upstream future, which Prefect must
    not refuse to start it over.

    ``allow_failure`` lets a failed upstream through, but Prefect 3.9 lets through only a
    failed or a ``NotReady`` one (``resolve_to_final_result``), not a ``Cancelled`` one: an
    upstream that was itself skipped is given as the ``NotReady`` state Prefect would have
    left it in, carrying its task run id - which is all the run graph's edge records.
    """
    from prefect import allow_failure
    from prefect.client.schemas.objects import StateDetails
    from prefect.states import Pending

    return [
        allow_failure(
            Pending(name="NotReady", state_details=StateDetails(task_run_id=future.task_run_id))
            if future.task_run_id in skipped_runs
            else future
        )
        for future in upstream
    ]
