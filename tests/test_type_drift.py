"""A published table whose column types drifted from the DDL is never written to.

The review narrowed ``q`` from Int32 to Int8 by hand: validation passed ("fits"), the
``INSERT ... SELECT`` wrapped 300 into 44 and the insert-only hub held wrong rows for
good. Now every materialization first compares the target's physical types with the
DDL, exactly, and stops naming table, column, DDL type and actual type, touching
nothing. ``full_refresh`` (``pipeline materialize --full-refresh``) rebuilds the table
from the DDL and reloads it, atomically.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager, MaterializationError, TypeDriftError
from orchestration.context import FULL_REFRESH_PARAM, SOURCE_TIMEOUT_PARAM, AssetContext
from orchestration.text_encoding import SOURCE_ENCODING_PARAM
from tests.safety_location import defs

GRAPH = defs.graph()
LOAD = dt.datetime(2024, 3, 1, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[ClickHouseIOManager]:
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.setup(defs.ddl_paths)
        yield warehouse


def load(warehouse: ClickHouseIOManager, tmp_path: Path, rows: str, *keys: str, **params):
    source = tmp_path / "source.csv"
    source.write_text("n,q\n" + rows)
    results = {}
    for key in keys:
        spec = GRAPH[key]
        context = AssetContext(
            spec=spec,
            io_manager=warehouse,
            load_datetime=LOAD,
            params={"source": str(source), **params},
        )
        results[key] = warehouse.materialize(spec, context)
    return results


def content(warehouse: ClickHouseIOManager, table: str) -> list[dict]:
    return warehouse.query_arrow(f"SELECT * FROM {table} ORDER BY n").to_pylist()


def tables(warehouse: ClickHouseIOManager) -> list[str]:
    rows = warehouse.query_arrow("SELECT name FROM system.tables WHERE database = 'safe'")
    return sorted(rows.column("name").to_pylist())


@pytest.mark.parametrize("key", ["hub", "report"])
def test_a_narrowed_column_stops_the_publish_naming_table_column_and_both_types(
    warehouse: ClickHouseIOManager, tmp_path: Path, key: str
) -> None:
    table = GRAPH[key].table
    load(warehouse, tmp_path, "1,10\n2,20\n", "ingest", key)
    warehouse.command(f"ALTER TABLE {table} MODIFY COLUMN q Int8")
    before, names = content(warehouse, table), tables(warehouse)

    with pytest.raises(TypeDriftError) as raised:
        load(warehouse, tmp_path, "1,10\n2,20\n3,300\n", "ingest", key)

    message = str(raised.value)
    assert message.startswith(f"asset {key!r} (table {table}): has drifted from its DDL")
    assert "column 'q' is Int8 in the warehouse but Int32 in the DDL" in message
    # An insert-only table's full refresh drops the keys only it kept: confirmed in it.
    discard = " --discard-history" if GRAPH[key].write_mode == "insert_new" else ""
    assert f"pipeline materialize --full-refresh{discard} --select {key}" in message
    assert isinstance(raised.value, MaterializationError)
    assert content(warehouse, table) == before  # 300 never became 44
    assert tables(warehouse) == names  # no staging table was even created


def test_a_dropped_or_added_column_is_drift_too(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, "1,10\n", "ingest", "hub")
    warehouse.command("ALTER TABLE safe.hub DROP COLUMN label, ADD COLUMN extra UInt8")

    with pytest.raises(TypeDriftError) as raised:
        load(warehouse, tmp_path, "1,10\n", "ingest", "hub")

    message = str(raised.value)
    assert (
        "column 'label' is missing in the warehouse (LowCardinality(String) in the DDL)" in message
    )
    assert "column 'extra' (UInt8) is in the warehouse but not in the DDL" in message


def test_an_insert_only_tables_refusal_says_what_a_full_refresh_loses_and_how_to_keep_it(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    """The upgrade audit followed the refusal's one way out on a vault satellite: the full
    refresh rebuilt it from what persistent staging held now, and the descriptions of 896
    products an earlier load had brought were gone. An insert-only table's refusal names
    that loss and the way that keeps its rows, which then works: the table changed by hand
    to the DDL, a plain run adds the new keys and keeps the old."""
    load(warehouse, tmp_path, "1,10\n2,20\n", "ingest", "hub", "report")
    for table in ("safe.hub", "safe.report"):
        warehouse.command(f"ALTER TABLE {table} MODIFY COLUMN q Int8")

    with pytest.raises(TypeDriftError) as hub:
        load(warehouse, tmp_path, "1,10\n3,30\n", "ingest", "hub")
    with pytest.raises(TypeDriftError) as report:
        load(warehouse, tmp_path, "1,10\n3,30\n", "report")

    message = str(hub.value)
    assert "\n" not in message
    assert "pipeline materialize --full-refresh --discard-history --select hub" in message
    assert "losing the keys only it kept" in message
    assert "ALTER it to the DDL instead (docs/warehouse.md#changing-a-table)" in message
    assert hub.value.loses_rows and not report.value.loses_rows
    assert "losing" not in str(report.value)  # a replaced table holds nothing of its own
    # The way that keeps the rows: the table changed to the DDL, then a plain run.
    warehouse.command("ALTER TABLE safe.hub MODIFY COLUMN q Int32")
    load(warehouse, tmp_path, "1,10\n3,30\n", "ingest", "hub")
    assert [row["n"] for row in content(warehouse, "safe.hub")] == [1, 2, 3]


def test_a_refusals_rebuild_reads_the_runs_own_source_and_prints_no_secret(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    """The rebuild a refusal names carried ``--warehouse`` and ``--definitions`` only:
    pasted after a run given ``--source``, it read the default source instead, which a
    run refuses to load over the one the assets were built from. It passes on the run's
    source options as the run report's ``Next:`` line does, a URL's secrets as
    placeholders; so does the refusal ``plan`` foretells for the same options."""
    load(warehouse, tmp_path, "1,10\n", "ingest", "report")
    warehouse.command("ALTER TABLE safe.report MODIFY COLUMN q Int8")
    source = "https://reader:s3cret@data.example/n.csv?X-Amz-Signature=t0ken"
    params = {"source": source, SOURCE_ENCODING_PARAM: "latin-1", SOURCE_TIMEOUT_PARAM: 30.0}

    with pytest.raises(TypeDriftError) as raised:
        load(warehouse, tmp_path, "1,10\n", "report", **params)
    foretold = warehouse.table_outlook([GRAPH["report"]], params)["report"].refusal

    for refusal in (raised.value, foretold):
        rebuild = str(refusal).partition("Rebuild it from the DDL with: ")[2]
        assert shlex.split(rebuild) == [
            "pipeline", "materialize", "--full-refresh", "--select", "report",
            "--source", "https://USER:PASSWORD@data.example/n.csv?QUERY",
            "--source-encoding", "latin-1", "--source-timeout", "30",
        ]  # fmt: skip


def test_full_refresh_rebuilds_an_insert_only_table_from_the_ddl_and_reloads_it(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, "1,10\n2,20\n", "ingest", "hub")
    warehouse.command("ALTER TABLE safe.hub MODIFY COLUMN q Int8")
    names = tables(warehouse)

    result = load(
        warehouse, tmp_path, "1,10\n3,300\n", "ingest", "hub", **{FULL_REFRESH_PARAM: True}
    )["hub"]

    assert warehouse.describe("safe.hub") == [("n", "UInt32"), ("q", "Int32"),
                                              ("label", "LowCardinality(String)")]  # fmt: skip
    # Rebuilt from what the upstream holds now: row 2 was only in the old, drifted table.
    assert content(warehouse, "safe.hub") == [
        {"n": 1, "q": 10, "label": "x"},
        {"n": 3, "q": 300, "label": "x"},
    ]
    assert result.rows == 2 and result.metadata["full_refresh"] is True
    assert tables(warehouse) == names  # the old table and staging are gone
    # ... and the next ordinary run inserts only new keys again.
    inserted = load(warehouse, tmp_path, "1,10\n3,300\n4,40\n", "ingest", "hub")["hub"]
    assert inserted.inserted_rows == 1


def test_a_failed_full_refresh_leaves_the_old_table_in_place(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, "1,10\n2,20\n", "ingest", "hub")
    warehouse.command("ALTER TABLE safe.hub MODIFY COLUMN q Int8")
    warehouse.command("INSERT INTO safe.ingest VALUES (1, 99)")  # a duplicate key upstream
    before = content(warehouse, "safe.hub")

    with pytest.raises(MaterializationError, match="unique"):
        load(warehouse, tmp_path, "", "hub", **{FULL_REFRESH_PARAM: True})

    assert content(warehouse, "safe.hub") == before
    assert [t for t in tables(warehouse) if t.startswith("_stg_")] == []


def test_the_retail_ddl_shows_no_drift_on_a_fresh_warehouse(tmp_path: Path) -> None:
    """The check compares canonical types, so the real DDL never trips it by spelling."""
    from assets import DDL_PATHS
    from orchestration.asset import registered_assets

    retail = [spec for spec in registered_assets() if spec.body.__module__.startswith("assets.")]
    with ClickHouseIOManager.embedded(tmp_path / "retail") as warehouse:
        warehouse.setup(DDL_PATHS)
        for spec in retail:
            assert warehouse.type_drift(spec.table) == [], spec.table


def test_the_cli_refuses_drift_in_one_line_then_full_refresh_repairs_it(
    tmp_path: Path, prefect_server
) -> None:
    """``pipeline materialize`` as a user runs it, on the drifted insert-only table."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    source = tmp_path / "n.csv"
    source.write_text("n,q\n1,10\n3,300\n")
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.setup(defs.ddl_paths)
        load(warehouse, tmp_path, "1,10\n", "ingest", "hub")
        warehouse.command("ALTER TABLE safe.hub MODIFY COLUMN q Int8")
    env = {**os.environ, "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
           "PREFECT_API_URL": str(PREFECT_API_URL.value())}  # fmt: skip

    def materialize(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestration", "materialize", "--definitions",
             "tests.safety_location", "--source", str(source), *args],
            cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip

    refused = materialize("--select", "ingest or hub")
    assert refused.returncode == 1
    assert "column 'q' is Int8 in the warehouse but Int32 in the DDL" in refused.stderr
    # The last line agrees with the error: a plain rerun would be refused the same way,
    # and the refusal's traceback tells nothing more.
    next_step = refused.stderr.strip().splitlines()[-1]
    assert next_step.startswith(
        "Next: pipeline materialize --full-refresh --discard-history --select 'hub' "
    )
    assert "rebuilds the table that drifted from its DDL" in next_step
    assert "--verbose" not in next_step
    assert "insert-only hub loses the keys only it kept" in next_step
    rebuilt = materialize("--select", "hub", "--full-refresh", "--discard-history")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        assert content(warehouse, "safe.hub") == [
            {"n": 1, "q": 10, "label": "x"},
            {"n": 3, "q": 300, "label": "x"},
        ]


