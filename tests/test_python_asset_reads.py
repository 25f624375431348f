"""A Python asset reads only what the graph knows it reads; a table is built from its DDL.

A contributor review found two ways wrong data was published with no error:

- A Python asset reads tables with ``context.io_manager.query_df(...)``, which no parser
  of the graph sees. After its upstream mart's table was renamed (asset, DDL and schema
  alike, so ``validate`` said all agreed), it went on reading the old table, left in the
  warehouse and refreshed by no run: ``✓ growth 392 rows``. One reading a table of an
  asset it does not list in ``deps`` ran, maybe before that table was built. Now each of
  its queries is parsed as a SQL asset's SELECT is, and one reading a table that is not
  its deps', its own or an external one fails the asset, in one line naming the table.
- An asset whose ``CREATE TABLE`` was deleted from the DDL: ``validate`` said so, but
  ``materialize`` on a warehouse that still held the table published into it. Now
  ``materialize`` and ``plan`` refuse it before anything runs, as validate words it.

Each test runs ``pipeline`` as a user does on a code location of its own
(:mod:`tests.locations`): a real process, the embedded warehouse.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from io_managers.clickhouse import ClickHouseIOManager
from orchestration.asset import AssetSpec
from orchestration.asset_reads import UndeclaredReadError, reads_of
from orchestration.context import AssetContext
from orchestration.graph import AssetGraph
from tests.locations import line_of, run_location, write_location

MODULE = "reads_location"

#: ``@MONTHLY@`` is the mart's table, ``@GROWTH_READS@`` what the Python asset reads and
#: ``@GROWTH_DEPS@`` the deps it declares.
ASSETS = """import pandera.pandas as pa
from pandera.typing import Series

DB = "reads"


def monthly(context):
    return "SELECT toInt64(number) AS n FROM numbers(3)"


def dim(context):
    return "SELECT toInt64(number) AS n FROM numbers(2)"


def growth(context):
    return context.io_manager.query_df("SELECT n FROM @GROWTH_READS@")


class Numbers(pa.DataFrameModel):
    n: Series[int]


ASSETS = [
    AssetSpec(key="monthly", table="@MONTHLY@", kind="sql", schema=Numbers, body=monthly),
    AssetSpec(key="dim", table=f"{DB}.dim", kind="sql", schema=Numbers, body=dim),
    AssetSpec(key="growth", table=f"{DB}.growth", kind="python", deps=@GROWTH_DEPS@,
              schema=Numbers, body=growth),
]
"""


def ddl(*tables: str) -> str:
    created = "".join(
        f"CREATE TABLE IF NOT EXISTS {table} (n Int64) ENGINE = MergeTree ORDER BY n;\n"
        for table in tables
    )
    return "CREATE DATABASE IF NOT EXISTS reads;\n" + created


def write(
    directory: Path,
    *,
    monthly: str = "reads.monthly",
    reads: str = "reads.monthly",
    deps: str = '("monthly",)',
    tables: tuple[str, ...] | None = None,
) -> None:
    source = (
        ASSETS.replace("@MONTHLY@", monthly)
        .replace("@GROWTH_READS@", reads)
        .replace("@GROWTH_DEPS@", deps)
    )
    write_location(
        directory, MODULE, source, ddl(*(tables or (monthly, "reads.dim", "reads.growth")))
    )


def pipeline(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_location(cwd, MODULE, *args, **env)


def errors_of(result: subprocess.CompletedProcess[str]) -> dict[str, str | None]:
    return {asset["key"]: asset["error"] for asset in json.loads(result.stdout)["assets"]}


def test_a_python_asset_reading_the_old_table_of_a_renamed_upstream_fails(
    tmp_path: Path, prefect_api_url: str
):
    write(tmp_path)
    built = pipeline(tmp_path, "materialize", "--json", PREFECT_API_URL=prefect_api_url)
    assert built.returncode == 0, built.stdout + built.stderr  # its dep's table: allowed

    # The mart's table renamed everywhere but in the Python asset's query: the old table
    # is still in the warehouse, with the rows of the last run.
    write(tmp_path, monthly="reads.monthly_v2")
    assert pipeline(tmp_path, "validate").returncode == 0  # no parser sees into Python
    result = pipeline(
        tmp_path, "materialize", "--select", "monthly+", "--json", PREFECT_API_URL=prefect_api_url
    )
    assert result.returncode == 1, result.stdout + result.stderr
    line = line_of(tmp_path / f"{MODULE}.py", "query_df(")
    assert errors_of(result)["growth"] == (
        f"{MODULE}.py:{line}: UndeclaredReadError: asset 'growth' reads table reads.monthly, "
        "which no asset produces (renamed or removed? the old table stays in the warehouse "
        "and no run refreshes it; did you mean reads.monthly_v2?): read a table of its "
        "deps=[...] or declare it in Definitions(external_tables=[...])"
    )


def test_a_python_asset_reading_an_asset_it_does_not_depend_on_fails(
    tmp_path: Path, prefect_api_url: str
):
    write(tmp_path, reads="reads.dim")
    why = (
        "UndeclaredReadError: asset 'growth' reads table reads.dim of asset 'dim', which "
        "is not in its deps (it may run before that table is built): add 'dim' to its deps=[...]"
    )
    line = line_of(tmp_path / f"{MODULE}.py", "query_df(")

    sample = pipeline(tmp_path, "validate", "--sample", "--json")
    assert sample.returncode == 1, sample.stdout + sample.stderr
    (finding,) = [f for f in json.loads(sample.stdout) if f["asset"] == "growth"]
    assert finding["found"] == f"{MODULE}.py:{line}: {why}"

    result = pipeline(tmp_path, "materialize", "--json", PREFECT_API_URL=prefect_api_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert errors_of(result)["growth"] == f"{MODULE}.py:{line}: {why}"


def test_an_assets_table_its_ddl_does_not_create_is_refused_before_anything_runs(
    tmp_path: Path, prefect_api_url: str
):
    write(tmp_path)
    built = pipeline(tmp_path, "materialize", "--json", PREFECT_API_URL=prefect_api_url)
    assert built.returncode == 0, built.stdout + built.stderr

    # The CREATE TABLE of growth deleted; the warehouse still holds the table.
    write(tmp_path, tables=("reads.monthly", "reads.dim"))
    line = line_of(tmp_path / f"{MODULE}.py", "def growth(")
    refusal = (
        f"error: asset 'growth' (table reads.growth): {MODULE}.py:{line}: table is not "
        f"created by the DDL ({MODULE}.sql): add its CREATE TABLE there"
    )
    validated = pipeline(tmp_path, "validate", "--json")
    assert f"{MODULE}.py:{line}: table is not created by the DDL" in {
        finding["found"] for finding in json.loads(validated.stdout)
    }
    for command in ("materialize", "plan"):
        result = pipeline(tmp_path, command, "--select", "growth", PREFECT_API_URL=prefect_api_url)
        assert result.returncode == 1, result.stdout + result.stderr
        assert refusal in result.stderr.splitlines(), result.stdout + result.stderr
        assert "✓" not in result.stdout
    status = pipeline(tmp_path, "status")
    assert "table is not created by the DDL" in status.stdout, status.stdout + status.stderr


def test_a_fresh_warehouse_is_left_uncreated_when_an_assets_table_has_no_ddl(
    tmp_path: Path, prefect_api_url: str
):
    write(tmp_path, tables=("reads.monthly", "reads.dim"))
    result = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "table is not created by the DDL" in result.stderr
    assert not (tmp_path / "wh").exists()  # refused on the readers: nothing was set up


def test_a_ddl_statement_no_parser_reads_is_said_where_it_is_not_as_a_missing_table(
    tmp_path: Path, prefect_api_url: str
):
    """A typo in a CREATE TABLE that sqlglot cannot parse (``n Int64 Int64``) left the
    table out of what the DDL was read to create, and the run was refused for a missing
    CREATE TABLE that is there: the statement's own error, at its line, is the cause."""
    write(tmp_path)
    sql = tmp_path / f"{MODULE}.sql"
    broken = "CREATE TABLE IF NOT EXISTS reads.growth (n Int64) ENGINE"
    assert broken in sql.read_text()
    sql.write_text(sql.read_text().replace(broken, broken.replace("Int64", "Int64 Int64")))
    line = line_of(sql, "reads.growth")
    result = pipeline(tmp_path, "materialize", PREFECT_API_URL=prefect_api_url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not created by the DDL" not in result.stdout + result.stderr
    assert f"{MODULE}.sql:{line}:" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    io = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("reads") / "wh")
    for statement in (
        "CREATE DATABASE IF NOT EXISTS r",
        *(
            f"CREATE TABLE IF NOT EXISTS r.{name} (n Int64) ENGINE = MergeTree ORDER BY n"
            for name in ("up", "own", "outside", "other", "orphan")
        ),
    ):
        io.command(statement)
    yield io
    io.close()


