"""A command run in a subdirectory of a project acts on the project, as git does.

The project is the nearest directory above the working directory whose pyproject.toml
names a code location (``[tool.pipeline] definitions``): the default embedded warehouse
(``.warehouse``) and the default reports directory (``reports/``) are its own, wherever
in it a command runs. ``cd docs && pipeline materialize`` built a second, empty warehouse
in ``docs/.warehouse`` and wrote the dashboard to ``docs/reports/``; from ``assets/``,
``pipeline status`` said every asset was missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.dashboard import DASHBOARD_PATH_ENV, dashboard_path
from io_managers import load_config
from orchestration.project import project_dir
from tests.test_cli import REPO

#: Settings that would choose the warehouse or the code location for the command.
_CHOOSERS = ("WAREHOUSE_URL", "CLICKHOUSE_HOST", "PIPELINE_DEFINITIONS")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project naming a code location, with a ``docs/`` directory to run commands in."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pipeline]\ndefinitions = 'tests.example_location'\n"
    )
    (tmp_path / "docs").mkdir()
    return tmp_path


@pytest.fixture
def in_docs(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory is the project's ``docs/``, nothing chooses a warehouse."""
    monkeypatch.chdir(project / "docs")
    for name in (*_CHOOSERS, DASHBOARD_PATH_ENV):
        monkeypatch.delenv(name, raising=False)
    return project


def test_the_project_is_the_directory_of_the_pyproject_naming_the_code_location(in_docs):
    assert project_dir() == in_docs


def test_outside_any_project_it_is_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_dir() == tmp_path


def test_the_default_warehouse_is_the_projects_from_a_subdirectory(in_docs):
    assert load_config(environ={}).path == in_docs / ".warehouse"


def test_a_relative_warehouse_url_stays_relative_to_the_working_directory(in_docs):
    """What the user typed is taken as given, as any path on a command line."""
    config = load_config(environ={"WAREHOUSE_URL": "chdb://here"})
    assert config.path == in_docs / "docs" / "here"


def test_the_default_dashboard_goes_to_the_projects_reports(in_docs):
    assert dashboard_path({}) == in_docs / "reports" / "sales_dashboard.html"


def test_a_relative_dashboard_path_stays_relative_to_the_working_directory(in_docs):
    assert dashboard_path({"sales_dashboard_path": "out/page.html"}) == Path("out/page.html")


def test_a_command_in_a_subdirectory_reads_the_projects_warehouse(project: Path):
    """The user's command, a real process: it names the warehouse it looked for."""
    env = {k: v for k, v in os.environ.items() if k not in _CHOOSERS}
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", "query", "SELECT 1"],
        cwd=project / "docs",
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: no warehouse at {project / '.warehouse'} (nothing has been materialized "
        "there; check --warehouse)"
    ]
    assert sorted(path.name for path in project.iterdir()) == ["docs", "pyproject.toml"]
