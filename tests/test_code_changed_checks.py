"""A failed asset whose own code changed since it last passed its checks: the run blames
the change, not the tables its checks read.

The UI review's scenario: a reviewer added ``AND sat.Quantity < 50`` to ``fact_sales``'
SELECT and ran everything. Its check ``lines_reconcile_with_vault`` failed, and the Next
line said ``pipeline materialize --select 'group:vault+'`` (the rebuild the check
declares), though the same page said each vault table was "rebuilt this run with the same
code and row count", and its state said ``code changed``. That rerun failed the same way,
with the same Next line: a loop.

Real engines: embedded ClickHouse (chdb) and the session's Prefect server, the pages read
back through the Prefect client as the UI reads them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.text import Text

from orchestration.artifacts import LINEAGE_ARTIFACT_KEY
from orchestration.checks import AssetCheck
from orchestration.definitions import Definitions
from orchestration.report_output import next_step, report_as_json
from orchestration.run_report import REBUILT_THE_SAME, MaterializationPlan, RunReport
from tests.checked_dimension_location import CUSTOMER_KEY_RESOLVES, DROP_UNKNOWN
from tests.checked_dimension_location import defs as LOCATION
from tests.test_edited_checks import _terminal
from tests.test_failed_check_reads import _artifact, _as_read, _outcome
from tests.test_failed_check_reads import run_location as _run

pytestmark = pytest.mark.usefixtures("prefect_server")

#: The check as it declares the rebuild that repairs what it finds, as the retail facts'
#: ``lines_reconcile_with_vault`` does (``group:vault+``).
DECLARING_A_REBUILD = replace(CUSTOMER_KEY_RESOLVES, rebuilds="dim_customer+")


def _edited_fact_orders(context) -> str:
    """The reviewer's edit of the facts' SELECT: customer 2's order is given a customer
    the dimension does not have, which their check finds."""
    return "SELECT order_id, if(customer_key = 2, 9, customer_key) AS customer_key FROM cdl.orders"


def _location(*, edited: bool, check: AssetCheck = CUSTOMER_KEY_RESOLVES) -> Definitions:
    """The location, ``fact_orders`` checked by ``check``, its SELECT the reviewer's edit
    if ``edited``."""
    assets = []
    for spec in LOCATION.assets:
        if spec.key == "fact_orders":
            spec = replace(spec, checks=(check,))
            spec = replace(spec, body=_edited_fact_orders) if edited else spec
        assets.append(spec)
    return replace(LOCATION, assets=assets)


def _step(plan: MaterializationPlan, report: RunReport) -> str:
    return Text.from_markup(next_step(plan, report) or "").plain


@pytest.mark.parametrize("check", [CUSTOMER_KEY_RESOLVES, DECLARING_A_REBUILD])
def test_a_check_failing_after_its_assets_own_code_changed_blames_the_code(tmp_path, check):
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, _location(edited=False, check=check))
    assert passing.ok
    then = _outcome(passing, "fact_orders").code_version
    assert then is not None

    # The edit, then a full run: the dimension is rebuilt as it was, the facts' check fails.
    plan, report = _run(warehouse_dir, _location(edited=True, check=check))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    (read,) = fact.checked_reads
    assert read.same == REBUILT_THE_SAME
    assert fact.edited_checks == ()
    now = fact.code_version
    assert now is not None and now != then
    change = fact.code_change
    assert change is not None
    assert (change.built_with, change.now) == (then, now)
    assert change.since.run_id == passing.flow_run_id

    # The Next line names the change and its fix, and reruns the facts alone: the
    # dimension, rebuilt as it was, is not rebuilt again.
    expected = (
        f"fact_orders's code changed since it last passed its checks (built with {then[:8]}, "
        f"now {now[:8]}): fix its SELECT (or the check), then pipeline materialize "
        "--select 'fact_orders+' reruns the failed asset and the 1 skipped"
    )
    assert _step(plan, report) == expected
    (last,) = [line for line in _terminal(plan, report).splitlines() if line.startswith("Next: ")]
    assert last == f"Next: {expected}."

    # --json gives the change as data.
    (as_json,) = [a for a in report_as_json(report)["assets"] if a["key"] == "fact_orders"]
    assert as_json["code_change"] == {
        "built_with": then,
        "now": now,
        "last_passing_run_id": passing.flow_run_id,
        "last_passing_ended": change.since.ended.isoformat(),
    }

    # The failed page and the run's lineage page say the same Next line, its command as code.
    command = "pipeline materialize --select 'fact_orders+'"
    on_page = f"Next: {expected}.".replace(command, f"`{command}`")
    for key in ("asset-fact-orders", LINEAGE_ARTIFACT_KEY):
        page = _as_read(_artifact(report, key)).splitlines()
        assert on_page in page, (key, page)

    # The step as told, the code still edited: the same cause, said again (its command
    # builds the facts and what reads them, the dimension left as it is).
    plan, again = _run(warehouse_dir, _location(edited=True, check=check), "fact_orders+")
    assert _step(plan, again) == expected
    # The code fixed, the step's command passes.
    assert _run(warehouse_dir, _location(edited=False, check=check), "fact_orders+")[1].ok


def test_a_code_change_is_not_blamed_when_a_table_the_check_reads_changed_too(
    tmp_path, monkeypatch
):
    """Both the facts' code and the dimension's changed: the dimension's rebuild (one
    customer fewer) may be what the check found, so the rerun rebuilds it, as before."""
    warehouse_dir = tmp_path / "warehouse"
    assert _run(warehouse_dir, _location(edited=False))[1].ok
    monkeypatch.setenv(DROP_UNKNOWN, "1")
    plan, report = _run(warehouse_dir, _location(edited=True))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    assert fact.code_change is not None
    (read,) = fact.checked_reads
    assert read.same is None and read.rerun
    step = _step(plan, report)
    assert step.startswith("fix the rows its check found (or the check, or dim_customer, "), step
    assert "--select 'dim_customer or fact_orders+'" in step


def test_no_code_change_is_said_without_a_passing_run_or_a_change_since(tmp_path, monkeypatch):
    """A check failing on the code the asset last passed with, or on an asset that never
    passed: nothing to compare with, nothing blamed."""
    warehouse_dir = tmp_path / "warehouse"
    plan, never = _run(warehouse_dir, _location(edited=True))
    assert _outcome(never, "fact_orders").status == "failed"
    assert _outcome(never, "fact_orders").code_change is None
    assert "code changed" not in _step(plan, never)

    assert _run(warehouse_dir, _location(edited=False))[1].ok
    monkeypatch.setenv(DROP_UNKNOWN, "1")  # the dimension's code, not the facts'
    plan, report = _run(warehouse_dir, _location(edited=False))
    assert _outcome(report, "fact_orders").status == "failed"
    assert _outcome(report, "fact_orders").code_change is None
    assert "code changed" not in _step(plan, report)
