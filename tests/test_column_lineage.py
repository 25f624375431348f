"""Column lineage of the shipped pipeline, derived from its SQL against a real warehouse.

The columns of the tables each SELECT reads come from an embedded ClickHouse with the
shipped DDL; the parsing is the IO manager's (sqlglot, ClickHouse dialect). The CLI's
``pipeline lineage --format json`` and ``--column`` are run as a user runs them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from orchestration.column_lineage import (
    LOADS_A_SOURCE,
    AssetColumnLineage,
    BackgroundColumnLineage,
    chain_lines,
    ends_by_column,
    upstream_chain,
)
from orchestration.definitions import load_definitions

REPO = Path(__file__).resolve().parents[1]
GRAPH = load_definitions("assets").graph()


@dataclass(frozen=True)
class Derived:
    """Every asset's column lineage, and every table's columns as the warehouse has them."""

    by_key: dict[str, AssetColumnLineage]
    columns: dict[str, dict[str, str]]

    def __getitem__(self, key: str) -> AssetColumnLineage:
        return self.by_key[key]


@pytest.fixture(scope="module")
def lineage(ddl_warehouse: Path, shipped_lineage: list[AssetColumnLineage]) -> Derived:
    with ClickHouseIOManager.embedded(ddl_warehouse) as warehouse:
        columns = {spec.table: dict(warehouse.describe(spec.table)) for spec in GRAPH}
    return Derived({item.key: item for item in shipped_lineage}, columns)


def test_every_sql_asset_maps_every_column_to_existing_upstream_columns(lineage):
    columns = lineage.columns
    sql_assets = [spec for spec in GRAPH if spec.kind == "sql"]
    assert len(sql_assets) >= 20
    for spec in sql_assets:
        item = lineage[spec.key]
        assert item.origin == "parsed from the SQL", (spec.key, item.origin)
        assert item.columns is not None
        assert list(item.columns) == list(columns[spec.table]), spec.key
        readable = {GRAPH[dep].table for dep in spec.deps} | {spec.table}
        for column, sources in item.columns.items():
            for source in sources:
                table, _, name = source.rpartition(".")
                assert "*" not in source, (spec.key, column, source)
                assert table in readable, (spec.key, column, source)
                assert name in columns[table], (spec.key, column, source)


def test_fact_sales_total_amount_is_the_satellites_total_amount(lineage):
    assert lineage["fact_sales"].columns["total_amount"] == ("vault.sat_invoice.TotalAmount",)
    assert set(lineage["dim_country"].columns["country_name"]) == {
        "vault.hub_country.Country",
        "vault.sat_country.Country",
    }


def test_python_assets_declare_their_column_lineage_or_say_not_derived(lineage):
    source = lineage["raw_online_retails"]
    assert source.columns is None and source.origin.startswith("not derived")
    metrics = lineage["pipeline_metrics"]
    assert metrics.origin == "declared"
    assert "quality.sales_summary.volume" in metrics.columns["value"]
    assert metrics.columns["run_id"] == ()


def test_a_columns_chain_reaches_the_source_columns(lineage):
    items = list(lineage.by_key.values())
    chain = upstream_chain(items, "marts.Fact_Sales.total_amount")
    assert chain.asset == "fact_sales"
    (satellite,) = chain.sources
    assert satellite.column == "vault.sat_invoice.TotalAmount"
    (staging,) = satellite.sources
    assert staging.column == "raw.psa_online_retails.TotalAmount"
    assert {leaf.column for leaf in staging.sources} == {
        "raw.online_retails.Quantity",
        "raw.online_retails.UnitPrice",
    }
    assert all(leaf.asset == "raw_online_retails" and not leaf.sources for leaf in staging.sources)
    lines = chain_lines(chain)
    assert lines[0] == "marts.Fact_Sales.total_amount  [fact_sales]"
    assert lines[1] == "    <- vault.sat_invoice.TotalAmount  [sat_invoice]"


def test_each_column_ends_in_the_raw_columns_its_whole_chain_reads(lineage):
    """What a page shows of each column in one look: the raw columns ``lineage --column``'s
    chain ends in, each once, and not the load times and counts computed on the way."""
    ends = ends_by_column(lineage.by_key.values(), "fact_sales")
    assert ends is not None and list(ends) == list(lineage["fact_sales"].columns)
    total = ends["total_amount"]
    assert [(n.column, n.asset) for n in total.sources] == [
        ("raw.online_retails.Quantity", "raw_online_retails"),
        ("raw.online_retails.UnitPrice", "raw_online_retails"),
    ]
    assert total.untraced == ()
    # sat_time's load time (now()) is on dim_time.date's chain, but read from no source.
    date = ends_by_column(lineage.by_key.values(), "dim_time")["date"]  # type: ignore[index]
    assert [n.column for n in date.sources] == ["raw.online_retails.InvoiceDate"]
    # A column whose chain reads only constants, counts and its table's earlier rows.
    check_date = ends_by_column(lineage.by_key.values(), "data_quality")["check_date"]  # type: ignore[index]
    assert (check_date.sources, check_date.untraced) == ((), ())


def _through_a_python_asset() -> list[AssetColumnLineage]:
    """``report`` reads ``notes``, a Python asset that declares no column lineage, and
    ``raw``, which loads a source; ``notes`` reads ``raw`` too."""
    return [
        AssetColumnLineage("raw", "db.raw", (), None, LOADS_A_SOURCE),
        AssetColumnLineage(
            "notes", "db.notes", ("raw",), None, "not derived: a Python asset that declares none"
        ),
        AssetColumnLineage(
            "report",
            "db.report",
            ("notes", "raw"),
            {"note": ("db.notes.note",), "both": ("db.notes.note", "db.raw.a"), "at": ()},
            "parsed from the SQL",
        ),
    ]


def test_a_chain_through_an_asset_without_column_lineage_ends_untraced_there():
    ends = ends_by_column(_through_a_python_asset(), "report")
    assert ends is not None
    assert ends["note"].sources == ()
    ((stop,),) = [ends["note"].untraced]
    assert (stop.column, stop.asset, stop.note) == (
        "db.notes.note",
        "notes",
        "not derived: a Python asset that declares none",
    )
    assert [n.column for n in ends["both"].sources] == ["db.raw.a"]
    assert [n.column for n in ends["both"].untraced] == ["db.notes.note"]
    assert (ends["at"].sources, ends["at"].untraced) == ((), ())
    assert ends_by_column(_through_a_python_asset(), "notes") is None  # nothing to follow


def test_a_server_is_asked_the_columns_of_a_runs_tables_in_one_statement(
    clickhouse_test_url: str, monkeypatch: pytest.MonkeyPatch
):
    """Each catalog read is a round trip to a server: a run of ``mart`` alone follows its
    chains through ``staged`` and ``notes`` to ``raw``, and reads the columns of the
    tables all their SELECTs read in one statement, not one per table."""
    from io_managers import warehouse_from_env
    from io_managers.catalog import Catalog
    from tests.chain_location import defs

    reads: list[tuple[str, ...]] = []
    read = Catalog._read

    def counted(self: Catalog, *args: str) -> dict:
        reads.append(args)
        return read(self, *args)

    graph = defs.graph()
    with warehouse_from_env(clickhouse_test_url) as warehouse:
        warehouse.setup(defs.ddl_paths)
        monkeypatch.setattr(Catalog, "_read", counted)
        lineage = BackgroundColumnLineage()
        lineage.start(graph, [graph["mart"]], {"warehouse": warehouse}, {})
        ends = lineage.ends("mart")
        lineage.stop()

    assert len(reads) == 1, reads
    assert ends is not None
    assert [leaf.column for leaf in ends["total_amount"].sources] == [
        "chain.raw.Quantity",
        "chain.raw.UnitPrice",
    ]


def test_an_unknown_column_is_named(lineage):
    items = list(lineage.by_key.values())
    with pytest.raises(KeyError, match="has no column 'nope'"):
        upstream_chain(items, "marts.Fact_Sales.nope")
    with pytest.raises(KeyError, match=r"no asset writes table 'marts\.Nothing'"):
        upstream_chain(items, "marts.Nothing.x")


def _fact_sales_lineage() -> list[AssetColumnLineage]:
    return [
        AssetColumnLineage(
            "fact_sales", "marts.Fact_Sales", (), {"total_amount": ()}, "parsed from the SQL"
        ),
        AssetColumnLineage(
            "fact_sale_returns", "marts.Fact_Sale_Returns", (), {"quantity": ()}, "parsed"
        ),
    ]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        # A bare column was "no asset writes table ''": the table the user never typed.
        (
            "total_amount",
            "'total_amount' is not database.Table.column (e.g. marts.Fact_Sales.total_amount)",
        ),
        # The table without its database, or in the wrong case: the column it must be.
        (
            "Fact_Sales.total_amount",
            "no asset writes table 'Fact_Sales' (columns are database.Table.column); "
            "did you mean marts.Fact_Sales.total_amount?",
        ),
        (
            "marts.fact_sales.total_amount",
            "no asset writes table 'marts.fact_sales' (columns are database.Table.column); "
            "did you mean marts.Fact_Sales.total_amount?",
        ),
    ],
)
def test_a_mistyped_column_is_told_the_column_it_meant(column, message):
    with pytest.raises(KeyError) as raised:
        upstream_chain(_fact_sales_lineage(), column)
    assert raised.value.args[0] == message


# --------------------------------------------------------------------------- the CLI


def _pipeline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_lineage_json_lists_key_table_deps_and_columns(ddl_warehouse: Path, lineage):
    result = _pipeline(
        "lineage", "--format", "json", "--select", "fact_sales+", "--warehouse",
        f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["key"] for row in rows] == [spec.key for spec in GRAPH.select("fact_sales+")]
    fact = rows[0]
    assert fact["table"] == "marts.Fact_Sales"
    assert fact["deps"] == list(GRAPH["fact_sales"].deps)
    assert fact["columns"]["total_amount"] == ["vault.sat_invoice.TotalAmount"]


def test_lineage_takes_json_as_every_command_that_prints_json_does(ddl_warehouse: Path, lineage):
    """``--json`` is ``--format json``: a script writes the one flag everywhere."""
    at = ("--select", "fact_sales+", "--warehouse", f"chdb://{ddl_warehouse}")
    as_format = _pipeline("lineage", "--format", "json", *at)
    as_flag = _pipeline("lineage", "--json", *at)
    both = _pipeline("lineage", "--json", "--format", "dot", *at)

    assert as_format.returncode == 0, as_format.stderr
    assert (as_flag.returncode, as_flag.stdout) == (0, as_format.stdout)
    assert (both.returncode, both.stdout) == (2, "")
    assert "it means --format json, but --format dot was given too" in both.stderr


def test_lineage_column_prints_the_whole_upstream_chain(ddl_warehouse: Path):
    result = _pipeline(
        "lineage", "--column", "marts.Fact_Sales.total_amount", "--warehouse",
        f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "marts.Fact_Sales.total_amount  [fact_sales]"
    assert "raw.online_retails.UnitPrice" in result.stdout
    assert "raw.online_retails.Quantity" in result.stdout

    bad = _pipeline(
        "lineage", "--column", "marts.Fact_Sales.nope", "--warehouse", f"chdb://{ddl_warehouse}"
    )
    assert bad.returncode != 0
    assert "no column 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_lineage_column_as_json_is_the_chain_as_one_document(ddl_warehouse: Path, lineage):
    result = _pipeline(
        "lineage", "--column", "marts.Fact_Sales.total_amount", "--format", "json",
        "--warehouse", f"chdb://{ddl_warehouse}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    chain = json.loads(result.stdout)
    assert (chain["column"], chain["asset"]) == ("marts.Fact_Sales.total_amount", "fact_sales")

    def leaves(node: dict) -> set[str]:
        if not node["sources"]:
            return {node["column"]}
        return set().union(*(leaves(source) for source in node["sources"]))

    assert {"raw.online_retails.UnitPrice", "raw.online_retails.Quantity"} <= leaves(chain)


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_a_diagram_of_one_columns_chain_is_refused_in_one_line(fmt: str):
    # It was the text chain, exit 0: a script asking for a diagram got something else.
    result = _pipeline("lineage", "--column", "marts.Fact_Sales.total_amount", "--format", fmt)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '--format': {fmt} draws assets, not one column's chain; "
        "use text or json with --column (see 'pipeline lineage --help')"
    ]


def test_a_selection_beside_one_columns_chain_is_refused_in_one_line():
    # It was ignored: the chain went past the selection, down to the sources, exit 0.
    result = _pipeline(
        "lineage", "--column", "marts.Fact_Sales.total_amount", "--select", "fact_sales"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--select': --column traces one column through every "
        "asset, down to the sources; give --select or --column, not both "
        "(see 'pipeline lineage --help')"
    ]
