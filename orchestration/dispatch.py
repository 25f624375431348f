"""Hand each asset's task to Prefect only once its upstream tasks have finished.

Prefect's thread-pool task runner resolves ``wait_for`` *inside* a worker thread: a task
submitted before its upstream finished holds one of the run's ``concurrency`` threads
while it waits, and a ready asset queued behind it waits too. Submitting the whole plan
at once in topological order therefore ran fewer assets at once than the user asked for
(in a 100,000-row retail run the three worker threads spent 2.4 of their 6 seconds
waiting for upstream futures, py-spy).

So the flow keeps the queue itself: at most ``limit`` tasks are with Prefect at a time,
each submitted when everything it waits for is done, the most urgent ready asset first.
``wait_for`` still names the upstream futures, so Prefect draws the same run graph; an
asset whose upstream failed is submitted to end ``Skipped`` (:mod:`orchestration.skipping`).

Urgency is critical-path scheduling, as build tools do with their last build's times: an
asset's remaining path is how long it took last time plus the longest remaining path
among its selected dependents (:func:`critical_path_seconds`). An asset starts first when
the most work still waits on it. Without a history every asset weighs the same nothing,
and the ready assets go in plan (topological) order.
"""

from __future__ import annotations

import heapq
import queue
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.history import AssetHistory

#: Submits one asset's task given the futures of its upstream tasks; returns its future.
Submit = Callable[[AssetSpec, list[Any]], Any]


def submit_when_ready(
    specs: Sequence[AssetSpec],
    submit: Submit,
    *,
    limit: int,
    urgency: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Submit every spec, each once its upstream (among ``specs``) are done; wait for all.

    ``specs`` is in topological order. Among ready assets the one with the highest
    ``urgency`` goes first, ties (and assets without one) in ``specs`` order. Returns
    each key's future, all of them done.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    by_key = {spec.key: spec for spec in specs}
    waiting_on = {spec.key: {dep for dep in spec.deps if dep in by_key} for spec in specs}
    dependents: dict[str, list[AssetSpec]] = {spec.key: [] for spec in specs}
    for spec in specs:
        for dep in waiting_on[spec.key]:
            dependents[dep].append(spec)
    position = {spec.key: index for index, spec in enumerate(specs)}
    urgency = urgency or {}

    ready: list[tuple[float, int, str]] = []

    def make_ready(spec: AssetSpec) -> None:
        heapq.heappush(ready, (-urgency.get(spec.key, 0.0), position[spec.key], spec.key))

    for spec in specs:
        if not waiting_on[spec.key]:
            make_ready(spec)

    finished: queue.SimpleQueue[str] = queue.SimpleQueue()
    futures: dict[str, Any] = {}
    running = 0
    while ready or running:
        while ready and running < limit:
            spec = by_key[heapq.heappop(ready)[2]]
            future = submit(spec, [futures[dep] for dep in spec.deps if dep in futures])
            futures[spec.key] = future
            running += 1
            future.add_done_callback(lambda _, key=spec.key: finished.put(key))
        done = finished.get()
        running -= 1
        for child in dependents[done]:
            waiting_on[child.key].discard(done)
            if not waiting_on[child.key]:
                make_ready(child)
    return futures


def last_seconds(history: Mapping[str, AssetHistory]) -> dict[str, float]:
    """How long each asset's latest successful materialization took (where it is known)."""
    seconds = {}
    for key, record in history.items():
        success = record.last_success
        if success is not None and success.ended is not None:
            seconds[key] = max(0.0, (success.ended - success.started).total_seconds())
    return seconds


def critical_path_seconds(
    specs: Sequence[AssetSpec], seconds: Mapping[str, float]
) -> dict[str, float]:
    """Each asset's own seconds plus the longest such path among its dependents in ``specs``.

    ``specs`` is in topological order; an asset without ``seconds`` counts 0.
    """
    selected = {spec.key for spec in specs}
    path: dict[str, float] = {}
    longest_below: dict[str, float] = dict.fromkeys(selected, 0.0)
    for spec in reversed(specs):
        path[spec.key] = seconds.get(spec.key, 0.0) + longest_below[spec.key]
        for dep in spec.deps:
            if dep in selected:
                longest_below[dep] = max(longest_below[dep], path[spec.key])
    return path
