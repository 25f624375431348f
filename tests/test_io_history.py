"""The history store on both backends: written twice per materialization, read as one."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.history import MaterializationRecord
from tests.io_helpers import BACKENDS, Backend

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    backend = Backend(request, tmp_path)
    yield backend
    backend.close()


def started(key: str, minutes: int = 0) -> MaterializationRecord:
    return MaterializationRecord(
        materialization_id=str(uuid.uuid4()),
        asset_key=key,
        table="db.t",
        code_version="abc",
        started=T0 + timedelta(minutes=minutes),
        run_id="run-1",
        upstream={"up": "u-1", "other": None},
        source_fingerprint="file size=1",
    )


def test_outcome_replaces_started_and_reads_back_whole(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"  # the server's _pipeline database is shared
    first = started(key)
    history.record(first)
    ended = T0 + timedelta(seconds=3)
    done = replace(first, status="materialized", rows=5, inserted_rows=2, ended=ended)
    history.record(done)

    latest = history.latest([key, "never_recorded"])
    assert list(latest) == [key]
    assert latest[key].last_attempt == done
    assert latest[key].last_success == done
    count = backend.warehouse.query_arrow(
        f"SELECT count() AS n FROM _pipeline.materializations FINAL WHERE asset_key = '{key}'"
    ).to_pylist()
    assert count == [{"n": 1}]


def test_a_later_failure_is_the_last_attempt_and_the_success_is_kept(backend):
    history = backend.warehouse.history()
    key = f"a_{uuid.uuid4().hex[:8]}"
    good = replace(started(key), status="materialized")
    history.record(good)
    bad = replace(started(key, minutes=5), status="failed", error="boom")
    history.record(bad)
    interrupted = started(f"{key}_b")
    history.record(interrupted)

    latest = history.latest([key, f"{key}_b"])
    assert latest[key].last_attempt == bad
    assert latest[key].last_success == good
    assert latest[f"{key}_b"].last_attempt == interrupted
    assert latest[f"{key}_b"].last_success is None
