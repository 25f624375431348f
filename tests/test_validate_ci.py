"""``pipeline validate`` as a CI gate: every problem in one run, each where it is.

A CI reviewer found that one graph error hid every other problem: a missing comma in one
asset's SQL was the only line (27 assets unchecked), a bad dependency shared by two facts
named one of them, and deleting an asset took three fix-and-rerun rounds, each a CI cycle.
Now every graph problem is a line of its own, only the assets it reaches (the asset and
what is downstream of it) are set aside, said in one line and counted, and the rest is
checked. ``materialize`` (and every other command) still refuses a graph that does not
build. And ``--json`` gives each finding's place as ``file``, ``line`` and ``col``
(``--format github`` as annotations in the pull request's diff), its asset and its column.

Each test runs ``pipeline`` as CI does: a real process on a code location of its own
(:mod:`tests.locations`), the embedded warehouse.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions
from tests.locations import copy_retail_location, run_location, write_location
from tests.test_validate import finding_lines, line_of, mutate, sql_place

MODULE = "ci_location"

#: Assets broken in each way the graph can be, next to others wrong in their own way.
ASSETS = """import pandera.pandas as pa
from pandera.typing import Series

DB = "ci"


def source(context):
    return "SELECT toInt64(number) AS n FROM numbers(3)"


def unparsable(context):
    return f"SELECT n n n FROM {DB}.source"


def after_unparsable(context):
    return f"SELECT n FROM {DB}.unparsable"


def renamed(context):
    return f"SELECT n AS other FROM {DB}.source"


def orphan(context):
    raise AssertionError("never run: its dependency is not declared")


class Numbers(pa.DataFrameModel):
    n: Series[int]


class Typed(pa.DataFrameModel):
    n: Series[str]


ASSETS = [
    AssetSpec(key="source", table=f"{DB}.source", kind="sql", schema=Numbers, body=source),
    AssetSpec(key="unparsable", table=f"{DB}.unparsable", kind="sql", schema=Numbers,
              body=unparsable),
    AssetSpec(key="after_unparsable", table=f"{DB}.after_unparsable", kind="sql",
              schema=Numbers, body=after_unparsable),
    AssetSpec(key="renamed", table=f"{DB}.renamed", kind="sql", schema=Numbers, body=renamed),
    AssetSpec(key="orphan", table=f"{DB}.orphan", kind="python", deps=("sourse",),
              schema=Numbers, body=orphan),
    AssetSpec(key="typed", table=f"{DB}.typed", kind="sql", schema=Typed,
              body=lambda context: f"SELECT n FROM {DB}.source"),
]
"""

DDL = "CREATE DATABASE IF NOT EXISTS ci;\n" + "".join(
    f"CREATE TABLE IF NOT EXISTS ci.{name} (n Int64) ENGINE = MergeTree ORDER BY n;\n"
    for name in ("source", "unparsable", "after_unparsable", "renamed", "orphan", "typed")
)


def pipeline(cwd: Path, *args: str, module: str = MODULE) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS --definitions module``, run in ``cwd`` as CI runs it."""
    return run_location(cwd, module, *args)


@pytest.fixture
def location(tmp_path: Path) -> Path:
    write_location(tmp_path, MODULE, ASSETS, DDL)
    return tmp_path


