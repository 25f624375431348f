"""A command asked for a document (``--json``, ``--format json|csv|mermaid|dot``) prints
only that document on stdout, whatever the user's code prints.

``print("debug")`` at the top of a code location or in an asset body is how code gets
debugged; a script piping ``pipeline materialize --json`` into ``jq`` must not find it
first. The prints go to stderr instead, where the person debugging still sees them.
Real ``pipeline`` processes on a real embedded warehouse (and the session's Prefect
server for the run); the warm start is tested in tests/test_warm_start.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.printing_location import AT_IMPORT, IN_THE_BODY

REPO = Path(__file__).resolve().parents[1]
LOCATION = ("--definitions", "tests.printing_location")


def pipeline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, *LOCATION],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> dict[str, Any]:
    """The environment of a warehouse the printing location was materialized into, with
    that run's ``--json`` output."""
    warehouse = tmp_path_factory.mktemp("printing") / "wh"
    env = {**os.environ, "WAREHOUSE_URL": f"chdb://{warehouse}", "PREFECT_API_URL": prefect_api_url}
    return {"env": env, "run": pipeline(env, "materialize", "--json")}


def test_a_runs_json_report_is_all_of_stdout_and_the_prints_go_to_stderr(
    built: dict[str, Any],
) -> None:
    run = built["run"]
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert [asset["status"] for asset in report["assets"]] == ["materialized"] * 2
    assert AT_IMPORT in run.stderr.splitlines()
    assert IN_THE_BODY in run.stderr.splitlines()


def _rows_of_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


#: Each command that prints a document, and how a script reads it.
DOCUMENTS: list[tuple[tuple[str, ...], Callable[[str], Any]]] = [
    (("list", "--json"), json.loads),
    (("validate", "--json"), json.loads),
    (("status", "--json"), json.loads),
    (("plan", "--json"), json.loads),
    (("checks", "--json"), json.loads),
    (("lineage", "--format", "json"), json.loads),
    (("lineage", "--format", "json", "--column", "printing.totals.orders"), json.loads),
    (("query", "--format", "json", "SELECT n FROM printing.orders ORDER BY n"), json.loads),
    (("query", "--format", "csv", "SELECT n FROM printing.orders ORDER BY n"), _rows_of_csv),
    (("lineage", "--format", "dot"), str.splitlines),
    (("lineage", "--format", "mermaid"), str.splitlines),
]


@pytest.mark.parametrize(("args", "read"), DOCUMENTS, ids=[" ".join(a) for a, _ in DOCUMENTS])
def test_a_commands_document_is_all_of_stdout_and_the_prints_go_to_stderr(
    built: dict[str, Any], args: tuple[str, ...], read: Callable[[str], Any]
) -> None:
    result = pipeline(built["env"], *args)

    assert result.returncode == 0, result.stderr
    assert AT_IMPORT in result.stderr.splitlines()
    assert AT_IMPORT not in result.stdout
    document = read(result.stdout)
    if args[0] == "query":
        assert document in ([{"n": 1}, {"n": 2}, {"n": 3}], [["n"], ["1"], ["2"], ["3"]])
    elif read is str.splitlines:
        assert document[0] in ("digraph lineage {", "flowchart TB"), document
