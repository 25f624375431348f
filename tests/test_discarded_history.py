"""A full refresh never drops, unasked, the rows only an insert-only table keeps.

The audit loaded A, then A+B, then A twice, then ran ``pipeline materialize --source A
--full-refresh``: hub_invoice went from 44,672 lines to 19,851, Fact_Sales with it, and
the run said "Checks: 20 passed" and nothing else. The vault is insert-only: it was the
only place B's invoices were kept, and no source held them any more. Such a run is now
refused before any work, in one line naming each insert-only table and the rows it would
lose, counted in the warehouse, unless ``--discard-history`` confirms it. Tables rebuilt
from the vault anyway (marts, quality) full-refresh as before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from orchestration.context import DISCARD_HISTORY_PARAM, FULL_REFRESH_PARAM
from orchestration.definitions import load_definitions
from orchestration.discarded_history import DiscardedHistoryError
from orchestration.io_manager import KeptRows
from orchestration.resolver import plan_for_params
from tests.test_cli import REPO

FIRST, SECOND = "synthetic:1500:1", "synthetic:1500:2"
Run = Callable[..., subprocess.CompletedProcess[str]]


def runner(warehouse: Path, prefect_api_url: str, definitions: str) -> Run:
    """``pipeline COMMAND ... --definitions DEFINITIONS`` on ``warehouse``, as a user runs it."""
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api_url,
        "PYTHONPATH": str(REPO),
        "WAREHOUSE_URL": f"chdb://{warehouse}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orchestration", *args, "--definitions", definitions]
        return subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )

    return run


@pytest.fixture(scope="module")
def two_loads(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A retail warehouse loaded from one source, then another: its vault holds both."""
    warehouse = tmp_path_factory.mktemp("two_loads") / "warehouse"
    run = runner(warehouse, prefect_api_url, "assets")
    for source in (FIRST, SECOND):
        done = run("materialize", "--source", source)
        assert done.returncode == 0, done.stdout + done.stderr
    return warehouse


