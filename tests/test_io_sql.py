"""SQL text handling: statement splitting for DDL and the read-only guard of ``pipeline query``."""

from __future__ import annotations

import pytest

from io_managers import ReadOnlyQueryError, ensure_read_only, split_statements
from io_managers.sql import literal, quote_identifier
from io_managers.sql_tokens import is_select


def test_split_ignores_semicolons_in_strings_identifiers_and_comments():
    script = """
    -- header; with a semicolon
    CREATE TABLE a (s String DEFAULT 'x;y', `odd;name` UInt8) ENGINE = Memory;
    /* block; /* nested; */ still comment; */
    INSERT INTO a VALUES ('it''s; fine', 1);
    # hash comment; too
    SELECT 'a\\';b';;
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[0].startswith("CREATE TABLE a (s String DEFAULT 'x;y', `odd;name` UInt8)")
    assert statements[1] == "INSERT INTO a VALUES ('it''s; fine', 1)"
    assert statements[2] == "SELECT 'a\\';b'"


def test_split_keeps_a_heredoc_whole_and_drops_only_outer_comments():
    script = "SELECT $$a;b$$ AS x; -- done;\nSELECT 2 /* inner; */ + 1 -- tail\n;"
    assert split_statements(script) == ["SELECT $$a;b$$ AS x", "SELECT 2 /* inner; */ + 1"]


@pytest.mark.parametrize("sql", ["SELECT 'open; SELECT 2", "SELECT 1 /* open;", "SELECT `open;"])
def test_split_refuses_text_with_an_unclosed_quote_or_comment(sql):
    with pytest.raises(ValueError, match=r"unclosed quote or comment near .*open"):
        split_statements(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select 1", True),
        ("  -- note; SELECT\n((WITH x AS (SELECT 1) SELECT * FROM x))", True),
        ("/* SELECT */ INSERT INTO t SELECT 1", False),
        ("SELECT 'open", False),
        ("", False),
    ],
)
def test_is_select_reads_the_first_keyword_past_comments_and_parentheses(sql, expected):
    assert is_select(sql) is expected


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select * from marts.Fact_Sales limit 5;",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES FROM vault",
        "DESCRIBE TABLE marts.Dim_Time",
        "desc marts.Dim_Time",
        "EXPLAIN SELECT 1",
        "-- what sold?\nSELECT 'DROP TABLE x; --' AS s",
        "SELECT 1 -- ; DROP TABLE x",
    ],
)
def test_read_statements_pass(sql):
    assert ensure_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE marts.Fact_Sales", "DROP is not a read statement"),
        ("insert into t select 1", "INSERT is not a read statement"),
        ("/* SELECT */ TRUNCATE TABLE t", "TRUNCATE is not a read statement"),
        ("ALTER TABLE t DELETE WHERE 1", "ALTER is not a read statement"),
        ("SELECT 1; DROP TABLE t", "found 2 statements"),
        # Named as INTO OUTFILE by ClickHouse's parse tree (tests/test_query_read_only.py).
        ("SELECT * FROM t INTO OUTFILE '/tmp/x.csv'", "does not parse as one read statement"),
        ("SYSTEM DROP DNS CACHE", "SYSTEM is not a read statement"),
        ("   -- only a comment", "query is empty"),
    ],
)
def test_anything_else_is_refused_with_a_reason(sql, message):
    with pytest.raises(ReadOnlyQueryError) as raised:
        ensure_read_only(sql)
    assert message in str(raised.value)
    assert str(raised.value).startswith("refused:")


def test_identifiers_and_literals_are_escaped():
    assert quote_identifier("we`ird") == "`we\\`ird`"
    assert literal("it's") == "'it\\'s'"
    assert literal([1, "a"]) == "(1, 'a')"
    assert literal(True) == "true"
