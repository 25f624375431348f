"""A check that failed on another asset's table: what the run says of that table, and a
next step that rebuilds it.

The UI review's scenario: a full run where ``dim_customer``'s code dropped its unknown
customer, so ``fact_sales``' check ``customer_key_resolves`` (which reads
``marts.Dim_Customer``) failed. The pages and the terminal said "fix the rows their checks
found (or the checks), then pipeline materialize --select 'fact_sales+ or
fact_sale_returns+'": after fixing the dimension's code, that command failed the same
way, reading the dimension as it was, and its lineage page listed the dimension among the
upstream "read as they are" without a word of it being stale.

Real engines: embedded ClickHouse (chdb) and the session's Prefect server, the pages read
back through the Prefect client as the UI reads them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from io_managers import ClickHouseIOManager, warehouse_io_manager
from orchestration.artifacts import LINEAGE_ARTIFACT_KEY
from orchestration.asset_state import StateBook
from orchestration.definitions import Definitions
from orchestration.report_output import next_step, print_report
from orchestration.resolver import materialize, plan_materialization
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport
from tests.checked_dimension_location import DROP_UNKNOWN
from tests.checked_dimension_location import defs as LOCATION

pytestmark = pytest.mark.usefixtures("prefect_server")

REPO = Path(__file__).resolve().parents[1]

GRAPH = LOCATION.graph()
VERSION = "[0-9a-f]{8}"
#: What the failing check says of the dimension after a run that rebuilt it without its
#: unknown customer (3 rows before, 2 now).
REBUILT = rf"rebuilt this run: code {VERSION} -> {VERSION}, 3 -> 2 rows"
#: What the dimension's state says once a customer was deleted outside the pipeline.
CHANGED_OUTSIDE = "changed outside the pipeline: holds 2 rows, 3 when built"


def _run(warehouse_dir: Path, selection: str | None) -> tuple[MaterializationPlan, RunReport]:
    return run_location(warehouse_dir, LOCATION, selection)


def run_location(
    warehouse_dir: Path, location: Definitions, selection: str | None = None
) -> tuple[MaterializationPlan, RunReport]:
    """A run of ``selection`` of ``location`` on the embedded warehouse in ``warehouse_dir``
    (also the edited-check and code-change tests' run)."""
    graph = location.graph()
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.setup(location.ddl_paths)
        plan = plan_materialization(graph, selection)
        return plan, materialize(graph, {"warehouse": warehouse}, selection, plan=plan)


def _outcome(report: RunReport, key: str) -> AssetOutcome:
    (outcome,) = [o for o in report.outcomes if o.key == key]
    return outcome


def _artifact(report: RunReport, key: str) -> str:
    """The markdown of the run's artifact ``key`` (a page, or its lineage)."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    this_run = ArtifactFilterFlowRunId(any_=[uuid.UUID(str(report.flow_run_id))])
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=this_run, key=ArtifactFilterKey(any_=[key]))
        )
    return str(artifact.data)


def _as_read(markdown: str) -> str:
    """``markdown`` less its backslash escapes (``-\\>`` is what a reader sees as ``->``); a
    hard line break's backslash stays."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _terminal(plan: MaterializationPlan, report: RunReport) -> str:
    console = Console(record=True, width=400, force_terminal=True, color_system=None)
    print_report(report, console, plan)
    return console.export_text()


def _not_selected_row(lineage: str, key: str) -> str:
    (row,) = [line for line in lineage.splitlines() if line.startswith(f"| [{key}](")]
    return row


def test_a_check_failing_on_a_dimension_the_run_rebuilt_names_it_and_the_rerun_rebuilds_it(
    tmp_path, monkeypatch
):
    warehouse_dir = tmp_path / "warehouse"
    assert _run(warehouse_dir, None)[1].ok

    # The dimension's code drops the unknown customer: a full run rebuilds it, and the
    # facts' check, reading it, fails.
    monkeypatch.setenv(DROP_UNKNOWN, "1")
    plan, report = _run(warehouse_dir, None)
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    (read,) = fact.checked_reads
    assert (read.check, read.asset, read.table) == (
        "customer_key_resolves",
        "dim_customer",
        "cdl.dim_customer",
    )
    assert re.fullmatch(REBUILT, read.change), read.change
    assert read.rerun
    assert fact.edited_checks == ()  # the check is as the passing run had it

    step = Text.from_markup(next_step(plan, report) or "").plain
    assert "fix the rows its check found (or the check, or dim_customer, whose table it " in step
    assert "--select 'dim_customer or fact_orders+'" in step
    assert step.endswith("rebuilds dim_customer and reruns the failed asset and the 1 skipped")
    said = rf"check 'customer_key_resolves' reads cdl\.dim_customer \(dim_customer\), {REBUILT}"
    assert re.search(rf"fact_orders +{said}\n", _terminal(plan, report))

    lineage = _artifact(report, LINEAGE_ARTIFACT_KEY)
    failed = _as_read(lineage.split("**Failed:**", 1)[1].split("\nNext: ", 1)[0])
    link = r"\[dim_customer\]\(\S+\)"
    checked = rf"Check `customer_key_resolves` reads `cdl\.dim_customer` \({link}\), {REBUILT}\."
    assert re.search(checked, failed), failed
    page = _as_read(_artifact(report, "asset-fact-orders")).split("\n")
    assert page[2].startswith(
        "**Failed:** 1 error-severity check failed: customer_key_resolves (1 row). "
    )
    # Its rows are not published: said in the failure too, before what its check read.
    assert page[2].endswith(
        " Nothing was published. The Checks table below shows an example row of each.\\"
    )
    assert re.fullmatch(checked, page[3]), page[:6]

    # The dimension's code is fixed; the rerun a reader took from the old line, which left
    # the dimension out, reads it as it is: stale, and said so.
    monkeypatch.delenv(DROP_UNKNOWN)
    plan, report = _run(warehouse_dir, "fact_orders+")
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    (read,) = fact.checked_reads
    changed = r"code changed \(built with [0-9a-f]{16}, now [0-9a-f]{16}\)"
    assert re.fullmatch(rf"not rebuilt this run, stale: {changed}", read.change), read.change
    assert read.rerun
    step = Text.from_markup(next_step(plan, report) or "").plain
    assert "--select 'dim_customer or fact_orders+'" in step

    lineage = _artifact(report, LINEAGE_ARTIFACT_KEY)
    assert _not_selected_row(lineage, "dim_customer").endswith("| stale: code changed |")
    assert _not_selected_row(lineage, "orders").endswith("| fresh |")
    (warning,) = [line for line in lineage.splitlines() if line.startswith("**Read while stale:**")]
    assert re.search(rf"\[dim_customer\]\(\S+\): {changed}\. This run read its", warning)
    assert "[orders](" not in warning

    # The step's selection rebuilds the dimension first: the facts pass.
    assert _run(warehouse_dir, "dim_customer or fact_orders+")[1].ok


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query the embedded warehouse is asked from now on, as its transport sends it."""
    from io_managers.transport import EmbeddedTransport

    sent: list[str] = []
    query = EmbeddedTransport.query_arrow

    def recording(self: EmbeddedTransport, sql: str, readonly: int = 0):
        sent.append(sql)
        return query(self, sql, readonly)

    monkeypatch.setattr(EmbeddedTransport, "query_arrow", recording)
    return sent


def _fenced(markdown: str, language: str) -> list[str]:
    """The text of each fenced block of ``language`` in ``markdown``."""
    return re.findall(rf"^```{language}\n(.*?)\n```$", markdown, re.M | re.S)


def test_a_failed_run_says_what_it_read_and_how_to_see_the_rows_its_check_found(
    tmp_path, monkeypatch
):
    """The UI review's second scenario: rows deleted from the customers' dimension outside
    the pipeline, and its code changed, then the facts rebuilt alone. Their check fails on
    the deleted customer. The run's lineage said the dimension held the 3 rows its build
    left (it held 2); the failed page gave neither the step to take nor the check's SQL
    (5 examples, no way to list the rest), said the error three times, and the
    dimension's page still said ``fresh`` though the run knew it was stale."""
    warehouse_dir = tmp_path / "warehouse"
    _, full = _run(warehouse_dir, None)
    assert full.ok
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.command("DELETE FROM cdl.dim_customer WHERE customer_key = 2")
    monkeypatch.setenv(DROP_UNKNOWN, "1")
    sent = _recorded(monkeypatch)
    # As the CLI and a deployment run it: on the warehouse the code location declares,
    # which opens the engine on first use and hands each question on.
    declared = warehouse_io_manager(f"chdb://{warehouse_dir}")
    try:
        declared.setup(LOCATION.ddl_paths)
        report = materialize(GRAPH, {"warehouse": declared}, "fact_orders+")
    finally:
        declared.close()
    monkeypatch.undo()  # the recorder and the changed code
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    assert [c.violations for c in fact.checks] == [1]

    # The unselected upstream's rows, counted as the run began, in one statement.
    lineage = _artifact(report, LINEAGE_ARTIFACT_KEY)
    assert "read as they are: the rows each table held as the run began, the run " in lineage
    assert "| 2 (3 when built) |" in _not_selected_row(lineage, "dim_customer")
    assert "| 4 |" in _not_selected_row(lineage, "orders")
    counts = [sql for sql in sent if "count()" in sql and "`cdl`.`orders`" in sql]
    assert len(counts) == 1, counts
    assert "`cdl`.`dim_customer`" in counts[0]

    # The failed page: the run's Next line, the error once, the check's SQL to run.
    page = _artifact(report, "asset-fact-orders")
    (step,) = [line for line in lineage.splitlines() if line.startswith("Next: ")]
    assert step in page.splitlines()
    # The error once: which check found how many rows (its example: in the Checks table).
    assert page.count("customer_key_resolves (1 row)") == 1
    assert "offending row" not in page
    (command,) = _fenced(page, "sh")
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"}
    bin_dir = str(Path(sys.executable).parent)
    shown = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env={
            **env,
            "WAREHOUSE_URL": f"chdb://{warehouse_dir}",
            "PATH": f"{bin_dir}:{env['PATH']}",
            "COLUMNS": "120",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()]
    assert ["order_id", "customer_key"] in rows and ["2", "2"] in rows, shown.stdout

    # The dimension's page, written by the full run and not rebuilt by this one, which
    # read it stale: it says so, as of this run, and why: both changes.
    dimension = _artifact(full, "asset-dim-customer")
    (state,) = [line for line in dimension.splitlines() if line.startswith("| state")]
    assert re.fullmatch(
        r"\| state \| stale \(code changed \(built with [0-9a-f]{16}, now [0-9a-f]{16}\); "
        rf"{CHANGED_OUTSIDE}\) as of run \[fact_orders\+\]\(\S+{report.flow_run_id}\) \|",
        state,
    ), state


def _states(warehouse_dir: Path) -> dict[str, tuple[str, str]]:
    """Each asset's state and why, as ``pipeline status`` judges them."""
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.declare(LOCATION.ddl_paths)
        book = StateBook(GRAPH, {"warehouse": warehouse})
        return {key: (state.state, state.explain()) for key, state in book.states.items()}


def test_a_check_failing_on_a_dimension_changed_outside_the_pipeline_names_it(tmp_path):
    """The UI review's third scenario: a full run, then a customer deleted from the
    dimension outside the pipeline (a lightweight ``DELETE``, which the parts' row counts
    do not see), then the facts rebuilt alone. Their check failed on the deleted customer;
    ``status`` called the dimension fresh, the failure block said "not rebuilt this run,
    fresh", and the Next line's rerun left it out, failing the same way. Only the lineage
    page's rows cell (``2 (3 when built)``) told."""
    warehouse_dir = tmp_path / "warehouse"
    assert _run(warehouse_dir, None)[1].ok
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.command("DELETE FROM cdl.dim_customer WHERE customer_key = 2")
    states = _states(warehouse_dir)
    assert states.pop("dim_customer") == ("stale", CHANGED_OUTSIDE)
    assert set(states.values()) == {("fresh", "fresh")}

    plan, report = _run(warehouse_dir, "fact_orders+")
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    (read,) = fact.checked_reads
    assert read.change == f"not rebuilt this run, stale: {CHANGED_OUTSIDE}"
    assert read.rerun and read.changed_outside
    # Rebuilding it is the likely fix: the step says so first, the rows only after.
    step = Text.from_markup(next_step(plan, report) or "").plain
    assert step.startswith("dim_customer's table was changed outside the pipeline: pipeline ")
    assert "--select 'dim_customer or fact_orders+'" in step
    assert step.endswith(
        "rebuilds dim_customer and reruns the failed asset and the 1 skipped; "
        "if its check fails again, fix the rows it found (or the check)"
    )
    said = f"check 'customer_key_resolves' reads cdl.dim_customer (dim_customer), {read.change}"
    assert f"fact_orders  {said}\n" in _terminal(plan, report)

    lineage = _as_read(_artifact(report, LINEAGE_ARTIFACT_KEY))
    failed = lineage.split("**Failed:**", 1)[1].split("\nNext: ", 1)[0]
    link = r"\[dim_customer\]\(\S+\)"
    checked = (
        rf"Check `customer_key_resolves` reads `cdl\.dim_customer` \({link}\), "
        rf"not rebuilt this run, stale: {CHANGED_OUTSIDE}\."
    )
    assert re.search(checked, failed), failed
    (said,) = [line for line in lineage.splitlines() if line.startswith("Next: ")]
    assert said.startswith("Next: dim_customer's table was changed outside the pipeline: ")
    assert "--select 'dim_customer or fact_orders+'" in said
    assert "| 2 (3 when built) |" in _not_selected_row(lineage, "dim_customer")
    assert _not_selected_row(lineage, "dim_customer").endswith("| stale: changed outside |")
    (warning,) = [line for line in lineage.splitlines() if line.startswith("**Read while stale:**")]
    assert re.search(rf"\[dim_customer\]\(\S+\): {CHANGED_OUTSIDE}\. This run read", warning)
    page = _as_read(_artifact(report, "asset-fact-orders")).split("\n")
    assert re.fullmatch(checked, page[3]), page[:6]

    # The step's selection rebuilds the dimension first: the facts pass, all is fresh.
    assert _run(warehouse_dir, "dim_customer or fact_orders+")[1].ok
    assert set(_states(warehouse_dir).values()) == {("fresh", "fresh")}
