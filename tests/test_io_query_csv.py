"""``pipeline query --format csv`` streams the engine's own CSV, a block of rows at a time.

The whole rendered text of 5,000,000 rows was held before it was printed (peak RSS
+0.4 GB over ``SELECT 1``). The output must stay exactly the engine's ``CSVWithNames``:
one header, its quoting, every row; NULL is an empty field (the engine's default, ``\\N``,
is no CSV convention, and the project's own ingest refused it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from assets.sources import read_source
from io_managers import ClickHouseIOManager

REPO = Path(__file__).resolve().parents[1]

#: More rows than one engine block (65,409), and every kind of value CSV must quote or
#: mark: commas, quotes, line breaks, NULLs, dates, times, decimals, enums, arrays.
MIXED = r"""
SELECT
    number AS n,
    concat('row ', toString(number), if(number % 7 = 0, ', with "quotes"', '')) AS text,
    if(number % 5 = 0, NULL, concat('two\nlines ', toString(number % 3))) AS note,
    toDate('2020-01-01') + number % 1000 AS day,
    toDateTime64('2021-03-04 05:06:07.250', 3, 'UTC') + number AS at,
    toDecimal64(number / 7, 4) AS amount,
    CAST(number % 2, 'Enum8(\'Normal\' = 0, \'Return\' = 1)') AS status,
    [number, number + 1] AS pair,
    number % 3 = 0 AS flag
FROM numbers(150000)
"""
HEADER = b'"n","text","note","day","at","amount","status","pair","flag"\n'


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    """A warehouse that exists (a query creates none) holding one database."""
    with ClickHouseIOManager.embedded(tmp_path / "wh") as made:
        made.command("CREATE DATABASE shop")
    return tmp_path / "wh"


def csv_of(sql: str, warehouse_dir: Path, *options: str) -> subprocess.CompletedProcess[bytes]:
    """The command as a user runs it, its output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "query", sql, "--format", "csv", *options],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE_URL": f"chdb://{warehouse_dir}"},
        capture_output=True,
        timeout=300,
    )


def engine_csv(sql: str, warehouse_dir: Path, allow_external: bool = False) -> bytes:
    """ClickHouse's own rendering of the whole result at once (what the command printed)."""
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        return warehouse.read_only_raw(sql, "CSVWithNames", allow_external)


def test_csv_is_byte_for_byte_the_engines_rendering_with_one_header(warehouse_dir):
    result = csv_of(MIXED, warehouse_dir)

    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.startswith(HEADER)
    assert result.stdout.count(HEADER) == 1
    assert b'"row 7, with ""quotes"""' in result.stdout
    assert b'\n0,"row 0, with ""quotes""",,"2020-01-01",' in result.stdout  # its note NULL
    assert b"\\N" not in result.stdout
    assert result.stdout == engine_csv(MIXED, warehouse_dir)


def test_the_warehouse_streams_csv_in_blocks_that_join_to_the_whole_rendering(warehouse_dir):
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        pieces = list(warehouse.read_only_stream(MIXED, "CSVWithNames"))
        whole = warehouse.read_only_raw(MIXED, "CSVWithNames")

    assert len(pieces) > 2  # 150,000 rows: a header, then block after block
    assert pieces[0].startswith(HEADER)
    assert not any(HEADER in piece for piece in pieces[1:])
    assert b"".join(pieces) == whole


def test_null_is_an_empty_field_and_an_empty_string_stays_quoted(warehouse_dir):
    """A CSV export writes NULL as most tools do, as nothing; ClickHouse quotes every
    string, so an empty one stays ``""`` and a reader that keeps quoting apart can tell."""
    sql = (
        "SELECT CAST(NULL, 'Nullable(UInt64)') AS id, CAST(NULL, 'Nullable(String)') AS note,"
        " '' AS empty, CAST(NULL, 'Nullable(DateTime)') AS at, 1 AS n"
    )
    result = csv_of(sql, warehouse_dir)

    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b'"id","note","empty","at","n"\n,,"",,1\n'