@pytest.fixture
def retail(two_loads: Path, prefect_api_url: str, tmp_path: Path) -> tuple[Path, Run]:
    """A private copy of the two-load warehouse and a ``pipeline`` runner on it."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(two_loads, warehouse, symlinks=True)  # the engine's links are relative
    return warehouse, runner(warehouse, prefect_api_url, "assets")


def insert_only_tables() -> list[str]:
    return [s.table for s in load_definitions("assets").graph() if s.write_mode == "insert_new"]


def every_table(warehouse: Path) -> dict[str, int]:
    """Row counts of every table of the warehouse, the materialization history included."""
    with ClickHouseIOManager.embedded(warehouse) as opened:
        listed = opened.query_arrow(
            "SELECT database || '.' || name AS t FROM system.tables "
            "WHERE database IN ('raw', 'vault', 'marts', 'quality', '_pipeline')"
        )
        return {table: opened.row_count(table) for table in listed.column("t").to_pylist()}


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1, done.stdout + done.stderr
    return lines[0]


def test_a_full_run_with_full_refresh_is_refused_naming_each_table_and_its_rows(retail) -> None:
    """The audit's run: every insert-only table would be emptied and reloaded from what
    this run loads upstream, which is not known before it runs: each is named with every
    row it holds, and nothing changes."""
    warehouse, run = retail
    before = every_table(warehouse)

    refused = run("materialize", "--source", SECOND, "--full-refresh")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    line = one_error_line(refused)
    assert line.startswith("error: --full-refresh would lose rows only insert-only tables keep")
    # Fifteen tables named one by one made a line of ~900 characters: the three that
    # hold most, then how many more, and where each is listed.
    tables = insert_only_tables()
    named = [table for table in tables if f"{table} up to {before[table]:,} rows" in line]
    assert len(named) == 3, line
    assert min(before[table] for table in named) == sorted(before[t] for t in tables)[-3]
    assert f"and {len(tables) - 3} more tables (plan --json lists each)" in line
    assert len(line) < 450, line
    assert "Pass --discard-history to rebuild them anyway" in line
    assert every_table(warehouse) == before  # no table, no history row written

    planned = run("plan", "--source", SECOND, "--full-refresh")
    assert planned.returncode == 1
    assert one_error_line(planned) == line


def test_the_vault_alone_counts_exactly_the_keys_staging_no_longer_holds(retail) -> None:
    """With persistent staging read as it is, the loss is exact: the hub's keys the latest
    load did not bring. ``--discard-history`` then drops them, as asked."""
    warehouse, run = retail
    with ClickHouseIOManager.embedded(warehouse) as opened:
        held = opened.row_count("vault.hub_invoice")
        staged = (
            opened.query_arrow(
                "SELECT uniqExact(hub_invoice_hash_key) AS n FROM raw.psa_online_retails"
            )
            .column("n")[0]
            .as_py()
        )
    assert 0 < staged < held

    refused = run("materialize", "--select", "group:vault", "--full-refresh")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"vault.hub_invoice {held - staged:,} of its {held:,} rows" in one_error_line(refused)
    assert every_table(warehouse)["vault.hub_invoice"] == held

    done = run("materialize", "--select", "group:vault", "--full-refresh", "--discard-history")
    assert done.returncode == 0, done.stdout + done.stderr
    assert every_table(warehouse)["vault.hub_invoice"] == staged


def test_marts_and_quality_full_refresh_without_confirmation(retail) -> None:
    """They are rebuilt from the vault, which keeps every row: nothing is lost."""
    warehouse, run = retail
    before = every_table(warehouse)

    done = run("materialize", "--select", "group:marts or group:quality", "--full-refresh")

    assert done.returncode == 0, done.stdout + done.stderr
    after = every_table(warehouse)
    assert {t: after[t] for t in insert_only_tables()} == {
        t: before[t] for t in insert_only_tables()
    }
    assert after["marts.Fact_Sales"] == before["marts.Fact_Sales"]


@pytest.fixture
def hub_of_two_loads(prefect_api_url: str, tmp_path: Path) -> tuple[Path, Run, Path]:
    """The safety location's insert-only hub holding keys 1 and 2, its upstream now 1 and 3
    (the report, replaced on every run, holds only those), and a runner on it."""
    warehouse, source = tmp_path / "wh", tmp_path / "n.csv"
    run = runner(warehouse, prefect_api_url, "tests.safety_location")
    for rows in ("1,10\n2,20\n", "1,10\n3,30\n"):
        source.write_text("n,q\n" + rows)
        done = run("materialize", "--source", str(source))
        assert done.returncode == 0, done.stdout + done.stderr
    return warehouse, run, source


def hub_keys(warehouse: Path) -> list[int]:
    with ClickHouseIOManager.embedded(warehouse) as opened:
        return opened.query_arrow("SELECT n FROM safe.hub ORDER BY n").column("n").to_pylist()


def test_a_refresh_of_the_hub_alone_names_the_one_key_it_would_lose(hub_of_two_loads) -> None:
    warehouse, run, _ = hub_of_two_loads

    refused = run("materialize", "--select", "hub", "--full-refresh")

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert one_error_line(refused) == (
        "error: --full-refresh would lose rows only insert-only tables keep, which no source "
        "may hold any more: safe.hub 1 of its 3 rows. Pass --discard-history to rebuild it "
        "anyway, or leave it out of --select"
    )
    assert hub_keys(warehouse) == [1, 2, 3]
    planned = run("plan", "--select", "hub", "--full-refresh", "--json")
    assert planned.returncode == 1
    assert '"would_lose": {\n    "hub": {\n      "lost": 1,\n      "held": 3,' in planned.stdout
    # A replaced table keeps nothing of its own: it rebuilds unasked.
    assert run("materialize", "--select", "report", "--full-refresh").returncode == 0


def test_a_refresh_that_loses_nothing_runs_unasked(hub_of_two_loads) -> None:
    """Once the upstream yields every key the hub holds, rebuilding it drops nothing."""
    warehouse, run, source = hub_of_two_loads
    source.write_text("n,q\n1,10\n2,20\n3,30\n")
    assert run("materialize", "--select", "ingest", "--source", str(source)).returncode == 0

    done = run("materialize", "--select", "hub", "--full-refresh")

    assert done.returncode == 0, done.stdout + done.stderr
    assert hub_keys(warehouse) == [1, 2, 3]


def test_discard_history_alone_is_a_usage_error(hub_of_two_loads) -> None:
    """Without --full-refresh it would confirm nothing, silently."""
    warehouse, run, _ = hub_of_two_loads

    refused = run("materialize", "--select", "hub", "--discard-history")

    assert refused.returncode == 2
    assert "give it with --full-refresh" in refused.stderr
    assert hub_keys(warehouse) == [1, 2, 3]


def test_the_python_api_refuses_too(hub_of_two_loads) -> None:
    from orchestration.resolver import materialize
    from tests.safety_location import defs

    warehouse, _, _ = hub_of_two_loads
    with defs.open_io_managers(f"chdb://{warehouse}") as io_managers:
        with pytest.raises(DiscardedHistoryError) as raised:
            materialize(defs.graph(), io_managers, "hub", params={FULL_REFRESH_PARAM: True})
        confirmed = {FULL_REFRESH_PARAM: True, DISCARD_HISTORY_PARAM: True}
        plan = plan_for_params(defs.graph(), "hub", None, confirmed)

    assert raised.value.losses == {"hub": KeptRows(lost=1, held=3)}
    assert hub_keys(warehouse) == [1, 2, 3]
    assert plan.full_refresh and plan.discard_history
