"""Asset checks: each retail check catches the breakage it exists for; error checks fail
the asset and skip its descendants, warnings do not; results reach the run report, the
Prefect asset events and ``pipeline checks``.

Real engines throughout: embedded ClickHouse (chdb) and a temporary Prefect server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

import assets
from assets.checks import CHECKS, FACT_DIMENSIONS
from assets.sources import loaded_source_sql, synthetic
from assets.vault import VAULT
from io_managers import ClickHouseIOManager
from io_managers.errors import MaterializationError, WarehouseQueryError
from orchestration.asset import AssetSpec
from orchestration.checks import AssetCheck, AssetCheckError, evaluate_checks
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from orchestration.report_output import print_report, report_as_json
from orchestration.resolver import materialize, plan_materialization
from orchestration.run_report import RunReport
from tests.checks_location import defs as CHECKS_LOCATION
from tests.checks_location import run_pipeline
from tests.retail_seed import open_seeded
from tests.retail_support import expected_from, write_source

REPO = Path(__file__).resolve().parents[1]
RETAIL = {spec.key: spec for spec in load_definitions(assets.__name__).assets}
#: Hubs and links -> their hash key, which a check keeps unique across loads.
KEYED_VAULT = {t.key: f"{t.key}_hash_key" for t in VAULT if t.role != "satellite"}


def retail_spec(key: str) -> AssetSpec:
    """The pipeline's own declaration of ``key``, with the checks it declares."""
    return RETAIL[key]


@pytest.fixture
def seeded(tmp_path):
    warehouse = open_seeded(tmp_path / "warehouse")
    yield warehouse
    warehouse.close()


# --------------------------------------------------------------------- retail checks


def _duplicate_one_row(table: str) -> str:
    return f"INSERT INTO vault.{table} SELECT * FROM vault.{table} LIMIT 1"


NO_SUCH_KEY = "00000000-0000-4000-8000-000000000001"


def _orphan_fact(table: str, column: str) -> str:
    """A fact row's ``column`` changed to a key no dimension has (its line stays whole)."""
    return (
        f"ALTER TABLE {table} UPDATE {column} = toUUID('{NO_SUCH_KEY}') "
        f"WHERE sale_id IN (SELECT min(sale_id) FROM {table}) SETTINGS mutations_sync = 1"
    )


BREAKAGES = [
    *[
        pytest.param(table, f"{column}_unique", [_duplicate_one_row(table)], id=f"{table}-dup")
        for table, column in KEYED_VAULT.items()
    ],
    *[
        pytest.param(
            key,
            f"{column}_resolves",
            [_orphan_fact(table, column)],
            id=f"{key}-{column}-orphan",
        )
        for key, table in (
            ("fact_sales", "marts.Fact_Sales"),
            ("fact_sale_returns", "marts.Fact_Sale_Returns"),
        )
        for column in FACT_DIMENSIONS
    ],
    pytest.param(
        "fact_sales",
        "lines_reconcile_with_vault",
        ["DELETE FROM marts.Fact_Sales WHERE invoice_no = '536369'"],
        id="fact_sales-line-missing",
    ),
    pytest.param(
        "fact_sales",
        "lines_reconcile_with_vault",
        ["INSERT INTO marts.Fact_Sales SELECT * FROM marts.Fact_Sale_Returns"],
        id="fact_sales-holds-a-return",
    ),
    pytest.param(
        "fact_sales",
        "lines_reconcile_with_vault",
        ["INSERT INTO marts.Fact_Sales SELECT * FROM marts.Fact_Sales WHERE invoice_no = '536369'"],
        id="fact_sales-line-twice",
    ),
    pytest.param(
        "fact_sales",
        "lines_reconcile_with_vault",
        [
            "INSERT INTO vault.sat_invoice_status SELECT hub_invoice_hash_key, 1, "
            "LOAD_DATETIME + 1, 'later.csv' FROM vault.hub_invoice WHERE InvoiceNo = '536369'"
        ],
        id="fact_sales-holds-a-retracted-line",
    ),
    pytest.param(
        "fact_sale_returns",
        "lines_reconcile_with_vault",
        [
            "INSERT INTO marts.Fact_Sale_Returns SELECT * REPLACE (generateUUIDv4() AS sale_id) "
            "FROM marts.Fact_Sale_Returns"
        ],
        id="fact_sale_returns-row-without-line",
    ),
    pytest.param(
        "data_quality",
        "missing_customer_id_ratio",
        ["INSERT INTO quality.data_quality VALUES ('2024-01-03', 0.45, 0, 0, 20, 0, 0, 9, 20, 0)"],
        id="data_quality-ratio",
    ),
    pytest.param(
        "sales_summary",
        "volume_matches_fact_sales",
        # Same date and version: under FINAL the later insert replaces the day's row.
        ["INSERT INTO quality.sales_summary VALUES ('2010-12-02', 0, 2.55, 1.275, 1.275, 3.55)"],
        id="sales_summary-volume-differs",
    ),
    pytest.param(
        "sales_summary",
        "volume_matches_fact_sales",
        ["INSERT INTO quality.sales_summary VALUES ('2010-12-25', 1, 1, 1, 1, 1)"],
        id="sales_summary-day-without-sales",
    ),
    pytest.param(
        "sales_summary",
        "volume_matches_fact_sales",
        ["DELETE FROM quality.sales_summary WHERE sales_date = '2010-12-03'"],
        id="sales_summary-day-missing",
    ),
]


def test_every_retail_check_passes_on_consistent_data(seeded):
    results = [r for key in CHECKS for r in evaluate_checks(retail_spec(key), seeded)]
    assert len(results) == sum(len(checks) for checks in CHECKS.values())
    assert [r.summary() for r in results if r.status != "passed"] == []


