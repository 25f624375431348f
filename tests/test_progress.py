"""The live lines a terminal run prints, one per finished asset."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from orchestration.asset_code import said_failure
from orchestration.checks import AssetCheckError, AssetCheckResult
from orchestration.errors import AssetFailure, Place, describe_error
from orchestration.io_manager import MaterializeResult
from orchestration.progress import RunProgress
from orchestration.run_report import AssetOutcome
from tests.io_helpers import python_asset


def _printed(*outcomes: AssetOutcome) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, color_system=None)
    with RunProgress(console, total=len(outcomes)) as progress:
        for outcome in outcomes:
            progress.advance(outcome)
    shown = Text.from_ansi(out.getvalue()).plain  # the text, without cursor movements
    return [line for line in shown.splitlines() if line.strip() and "materializing" not in line]


def _materialized(key: str, rows: int) -> AssetOutcome:
    result = MaterializeResult(table=f"db.{key}", rows=rows, seconds=0.1)
    return AssetOutcome(key, f"db.{key}", "materialized", 0.1, result)


def test_each_finished_asset_is_one_line_with_its_rows_counted_in_words():
    lines = _printed(_materialized("one", 1), _materialized("many", 12_345))
    assert any(line.startswith("✓ one  1 row  0.10s") for line in lines), lines
    assert any(line.startswith("✓ many  12,345 rows  0.10s") for line in lines), lines


def _failed_checks(*checks: AssetCheckResult, published: bool = True) -> AssetOutcome:
    """orders as the resolver leaves it when ``checks`` failed: on the 3 rows it
    published, or (not ``published``) on its staged rows, which it then did not publish."""
    result = MaterializeResult(table="db.orders", rows=3, seconds=0.1) if published else None
    blocking = [check for check in checks if check.blocking]
    failure = AssetCheckError("orders", "db.orders", blocking)
    error = describe_error(failure)
    return AssetOutcome(
        "orders",
        "db.orders",
        "failed",
        0.2,
        result,
        error=error,
        cause=failure.cause,
        foreseen=True,
        checks=checks,
    )


def _check(name: str, violations: int, severity: str = "error") -> AssetCheckResult:
    return AssetCheckResult(
        "orders", "db.orders", name, severity, False, violations, examples=({"id": 7},)
    )


def _failed(exc: BaseException) -> AssetOutcome:
    """fact_sales as the resolver leaves it when its code raised ``exc``."""
    spec = python_asset("m.fact_sales", lambda context: None)
    said = said_failure(spec, exc)
    foreseen = isinstance(exc, AssetFailure)
    return AssetOutcome(
        "fact_sales", "m.fact_sales", "failed", 0.2, error=said.error, place=said.place,
        cause=said.cause, foreseen=foreseen,
    )  # fmt: skip


def test_a_failed_assets_line_leaves_its_cause_to_stderr():
    """The line said the cause, and so did the report after it: twice on a terminal, and
    twice in a log of both streams. The cause is the report's, on stderr (said once,
    whole, where ``2>`` finds it); the line says that the asset failed, and when."""
    exc = AssetFailure.for_asset(
        "fact_sales", "m.fact_sales", "no such column", Place("sql/fact_sales.sql", 3)
    )
    assert _printed(_failed(exc)) == ["✗ fact_sales  failed  0.20s"]
    assert _printed(_failed(KeyError("run_id"))) == ["✗ fact_sales  failed  0.20s"]


def test_an_asset_that_failed_its_checks_says_the_rows_it_published():
    """Its table holds them: the one failure with rows."""
    one = _failed_checks(_check("no_big_orders", 1), _check("fresh", 1, severity="warn"))
    assert _printed(one) == ["✗ orders  failed (3 rows published)  0.20s"]


def test_an_asset_whose_checks_stopped_its_publish_says_it_published_nothing():
    one = _failed_checks(_check("no_big_orders", 1), published=False)
    assert _printed(one) == ["✗ orders  failed (nothing published)  0.20s"]
