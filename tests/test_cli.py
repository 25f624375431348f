"""The ``pipeline`` command as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pipeline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def failure_of(stderr: str, key: str) -> str:
    """The cause a failed run gives on stderr for asset ``key``: its one line there,
    ``error: asset 'key' (table t): cause`` (orchestration.report_output._print_failures)."""
    (line,) = [line for line in stderr.splitlines() if line.startswith(f"error: asset {key!r} ")]
    return line.split("): ", 1)[1]


def test_list_json_gives_assets_in_dependency_order():
    result = pipeline("list", "--definitions", "tests.example_location", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["key"] for r in rows] == ["orders", "customers", "order_facts", "daily_revenue"]
    facts = rows[2]
    assert facts["deps"] == ["orders", "customers"]
    assert facts["group"] == "marts"
    assert facts["table"] == "mart.order_facts"
    assert facts["tags"] == {"layer": "marts"}


def test_list_select_descendants():
    result = pipeline(
        "list", "--definitions", "tests.example_location", "--select", "key:customers+", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert [r["key"] for r in json.loads(result.stdout)] == [
        "customers",
        "order_facts",
        "daily_revenue",
    ]


def test_code_location_from_environment():
    result = pipeline("list", "--json", env={"PIPELINE_DEFINITIONS": "tests.example_location"})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 4


def test_lineage_mermaid_draws_edges_and_unselected_upstream():
    result = pipeline(
        "lineage",
        "--definitions",
        "tests.example_location",
        "--select",
        "order_facts+",
        "--format",
        "mermaid",
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("flowchart TB")
    # Read, not rebuilt: an arrow as any read; the node's dashed border says "not selected".
    assert "orders --> order_facts" in text
    assert "order_facts --> daily_revenue" in text
    assert 'subgraph layer_raw["raw"]' in text
    assert "class orders,customers not_selected" in text


def test_lineage_text_lines_up_in_columns():
    """The table column was not padded, so what each asset reads started wherever its
    table's name ended."""
    result = pipeline("lineage", "--definitions", "tests.example_location")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert len({line.index("<- ") for line in lines}) == 1, lines


def test_lineage_text_of_a_selection_lists_it_and_counts_its_upstream():
    result = pipeline(
        "lineage", "--definitions", "tests.example_location", "--select", "order_facts+"
    )
    assert result.returncode == 0, result.stderr
    *assets, count = result.stdout.splitlines()
    assert [line.split() for line in assets] == [
        ["order_facts", "mart.order_facts", "<-", "orders,", "customers"],
        ["daily_revenue", "mart.daily_revenue", "<-", "order_facts"],
    ]
    assert count == "2 upstream assets not selected (left in the warehouse as they are)"


def test_lineage_dot_is_a_digraph_with_clusters():
    result = pipeline("lineage", "--definitions", "tests.example_location", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph lineage {")
    assert '"order_facts" -> "daily_revenue";' in result.stdout
    assert 'subgraph "cluster_marts"' in result.stdout


def test_selection_syntax_error_exits_2_and_points_at_it():
    result = pipeline(
        "list", "--definitions", "tests.example_location", "--select", "key:orders and ("
    )
    assert result.returncode == 2
    assert "^" in result.stderr
    assert "Traceback" not in result.stderr


def test_selection_matching_nothing_says_so():
    result = pipeline("list", "--definitions", "tests.example_location", "--select", "group:nope")
    assert result.returncode == 2
    assert "group:nope" in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(("list", "--select", "nosuch"),
                     "error: asset selection 'nosuch' matches no asset", id="selects-nothing"),
        pytest.param(("list", "--select", "fact_sales+++"),
                     "error: invalid asset selection at position 11", id="selection-syntax"),
        pytest.param(("list", "--select", "status:stale"),
                     "error: asset selection 'status:stale' uses status:", id="status-here"),
        pytest.param(("materialize", "--source", "synthetic:abc"),
                     "error: Invalid value for '--source'", id="source-form"),
        pytest.param(("materialize", "--concurrency", "0"),
                     "error: Invalid value for '--concurrency'", id="concurrency"),
        pytest.param(("list", "--nope"), "error: No such option: --nope", id="unknown-option"),
    ],
)  # fmt: skip
def test_every_usage_error_exits_2_whichever_check_finds_it(args, says):
    """A selection that does not parse, or matches no asset, is the command line's fault
    as a bad option value is: it exited 1, like a failed run, and a bad value 2."""
    result = pipeline(*args, "--definitions", "tests.example_location")

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(says), result.stderr
    assert "Traceback" not in result.stderr and DEBUG_HINT not in result.stderr


