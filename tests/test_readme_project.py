"""The README's "project of its own" is whole and does what the README says.

The files are read from README.md (each block whose first line names its path), the
commands run as a user runs them: the console script, from the project's directory, the
framework installed beside it and nothing on PYTHONPATH. An example that drifts from the
API (an undefined name, a schema the DDL disagrees with) fails here, not for a reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.readme_project import build_readme_project, readme_project, run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return build_readme_project(tmp_path)


def test_the_readme_project_runs_as_its_commands_say(project: Path, prefect_api_url: str):
    _, lines = readme_project()
    assert [line.split()[:2] for line in lines[1:]] == [
        ["pipeline", "validate"],
        ["pipeline", "materialize"],
        ["pipeline", "status"],
    ]
    results = [run(project, line, prefect_api_url) for line in lines]
    for line, result in zip(lines, results, strict=True):
        assert result.returncode == 0, f"{line}: {result.stdout}{result.stderr}"
    assert "schemas, DDL and SQL agree (2 assets" in results[1].stdout
    assert "Run report: 2 materialized" in results[2].stdout
    assert (project / ".warehouse").is_dir()
    states = json.loads(run(project, "pipeline status --json", prefect_api_url).stdout)
    assert {s["key"]: s["state"] for s in states} == {"orders": "fresh", "order_totals": "fresh"}

    # As the README says next: a negative amount fails orders' check, in a run and in
    # validate --sample; the run skips order_totals.
    with (project / "data/orders.csv").open("a") as csv:
        csv.write("3,-5.0\n")
    failed = run(project, "pipeline materialize", prefect_api_url)
    assert failed.returncode == 1
    assert "check 'no_negative_amounts' (error): 1 offending row" in failed.stderr
    assert "1 asset skipped (upstream failed: orders): order_totals" in failed.stdout
    assert "Next: fix the rows its check found" in failed.stderr
    sample = run(project, "pipeline validate --sample", prefect_api_url)
    assert sample.returncode == 1
    assert "[sample] asset orders table shop.orders: check 'no_negative_amounts'" in sample.stdout
