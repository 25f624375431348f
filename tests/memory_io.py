"""An in-memory IO manager for exercising the resolver without a warehouse.

Test-only: shipped code never stores assets in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import pandas as pd

from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord
from orchestration.io_manager import IOManager, MaterializeResult


class MemoryIOManager(IOManager):
    """Keeps each table as a DataFrame and records when each materialization ran."""

    def __init__(self) -> None:
        self.tables: dict[str, pd.DataFrame] = {}
        self.intervals: dict[str, tuple[float, float]] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def asset_uri(self, table: str) -> str:
        database, name = table.split(".", 1)
        return f"memory://{database}/{name}"

    def table_exists(self, table: str) -> bool:
        return table in self.tables

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        """Publishes at once: ``before_publish`` is never called (checks read the
        published table, the fallback of a storage that cannot gate on them)."""
        started = time.perf_counter()
        with self._lock:
            self.calls.append(spec.key)
        frame = spec.body(context)
        finished = time.perf_counter()
        with self._lock:
            self.tables[spec.table] = frame
            self.intervals[spec.key] = (started, finished)
        return MaterializeResult(
            table=spec.table,
            rows=len(frame),
            seconds=finished - started,
            columns=tuple(frame.columns),
        )


class MemoryHistory(MaterializationHistory):
    """Materialization records kept in a dict by id (a later write replaces an earlier
    one), read as the warehouse's history reads them."""

    def __init__(self) -> None:
        self.records: dict[str, MaterializationRecord] = {}
        self._lock = threading.Lock()

    def record(self, record: MaterializationRecord) -> None:
        with self._lock:
            self.records[record.materialization_id] = record

    def latest(self, tables: Mapping[str, str]) -> dict[str, AssetHistory]:
        with self._lock:
            records = sorted(self.records.values(), key=lambda record: record.started)
        found: dict[str, AssetHistory] = {}
        for key, table in tables.items():
            attempts = [
                r
                for r in records
                if r.asset_key == key and r.table == table and r.status != "skipped"
            ]
            if attempts:
                successes = [r for r in attempts if r.status == "materialized"]
                found[key] = AssetHistory(attempts[-1], successes[-1] if successes else None)
        return found


class RememberingIOManager(MemoryIOManager):
    """A :class:`MemoryIOManager` that keeps a materialization history, as warehouses do."""

    def __init__(self) -> None:
        super().__init__()
        self._history = MemoryHistory()

    def history(self) -> MemoryHistory:
        return self._history
