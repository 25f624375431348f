"""After a failed run, the ``--select`` that reruns exactly what the run left undone.

Each case is a run of ``tests.example_location`` (orders and customers feed order_facts,
which feeds daily_revenue) that left some assets failed or skipped; the expression the
report prints must select those assets and nothing else, read as simply as it can be.
"""

from __future__ import annotations

import pytest

from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from orchestration.rerun import checked_to_rebuild, rerun_selection
from orchestration.run_report import (
    AssetOutcome,
    CheckedRead,
    MaterializationPlan,
    RunReport,
    Status,
)


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return load_definitions("tests.example_location").graph()


def run(
    graph: AssetGraph, selection: str | None, **statuses: Status
) -> tuple[MaterializationPlan, RunReport]:
    """A plan for ``selection`` and a report in which every selected asset materialized
    unless ``statuses`` says otherwise."""
    selected = graph.select(selection)
    plan = MaterializationPlan(graph=graph, selected=selected, external=[], selection=selection)
    outcomes = [
        AssetOutcome(key=spec.key, table=spec.table, status=statuses.get(spec.key, "materialized"))
        for spec in selected
    ]
    return plan, RunReport(outcomes=outcomes)


def reruns(graph: AssetGraph, expression: str) -> set[str]:
    return {spec.key for spec in graph.select(expression)}


def test_a_failed_asset_and_the_descendants_it_held_back_are_its_plus(graph: AssetGraph) -> None:
    plan, report = run(graph, None, orders="failed", order_facts="skipped", daily_revenue="skipped")
    assert rerun_selection(plan, report) == "orders+"


def test_two_failed_roots_are_joined_with_or(graph: AssetGraph) -> None:
    statuses: dict[str, Status] = {"orders": "failed", "customers": "failed"}
    plan, report = run(graph, None, **statuses, order_facts="skipped", daily_revenue="skipped")
    assert rerun_selection(plan, report) == "orders+ or customers+"


def test_a_selection_that_left_everything_undone_is_rerun_as_it_was(graph: AssetGraph) -> None:
    # orders+ would also run daily_revenue, which this run did not select.
    plan, report = run(graph, "orders or order_facts", orders="failed", order_facts="skipped")
    assert rerun_selection(plan, report) == "orders or order_facts"


def test_a_narrower_selection_bounds_the_descendants(graph: AssetGraph) -> None:
    plan, report = run(graph, "group:raw or order_facts", orders="failed", order_facts="skipped")
    expression = rerun_selection(plan, report)
    assert expression == "(group:raw or order_facts) and orders+"
    assert reruns(graph, expression) == {"orders", "order_facts"}


def test_when_no_shorter_form_is_exact_the_assets_are_named(graph: AssetGraph) -> None:
    # daily_revenue read order_facts as it was (not selected) and materialized.
    plan, report = run(graph, "orders or daily_revenue", orders="failed")
    assert rerun_selection(plan, report) == "orders"


def test_a_status_selection_is_not_reused_since_the_states_have_moved_on(
    graph: AssetGraph,
) -> None:
    selected = graph.select("orders or customers")
    plan = MaterializationPlan(
        graph=graph, selected=selected, external=[], selection="status:missing"
    )
    report = RunReport(
        outcomes=[
            AssetOutcome(key="orders", table="src.orders", status="failed"),
            AssetOutcome(key="customers", table="src.customers", status="cancelled"),
        ]
    )
    assert rerun_selection(plan, report) == "orders or customers"


def test_a_run_that_left_nothing_undone_has_nothing_to_rerun(graph: AssetGraph) -> None:
    plan, report = run(graph, None)
    assert rerun_selection(plan, report) is None


def test_the_next_line_on_a_terminal_colours_only_the_commands(graph: AssetGraph) -> None:
    """Rich's highlighter used to colour the line's brackets, quotes and ``<key>`` at random."""
    from io import StringIO

    from rich.console import Console

    from orchestration.report_output import print_report

    plan, report = run(graph, None)
    out = StringIO()
    print_report(report, Console(file=out, force_terminal=True, width=400), plan)
    (line,) = [text for text in out.getvalue().splitlines() if text.startswith("Next: ")]
    bold, plain = "\x1b[1m", "\x1b[0m"
    commands = (
        f'Next: {bold}pipeline query "SELECT * FROM mart.daily_revenue LIMIT 10"{plain} '
        "reads the tables, "
        f"{bold}pipeline lineage --format mermaid{plain} draws the graph; "
    )
    assert line.startswith(commands)
    assert "\x1b" not in line.removeprefix(commands)  # where to look in the UI: plain text


def test_a_table_a_failed_check_read_is_rebuilt_too_when_rebuilt_by_the_run_or_stale(
    graph: AssetGraph,
) -> None:
    """order_facts failed its check, which reads customers: a rerun leaving that table as
    it is reads the rows the check failed on. Rebuilt by the run (its change may be the
    cause) or stale, it is selected too; fresh and untouched, it is not."""
    plan, report = run(graph, None, order_facts="failed", daily_revenue="skipped")
    facts = report.outcomes[[o.key for o in report.outcomes].index("order_facts")]
    rebuilt = CheckedRead("resolves", "customers", "shop.customers", "rebuilt this run", True)
    facts.checked_reads = (rebuilt,)
    assert rerun_selection(plan, report) == "customers or order_facts+"
    assert checked_to_rebuild(report) == ["customers"]
    fresh = CheckedRead("resolves", "customers", "shop.customers", "not rebuilt, fresh", False)
    facts.checked_reads = (fresh,)
    assert rerun_selection(plan, report) == "order_facts+"
    assert checked_to_rebuild(report) == []


def test_a_checked_table_the_rerun_builds_anyway_is_not_named_twice(graph: AssetGraph) -> None:
    plan, report = run(graph, None, orders="failed", order_facts="skipped", daily_revenue="skipped")
    orders = report.outcomes[[o.key for o in report.outcomes].index("orders")]
    orders.checked_reads = (CheckedRead("c", "order_facts", "t", "not rebuilt, stale", True),)
    assert rerun_selection(plan, report) == "orders+"
