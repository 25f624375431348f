"""The run report on a terminal: the failures' causes stay in view."""

from __future__ import annotations

from io import StringIO

import pytest
from rich.console import Console

from orchestration.report_output import print_report
from orchestration.run_report import AssetOutcome, RunReport

CAUSE = "/data/bad.csv, row 2, column 'Quantity': not a number: 'six'"


def _failed_run(skipped: int) -> RunReport:
    outcomes = [AssetOutcome("raw", "raw.orders", "failed", 0.3, error=CAUSE, foreseen=True)]
    outcomes += [
        AssetOutcome(f"table_{n}", f"db.table_{n}", "skipped", error="upstream failed: raw")
        for n in range(skipped)
    ]
    return RunReport(outcomes=outcomes, flow_run_id=None, seconds=1.0)


def _printed(report: RunReport, *, terminal: bool, width: int = 80) -> list[str]:
    out = StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, color_system=None)
    print_report(report, console)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 200])
def test_on_a_terminal_the_skipped_assets_cause_is_one_line_after_the_failure(width: int):
    """26 lines of "upstream failed: raw_online_retails" after the table pushed the one
    line that says what failed out of an 80x24 terminal's view."""
    lines = _printed(_failed_run(skipped=26), terminal=True, width=width)
    assert sum("upstream failed" in line for line in lines) == 1
    (summary,) = [line for line in lines if "upstream failed" in line]
    assert summary == "  26 assets skipped: upstream failed: raw"
    cause = next(i for i, line in enumerate(lines) if "not a number" in line)
    assert lines.index(summary) > cause  # the failure first, then what it held back
    assert len(lines) - cause < 24


def test_piped_every_row_keeps_its_own_cause_for_scripts():
    lines = _printed(_failed_run(skipped=3), terminal=False)
    rows = [line for line in lines if line.startswith("table_")]
    assert len(rows) == 3 and all(row.endswith("upstream failed: raw") for row in rows)
    assert not any(line.endswith("assets skipped: upstream failed: raw") for line in lines)
