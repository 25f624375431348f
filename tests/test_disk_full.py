"""A warehouse out of disk space never publishes fewer rows than an asset wrote.

chdb's streaming insert (how a Python asset's Arrow batches reach staging, embedded and
in the HTTP stand-in) returns as if it had written every row when the engine refused the
rows for want of disk space: ``finish()`` reports them all written, the table holds none
of them. A run then validated an empty (or half-filled) staging table, published it and
exited 0 with every check passing. So a materialization compares the rows staging holds
with the rows written to it, and fails the asset, publishing nothing, when any are
missing.

The engine is made short of space honestly: ``min_free_disk_bytes_to_perform_insert``
(a MergeTree setting a staging table inherits from its target) asks for more free space
than any disk has, and the engine refuses each insert as it does on a full disk. The
last test fills a real tmpfs (root only: it mounts one in a private mount namespace).

A statement the engine refuses for space says so in one line, wherever it is met: the
warehouse's directory (a server's disk), how much is free, and what to do. The engine's
own words read as a broken history table in the history's write, and as a mistake of the
asset's code in its SELECT's INSERT.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from io_managers import ClickHouseIOManager, MaterializationError
from io_managers.disk_full import engine_error_code, out_of_space
from io_managers.errors import WarehouseDiskFullError, WarehouseQueryError
from orchestration.definitions import load_definitions
from orchestration.errors import ExpectedError
from orchestration.history import MaterializationRecord
from tests.io_helpers import context, python_asset, sql_asset, staging_tables
from tests.retail_support import materialize_raw
from tests.unprivileged import can_mount_a_private_tmpfs

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
#: More free bytes than any disk has: every insert into the table is refused for space.
NO_DISK_IS_BIG_ENOUGH = "min_free_disk_bytes_to_perform_insert = 1000000000000000000"


def numbers(first: int, count: int) -> pa.Table:
    values = range(first, first + count)
    return pa.table(
        {
            "n": pa.array(values, pa.uint64()),
            "label": [f"n{n}" for n in values],
            "score": pa.array([None] * count, pa.float64()),
        }
    )


def published(warehouse: ClickHouseIOManager, table: str) -> list[int]:
    return warehouse.query_arrow(f"SELECT n FROM {table} ORDER BY n").column("n").to_pylist()


def starve(warehouse: ClickHouseIOManager, table: str) -> None:
    """Have the engine refuse every insert into ``table`` (and its staging) for space."""
    warehouse.command(f"ALTER TABLE {table} MODIFY SETTING {NO_DISK_IS_BIG_ENOUGH}")


#: The line of a warehouse whose engine refused a write for space: where, how much is free
#: (the setting's threshold named when it refused), and what to do.
_DISK_FULL = (
    r"warehouse disk is full at (?P<where>.+) \((?P<free>\d+(\.\d)? (B|KiB|MiB|GiB|TiB)) free"
    r"(?P<threshold>, less than its min_free_disk_\* settings keep free)?\): "
    r"free space, then run again"
)


def disk_full_where(error: BaseException) -> str:
    """Where the one line of a refused write for space says the full disk is."""
    assert isinstance(error, WarehouseDiskFullError), repr(error)
    assert isinstance(error, ExpectedError)  # one line, no traceback offered
    said = re.fullmatch(_DISK_FULL, str(error))
    assert said is not None, str(error)
    return said.group("where")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_rows_the_engine_drops_for_want_of_space_fail_the_asset_and_publish_nothing(backend, db):
    table = f"{db}.numbers"
    warehouse = backend.warehouse
    first = python_asset(table, lambda ctx: numbers(0, 3))
    warehouse.materialize(first, context(first, warehouse))
    starve(warehouse, table)
    spec = python_asset(table, lambda ctx: iter([numbers(10, 2), numbers(12, 3)]))

    with pytest.raises(MaterializationError) as raised:
        warehouse.materialize(spec, context(spec, warehouse))

    assert str(raised.value) == (
        f"asset 'numbers' (table {table}): its staging table holds 0 of the 5 rows written "
        "to it, and the engine reported no error: the likely cause is a full disk under the "
        f"warehouse ({warehouse.location()}); nothing was published, {table} is as it was"
    )
    assert published(warehouse, table) == [0, 1, 2]
    assert staging_tables(warehouse, db) == []


@pytest.mark.parametrize("backend", ["server"], indirect=True)
def test_on_the_server_backend_the_run_fails_too_and_publishes_nothing(backend, db):
    """The chdb stand-in drops the rows as chdb does; a real server refuses the INSERT.
    Either way the asset fails and the table keeps its rows."""
    table = f"{db}.numbers"
    warehouse = backend.warehouse
    first = python_asset(table, lambda ctx: numbers(0, 3))
    warehouse.materialize(first, context(first, warehouse))
    starve(warehouse, table)
    spec = python_asset(table, lambda ctx: numbers(10, 4))

    with pytest.raises(MaterializationError, match=f"^asset 'numbers' \\(table {table}\\): "):
        warehouse.materialize(spec, context(spec, warehouse))

    assert published(warehouse, table) == [0, 1, 2]
    assert staging_tables(warehouse, db) == []


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_merging_engine_holding_fewer_rows_than_written_loses_none(backend, db):
    """A ReplacingMergeTree merges rows with one key as they are inserted: fewer rows
    held than written is its job, not a loss."""
    table = f"{db}.sat_product"
    key = "00000000-0000-0000-0000-000000000001"
    loaded = datetime(2024, 1, 2, tzinfo=UTC)
    versions = pa.table(
        {
            "hub_product_hash_key": [key, key, key],
            "Description": ["first", "second", "third"],
            "hash_diff": [key, key, key],
            "EFFECTIVE_FROM": pa.array([loaded] * 3, pa.timestamp("s", "UTC")),
            "LOAD_DATETIME": pa.array([loaded] * 3, pa.timestamp("s", "UTC")),
            "RECORD_SOURCE": ["test"] * 3,
        }
    )
    spec = python_asset(table, lambda ctx: versions)

    result = backend.warehouse.materialize(spec, context(spec, backend.warehouse))

    assert result.rows == 1


def test_a_select_the_engine_cannot_store_says_the_warehouse_disk_is_full(backend, db):
    """An ``INSERT ... SELECT`` refused for space is no mistake of the asset's code: the
    line names the warehouse's disk (a server's, on the server), not the body's line and
    "its SELECT failed". Nothing is published, and staging is gone."""
    table = f"{db}.numbers"
    warehouse = backend.warehouse
    first = python_asset(table, lambda ctx: numbers(0, 3))
    warehouse.materialize(first, context(first, warehouse))
    starve(warehouse, table)
    select = "SELECT number + 10 AS n, 'n' AS label, CAST(NULL, 'Nullable(Float64)') AS score"
    spec = sql_asset(table, f"{select} FROM numbers(4)")

    with pytest.raises(WarehouseDiskFullError) as raised:
        warehouse.materialize(spec, context(spec, warehouse))

    where = disk_full_where(raised.value)
    if backend.kind == "embedded":
        assert where == str(backend.tmp_path / "warehouse")
    else:
        assert where.endswith(f" on the server {warehouse.authority}:{_port(backend)}"), where
    assert "SELECT" not in str(raised.value)
    assert published(warehouse, table) == [0, 1, 2]
    assert staging_tables(warehouse, db) == []


def _port(backend) -> int:
    from io_managers.config import load_config

    return load_config(backend.server_url).port


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_history_write_refused_for_space_never_says_to_drop_the_history(backend, db):
    """The review's first line: the engine's words, then "if it was changed by hand, drop
    it", which would throw away every asset's record for a disk that is only full."""
    history = backend.warehouse.history()
    record = _record("numbers")
    history.record(record)
    starve(backend.warehouse, "_pipeline.materializations")

    with pytest.raises(WarehouseDiskFullError) as raised:
        history.record(replace(record, status="materialized", rows=3))

    assert disk_full_where(raised.value) == str(backend.tmp_path / "warehouse")
    assert "drop" not in str(raised.value)
    assert history.latest({"numbers": "db.numbers"})["numbers"].last_attempt == record


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_history_table_changed_by_hand_still_says_how_to_start_it_again(backend, db):
    """Where the hint is right, it stays: a column renamed by hand."""
    history = backend.warehouse.history()
    history.record(_record("numbers"))
    backend.warehouse.command("ALTER TABLE _pipeline.materializations RENAME COLUMN status TO s")

    with pytest.raises(WarehouseQueryError, match=r"\(UNKNOWN_IDENTIFIER\).*drop it and it is"):
        history.latest({"numbers": "db.numbers"})


