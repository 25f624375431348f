"""``pipeline query``: reads the configured warehouse, prints table/csv/json, refuses writes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager, ReadOnlyQueryError
from tests import terminal

REPO = Path(__file__).resolve().parents[1]

DDL = """
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.sales
(
    id UInt64,
    country LowCardinality(String),
    status Enum8('Normal' = 0, 'Return' = 1),
    amount Decimal(10, 4),
    note Nullable(String)
)
ENGINE = MergeTree
ORDER BY id;
"""


@pytest.fixture
def warehouse_url(tmp_path):
    """A small embedded warehouse, closed again so the CLI process can open it."""
    ddl = tmp_path / "shop.sql"
    ddl.write_text(DDL)
    with ClickHouseIOManager.embedded(tmp_path / "wh") as warehouse:
        warehouse.setup([ddl])
        warehouse.command(
            "INSERT INTO shop.sales VALUES "
            "(1, 'France', 'Normal', 12.5, 'a, \"quoted\" note'), "
            "(2, 'Japan', 'Return', -3.25, NULL)"
        )
    return f"chdb://{tmp_path / 'wh'}"


def pipeline(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def invoke(*args: str, url: str):
    """The command in process (fast); the subprocess tests cover the real entry point."""
    from typer.testing import CliRunner

    from orchestration.cli import app

    return CliRunner().invoke(app, [*args, "--warehouse", url])


def row_count(url: str) -> int:
    with ClickHouseIOManager.embedded(url.removeprefix("chdb://")) as warehouse:
        return warehouse.row_count("shop.sales")


def test_csv_prints_a_header_row_then_rows(warehouse_url):
    result = pipeline(
        "query", "SELECT id, country, status, amount, note FROM shop.sales ORDER BY id",
        "--format", "csv", url=warehouse_url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '"id","country","status","amount","note"',
        '1,"France","Normal",12.5,"a, ""quoted"" note"',
        '2,"Japan","Return",-3.25,',  # NULL: an empty field
    ]


def test_json_prints_a_list_of_objects_with_exact_decimals(warehouse_url):
    result = invoke(
        "query", "SELECT id, status, amount, note FROM shop.sales ORDER BY id",
        "--format", "json", url=warehouse_url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [  # a UInt64 as a string: JavaScript rounds past 2^53
        {"id": "1", "status": "Normal", "amount": "12.5000", "note": 'a, "quoted" note'},
        {"id": "2", "status": "Return", "amount": "-3.2500", "note": None},
    ]


def test_table_is_the_default_format(warehouse_url):
    result = pipeline(
        "query", "SELECT country, status FROM shop.sales ORDER BY id", url=warehouse_url
    )

    assert result.returncode == 0, result.stderr
    assert "country" in result.stdout and "France" in result.stdout and "Return" in result.stdout
    assert "2 rows" in result.stderr


def test_piped_table_is_plain_columns_with_long_values_whole(warehouse_url):
    result = pipeline(
        "query",
        "SELECT country, repeat('x', 120) AS long FROM shop.sales ORDER BY id",
        url=warehouse_url,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["country", "long"]
    assert [line.split() for line in lines[1:]] == [["France", "x" * 120], ["Japan", "x" * 120]]
    assert "│" not in result.stdout


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE TABLE shop.sales",
        "SELECT 1; DROP TABLE shop.sales",
        "/* SELECT */ ALTER TABLE shop.sales DELETE WHERE 1",
        "INSERT INTO shop.sales SELECT * FROM shop.sales",
    ],
)
def test_writes_are_refused_and_change_nothing(warehouse_url, statement):
    result = invoke("query", statement, url=warehouse_url)

    assert result.exit_code != 0
    assert isinstance(result.exception, ReadOnlyQueryError)
    assert str(result.exception).startswith("refused:")
    assert row_count(warehouse_url) == 2


def test_the_real_command_refuses_in_one_line(warehouse_url):
    result = pipeline("query", "DROP TABLE shop.sales", url=warehouse_url)

    assert result.returncode != 0
    assert "refused: DROP is not a read statement" in result.stderr
    assert "Traceback" not in result.stderr
    assert row_count(warehouse_url) == 2


def test_a_failing_query_is_one_line_and_non_zero(warehouse_url):
    result = pipeline("query", "SELECT * FROM shop.nowhere", url=warehouse_url)

    assert result.returncode != 0
    assert "shop.nowhere" in result.stderr or "nowhere" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("output_format", ["table", "csv", "json"])
def test_a_reader_closing_the_pipe_early_is_not_a_failure(warehouse_url, output_format, unbuffered):
    read, write = os.pipe()
    os.close(read)  # `| head -3` has read its lines and gone
    try:
        result = subprocess.run(
            [sys.executable, "-m", "orchestration", "query", "--format", output_format,
             "SELECT number FROM numbers(200000)"],
            cwd=REPO,
            env={**os.environ, "WAREHOUSE_URL": warehouse_url, "PYTHONUNBUFFERED": unbuffered},
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        os.close(write)

    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr and "Traceback" not in result.stderr


def test_the_table_shows_the_first_rows_in_query_order_and_says_there_are_more(warehouse_url):
    result = pipeline(
        "query", "SELECT number AS n, toString(number) AS s FROM numbers_mt(5000) "
        "ORDER BY number DESC", url=warehouse_url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["n", "s"]
    assert [line.split()[0] for line in lines[1:]] == [str(n) for n in range(4999, 3999, -1)]
    assert "first 1000 rows shown; there are more" in result.stderr


def test_a_limited_query_asks_the_engine_for_only_those_rows(warehouse_url):
    """``max_rows`` cuts a SELECT in the engine, keeping its columns, order and the
    labels of Enum columns; a statement that is not a query returns all its rows."""
    with ClickHouseIOManager.embedded(warehouse_url.removeprefix("chdb://")) as warehouse:
        many = warehouse.read_only_text(
            "SELECT number, 'x' FROM numbers(50000000) ORDER BY number DESC", max_rows=3
        )
        sales = warehouse.read_only_text(
            "SELECT id, status FROM shop.sales ORDER BY id DESC", max_rows=1
        )
        tables = warehouse.read_only_text("SHOW TABLES FROM shop", max_rows=0)

    assert [column.name for column in many.columns] == ["number", "'x'"]
    assert [row[0] for row in many.rows] == ["49999999", "49999998", "49999997"]
    assert sales.rows == (("2", "Return"),)
    assert [column.kind for column in sales.columns] == ["number", "text"]
    assert tables.rows == (("sales",),)


def test_json_of_no_rows_is_an_empty_list(warehouse_url):
    result = invoke("query", "SELECT 1 AS n WHERE 0", "--format", "json", url=warehouse_url)

    assert result.exit_code == 0, result.output
    assert result.stdout == "[]\n"


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_a_format_clause_with_table_or_json_is_one_line_saying_what_to_do(
    warehouse_url, output_format
):
    # It was ClickHouse's syntax error about the command's own wrapper, which the user
    # never wrote: "... FORMAT JSONEachRow) LIMIT 1001). Expected one of: token, ...".
    result = pipeline(
        "query", "SELECT id FROM shop.sales FORMAT JSONEachRow", "--format", output_format,
        url=warehouse_url,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: refused: the query has its own FORMAT clause, but --format table and json "
        "print the rows themselves; drop the clause, or pass --format csv to print the "
        "engine's rendering as it is"
    ]


def test_a_format_clause_with_csv_is_the_engines_rendering(warehouse_url):
    result = invoke(
        "query", "SELECT id FROM shop.sales ORDER BY id FORMAT JSONEachRow", "--format", "csv",
        url=warehouse_url,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ['{"id":1}', '{"id":2}']


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_stops_a_long_query_within_seconds(warehouse_url, signum, code):
    """The embedded engine holds the thread that runs a statement until it ends: Ctrl-C
    on a query of minutes was answered minutes later (71 s for a 2-billion-row sum)."""
    endless = "SELECT sum(sipHash64(number)) FROM numbers(20000000000)"
    command = [sys.executable, "-m", "orchestration", "query", endless]
    env = {**os.environ, "WAREHOUSE_URL": warehouse_url, "PIPELINE_WARM_START": "off"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(6)  # started, imported, and deep in the statement
        assert process.poll() is None, process.communicate()
        process.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = process.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert waited < 5, f"stopped {waited:.1f} s after the signal"
    assert stdout == ""
    assert "Traceback" not in stderr


def test_the_table_shows_bytes_that_are_not_utf8_as_replacement_characters(warehouse_url):
    """A String holds any bytes; as text the table failed the whole command
    (``error: 'utf-8' codec can't decode byte 0xff``), where csv and json show them."""
    result = pipeline("query", "SELECT unhex('FF61') AS b, 'ok' AS c", url=warehouse_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == ["\ufffda  ok"]


UUID = "7b62fc65-8a66-de76-0001-1be28d5c8af4"
FACT_SALES_LIKE = (
    f"SELECT toUUID('{UUID}') AS sale_id, toString(id) AS invoice_no, sale_id AS product_key, "
    "sale_id AS customer_key, sale_id AS time_key, sale_id AS country_key, "
    "toInt32(144) AS quantity, toDecimal64(0.54, 4) AS unit_price, amount AS total_amount "
    "FROM shop.sales ORDER BY id"
)
FACT_SALES_HEADERS = [
    "sale_id", "invoice_no", "product_key", "customer_key", "time_key", "country_key",
    "quantity", "unit_price", "total_amount",
]  # fmt: skip


def test_on_a_120_column_terminal_numbers_and_headers_stay_whole_and_uuids_fold(warehouse_url):
    """Fact_Sales on a terminal read ``customer_k``/``ey`` and ``77.76``/``00``."""
    env = {**os.environ, "WAREHOUSE_URL": warehouse_url}
    code, lines = terminal.screen(env, "query", FACT_SALES_LIKE, columns=120)

    assert code == 0, lines
    names = next(line for line in lines if line.startswith("┃"))
    assert [name.strip() for name in names.strip("┃").split("┃")] == FACT_SALES_HEADERS
    assert sum(line.startswith("┃") for line in lines) == 1  # one line of headers
    assert any(re.search(r"│ +144 │ +0\.5400 │ +12\.5000 │$", line) for line in lines), lines
    assert any(re.search(r"│ +144 │ +0\.5400 │ +-3\.2500 │$", line) for line in lines), lines
    assert all(len(line) <= 120 for line in lines)


def test_on_an_80_column_terminal_a_row_too_wide_for_its_headers_is_a_record(warehouse_url):
    env = {**os.environ, "WAREHOUSE_URL": warehouse_url}
    code, lines = terminal.screen(env, "query", FACT_SALES_LIKE, columns=80)

    assert code == 0, lines
    first = lines[lines.index("row 1") + 1 : lines.index("row 2")]
    assert first == [
        f"  sale_id       {UUID}",
        "  invoice_no    1",
        f"  product_key   {UUID}",
        f"  customer_key  {UUID}",
        f"  time_key      {UUID}",
        f"  country_key   {UUID}",
        "  quantity      144",
        "  unit_price    0.5400",
        "  total_amount  12.5000",
    ]
    assert "  total_amount  -3.2500" in lines[lines.index("row 2") :]


#: Values the table printed as Python read them from Arrow: a DateTime as a Unix timestamp
#: (right-aligned like a number), b'ab', a Map as a list of pairs, a Tuple as a dict.
CLICKHOUSE_VALUES = (
    "SELECT toDateTime('2010-12-01 08:26:00', 'UTC') AS t, toIPv4('1.2.3.4') AS ip, "
    "toInt128(5) AS big, toFixedString('ab', 2) AS fs, map('k', 1) AS m, (1, 'x') AS tup, "
    "[1, NULL] AS a, true AS b, CAST(NULL AS Nullable(String)) AS nul, 'NULL' AS s, "
    "toDecimal64(0.54, 4) AS d, toDate('2020-01-02') AS day"
)


def test_the_table_shows_each_value_as_clickhouse_prints_it(warehouse_url):
    result = invoke("query", CLICKHOUSE_VALUES, url=warehouse_url)

    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["t", "ip", "big", "fs", "m", "tup", "a", "b", "nul", "s", "d", "day"]
    assert re.split(r" {2,}", row) == [
        "2010-12-01 08:26:00", "1.2.3.4", "5", "ab", "{'k':1}", "(1,'x')", "[1,NULL]", "true",
        "NULL", "NULL", "0.5400", "2020-01-02",
    ]  # fmt: skip


def test_on_a_terminal_wide_integers_stand_right_and_date_times_read_as_dates(warehouse_url):
    """A DateTime was a Unix timestamp standing right like a number; an Int128 was bytes."""
    env = {**os.environ, "WAREHOUSE_URL": warehouse_url}
    sql = (
        "SELECT toInt128(5) AS big_number, toDateTime('2010-12-01 08:26:00', 'UTC') "
        "AS invoiced_at_the_time_of_day, toNullable(toFloat64(1.5)) AS ratio"
    )
    code, lines = terminal.screen(env, "query", sql, columns=120)

    assert code == 0, lines
    row = re.compile(r"│ +5 │ 2010-12-01 08:26:00 +│ +1\.5 │")
    assert any(row.fullmatch(line) for line in lines), lines


def test_a_syntax_error_is_one_line_and_whole_with_verbose(warehouse_url):
    """The engine lists every token it could have taken (~60 of them, ~700 characters):
    the line says where, in the query's own lines and columns, and the first few."""
    sql = "SELECT id\nFROM shop.sales\nWHER id = 1"
    result = pipeline("query", sql, url=warehouse_url)
    verbose = pipeline("query", sql, "--verbose", url=warehouse_url)

    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: syntax error at line 3, col 6, at 'id': expected one of: FINAL, SAMPLE, "
        "STREAM, table, table function, ..."
    ]
    assert verbose.returncode == 1 and verbose.stdout == ""
    [line] = verbose.stderr.splitlines()
    assert line.startswith("error: Syntax error: failed at position 32 (id) (line 3, col 6)")
    assert "INTO OUTFILE, FORMAT" in line and line.endswith("(SYNTAX_ERROR)")


def test_an_unknown_column_is_one_line_naming_its_table_and_whole_with_verbose(warehouse_url):
    result = pipeline("query", "SELECT nosuch FROM shop.sales", url=warehouse_url)
    verbose = pipeline("query", "SELECT nosuch FROM shop.sales", "--verbose", url=warehouse_url)

    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: column nosuch is not in shop.sales"]
    assert "In scope SELECT nosuch FROM shop.sales" in verbose.stderr
