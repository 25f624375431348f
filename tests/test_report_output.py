"""The run report on a terminal: the failures' causes stay in view, and its last line
names the step that builds what the run left undone."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO

import pytest
from rich.console import Console

from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck, AssetCheckError, AssetCheckResult
from orchestration.errors import Place, describe_error, of_asset
from orchestration.graph import AssetGraph
from orchestration.io_manager import MaterializeResult
from orchestration.report_output import print_check_results, print_report, report_as_json
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport

CAUSE = "/data/bad.csv, line 3, column 'Quantity': not a number: 'six'"


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


def test_on_a_terminal_a_cause_several_assets_failed_for_is_said_once():
    """Assets running side by side when the warehouse disk filled each failed for it: the
    error block said it once per asset, then once per skipped asset before the fix."""
    full = "warehouse disk is full at /data/wh (812.0 KiB free): free space, then run again"
    report = RunReport(
        outcomes=[
            AssetOutcome("sat_a", "v.sat_a", "failed", 0.2, error=full, foreseen=True),
            AssetOutcome("sat_b", "v.sat_b", "failed", 0.2, error=full, foreseen=True),
            AssetOutcome("raw", "raw.orders", "failed", 0.3, error=CAUSE, foreseen=True),
            AssetOutcome(
                "dim", "m.dim", "skipped", error="did not run: the warehouse disk is full"
            ),
        ]
    )

    lines = _printed(report, terminal=True, width=200)

    assert sum("warehouse disk is full at" in line for line in lines) == 1
    assert f"  sat_a, sat_b  {full}" in lines, lines
    assert f"  raw           {CAUSE}" in lines, lines
    assert "  1 asset skipped: did not run: the warehouse disk is full" in lines


def test_piped_every_row_keeps_its_own_cause_for_scripts():
    lines = _printed(_failed_run(skipped=3), terminal=False)
    rows = [line for line in lines if line.startswith("table_")]
    assert len(rows) == 3 and all(row.endswith("upstream failed: raw") for row in rows)
    assert not any(line.endswith("assets skipped: upstream failed: raw") for line in lines)


def test_a_run_says_once_where_the_files_its_assets_wrote_are(tmp_path, monkeypatch):
    """A run that wrote the sales dashboard never said where: the page was for finding in
    the README. One line beside the warehouse's names it, under the working directory
    as a relative path; ``--json`` gives each asset's files whole."""
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "reports" / "sales_dashboard.html"
    elsewhere = "/srv/www/sales.csv"
    built = AssetOutcome(
        "sales_dashboard", "q.sales_dashboard", "materialized", 0.1, files={"dashboard": str(page)}
    )
    export = AssetOutcome("export", "q.export", "materialized", 0.1, files={"export": elsewhere})
    report = RunReport(outcomes=[built, export], warehouses=["chdb:///wh"])
    lines = _printed(report, terminal=False, width=200)
    warehouse = lines.index("Warehouse: chdb:///wh")
    assert lines[warehouse + 1 : warehouse + 3] == [
        "Dashboard: reports/sales_dashboard.html",
        f"Export:    {elsewhere}",
    ], lines
    assets = report_as_json(report)["assets"]
    assert [asset["files"] for asset in assets] == [{"dashboard": str(page)}, {"export": elsewhere}]


def test_a_failure_is_said_beside_its_asset_without_naming_it_again():
    """The error block and a piped row's error cell said "orders  asset 'orders' (table
    m.orders) failed its checks: ...": the asset twice. Its cause alone follows the name,
    a failed check's in plain plurals."""
    checks = _failed_checks("orders", _check("orders"))
    select = AssetOutcome(
        "daily",
        "m.daily",
        "failed",
        0.1,
        error=f"{of_asset('daily', 'm.daily')}sql/daily.sql:3: no such column",
        place=Place("sql/daily.sql", 3),
        cause="no such column",
        foreseen=True,
    )
    report = RunReport(outcomes=[checks, select])
    said = "failed its checks: check 'positive' (error): 2 offending rows"
    on_terminal = _printed(report, terminal=True, width=200)
    assert f"  orders  {said}" in on_terminal, on_terminal
    assert "  daily   sql/daily.sql:3: no such column" in on_terminal, on_terminal
    piped = _printed(report, terminal=False, width=200)
    assert any(line.startswith("orders") and line.endswith(said) for line in piped), piped
    daily = next(line for line in piped if line.startswith("daily"))
    assert daily.endswith("failed  sql/daily.sql:3: no such column"), piped
    assert not any("asset 'orders'" in line or "asset 'daily'" in line for line in piped)


