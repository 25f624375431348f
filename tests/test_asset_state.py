"""The state book's code versions computed ahead of a run, off the run's critical path."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import pytest

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.graph import AssetGraph
from orchestration.history import MaterializationRecord, RecordStatus
from orchestration.resolver import materialize
from tests.memory_io import MemoryIOManager, RememberingIOManager


class DefinitionsOnRecord(MemoryIOManager):
    """Says each table's DDL, noting the thread that asked; fails while ``broken`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.asked_on: list[str] = []
        self.broken: str | None = None

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        self.asked_on.append(threading.current_thread().name)
        if self.broken:
            raise RuntimeError(self.broken)
        return {table: f"CREATE TABLE {table} (n UInt8)" for table in tables}


def _graph() -> AssetGraph:
    def frame(context) -> pd.DataFrame:
        return pd.DataFrame({"n": [1]})

    return AssetGraph(
        [
            AssetSpec(key="first", table="m.first", body=frame, kind="python"),
            AssetSpec(key="second", table="m.second", body=frame, kind="python", deps=("first",)),
        ]
    )


def test_prefetched_versions_are_the_versions_computed_on_demand():
    graph = _graph()
    prefetching = StateBook(graph, {"warehouse": DefinitionsOnRecord()})
    prefetching.prefetch_code_versions(["first", "second"])
    expected = StateBook(graph, {"warehouse": DefinitionsOnRecord()}).code_versions
    assert prefetching.code_versions_of(["first", "second"]) == expected
    assert prefetching.io_managers["warehouse"].asked_on == ["code-versions"]


def test_a_failed_prefetch_raises_where_the_versions_are_needed_then_is_retried():
    io = DefinitionsOnRecord()
    io.broken = "the warehouse went away"
    book = StateBook(_graph(), {"warehouse": io})
    book.prefetch_code_versions(["first"])  # does not raise: nothing needs the versions yet
    with pytest.raises(RuntimeError, match="the warehouse went away"):
        book.code_versions_of(["first"])
    io.broken = None
    assert set(book.code_versions_of(["first"])) == {"first"}
    assert io.asked_on == ["code-versions", "MainThread"]


def test_a_run_versions_its_assets_before_the_first_asset_starts(prefect_server):
    """The versions are computed while Prefect creates the flow run, not by the first
    asset's task (where they held up the run's first materialization)."""
    io = DefinitionsOnRecord()
    report = materialize(_graph(), {"warehouse": io})
    assert report.ok
    assert io.asked_on == ["code-versions"]
    assert all(outcome.code_version for outcome in report.outcomes)


def _record(key: str, status: RecordStatus, rows: int | None) -> MaterializationRecord:
    now = dt.datetime.now(dt.UTC)
    return MaterializationRecord(
        uuid.uuid4().hex, key, f"m.{key}", "0" * 16, now, status, rows=rows, ended=now
    )


def test_never_published_reads_the_history_of_the_stores_that_keep_one():
    graph = AssetGraph(
        [
            AssetSpec(key=key, table=f"m.{key}", body=lambda context: None, kind="python")
            for key in ("built", "checks_failed", "broke", "interrupted", "never", "elsewhere")
        ]
    )
    graph = AssetGraph(
        [replace(spec, io_manager="plain") if spec.key == "elsewhere" else spec for spec in graph]
    )
    warehouse = RememberingIOManager()
    for record in (
        _record("built", "materialized", 3),
        _record("checks_failed", "failed", 3),  # published, then its checks failed
        _record("broke", "failed", None),  # failed before publishing
        _record("interrupted", "started", None),
    ):
        warehouse.history().record(record)
    book = StateBook(graph, {"warehouse": warehouse, "plain": MemoryIOManager()})
    # "elsewhere" is stored where no history is kept: nothing says it was never built.
    assert book.never_published == {"broke", "interrupted", "never"}
    assert not book._versions, "no code version was computed"


def test_a_record_of_the_same_key_for_another_table_is_not_the_assets_history():
    """Another code location's asset of this key, or this one before its table was renamed:
    the asset as declared (key and table) was never built."""
    graph = AssetGraph(
        [AssetSpec(key="orders", table="m.orders_v2", body=lambda context: None, kind="python")]
    )
    warehouse = RememberingIOManager()
    warehouse.history().record(_record("orders", "materialized", 3))  # table m.orders
    book = StateBook(graph, {"warehouse": warehouse})
    assert book.history == {}
    assert book.never_published == {"orders"}
    assert book.states["orders"].state == "missing"
