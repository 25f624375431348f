"""The API README documents for an asset body type-checks as written, and ``make lint``
type-checks the project's own assets and schemas.

A contributor review wrote a Python asset as README's "Declaring assets" says
(``context.io_manager.query_df(...)``) and ran ``mypy`` on it: ``"IOManager" has no
attribute "query_df"``. The interface asset bodies are typed against lacked the read the
docs tell them to use, and since mypy covered only the framework and the storage, the
project's own assets never showed it. Each test runs mypy as ``make lint`` does, with the
project's configuration.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: A contributor's Python asset, reading its upstream as README documents.
CONTRIBUTED = '''"""A report asset written from README's "Declaring assets"."""

import pandas as pd

from orchestration.asset import asset
from orchestration.context import AssetContext


@asset(table="marts.Country_Report", group="marts", deps=["dim_country"])
def country_report(context: AssetContext) -> pd.DataFrame:
    """One row per country name, read through the warehouse the body is handed."""
    frame = context.io_manager.query_df("SELECT country_name FROM marts.Dim_Country")
    table = context.io_manager.query_arrow("SELECT count() AS n FROM marts.Dim_Country")
    context.log.info("%d countries", table.num_rows)
    return frame.rename(columns={"country_name": "name"})
'''


def run_mypy(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``mypy ARGS`` with the project's configuration, as ``make lint`` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_python_asset_reading_as_readme_documents_type_checks(tmp_path: Path):
    module = tmp_path / "reports.py"
    module.write_text(CONTRIBUTED)
    result = run_mypy(str(module))
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_lint_type_checks_the_assets_and_schemas_and_they_pass():
    configured = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert {"assets", "schemas"} <= set(configured)
    result = run_mypy("assets", "schemas")
    assert result.returncode == 0, result.stdout + result.stderr
