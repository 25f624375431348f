"""Uniqueness a SELECT guarantees by itself is proven from its parse tree and not counted
again; anything that could break the proof leaves the count in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from io_managers import AssetValidationError, ClickHouseIOManager, MaterializationError
from io_managers.transport import EmbeddedTransport
from io_managers.types import parse_type
from io_managers.unique_by_select import proven_unique_keys, unique_output_keys
from tests.io_helpers import context, sql_asset


@pytest.mark.parametrize(
    ("select", "keys"),
    [
        ("SELECT k, min(v) AS v FROM db.t GROUP BY k", [{"k"}]),
        ("WITH w AS (SELECT 1) SELECT k, count() AS n FROM db.t GROUP BY k", [{"k"}]),
        ("SELECT k, j, max(v) AS v FROM db.t WHERE v > 0 GROUP BY k, j HAVING v < 9", [{"k", "j"}]),
        ("SELECT k + 1 AS key, max(v) AS v FROM db.t GROUP BY k + 1", [{"key"}]),
        # a bare name in GROUP BY / LIMIT BY is the output of that name (alias first)
        ("SELECT toString(k) AS key, max(v) AS v FROM db.t GROUP BY key", [{"key"}]),
        ("SELECT DISTINCT k, v FROM db.t", [{"k", "v"}]),
        ("SELECT k, hex(v) AS d, v FROM db.t LIMIT 1 BY k, d", [{"k", "d"}]),
        ("SELECT k, v FROM db.t GROUP BY k, v ORDER BY k LIMIT 10", [{"k", "v"}]),
        ("SELECT k, count(*) AS n FROM db.t GROUP BY k", [{"k"}]),
        ("SELECT k AS key, count() AS n FROM db.t GROUP BY k", [{"key"}]),
    ],
)
def test_outermost_grouping_proves_its_keys(select, keys):
    assert [set(key) for key in unique_output_keys(select)] == keys


@pytest.mark.parametrize(
    "select",
    [
        "SELECT k FROM db.t",
        "SELECT k FROM db.t GROUP BY k UNION ALL SELECT k FROM db.u GROUP BY k",
        "SELECT k, arrayJoin(groupArray(v)) AS v FROM db.t GROUP BY k",  # rows after grouping
        "SELECT k, count() AS n FROM db.t GROUP BY k WITH TOTALS",
        "SELECT DISTINCT k, count() AS n FROM db.t GROUP BY k WITH TOTALS",
        "SELECT k, j, count() AS n FROM db.t GROUP BY ROLLUP(k, j)",
        "SELECT k, j, count() AS n FROM db.t GROUP BY k, j WITH CUBE",
        "SELECT k, count() AS n FROM db.t GROUP BY k ORDER BY k WITH FILL",
        "SELECT k, count() AS n FROM db.t GROUP BY k SETTINGS max_threads = 1",
        "SELECT * FROM db.t GROUP BY k",
        "SELECT t.*, k FROM db.t AS t GROUP BY k",
        "SELECT COLUMNS('k'), count() AS n FROM db.t GROUP BY k",
        "SELECT k, min(v) FROM db.t GROUP BY k",  # an unnamed output
        "SELECT k, count() AS n FROM db.t GROUP BY 1",
        "SELECT max(v) AS m FROM db.t GROUP BY k",  # the key is not an output
        "SELECT k, k AS k FROM db.t GROUP BY k",  # one output name twice
        "SELECT k, v FROM db.t LIMIT 2 BY k",
        "SELECT k, v FROM db.t LIMIT 1 OFFSET 1 BY k",
        "SELECT k, v FROM (SELECT k, v FROM db.t GROUP BY k, v)",  # not the outermost
        "SELECT k FROM db.t GROUP BY k; SELECT 1",
        "SELECT k FROM db.t GROUP BY",  # does not parse
    ],
)
def test_nothing_is_proven_when_anything_could_break_the_proof(select):
    assert unique_output_keys(select) == ()


def types(**columns: str):
    return {name: parse_type(kind) for name, kind in columns.items()}


def test_a_key_must_reach_the_table_with_its_own_type():
    select = "SELECT k, max(v) AS v FROM db.t GROUP BY k"
    same = types(k="Int64", v="UInt8")
    assert proven_unique_keys(select, same, same) == (frozenset({"k"}),)
    # Int64 -> Int8 on insert: 1 and 257 would both become 1
    assert proven_unique_keys(select, same, types(k="Int8", v="UInt8")) == ()
    floats = types(k="Float64", v="UInt8")  # 0.0 and -0.0 group apart, count alike
    assert proven_unique_keys(select, floats, floats) == ()


# ------------------------------------------------------------------ on the real engine


class RecordingTransport(EmbeddedTransport):
    """The real embedded engine, remembering every query it answers."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.queries: list[str] = []

    def query_arrow(self, sql: str, readonly: int = 0):
        self.queries.append(sql)
        return super().query_arrow(sql, readonly)