def test_every_graph_problem_is_found_and_only_what_it_reaches_is_set_aside(location: Path):
    module = location / f"{MODULE}.py"
    unparsable = line_of(module, "n n n FROM")
    renamed = line_of(module, "n AS other")
    field = line_of(module, "n: Series[str]")

    result = pipeline(location, "validate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert finding_lines(result) == [
        # An f-string a value was put into: the place in the SQL's own line is said.
        f"[graph] asset 'unparsable' (table ci.unparsable): {MODULE}.py:{unparsable}: cannot "
        "tell which tables it reads: SQL does not parse at line 1, col 12, at 'n': Invalid "
        "expression / Unexpected token",
        "[graph] asset 'orphan' depends on 'sourse', which is not a declared asset; "
        "did you mean source?",
        f"[select] asset renamed table ci.renamed: {MODULE}.py:{renamed}: SELECT output "
        "column(s) other are not in the table (columns: n)",
        f"[select] asset renamed table ci.renamed: {MODULE}.py:{renamed}: SELECT output lacks "
        "column(s) n, which have no DEFAULT in the DDL",
        f"[dtype] asset typed table ci.typed column n: {MODULE}.py:{field}: ClickHouse type "
        "Int64 does not fit dtype str (expected String, FixedString, LowCardinality(String), "
        "UUID, Enum8/16 or IPv4/6)",
        "[graph] 3 assets not checked: graph problem in orphan, unparsable (and 1 asset "
        "downstream)",
    ]
    assert result.stdout.splitlines()[-1] == "5 problems in 6 assets (3 assets not checked)"

    found = json.loads(pipeline(location, "validate", "--json").stdout)
    assert [(f["check"], f["asset"], f["found"]) for f in found if f["check"] == "not_checked"] == [
        ("not_checked", "unparsable", "graph problem"),
        ("not_checked", "after_unparsable", "upstream graph problem: unparsable"),
        ("not_checked", "orphan", "graph problem"),
    ]

    # Every other command still refuses the graph, with its first problem.
    listed = pipeline(location, "list")
    assert listed.returncode == 1
    assert listed.stderr.splitlines()[0].startswith(
        "error: cannot load the code location: asset 'unparsable' (table ci.unparsable): "
        f"{MODULE}.py:{unparsable}: "
    )


def test_json_findings_say_their_file_line_asset_and_column(location: Path):
    module = location / f"{MODULE}.py"
    unparsable = line_of(module, "n n n FROM")
    renamed = line_of(module, "n AS other")
    field = line_of(module, "n: Series[str]")
    declared = line_of(module, "def orphan(context):")

    found = json.loads(pipeline(location, "validate", "--json").stdout)
    problems = [f for f in found if f["check"] != "not_checked"]
    assert [
        (f["check"], f["asset"], f["table"], f["column"], f["file"], f["line"], f["col"])
        for f in problems
    ] == [
        ("graph", "unparsable", "ci.unparsable", None, f"{MODULE}.py", unparsable, None),
        # The asset's declaration (its decorator, or its body's def: where deps= is near).
        ("graph", "orphan", "ci.orphan", None, f"{MODULE}.py", declared, None),
        ("select", "renamed", "ci.renamed", "other", f"{MODULE}.py", renamed, None),
        ("select", "renamed", "ci.renamed", "n", f"{MODULE}.py", renamed, None),
        ("dtype", "typed", "ci.typed", "n", f"{MODULE}.py", field, None),
    ]
    assert all(f["expected"] is None for f in found)


def test_a_code_location_that_does_not_load_is_a_finding_at_its_line_and_column(
    location: Path,
):
    module = location / f"{MODULE}.py"
    module.write_text(module.read_text().replace("def renamed(context):", "def renamed(context)"))
    line = line_of(module, "def renamed(context)")

    result = pipeline(location, "validate", "--json")
    assert result.returncode == 1
    (finding,) = json.loads(result.stdout)
    assert (finding["check"], finding["file"], finding["line"], finding["col"]) == (
        "definitions",
        f"{MODULE}.py",
        line,
        21,
    )
    assert finding["found"] == f"{MODULE}.py:{line}:21: SyntaxError: expected ':'"

    annotated = pipeline(location, "validate", "--format", "github")
    assert annotated.returncode == 1
    assert annotated.stdout.splitlines() == [
        f"::error file={MODULE}.py,line={line},col=21,title=pipeline validate [definitions]::"
        f"[definitions] {MODULE}.py:{line}:21: SyntaxError: expected ':'"
    ]


def test_format_github_annotates_each_finding_at_its_place(location: Path):
    module = location / f"{MODULE}.py"
    renamed = line_of(module, "n AS other")

    result = pipeline(location, "validate", "--format", "github")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[2] == (
        f"::error file={MODULE}.py,line={renamed},title=pipeline validate [select] renamed::"
        f"[select] asset renamed table ci.renamed: {MODULE}.py:{renamed}: SELECT output "
        "column(s) other are not in the table (columns: n)"
    )
    # A dependency on no asset is annotated at the asset's declaration.
    declared = line_of(module, "def orphan(context):")
    assert lines[1] == (
        f"::error file={MODULE}.py,line={declared},title=pipeline validate [graph] orphan::"
        "[graph] asset 'orphan' depends on 'sourse', which is not a declared asset; did you "
        "mean source?"
    )
    # A finding with no place in a file is an annotation of the run, not of a line.
    assert lines[5] == (
        "::warning title=pipeline validate::[graph] 3 assets not checked: graph problem in "
        "orphan, unparsable (and 1 asset downstream)"
    )
    assert lines[6] == "5 problems in 6 assets (3 assets not checked)"
    assert len(lines) == 7
    # --json and --format github are one choice.
    both = pipeline(location, "validate", "--json", "--format", "github")
    assert both.returncode == 2