def context_in(warehouse: ClickHouseIOManager) -> AssetContext:
    """The context of Python asset ``own`` (deps ``up``; ``r.outside`` is external)."""

    def body(context: AssetContext) -> None:
        return None

    specs = [
        AssetSpec(key="up", table="r.up", kind="python", body=body),
        AssetSpec(key="other", table="r.other", kind="python", body=body),
        AssetSpec(key="own", table="r.own", kind="python", deps=("up",), body=body),
    ]
    graph = AssetGraph(specs, external_tables=("r.outside",))
    spec = graph["own"]
    return AssetContext(
        spec=spec,
        io_manager=reads_of(warehouse, spec, graph),
        load_datetime=datetime(2024, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT n FROM r.up",
        "SELECT n FROM r.own UNION ALL SELECT n FROM r.up",  # a history: its own table
        "SELECT n FROM r.outside",
        "SELECT toInt64(number) AS n FROM numbers(2)",  # a table function, as a SQL asset
        "WITH t AS (SELECT n FROM r.up) SELECT n FROM t WHERE n IN (SELECT n FROM r.own)",
    ],
)
def test_a_python_asset_reads_its_deps_own_and_external_tables(
    warehouse: ClickHouseIOManager, sql: str
):
    context = context_in(warehouse)
    assert context.io_manager.query_df(sql).columns.tolist() == ["n"]
    assert context.io_manager.query_arrow(sql).column_names == ["n"]


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("SELECT n FROM r.other", "reads table r.other of asset 'other', which is not in its deps"),
        (
            "SELECT n FROM r.up WHERE n IN (SELECT n FROM r.orphan)",
            "reads table r.orphan, which no asset produces",
        ),
        ("SELECT n FROM system.one", "reads table system.one, which no asset produces"),
        (
            "SELECT n FROM up",
            "cannot tell which tables its query reads: table 'up' has no database",
        ),
        (
            "DROP TABLE r.up",
            "cannot tell which tables its query reads: expected a SELECT, found DROP",
        ),
    ],
)
def test_a_python_asset_reading_anything_else_is_refused_before_the_query_runs(
    warehouse: ClickHouseIOManager, sql: str, words: str
):
    context = context_in(warehouse)
    with pytest.raises(UndeclaredReadError) as refused:
        context.io_manager.query_df(sql)
    assert str(refused.value).startswith("asset 'own' ")
    assert words in str(refused.value)
    assert warehouse.table_exists("r.up")  # the DROP never ran
