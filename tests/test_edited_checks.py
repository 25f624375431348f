"""A check edited since its asset last passed it: the run says so, and to fix the check.

The UI review's scenario: a reviewer changed ``NOT IN`` to ``IN`` in the facts'
``*_key_resolves`` checks and ran everything. The failed page and the Next line told them
to rebuild the four dimensions (which the page itself said were "rebuilt this run: same
code, 4,002 rows as before"), History said ``code version unchanged`` (a check is not part
of the code version, by design), and nothing said a check had been edited: the cause.

Real engines: embedded ClickHouse (chdb) and the session's Prefect server, the pages read
back through the Prefect client as the UI reads them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from rich.console import Console
from rich.text import Text

from io_managers import ClickHouseIOManager, warehouse_io_manager
from io_managers.history import LAYOUT
from orchestration.artifacts import LINEAGE_ARTIFACT_KEY
from orchestration.asset_state import StateBook
from orchestration.check_versions import NORMALISED, EditedCheck, check_versions, edited_since
from orchestration.checks import AssetCheck, AssetCheckResult
from orchestration.definitions import Definitions, load_definitions
from orchestration.history import MaterializationRecord
from orchestration.report_output import next_step, print_report, report_as_json
from orchestration.run_report import MaterializationPlan, RunReport
from tests.checked_dimension_location import CUSTOMER_KEY_RESOLVES, DROP_UNKNOWN
from tests.checked_dimension_location import defs as LOCATION
from tests.test_failed_check_reads import _artifact, _as_read, _outcome
from tests.test_failed_check_reads import run_location as _run

pytestmark = pytest.mark.usefixtures("prefect_server")

#: The reviewer's edit: ``NOT IN`` made ``IN``, which finds every order.
EDITED = replace(CUSTOMER_KEY_RESOLVES, sql=CUSTOMER_KEY_RESOLVES.sql.replace(" NOT IN ", " IN "))
#: The check as a reviewer re-indented it: line breaks, comments, keywords in lower case.
REFORMATTED = replace(
    CUSTOMER_KEY_RESOLVES,
    sql="""
    -- an order whose customer the dimension does not have
    select order_id, customer_key
      from {table}
     where customer_key not in (
               select customer_key from cdl.dim_customer  /* every customer known */
           )
""",
)
#: A warn check that finds the order of the unknown customer (key 0): the asset passes.
UNKNOWN_CUSTOMER = AssetCheck(
    "no_unknown_customer",
    "SELECT order_id FROM {table} WHERE customer_key = 0",
    severity="warn",
)
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def _location(*checks: AssetCheck) -> Definitions:
    """The location with ``fact_orders``' checks made ``checks``."""
    assets = [
        replace(spec, checks=checks) if spec.key == "fact_orders" else spec
        for spec in LOCATION.assets
    ]
    return replace(LOCATION, assets=assets)


def _terminal(plan: MaterializationPlan, report: RunReport) -> str:
    console = Console(record=True, width=400, force_terminal=True, color_system=None)
    print_report(report, console, plan)
    return console.export_text()


def _step(plan: MaterializationPlan, report: RunReport) -> str:
    return Text.from_markup(next_step(plan, report) or "").plain