def test_every_retail_check_passes_after_a_real_pipeline_run(tmp_path):
    graph = load_definitions(assets.__name__).graph()
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(assets.DDL_PATHS)
        # Every retail table (checks read dimensions that are not their asset's upstream).
        for spec in graph.topological(spec.key for spec in graph if spec.group != "metrics"):
            context = AssetContext(
                spec=spec,
                io_manager=warehouse,
                load_datetime=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
                params={"source": "synthetic:3000:11"},
            )
            warehouse.materialize(spec, context)
        results = [r for spec in RETAIL.values() for r in evaluate_checks(spec, warehouse)]
    assert len(results) == sum(len(spec.checks) for spec in RETAIL.values()) > len(CHECKS)
    assert [r.summary() for r in results if r.status != "passed"] == []


@pytest.mark.parametrize(("key", "check", "breakage"), BREAKAGES)
def test_each_retail_check_catches_its_breakage(seeded, key, check, breakage):
    for statement in breakage:
        seeded.command(statement)
    results = {r.name: r for r in evaluate_checks(retail_spec(key), seeded)}

    broken = results.pop(check)
    assert broken.status == ("warning" if broken.severity == "warn" else "failed")
    assert broken.violations and broken.violations >= 1
    assert broken.examples, "a failing check shows offending rows"
    assert {r.status for r in results.values()} <= {"passed"}, "only the broken rule fails"


def test_severities_match_the_rules():
    assert CHECKS["data_quality"][0].severity == "warn"
    error_checks = [c for key, checks in CHECKS.items() if key != "data_quality" for c in checks]
    assert {c.severity for c in error_checks} == {"error"}
    for key, column in KEYED_VAULT.items():
        assert [c.name for c in RETAIL[key].checks] == [f"{column}_unique"], key
        assert RETAIL[key].unique_key == (column,), "the check guards the key the schema states"


def test_volume_check_example_names_the_day_and_both_volumes(seeded):
    seeded.command(
        "INSERT INTO quality.sales_summary VALUES ('2010-12-02', 0, 2.55, 1.275, 1.275, 3.55)"
    )
    [result] = evaluate_checks(retail_spec("sales_summary"), seeded)
    assert result.violations == 1
    assert result.examples[0] == {
        "sales_date": "2010-12-02",
        "summary_volume": 3.55,
        "fact_sales_volume": 2.55,
    }


def test_vault_reconciliation_names_each_problem_and_the_vault_tables_a_line_lacks(seeded):
    links = _links()
    fact_row = "SELECT * FROM marts.Fact_Sales LIMIT 1"
    seeded.command("DELETE FROM marts.Fact_Sales WHERE invoice_no = '536369'")
    seeded.command("INSERT INTO marts.Fact_Sales SELECT * FROM marts.Fact_Sale_Returns")
    seeded.command(  # the A line's key
        "INSERT INTO marts.Fact_Sales SELECT * REPLACE ((SELECT hub_invoice_hash_key FROM "
        "vault.hub_invoice WHERE InvoiceNo = 'A563185') AS sale_id, 'A563185' AS invoice_no) "
        f"FROM ({fact_row})"
    )
    seeded.command(
        "INSERT INTO marts.Fact_Sales SELECT * REPLACE (generateUUIDv4() AS sale_id, "
        f"'999999' AS invoice_no) FROM ({fact_row})"
    )
    seeded.command(  # a line only the hub has
        "INSERT INTO vault.hub_invoice SELECT generateUUIDv4(), '000001', InvoiceDate, "
        "LOAD_DATETIME, 'late.csv' FROM vault.hub_invoice LIMIT 1"
    )
    results = {r.name: r for r in evaluate_checks(retail_spec("fact_sales"), seeded)}

    result = results["lines_reconcile_with_vault"]
    assert result.violations == 5
    found = [
        (row["problem"], row["invoice_no"], row["missing_from"], row["record_source"])
        for row in result.examples
    ]
    assert found == [
        (
            "line in the vault without its sat_invoice row, in no fact table",
            "000001",
            ", ".join(["sat_invoice", *links]),
            "late.csv",
        ),
        ("sale line in the vault, not in Fact_Sales", "536369", ", ".join(links), "seed"),
        ("Fact_Sales row of a return line", "536370", "", "seed"),
        ("Fact_Sales row without its line in vault.hub_invoice", "999999", "", ""),
        ("Fact_Sales row of an A adjustment line", "A563185", "", "seed"),
    ]


def test_a_check_whose_sql_cannot_run_is_an_error_even_if_it_only_warns(seeded):
    spec = dataclasses.replace(
        RETAIL["sales_summary"],
        checks=(AssetCheck("typo", "SELECT no_such_column FROM {table}", severity="warn"),),
    )
    [result] = evaluate_checks(spec, seeded)
    assert result.status == "error" and result.blocking
    assert "no_such_column" in result.error
    assert result.violations is None


def test_a_check_may_have_comments_around_it_and_a_trailing_semicolon(seeded):
    sql = "-- every day listed; one row each\nSELECT sales_date FROM {table};  -- that's all"
    spec = dataclasses.replace(
        RETAIL["sales_summary"], checks=(AssetCheck("days", sql, severity="warn"),)
    )
    [result] = evaluate_checks(spec, seeded)
    days = seeded.query_arrow("SELECT count() AS n FROM quality.sales_summary").to_pylist()
    assert result.error is None
    assert result.violations == days[0]["n"] > 0


