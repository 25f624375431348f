"""The live lines a terminal run prints, one per finished asset."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from orchestration.io_manager import MaterializeResult
from orchestration.progress import RunProgress
from orchestration.run_report import AssetOutcome


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


def test_an_asset_that_failed_its_checks_shows_its_rows_and_why():
    """It published rows, then its checks failed: the line showed only the rows, as a
    success would, with a cross the only sign."""
    result = MaterializeResult(table="db.orders", rows=3, seconds=0.1)
    error = "asset 'orders' (table db.orders) failed 1 check: no_big_orders (1 row)"
    failed = AssetOutcome("orders", "db.orders", "failed", 0.2, result, error=error)
    assert _printed(failed) == [f"✗ orders  3 rows; {error}  0.20s"]
