"""An error in an asset's own code names the file and line to edit, alike in every command.

A SELECT that does not compile or does not fit its table, a body that raises, a schema
field that does not fit its DDL column: ``pipeline validate`` and ``pipeline materialize``
said each without saying where it is declared, so in a project of 30 assets the user
searched for it. Now the cause starts with ``file:line`` (relative to the directory the
command runs in), compiler-style, and reads the same in both commands.

Each test writes a code location of its own (:func:`tests.locations.write_location`) and
runs ``pipeline`` on it as a user does: a real process, the embedded warehouse.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.locations import line_of, run_location, write_location
from tests.test_cli import failure_of

MODULE = "code_errors_location"

#: Assets whose own code is wrong in each of the ways a line must place.
ASSETS = """import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

DB = "code_errors"


def helper(n):
    return 1 / n


def source(context):
    return "SELECT toInt64(number) AS n FROM numbers(3)"


def typo(context):
    return f"SELECT n, Countree AS m FROM {DB}.source"


def misspelt(context):
    return '''
SELECT
    n,
    Countri AS m
FROM code_errors.source
'''


def renamed(context):
    return f"SELECT n, n AS other FROM {DB}.source"


def raises(context):
    return pd.DataFrame({"n": [helper(0)]})


def asks(context):
    return context.io_manager.query_arrow(f"SELECT nn AS n FROM {DB}.source").to_pandas()


class Numbers(pa.DataFrameModel):
    n: Series[int]


class Named(Numbers):
    m: Series[str]


class Paired(Numbers):
    m: Series[int]


class Ratios(pa.DataFrameModel):
    n: Series[float]


class Typed(pa.DataFrameModel):
    n: Series[str]