def test_a_check_of_two_statements_is_an_error_naming_the_cause(seeded):
    sql = "SELECT sales_date FROM {table}; DROP TABLE {table}"
    spec = dataclasses.replace(RETAIL["sales_summary"], checks=(AssetCheck("two", sql),))
    [result] = evaluate_checks(spec, seeded)
    assert result.status == "error" and result.blocking
    assert result.error == "check SQL must be a single statement, found 2"  # its author's words
    assert seeded.row_count("quality.sales_summary") > 0


def test_an_io_manager_without_sql_cannot_evaluate_checks():
    from tests.memory_io import MemoryIOManager

    with pytest.raises(NotImplementedError, match="MemoryIOManager cannot run SQL"):
        evaluate_checks(retail_spec("sales_summary"), MemoryIOManager())


# --------------------------------------------------------------------- in a run

NUMBERS_DDL = """
CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.numbers (n UInt64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.doubled (n UInt64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.sibling (n UInt64) ENGINE = MergeTree ORDER BY n;
"""
AT_MOST_3 = "SELECT n FROM {table} WHERE n > 3 ORDER BY n"


@pytest.fixture
def run_warehouse(tmp_path):
    """An empty embedded warehouse with a fresh database (Prefect asset keys never clash)."""
    db = f"t_{uuid.uuid4().hex[:12]}"
    ddl = tmp_path / "numbers.sql"
    ddl.write_text(NUMBERS_DDL.format(db=db))
    warehouse = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    warehouse.setup([ddl])
    yield warehouse, db
    warehouse.close()


def numbers_graph(db: str, *checks: AssetCheck) -> AssetGraph:
    """numbers (1..5, or to the run parameter ``numbers``, with ``checks``) -> doubled;
    sibling stands alone."""

    def numbers(context):
        last = context.params.get("numbers", 5)
        return pd.DataFrame({"n": pd.Series(range(1, last + 1), dtype="uint64")})

    def sibling(context):
        return pd.DataFrame({"n": pd.Series([7], dtype="uint64")})

    return AssetGraph(
        [
            AssetSpec(
                key="numbers", table=f"{db}.numbers", body=numbers, kind="python", checks=checks
            ),
            AssetSpec(
                key="doubled",
                table=f"{db}.doubled",
                deps=("numbers",),
                kind="sql",
                body=lambda context: f"SELECT n * 2 AS n FROM {db}.numbers",
            ),
            AssetSpec(key="sibling", table=f"{db}.sibling", body=sibling, kind="python"),
        ]
    )


def test_a_check_that_does_not_compile_fails_the_asset_and_nothing_is_published(run_warehouse):
    """The contributor review: a check's typo (``revenu``) let the table be published, then
    failed the asset with "could not run", the new rows kept and everything downstream
    held back. The checks are compiled against the staged table first: one line naming the
    check and where it is declared, and the table is as it was."""
    warehouse, db = run_warehouse
    declared = line_of_this_file('AssetCheck("at_most_3", "SELECT n FROM {table} WHERE m')
    typo = AssetCheck("at_most_3", "SELECT n FROM {table} WHERE m > 3")
    spec = numbers_graph(db, AssetCheck("positive", AT_MOST_3, severity="warn"), typo)["numbers"]
    context = AssetContext(spec=spec, io_manager=warehouse, load_datetime=dt.datetime.now(dt.UTC))

    with pytest.raises(MaterializationError) as raised:
        warehouse.materialize(spec, context)

    said = str(raised.value)
    assert said.startswith(
        f"asset 'numbers' (table {db}.numbers): tests/test_checks.py:{declared}: "
        "check 'at_most_3' does not compile: "
    ), said
    assert "\n" not in said and "identifier `m`" in said
    assert "_stg_" not in said, "the engine's words name the staging table as the asset's"
    assert warehouse.row_count(f"{db}.numbers") == 0


def line_of_this_file(text: str) -> int:
    """The line of this file holding ``text`` after the line searching for it."""
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines) if text in line and "line_of" not in line) + 1


@pytest.mark.usefixtures("prefect_server")
def test_failed_error_check_fails_the_asset_and_skips_descendants(run_warehouse):
    warehouse, db = run_warehouse
    report = materialize(
        numbers_graph(db, AssetCheck("at_most_3", AT_MOST_3)), {"warehouse": warehouse}
    )

    outcomes = {o.key: o for o in report.outcomes}
    assert {k: o.status for k, o in outcomes.items()} == {
        "numbers": "failed",
        "doubled": "skipped",
        "sibling": "materialized",
    }
    assert not report.ok
    assert outcomes["doubled"].failed_upstream == ("numbers",)
    assert outcomes["numbers"].error.startswith(
        f"asset 'numbers' (table {db}.numbers): failed its checks"
    )  # this project's message, without the class name (orchestration.errors)
    assert "'at_most_3' (error): 2 offending rows" in outcomes["numbers"].error
    [result] = outcomes["numbers"].checks
    assert (result.status, result.violations) == ("failed", 2)
    assert result.examples == ({"n": 4}, {"n": 5})
    assert result.table == f"{db}.numbers", "the result names the table, not what it read"
    # The check read the staged rows: nothing was published, nothing built on them.
    assert outcomes["numbers"].result is None
    assert warehouse.row_count(f"{db}.numbers") == 0
    assert warehouse.row_count(f"{db}.doubled") == 0
    assert _staging_left(warehouse) == []


def _staging_left(warehouse: ClickHouseIOManager) -> list[str]:
    """The staging tables and views left in the warehouse (none, once a run is over)."""
    rows = warehouse.query_df("SELECT name FROM system.tables WHERE name LIKE '\\_stg\\_%'")
    return list(rows["name"])