def test_a_failed_check_edited_since_its_asset_last_passed_says_so_and_to_fix_it(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, LOCATION)
    assert passing.ok

    # The reviewer's edit, then a full run: the dimension is rebuilt as it was, and the
    # edited check fails on every order.
    plan, report = _run(warehouse_dir, _location(EDITED))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    (read,) = fact.checked_reads
    assert read.change == "rebuilt this run: same code, 3 rows as before"
    (edited,) = fact.edited_checks
    assert (edited.check, edited.asset, edited.added, edited.sql_edited) == (
        "customer_key_resolves",
        "fact_orders",
        False,
        True,
    )
    assert (edited.severity_then, edited.severity_now) == ("error", "error")
    assert edited.since.run_id == passing.flow_run_id
    said = (
        rf"check 'customer_key_resolves' was edited \(its SQL\) since fact_orders's last "
        rf"passing run \({TIME}, flow run {passing.flow_run_id}\)"
    )
    assert re.fullmatch(said, edited.said()), edited.said()

    # The terminal: the edit beside the failure, and the Next line fixes the check first.
    terminal = _terminal(plan, report)
    assert re.search(rf"\n +fact_orders +{said}\n", terminal), terminal
    step = _step(plan, report)
    assert step.startswith(
        "check 'customer_key_resolves' was edited since fact_orders's last passing run: "
        "fix the check (or, if it is right, the rows it found), then pipeline materialize "
    ), step
    (last,) = [line for line in terminal.splitlines() if line.startswith("Next: ")]
    assert last.startswith("Next: check 'customer_key_resolves' was edited since ")

    # --json gives it as data.
    (as_json,) = [a for a in report_as_json(report)["assets"] if a["key"] == "fact_orders"]
    (given,) = as_json["edited_checks"]
    assert given == {
        "check": "customer_key_resolves",
        "asset": "fact_orders",
        "added": False,
        "sql_edited": True,
        "severity_then": "error",
        "severity_now": "error",
        "last_passing_run_id": passing.flow_run_id,
        "last_passing_ended": edited.since.ended.isoformat(),
    }

    # The failed page says it right under the error, and the run's Next line after.
    page = _as_read(_artifact(report, "asset-fact-orders")).split("\n")
    assert page[2].startswith("**Failed:** 1 error-severity check failed: customer_key_resolves")
    # the page keeps a time on one line: non-breaking hyphens and spaces
    linked = rf"\[{TIME.replace(' ', '.').replace('-', '.')}\]\(\S+{passing.flow_run_id}\S*\)"
    on_page = (
        rf"Check `customer_key_resolves` was edited \(its SQL\) since fact_orders's last "
        rf"passing run \({linked}\)\.\\"
    )
    assert re.fullmatch(on_page, page[3]), page[:6]
    assert any(line.startswith("Next: check 'customer_key_resolves' was edited") for line in page)
    lineage = _as_read(_artifact(report, LINEAGE_ARTIFACT_KEY))
    assert re.search(on_page.removesuffix(r"\\"), lineage), lineage

    # An edited check is no code change (docs/state.md): the state says the failed run.
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.declare(LOCATION.ddl_paths)
        state = StateBook(_location(EDITED).graph(), {"warehouse": warehouse}).states
    kinds = [reason.kind for reason in state["fact_orders"].reasons]
    assert "last_run_failed" in kinds and "code_changed" not in kinds, kinds

    # Run again as edited: still said, since the last *passing* run, not the failed one.
    plan, again = _run(warehouse_dir, _location(EDITED), "fact_orders+")
    (edited,) = _outcome(again, "fact_orders").edited_checks
    assert edited.since.run_id == passing.flow_run_id

    # The check as it was passes again.
    _, fixed = _run(warehouse_dir, LOCATION, "fact_orders+")
    assert fixed.ok


def test_a_check_made_blocking_or_added_since_the_last_pass_is_said(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, _location(CUSTOMER_KEY_RESOLVES, UNKNOWN_CUSTOMER))
    assert passing.ok  # the warn check found the unknown customer's order, and passed

    blocking = replace(UNKNOWN_CUSTOMER, severity="error")
    plan, report = _run(warehouse_dir, _location(CUSTOMER_KEY_RESOLVES, blocking))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    said = {edited.check: edited.said() for edited in fact.edited_checks}
    since = rf"since fact_orders's last passing run \({TIME}, flow run {passing.flow_run_id}\)"
    assert list(said) == ["no_unknown_customer"]
    assert re.fullmatch(
        rf"check 'no_unknown_customer' was edited \(severity warn -> error\) {since}",
        said["no_unknown_customer"],
    )
    # A check of a name the last pass did not have (the reviewer's edit, named anew).
    added = replace(EDITED, name="every_order_resolves")
    plan, report = _run(warehouse_dir, _location(CUSTOMER_KEY_RESOLVES, added))
    (edited,) = _outcome(report, "fact_orders").edited_checks
    assert edited.added and edited.severity_then is None
    assert re.fullmatch(rf"check 'every_order_resolves' was added {since}", edited.said())
    assert _step(plan, report).startswith(
        "check 'every_order_resolves' was added since fact_orders's last passing run: fix the "
        "check (or, if it is right, the rows it found), then "
    )


