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


def test_a_failure_whose_error_spans_lines_is_still_one_line():
    error = "SourceError: x.csv, line 7: a quote never closed:\n'536365,22752,\"SET 7'\nmore"
    failed = AssetOutcome("ingest", "raw.ingest", "failed", 0.2, error=error)
    assert _printed(failed) == ["✗ ingest  SourceError: x.csv, line 7: a quote never closed: "
                     "'536365,22752,\"SET 7' more  0.20s"]  # fmt: skip


def _failed_checks(*checks: AssetCheckResult) -> AssetOutcome:
    """orders as the resolver leaves it when it published 3 rows and ``checks`` failed."""
    result = MaterializeResult(table="db.orders", rows=3, seconds=0.1)
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


def test_an_asset_that_failed_its_checks_says_why_first_then_the_rows_it_published():
    """The line read "✗ orders  3 rows; asset 'orders' (table db.orders) failed its
    checks: ... 1 offending row(s) ...": the count first, as a success's, then the asset
    named again. The cause comes first now, in plain plurals, and the rows are said to be
    published (the table holds them)."""
    one = _failed_checks(_check("no_big_orders", 1), _check("fresh", 1, severity="warn"))
    assert _printed(one) == [
        "✗ orders  failed its checks: check 'no_big_orders' (error): 1 offending row, "
        "e.g. {id=7} (3 rows published)  0.20s"
    ]
    two = _failed_checks(_check("no_big_orders", 2), _check("unique_ids", 1_200))
    assert _printed(two) == [
        "✗ orders  failed its checks: check 'no_big_orders' (error): 2 offending rows, "
        "e.g. {id=7}; check 'unique_ids' (error): 1,200 offending rows, e.g. {id=7} "
        "(3 rows published)  0.20s"
    ]


def _failed(exc: BaseException) -> AssetOutcome:
    """fact_sales as the resolver leaves it when its code raised ``exc``."""
    spec = python_asset("m.fact_sales", lambda context: None)
    said = said_failure(spec, exc)
    foreseen = isinstance(exc, AssetFailure)
    return AssetOutcome(
        "fact_sales", "m.fact_sales", "failed", 0.2, error=said.error, place=said.place,
        cause=said.cause, foreseen=foreseen,
    )  # fmt: skip


def test_a_failure_does_not_name_again_the_asset_its_line_starts_with():
    """`✗ fact_sales  asset 'fact_sales' (table m.fact_sales): ...` said the name twice:
    the line gives the place and cause the error keeps apart, not its lead."""
    exc = AssetFailure.for_asset(
        "fact_sales", "m.fact_sales", "no such column", Place("sql/fact_sales.sql", 3)
    )
    assert str(exc).startswith("asset 'fact_sales' (table m.fact_sales): ")
    assert _printed(_failed(exc)) == ["✗ fact_sales  sql/fact_sales.sql:3: no such column  0.20s"]


def test_an_unforeseen_failure_keeps_its_class_beside_the_name():
    """A bug's error names no asset; its class is the kind of bug, kept."""
    assert _printed(_failed(KeyError("run_id"))) == ["✗ fact_sales  KeyError: 'run_id'  0.20s"]