def test_ddl_declared_in_parts_is_parsed_once_and_all_of_it_foretells_drift(
    tmp_path: Path,
) -> None:
    """What a read (``status``, ``plan``) does with the DDL it only declares: each file is
    parsed for the code versions once, even when more is declared after the first
    parse, and the drift check still reads every file declared, parsed or not."""
    from io_managers.ddl_drift import declared_statements
    from orchestration.asset import AssetSpec

    first, second = tmp_path / "first.sql", tmp_path / "second.sql"
    first.write_text(
        "CREATE DATABASE IF NOT EXISTS parts;\n"
        "CREATE TABLE IF NOT EXISTS parts.a (n Int64, q Int64) ENGINE = MergeTree ORDER BY n;\n"
    )
    second.write_text(
        "CREATE TABLE IF NOT EXISTS parts.b (n Int64, q Int64) ENGINE = MergeTree ORDER BY n;\n"
    )
    written = declared_statements([first, second])
    with ClickHouseIOManager.embedded(tmp_path / "wh") as built:
        built.setup([first, second])
        built.command("ALTER TABLE parts.a MODIFY COLUMN q Int32")
        built.command("ALTER TABLE parts.b MODIFY COLUMN q Int32")
    specs = [
        AssetSpec(key=name, table=f"parts.{name}", kind="sql", body=lambda context: "SELECT 1")
        for name in ("a", "b")
    ]

    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.declare([first])
        assert warehouse.table_definitions(["parts.a"]) == {"parts.a": written["parts.a"]}
        first.write_text(first.read_text().replace("q Int64", "q Int16"))  # read already
        warehouse.declare([second])

        assert warehouse.table_definitions(["parts.a", "parts.b"]) == written
        outlooks = warehouse.table_outlook(specs)
        assert {key for key, outlook in outlooks.items() if outlook.refusal} == {"a", "b"}


