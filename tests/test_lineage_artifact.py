"""The lineage artifact's markdown: the run's graph, coloured by outcome, and its table.

Pure rendering, no server: what the Prefect UI receives is checked here line by line;
tests/test_lineage_ui.py checks what the UI makes of it.
"""

from __future__ import annotations

import re

import pytest

from orchestration.artifacts import (
    edges_in,
    lineage_markdown,
    mermaid_block,
    structure_lines,
)
from orchestration.io_manager import MaterializeResult
from orchestration.lineage import to_mermaid
from orchestration.resolver import plan_materialization
from orchestration.run_report import AssetOutcome, RunReport
from tests.lineage_location import defs

SELECTION = "key:fact_sales+"


def _report(plan, failing: str | None = None, error: str = "boom") -> RunReport:
    outcomes = []
    for spec in plan.selected:
        if spec.key == failing:
            outcomes.append(AssetOutcome(spec.key, spec.table, "failed", 0.5, error=error))
        elif failing and failing in plan.graph.ancestors(spec.key):
            outcomes.append(
                AssetOutcome(
                    spec.key,
                    spec.table,
                    "skipped",
                    failed_upstream=(failing,),
                    error=f"upstream failed: {failing}",
                )
            )
        else:
            result = MaterializeResult(table=spec.table, rows=1234, seconds=0.25)
            outcomes.append(AssetOutcome(spec.key, spec.table, "materialized", 0.25, result))
    return RunReport(outcomes=outcomes, flow_run_id="r1", seconds=1.0)


@pytest.fixture
def plan():
    return plan_materialization(defs.graph(), SELECTION)


def _table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| asset "):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells
    return rows


def test_artifact_graph_is_the_lineage_graph_with_run_outcomes(plan):
    report = _report(plan, failing="anomaly_invoice")
    outcomes = {o.key: o.status for o in report.outcomes}
    keys = [spec.key for spec in plan.selected]
    assert mermaid_block(lineage_markdown(plan, report)) == to_mermaid(plan.graph, keys, outcomes)


def test_artifact_graph_has_the_same_structure_as_the_plain_lineage(plan):
    artifact = mermaid_block(lineage_markdown(plan, _report(plan, failing="sales_summary")))
    plain = to_mermaid(plan.graph, [spec.key for spec in plan.selected])
    assert structure_lines(artifact) == structure_lines(plain)
    assert artifact != plain  # only the colours differ


def test_unselected_upstream_is_drawn_dashed_and_listed_as_not_selected(plan):
    markdown = lineage_markdown(plan, _report(plan))
    mermaid = mermaid_block(markdown)
    external = {spec.key for spec in plan.external}
    assert external == {
        "sat_invoice",
        "link_invoice_product",
        "link_invoice_customer",
        "link_invoice_time",
        "link_invoice_country",
        "dim_customer",
    }
    for key in external:
        assert any(line.strip().startswith(f"{key} -.-> ") for line in mermaid.splitlines())
        assert _table_rows(markdown)[key][4] == "not selected"
    assert re.search(r"classDef not_selected .*stroke-dasharray", mermaid)


def test_table_lists_rows_seconds_status_and_error(plan):
    markdown = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    rows = _table_rows(markdown)
    assert rows["fact_sales"][1:] == ["marts.Fact_Sales", "1,234", "0.25", "materialized", "-"]
    assert rows["anomaly_invoice"][2:] == ["-", "0.50", "failed", "boom"]
    assert rows["data_quality"][3:] == ["-", "skipped", "upstream failed: anomaly_invoice"]


def test_errors_cannot_break_the_table_or_inject_html(plan):
    error = "bad | value\nsecond line <script>alert(1)</script>"
    rows = _table_rows(lineage_markdown(plan, _report(plan, "anomaly_invoice", error)))
    cell = rows["anomaly_invoice"][5]
    assert cell == "bad \\| value second line &lt;script&gt;alert(1)&lt;/script&gt;"


def test_long_errors_are_shortened(plan):
    rows = _table_rows(lineage_markdown(plan, _report(plan, "anomaly_invoice", "x" * 5000)))
    assert len(rows["anomaly_invoice"][5]) == 300
    assert rows["anomaly_invoice"][5].endswith("…")


def test_headline_names_the_outcome_and_the_selection(plan):
    markdown = lineage_markdown(plan, _report(plan, failing="anomaly_invoice"))
    first = markdown.splitlines()[0]
    assert first.startswith("## Asset lineage: ")
    assert "1 failed" in first and "skipped" in first
    assert f"`{SELECTION}`" in markdown


def test_mermaid_block_requires_a_mermaid_fence():
    with pytest.raises(ValueError, match="no ```mermaid block"):
        mermaid_block("# just text\n")


def test_edges_in_reads_solid_and_dashed_edges():
    assert edges_in("flowchart TB\n  a --> b\n  c -.-> b\n  class a x\n") == {
        ("a", "b"),
        ("c", "b"),
    }
