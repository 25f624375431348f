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
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from io_managers import ClickHouseIOManager, MaterializationError
from orchestration.definitions import load_definitions
from tests.io_helpers import context, python_asset, sql_asset, staging_tables
from tests.retail_support import materialize_raw

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


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_a_select_the_engine_cannot_store_fails_in_the_engines_words(backend, db):
    """An ``INSERT ... SELECT`` is refused aloud; the run says so and publishes nothing."""
    table = f"{db}.numbers"
    warehouse = backend.warehouse
    first = python_asset(table, lambda ctx: numbers(0, 3))
    warehouse.materialize(first, context(first, warehouse))
    starve(warehouse, table)
    select = "SELECT number + 10 AS n, 'n' AS label, CAST(NULL, 'Nullable(Float64)') AS score"
    spec = sql_asset(table, f"{select} FROM numbers(4)")

    with pytest.raises(MaterializationError, match=r"\(NOT_ENOUGH_SPACE\)"):
        warehouse.materialize(spec, context(spec, warehouse))

    assert published(warehouse, table) == [0, 1, 2]


def test_a_csv_the_warehouse_has_no_room_for_fails_the_ingest_and_keeps_the_last_load(
    tmp_path,
):
    """The review's case: the engine's ``file()`` read is refused for space, the Python
    reader takes over, and its rows were dropped without a word: ``raw_online_retails 0
    rows materialized``, exit 0."""
    sample = Path(shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv"))
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(list(load_definitions("assets").ddl_paths))
        materialize_raw(warehouse, sample)
        starve(warehouse, "raw.online_retails")

        with pytest.raises(MaterializationError) as raised:
            materialize_raw(warehouse, sample)

        assert str(raised.value).startswith(
            "asset 'raw_online_retails' (table raw.online_retails): its staging table holds 0 "
            "of the 99 rows written to it, and the engine reported no error: the likely cause "
            "is a full disk under the warehouse"
        ), raised.value
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


def _can_mount_a_private_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_a_private_tmpfs(), reason="needs root to mount a tmpfs")
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
