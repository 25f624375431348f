"""A run refuses a selection that reads upstream assets never materialized in its warehouse.

On a fresh warehouse the DDL has created every table empty, so ``materialize --select
'doubled+'`` would "succeed" on no data, with green checks. These tests run ``pipeline``
as a user does, on the embedded warehouse. The refused runs point Prefect at an address
where nothing listens: the refusal has to come before Prefect is asked anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from orchestration.resolver import materialize
from orchestration.typed_options import printed_value
from tests.history_location import defs
from tests.locations import write_location
from tests.test_cli import REPO, pipeline

LOCATION = ("--definitions", "tests.history_location")
#: Nothing listens there: a command that contacts Prefect fails with a connection error.
NO_PREFECT = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}
KEYS = ("source", "doubled", "total", "stalls")


def cli(warehouse: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return pipeline(*args, *LOCATION, "--warehouse", f"chdb://{warehouse}", env=env)


def contents(warehouse: Path) -> tuple[dict[str, int], set[str]]:
    """Rows of each table, and the assets with a materialization on record."""
    with ClickHouseIOManager.embedded(warehouse) as io:
        rows = {key: io.row_count(f"hist.{key}") for key in KEYS}
        return rows, set(io.history().latest({key: f"hist.{key}" for key in KEYS}))


@pytest.fixture
def numbers(tmp_path: Path) -> Path:
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n1\n2\n3\n")
    return csv


@pytest.mark.parametrize(
    ("selection", "unbuilt", "offered", "alone"),
    [
        ("doubled+", "source", "doubled+ or source", True),
        ("total", "doubled", "+total", False),
        ("total+", "doubled", "+total+", False),
        (
            "status:missing and not source",
            "source",
            "(status:missing and not source) or source",
            True,
        ),
    ],
)
def test_materialize_refuses_a_selection_reading_an_asset_never_built_here(
    tmp_path: Path,
    numbers: Path,
    selection: str,
    unbuilt: str,
    offered: str,
    alone: bool,
):
    """The first line is the command to copy, the selection that builds the unbuilt asset
    too, with the options typed; the next says why, naming the unbuilt assets; "or
    materialize it first" only when that would run: total reads doubled, which reads
    source (unbuilt too), so materializing doubled first was refused again if followed."""
    warehouse = tmp_path / "warehouse"
    result = cli(warehouse, "materialize", "--select", selection, "--source", str(numbers),
                 env=NO_PREFECT)  # fmt: skip

    first = " (or materialize it first)" if alone else ""
    assert result.returncode == 1, result.stdout
    assert result.stderr.splitlines() == [
        f"error: run this instead: pipeline materialize --select '{offered}' --source {numbers} "
        f"--warehouse chdb://{warehouse} --definitions tests.history_location",
        f"the selection {selection!r} reads an asset never materialized in this warehouse; "
        f"'{offered}' builds it too{first}: {unbuilt}",
    ]
    assert result.stdout == ""  # no progress, no run report: nothing ran
    assert not warehouse.exists(), "a refused run on a new warehouse creates none"
    # The selection the line offers is one materialize would run.
    planned = cli(warehouse, "plan", "--select", offered, env=NO_PREFECT)
    assert planned.returncode == 0, planned.stderr
    assert "would run" in planned.stdout.splitlines()[0]
    if alone:  # and so does the unbuilt asset alone, first
        first = cli(warehouse, "plan", "--select", unbuilt, env=NO_PREFECT)
        assert first.returncode == 0, first.stderr


def test_a_refused_full_refresh_leaves_the_selected_tables_as_they_were(
    prefect_api_url: str, tmp_path: Path, numbers: Path
):
    """doubled holds rows no run of this warehouse made (restored by hand, say): a full
    refresh would rebuild it from the empty source table, and must not start. (Prefect
    is reachable here, so a run that does start shows what it does to doubled.)"""
    warehouse = tmp_path / "warehouse"
    with ClickHouseIOManager.embedded(warehouse) as io:
        io.setup(defs.ddl_paths)
        io.command("INSERT INTO hist.doubled VALUES (10), (20)")

    result = cli(warehouse, "materialize", "--select", "doubled+", "--full-refresh",
                 "--source", str(numbers), env={"PREFECT_API_URL": prefect_api_url})  # fmt: skip

    assert result.returncode == 1, result.stdout
    # The command it offers rebuilds as this one was asked to.
    assert result.stderr.startswith(
        "error: run this instead: pipeline materialize --full-refresh "
        "--select 'doubled+ or source' "
    )
    rows, recorded = contents(warehouse)
    assert rows == {"source": 0, "doubled": 2, "total": 0, "stalls": 0}
    assert recorded == set()


def test_plan_says_materialize_would_refuse_and_exits_1(tmp_path: Path, numbers: Path):
    warehouse = tmp_path / "warehouse"
    given = ("--select", "doubled+", "--source", str(numbers))
    refused = cli(warehouse, "materialize", *given, env=NO_PREFECT)
    result = cli(warehouse, "plan", *given, env={})

    assert result.returncode == 1
    assert not warehouse.exists()  # neither command created it
    said = result.stderr.splitlines()
    assert said[0].startswith(f"no warehouse at {warehouse} yet")  # plan's note: why
    assert said[1:] == refused.stderr.splitlines()  # then materialize's refusal
    lines = result.stdout.splitlines()
    assert lines[0] == "Plan: 2 assets selected; materialize would refuse to run them"
    assert not any(line.startswith("Reads as they are") for line in lines)
    assert lines[-1] == "Nothing ran."
    assert "with the same --select runs it" not in result.stdout

    as_json = cli(warehouse, "plan", "--json", *given, env={})
    assert as_json.returncode == 1
    plan = json.loads(as_json.stdout)
    assert [step["key"] for step in plan["run"]] == ["doubled", "total"]
    assert plan["never_materialized"] == ["source"]
    assert plan["reads_as_is"] == []
    assert plan["refused"] == refused.stderr.removeprefix("error: ").rstrip("\n")


def test_a_selection_whose_upstream_was_built_earlier_runs(
    prefect_api_url: str, tmp_path: Path, numbers: Path
):
    warehouse = tmp_path / "warehouse"
    with ClickHouseIOManager.embedded(warehouse) as io:
        io.setup(defs.ddl_paths)
        built = materialize(
            defs.graph(), {"warehouse": io}, "source", params={"source": str(numbers)}
        )
        assert built.ok
    env = {"PREFECT_API_URL": prefect_api_url}

    plan = cli(warehouse, "plan", "--select", "doubled+", "--source", str(numbers), env=env)
    assert plan.returncode == 0, plan.stderr
    assert "Reads as they are in the warehouse: source" in plan.stdout
    assert plan.stdout.splitlines()[0] == "Plan: 2 assets would run"

    result = cli(warehouse, "materialize", "--select", "doubled+", "--source", str(numbers),
                 env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows, recorded = contents(warehouse)
    assert rows == {"source": 3, "doubled": 3, "total": 1, "stalls": 0}
    assert recorded == {"source", "doubled", "total"}


def test_fact_sales_and_descendants_on_a_fresh_retail_warehouse_are_refused(tmp_path: Path):
    """The reported case: the marts' descendants also read tables outside fact_sales'
    ancestors (data_quality reads fact_sale_returns), so the fix selects the ancestors
    of the whole selection. It leads the refusal, within an 80-column terminal's line,
    before the twelve assets it builds too; --verbose adds which selected asset reads
    each (once a 530-character line, the fix at its very end)."""
    env = {**NO_PREFECT, "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}"}
    run = ("--select", "fact_sales+")
    result = pipeline("materialize", *run, env=env)

    assert result.returncode == 1, result.stdout
    fix, why = result.stderr.splitlines()
    assert fix == "error: run this instead: pipeline materialize --select '+(fact_sales+)'"
    assert len(fix) <= 80
    # Not "materialize them first": psa_online_retails reads raw_online_retails, unbuilt.
    assert why == (
        "the selection 'fact_sales+' reads 13 assets never materialized in this warehouse; "
        "'+(fact_sales+)' builds them too: psa_online_retails, hub_invoice, "
        "link_invoice_product, link_invoice_customer, link_invoice_time, link_invoice_country, "
        "dim_customer, sat_invoice, dim_product, dim_time, dim_country, sat_invoice_status, "
        "fact_sale_returns"
    )
    assert result.stdout == ""
    assert not (tmp_path / "warehouse").exists(), "a refused run creates no warehouse"

    plan = pipeline("plan", *run, env=env)
    assert plan.returncode == 1
    assert plan.stderr.splitlines()[-2:] == [fix, why]

    verbose = pipeline("materialize", *run, "--verbose", env=env)
    assert verbose.returncode == 1
    assert verbose.stderr.splitlines()[:2] == [fix, why]
    assert verbose.stderr.splitlines()[2].startswith(
        "the selected assets that read them: psa_online_retails (read by data_quality); "
        "hub_invoice, sat_invoice_status (read by fact_sales, data_quality); "
    )


def test_a_refused_selection_applies_no_ddl_to_a_server(clickhouse_test_url: str, tmp_path: Path):
    """A server is never missing, so it got no early check: opening it for the run applied
    the DDL, and the refusal came after - a fresh server (or one another URL typo names)
    was left with every database and table of the code location, empty."""
    database = f"ub_{uuid.uuid4().hex[:12]}"
    write_location(
        tmp_path,
        "ub_location",
        "ASSETS = [\n"
        f"    AssetSpec(key='source', table='{database}.source', kind='sql',\n"
        "              body=lambda context: 'SELECT toUInt64(1) AS n'),\n"
        f"    AssetSpec(key='doubled', table='{database}.doubled', kind='sql',\n"
        f"              body=lambda context: 'SELECT n * 2 AS n FROM {database}.source',\n"
        "              deps=('source',)),\n"
        "]\n",
        f"CREATE DATABASE IF NOT EXISTS {database};\n"
        f"CREATE TABLE IF NOT EXISTS {database}.source (n UInt64) ENGINE = MergeTree ORDER BY n;\n"
        f"CREATE TABLE IF NOT EXISTS {database}.doubled (n UInt64) "
        "ENGINE = MergeTree ORDER BY n;\n",
    )
    env = {**NO_PREFECT, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    location = ("--definitions", "ub_location", "--warehouse", clickhouse_test_url)

    result = pipeline("materialize", "--select", "doubled", *location, env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: run this instead: pipeline materialize --select 'doubled or source' "
        f"--warehouse {printed_value('--warehouse', clickhouse_test_url)} "
        "--definitions ub_location",
        "the selection 'doubled' reads an asset never materialized in this warehouse; "
        "'doubled or source' builds it too (or materialize it first): source",
    ]
    databases = pipeline(
        "query", f"SELECT count() AS n FROM system.databases WHERE name = '{database}'",
        "--format", "csv", *location, env=env,
    )  # fmt: skip
    assert databases.returncode == 0, databases.stderr
    assert databases.stdout.splitlines() == ['"n"', "0"], "the refusal created the database"