#: A table built before its DDL gained columns, and how the DDL file changes it since.
BUILT = """CREATE DATABASE IF NOT EXISTS alt;
CREATE TABLE IF NOT EXISTS alt.a (n Int64, q Int32, old String, gone String)
ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS alt.b (n Int64) ENGINE = MergeTree ORDER BY n;
"""
ALTERED = """CREATE DATABASE IF NOT EXISTS alt;
CREATE TABLE IF NOT EXISTS alt.a (n Int64, priced UInt8 DEFAULT 1, q Int64, label String)
ENGINE = MergeTree ORDER BY n;
ALTER TABLE alt.a ADD COLUMN IF NOT EXISTS priced UInt8 DEFAULT 1 AFTER n;
ALTER TABLE alt.a MODIFY COLUMN q Int64;
ALTER TABLE alt.a DROP COLUMN IF EXISTS gone;
ALTER TABLE alt.a RENAME COLUMN IF EXISTS old TO label;
CREATE TABLE IF NOT EXISTS alt.b (n Int64, priced UInt8 DEFAULT 1, avg_price Float64)
ENGINE = MergeTree ORDER BY n;
ALTER TABLE alt.b ADD COLUMN IF NOT EXISTS priced UInt8 DEFAULT 1;
"""


def test_what_the_ddls_own_alters_change_at_setup_is_foreseen_not_drift(tmp_path: Path) -> None:
    """The review's warehouse, built before ``ddl/init.sql`` ALTER-added
    ``vault.sat_product.Priced``: ``status`` and ``plan`` called the table drifted and
    advised ``--full-refresh --discard-history``, though the run's own set-up adds the
    column and keeps every row. A read foresees what the DDL's ALTERs do to each table
    (without applying them); a column no ALTER brings there is still drift."""
    from orchestration.asset import AssetSpec

    ddl = tmp_path / "alt.sql"
    ddl.write_text(BUILT)
    with ClickHouseIOManager.embedded(tmp_path / "wh") as built:
        built.setup([ddl])
    ddl.write_text(ALTERED)
    specs = [
        AssetSpec(key=name, table=f"alt.{name}", kind="sql", body=lambda context: "SELECT 1")
        for name in ("a", "b")
    ]

    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.declare([ddl])
        outlooks = warehouse.table_outlook(specs)
        columns = [name for name, _ in warehouse.describe("alt.a")]
    refusals = {key: outlook.refusal for key, outlook in outlooks.items() if outlook.refusal}
    assert set(refusals) == {"b"}
    assert refusals["b"].drifted == (
        "column 'avg_price' is missing in the warehouse (Float64 in the DDL)"
    )
    assert {key: outlook.changes for key, outlook in outlooks.items()} == {
        "a": "adds column 'priced' (UInt8), changes column 'q' to Int64, drops column "
        "'gone', renames column 'old' to 'label'",
        "b": "adds column 'priced' (UInt8)",
    }
    assert columns == ["n", "q", "old", "gone"]  # foreseen, not applied

    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.setup([ddl])
        assert warehouse.type_drift("alt.a") == []
        assert [item.column for item in warehouse.type_drift("alt.b")] == ["avg_price"]
        assert not any(outlook.changes for outlook in warehouse.table_outlook(specs).values())
