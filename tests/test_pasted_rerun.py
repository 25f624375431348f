"""A failed run's ``Next:`` line runs as printed: it carries the run's own options.

A review found the line after ``pipeline materialize --source /tmp/x/bad.csv`` said
``pipeline materialize --select 'raw_online_retails' (and your other options) reruns
...``; pasted as printed, it read the default source and was refused (``raw_online_retails
was built from /tmp/x/lat.csv read as iso8859-1; this run would read synthetic:100000:42``).
The line now carries the options that say what the run read and how it ran (``--source``,
``--source-encoding`` as typed, ``--source-timeout``, ``--concurrency``), quoted for a
shell, a URL's secrets as placeholders; "(and your other options)" stays only where some
are left out: a deployment's run, which has parameters, not a command line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from assets.sources import SOURCE_ENCODING_ENV, SOURCE_ENV
from io_managers import ClickHouseIOManager
from orchestration.report_output import print_report
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport
from orchestration.setting_names import as_parameters
from tests.test_cli import REPO
from tests.test_report_output import CAUSE, ORDERS
from tests.test_sources_encoding import sample_lines, write

OTHER = " (and your other options)"


def _pipeline(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _rerun(stderr: str) -> list[str]:
    """The command of the failed run's Next line (stderr's last), as a shell splits it."""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Next: pipeline materialize "), last
    return shlex.split(last.removeprefix("Next: ").partition(" reruns ")[0])


def test_a_failed_runs_next_line_pasted_as_printed_reads_the_runs_source(
    tmp_path: Path, prefect_api_url: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in (SOURCE_ENV, SOURCE_ENCODING_ENV)},
        "PREFECT_API_URL": prefect_api_url,
        "PYTHONPATH": str(REPO),
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}",
        "COLUMNS": "1000",
    }
    lines = sample_lines()
    write(tmp_path / "lat.csv", lines, "latin-1")
    select = ("--select", "raw_online_retails", "--definitions", "assets")
    built = _pipeline(
        tmp_path, env, "materialize", *select, "--source", "lat.csv", "--source-encoding", "latin-1"
    )
    assert built.returncode == 0, built.stdout + built.stderr
    bad = tmp_path / "my data" / "bad.csv"
    bad.parent.mkdir()
    write(bad, [lines[0], lines[1].replace(",6,", ",six,", 1), *lines[2:11]], "latin-1")
    options = ["--source", str(bad), "--source-encoding", "latin-1"]
    options += ["--source-timeout", "30", "--concurrency", "2"]

    failed = _pipeline(tmp_path, env, "materialize", *select, *options)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "'six'" in failed.stderr, failed.stderr
    assert OTHER not in failed.stderr.strip().splitlines()[-1]
    command = _rerun(failed.stderr)
    assert command[-10:] == [*options, "--definitions", "assets"], command
    write(bad, lines[:11], "latin-1")  # the cause fixed
    pasted = _pipeline(tmp_path, env, *command[1:])
    assert pasted.returncode == 0, pasted.stdout + pasted.stderr
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        assert warehouse.row_count("raw.online_retails") == 10  # bad.csv's, not lat.csv's


def _next_line(plan: MaterializationPlan) -> str:
    failed = AssetOutcome("orders", "m.orders", "failed", 0.3, error=CAUSE, foreseen=True)
    skipped = AssetOutcome("daily", "m.daily", "skipped", failed_upstream=("orders",))
    built = AssetOutcome("items", "m.items", "materialized")
    console = Console(width=1000)
    with console.capture() as captured:
        print_report(RunReport(outcomes=[failed, built, skipped]), console, plan)
    return captured.get().strip().splitlines()[-1]


SECRET_URL = "https://reader:s3cret@data.example/my file.csv?X-Amz-Signature=t0ken"
RUN_OPTIONS = (("--source", SECRET_URL), ("--source-encoding", "latin-1"))


def test_the_rerun_carries_the_runs_source_with_its_secrets_as_placeholders() -> None:
    plan = MaterializationPlan(ORDERS, list(ORDERS), [], "*", run_options=RUN_OPTIONS)
    line = _next_line(plan)
    for secret in ("reader", "s3cret", "t0ken"):
        assert secret not in line
    assert line.startswith(
        "Next: pipeline materialize --select 'orders+' --source "
        "'https://USER:PASSWORD@data.example/my file.csv?QUERY' --source-encoding latin-1 "
        "reruns the failed asset and the 1 skipped"
    ), line


def test_a_deployments_run_keeps_its_other_options_in_words() -> None:
    """Its source is a parameter (a Custom run's, a schedule's): no command line to copy."""
    plan = MaterializationPlan(ORDERS, list(ORDERS), [], "*", run_options=RUN_OPTIONS)
    with as_parameters():
        line = _next_line(plan)
    assert line.startswith(f"Next: pipeline materialize --select 'orders+'{OTHER} reruns"), line
    assert "data.example" not in line