def _record(key: str) -> MaterializationRecord:
    return MaterializationRecord(
        materialization_id=str(uuid.uuid4()),
        asset_key=key,
        table=f"db.{key}",
        code_version="abc",
        started=datetime(2026, 1, 1, tzinfo=UTC),
    )


#: How ClickHouse words a system call that failed for want of space (``ErrnoException``).
_ENOSPC_WRITE = (
    "Code: 75. DB::ErrnoException: Cannot write to file /wh/store/abc/all_1_1_0/data.bin, "
    "errno: 28, strerror: No space left on device. (CANNOT_WRITE_TO_FILE_DESCRIPTOR) "
    "(version 25.8.1.1)"
)


@pytest.mark.parametrize(
    ("message", "full"),
    [
        ("Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. "
         "(NOT_ENOUGH_SPACE)", True),
        (_ENOSPC_WRITE, True),
        # The same call failing for another reason, and prose about space in another error.
        (_ENOSPC_WRITE.replace("errno: 28", "errno: 13"), False),
        ("Code: 62. DB::Exception: Syntax error: failed at 'not enough space'. (SYNTAX_ERROR)",
         False),
        ("Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)", False),
    ],
)  # fmt: skip
def test_the_engines_out_of_space_errors_are_known_by_their_codes(message, full):
    assert out_of_space(engine_error_code(message), message) is full