@pytest.mark.usefixtures("prefect_server")
def test_a_check_that_fails_on_a_rerun_leaves_the_first_runs_rows(run_warehouse):
    """A failed error check stops the publish: the table keeps its last good rows, so no
    reader of the warehouse sees the rows the check found."""
    warehouse, db = run_warehouse
    graph = numbers_graph(db, AssetCheck("at_most_3", AT_MOST_3))
    io_managers = {"warehouse": warehouse}
    assert materialize(graph, io_managers, "numbers+", params={"numbers": 2}).ok

    report = materialize(graph, io_managers, "numbers+", params={"numbers": 5})

    numbers, doubled = report.outcomes
    assert (numbers.status, doubled.status) == ("failed", "skipped")
    assert numbers.failed_its_checks and not numbers.published_then_failed
    assert [(c.name, c.violations) for c in numbers.checks] == [("at_most_3", 2)]
    assert list(warehouse.query_df(f"SELECT n FROM {db}.numbers ORDER BY n")["n"]) == [1, 2]
    assert warehouse.row_count(f"{db}.doubled") == 2
    assert _staging_left(warehouse) == []


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("kind", ["python", "sql"])
def test_an_insert_only_asset_whose_check_fails_on_its_new_rows_appends_none(run_warehouse, kind):
    """An insert-only table's checks read the table with the rows its publish would add
    (a view, gone afterwards): a SQL asset stages only new keys, a Python one all of
    them, which the view narrows as the publish's anti-join does."""
    warehouse, db = run_warehouse

    def numbers(context):
        last = context.params["numbers"]
        if kind == "sql":
            return f"SELECT toUInt64(number + 1) AS n FROM numbers({last})"
        return pd.DataFrame({"n": pd.Series(range(1, last + 1), dtype="uint64")})

    spec = AssetSpec(
        key="numbers",
        table=f"{db}.numbers",
        body=numbers,
        kind=kind,
        write_mode="insert_new",
        unique_key=("n",),
        checks=(
            AssetCheck("at_most_3", AT_MOST_3),
            AssetCheck("n_unique", "SELECT n FROM {table} GROUP BY n HAVING count() > 1"),
        ),
    )
    graph = AssetGraph([spec])
    io_managers = {"warehouse": warehouse}
    assert materialize(graph, io_managers, params={"numbers": 2}).ok
    assert materialize(graph, io_managers, params={"numbers": 3}).ok  # adds 3, passes

    report = materialize(graph, io_managers, params={"numbers": 5})

    [outcome] = report.outcomes
    assert outcome.status == "failed" and outcome.result is None
    assert [(c.name, c.status, c.violations) for c in outcome.checks] == [
        ("at_most_3", "failed", 2),  # 4 and 5, which the publish would add
        ("n_unique", "passed", 0),  # the keys it holds are not counted twice
    ]
    assert list(warehouse.query_df(f"SELECT n FROM {db}.numbers ORDER BY n")["n"]) == [1, 2, 3]
    assert _staging_left(warehouse) == []


def test_an_error_in_a_check_before_publishing_names_the_assets_table(run_warehouse):
    """A check that compiles on staging but cannot run on the view an insert-only table's
    checks read (``_part``: a MergeTree's, no view's) is said of the asset's table, as
    its author wrote ``{table}``, not of a staging view."""
    warehouse, db = run_warehouse
    parts = AssetCheck("parts", "SELECT _part, n FROM {table} WHERE n > 100")
    spec = dataclasses.replace(
        numbers_graph(db)["numbers"], write_mode="insert_new", unique_key=("n",), checks=(parts,)
    )
    context = AssetContext(spec=spec, io_manager=warehouse, load_datetime=dt.datetime.now(dt.UTC))
    handed: list[str] = []
    said_in_full: list[str] = []

    def before_publish(table: str) -> None:
        handed.append(table)
        with pytest.raises(WarehouseQueryError) as engine:
            warehouse.offending_rows(parts.sql, table, 5)
        said_in_full.append(str(engine.value))  # with the engine's quote of the query
        raise AssetCheckError(spec.key, spec.table, evaluate_checks(spec, warehouse, table))

    with pytest.raises(AssetCheckError) as raised:
        warehouse.materialize(spec, context, before_publish=before_publish)

    [result] = raised.value.failures
    assert result.error == "WarehouseQueryError: Unknown expression identifier `_part`."
    [full] = said_in_full
    assert f"{db}.numbers" in full and "_stg_" not in full, full
    assert handed and "_stg_" in handed[0]
    assert warehouse.row_count(f"{db}.numbers") == 0
    assert _staging_left(warehouse) == []


