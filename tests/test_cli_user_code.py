"""Errors in the user's own code, as ``pipeline`` shows them: one compiler-style line.

A syntax error, a typo in a Pandera ``Field`` or an exception raised by module-level code
of the code location (or of a schema module it names) is the user's input, not a bug of
the command: the line names the file (relative to the directory the command runs in),
the line and, for a syntax error, the column, so an editor or a CI log links to it; no
``--debug`` hint, though ``--debug`` still shows the traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.locations import copy_retail_location

REPO = Path(__file__).resolve().parents[1]
DEBUG_HINT = "(run with --debug for the traceback)"


def pipeline(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` run in ``cwd``, on the code location there (the real one's copy),
    with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, "--definitions", "assets"],
        cwd=cwd,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "WAREHOUSE_URL": f"chdb://{cwd / 'wh'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the code location (assets/ and schemas/ are both there, each with
    a marts.py), free to break."""
    return copy_retail_location(tmp_path)


def mutate(path: Path, pattern: str, replacement: str) -> int:
    """Replace the first match of ``pattern`` in ``path``; returns its line number."""
    text = path.read_text()
    match = re.search(pattern, text, flags=re.MULTILINE)
    assert match, f"{pattern!r} not found in {path}"
    path.write_text(text[: match.start()] + replacement + text[match.end() :])
    return text.count("\n", 0, match.start()) + 1


def test_a_syntax_error_in_a_schema_module_names_its_file_line_and_column(project: Path):
    line = mutate(
        project / "schemas" / "marts.py",
        r"^class DimCountry\(pa.DataFrameModel\):",
        "class DimCountry(pa.DataFrameModel)",
    )
    result = pipeline(project, "status")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: schemas/marts.py:{line}:36: SyntaxError: expected ':'"
    ]
    # validate says it once, naming a few of the assets whose schema is there, and goes on.
    validated = pipeline(project, "validate")
    assert validated.returncode == 1, validated.stdout + validated.stderr
    assert validated.stdout.splitlines() == [
        f"[schema] schemas/marts.py:{line}:36: SyntaxError: expected ':' (affects 10 assets: "
        "dim_customer, dim_product, dim_time and 7 more)",
        "1 problem in 29 assets",
    ]


def test_a_syntax_error_in_the_code_location_names_its_file_line_and_column(project: Path):
    line = mutate(project / "assets" / "marts.py", r"^def fact_sales\(", "def fact_sales(:")
    result = pipeline(project, "list")

    assert result.returncode == 1, result.stderr
    [said] = result.stderr.splitlines()
    assert re.fullmatch(rf"error: assets/marts\.py:{line}:\d+: SyntaxError: .+", said), said


def test_module_level_code_that_raises_names_the_users_line(project: Path):
    marts = project / "assets" / "marts.py"
    line = mutate(marts, r"^(?=@sql_asset)", 'LIMIT = int("ten")\n')
    result = pipeline(project, "list")

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: assets/marts.py:{line}: ValueError: invalid literal for int() with base 10: 'ten'"
    ]


def test_debug_still_shows_the_traceback_of_the_users_error(project: Path):
    mutate(project / "assets" / "marts.py", r"^(?=@sql_asset)", 'LIMIT = int("ten")\n')
    result = pipeline(project, "list", "--debug")

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert 'assets/marts.py", line' in result.stderr
    assert DEBUG_HINT not in result.stderr


def test_a_typo_in_a_pandera_field_names_the_line_the_model_and_the_argument(project: Path):
    line = mutate(
        project / "schemas" / "marts.py",
        r"country_key: Series\[UUID\] = pa.Field\(unique=True\)",
        "country_key: Series[UUID] = pa.Field(uniqe=True)",
    )
    result = pipeline(project, "status")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: schemas/marts.py:{line}: in DimCountry: pandera.Field(uniqe=...): neither "
        "one of its arguments nor a registered custom check; did you mean unique?"
    ]


def test_a_declaration_the_framework_refuses_names_the_users_line_not_the_frameworks(
    project: Path,
):
    """The refusal is raised inside ``@sql_asset``; the line to change is the user's."""
    line = mutate(
        project / "assets" / "marts.py", r"^@sql_asset\(\n", '@sql_asset(\n    write_mode="x",\n'
    )
    result = pipeline(project, "list")

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: assets/marts.py:{line}: asset 'fact_sales': write_mode must be 'replace' or "
        "'insert_new'"
    ]


def test_a_helper_module_of_the_project_that_raises_is_the_line_named(project: Path):
    """Not the import line in the code location: the line in the helper that raised."""
    (project / "settings.py").write_text('"""Project settings."""\n\nTHRESHOLD = 1 / 0\n')
    mutate(project / "assets" / "marts.py", r"^(?=@sql_asset)", "import settings\n\n")
    result = pipeline(project, "list")

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "error: settings.py:3: ZeroDivisionError: division by zero"
    ]


def materialize(
    project: Path, prefect_api_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return pipeline(
        project,
        "materialize",
        "--source",
        "synthetic:200",
        *args,
        PREFECT_API_URL=prefect_api_url,
    )


def test_a_broken_schema_module_fails_materialize_in_one_line_before_any_asset(
    project: Path, prefect_api_url: str
):
    """Every selected asset's code version (its schema's included) is recorded when the
    first asset starts: the error was the first asset's failure (the raw ingest, whose
    schema is fine) and 27 assets skipped."""
    line = mutate(
        project / "schemas" / "marts.py",
        r"^class DimCountry\(pa.DataFrameModel\):",
        "class DimCountry(pa.DataFrameModel)",
    )
    result = materialize(project, prefect_api_url)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: schemas/marts.py:{line}:36: SyntaxError: expected ':'"
    ]
    assert "raw_online_retails" not in result.stdout  # no asset was started


def test_an_insert_only_asset_without_a_unique_key_fails_materialize_in_one_line(
    project: Path, prefect_api_url: str
):
    """Said as the first asset's failure; an asset selected alone (its upstream built)
    was only "skipped: did not run (the flow stopped before it)", the cause nowhere."""
    mutate(
        project / "schemas" / "vault.py",
        r"hub_invoice_hash_key: Series\[UUID\] = pa.Field\(unique=True\)",
        "hub_invoice_hash_key: Series[UUID] = pa.Field()",
    )
    said = "error: asset 'hub_invoice': write_mode 'insert_new' needs a unique key"
    for selection in ("*", "+hub_invoice"):
        result = materialize(project, prefect_api_url, "--select", selection)
        assert result.returncode == 1, result.stdout + result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith(said), line
        assert "skipped" not in result.stdout, result.stdout
