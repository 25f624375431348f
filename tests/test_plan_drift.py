"""``pipeline plan`` and ``pipeline status`` on a table that drifted from its DDL.

The audit added ``avg_price Float64`` to the ``CREATE TABLE`` of a table already built.
``plan --select 'status:stale+'`` said "1 asset would run ... pipeline materialize with
the same --select runs it"; that materialize refused the asset as drifted and named the
``--full-refresh`` that rebuilds it. A plan predicts the run: it now says which assets a
run would refuse, which it would skip below them, and the command materialize's own
report would name next; ``--full-refresh`` makes it the plan of the rebuild. ``status``
says it in the drifted asset's "why". Both only read: the drift check they share with
materialize neither creates nor writes anything, on either backend.

Each test builds a small code location (a replaced table under a replaced table, an
insert-only table) in its own database, with ``pipeline materialize`` as a user runs it,
then edits its DDL or alters a table by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.typed_options import printed_value
from tests.locations import write_location
from tests.test_cli import REPO, pipeline

#: Nothing listens there: plan and status must not ask Prefect anything.
NO_PREFECT = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}

DDL = """CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.source (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.monthly (n Int64, revenue Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.report (total Int64) ENGINE = MergeTree ORDER BY total;
CREATE TABLE IF NOT EXISTS {db}.keys (n Int64) ENGINE = MergeTree ORDER BY n;
"""

ASSETS = """DB = {db!r}
ASSETS = [
    AssetSpec(key='source', table=f'{{DB}}.source', kind='sql',
              body=lambda context: 'SELECT toInt64(number) AS n FROM numbers(3)'),
    AssetSpec(key='monthly', table=f'{{DB}}.monthly', kind='sql', deps=('source',),
              body=lambda context: f'SELECT n, n * 2 AS revenue FROM {{DB}}.source'),
    AssetSpec(key='report', table=f'{{DB}}.report', kind='sql', deps=('monthly',),
              body=lambda context: f'SELECT sum(revenue) AS total FROM {{DB}}.monthly'),
    AssetSpec(key='keys', table=f'{{DB}}.keys', kind='sql', deps=('source',),
              write_mode='insert_new', unique_key=('n',),
              body=lambda context: f'SELECT n FROM {{DB}}.source'),
]
"""


@dataclass
class Location:
    """A built code location: its DDL file, its database and how to run ``pipeline``."""

    ddl: Path
    db: str
    url: str
    args: tuple[str, ...]
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return pipeline(*args, *self.args, env={**self.env, **env})

    @property
    def where(self) -> str:
        """The ``--warehouse`` and ``--definitions`` typed, as a printed command carries
        them (a server's password as ``PASSWORD``)."""
        return f"--warehouse {printed_value('--warehouse', self.url)} --definitions {self.args[1]}"

    def edit_ddl(self, old: str, new: str) -> None:
        text = self.ddl.read_text()
        assert old in text
        self.ddl.write_text(text.replace(old, new, 1))

    def alter(self, sql: str) -> None:
        """A change made by hand, outside the pipeline (``pipeline query`` refuses it)."""
        from io_managers import warehouse_from_env

        with warehouse_from_env(self.url) as warehouse:
            warehouse.command(sql)

    def query(self, sql: str) -> list[str]:
        result = self.run("query", sql, "--format", "csv")
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[1:]

    def tables(self) -> list[str]:
        return self.query(
            f"SELECT name FROM system.tables WHERE database IN ('{self.db}', '_pipeline') "
            "ORDER BY name"
        )


@pytest.fixture(params=["embedded", "server"])
def location(request: pytest.FixtureRequest, tmp_path: Path, prefect_api_url: str) -> Location:
    """The location, every asset materialized once, on the embedded warehouse or a server."""
    db = f"pd_{uuid.uuid4().hex[:12]}"
    module = f"drift_{db}"
    ddl = write_location(tmp_path, module, ASSETS.format(db=db), DDL.format(db=db))
    if request.param == "embedded":
        url = f"chdb://{tmp_path / 'wh'}"
    else:
        url = request.getfixturevalue("clickhouse_test_url")
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
        "PREFECT_API_URL": prefect_api_url,
        "PIPELINE_WARM_START": "off",
        "PIPELINE_CACHE_DIR": str(tmp_path / "cache"),
    }
    built = Location(ddl, db, url, ("--definitions", module, "--warehouse", url), env)
    result = built.run("materialize")
    assert result.returncode == 0, result.stdout + result.stderr
    built.env = {**env, **NO_PREFECT}  # from here on, nothing may need Prefect
    return built


def next_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Next:"))


def rows(output: str) -> dict[str, list[str]]:
    """A piped table's rows by asset: ``#  asset  state  why...`` (status: no ``#``)."""
    found = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) > 2 and words[0].isdigit():
            found[words[1]] = words[2:]
    return found


def test_plan_says_a_drifted_table_would_be_refused_and_names_the_full_refresh(
    location: Location,
) -> None:
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")
    before = location.tables()

    plan = location.run("plan", "--select", "status:stale+")

    assert plan.returncode == 1, plan.stdout + plan.stderr
    out = plan.stdout
    assert out.splitlines()[0] == (
        "Plan: 2 assets selected; materialize would refuse 1 (drifted from its DDL) and "
        "skip 1 below it"
    )
    planned = rows(out)
    assert planned["monthly"][0] == "stale"
    assert "drifted from its DDL: column 'avg_price' is missing in the warehouse " in out
    assert "(Float64 in the DDL); refused unless --full-refresh" in out
    assert planned["report"][:2] == ["fresh", "skipped:"]
    assert plan.stderr.splitlines() == [
        f"error: asset 'monthly' (table {location.db}.monthly): has drifted from its DDL, so "
        "a run would refuse it: column 'avg_price' is missing in the warehouse (Float64 in "
        "the DDL). Rebuild it from the DDL with: pipeline materialize --full-refresh "
        f"--select monthly {location.where}"
    ]
    assert location.tables() == before  # the plan created and wrote nothing
    assert next_line(out) == (
        f"Next: pipeline materialize --full-refresh --select 'monthly' {location.where} "
        "rebuilds the table that drifted from its DDL, then pipeline materialize --select "
        f"'monthly+' {location.where} reruns the failed asset and "
        "the 1 skipped."
    )


def test_the_plans_next_line_is_the_refused_runs(location: Location, prefect_api_url: str):
    """It predicted the run: materialize refuses the asset, and its report's last line is
    the plan's Next line."""
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")
    plan = location.run("plan", "--select", "status:stale+")
    run = location.run("materialize", "--select", "status:stale+", PREFECT_API_URL=prefect_api_url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert next_line(plan.stdout) == next_line(run.stderr)  # a failed run's, on stderr


def test_plan_full_refresh_says_the_table_is_rebuilt(location: Location) -> None:
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")

    plan = location.run("plan", "--select", "status:stale+", "--full-refresh")

    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.splitlines()[0] == (
        "Plan: 2 assets would run, each table rebuilt from its DDL (--full-refresh)"
    )
    assert "drifted from its DDL: column 'avg_price' is missing" in plan.stdout
    assert "--full-refresh rebuilds it" in plan.stdout
    assert plan.stdout.splitlines()[-1] == (
        "Nothing ran. pipeline materialize --full-refresh --select 'status:stale+' "
        f"{location.where} runs it."
    )
    assert plan.stderr == ""


def test_plan_json_carries_the_drift(location: Location) -> None:
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")

    plan = location.run("plan", "--select", "status:stale+", "--json")
    rebuilt = location.run("plan", "--select", "status:stale+", "--json", "--full-refresh")

    assert plan.returncode == 1
    steps = {step["key"]: step for step in json.loads(plan.stdout)["run"]}
    assert steps["monthly"]["drifted"] == (
        "column 'avg_price' is missing in the warehouse (Float64 in the DDL)"
    )
    assert steps["monthly"]["outcome"] == "refused"
    assert steps["report"]["drifted"] is None
    assert steps["report"]["outcome"] == "skipped"
    payload = json.loads(plan.stdout)
    assert payload["full_refresh"] is False
    assert payload["rebuild"] == ["monthly"]
    assert rebuilt.returncode == 0
    again = json.loads(rebuilt.stdout)
    assert again["full_refresh"] is True
    assert [step["outcome"] for step in again["run"]] == ["rebuilt", "rebuilt"]
    assert again["run"][0]["drifted"] == steps["monthly"]["drifted"]


def test_status_says_a_table_drifted_before_any_run(location: Location) -> None:
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")
    location.alter(f"ALTER TABLE {location.db}.report ADD COLUMN note String")  # by hand
    before = location.tables()

    status = location.run("status")
    as_json = location.run("status", "--json")

    assert status.returncode == 0, status.stderr
    listed = rows_by_first_word(status.stdout)
    assert "drifted from its DDL: column 'avg_price' is missing" in listed["monthly"]
    assert "refused unless --full-refresh" in listed["monthly"]
    # Changed by hand, its code did not change: fresh, and still a run would refuse it.
    assert listed["report"].split()[1] == "fresh"
    assert "column 'note' (String) is in the warehouse but not in the DDL" in listed["report"]
    assert "source" in listed and "drifted" not in listed["source"]
    assert next_line(status.stdout) == (
        f"Next: pipeline materialize --full-refresh --select 'monthly or report' "
        f"{location.where} rebuilds the 2 tables that drifted from their DDL; a run without "
        "it refuses them."
    )
    states = {row["key"]: row for row in json.loads(as_json.stdout)}
    assert states["monthly"]["drifted"] == (
        "column 'avg_price' is missing in the warehouse (Float64 in the DDL)"
    )
    assert states["source"]["drifted"] is None
    assert location.tables() == before


def rows_by_first_word(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.split()}


def test_an_insert_only_tables_plan_says_what_its_full_refresh_loses(location: Location):
    location.alter(f"ALTER TABLE {location.db}.keys ADD COLUMN note String")

    plan = location.run("plan", "--select", "keys")

    assert plan.returncode == 1
    assert "It is insert-only" in plan.stderr
    assert "losing the keys only it kept" in plan.stderr
    assert next_line(plan.stdout) == (
        f"Next: pipeline materialize --full-refresh --discard-history --select 'keys' "
        f"{location.where} rebuilds the table that drifted from its DDL from what its "
        "upstream holds now (insert-only "
        "keys loses the keys only it kept; to keep them, ALTER it to the DDL instead: "
        "docs/warehouse.md#changing-a-table)."
    )


def test_an_unchanged_ddl_costs_no_sqlglot(location: Location) -> None:
    """The drift check reads the DDL's kept facts: status and plan on an unchanged DDL
    still import no sqlglot (README, "The pipeline command")."""
    for command in ("status", "plan"):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "orchestration", command, *location.args],
            cwd=REPO,
            env={**os.environ, **location.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "sqlglot" not in result.stderr, command


def test_a_plan_without_drift_is_as_before(location: Location) -> None:
    plan = location.run("plan", "--select", "monthly+")
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.splitlines()[0] == "Plan: 2 assets would run"
    assert plan.stdout.splitlines()[-1] == (
        f"Nothing ran. pipeline materialize --select 'monthly+' {location.where} runs it."
    )
    assert "drifted" not in plan.stdout


def test_a_column_the_ddls_own_alter_adds_is_no_drift(location: Location, prefect_api_url: str):
    """The review's warehouse: built before the DDL gained a column that an ``ALTER TABLE
    ... ADD COLUMN IF NOT EXISTS`` after its ``CREATE TABLE`` adds at every set-up (as
    ``ddl/init.sql`` adds ``vault.sat_product.Priced``). ``plan`` refused the insert-only
    table as drifted and ``status`` advised ``--full-refresh --discard-history``, which
    loses its keys, while a plain run added the column and succeeded. Both now say the
    run adds it, and still call drifted a table missing a column no ALTER adds."""
    location.edit_ddl("keys (n Int64)", "keys (n Int64, seen UInt8 DEFAULT 1)")
    location.edit_ddl("revenue Int64)", "revenue Int64, avg_price Float64)")
    with location.ddl.open("a") as ddl:
        ddl.write(
            f"ALTER TABLE {location.db}.keys ADD COLUMN IF NOT EXISTS seen UInt8 DEFAULT 1;\n"
        )
    before = location.tables()

    plan = location.run("plan", "--select", "keys")
    status = location.run("status")

    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.splitlines()[0] == "Plan: 1 asset would run"
    assert "drifted" not in plan.stdout and plan.stderr == ""
    assert " ".join(rows(plan.stdout)["keys"]).endswith(
        "; the next run's DDL adds column 'seen' (UInt8)"
    )
    assert status.returncode == 0, status.stderr
    listed = rows_by_first_word(status.stdout)
    assert "drifted" not in listed["keys"]
    assert "the next run's DDL adds column 'seen' (UInt8)" in listed["keys"]
    assert "drifted from its DDL: column 'avg_price' is missing" in listed["monthly"]
    assert "--discard-history" not in status.stdout
    assert next_line(status.stdout).startswith(
        "Next: pipeline materialize --full-refresh --select 'monthly' "
    )
    assert location.tables() == before
    assert "seen" not in location.query(
        f"SELECT name FROM system.columns WHERE table = 'keys' AND database = '{location.db}'"
    )

    run = location.run("materialize", "--select", "keys", PREFECT_API_URL=prefect_api_url)

    assert run.returncode == 0, run.stdout + run.stderr
    assert location.query(f"SELECT n, seen FROM {location.db}.keys ORDER BY n") == [
        "0,1",
        "1,1",
        "2,1",
    ]
