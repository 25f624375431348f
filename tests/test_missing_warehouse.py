"""Commands that only read never create a warehouse, nor write to one.

A mistyped ``--warehouse`` used to become a new, empty warehouse: ``status`` reported
every asset missing, ``query`` answered from it, and the directory stayed behind. Now
``status`` and ``plan`` still answer (before the first run, everything is missing) and
say in one line that there is no warehouse there yet; ``query``, ``checks`` and column
lineage, which need its tables, stop with that line; only ``materialize`` creates one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from tests.history_location import defs as history_defs
from tests.locations import write_location

REPO = Path(__file__).resolve().parents[1]
#: Variables that would name another warehouse than the one each test gives.
_WAREHOUSE_ENV = ("WAREHOUSE_URL", "CLICKHOUSE_HOST")


def pipeline(
    *args: str, warehouse: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS --warehouse WAREHOUSE`` as a user runs it (the shipped code location)."""
    clean = {k: v for k, v in os.environ.items() if k not in _WAREHOUSE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, "--warehouse", warehouse],
        cwd=REPO,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


def no_warehouse_error(path: Path) -> str:
    return f"error: no warehouse at {path} (nothing has been materialized there; check --warehouse)"


def no_warehouse_yet(path: Path) -> str:
    return (
        f"no warehouse at {path} yet, so every asset is missing "
        "(pipeline materialize creates it; check --warehouse if it should exist)"
    )


# ------------------------------------------------------------ a path that does not exist


def test_status_on_a_missing_warehouse_reports_everything_missing_and_creates_nothing(
    tmp_path: Path,
):
    path = tmp_path / "typo"
    result = pipeline("status", warehouse=f"chdb://{path}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [no_warehouse_yet(path)]
    assert "Asset status: 29 missing" in result.stdout
    assert not path.exists()

    as_json = pipeline("status", "--json", warehouse=f"chdb://{path}")
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stderr.splitlines() == [no_warehouse_yet(path)]
    states = json.loads(as_json.stdout)
    assert len(states) == 29 and {state["state"] for state in states} == {"missing"}
    assert not path.exists()


def test_plan_on_a_missing_warehouse_plans_everything_and_creates_nothing(tmp_path: Path):
    path = tmp_path / "typo"
    result = pipeline("plan", "--select", "status:missing", warehouse=f"chdb://{path}")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [no_warehouse_yet(path)]
    assert "Plan: 29 assets would run" in result.stdout
    assert not path.exists()

    as_json = pipeline("plan", "--json", warehouse=f"chdb://{path}")
    assert as_json.returncode == 0, as_json.stderr
    assert len(json.loads(as_json.stdout)["run"]) == 29
    assert not path.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("query", "SELECT 1"),
        ("query", "SELECT 1", "--format", "csv"),
        ("checks",),
        ("checks", "--json", "--select", "group:vault"),
        ("lineage", "--format", "json"),
        ("lineage", "--column", "marts.Fact_Sales.total_amount"),
    ],
    ids=["query", "query-csv", "checks", "checks-json", "lineage-json", "lineage-column"],
)
def test_a_read_of_a_missing_warehouse_fails_in_one_line_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
):
    path = tmp_path / "typo"
    result = pipeline(*args, warehouse=f"chdb://{path}")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines()[0] == no_warehouse_error(path)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not path.exists()


def test_an_existing_directory_that_holds_no_warehouse_is_not_written_to(tmp_path: Path):
    # e.g. --warehouse chdb://$HOME: a read must not lay a warehouse out in it.
    path = tmp_path / "documents"
    path.mkdir()
    status = pipeline("status", warehouse=f"chdb://{path}")
    assert status.returncode == 0, status.stderr
    assert status.stderr.splitlines() == [no_warehouse_yet(path)]
    query = pipeline("query", "SELECT 1", warehouse=f"chdb://{path}")
    assert query.returncode == 1
    assert query.stderr.splitlines()[0] == no_warehouse_error(path)
    assert list(path.iterdir()) == []