def test_workflow_commands_escape_what_github_would_read_as_syntax():
    """Data escapes ``%``, CR and LF; a property also ``:`` and ``,``, which would end it."""
    from orchestration.workflow_commands import workflow_command

    assert workflow_command(
        "error", "50% of rows\r\nfailed: a, b", file="a,b.py", line=3, title="x: y"
    ) == ("::error file=a%2Cb.py,line=3,title=x%3A y::50%25 of rows%0D%0Afailed: a, b")
    assert workflow_command("warning", "m", file=None, col=None) == "::warning::m"


def test_one_run_says_every_problem_of_a_change_in_the_retail_graph(tmp_path: Path):
    """The reviewer's change: a missing comma in dim_product's SQL, a column of dim_time
    turned String, dim_country's column renamed in its SELECT and a bad dependency both
    facts share. One run says all four, and every asset none of them reaches is checked."""
    location = copy_retail_location(tmp_path)
    marts = location / "assets/marts.py"
    mutate(marts, r"hub\.StockCode AS stock_code,", "hub.StockCode AS stock_code")
    mutate(marts, r"toUInt16\(sat\.year\) AS year", "toString(sat.year) AS year")
    mutate(marts, r"hub\.Country\) AS country_name$", "hub.Country) AS country_nm")
    mutate(marts, r'^_FACT_DEPS = \["dim_product"', '_FACT_DEPS = ["dim_promo", "dim_product"')

    result = pipeline(location, "validate", module="assets")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = finding_lines(result)
    prefixes = [line.split(": ")[0] for line in lines]
    assert prefixes == [
        "[graph] asset 'dim_product' (table marts.Dim_Product)",
        "[graph] asset 'fact_sales' depends on 'dim_promo', which is not a declared asset; "
        "did you mean dim_product?",
        "[graph] asset 'fact_sale_returns' depends on 'dim_promo', which is not a declared "
        "asset; did you mean dim_product?",
        "[select] asset dim_time table marts.Dim_Time column year",
        "[select] asset dim_country table marts.Dim_Country",
        "[select] asset dim_country table marts.Dim_Country",
        "[graph] 9 assets not checked",
    ]
    # The token after the missing comma, at its line and column in the file.
    where, col = sql_place(location, "marts", "latest.description AS", after="def dim_product(")
    assert lines[0] == (
        f"[graph] asset 'dim_product' (table marts.Dim_Product): {where}:{col}: cannot tell "
        "which tables it reads: SQL does not parse at 'latest': Invalid expression / "
        "Unexpected token"
    )
    assert lines[-1] == (
        "[graph] 9 assets not checked: graph problem in dim_product, fact_sale_returns, "
        "fact_sales (and 6 assets downstream)"
    )
    assert result.stdout.splitlines()[-1] == "6 problems in 29 assets (9 assets not checked)"


def test_deleting_an_asset_names_every_dependant_and_check_that_read_it_at_once(
    tmp_path: Path,
):
    """Three fix-and-rerun rounds before: sales_dashboard, then fact_sales, then the
    facts' checks that read the deleted table."""
    location = copy_retail_location(tmp_path)
    marts = location / "assets/marts.py"
    text = marts.read_text()
    start = text.index('@sql_asset(\n    table="marts.Dim_Country"')
    end = text.index('"""\n', text.index("FROM vault.hub_country", start)) + 4
    marts.write_text(text[:start] + text[end:])

    result = pipeline(location, "validate", "--json", module="assets")
    found = json.loads(result.stdout)
    problems = {(f["check"], f["asset"]) for f in found if f["check"] != "not_checked"}
    assert problems == {
        ("graph", "fact_sales"),
        ("graph", "fact_sale_returns"),
        ("graph", "sales_dashboard"),
        ("reads", "fact_sales"),
        ("reads", "fact_sale_returns"),
        ("ddl", None),  # its table, which the DDL still creates
    }, result.stdout
    (left,) = [f for f in found if f["check"] == "ddl"]
    assert (left["table"], left["file"]) == ("marts.Dim_Country", "ddl/init.sql")