@pytest.mark.usefixtures("prefect_server")
def test_a_table_whose_checks_failed_is_shown_as_its_last_success_left_it(run_warehouse):
    """After a success with 2 rows, a run staged 4 and failed its check: it published
    nothing, and its page says the table holds the success's 2 rows; the report's last
    line says to fix the rows first (a rerun alone fails the same way)."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    warehouse, db = run_warehouse
    graph = numbers_graph(db, AssetCheck("at_most_3", AT_MOST_3))
    io_managers = {"warehouse": warehouse}
    assert materialize(graph, io_managers, "numbers+", params={"numbers": 2}).ok
    report = materialize(graph, io_managers, "numbers+", params={"numbers": 4})
    assert [o.status for o in report.outcomes] == ["failed", "skipped"]
    assert warehouse.row_count(f"{db}.numbers") == 2

    this_run = ArtifactFilterFlowRunId(any_=[uuid.UUID(str(report.flow_run_id))])
    page_key = ArtifactFilterKey(any_=["asset-numbers"])
    with get_client(sync_client=True) as client:
        (page,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=this_run, key=page_key)
        )
    print(page.data)
    assert " | 2 | - | " in page.data  # rows in table (left as it was), none inserted
    assert "published, then" not in page.data
    assert "Last successful materialization: finished " in page.data
    assert "2 rows left in the table, by [its flow run]" in page.data

    console = Console(width=1000)
    with console.capture() as captured:
        print_report(report, console, plan_materialization(graph, "numbers+"))
    assert captured.get().strip().splitlines()[-1] == (
        "Next: fix the rows its check found (or the check), then pipeline materialize "
        "--select 'numbers+' reruns the failed asset and the 1 "
        "skipped."
    )


@pytest.mark.usefixtures("prefect_server")
def test_failed_warn_check_is_reported_but_the_run_goes_on(run_warehouse):
    warehouse, db = run_warehouse
    check = AssetCheck("at_most_3", AT_MOST_3, severity="warn")
    report = materialize(numbers_graph(db, check), {"warehouse": warehouse})

    assert report.ok
    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["numbers"].error is None
    assert [(r.name, r.status, r.violations) for r in outcomes["numbers"].checks] == [
        ("at_most_3", "warning", 2)
    ]
    assert warehouse.row_count(f"{db}.doubled") == 5


@pytest.mark.usefixtures("prefect_server")
def test_check_results_appear_in_the_run_report(run_warehouse):
    warehouse, db = run_warehouse
    checks = (
        AssetCheck("at_most_3", AT_MOST_3),
        AssetCheck("positive", "SELECT n FROM {table} WHERE n = 0", severity="warn"),
    )
    report = materialize(numbers_graph(db, *checks), {"warehouse": warehouse})

    data = report_as_json(report)
    numbers = next(a for a in data["assets"] if a["key"] == "numbers")
    assert [(c["check"], c["status"], c["violations"]) for c in numbers["checks"]] == [
        ("at_most_3", "failed", 2),
        ("positive", "passed", 0),
    ]
    assert numbers["checks"][0]["examples"] == [{"n": 4}, {"n": 5}]
    json.dumps(data)  # plain data all the way down

    console = Console(width=200)
    with console.capture() as captured:
        print_report(report, console)
    text = captured.get()
    assert "Asset checks" in text and "at_most_3" in text
    assert "positive" not in text, "passed checks are only counted, not listed"
    assert "Checks: 1 passed, 1 failed" in text


@pytest.mark.usefixtures("prefect_server")
def test_check_results_are_in_the_prefect_asset_event(run_warehouse):
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    warehouse, db = run_warehouse
    materialize(numbers_graph(db, AssetCheck("at_most_3", AT_MOST_3)), {"warehouse": warehouse})
    uri = warehouse.asset_uri(f"{db}.numbers")
    event_filter = EventFilter(
        event=EventNameFilter(name=["prefect.asset.materialization.failed"]),
        resource=EventResourceFilter(id=[uri]),
    )
    events = []
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and not events:
            events = client.read_events(filter=event_filter, limit=5).events
            if not events:
                time.sleep(0.5)
    assert len(events) == 1, f"no failed materialization event for {uri}"
    payload = events[0].payload
    assert "rows" not in payload, "nothing was published"
    assert "failed its checks" in payload["error"] and "at_most_3" in payload["error"]
    [check] = payload["checks"]
    assert (check["check"], check["status"], check["violations"]) == ("at_most_3", "failed", 2)


#: The auditor's reload: load AB into the invoice hub and satellite and rebuild the facts,
#: but not the links the facts join through.
RELOAD_WITHOUT_LINKS = (
    "key:raw_online_retails or key:psa_online_retails or key:hub_invoice "
    "or key:sat_invoice or fact_sales+"
)


@pytest.mark.usefixtures("prefect_server")
def test_facts_that_miss_vault_lines_fail_and_the_next_step_rebuilds_the_vault(
    tmp_path, monkeypatch
):
    """After load A, that reload left the links with A's lines only: Fact_Sales (inner
    joins over the links) held A's sales, data_quality counted them as every sale, and all
    checks passed, since sales_summary's volume check compares with those same facts."""
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    rows = synthetic.generate(2_000, seed=8)
    first = rows.iloc[:1_200]
    missing = len(expected_from(first, rows).sales) - len(expected_from(first).sales)
    graph = load_definitions(assets.__name__).graph()
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(assets.DDL_PATHS)
        io_managers = {"warehouse": warehouse}
        load_a = write_source(first, tmp_path / "a", "csv", "II")
        assert materialize(graph, io_managers, params={"source": str(load_a)}).ok
        load_ab = write_source(rows, tmp_path / "ab", "csv", "II")
        report = materialize(
            graph, io_managers, RELOAD_WITHOUT_LINKS, params={"source": str(load_ab)}
        )

    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["fact_sales"].status == "failed"
    assert outcomes["data_quality"].status == "skipped"  # no count of A's sales as all
    [check] = [c for c in outcomes["fact_sales"].checks if c.status != "passed"]
    assert (check.name, check.violations) == ("lines_reconcile_with_vault", missing)
    assert missing > 0
    example = check.examples[0]
    assert example["problem"] == "sale line in the vault, not in Fact_Sales"
    assert example["missing_from"] == (
        "link_invoice_product, link_invoice_customer, link_invoice_time, link_invoice_country"
    )
    assert example["record_source"] == load_ab.name

    # The Next line rebuilds the vault from staging, which holds AB, then the marts.
    console = Console(width=1000)
    with console.capture() as captured:
        print_report(report, console, plan_materialization(graph, RELOAD_WITHOUT_LINKS))
    assert captured.get().strip().splitlines()[-1] == (
        "Next: pipeline materialize --select 'group:vault+' "
        "rebuilds what check 'lines_reconcile_with_vault' compares with, and reruns the "
        "failed asset and the 6 skipped."
    )
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        rebuilt = materialize(graph, {"warehouse": warehouse}, "group:vault+")
        sales = warehouse.row_count("marts.Fact_Sales")
    assert rebuilt.ok, [o.error for o in rebuilt.outcomes if o.error]
    assert sales == len(expected_from(first, rows).sales)