class Keyed(pa.DataFrameModel):
    k: Series[np.int64] = pa.Field(unique=True)
    v: Series[np.int64]


@pytest.fixture
def recorded(tmp_path):
    transport = RecordingTransport(tmp_path / "warehouse")
    warehouse = ClickHouseIOManager(transport)
    ddl = tmp_path / "ddl.sql"
    ddl.write_text(
        "CREATE DATABASE IF NOT EXISTS u;\n"
        "CREATE TABLE IF NOT EXISTS u.src (k Int64, v Int64) ENGINE = MergeTree ORDER BY k;\n"
        "CREATE TABLE IF NOT EXISTS u.keyed (k Int64, v Int64) ENGINE = MergeTree ORDER BY k;\n"
        "CREATE TABLE IF NOT EXISTS u.narrow (k Int8, v Int64) ENGINE = MergeTree ORDER BY k;\n"
        "INSERT INTO u.src VALUES (1, 10), (1, 11), (257, 12), (2, 13);\n"
    )
    warehouse.setup([ddl])
    yield warehouse, transport
    warehouse.close()


def validations(transport: RecordingTransport) -> list[str]:
    return [sql for sql in transport.queries if "AS __staged_rows" in sql]


def test_a_grouped_key_is_published_without_counting_its_duplicates(recorded):
    warehouse, transport = recorded
    spec = sql_asset("u.keyed", "SELECT k, max(v) AS v FROM u.src GROUP BY k", schema=Keyed)
    result = warehouse.materialize(spec, context(spec, warehouse))
    assert result.rows == 3
    assert result.metadata["unique_by_select"] == [["k"]]
    [validation] = validations(transport)
    assert "uniqExact" not in validation


def test_a_select_that_does_not_prove_its_key_is_still_counted(recorded):
    warehouse, transport = recorded
    spec = sql_asset("u.keyed", "SELECT k, v FROM u.src", schema=Keyed)
    duplicates = r"column 'k': unique failed for 1 row, e.g. 1 \(x2\)"
    with pytest.raises(AssetValidationError, match=duplicates):
        warehouse.materialize(spec, context(spec, warehouse))
    assert "uniqExact" in validations(transport)[0]
    assert warehouse.row_count("u.keyed") == 0


def test_a_key_its_column_would_narrow_into_duplicates_is_refused(recorded):
    warehouse, _ = recorded
    # 1 and 257 are distinct groups, but both would be 1 as Int8: the GROUP BY's proof of
    # uniqueness must not hold. The INSERT refuses 257 (it wraps) before any count.
    spec = sql_asset("u.narrow", "SELECT k, max(v) AS v FROM u.src GROUP BY k", schema=Keyed)
    refused = "column k: the value 257 of the SELECT's Int64 does not fit the table's Int8"
    with pytest.raises(MaterializationError, match=refused):
        warehouse.materialize(spec, context(spec, warehouse))
    assert warehouse.row_count("u.narrow") == 0


def test_aliases_win_over_read_columns_whatever_the_session_says(recorded):
    warehouse, _ = recorded
    # With column names first, GROUP BY k would group by the source's k and publish
    # max(v) twice under one k; its DESCRIBE and INSERT pin ClickHouse's default
    # (aliases first), under which this SELECT is refused, so nothing is published.
    warehouse.command("SET prefer_column_name_to_alias = 1")
    spec = sql_asset(
        "u.keyed", "SELECT intDiv(max(v), 100) AS k, 0 AS v FROM u.src GROUP BY k", schema=Keyed
    )
    refused = r": SELECT does not compile: .*(?i:aggregate)"
    with pytest.raises(MaterializationError, match=refused):
        warehouse.materialize(spec, context(spec, warehouse))
    assert warehouse.row_count("u.keyed") == 0


def test_the_retail_vault_keys_are_proven_by_their_selects():
    """Each hub and link groups by its key and the invoice satellite keeps one row per
    key: their insert-only keys cost no count (a rewrite that loses this shows here)."""
    from assets.vault import ASSETS

    proven = {}
    for spec in ASSETS:
        keys = unique_output_keys(spec.body(context(spec, None)))
        proven[spec.key] = any(key <= set(spec.unique_key) for key in keys)
    assert {key for key, holds in proven.items() if not holds} == {
        "sat_product",
        "sat_time",
        "sat_country",
        "sat_invoice_status",
    }
