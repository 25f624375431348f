"""The README's "project of its own" is whole and does what the README says.

The files are read from README.md (each block whose first line names its path), the
commands run as a user runs them: the console script, from the project's directory, the
framework installed beside it and nothing on PYTHONPATH. An example that drifts from the
API (an undefined name, a schema the DDL disagrees with) fails here, not for a reader.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## Declaring assets"
#: A fenced block whose first line is a comment naming a file of the project.
FILE_BLOCK = re.compile(r"```(?:python|sql)\n(?:#|--) (\S+)\n(.*?)```", re.S)


def readme_project() -> tuple[dict[str, str], list[str]]:
    """The project's files by path (pyproject.toml from the layout's first line) and the
    shell lines of its ``sh`` block, from the README's section on declaring assets."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    files = {path: body for path, body in FILE_BLOCK.findall(section)}
    layout = re.search(r"^pyproject\.toml +(\[tool\.pipeline\]) (.+)$", section, re.M)
    assert layout, "the layout no longer names the pyproject.toml's setting"
    files["pyproject.toml"] = f"{layout.group(1)}\n{layout.group(2)}\n"
    shell = re.search(r"```sh\n(.*?)```", section, re.S)
    assert shell, "the section no longer shows the commands to run"
    return files, [line.split("  #")[0].strip() for line in shell.group(1).splitlines()]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files, _ = readme_project()
    assert set(files) == {"pyproject.toml", "shop/__init__.py", "shop/assets.py", "ddl/shop.sql"}
    for path, body in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(body)
    return tmp_path


def run(project: Path, line: str, api_url: str) -> subprocess.CompletedProcess[str]:
    """One of the README's lines in ``project``, ``pipeline`` being the console script."""
    script = str(Path(sys.executable).with_name("pipeline"))
    words = shlex.split(line)
    if words[0] == "pipeline":
        words[0] = script
    else:  # the data file's line: a shell's own
        words = ["sh", "-c", line]
    env = {**os.environ, "PREFECT_API_URL": api_url}
    env.pop("PYTHONPATH", None)
    env.pop("WAREHOUSE_URL", None)  # the README's warehouse: ./.warehouse
    return subprocess.run(
        words, cwd=project, env=env, capture_output=True, text=True, timeout=300
    )  # fmt: skip


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
    assert "check 'no_negative_amounts' (error): 1 offending row(s)" in failed.stdout
    assert re.search(r"order_totals +- +- +skipped", failed.stdout), failed.stdout
    assert "Next: fix the rows its check found" in failed.stdout
    sample = run(project, "pipeline validate --sample", prefect_api_url)
    assert sample.returncode == 1
    assert "[sample] asset orders table shop.orders: check 'no_negative_amounts'" in sample.stdout
