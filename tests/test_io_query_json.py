"""``pipeline query --format json`` (or ``--json``): JSON every parser reads back as it was.

It printed ``NaN`` and ``Infinity`` (which JSON.parse, Go and jq refuse), a ``DateTime``
as epoch seconds beside ``DateTime64`` and ``Date`` as ISO strings, and integers above
2^53 as bare numbers that jq and JavaScript round (18446744073709551615 read back as
18446744073709552000). ClickHouse now renders the rows itself (``JSONEachRow``, with
settings that make those rules its own), on both backends, a block at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from io_managers import ClickHouseIOManager

REPO = Path(__file__).resolve().parents[1]

#: A value of every kind a JSON reader could take wrong, and the few it never did.
VALUES = r"""
SELECT
    nan AS nan64, -inf AS minus_inf, toFloat32(inf) AS inf32, [nan, 1.5] AS floats,
    0.1 AS tenth,
    toDateTime('2026-12-06 12:34:56', 'Europe/Berlin') AS berlin,
    toDateTime('2026-12-06 12:34:56', 'UTC') AS utc,
    toDateTime64('2026-12-06 12:34:56.125', 3, 'Asia/Kolkata') AS kolkata_ms,
    toDate('2026-12-06') AS day, toDate32('1900-01-01') AS old_day,
    [toDateTime('2026-12-06 12:34:56', 'UTC')] AS instants,
    toUInt64(18446744073709551615) AS u64_max, toInt64(-9223372036854775808) AS i64_min,
    toInt128('170141183460469231731687303715884105727') AS i128, toUInt256(1) AS u256,
    toUInt32(4294967295) AS u32, toInt8(-1) AS i8,
    toDecimal64(1.5, 4) AS amount, unhex('FF61') AS bad_utf8, 'a/b "c"' AS text,
    CAST(NULL, 'Nullable(String)') AS nothing
"""
EXPECTED = {
    # Not a number, or infinite: null, as ClickHouse's JSON formats write them.
    "nan64": None, "minus_inf": None, "inf32": None, "floats": [None, 1.5], "tenth": 0.1,
    # Every instant in ISO 8601 UTC, whatever the column's time zone; a date as a date.
    "berlin": "2026-12-06T11:34:56Z",
    "utc": "2026-12-06T12:34:56Z",
    "kolkata_ms": "2026-12-06T07:04:56.125Z",
    "day": "2026-12-06", "old_day": "1900-01-01",
    "instants": ["2026-12-06T12:34:56Z"],
    # 64 bits and wider: strings, every value of the type (JavaScript rounds past 2^53).
    "u64_max": "18446744073709551615", "i64_min": "-9223372036854775808",
    "i128": "170141183460469231731687303715884105727", "u256": "1",
    "u32": 4294967295, "i8": -1,
    # Decimals keep every digit, their scale's trailing zeros too.
    "amount": "1.5000",
    # Bytes that are not UTF-8 would make the document unreadable: U+FFFD stands for them.
    "bad_utf8": "\ufffda", "text": 'a/b "c"',
    "nothing": None,
}  # fmt: skip


def strict_json(text: str | bytes) -> Any:
    """``text`` parsed as JSON.parse, Go and jq parse it: NaN and Infinity are errors."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_value_reads_back_in_strict_json_on_both_backends(backend):
    text = b"".join(backend.warehouse.read_only_json(VALUES))

    assert strict_json(text) == [EXPECTED]


def test_many_rows_stream_in_pieces_that_join_to_one_list_on_both_backends(backend):
    """More rows than one engine block (65,409): the list is written as the rows come."""
    sql = "SELECT number AS n, toDateTime(number, 'UTC') AS t FROM numbers(150000)"

    pieces = list(backend.warehouse.read_only_json(sql))

    assert len(pieces) > 2
    rows = strict_json(b"".join(pieces))
    assert len(rows) == 150000
    assert rows[0] == {"n": "0", "t": "1970-01-01T00:00:00Z"}
    assert rows[-1] == {"n": "149999", "t": "1970-01-02T17:39:59Z"}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 AS n WHERE 0", b"[]\n"),
        ("SELECT toUInt8(1) AS n", b'[\n{"n":1}\n]\n'),
        ("SELECT toUInt8(number) AS n FROM numbers(2)", b'[\n{"n":0},\n{"n":1}\n]\n'),
    ],
    ids=["no rows", "one row", "two rows"],
)
def test_the_list_is_one_object_per_line(backend, sql, expected):
    assert b"".join(backend.warehouse.read_only_json(sql)) == expected


def test_a_statement_that_is_not_a_select_is_a_list_of_objects_too(backend):
    rows = strict_json(b"".join(backend.warehouse.read_only_json("SHOW DATABASES")))

    assert {"name": "system"} in rows


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    """A warehouse that exists (a query creates none)."""
    with ClickHouseIOManager.embedded(tmp_path / "wh") as made:
        made.command("CREATE DATABASE shop")
    return tmp_path / "wh"


def query(warehouse_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pipeline query`` as a script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "query", *args],
        cwd=REPO,
        env={**os.environ, "WAREHOUSE_URL": f"chdb://{warehouse_dir}"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_prints_strict_json_and_takes_json_as_every_command_does(warehouse_dir):
    """``--json`` is ``--format json``: six other commands take ``--json``, and a script
    should not need to know which spelling this one wants."""
    as_format = query(warehouse_dir, VALUES, "--format", "json")
    as_flag = query(warehouse_dir, "--json", VALUES)
    # Both at once ask for the one document: it goes to stdout, not to stderr with the
    # other writes that a document's command diverts (orchestration.output).
    as_both = query(warehouse_dir, "--json", VALUES, "--format", "json")

    assert as_format.returncode == 0, as_format.stderr
    assert strict_json(as_format.stdout) == [EXPECTED]
    assert (as_flag.returncode, as_flag.stdout, as_flag.stderr) == (0, as_format.stdout, "")
    assert (as_both.returncode, as_both.stdout, as_both.stderr) == (0, as_format.stdout, "")


def test_json_and_another_format_at_once_is_a_usage_error(warehouse_dir):
    result = query(warehouse_dir, "SELECT 1", "--json", "--format", "csv")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--json': it means --format json, but --format csv was "
        "given too; pass one of them (see 'pipeline query --help')"
    ]