#: What a run killed in the vault (an OOM kill) leaves of its load: the invoice hub holds
#: the load's lines, sat_invoice and the links none (they had not run yet).
KILLED_IN_THE_VAULT = "raw_online_retails or psa_online_retails or hub_invoice"


def _pipeline(api_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS``: a real process, piped, on the Prefect server at ``api_url``."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**os.environ, "PREFECT_API_URL": api_url, "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _next_command(stderr: str) -> list[str]:
    """The command the failed run's Next line (stderr's last) says to copy, as a shell
    splits it."""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Next: pipeline materialize "), last
    return shlex.split(last.removeprefix("Next: ").split(" loads ")[0])


def test_lines_only_a_load_staging_no_longer_holds_can_restore_name_that_load_to_rerun(
    tmp_path, prefect_api_url
):
    """After a run killed in the vault, the next run (another source) failed the facts'
    reconciliation, and its Next line, ``group:vault+``, loaded the vault from staging,
    which held the other source: run as printed it failed the same way, with the same
    Next line. The line now names the load that repairs it, and followed as printed, it
    does."""
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    killed = _pipeline(
        prefect_api_url, "materialize", "--source", "synthetic:3000:9",
        "--select", KILLED_IN_THE_VAULT, *warehouse,
    )  # fmt: skip
    assert killed.returncode == 0, killed.stdout + killed.stderr

    failed = _pipeline(prefect_api_url, "materialize", "--source", "synthetic:300:2", *warehouse)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    # The failure line names the load the offending lines need, with how many.
    found = re.search(
        r"check 'lines_reconcile_with_vault' \(error\): ([\d,]+) offending rows?, "
        r"of which ([\d,]+) need synthetic:3000:9 loaded again, "
        r"e\.g\. \{record_source='synthetic:3000:9', ",
        failed.stderr,
    )
    assert found, failed.stderr
    assert found[1] == found[2]  # each offending line is one staging no longer holds
    command = _next_command(failed.stderr)
    assert command == [
        "pipeline", "materialize", "--source", "synthetic:3000:9",
        "--select", "raw_online_retails+", *warehouse,
    ]  # fmt: skip

    repaired = _pipeline(prefect_api_url, *command[1:])  # as printed
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert re.search(r"^Checks: \d+ passed$", repaired.stdout, re.MULTILINE), repaired.stdout


@pytest.mark.usefixtures("prefect_server")
def _load_of_its_own(tmp_path: Path, rows: int, seed: int, prefix: str) -> str:
    """A CSV of ``synthetic:ROWS:SEED`` whose invoice numbers start with ``prefix``: the
    generators of every seed number their invoices alike, and a later delivery of an
    invoice retracts the lines an earlier one held, so loads meant to add up must not
    share invoices."""
    frame = synthetic.generate(rows, seed)
    frame["Invoice"] = frame["Invoice"].str.replace(r"(\d+)", prefix + r"\1", regex=True)
    path = tmp_path / f"load_{rows}_{seed}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_the_next_line_loads_the_biggest_missing_source_first_and_counts_the_others(
    tmp_path, monkeypatch
):
    """Two killed loads: the Next line names the one most offending lines came from, says
    one more is missing, and once that is loaded names the other; lines staging still
    holds need no reload, so a vault rebuild stays the step for them."""
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    graph = load_definitions(assets.__name__).graph()
    small, big, latest = (
        _load_of_its_own(tmp_path, rows, seed, prefix)
        for rows, seed, prefix in ((400, 4, "7"), (900, 5, "8"), (200, 6, "9"))
    )

    def run(select: str | None, source: str) -> tuple[RunReport, str]:
        report = materialize(graph, io_managers, select, params={"source": source})
        console = Console(width=1000)
        with console.capture() as captured:
            print_report(report, console, plan_materialization(graph, select))
        return report, captured.get().strip().splitlines()[-1]

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(assets.DDL_PATHS)
        io_managers = {"warehouse": warehouse}
        assert materialize(graph, io_managers, KILLED_IN_THE_VAULT, params={"source": small}).ok
        assert materialize(graph, io_managers, KILLED_IN_THE_VAULT, params={"source": big}).ok
        report, next_line = run(None, latest)
        summary = next(o.error for o in report.outcomes if o.key == "fact_sales") or ""
        big_name, small_name = Path(big).name, Path(small).name  # as record_source has them
        assert "of which " in summary and f" need {big_name} loaded again, " in summary
        assert summary.index(big_name) < summary.index(small_name)
        assert next_line.startswith(
            f"Next: pipeline materialize --source {big_name} --select 'raw_online_retails+' "
            f"loads {big_name} again (a load staging no longer "
            "holds: "
        ), next_line
        assert "; 1 other source too, which the next run names" in next_line, next_line

        _, next_line = run("raw_online_retails+", big)
        assert next_line.startswith(
            f"Next: pipeline materialize --source {small_name} --select 'raw_online_retails+' "
        ), next_line
        assert "other source" not in next_line, next_line

        report, next_line = run("raw_online_retails+", small)
        assert report.ok, next_line


@pytest.mark.parametrize(
    ("record_source", "source"),
    [
        ("synthetic:400000:9", "synthetic:400000:9"),
        ("AB.csv", "AB.csv"),
        (
            "online_retail_II.zip!online_retail_II.xlsx sheet 'Year 2009-2010'",
            "online_retail_II.zip",
        ),
        ('book.xlsx sheet "it\'s"', "book.xlsx"),
        ("https://example.com/data/retail.csv", "https://example.com/data/retail.csv"),
    ],
)
def test_a_record_source_is_loaded_again_through_the_source_that_read_it(
    seeded, record_source, source
):
    """A zip member or a sheet is loaded again with its file: ``--source`` names no member."""
    literal = "'" + record_source.replace("'", "\\'") + "'"
    [row] = seeded.query_arrow(f"SELECT {loaded_source_sql(literal)} AS source").to_pylist()
    assert row["source"] == source