def test_missing_code_location_is_one_clear_line():
    result = pipeline("list", "--definitions", "no_such_module_here")
    assert result.returncode == 1
    assert "code location module 'no_such_module_here' cannot be imported" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_code_location_in_the_directory_the_command_runs_in_is_found(tmp_path: Path):
    """As ``dagster -m`` and ``python -m`` do: a project of one's own, not installed, is
    found from its directory. The console script put no directory on the path, so
    ``pipeline list`` there said "code location module 'shop' cannot be imported"."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from orchestration.asset import sql_asset\n\n\n"
        "@sql_asset(table='shop.orders')\n"
        "def orders(context):\n"
        "    return 'SELECT 1 AS n'\n"
    )
    (tmp_path / "pyproject.toml").write_text("[tool.pipeline]\ndefinitions = 'shop'\n")
    script = Path(sys.executable).with_name("pipeline")  # the console script a user runs
    env = {**os.environ, "PIPELINE_WARM_START": "off"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(script), "list", "--json"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [row["key"] for row in json.loads(result.stdout)] == ["orders"]


def test_run_from_a_subdirectory_the_error_names_the_directory_to_run_from(tmp_path: Path):
    """The pyproject.toml is found by walking up, the code location imported from the
    working directory: from the project's data/ it "cannot be imported", with no hint."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("[tool.pipeline]\ndefinitions = 'shop'\n")
    (tmp_path / "data").mkdir()
    script = Path(sys.executable).with_name("pipeline")  # the console script a user runs
    env = {**os.environ, "PIPELINE_WARM_START": "off"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(script), "list"], cwd=tmp_path / "data", env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: code location module 'shop' cannot be imported: No module named 'shop' "
        f"(named by {tmp_path / 'pyproject.toml'}: run pipeline in {tmp_path})"
    ]