def test_a_warehouse_whose_history_predates_check_versions_runs_and_is_upgraded(tmp_path):
    """A history table as the previous version laid it out (no ``check_versions``): a run
    reads it, says nothing of an edit it cannot know, and its first write adds the column,
    keeping every row; from then on the edit is said."""
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, LOCATION)
    assert passing.ok
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.command("ALTER TABLE _pipeline.materializations DROP COLUMN check_versions")
        previous = "pipeline materialization history, layout 2: one-row parts packed"
        warehouse.command(f"ALTER TABLE _pipeline.materializations MODIFY COMMENT '{previous}'")

    plan, report = _run(warehouse_dir, _location(EDITED))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    assert fact.edited_checks == ()
    assert _step(plan, report).startswith("fix the rows its check found (or the check, ")
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        rows = warehouse.query_arrow(
            "SELECT status, check_versions FROM _pipeline.materializations FINAL "
            "WHERE asset_key = 'fact_orders' ORDER BY started"
        ).to_pylist()
        (comment,) = warehouse.query_arrow(
            "SELECT comment FROM system.tables "
            "WHERE database = '_pipeline' AND name = 'materializations'"
        ).to_pylist()
    assert comment["comment"] == LAYOUT
    assert [row["status"] for row in rows] == ["materialized", "failed"]
    assert rows[0]["check_versions"] is None  # the older row, kept as it was
    assert '"customer_key_resolves"' in rows[1]["check_versions"]

    # Passing once with the check as it is records it; an edit after that is said.
    assert _run(warehouse_dir, LOCATION, "fact_orders+")[1].ok
    _, report = _run(warehouse_dir, _location(EDITED), "fact_orders+")
    (edited,) = _outcome(report, "fact_orders").edited_checks
    assert edited.check == "customer_key_resolves" and edited.sql_edited


def test_a_failed_check_only_reformatted_since_its_asset_last_passed_is_not_said_edited(
    tmp_path, monkeypatch
):
    """The check finds the order whose customer the dimension's edit dropped: that is the
    cause, and the check's new indentation, comments and keyword case are none."""
    warehouse_dir = tmp_path / "warehouse"
    assert _run(warehouse_dir, LOCATION)[1].ok
    monkeypatch.setenv(DROP_UNKNOWN, "1")

    plan, report = _run(warehouse_dir, _location(REFORMATTED))
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    assert fact.edited_checks == ()
    assert "was edited" not in _terminal(plan, report)
    assert _step(plan, report).startswith("fix the rows its check found (or the check, ")
    (as_json,) = [a for a in report_as_json(report)["assets"] if a["key"] == "fact_orders"]
    assert as_json["edited_checks"] == []

    # Its NOT IN made IN, in the same layout: an edit, said as one.
    now_in = replace(REFORMATTED, sql=REFORMATTED.sql.replace(" not in ", " in "))
    _, report = _run(warehouse_dir, _location(now_in), "fact_orders+")
    (edited,) = _outcome(report, "fact_orders").edited_checks
    assert (edited.check, edited.sql_edited) == ("customer_key_resolves", True)


def test_a_check_unchanged_since_a_pass_an_older_version_recorded_is_not_said_edited(
    tmp_path, monkeypatch
):
    """A record written before check versions hashed the SQL's normal form holds the hash
    of its text as written: the check as it was is not edited, a changed one is."""
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, LOCATION)
    assert passing.ok
    as_written = hashlib.sha256(CUSTOMER_KEY_RESOLVES.sql.encode()).hexdigest()[:16]
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        history = warehouse.history()
        passed = history.latest({"fact_orders": "cdl.fact_orders"})["fact_orders"].last_success
        assert passed is not None and passed.run_id == passing.flow_run_id
        older = {"customer_key_resolves": {"sql": as_written, "severity": "error"}}
        history.record(replace(passed, check_versions=older))  # as the older version did
    monkeypatch.setenv(DROP_UNKNOWN, "1")

    _, report = _run(warehouse_dir, LOCATION)
    fact = _outcome(report, "fact_orders")
    assert fact.status == "failed"
    assert fact.edited_checks == ()

    _, report = _run(warehouse_dir, _location(EDITED), "fact_orders+")
    (edited,) = _outcome(report, "fact_orders").edited_checks
    assert (edited.check, edited.sql_edited) == ("customer_key_resolves", True)
    assert edited.since.run_id == passing.flow_run_id