ORDERS = AssetGraph(
    [
        AssetSpec(key="orders", table="m.orders", body=lambda context: "SELECT 1", kind="sql"),
        AssetSpec(key="items", table="m.items", body=lambda context: "SELECT 1", kind="sql"),
        AssetSpec(
            key="daily",
            table="m.daily",
            body=lambda context: "SELECT 1",
            kind="sql",
            deps=("orders", "items"),
        ),
    ]
)


def _check(asset: str, *, error: str | None = None) -> AssetCheckResult:
    """A blocking result: 2 offending rows, or (given ``error``) a check that could not run."""
    return AssetCheckResult(
        asset, f"m.{asset}", "positive", "error", False, None if error else 2, error=error
    )


def _failed_checks(key: str, *checks: AssetCheckResult) -> AssetOutcome:
    """``key`` as the resolver leaves an asset it published whose blocking checks failed."""
    checks = checks or (_check(key),)
    failure = AssetCheckError(key, f"m.{key}", [check for check in checks if check.blocking])
    return AssetOutcome(
        key,
        f"m.{key}",
        "failed",
        0.2,
        MaterializeResult(f"m.{key}", 3, 0.1, inserted_rows=3),
        error=describe_error(failure),
        cause=failure.cause,
        foreseen=True,
        checks=checks,
    )


def _next_line(*outcomes: AssetOutcome, graph: AssetGraph = ORDERS) -> str:
    plan = MaterializationPlan(graph, list(graph), [], "*")
    console = Console(width=1000)
    with console.capture() as captured:
        print_report(RunReport(outcomes=list(outcomes)), console, plan)
    return captured.get().strip().splitlines()[-1]


DAILY_SKIPPED = AssetOutcome("daily", "m.daily", "skipped", failed_upstream=("orders",))
ITEMS_BUILT = AssetOutcome("items", "m.items", "materialized")


def test_after_failed_checks_the_next_step_is_to_fix_the_rows_before_the_rerun():
    """A rerun of unchanged code on unchanged sources fails its checks the same way: the
    line said to rerun, as after a failure that may pass on a second try."""
    line = _next_line(_failed_checks("orders"), ITEMS_BUILT, DAILY_SKIPPED)
    assert line.startswith(
        "Next: fix the rows its check found (or the check), then pipeline materialize "
        "--select 'orders+' reruns the failed asset and the 1 "
        "skipped"
    )


def test_after_several_assets_failed_their_checks_the_fix_names_them_all():
    two = (_check("orders"), replace(_check("orders"), name="unique_ids"))
    line = _next_line(_failed_checks("orders", *two), _failed_checks("items"), DAILY_SKIPPED)
    assert line.startswith(
        "Next: fix the rows their checks found (or the checks), then pipeline materialize "
        "--select 'orders+ or items+' reruns the 2 failed assets"
    )


def test_a_check_that_could_not_run_is_the_thing_to_fix():
    broken = _check("orders", error="Code: 47. Unknown identifier 'amount'")
    line = _next_line(_failed_checks("orders", broken), ITEMS_BUILT, DAILY_SKIPPED)
    assert line.startswith("Next: fix the check that could not run, then pipeline materialize")


