"""The SQL analysis behind derived dependencies and column lineage (ClickHouse dialect)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from io_managers import ClickHouseIOManager
from io_managers.sql_analysis import (
    column_lineage,
    columns_read,
    compile_reads,
    normalized_sql,
    tables_read,
)
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


@pytest.mark.parametrize(
    ("sql", "line", "col", "token", "why"),
    [
        # The reviewer's FORM for FROM, first on its line: sqlglot says col 4, its last.
        (
            "SELECT\n    a AS b\nFORM shop.orders",
            3,
            1,
            "FORM",
            "Invalid expression / Unexpected token",
        ),
        # A token inside a line, after a character of two UTF-8 bytes.
        ("SELECT é, b c dd FROM shop.orders", 1, 15, "dd", "Invalid expression / Unexpected token"),
        # sqlglot's repr of the token it got (<Token token_type: ...>) is left out.
        ("SELECT FROM WHERE", 1, 13, "WHERE", "Expected table name"),
        # An operator without its right side: sqlglot names its parse tree's class
        # (<class 'sqlglot.expressions.core.Mod'>); said as the SQL writes it.
        ("SELECT a % FROM t", 1, 12, "FROM", "'%' has no right-hand side"),
        ("SELECT a = FROM t", 1, 12, "FROM", "'=' has no right-hand side"),
    ],
)
def test_a_select_that_does_not_parse_says_where_and_at_which_token(sql, line, col, token, why):
    """Where the offending token begins in the SQL and the token itself, from sqlglot's
    error fields, not its message (``... Line 3, Col: 4.``: the token's last column, in
    the SQL's own lines, which a reader had to add to the line the SQL starts on)."""
    with pytest.raises(SqlAnalysisError) as raised:
        tables_read(sql)
    error = raised.value
    assert (error.line, error.col) == (line, col)
    assert str(error) == f"SQL does not parse at line {line}, col {col}, at {token!r}: {why}"
    # After a place in the file, the same token again in the SQL's lines would be a 2nd place.
    assert error.said(placed=True) == f"SQL does not parse at {token!r}: {why}"
    assert error.said(placed=False) == str(error)


@pytest.mark.parametrize(
    ("sql", "line", "col", "token"),
    [
        # The review's unclosed literal, on the SELECT's second line.
        ("SELECT n,\n  'abc AS label\nFROM shop.orders", 2, 3, "'abc"),
        ('SELECT "abc FROM shop.orders', 1, 8, '"abc'),
        # A comment closed before it is no part of it; one never closed is the token.
        ("SELECT 1 /* c */ 'abc FROM shop.orders", 1, 18, "'abc"),
        ("SELECT 1 /* abc", 1, 10, "/*"),
    ],
)
def test_a_token_that_never_ends_is_placed_where_it_starts(sql, line, col, token):
    """sqlglot's tokenizer fails before any parse on a quote or a comment never closed:
    the error said ``Error tokenizing '<up to 50 characters before where it stopped>``,
    cut at the first line break, and no place, so a SQL asset's refusal named its body's
    ``return``. It is placed where the token starts, as a parse error is."""
    with pytest.raises(SqlAnalysisError) as raised:
        tables_read(sql)
    error = raised.value
    assert (error.line, error.col) == (line, col)
    why = "unclosed quote or comment"
    assert str(error) == f"SQL does not parse at line {line}, col {col}, at {token!r}: {why}"
    assert error.said(placed=True) == f"SQL does not parse at {token!r}: {why}"


def test_compile_reads_names_the_tables_of_every_from_join_and_subquery():
    sql = (
        "SELECT sale_id FROM marts.Fact_Sales WHERE product_key NOT IN "
        "(SELECT product_key FROM marts.Dim_Product) AND hasAny([1], [2])"
    )
    assert compile_reads(sql) == ("marts.Dim_Product", "marts.Fact_Sales")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM db.t WHERE a IN db.u",
        "SELECT a FROM db.t WHERE a GLOBAL NOT IN db.u",
        "SELECT a FROM db.t WHERE notIn(a, db.u)",
        "SELECT dictGetOrDefault('db.d', 'x', a, 0) FROM db.t",
        "SELECT dictHas('db.d', a) FROM db.t",
        "SELECT joinGet(db.j, 'v', a) FROM db.t",
        "SELECT a FROM db.t WHERE hasColumnInTable('db', 'u', 'k')",
        "SELECT a FROM db.t JOIN file('x.csv') AS f USING a",
    ],
)
def test_compile_reads_cannot_name_a_table_read_out_of_sight(sql):
    """sqlglot sees none of these reads as a table: a kept compile verdict would miss a
    change to it (io_managers/checks.py), so the answer is None, not the visible tables."""
    assert compile_reads(sql) is None