def test_a_csv_the_warehouse_has_no_room_for_fails_the_ingest_and_keeps_the_last_load(
    tmp_path,
):
    """The review's case: the engine's ``file()`` read is refused for space, the Python
    reader took over, and its rows were dropped without a word: ``raw_online_retails 0
    rows materialized``, exit 0. The engine's refusal is the run's cause now: the Python
    reader would meet the same full disk."""
    sample = Path(shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv"))
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(list(load_definitions("assets").ddl_paths))
        materialize_raw(warehouse, sample)
        starve(warehouse, "raw.online_retails")

        with pytest.raises(WarehouseDiskFullError) as raised:
            materialize_raw(warehouse, sample)

        assert disk_full_where(raised.value) == str(tmp_path / "warehouse")
        assert warehouse.row_count("raw.online_retails") == 99


# ------------------------------------------------------------------- a real full disk

#: Fills the warehouse's tmpfs part-way: four batches of 250,000 rows of random bytes
#: (~16 MB each, incompressible); the first ones fit, the last do not.
_FILL = """
import sys
import numpy as np
import pyarrow as pa
from io_managers import ClickHouseIOManager, MaterializationError
from tests.io_helpers import context, python_asset

ROWS = 250_000

def batch(number):
    random = np.random.default_rng(number).bytes(ROWS * 64)
    blobs = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(64), ROWS, [None, pa.py_buffer(random)]
    ).cast(pa.binary())
    first = number * ROWS
    return pa.table({"n": pa.array(range(first, first + ROWS), pa.uint64()), "blob": blobs})

with ClickHouseIOManager.embedded(sys.argv[1]) as warehouse:
    warehouse.setup([sys.argv[2]])
    spec = python_asset("full.blobs", lambda ctx: batch(0).slice(0, 7))
    warehouse.materialize(spec, context(spec, warehouse))
    spec = python_asset("full.blobs", lambda ctx: (batch(number) for number in range(4)))
    try:
        warehouse.materialize(spec, context(spec, warehouse))
        print("published")
    except MaterializationError as exc:
        print(exc)
    print("rows", warehouse.row_count("full.blobs"))
"""

_FILL_DDL = """CREATE DATABASE IF NOT EXISTS full;
CREATE TABLE IF NOT EXISTS full.blobs (n UInt64, blob String) ENGINE = MergeTree ORDER BY n;
"""


@pytest.mark.skipif(not can_mount_a_private_tmpfs(), reason="needs root to mount a tmpfs")
def test_a_tmpfs_that_fills_part_way_fails_the_asset_naming_both_counts(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "fill.py"
    script.write_text(textwrap.dedent(_FILL))
    ddl = tmp_path / "full.sql"
    ddl.write_text(_FILL_DDL)
    mount_and_fill = (
        f"mount -t tmpfs -o size=40m tmpfs {disk} && "
        f"{sys.executable} {script} {disk / 'warehouse'} {ddl}"
    )

    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount_and_fill],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    failure, rows = done.stdout.splitlines()[-2:]
    assert failure.startswith("asset 'blobs' (table full.blobs): its staging table holds "), (
        done.stdout
    )
    held = int(failure.split(" holds ", 1)[1].split(" of ", 1)[0].replace(",", ""))
    assert 0 < held < 1_000_000, failure
    assert " of the 1,000,000 rows written to it" in failure
    assert rows == "rows 7"
