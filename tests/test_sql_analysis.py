"""The SQL analysis behind derived dependencies and column lineage (ClickHouse dialect)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from io_managers import ClickHouseIOManager
from io_managers.sql_analysis import column_lineage, tables_read
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.io_manager import SqlAnalysisError, TableReads

COLUMNS = {
    "shop.orders": ["order_id", "customer_id", "amount", "ordered_at"],
    "shop.customers": ["customer_id", "name", "country"],
}


def test_tables_read_names_every_table_once_from_joins_and_subqueries():
    sql = """
    SELECT o.order_id, c.name, (SELECT count() FROM shop.refunds) AS refunds
    FROM shop.orders AS o
    INNER JOIN shop.customers AS c ON c.customer_id = o.customer_id
    WHERE o.customer_id IN (SELECT customer_id FROM crm.vip)
      AND o.order_id IN (SELECT order_id FROM shop.orders WHERE amount > 0)
    SETTINGS join_algorithm = 'full_sorting_merge'
    """
    assert tables_read(sql) == TableReads(
        tables=("crm.vip", "shop.customers", "shop.orders", "shop.refunds")
    )


def test_tables_read_leaves_out_cte_names_and_reports_table_functions_apart():
    sql = """
    WITH recent AS (SELECT * FROM shop.orders), n AS (SELECT number FROM numbers(3))
    SELECT recent.order_id FROM recent, n
    UNION ALL SELECT toUInt64(1) FROM url('http://example.invalid/x.csv', CSV, 'a UInt64')
    """
    reads = tables_read(sql)
    assert reads.tables == ("shop.orders",)
    assert reads.table_functions == ("numbers", "url")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM orders", "table 'orders' has no database"),
        ("SELECT FROM WHERE", "does not parse"),
        ("SELECT 1; SELECT 2", "found 2 statements"),
        ("DROP TABLE shop.orders", "expected a SELECT, found DROP"),
    ],
)
def test_tables_read_refuses_what_it_cannot_attribute(sql, message):
    with pytest.raises(SqlAnalysisError, match=message):
        tables_read(sql)


def test_column_lineage_follows_aliases_ctes_and_derived_tables_to_table_columns():
    sql = """
    WITH spend AS (SELECT customer_id, sum(amount) AS total FROM shop.orders GROUP BY customer_id)
    SELECT c.name AS customer, s.total * 2 AS doubled, upper(c.country) AS country,
           'x' AS constant, count() OVER () AS n
    FROM shop.customers AS c
    INNER JOIN (SELECT * FROM spend) AS s ON s.customer_id = c.customer_id
    """
    assert column_lineage(sql, COLUMNS) == {
        "customer": ("shop.customers.name",),
        "doubled": ("shop.orders.amount",),
        "country": ("shop.customers.country",),
        "constant": (),
        "n": (),
    }


def test_column_lineage_expands_star_and_resolves_unqualified_columns():
    lineage = column_lineage("SELECT *, amount + 1 AS more FROM shop.orders", COLUMNS)
    assert list(lineage) == ["order_id", "customer_id", "amount", "ordered_at", "more"]
    assert lineage["ordered_at"] == ("shop.orders.ordered_at",)
    assert lineage["more"] == ("shop.orders.amount",)


def test_column_lineage_merges_union_branches_by_position():
    sql = "SELECT order_id AS id FROM shop.orders UNION ALL SELECT customer_id FROM shop.customers"
    assert column_lineage(sql, COLUMNS) == {
        "id": ("shop.customers.customer_id", "shop.orders.order_id")
    }


def test_column_lineage_ignores_clauses_that_only_choose_rows():
    sql = """
    SELECT customer_id, cityHash64(amount) AS digest FROM shop.orders
    LIMIT 1 BY customer_id, digest SETTINGS max_threads = 1
    """
    assert column_lineage(sql, COLUMNS) == {
        "customer_id": ("shop.orders.customer_id",),
        "digest": ("shop.orders.amount",),
    }


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM shop.unknown", "columns of shop.unknown are not known"),
        ("SELECT missing FROM shop.orders", "'missing' could not be resolved"),
        ("SELECT o.nope FROM shop.orders AS o", "nope"),
    ],
)
def test_column_lineage_never_answers_with_unresolved_columns(sql, message):
    with pytest.raises(SqlAnalysisError, match=message):
        column_lineage(sql, COLUMNS)


@dataclass(frozen=True)
class Shipped:
    """The shipped pipeline's SQL assets as rendered, and every table's columns."""

    warehouse: ClickHouseIOManager
    columns_of: dict[str, list[str]]
    sql_assets: list[tuple[str, str, str]]  # key, table, SELECT


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    defs = load_definitions("assets")
    with ClickHouseIOManager.embedded(tmp_path_factory.mktemp("wh")) as warehouse:
        warehouse.setup(defs.ddl_paths)
        columns_of = {
            spec.table: [name for name, _ in warehouse.describe(spec.table)] for spec in defs.assets
        }
        when = datetime(2011, 12, 9, 12, 50, tzinfo=UTC)
        sql_assets = [
            (
                spec.key,
                spec.table,
                spec.body(AssetContext(spec=spec, io_manager=warehouse, load_datetime=when)),
            )
            for spec in defs.assets
            if spec.kind == "sql"
        ]
        yield Shipped(warehouse, columns_of, sql_assets)


def test_every_output_column_of_the_retail_pipeline_resolves_to_upstream_columns(shipped):
    """Column lineage of the shipped pipeline, against the real DDL's columns."""
    columns_of = shipped.columns_of
    for key, table, sql in shipped.sql_assets:
        lineage = shipped.warehouse.column_lineage(sql, columns_of)
        assert list(lineage) == columns_of[table], key
        for sources in lineage.values():
            for source in sources:
                source_table, column = source.rsplit(".", 1)
                assert column in columns_of[source_table], (key, source)
    assert len(shipped.sql_assets) == 25


def _lineage_column_by_column(sql: str, columns_of: dict[str, list[str]]) -> dict[str, tuple]:
    """The reference: sqlglot's stock ``lineage`` asked one output column at a time, each
    call parsing, copying, qualifying and trimming on its own (what a caller does without
    sharing a scope)."""
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify

    from io_managers import sql_analysis

    tree = sql_analysis.parse_select(sql)
    sql_analysis._drop_non_lineage_clauses(tree)
    schema = sql_analysis._schema(columns_of)
    expanded = qualify(tree.copy(), dialect="clickhouse", schema=schema, identify=False)
    names = [select.alias_or_name for select in expanded.selects]  # a * expanded
    return {
        name: tuple(
            sorted(
                sql_analysis._source_columns(
                    lineage(
                        name,
                        tree,
                        schema=schema,
                        dialect="clickhouse",
                        validate_qualify_columns=True,
                        identify=False,
                    ),
                    columns_of,
                )
            )
        )
        for name in names
    }


def test_column_lineage_from_one_scope_equals_sqlglot_column_by_column_for_every_asset(shipped):
    """The shared-scope fast path gives every shipped asset the same sources as the stock,
    one-column-per-call lineage."""
    assert len(shipped.sql_assets) == 25
    for key, _, sql in shipped.sql_assets:
        reads = {table: shipped.columns_of[table] for table in tables_read(sql).tables}
        assert column_lineage(sql, reads) == _lineage_column_by_column(sql, reads), key