def _links() -> list[str]:
    """The vault's invoice-line links, which the facts join through."""
    return [t.key for t in VAULT if t.key.startswith("link_invoice_")]


def test_check_error_message_names_asset_table_check_and_examples(seeded):
    spec = dataclasses.replace(
        RETAIL["fact_sales"],
        checks=(
            AssetCheck(
                "no_free_lines", "SELECT invoice_no, unit_price FROM {table} WHERE unit_price = 0"
            ),
        ),
    )
    results = evaluate_checks(spec, seeded)
    error = AssetCheckError(spec.key, spec.table, results)
    assert str(error) == (
        "asset 'fact_sales' (table marts.Fact_Sales): failed its checks: check 'no_free_lines' "
        "(error): 1 offending row, e.g. {invoice_no='536367', unit_price='0.0000'}"
    )


# --------------------------------------------------------------------- pipeline checks


def pipeline_checks(warehouse_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pipeline("checks", warehouse_dir, *args)


def _insert(warehouse_dir: Path, values: str) -> None:
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.command(f"INSERT INTO chk.readings VALUES {values}")


def _materialize(warehouse_dir: Path, selection: str) -> dict[str, str]:
    """Materialize ``selection`` of the checks location for real; each asset's status."""
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.setup(CHECKS_LOCATION.ddl_paths)
        report = materialize(CHECKS_LOCATION.graph(), {"warehouse": warehouse}, selection)
    return {o.key: o.status for o in report.outcomes}


def _plain(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.usefixtures("prefect_server")
def test_after_a_full_refresh_failed_its_checks_the_next_step_keeps_the_full_refresh(
    tmp_path, monkeypatch
):
    """The rerun of a full refresh that stopped at a check must rebuild the skipped tables
    too: the Next line printed ``pipeline materialize --select 'readings+'`` alone, and
    copied as printed it updated them on top of rows from before the refresh."""
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "*")["summary"] == "materialized"
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    failed = run_pipeline("materialize", warehouse_dir, "--full-refresh", columns=400)
    assert failed.returncode == 1, failed.stderr
    (next_line,) = [line for line in failed.stderr.splitlines() if line.startswith("Next:")]
    assert next_line.startswith(
        "Next: fix the rows its check found (or the check), then pipeline materialize "
        f"--full-refresh --select 'readings+' {_where(warehouse_dir)} reruns the failed "
        "asset and the 1 skipped"
    ), next_line


@pytest.mark.usefixtures("prefect_server")
def test_a_run_whose_check_fails_exits_1_and_leaves_the_table_as_the_last_run_left_it(
    tmp_path, monkeypatch
):
    """The project's rule for bad input: a clear line, a non-zero exit, and published
    tables untouched. The checks read the staged rows, so the table keeps its 2 rows."""
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "*")["summary"] == "materialized"
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")

    failed = run_pipeline("materialize", warehouse_dir, "--select", "readings+", columns=400)

    assert failed.returncode == 1, failed.stderr
    said = _plain(failed.stdout)
    cause = "failed its checks: check 'values_below_100' (error): 1 offending row"
    assert cause in _plain(failed.stderr), failed.stderr  # a failure's lines: on stderr
    # What the table holds: its last rows, said beside the cause.
    assert "e.g. {sensor='b', value=250} (nothing published)" in _plain(failed.stderr)
    assert "Checks: 1 passed, 1 failed" in said
    assert "1 asset skipped (upstream failed: readings): summary" in said, said
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        held = warehouse.query_df("SELECT sensor, value FROM chk.readings ORDER BY sensor")
        assert held.to_dict("records") == [
            {"sensor": "a", "value": 3},
            {"sensor": "b", "value": 40},
        ]
        assert _staging_left(warehouse) == []


@pytest.mark.usefixtures("prefect_server")
def test_pipeline_checks_exit_codes_follow_severity(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "readings") == {"readings": "materialized"}

    clean = pipeline_checks(warehouse_dir, "--select", "readings", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["ok"] is True
    assert [c["status"] for c in json.loads(clean.stdout)["checks"]] == ["passed", "passed"]

    _insert(warehouse_dir, "('a', -5)")
    warned = pipeline_checks(warehouse_dir, "--select", "readings")
    assert warned.returncode == 0, warned.stderr
    assert "no_negative_values" in warned.stdout and "warning" in warned.stdout
    assert "Checks: 1 passed, 1 warning" in _plain(warned.stdout)

    _insert(warehouse_dir, "('b', 250), ('c', 300)")
    failed = pipeline_checks(warehouse_dir, "--select", "readings", "--json")
    assert failed.returncode == 1
    payload = json.loads(failed.stdout)
    assert payload["ok"] is False
    statuses = {c["check"]: c["status"] for c in payload["checks"]}
    assert statuses == {"no_negative_values": "warning", "values_below_100": "failed"}
    below = next(c for c in payload["checks"] if c["check"] == "values_below_100")
    assert below["violations"] == 2
    assert {"sensor": "b", "value": 250} in below["examples"]


@pytest.mark.usefixtures("prefect_server")
def test_pipeline_checks_says_a_check_that_does_not_compile_as_a_run_does(tmp_path, monkeypatch):
    """It said "WarehouseQueryError: Unknown expression identifier ..." with no place,
    where a run says where the check is declared and that it does not compile."""
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "readings") == {"readings": "materialized"}
    monkeypatch.setenv("CHK_CHECK_TYPO", "1")
    declared = next(
        number
        for number, line in enumerate(
            (Path(__file__).parent / "checks_location.py").read_text().splitlines(), 1
        )
        if '"values_below_100"' in line
    )

    result = pipeline_checks(warehouse_dir, "--select", "readings", "--json")
    assert result.returncode == 1, result.stderr
    errors = {c["check"]: c["error"] for c in json.loads(result.stdout)["checks"]}
    assert errors["no_negative_values"] is None
    said = errors["values_below_100"]
    assert said.startswith(
        f"tests/checks_location.py:{declared}: check 'values_below_100' does not compile: "
        "Unknown expression or function identifier `valeu`"
    ), said
    assert "WarehouseQueryError" not in said and "\n" not in said