KEY_IS_KNOWN = AssetCheck(
    "key_is_known",
    "SELECT order_id FROM {table} WHERE customer_key NOT IN (0, 7) AND status = 'open'",
)


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param(
            """
            SELECT order_id
              FROM {table}
             WHERE customer_key NOT IN (0, 7)
               AND status = 'open'
            """,
            id="re-indented",
        ),
        pytest.param(
            "-- orders of no known customer\n"
            "SELECT order_id FROM {table} /* the facts */ "
            "WHERE customer_key NOT IN (0, 7) AND status = 'open' -- open ones only",
            id="commented",
        ),
        pytest.param(
            "select order_id from {table} where customer_key not in (0, 7) and status = 'open'",
            id="keyword-case",
        ),
    ],
)
def test_a_check_whose_sql_was_only_reformatted_is_not_edited(tmp_path, sql):
    analyser = warehouse_io_manager(f"chdb://{tmp_path / 'warehouse'}")
    assert _edited(KEY_IS_KNOWN, replace(KEY_IS_KNOWN, sql=sql), analyser) == ()


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param("NOT IN (0, 7)", "IN (0, 7)", id="not-in-made-in"),
        pytest.param("(0, 7)", "(0, 8)", id="a-number"),
        pytest.param("'open'", "'Open'", id="a-string's-case"),
        pytest.param("'open'", "' open'", id="a-string's-spaces"),
        pytest.param("status", "Status", id="a-column's-case"),
        pytest.param("{table}", "cdl.fact_orders", id="its-table-named"),
    ],
)
def test_a_check_whose_sql_reads_differently_is_edited(tmp_path, old, new):
    analyser = warehouse_io_manager(f"chdb://{tmp_path / 'warehouse'}")
    changed = replace(KEY_IS_KNOWN, sql=KEY_IS_KNOWN.sql.replace(old, new))
    (edited,) = _edited(KEY_IS_KNOWN, changed, analyser)
    assert edited.sql_edited and not edited.added


def test_a_severity_change_of_a_reformatted_check_is_said_alone(tmp_path):
    analyser = warehouse_io_manager(f"chdb://{tmp_path / 'warehouse'}")
    warned = replace(KEY_IS_KNOWN, severity="warn")
    lowered = KEY_IS_KNOWN.sql.replace("SELECT", "select").replace(" WHERE", "\n  WHERE")
    (edited,) = _edited(warned, replace(KEY_IS_KNOWN, sql=lowered), analyser)
    assert not edited.sql_edited
    assert edited.what == " (severity warn -> error)"


def test_a_check_that_does_not_parse_is_versioned_by_its_text(tmp_path):
    """Its SQL is refused where the check runs; its version must not fail the run."""
    analyser = warehouse_io_manager(f"chdb://{tmp_path / 'warehouse'}")
    broken = AssetCheck("broken", "SELECT order_id FROM {table} WHERE ((")
    (version,) = check_versions([broken], analyser).values()
    assert version["sql"] == hashlib.sha256(broken.sql.encode()).hexdigest()[:16]
    assert _edited(broken, broken, analyser) == ()
    (edited,) = _edited(broken, replace(broken, sql=f"  {broken.sql}"), analyser)
    assert edited.sql_edited


def test_every_shipped_check_is_versioned_by_its_normal_form(tmp_path):
    """None of the retail checks falls back to its text: each parses, ``{table}`` and all."""
    defs = load_definitions("assets")
    analyser = warehouse_io_manager(f"chdb://{tmp_path / 'warehouse'}")
    checks = [check for spec in defs.assets for check in spec.checks]
    assert len(checks) >= 20
    for check in checks:
        (version,) = check_versions([check], analyser).values()
        assert version["sql"].startswith(NORMALISED), check.name


def _edited(before: AssetCheck, after: AssetCheck, analyser) -> tuple[EditedCheck, ...]:
    """What a failure of ``after`` says of it, when its asset last passed with ``before``."""
    passed = MaterializationRecord(
        materialization_id="m-1",
        asset_key="fact_orders",
        table="cdl.fact_orders",
        code_version="0" * 16,
        started=datetime(2026, 12, 8, 10, 31, tzinfo=UTC),
        status="materialized",
        check_versions=check_versions([before], analyser),
    )
    failed = AssetCheckResult(
        asset="fact_orders",
        table="cdl.fact_orders",
        name=after.name,
        severity=after.severity,
        passed=False,
        violations=1,
    )
    return edited_since([failed], check_versions([after], analyser), passed, [after])
