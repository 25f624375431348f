"""submit_when_ready: each task goes out once its upstream finished, urgent ones first.

Driven by a real thread pool (what Prefect's task runner wraps); the tasks record when
they ran, so the order and the overlap are observed, not assumed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.asset import AssetSpec
from orchestration.dispatch import critical_path_seconds, last_seconds, submit_when_ready
from orchestration.history import AssetHistory, MaterializationRecord


def spec(key: str, *deps: str) -> AssetSpec:
    return AssetSpec(key=key, table=f"t.{key}", body=lambda context: None, kind="python", deps=deps)


class Recorder:
    """Runs each asset's "task" on a pool of ``threads`` and records what happened."""

    def __init__(self, threads: int, seconds: dict[str, float] | None = None) -> None:
        self.pool = ThreadPoolExecutor(threads)
        self.seconds = seconds or {}
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.intervals: dict[str, tuple[float, float]] = {}
        self.upstream_given: dict[str, list[Future]] = {}
        self.running = 0
        self.most_running = 0

    def submit(self, spec: AssetSpec, upstream: list[Future]) -> Future:
        self.upstream_given[spec.key] = upstream
        return self.pool.submit(self._run, spec.key)

    def _run(self, key: str) -> str:
        with self.lock:
            self.started.append(key)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        began = time.perf_counter()
        time.sleep(self.seconds.get(key, 0.01))
        with self.lock:
            self.running -= 1
            self.intervals[key] = (began, time.perf_counter())
        return key


def test_every_task_starts_after_its_upstream_finished_and_is_given_their_futures():
    specs = [spec("a"), spec("b", "a"), spec("c", "a"), spec("d", "b", "c")]
    recorder = Recorder(threads=4, seconds={"b": 0.1})

    futures = submit_when_ready(specs, recorder.submit, limit=4)

    assert all(future.done() for future in futures.values())
    assert set(futures) == {"a", "b", "c", "d"}
    for item in specs:
        for dep in item.deps:
            assert recorder.intervals[dep][1] <= recorder.intervals[item.key][0], item.key
    assert recorder.upstream_given["d"] == [futures["b"], futures["c"]]
    assert recorder.upstream_given["a"] == []


def test_no_more_than_limit_tasks_are_out_at_once():
    specs = [spec(f"s{i}") for i in range(8)]
    recorder = Recorder(threads=8, seconds={item.key: 0.05 for item in specs})

    submit_when_ready(specs, recorder.submit, limit=3)

    assert recorder.most_running == 3


def test_an_independent_ready_asset_does_not_wait_behind_a_waiting_one():
    specs = [spec("slow"), spec("waits", "slow"), spec("free")]
    recorder = Recorder(threads=2, seconds={"slow": 0.3})

    submit_when_ready(specs, recorder.submit, limit=2)

    assert recorder.intervals["free"][0] < recorder.intervals["slow"][1]


def test_the_most_urgent_ready_asset_goes_first_ties_in_plan_order():
    specs = [spec("a"), spec("b"), spec("c"), spec("d")]
    recorder = Recorder(threads=1)

    submit_when_ready(specs, recorder.submit, limit=1, urgency={"c": 5.0, "b": 1.0})

    assert recorder.started == ["c", "b", "a", "d"]


def test_upstream_outside_the_selection_is_not_waited_for():
    specs = [spec("b", "not_selected")]
    recorder = Recorder(threads=1)

    futures = submit_when_ready(specs, recorder.submit, limit=1)

    assert futures["b"].result() == "b"
    assert recorder.upstream_given["b"] == []


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        submit_when_ready([spec("a")], Recorder(threads=1).submit, limit=0)


def test_the_critical_path_adds_the_longest_path_among_the_dependents():
    # a -> b -> d, a -> c -> d, a -> e; b is slow, so a's path runs through b.
    specs = [spec("a"), spec("b", "a"), spec("c", "a"), spec("e", "a"), spec("d", "b", "c")]
    seconds = {"a": 1.0, "b": 5.0, "c": 2.0, "d": 0.5, "e": 3.0}

    path = critical_path_seconds(specs, seconds)

    assert path == {"a": 6.5, "b": 5.5, "c": 2.5, "e": 3.0, "d": 0.5}


def test_the_critical_path_counts_unknown_and_unselected_assets_as_nothing():
    specs = [spec("a", "outside"), spec("b", "a")]

    assert critical_path_seconds(specs, {"b": 2.0, "outside": 9.0}) == {"a": 2.0, "b": 2.0}


def record(key: str, seconds: float | None, status: str = "materialized") -> MaterializationRecord:
    started = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    return MaterializationRecord(
        materialization_id=f"id-{key}",
        asset_key=key,
        table=f"t.{key}",
        code_version="v1",
        started=started,
        status=status,  # type: ignore[arg-type]
        ended=None if seconds is None else started + timedelta(seconds=seconds),
    )


def test_last_seconds_are_those_of_the_latest_success():
    failed_since = record("a", 9.0, status="failed")
    history = {
        "a": AssetHistory(last_attempt=failed_since, last_success=record("a", 1.5)),
        "b": AssetHistory(last_attempt=record("b", None, status="started")),
        "c": AssetHistory(),
    }

    assert last_seconds(history) == {"a": 1.5}