def _modules_imported_by(*args: str) -> set[str]:
    """Modules a ``pipeline`` command imports (``-X importtime`` lists them)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "orchestration", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def _imported_by(*args: str) -> set[str]:
    """Top-level packages a ``pipeline`` command imports."""
    return {module.split(".")[0] for module in _modules_imported_by(*args)}


# Commands that only read declarations answer in well under a second: they must not pay
# for the data stack (~1 s), Prefect (~2 s) or the embedded engine.
HEAVY = {"pandas", "pandera", "numpy", "pyarrow", "prefect", "chdb", "plotly", "httpx", "networkx"}


def test_help_list_and_lineage_import_no_data_stack_or_prefect():
    assert _imported_by("--help") & HEAVY == set()
    assert _imported_by("list", "--select", "fact_sales+") & HEAVY == set()
    assert _imported_by("lineage", "--select", "group:vault") & HEAVY == set()


def test_a_query_imports_no_pandas_pandera_or_prefect(tmp_path: Path):
    """A query is SQL in, Arrow out: pandas (~0.45 s to import) is for Python assets."""
    from io_managers import ClickHouseIOManager

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as made:  # a query makes none
        made.command("CREATE DATABASE shop")
    warehouse = f"chdb://{tmp_path / 'warehouse'}"
    imported = _imported_by("query", "--warehouse", warehouse, "SELECT 1 AS one")
    assert imported & {"pandas", "pandera", "prefect"} == set()


def test_help_and_list_load_no_http_client():
    """Only a command that probes the local Prefect server needs urllib's HTTP client
    (with http.client, email and ssl: ~25 ms that every command paid)."""
    for args in (("--help",), ("list", "--select", "fact_sales+")):
        assert _modules_imported_by(*args) & {"urllib.request", "http.client", "ssl"} == set()


def test_bare_pipeline_shows_help_and_exits_zero():
    result = pipeline()
    assert result.returncode == 0, result.stderr
    assert "Usage: pipeline" in result.stdout
    assert "materialize" in result.stdout
    assert "error" not in result.stderr


def test_help_keeps_square_brackets_of_the_pyproject_table():
    result = pipeline("list", "--help")
    assert result.returncode == 0, result.stderr
    assert "[tool.pipeline]" in result.stdout


def test_piped_list_is_plain_columns_with_every_value_whole():
    result = pipeline("list", "--definitions", "assets")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "29 assets"
    assert lines[1].split() == ["asset", "group", "table", "deps", "tags"]
    first = lines[2].split(maxsplit=3)
    assert first[:3] == ["raw_online_retails", "raw", "raw.online_retails"]
    assert "…" not in result.stdout and "┃" not in result.stdout
    assert len(lines) == 2 + 29  # one line per asset: nothing folded


def test_a_list_of_one_asset_says_one_asset():
    result = pipeline("list", "--definitions", "tests.example_location", "--select", "orders")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "1 asset"


def test_concurrency_zero_names_the_option():
    result = pipeline(
        "materialize", "--definitions", "tests.example_location", "--concurrency", "0"
    )
    assert result.returncode == 2
    assert "Invalid value for '--concurrency'" in result.stderr
    assert "Traceback" not in result.stderr


NOT_INTEGERS = "ROWS and SEED must be integers (synthetic[:ROWS[:SEED]])"


@pytest.mark.parametrize(
    ("command", "spec", "why"),
    [
        (("materialize",), "synthetic:abc", NOT_INTEGERS),
        (("plan",), "synthetic:500:x", NOT_INTEGERS),
        (("status",), "synthetic:0", "ROWS must be at least 1"),
        (("serve",), "synthetic:1:2:3", "not synthetic[:ROWS[:SEED]]"),
        (("validate", "--sample"), "synthetic:abc", NOT_INTEGERS),
    ],
    ids=["materialize", "plan", "status", "serve", "validate"],
)  # fmt: skip
def test_a_malformed_synthetic_source_is_a_usage_error(
    tmp_path: Path, command: tuple[str, ...], spec: str, why: str
) -> None:
    """Refused as the command line is read, as a bad --source-encoding is: not after the
    code location was imported and a run (or the sample run) started on it."""
    env = {"WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}", "PREFECT_API_URL": "http://127.0.0.1:9"}
    result = pipeline(*command, "--definitions", "tests.example_location", "--source", spec,
                      env=env)  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '--source': {spec!r}: {why} (see 'pipeline {command[0]} --help')"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "wh").exists()


def test_a_warehouse_given_as_a_bare_directory_says_how_to_write_it(tmp_path: Path):
    result = pipeline(
        "status", "--definitions", "tests.example_location", "--warehouse", str(tmp_path / "wh")
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: the warehouse URL '{tmp_path}/wh' has no scheme: write chdb://{tmp_path}/wh "
        "for an embedded warehouse in that directory (forms: chdb:///abs/path, "
        "chdb://relative/path, clickhouse://user:password@host:port/)"
    )
    assert "WAREHOUSE_URL" not in result.stderr  # the user typed --warehouse
    assert not (tmp_path / "wh").exists()


def test_a_warehouse_url_with_two_slashes_for_three_makes_nothing_in_the_project():
    result = pipeline("status", "--definitions", "tests.example_location",
                      "--warehouse", "chdb://tmp/cliusage-r1/wh2")  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: the warehouse URL 'chdb://tmp/cliusage-r1/wh2' names tmp/cliusage-r1/wh2 in "
        "the working directory, not /tmp/cliusage-r1/wh2: write chdb:///tmp/cliusage-r1/wh2 "
        "for that one, or chdb://./tmp/cliusage-r1/wh2 for one here"
    ]
    assert not (REPO / "tmp").exists()


def test_code_location_without_assets_is_an_error():
    result = pipeline("list", "--definitions", "tests.empty_location")
    assert result.returncode == 1
    assert "code location module 'tests.empty_location' declares no assets" in result.stderr
    assert result.stdout == ""


def test_code_location_failing_on_import_names_its_file_line_and_cause():
    result = pipeline("list", "--definitions", "tests.broken_location")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: tests/broken_location.py:3: RuntimeError: BROKEN_LOCATION_SETTING is not set"
    ]


def test_debug_after_the_subcommand_shows_the_traceback():
    result = pipeline("list", "--definitions", "tests.broken_location", "--debug")
    assert result.returncode == 1
    assert "No such option" not in result.stderr
    assert "Traceback" in result.stderr
    assert 'tests/broken_location.py", line 3' in result.stderr


def into_closed_pipe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command writing to a pipe whose reader has already gone (``| head`` done)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "orchestration", *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)


# Python buffers stdout unless PYTHONUNBUFFERED is set; a closed pipe surfaces differently.
BUFFERING = [pytest.param({"PYTHONUNBUFFERED": ""}, id="buffered"),
             pytest.param({"PYTHONUNBUFFERED": "1"}, id="unbuffered")]  # fmt: skip


@pytest.mark.parametrize("env", BUFFERING)
@pytest.mark.parametrize(
    "args",
    [
        ("list", "--definitions", "tests.example_location"),
        ("list", "--definitions", "tests.example_location", "--json"),
        ("lineage", "--definitions", "tests.example_location", "--format", "mermaid"),
        ("--help",),
    ],
    ids=["table", "json", "lineage", "help"],
)
def test_a_reader_closing_the_pipe_early_is_not_a_failure(args, env):
    result = into_closed_pipe(*args, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


DEBUG_HINT = "(run with --debug for the traceback)"
LOCATION = ("--definitions", "tests.example_location")


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(("status", *LOCATION, "--warehouse", "foo://x"), {},
                     "error: the warehouse URL scheme 'foo' is not supported", id="warehouse-url"),
        pytest.param(("list", "--definitions", "no_such_module_here"), {},
                     "error: code location module 'no_such_module_here' cannot be imported",
                     id="code-location"),
        pytest.param(("list", "--definitions", "tests.broken_location"), {},
                     "error: tests/broken_location.py:3: RuntimeError:",
                     id="code-location-raises"),
        pytest.param(("query", "SELECT 1"), {"WAREHOUSE_URL": "chdb://no_such_warehouse_here"},
                     "error: no warehouse at", id="missing-warehouse"),
        pytest.param(("query", "SELECT 1 1"), {}, "error: syntax error at line 1, col 10",
                     id="query-syntax"),
        pytest.param(("query", "SELEC 1"), {}, "error: unknown statement 'SELEC' at line 1, col 1",
                     id="query-unknown-statement"),
        pytest.param(("query", "DROP TABLE src.orders"), {}, "error: refused: DROP",
                     id="query-write"),
        pytest.param(("materialize", *LOCATION), {"PIPELINE_PREFECT_SERVER": "sometimes"},
                     "error: PIPELINE_PREFECT_SERVER='sometimes' is not valid", id="server-mode"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_without_the_debug_hint(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    """The line says what and why; a traceback of the code that noticed it would not help."""
    from io_managers import ClickHouseIOManager

    with ClickHouseIOManager.embedded(tmp_path / "wh") as made:  # a read makes none
        made.command("CREATE DATABASE shop")
    warehouse = {"WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}"}
    result = pipeline(*args, env={**warehouse, **env})

    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0].startswith(says), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert DEBUG_HINT not in result.stderr