def test_the_normal_form_leaves_out_layout_comments_and_keyword_case_only():
    written = "SELECT a FROM db.t WHERE b NOT IN (1, 2) AND c = 'x'"
    laid_out = """
        -- the rows to find
        select a
          from db.t  /* the table */
         where b not in (1,2)
           and c = 'x'
    """
    assert normalized_sql(laid_out) == normalized_sql(written)
    for other in ("B NOT IN (1, 2)", "b IN (1, 2)", "b NOT IN (1, 3)"):
        assert normalized_sql(written.replace("b NOT IN (1, 2)", other)) != normalized_sql(written)
    assert normalized_sql(written.replace("'x'", "'X'")) != normalized_sql(written)
    assert normalized_sql("SELECT a FROM `{table}`") == 'SELECT a FROM "{table}"'


@pytest.mark.parametrize("sql", ["SELECT a FROM (", "SELECT 1; SELECT 2", "DROP TABLE db.t"])
def test_the_normal_form_of_what_is_no_one_select_is_refused(sql):
    with pytest.raises(SqlAnalysisError):
        normalized_sql(sql)


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


def test_columns_read_names_the_columns_of_every_clause_not_only_the_output():
    """Renaming a column a WHERE, JOIN ... ON or GROUP BY reads breaks the SELECT as
    surely as one it outputs: impact analysis needs both."""
    sql = """
    SELECT c.name, sum(o.amount) AS spent
    FROM shop.orders AS o
    INNER JOIN shop.customers AS c ON c.customer_id = o.customer_id
    WHERE o.ordered_at > '2011-01-01'
    GROUP BY c.name
    HAVING spent > 0
    SETTINGS max_threads = 1
    """
    assert columns_read(sql, COLUMNS) == (
        "shop.customers.customer_id",
        "shop.customers.name",
        "shop.orders.amount",
        "shop.orders.customer_id",
        "shop.orders.ordered_at",
    )


def test_columns_read_follows_subqueries_ctes_and_using_and_expands_star():
    sql = """
    WITH big AS (SELECT customer_id FROM shop.orders WHERE amount > 100)
    SELECT * FROM shop.customers
    FULL OUTER JOIN (SELECT customer_id, 1 AS present FROM big) AS b USING (customer_id)
    """
    assert columns_read(sql, COLUMNS) == (
        "shop.customers.country",
        "shop.customers.customer_id",
        "shop.customers.name",
        "shop.orders.amount",
        "shop.orders.customer_id",
    )


def test_columns_read_takes_a_clickhouse_scalar_alias_for_what_its_query_reads():
    """``WITH (SELECT ...) AS name`` names a value, not a column: the query behind it
    reads columns, the name reads none (the retail facts' reconciliation check)."""
    sql = """
    WITH (SELECT max(amount) FROM shop.orders) AS top, 5 AS few
    SELECT name FROM shop.customers WHERE NOT top > few
    """
    assert columns_read(sql, COLUMNS) == ("shop.customers.name", "shop.orders.amount")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM shop.unknown", "columns of shop.unknown are not known"),
        ("SELECT order_id FROM shop.orders WHERE missing > 0", "'missing' could not be resolved"),
    ],
)
def test_columns_read_never_answers_with_unresolved_columns(sql, message):
    with pytest.raises(SqlAnalysisError, match=message):
        columns_read(sql, COLUMNS)


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
    assert len(shipped.sql_assets) == 26


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
    assert len(shipped.sql_assets) == 26
    for key, _, sql in shipped.sql_assets:
        reads = {table: shipped.columns_of[table] for table in tables_read(sql).tables}
        assert column_lineage(sql, reads) == _lineage_column_by_column(sql, reads), key


def test_every_retail_select_and_check_reads_columns_its_tables_have(shipped):
    """What each shipped SELECT reads holds its column lineage's sources, and more: the
    facts filter the satellite on ReturnStatus, which feeds none of their columns. Every
    shipped check's reads resolve too, the facts' reconciliation with its scalar alias."""
    columns_of = shipped.columns_of
    for key, _, sql in shipped.sql_assets:
        read = set(shipped.warehouse.columns_read(sql, columns_of))
        sources = set().union(*shipped.warehouse.column_lineage(sql, columns_of).values())
        assert sources <= read, key
        if key == "fact_sales":
            assert "vault.sat_invoice.ReturnStatus" in read - sources
    defs = load_definitions("assets")
    checks = [(spec, check) for spec in defs.assets for check in spec.checks]
    assert len(checks) >= 20
    for spec, check in checks:
        read = shipped.warehouse.columns_read(check.sql.replace("{table}", spec.table), columns_of)
        assert read, (spec.key, check.name)
        for column in read:
            table, _, name = column.rpartition(".")
            assert name in columns_of[table], (spec.key, check.name, column)