SOURCE_ONLY = """ASSETS = [
    AssetSpec(key="source", table="ci.source", kind="sql",
              body=lambda context: "SELECT toInt64(number) AS n FROM numbers(3)"),
]
"""


def test_a_table_the_ddl_creates_that_no_asset_produces_is_a_finding_at_its_line(
    tmp_path: Path,
):
    """A table no run fills: the DDL of an asset deleted or renamed, or never written.
    Validate checked each asset's table against the DDL, never the DDL's tables against
    the assets, so it said all agreed."""
    write_location(tmp_path, MODULE, SOURCE_ONLY, DDL)
    result = pipeline(tmp_path, "validate", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    left = [f for f in json.loads(result.stdout) if f["check"] == "ddl"]
    tables = ("unparsable", "after_unparsable", "renamed", "orphan", "typed")
    assert [(f["table"], f["file"], f["line"]) for f in left] == [
        (f"ci.{name}", f"{MODULE}.sql", line) for line, name in enumerate(tables, start=3)
    ]
    assert left[0]["found"] == (
        f"{MODULE}.sql:3: the DDL creates it but no asset produces it: declare its asset, "
        "name it in Definitions(external_tables=...) if another system loads it, or drop "
        "it from the DDL"
    )


def test_an_assets_table_the_ddl_does_not_create_is_a_finding_at_its_declaration(
    tmp_path: Path,
):
    """The finding had no file and no line: in a location of 30 assets, CI annotated
    nothing and the reader searched for where the asset is declared."""
    write_location(tmp_path, MODULE, SOURCE_ONLY, "CREATE DATABASE IF NOT EXISTS ci;\n")
    result = pipeline(tmp_path, "validate", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    (missing,) = [f for f in json.loads(result.stdout) if f["check"] == "ddl"]
    line = line_of(tmp_path / f"{MODULE}.py", "body=lambda")
    assert (missing["asset"], missing["file"], missing["line"]) == ("source", f"{MODULE}.py", line)
    assert missing["found"] == f"{MODULE}.py:{line}: table is not created by the DDL"


def test_a_sample_run_no_asset_read_a_source_in_says_so(tmp_path: Path):
    """A code location whose assets read no source (not the retail one): the summary
    said "sample run from synthetic:5000", a source nothing read. A --source given
    and read by nothing is the same news."""
    write_location(
        tmp_path,
        MODULE,
        SOURCE_ONLY,
        "CREATE DATABASE IF NOT EXISTS ci;\n"
        "CREATE TABLE IF NOT EXISTS ci.source (n Int64) ENGINE = MergeTree ORDER BY n;\n",
    )
    result = pipeline(tmp_path, "validate", "--sample")
    assert result.stdout.splitlines()[-1] == (
        "2 problems in 1 asset, sample run (no asset read the sample source, synthetic:5000)"
    )
    given = pipeline(tmp_path, "validate", "--sample", "--source", "synthetic:50")
    assert given.stdout.splitlines()[-1].endswith(
        "sample run (no asset read the sample source, synthetic:50)"
    )


def test_a_table_another_system_loads_is_declared_external_and_no_finding(tmp_path: Path):
    from io_managers import warehouse_io_manager
    from orchestration.commands.validate import find_problems

    ddl = tmp_path / "ci.sql"
    ddl.write_text(
        "CREATE DATABASE IF NOT EXISTS ci;\n"
        "CREATE TABLE IF NOT EXISTS ci.loaded (n Int64) ENGINE = MergeTree ORDER BY n;\n"
    )
    produced = [AssetSpec(key="n", table="ci.n", kind="sql", body=lambda context: "SELECT 1")]
    defs = Definitions(
        assets=produced, ddl_paths=[ddl], io_managers={"warehouse": warehouse_io_manager}
    )
    assert [f.table for f in find_problems(defs, None) if f.check == "ddl"] == [
        "ci.n",  # the asset's table is not in the DDL: as before
        "ci.loaded",
    ]
    external = replace(defs, external_tables=("ci.loaded",))
    assert [f.table for f in find_problems(external, None) if f.check == "ddl"] == ["ci.n"]