def _where(warehouse_dir: Path) -> str:
    """The options ``run_pipeline`` types, as a command the CLI prints carries them."""
    return f"--warehouse chdb://{warehouse_dir} --definitions tests.checks_location"


def _set_up(warehouse_dir: Path) -> None:
    """A warehouse with the checks location's (empty) tables, where nothing ran."""
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.setup(CHECKS_LOCATION.ddl_paths)


def test_pipeline_checks_of_a_never_materialized_warehouse_run_nothing_and_fail(tmp_path):
    # Its tables exist, empty, as the DDL made them: they must not "pass".
    warehouse_dir = tmp_path / "warehouse"
    _set_up(warehouse_dir)
    result = pipeline_checks(warehouse_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line.split(None, 5) for line in result.stdout.splitlines()]
    assert [row for row in rows if row[0] in ("readings", "summary")] == [
        [
            "readings",
            "no_negative_values",
            "warn",
            "not_run",
            "-",
            "readings was never materialized in this warehouse; "
            f"run pipeline materialize --select readings {_where(warehouse_dir)}",
        ],
        [
            "readings",
            "values_below_100",
            "error",
            "not_run",
            "-",
            "readings was never materialized in this warehouse; "
            f"run pipeline materialize --select readings {_where(warehouse_dir)}",
        ],
        [
            "summary",
            "has_sensors",
            "error",
            "not_run",
            # Built alone, it would summarize an empty table: build its upstream too.
            "-",
            "summary was never materialized in this warehouse; "
            f"run pipeline materialize --select +summary {_where(warehouse_dir)}",
        ],
    ]
    assert "Checks: 3 not run" in _plain(result.stdout)
    assert "passed" not in result.stdout

    as_json = pipeline_checks(warehouse_dir, "--json")
    assert as_json.returncode == 1, as_json.stderr
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is False
    assert payload["never_materialized"] == ["readings", "summary"]
    first = payload["checks"][0]
    assert {k: first[k] for k in ("asset", "check", "status", "passed", "violations")} == {
        "asset": "readings",
        "check": "no_negative_values",
        "status": "not_run",
        "passed": False,
        "violations": None,
    }
    assert first["reason"] == (
        "readings was never materialized in this warehouse; "
        f"run pipeline materialize --select readings {_where(warehouse_dir)}"
    )
    assert first["error"] is None


@pytest.mark.usefixtures("prefect_server")
def test_pipeline_checks_runs_the_built_and_reports_the_unbuilt(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "readings") == {"readings": "materialized"}

    result = pipeline_checks(warehouse_dir, "--json")
    assert result.returncode == 1, result.stderr
    payload = json.loads(result.stdout)
    assert {c["check"]: c["status"] for c in payload["checks"]} == {
        "no_negative_values": "passed",
        "values_below_100": "passed",
        "has_sensors": "not_run",
    }
    assert [c["reason"] for c in payload["checks"]][:2] == [None, None]
    assert payload["checks"][2]["reason"] == (
        "summary was never materialized in this warehouse; "
        f"run pipeline materialize --select summary {_where(warehouse_dir)}"
    )
    assert payload["never_materialized"] == ["summary"]

    text = pipeline_checks(warehouse_dir)
    assert text.returncode == 1
    assert "Checks: 2 passed, 1 not run" in _plain(text.stdout)

    # What was built can be checked on its own: status: selects it.
    built = pipeline_checks(warehouse_dir, "--select", "not status:missing", "--json")
    assert built.returncode == 0, built.stderr
    assert [c["asset"] for c in json.loads(built.stdout)["checks"]] == ["readings"] * 2


@pytest.mark.usefixtures("prefect_server")
def test_pipeline_checks_of_a_table_whose_first_run_failed_its_checks_runs_none(
    tmp_path, monkeypatch
):
    # The run's error check failed on the staged rows (history: failed, no success), so
    # nothing was published: the empty table the DDL made must not "pass".
    warehouse_dir = tmp_path / "warehouse"
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    assert _materialize(warehouse_dir, "readings") == {"readings": "failed"}

    result = pipeline_checks(warehouse_dir, "--select", "readings", "--json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert {c["check"]: c["status"] for c in payload["checks"]} == {
        "no_negative_values": "not_run",
        "values_below_100": "not_run",
    }
    assert payload["never_materialized"] == ["readings"]


def test_pipeline_checks_with_nothing_to_check(tmp_path):
    _set_up(tmp_path / "warehouse")
    result = pipeline_checks(tmp_path / "warehouse", "--select", "unchecked")
    assert result.returncode == 0, result.stderr
    assert "No asset checks in the selection." in result.stdout


def test_pipeline_checks_with_a_mistyped_selection_opens_no_warehouse(tmp_path):
    result = pipeline_checks(tmp_path / "warehouse", "--select", "reading")
    assert result.returncode == 2
    assert "did you mean readings" in result.stderr
    assert not (tmp_path / "warehouse").exists()