def test_an_export_with_nulls_is_a_source_the_ingest_reads(warehouse_dir, tmp_path):
    """A table exported with ``query --format csv`` and fed back as a source: a line
    without a customer (NULL CustomerID) loads as one, where ``\\N`` was refused as not
    a number."""
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.command(
            "CREATE TABLE shop.lines (InvoiceNo String, StockCode String, Description "
            "Nullable(String), Quantity Int32, InvoiceDate DateTime('UTC'), UnitPrice Float64, "
            "CustomerID Nullable(UInt64), Country String) ENGINE = MergeTree ORDER BY InvoiceNo"
        )
        warehouse.command(
            "INSERT INTO shop.lines VALUES ('536365', '85123A', 'WHITE HANGING HEART', 6, "
            "'2010-12-01 08:26:00', 2.55, 17850, 'United Kingdom'), ('536366', '22633', NULL, "
            "6, '2010-12-01 08:28:00', 1.85, NULL, 'France')"
        )
    result = csv_of("SELECT * FROM shop.lines ORDER BY InvoiceNo", warehouse_dir)
    assert result.returncode == 0, result.stderr.decode()
    export = tmp_path / "export.csv"
    export.write_bytes(result.stdout)

    rows = pa.concat_tables(read_source(str(export))).select(["CustomerID", "Description"])

    assert rows.to_pylist() == [
        {"CustomerID": 17850, "Description": "WHITE HANGING HEART"},
        {"CustomerID": None, "Description": None},
    ]


def test_no_rows_is_the_header_alone(warehouse_dir):
    result = csv_of("SELECT 1 AS a, 'x' AS b WHERE 0", warehouse_dir)

    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b'"a","b"\n'


@pytest.mark.parametrize(
    ("sql", "options"),
    [
        ("SELECT number AS n, 'a,b' AS s FROM numbers(100000) FORMAT TSVWithNames", ()),
        (
            "SELECT number AS n, 'a;b' AS s FROM numbers(100000) "
            "SETTINGS format_csv_delimiter = ';'",
            ("--allow-external",),  # a settings change needs readonly = 2
        ),
        ("SHOW DATABASES", ()),
    ],
    ids=["own FORMAT", "own SETTINGS", "not a SELECT"],
)
def test_a_statement_rendering_itself_prints_what_the_engine_renders(warehouse_dir, sql, options):
    """Its own FORMAT or SETTINGS clause changes the engine's rendering (header included),
    so it is the engine's whole rendering, as before."""
    result = csv_of(sql, warehouse_dir, *options)

    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == engine_csv(sql, warehouse_dir, allow_external=bool(options))


def test_a_query_failing_before_its_first_row_prints_no_header(warehouse_dir):
    result = csv_of("SELECT throwIf(number = 0, 'boom') AS x FROM numbers(10)", warehouse_dir)

    assert result.returncode == 1
    assert result.stdout == b""
    error = result.stderr.decode().splitlines()[0]
    assert error.startswith("error: boom") and "Streaming" not in error


def test_a_query_failing_midway_ends_the_output_and_says_why(warehouse_dir):
    """Rows are printed as the engine renders them, so a failure after some blocks may
    follow rows already printed: they are the result's first rows, never a broken one,
    and the command says why it stopped (exit 1)."""
    failing = "SELECT number AS n, throwIf(number = 140000, 'boom') AS x FROM numbers(150000)"
    result = csv_of(failing, warehouse_dir)

    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[0].startswith("error: boom")
    whole = engine_csv("SELECT number AS n, 0 AS x FROM numbers(150000)", warehouse_dir)
    assert whole.startswith(result.stdout)
    assert b"\n140000," not in result.stdout
    assert result.stdout.endswith(b"\n") or result.stdout == b""  # whole rows only


def peak_rss_kib(sql: str, warehouse_dir: Path) -> int:
    """The command's peak resident memory, its output going to /dev/null."""
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration", "query", sql, "--format", "csv"],
            cwd=REPO,
            env={**os.environ, "WAREHOUSE_URL": f"chdb://{warehouse_dir}"},
            stdout=devnull,
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0
    return usage.ru_maxrss  # KiB on Linux


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_millions_of_rows_are_printed_without_holding_their_text(warehouse_dir):
    """numbers(5000000) is 88 MB of CSV; the command held it (and the engine's copy):
    +380 MB over SELECT 1. Streamed, a block of rows is held at a time."""
    ClickHouseIOManager.embedded(warehouse_dir).close()  # not created by the baseline
    baseline = peak_rss_kib("SELECT 1", warehouse_dir)
    big = peak_rss_kib("SELECT number, toString(number) FROM numbers(5000000)", warehouse_dir)

    assert big - baseline < 100 * 1024, f"{big} KiB vs {baseline} KiB for SELECT 1"


def test_a_reader_that_stops_early_stops_the_query(warehouse_dir):
    """``| head -1`` on a billion rows: once the reader is gone the query is stopped,
    not run to its end into /dev/null; the command still exits 0."""
    read, write = os.pipe()
    os.close(read)  # the reader has its line and has gone
    try:
        result = subprocess.run(
            [sys.executable, "-m", "orchestration", "query", "--format", "csv",
             "SELECT number, toString(number) FROM numbers(1000000000)"],
            cwd=REPO,
            env={**os.environ, "WAREHOUSE_URL": f"chdb://{warehouse_dir}"},
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=60,
        )  # fmt: skip
    finally:
        os.close(write)

    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
