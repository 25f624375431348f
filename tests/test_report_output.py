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
    """The lines ``report`` prints, stdout's and stderr's as one screen shows them."""
    out = StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, color_system=None)
    print_report(report, console)
    return out.getvalue().splitlines()


def _streams(
    report: RunReport, *, terminal: bool, plan: MaterializationPlan | None = None
) -> tuple[list[str], list[str]]:
    """The lines ``report`` prints on stdout, and those on stderr."""
    out, err = StringIO(), StringIO()
    console = Console(file=out, force_terminal=terminal, width=200, color_system=None)
    errors = Console(file=err, force_terminal=terminal, width=200, color_system=None)
    print_report(report, console, plan, error_console=errors)
    return out.getvalue().splitlines(), err.getvalue().splitlines()


@pytest.mark.parametrize("terminal", [True, False])
def test_a_failed_run_says_each_failure_and_its_next_step_on_stderr_and_only_there(
    terminal: bool,
):
    """``pipeline materialize > run.log`` in cron showed nothing of a failure: the causes
    and the rerun were on stdout with the report. They are stderr's now, said once (a
    terminal shows both streams on one screen), each failure as the asset's whole line."""
    failed = AssetOutcome(
        "orders", "m.orders", "failed", 0.3, error=f"{of_asset('orders', 'm.orders')}{CAUSE}",
        cause=CAUSE, foreseen=True,
    )  # fmt: skip
    report = RunReport(outcomes=[failed, ITEMS_BUILT, DAILY_SKIPPED])

    out, err = _streams(report, terminal=terminal, plan=_plan())

    assert err[0] == f"error: asset 'orders' (table m.orders): {CAUSE}", err
    assert err[1].startswith("Next: pipeline materialize --select 'orders+' reruns"), err
    assert len(err) == 2, err
    assert not any(CAUSE in line or line.startswith("Next:") for line in out), out
    assert "Run report: 1 materialized, 1 failed, 1 skipped" in out[0], out


def test_each_asset_a_shared_cause_failed_says_it_on_a_line_of_its_own():
    """Assets running side by side when the warehouse disk filled each failed for it:
    each is a failure, named with its table, as ``grep`` of a log finds it."""
    full = "warehouse disk is full at /data/wh (812.0 KiB free): free space, then run again"
    report = RunReport(
        outcomes=[
            AssetOutcome("sat_a", "v.sat_a", "failed", 0.2, error=full, foreseen=True),
            AssetOutcome("sat_b", "v.sat_b", "failed", 0.2, error=full, foreseen=True),
            AssetOutcome(
                "dim", "m.dim", "skipped", error="did not run: the warehouse disk is full"
            ),
        ]
    )
    out, err = _streams(report, terminal=True)
    assert err == [
        f"error: asset 'sat_a' (table v.sat_a): {full}",
        f"error: asset 'sat_b' (table v.sat_b): {full}",
    ]
    assert "1 asset skipped (did not run: the warehouse disk is full): dim" in out, out


def test_a_successful_runs_next_step_stays_on_stdout():
    report = RunReport(outcomes=[AssetOutcome(s.key, s.table, "materialized") for s in ORDERS])
    out, err = _streams(report, terminal=False, plan=_plan())
    assert err == [] and out[-1].startswith("Next: pipeline query"), (out, err)


@pytest.mark.parametrize("terminal", [True, False])
def test_the_skipped_are_one_line_per_reason_that_names_them_on_a_terminal_and_piped(
    terminal: bool,
):
    """26 rows of "skipped  upstream failed: raw" (piped), or a box of them and then the
    same said as one line (on a terminal): now the one line, naming them, both ways."""
    out, err = _streams(_failed_run(skipped=26), terminal=terminal)
    names = ", ".join(f"table_{n}" for n in range(26))
    folded = f"26 assets skipped (upstream failed: raw): {names}"
    assert [line for line in out if "table_1" in line] == [folded], out  # no row of its own
    assert err == [f"error: asset 'raw' (table raw.orders): {CAUSE}"], err


@pytest.mark.parametrize("terminal", [True, False])
def test_ctrl_c_before_any_asset_finished_names_the_cancelled_in_one_line(terminal: bool):
    """Interrupted before the first asset finished, the report was a box of 29 rows of
    ``cancelled``; after one, that row and ``28 assets cancelled: interrupted``."""
    report = RunReport(
        outcomes=[
            AssetOutcome(key, f"m.{key}", "cancelled", error="interrupted")
            for key in ("orders", "items", "daily")
        ]
    )
    out, _ = _streams(report, terminal=terminal)
    assert out[:2] == [
        "Run report: 0 materialized, 3 cancelled",
        "3 assets cancelled (interrupted): orders, items, daily",
    ], out


def test_piped_each_asset_that_ran_is_one_row_of_the_table():
    report = RunReport(outcomes=[ITEMS_BUILT, AssetOutcome("orders", "m.orders", "materialized")])
    out, _ = _streams(report, terminal=False)
    assert out[:4] == [
        "Run report: 2 materialized",
        "asset   rows  seconds  status",
        "items      -     0.00  materialized",
        "orders     -     0.00  materialized",
    ], out


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


def test_each_failure_names_its_asset_and_table_once():
    """The error block and a piped row's error cell said "orders  asset 'orders' (table
    m.orders) failed its checks: ...": the asset twice. Each failure's line on stderr is
    the asset's own error, named once, whether or not its error named it (a bug's
    ``KeyError`` does not)."""
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
    bug = AssetOutcome("items", "m.items", "failed", 0.1, error="assets/items.py:7: KeyError: 'x'")
    _, err = _streams(RunReport(outcomes=[checks, select, bug]), terminal=False)
    assert err == [
        "error: asset 'orders' (table m.orders): failed its checks: check 'positive' (error): "
        "2 offending rows (3 rows published)",  # checked after its publish: what it left
        "error: asset 'daily' (table m.daily): sql/daily.sql:3: no such column",
        "error: asset 'items' (table m.items): assets/items.py:7: KeyError: 'x'",
    ]


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


def _plan() -> MaterializationPlan:
    """A run of all of ORDERS."""
    return MaterializationPlan(ORDERS, list(ORDERS), [], "*")


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


def test_on_an_80_column_terminal_a_long_failure_is_one_line_the_terminal_wraps():
    """A failure broken at the terminal's width came apart when copied (into a search,
    an issue), as any error line on stderr: the terminal wraps it for the eye."""
    cause = (
        "PushgatewayError: asset 'pipeline_metrics': cannot reach the Pushgateway at "
        "http://127.0.0.1:1/metrics/job/online_retail (check PUSHGATEWAY_URL)"
    )
    failed = AssetOutcome("pipeline_metrics", "q.m", "failed", 0.1, error=cause, foreseen=True)
    lines = _printed(RunReport(outcomes=[failed], flow_run_id=None, seconds=1.0), terminal=True)
    assert f"error: asset 'pipeline_metrics' (table q.m): {cause}" in lines, lines


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