def _orders_checked(rebuilds: str | None) -> AssetGraph:
    """ORDERS with the check ``positive`` on orders, declaring ``rebuilds``."""
    check = AssetCheck("positive", "SELECT 1 FROM {table}", rebuilds=rebuilds)
    return AssetGraph(
        [replace(ORDERS["orders"], checks=(check,)), ORDERS["items"], ORDERS["daily"]]
    )


def test_after_a_check_that_declares_its_rebuild_the_next_step_is_that_rebuild():
    """Fixing the rows is not the remedy when upstream tables disagree with the asset:
    the rebuild of what the check compares with is, with what the run left undone."""
    line = _next_line(
        _failed_checks("orders"), ITEMS_BUILT, DAILY_SKIPPED, graph=_orders_checked("items+")
    )
    assert line.startswith(
        "Next: pipeline materialize --select 'items+ or orders+' "
        "rebuilds what check 'positive' compares with, and reruns the failed asset and the "
        "1 skipped"
    )
    covering = _orders_checked("items+ or orders")
    line = _next_line(_failed_checks("orders"), ITEMS_BUILT, DAILY_SKIPPED, graph=covering)
    assert line.startswith("Next: pipeline materialize --select 'items+ or orders' rebuilds")


def test_a_failed_check_without_a_rebuild_keeps_the_fix_the_rows_step():
    undeclared = replace(_check("orders"), name="unique_ids")
    line = _next_line(
        _failed_checks("orders", _check("orders"), undeclared),
        ITEMS_BUILT,
        DAILY_SKIPPED,
        graph=_orders_checked("items+"),
    )
    assert line.startswith("Next: fix the rows its checks found (or the checks), then")


def test_beside_a_failure_that_may_pass_on_a_rerun_the_next_step_is_the_rerun():
    """Only when every failure was its checks is a plain rerun sure to fail again."""
    raised = AssetOutcome("items", "m.items", "failed", 0.1, error=CAUSE, foreseen=True)
    line = _next_line(_failed_checks("orders"), raised, DAILY_SKIPPED)
    assert line.startswith("Next: pipeline materialize --select 'orders+ or items+' reruns")


def test_on_an_80_column_terminal_a_long_cause_continues_under_itself():
    """A cause longer than the line came back to the first column of the terminal."""
    cause = (
        "PushgatewayError: asset 'pipeline_metrics': cannot reach the Pushgateway at "
        "http://127.0.0.1:1/metrics/job/online_retail (check PUSHGATEWAY_URL)"
    )
    failed = AssetOutcome("pipeline_metrics", "q.m", "failed", 0.1, error=cause, foreseen=True)
    lines = _printed(RunReport(outcomes=[failed], flow_run_id=None, seconds=1.0), terminal=True)
    below = lines[lines.index("error:") + 1 : lines.index("Total 1.0 s.")]
    assert below[0].startswith("  pipeline_metrics  PushgatewayError:")
    value_at = len("  pipeline_metrics  ")
    assert len(below) > 1 and all(line[:value_at].isspace() for line in below[1:]), below
    assert all(len(line) <= 80 and not line.endswith(" ") for line in below)
    assert "".join("".join(below).split()) == "pipeline_metrics" + "".join(cause.split())


def test_on_an_80_column_terminal_checks_keep_severity_status_and_violations_whole():
    """``pipeline checks`` read ``pa`` under ``st``: the status is why one runs it."""
    results = [
        AssetCheckResult(asset, f"vault.{asset}", f"{asset}_hash_key_unique", "error", True, 0)
        for asset in ("link_invoice_product", "link_customer_country", "hub_time")
    ]
    out = StringIO()
    print_check_results(
        results,
        Console(file=out, force_terminal=True, width=80, color_system=None),
        show_passed=True,
    )
    lines = out.getvalue().splitlines()
    names = [name.strip() for name in lines[2].strip("┃").split("┃")]
    assert names == ["asset", "check", "severity", "status", "violations"]
    rows = [line.split("│")[3:6] for line in lines[4:] if line.startswith("│")]
    assert [[cell.strip() for cell in row] for row in rows if row[0].strip()] == [
        ["error", "passed", "0"]
    ] * 3
