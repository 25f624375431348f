"""The commands the CLI prints to be copied act where the command that printed them acted.

A review found every hint line dropped the ``--warehouse`` and ``--definitions`` typed on
the command line: ``pipeline status --warehouse chdb:///tmp/x/wh3`` ended with a ``Next:
pipeline plan ...`` that, run as printed, read ``WAREHOUSE_URL`` (or ``./.warehouse``)
instead and answered for that warehouse. Each test here runs real commands with both
options against a decoy environment (``WAREHOUSE_URL`` and ``PIPELINE_DEFINITIONS``
pointing elsewhere), takes the command a line prints, runs it as printed (``shlex``) and
checks that it acted on the same warehouse. A password in a typed URL is never printed:
it is ``PASSWORD``, for the user to fill in.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from io_managers import ClickHouseIOManager
from orchestration.typed_options import printed_value
from tests.chdb_http_server import TEST_PASSWORD
from tests.checks_location import defs as checks_defs
from tests.terminal import screen
from tests.test_cli import pipeline

LOCATION = "tests.example_location"


@pytest.fixture
def decoy(tmp_path: Path) -> dict[str, str]:
    """An environment naming another warehouse and another code location: a printed
    command that relies on them acts on the wrong ones, and says so."""
    return {
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'decoy'}",
        "PIPELINE_DEFINITIONS": "tests.empty_location",
        "PIPELINE_WARM_START": "off",
    }


def printed(line: str, before: str, after: str | None = None) -> list[str]:
    """The command ``line`` prints between ``before`` and ``after`` (else the line's end),
    as a shell splits it."""
    start = line.index(before) + len(before)
    end = line.index(after, start) if after is not None else len(line)
    words = shlex.split(line[start:end])
    assert words[0] == "pipeline", line
    return words[1:]


def line_of(output: str, start: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(start))


def run(words: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return pipeline(*words, env=env)


def test_status_plan_materialize_and_query_each_print_the_next_one_for_the_same_warehouse(
    tmp_path: Path, decoy: dict[str, str], prefect_api_url: str
) -> None:
    env = {**decoy, "PREFECT_API_URL": prefect_api_url}
    warehouse = f"chdb://{tmp_path / 'wh3'}"
    location = "tests.checks_location"  # one with DDL, whose assets read no source
    status = run(["status", "--warehouse", warehouse, "--definitions", location], env)
    assert status.returncode == 0, status.stderr
    step = line_of(status.stdout, "Next: ")
    assert step.endswith(" builds them; all are missing.")  # a new warehouse: nothing to plan
    words = printed(step, "Next: ", " builds them")
    assert words[0] == "materialize"
    plan = run(["plan", *words[1:]], env)  # the same options, asked what a run would do
    assert plan.returncode == 0, plan.stderr
    assert "Plan: 3 assets would run" in plan.stdout
    assert str(tmp_path / "wh3") in plan.stderr  # "no warehouse at ... yet": this one

    materialize = run(printed(plan.stdout, "Nothing ran. ", " runs it."), env)
    assert materialize.returncode == 0, materialize.stdout + materialize.stderr
    assert f"Warehouse: {warehouse}" in materialize.stdout
    done = line_of(materialize.stdout, "Next: ")
    query = run(printed(done, "Next: ", " reads the tables"), env)
    assert query.returncode == 0, query.stderr
    assert query.stdout.split() == ["n", "1"]  # unchecked, the last table, from wh3
    lineage = run(printed(done, "tables, ", " draws the graph"), env)
    assert lineage.returncode == 0, lineage.stderr
    assert "unchecked" in lineage.stdout


def test_options_typed_before_the_command_are_carried_and_the_environments_are_not(
    tmp_path: Path, decoy: dict[str, str]
) -> None:
    warehouse = f"chdb://{tmp_path / 'my warehouse'}"
    before = run(["--warehouse", warehouse, "status", "--definitions", LOCATION], decoy)
    assert before.returncode == 0, before.stderr
    words = printed(line_of(before.stdout, "Next: "), "Next: ", " builds")
    assert words[-4:] == ["--warehouse", warehouse, "--definitions", LOCATION]

    from_env = {**decoy, "WAREHOUSE_URL": warehouse, "PIPELINE_DEFINITIONS": LOCATION}
    status = run(["status"], from_env)
    step = line_of(status.stdout, "Next: ")
    assert "--warehouse" not in step and "--definitions" not in step
    assert step == "Next: pipeline materialize builds them; all are missing."
    plan = run(["plan"], from_env)
    assert plan.returncode == 0, plan.stderr
    # No --select was given: there is no "same" one to pass.
    assert "Nothing ran. pipeline materialize runs it." in plan.stdout


def test_a_failed_runs_rerun_line_reruns_on_the_same_warehouse(
    tmp_path: Path, decoy: dict[str, str], prefect_api_url: str
) -> None:
    env = {**decoy, "PREFECT_API_URL": prefect_api_url}
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n1\n2\n3\n")
    where = ["--warehouse", f"chdb://{tmp_path / 'wh'}", "--definitions", "tests.history_location"]
    source = ["--source", str(csv)]
    failed = run(
        ["materialize", "--select", "not stalls", *source, *where],
        {**env, "HIST_TOTAL_FAILS": "1"},
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    rerun = printed(line_of(failed.stderr, "Next: "), "Next: ", " reruns")
    assert rerun[-6:] == [*source, *where]
    again = run(rerun, env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Warehouse: {where[1]}" in again.stdout
    assert "total" in again.stdout


def test_a_drift_refusals_full_refresh_runs_on_the_same_warehouse(
    tmp_path: Path, decoy: dict[str, str], prefect_api_url: str
) -> None:
    env = {**decoy, "PREFECT_API_URL": prefect_api_url}
    csv = tmp_path / "source.csv"
    csv.write_text("n,q\n1,10\n")
    where = ["--warehouse", f"chdb://{tmp_path / 'wh'}", "--definitions", "tests.safety_location"]
    built = run(["materialize", "--select", "ingest or report", "--source", str(csv), *where], env)
    assert built.returncode == 0, built.stdout + built.stderr
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.command("ALTER TABLE safe.report MODIFY COLUMN q Int8")
    # Refused in the asset's task, on one of the run's worker threads: the same command,
    # reading the same source, as many assets at a time.
    source = ["--source", str(csv), "--concurrency", "2"]
    refused = run(["materialize", "--select", "report", *source, *where], env)
    assert refused.returncode == 1
    rebuild = " ".join(["pipeline materialize --full-refresh --select report", *source, *where])
    said = line_of(refused.stderr, "error: asset 'report' ")  # a failure is said on stderr
    assert f"Rebuild it from the DDL with: {rebuild}" in said
    status = run(["status", "--select", "report", *where], env)
    assert status.returncode == 0, status.stderr
    assert printed(line_of(status.stdout, "Next: "), "Next: ", " rebuilds the table")[-4:] == where
    # The failure it recorded keeps that command whole in the asset's why, however long.
    assert f"Rebuild it from the DDL with: {rebuild}; " in line_of(status.stdout, "report ")

    plan = run(["plan", "--select", "report", *source[:2], *where], env)
    assert plan.returncode == 1
    next_words = printed(line_of(plan.stdout, "Next: "), "Next: ", " rebuilds the table")
    assert next_words[-6:] == [*source[:2], *where]
    refusal = line_of(plan.stderr, "error: ")
    rebuild = shlex.split(refusal.partition("Rebuild it from the DDL with: ")[2])
    assert rebuild[0] == "pipeline" and rebuild[1:] == next_words
    rebuilt = run(rebuild[1:], env)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert f"Warehouse: {where[1]}" in rebuilt.stdout


def test_checks_name_the_materialize_that_builds_in_the_same_warehouse(
    tmp_path: Path, decoy: dict[str, str], prefect_api_url: str
) -> None:
    env = {**decoy, "PREFECT_API_URL": prefect_api_url}
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.setup(checks_defs.ddl_paths)
    where = ["--warehouse", f"chdb://{tmp_path / 'wh'}", "--definitions", "tests.checks_location"]
    unbuilt = run(["checks", "--select", "readings", *where], env)
    assert unbuilt.returncode == 1
    build = printed(line_of(unbuilt.stdout, "readings"), "; run ")
    assert build[-4:] == where
    assert run(build, env).returncode == 0
    checked = run(["checks", "--select", "readings", *where], env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_warehouse_password_is_never_printed_and_the_line_runs_once_filled_in(
    chdb_stand_in: str, decoy: dict[str, str]
) -> None:
    assert f":{quote(TEST_PASSWORD, safe='')}@" in chdb_stand_in
    source = "https://reader:s3cret@data.example/x.csv?X-Amz-Signature=t0ken"
    status = run(
        ["status", "--warehouse", chdb_stand_in, "--definitions", LOCATION, "--source", source],
        decoy,
    )
    assert status.returncode == 0, status.stderr
    for secret in (quote(TEST_PASSWORD, safe=""), "s3cret", "t0ken", "reader"):
        assert secret not in status.stdout + status.stderr
    words = printed(line_of(status.stdout, "Next: "), "Next: ", " builds")
    assert words[0] == "materialize"
    placeholder = chdb_stand_in.replace(quote(TEST_PASSWORD, safe=""), "PASSWORD")
    assert words[-6:] == [
        "--source",
        "https://USER:PASSWORD@data.example/x.csv?QUERY",
        "--warehouse",
        placeholder,
        "--definitions",
        LOCATION,
    ]
    # Planned, not run: the source URL is on no reachable host.
    filled = [chdb_stand_in if word == placeholder else word for word in words[1:]]
    plan = run(["plan", *filled], decoy)
    assert plan.returncode == 0, plan.stderr
    assert "Plan: 4 assets would run" in plan.stdout
    assert "decoy" not in plan.stderr


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--warehouse", "chdb:///tmp/my wh", "'chdb:///tmp/my wh'"),
        (
            "--warehouse",
            "clickhouses://etl:p%40ss@ch.internal:8443/?verify=false",
            "'clickhouses://etl:PASSWORD@ch.internal:8443/?verify=false'",
        ),
        ("--warehouse", "clickhouse://etl@ch:8123/", "clickhouse://etl@ch:8123/"),
        ("--warehouse", "chdb://[x/wh", "URL"),  # a directory "[x", unreadable as a URL
        ("--definitions", "my_pipeline.defs", "my_pipeline.defs"),
        ("--source", "data/online retail.csv", "'data/online retail.csv'"),
        ("--source", "https://token@host/x.csv#k=v", "'https://USER@host/x.csv#FRAGMENT'"),
    ],
)
def test_a_printed_value_is_quoted_for_a_shell_with_its_secrets_as_placeholders(
    option: str, value: str, shown: str
) -> None:
    assert printed_value(option, value) == shown


def test_on_a_narrow_terminal_a_printed_command_stays_one_line_to_copy(
    tmp_path: Path, decoy: dict[str, str]
) -> None:
    """Broken at the terminal's width, a command copied as shown ran in two pieces: the
    first without the options after the break (its --warehouse among them). The terminal
    wraps the line for the eye; what it holds is one line."""
    warehouse = f"chdb://{tmp_path / 'a warehouse with a long name'}"
    code, lines = screen(
        {**os.environ, **decoy},
        *("status", "--warehouse", warehouse, "--definitions", LOCATION),
        columns=60,
    )
    assert code == 0, lines
    words = printed(line_of("\n".join(lines), "Next: "), "Next: ", " builds")
    assert words[-4:] == ["--warehouse", warehouse, "--definitions", LOCATION]


def test_the_query_after_a_run_reads_that_runs_rows_of_a_table_that_keeps_every_runs(
    tmp_path: Path, decoy: dict[str, str], prefect_api_url: str
) -> None:
    """The shipped pipeline's last table, quality.pipeline_metrics, keeps every run's
    gauges (insert-only): ``SELECT * FROM quality.pipeline_metrics LIMIT 10`` showed the
    first run's rows after any later run. The query, run as printed, gives the latest's."""
    env = {**decoy, "PREFECT_API_URL": prefect_api_url}
    where = ["--warehouse", f"chdb://{tmp_path / 'wh'}", "--definitions", "assets"]
    runs = []
    for _ in range(2):
        done = run(["materialize", "--source", "synthetic:300:7", *where], env)
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append(done.stdout.split("Flow run id: ")[1].split()[0])

    step = line_of(done.stdout, "Next: ")
    query = printed(step, "Next: ", " reads the tables")
    assert "quality.pipeline_metrics" in query[1], step
    rows = run([*query, "--format", "json"], env)

    assert rows.returncode == 0, rows.stderr
    read = json.loads(rows.stdout)
    assert len(read) == 10, read
    assert {row["run_id"] for row in read} == {runs[1]}, (runs, read)
