"""Every failure of one asset starts ``asset 'k' (table t): `` as one builder puts it
(:func:`orchestration.errors.of_asset`), and keeps what follows apart, as its cause.

What names the asset already shows that cause alone: the table of the run's page, the
failed run's state message (:meth:`RunReport.failure_summary`), ``pipeline status``'s
reason. A failure worded by hand without the colon (``asset 'k' (table t) failed
validation: ...``, ``... has drifted from its DDL``, ``... failed its checks``, ``... was
published, but its record ...``) showed its lead twice there: the row's, then its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from io_managers import ClickHouseIOManager, MaterializationError
from io_managers.ddl_drift import Drift, drift_error
from io_managers.errors import AssetValidationError, ValidationFailure
from io_managers.publish_gate import PublishGate
from orchestration.asset_code import said_failure
from orchestration.checks import AssetCheckError, AssetCheckResult
from orchestration.errors import StorageFullError, describe_error, of_asset
from orchestration.history import AssetHistory, MaterializationRecord
from orchestration.recording import unrecorded_publish
from orchestration.run_report import AssetOutcome, RunReport
from orchestration.staleness import assess_asset
from tests.io_helpers import apply_test_ddl, context, python_asset

KEY, TABLE = "numbers", "shop.numbers"
RECORD = MaterializationRecord(
    materialization_id="m1",
    asset_key=KEY,
    table=TABLE,
    code_version="v1",
    started=datetime(2026, 1, 1, tzinfo=UTC),
)


def _closed_gate() -> BaseException:
    gate = PublishGate()
    gate.close(timeout=0)
    with pytest.raises(MaterializationError) as refused, gate.publishing(KEY, TABLE):
        pass
    return refused.value


#: Each way a failure of ``numbers`` is built, as the layer that meets it builds it.
FAILURES = {
    "drift": lambda: drift_error(KEY, TABLE, [Drift("n", "UInt64", "String")]),
    "insert-only drift": lambda: drift_error(
        KEY, TABLE, [Drift("n", "UInt64", None)], insert_only=True
    ),
    "validation": lambda: AssetValidationError(
        KEY,
        TABLE,
        [
            ValidationFailure("n", "unique", 13, ("0 (x3)",)),
            ValidationFailure("label", "str_length(1, 5)", 2),
        ],
    ),
    "checks": lambda: AssetCheckError(
        KEY, TABLE, [AssetCheckResult(KEY, TABLE, "positive", "error", False, 1)]
    ),
    "unrecorded, foreseen": lambda: unrecorded_publish(RECORD, StorageFullError("disk full")),
    "unrecorded, unforeseen": lambda: unrecorded_publish(RECORD, KeyError("run_id")),
    "interrupted before publishing": _closed_gate,
}


def _outcome(exc: BaseException) -> AssetOutcome:
    """``exc``'s outcome, as a run's worker makes it of a failed asset."""
    said = said_failure(python_asset(TABLE, lambda ctx: None), exc)
    return AssetOutcome(KEY, TABLE, "failed", error=said.error, cause=said.cause)


@pytest.mark.parametrize("build", FAILURES.values(), ids=FAILURES.keys())
def test_a_failure_shows_its_cause_once_where_its_asset_is_named(build):
    outcome = _outcome(build())
    cause = outcome.said_cause()
    assert cause is not None
    # The error is the one lead, then the cause (an unforeseen one: its class first).
    assert outcome.error is not None and outcome.error.endswith(of_asset(KEY, TABLE) + cause)
    assert (
        RunReport([outcome])
        .failure_summary()
        .startswith(f"0 materialized, 1 failed; failed: {KEY} ({cause[:20]}")
    )


#: The failures whose words the history keeps as the error's line says them: foreseen.
FORESEEN = {name: build for name, build in FAILURES.items() if "unforeseen" not in name}


@pytest.mark.parametrize("build", FORESEEN.values(), ids=FORESEEN.keys())
def test_status_gives_the_cause_of_a_recorded_failure_without_its_lead(build):
    """The history keeps the error's words only; ``status`` removes the one lead."""
    failed = replace(RECORD, status="failed", error=describe_error(build()))
    state = assess_asset(KEY, (), "v1", None, {KEY: AssetHistory(last_attempt=failed)})
    detail = state.reasons[-1].detail
    assert detail.startswith("last run failed: ") and f"asset {KEY!r}" not in detail, detail


def test_a_warehouse_error_met_while_publishing_is_said_once_too(tmp_path: Path):
    """A statement the engine refuses while the framework publishes (here the body drops
    the asset's table as its last batch is read, so the swap finds none)."""

    def body(ctx):
        yield pa.table(
            {
                "n": pa.array([1, 2], pa.uint64()),
                "label": ["a", "b"],
                "score": pa.array([None, None], pa.float64()),
            }
        )
        ctx.io_manager.command("DROP TABLE lead.numbers")

    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        apply_test_ddl(warehouse, "lead", tmp_path)
        spec = python_asset("lead.numbers", body)
        with pytest.raises(MaterializationError) as failed:
            warehouse.materialize(spec, context(spec, warehouse))
    said = said_failure(spec, failed.value)
    assert said.cause is not None and "doesn't exist" in said.cause
    assert said.error == of_asset("numbers", "lead.numbers") + said.cause