def test_a_mistyped_selection_creates_no_warehouse_either(tmp_path: Path):
    path = tmp_path / "typo"
    result = pipeline("status", "--select", "fact_sale", warehouse=f"chdb://{path}")
    assert result.returncode == 2
    assert "did you mean fact_sales" in result.stderr
    assert not path.exists()


# ------------------------------------------------------------ an existing warehouse


HISTORY_LOCATION = ("--definitions", "tests.history_location")


def test_reads_of_an_existing_warehouse_apply_no_ddl_and_create_no_history(tmp_path: Path):
    path = tmp_path / "warehouse"
    with ClickHouseIOManager.embedded(path) as warehouse:
        warehouse.setup(history_defs.ddl_paths)
        warehouse.command("DROP TABLE hist.total")  # e.g. dropped by hand, or DDL added since
    for args in (
        ("status",),
        ("plan",),
        ("query", "SELECT count() FROM system.tables"),
        ("lineage", "--format", "json"),
    ):
        result = pipeline(*args, *HISTORY_LOCATION, warehouse=f"chdb://{path}")
        assert result.returncode == 0, (args, result.stderr)
        assert "no warehouse" not in result.stderr
    with ClickHouseIOManager.embedded(path) as warehouse:
        assert not warehouse.table_exists("hist.total")
        assert (
            warehouse.query_arrow(
                "SELECT name FROM system.databases WHERE name = '_pipeline'"
            ).num_rows
            == 0
        )


@pytest.mark.usefixtures("prefect_server")
def test_materialize_still_creates_the_warehouse_and_status_then_reads_it(
    prefect_api_url: str, tmp_path: Path
):
    path = tmp_path / "new"
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n1\n2\n")
    env = {"PREFECT_API_URL": prefect_api_url}
    built = pipeline(
        "materialize", *HISTORY_LOCATION, "--select", "not stalls", "--source", str(csv),
        warehouse=f"chdb://{path}", env=env,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    assert path.is_dir()
    status = pipeline(
        "status", "--json", *HISTORY_LOCATION, "--source", str(csv), warehouse=f"chdb://{path}"
    )
    assert status.returncode == 0, status.stderr
    assert "no warehouse" not in status.stderr
    states = {row["key"]: row["state"] for row in json.loads(status.stdout)}
    assert states == {"source": "fresh", "doubled": "fresh", "total": "fresh", "stalls": "missing"}


# ------------------------------------------------------------ a server


def test_a_server_is_never_missing_and_reads_run_no_ddl_on_it(
    clickhouse_test_url: str, tmp_path: Path
):
    # A server has no directory to mistype: reads go to it as they are, and create nothing.
    database = f"ro_{uuid.uuid4().hex[:12]}"
    write_location(
        tmp_path,
        "ro_location",
        "def _numbers(context):\n"
        "    return 'SELECT toUInt64(1) AS n'\n\n"
        f"ASSETS = [AssetSpec(key='numbers', table='{database}.numbers', body=_numbers, "
        "kind='sql')]\n",
        f"CREATE DATABASE IF NOT EXISTS {database};\n"
        f"CREATE TABLE IF NOT EXISTS {database}.numbers (n UInt64) "
        "ENGINE = MergeTree ORDER BY n;\n",
    )
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    location = ("--definitions", "ro_location")
    status = pipeline("status", "--json", *location, warehouse=clickhouse_test_url, env=env)
    assert status.returncode == 0, status.stderr
    assert "no warehouse" not in status.stderr
    assert [row["state"] for row in json.loads(status.stdout)] == ["missing"]
    query = pipeline(
        "query", f"SELECT count() AS n FROM system.databases WHERE name = '{database}'",
        "--format", "csv", *location, warehouse=clickhouse_test_url, env=env,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines() == ['"n"', "0"]  # status created no database