ASSETS = [
    AssetSpec(key="source", table=f"{DB}.source", kind="sql", schema=Numbers, body=source),
    AssetSpec(key="typo", table=f"{DB}.typo", kind="sql", deps=("source",), schema=Named,
              body=typo),
    AssetSpec(key="misspelt", table=f"{DB}.misspelt", kind="sql", deps=("source",),
              schema=Named, body=misspelt),
    AssetSpec(key="renamed", table=f"{DB}.renamed", kind="sql", deps=("source",),
              schema=Paired, body=renamed),
    AssetSpec(key="raises", table=f"{DB}.raises", kind="python", schema=Ratios, body=raises),
    AssetSpec(key="asks", table=f"{DB}.asks", kind="python", deps=("source",), schema=Numbers,
              body=asks),
    AssetSpec(key="typed", table=f"{DB}.typed", kind="sql", deps=("source",), schema=Typed,
              body=lambda context: f"SELECT n FROM {DB}.source"),
]
"""

DDL = """CREATE DATABASE IF NOT EXISTS code_errors;
CREATE TABLE IF NOT EXISTS code_errors.source (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.typo (n Int64, m String) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.misspelt (n Int64, m String) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.renamed (n Int64, m Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.raises (n Float64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.typed (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS code_errors.asks (n Int64) ENGINE = MergeTree ORDER BY n;
"""


@pytest.fixture
def location(tmp_path: Path) -> Path:
    write_location(tmp_path, MODULE, ASSETS, DDL)
    return tmp_path


def first_findings(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """What ``validate --json`` found first of each asset."""
    assert result.returncode == 1, result.stdout + result.stderr
    found: dict[str, str] = {}
    for finding in json.loads(result.stdout):
        found.setdefault(finding["asset"], finding["found"])
    return found


def pipeline(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` on the location written in ``cwd``, run there."""
    return run_location(cwd, MODULE, *args, **env)


def test_validate_and_materialize_name_the_line_of_an_assets_own_code_alike(
    location: Path, prefect_api_url: str
):
    module = location / f"{MODULE}.py"
    typo = f"{MODULE}.py:{line_of(module, 'Countree AS m')}"
    # A SELECT over several lines: at the line (and column) that holds the unknown name.
    misspelt = f"{MODULE}.py:{line_of(module, 'Countri AS m')}:5"
    renamed = f"{MODULE}.py:{line_of(module, 'n AS other')}"
    raised = f"{MODULE}.py:{line_of(module, 'return 1 / n')}"
    asked = f"{MODULE}.py:{line_of(module, 'SELECT nn AS n')}"
    field = f"{MODULE}.py:{line_of(module, 'n: Series[str]')}"

    found = first_findings(pipeline(location, "validate", "--sample", "--json"))
    assert found["typo"].startswith(
        f"{typo}: SELECT does not compile: Unknown expression identifier `Countree`"
    )
    assert found["misspelt"].startswith(
        f"{misspelt}: SELECT does not compile: Unknown expression identifier `Countri`"
    )
    assert found["renamed"] == (
        f"{renamed}: SELECT output column(s) other are not in the table (columns: n, m)"
    )
    assert found["raises"] == f"{raised}: ZeroDivisionError: division by zero"
    # The engine refusing the SQL a Python body sends is that body raising, at its line.
    assert found["asks"].startswith(f"{asked}: WarehouseQueryError: Unknown expression identifier")
    assert found["typed"].startswith(f"{field}: ClickHouse type Int64 does not fit dtype str")

    result = pipeline(location, "materialize", "--json", PREFECT_API_URL=prefect_api_url)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = {asset["key"]: asset["error"] for asset in json.loads(result.stdout)["assets"]}
    # Worded as validate words it, after the asset and its table.
    assert errors["typo"] == f"asset 'typo' (table code_errors.typo): {found['typo']}"
    assert errors["misspelt"] == (
        f"asset 'misspelt' (table code_errors.misspelt): {found['misspelt']}"
    )
    assert errors["renamed"] == f"asset 'renamed' (table code_errors.renamed): {found['renamed']}"
    assert errors["raises"] == found["raises"]
    assert errors["asks"] == found["asks"]
    assert errors["typed"].startswith(
        f"asset 'typed' (table code_errors.typed): failed validation: column 'n': {field}: "
        "dtype: ClickHouse type Int64 does not fit dtype str"
    )


def test_the_run_tables_cell_gives_the_cause_after_any_path_to_the_code(
    tmp_path: Path, prefect_api_url: str
):
    """The lineage table's error cell (50 characters) gives what went wrong, not where:
    the failures list above it gives the place. It was cut off the error's text by a
    pattern that knew no space in a path, so code in ``my project/`` filled the cell
    with its path again; the run now keeps the place and the cause apart."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    from orchestration.artifacts import LINEAGE_ARTIFACT_KEY
    from tests.lineage_markdown import artifact_rows
    from tests.locations import REPO

    project = tmp_path / "my project"
    project.mkdir()
    write_location(project, MODULE, ASSETS, DDL)
    path = os.pathsep.join([str(project), str(REPO)])
    result = pipeline(
        tmp_path, "materialize", "--json", PREFECT_API_URL=prefect_api_url, PYTHONPATH=path
    )

    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    errors = {asset["key"]: asset["error"] for asset in report["assets"]}
    raised = f"my project/{MODULE}.py:{line_of(project / f'{MODULE}.py', 'return 1 / n')}"
    assert errors["raises"] == f"{raised}: ZeroDivisionError: division by zero"
    with get_client(sync_client=True) as client:
        [lineage] = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[LINEAGE_ARTIFACT_KEY]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[report["flow_run_id"]]),
            )
        )
    cells = {key: row[6] for key, row in artifact_rows(lineage.data).items()}
    assert {key: cells[key] for key in ("raises", "typo", "renamed", "asks")} == {
        "raises": "division by zero",
        "typo": "SELECT does not compile: Unknown expression…",
        "renamed": "SELECT output column(s) other are not in the table…",
        "asks": "Unknown expression identifier \\`nn\\`.",
    }


def test_validate_counts_its_problems_in_words(location: Path):
    result = pipeline(location, "validate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "5 problems in 7 assets"


def test_a_sql_body_that_raises_when_rendered_names_the_line_that_raised(tmp_path: Path):
    assets = ASSETS.replace(
        'return f"SELECT n, Countree AS m FROM {DB}.source"',
        "return f\"SELECT n FROM {DB}.{context.params['table']}\"",
    )
    write_location(tmp_path, MODULE, assets, DDL)
    line = line_of(tmp_path / f"{MODULE}.py", "context.params['table']")

    result = pipeline(tmp_path, "validate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "[graph] asset 'typo' (table code_errors.typo): its SQL body failed when rendered "
        "for analysis: "
        f"{MODULE}.py:{line}: KeyError: 'table'"
    )


#: ``typo`` misspelling a column of a table it names by an alias, as ``sat.Quantiy`` did
#: in the facts' SELECT: the engine says the cause and its guess, then quotes the whole
#: SELECT it compiled ("In scope SELECT ...", ~600 characters for the facts'), which the
#: place in the file points to already.
ALIASED = ASSETS.replace(
    'return f"SELECT n, Countree AS m FROM {DB}.source"',
    'return f"SELECT src.n AS n, src.nn AS m FROM {DB}.source AS src"',
)
CAUSE = (
    "SELECT does not compile: Identifier 'src.nn' cannot be resolved from table with name "
    "src (an alias of source). Maybe you meant: ['src.n']."
)
QUOTE = "In scope SELECT src.n AS n, src.nn AS m FROM code_errors.source AS src"
#: How the engine starts its quote of a SELECT (``misspelt``'s too).
QUOTED = "In scope SELECT"


@pytest.fixture
def aliased(tmp_path: Path) -> Path:
    write_location(tmp_path, MODULE, ALIASED, DDL)
    return tmp_path


def typo_line(output: str) -> str:
    """The one line of ``output`` about the asset ``typo``."""
    (line,) = [line for line in output.splitlines() if "typo" in line and "SELECT" in line]
    return line


def quoted_selects(output: str) -> list[str]:
    """The lines of ``output`` that say a SELECT does not compile and quote it after."""
    return [line for line in output.splitlines() if "does not compile" in line and QUOTED in line]


def test_validate_says_a_select_compile_error_in_one_line_and_the_engines_quote_on_request(
    aliased: Path,
):
    """Cause, guess and place, and there the line stops: the text output and the CI
    annotation; the engine's quote of the SELECT only with ``--verbose`` and in
    ``--json``'s ``found_full`` (``found`` is in the words of the text output)."""
    where = f"{MODULE}.py:{line_of(aliased / f'{MODULE}.py', 'src.nn AS m')}"

    text = pipeline(aliased, "validate")
    assert text.returncode == 1, text.stdout + text.stderr
    line = typo_line(text.stdout)
    assert line.startswith(f"[select] asset typo table code_errors.typo: {where}")
    assert line.endswith(f": {CAUSE}")
    assert quoted_selects(text.stdout) == []

    github = pipeline(aliased, "validate", "--format", "github")
    assert github.returncode == 1, github.stdout + github.stderr
    assert typo_line(github.stdout).endswith(f": {CAUSE}")
    assert quoted_selects(github.stdout) == []

    verbose = pipeline(aliased, "validate", "--verbose")
    assert verbose.returncode == 1, verbose.stdout + verbose.stderr
    assert typo_line(verbose.stdout) == f"{line} {QUOTE}. (UNKNOWN_IDENTIFIER)"

    found = json.loads(pipeline(aliased, "validate", "--json").stdout)
    (typo,) = [f for f in found if f["asset"] == "typo"]
    assert typo["found"] == line.removeprefix("[select] asset typo table code_errors.typo: ")
    assert typo["found_full"] == f"{typo['found']} {QUOTE}. (UNKNOWN_IDENTIFIER)"
    (misspelt,) = [f for f in found if f["asset"] == "misspelt"]
    assert misspelt["found"].endswith(
        ": SELECT does not compile: Unknown expression identifier `Countri`."
    )
    assert misspelt["found_full"] == (
        f"{misspelt['found']} In scope SELECT n, Countri AS m FROM code_errors.source. "
        "(UNKNOWN_IDENTIFIER)"
    )
    assert all(
        f["found_full"] == f["found"] for f in found if f["asset"] not in ("typo", "misspelt")
    )


def test_the_engine_refusing_a_python_bodys_query_is_cut_at_its_quote_alike(location: Path):
    """A Python body's own query the engine refuses is said, as a SELECT's is, up to the
    engine's quote of it; ``--verbose`` and ``--json``'s ``found_full`` give the quote."""
    asked = f"{MODULE}.py:{line_of(location / f'{MODULE}.py', 'SELECT nn AS n')}"
    said = f"{asked}: WarehouseQueryError: Unknown expression identifier `nn`."

    found = json.loads(pipeline(location, "validate", "--sample", "--json").stdout)
    (asks,) = [f for f in found if f["asset"] == "asks"]
    assert asks["found"] == said
    assert asks["found_full"].startswith(f"{said} In scope SELECT nn AS n FROM ")

    text = pipeline(location, "validate", "--sample")
    (line,) = [line for line in text.stdout.splitlines() if "asset asks " in line]
    assert line.endswith(said)
    verbose = pipeline(location, "validate", "--sample", "--verbose")
    (line,) = [line for line in verbose.stdout.splitlines() if "asset asks " in line]
    assert "In scope SELECT nn AS n FROM " in line


def test_materialize_says_a_select_compile_error_in_one_line_and_the_engines_quote_on_request(
    aliased: Path, prefect_api_url: str
):
    """The progress line and the report say cause, guess and place; ``--verbose`` gives
    the report the engine's quote of the SELECT, ``--json`` its ``error_full``; the
    history keeps the whole error (``status --json``'s ``last_attempt``)."""
    where = f"{MODULE}.py:{line_of(aliased / f'{MODULE}.py', 'src.nn AS m')}"
    said = f"asset 'typo' (table code_errors.typo): {where}"

    text = pipeline(aliased, "materialize", PREFECT_API_URL=prefect_api_url)
    assert text.returncode == 1, text.stdout + text.stderr
    assert quoted_selects(text.stdout) == []
    # Its one line on stderr: the asset's lead, the place, the cause, once.
    assert re.fullmatch(
        rf"{re.escape(where)}.*: {re.escape(CAUSE)}", failure_of(text.stderr, "typo")
    )
    assert CAUSE not in text.stdout

    verbose = pipeline(aliased, "materialize", "--verbose", PREFECT_API_URL=prefect_api_url)
    assert verbose.returncode == 1, verbose.stdout + verbose.stderr
    assert failure_of(verbose.stderr, "typo").endswith(f": {CAUSE} {QUOTE}. (UNKNOWN_IDENTIFIER)")
    # Said in full, the asset is named once: by the lead, not again before the cause.
    (full,) = [
        line for line in verbose.stderr.splitlines() if line.startswith("error: asset 'typo'")
    ]
    assert full.count("'typo'") == 1, full

    result = pipeline(aliased, "materialize", "--json", PREFECT_API_URL=prefect_api_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assets = {asset["key"]: asset for asset in json.loads(result.stdout)["assets"]}
    assert assets["typo"]["error"].startswith(said)
    assert assets["typo"]["error"].endswith(f": {CAUSE}")
    assert assets["typo"]["error_full"] == (
        f"{assets['typo']['error']} {QUOTE}. (UNKNOWN_IDENTIFIER)"
    )
    assert assets["typo"]["error_full"].count("asset 'typo'") == 1
    assert assets["renamed"]["error_full"] == assets["renamed"]["error"]

    status = pipeline(aliased, "status", "--json", "--select", "typo")
    (typo,) = json.loads(status.stdout)
    assert typo["last_attempt"]["error"] == assets["typo"]["error_full"]


SCHEMAS = """import pandera.pandas as pa
from pandera.typing import Series


class Base(pa.DataFrameModel):
    n: Series[int]


class Sales(Base):
    quantity: Series[int] = pa.Field(
        alias="Quantity",
    )
    unit_price  :  Series[float]

    class Config:
        strict = True
"""


def test_a_schema_error_names_the_line_of_the_field_declared_under_an_alias_or_in_a_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A field is found by the column it checks: an aliased one (``quantity`` checks
    ``Quantity``) by its attribute, an inherited one in its base; a column no field
    declares (``strict``, a Config setting, is none) names the model's ``class`` line."""
    from orchestration.asset_code import schema_place

    (tmp_path / "line_schemas.py").write_text(SCHEMAS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import line_schemas

    path = tmp_path / "line_schemas.py"
    field_text = {
        "Quantity": "quantity:",
        "unit_price": "unit_price",
        "n": "n: Series",
        "strict": "class Sales",
        None: "class Sales",
    }
    for column, text in field_text.items():
        assert str(schema_place(line_schemas.Sales, column)) == (
            f"line_schemas.py:{line_of(path, text)}"
        ), column
