"""The engine reads local files with ``pread``, never ``mmap``: a file cut short while it
is read is an error, not a dead process.

chdb (as ``clickhouse-local``) maps a ``file()`` source into memory
(``storage_file_read_method = 'mmap'``). A source rewritten or truncated during the read
leaves pages past its new end, and touching them raises SIGBUS: ``pipeline materialize``
died with exit 135, printing nothing, its staging table left behind and its Prefect run
Running for good. Read with ``pread``, the read meets the file's end instead, and the
engine says where it stopped.

Whether a read mapped its file is the engine's own count: ``system.events``'
``CreatedReadBufferMMap`` grows by one for each file it maps.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from orchestration.definitions import load_definitions
from tests.retail_support import materialize_raw

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Iterator[ClickHouseIOManager]:
    """One embedded warehouse with the retail DDL (chdb opens one directory per process)."""
    opened = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("reads") / "warehouse")
    opened.setup(list(load_definitions("assets").ddl_paths))
    yield opened
    opened.close()


def buffers_created(warehouse: ClickHouseIOManager) -> dict[str, int]:
    """How many file read buffers of each kind the engine has created so far."""
    rows = warehouse.query_arrow(
        "SELECT event, value FROM system.events "
        "WHERE event IN ('CreatedReadBufferMMap', 'CreatedReadBufferOrdinary')"
    ).to_pylist()
    counts = {"CreatedReadBufferMMap": 0, "CreatedReadBufferOrdinary": 0}
    counts.update({row["event"]: int(row["value"]) for row in rows})
    return counts


def test_the_ingest_reads_its_csv_without_mapping_it(warehouse, tmp_path, caplog):
    sample = Path(shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv"))
    before = buffers_created(warehouse)

    with caplog.at_level(logging.INFO, logger="pipeline.asset"):
        materialize_raw(warehouse, sample)

    after = buffers_created(warehouse)
    assert "computing it in Python" not in caplog.text  # the engine read it
    assert after["CreatedReadBufferMMap"] == before["CreatedReadBufferMMap"]
    assert after["CreatedReadBufferOrdinary"] > before["CreatedReadBufferOrdinary"]
    assert warehouse.row_count("raw.online_retails") == 99


def test_a_query_reading_a_file_does_not_map_it_either(warehouse, tmp_path):
    sample = Path(shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv"))
    before = buffers_created(warehouse)

    read = warehouse.read_only_query(
        f"SELECT count() AS n FROM file('{sample}', 'LineAsString')", allow_external=True
    )

    assert read.column("n").to_pylist() == [100]  # the header and 99 rows
    after = buffers_created(warehouse)
    assert after["CreatedReadBufferMMap"] == before["CreatedReadBufferMMap"]
    assert after["CreatedReadBufferOrdinary"] > before["CreatedReadBufferOrdinary"]


# ------------------------------------------------------- a file cut short mid-read

#: Loads the source into a new warehouse, then prints one line: the rows, or the error;
#: the run's log goes to stderr.
_INGEST = """
import logging
import sys
from datetime import UTC, datetime
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions

logging.basicConfig(level=logging.INFO)
definitions = load_definitions("assets")
with ClickHouseIOManager.embedded(sys.argv[1]) as warehouse:
    warehouse.setup(list(definitions.ddl_paths))
    spec = definitions.graph()["raw_online_retails"]
    load = datetime.now(UTC).replace(microsecond=0)
    context = AssetContext(
        spec=spec, io_manager=warehouse, load_datetime=load, params={"source": sys.argv[2]}
    )
    print("ready", flush=True)
    try:
        print("rows", warehouse.materialize(spec, context).rows)
    except Exception as exc:
        print("failed", type(exc).__name__, str(exc).splitlines()[0])
"""

ROWS = 600_000


def write_big_csv(path: Path) -> int:
    """A plain CSV of :data:`ROWS` rows (~50 MB, a second or two of the engine's read);
    returns the offset just inside the quoted Description of a row near its middle: cut
    there, the file ends in a quote that never closes."""
    row = '"{n}","85048","15CM CHRISTMAS GLASS BALL 20 LIGHTS",12,"2010-12-01 08:26:00",6.95,13085,"United Kingdom"\n'  # noqa: E501
    with path.open("w") as handle:
        handle.write(HEADER)
        for n in range(ROWS):
            if n == ROWS // 2:
                cut = handle.tell() + len(f'"{n}","85048","')
            handle.write(row.format(n=489434 + n))
    return cut


def wait_for_the_engines_read(process: subprocess.Popen[str], path: Path) -> None:
    """Until ``process`` has held ``path`` open for 30 ms: the Python reader's checks
    before the engine's read open it for a moment each, the read for a second or so."""
    deadline = time.monotonic() + 60
    held_since = None
    while process.poll() is None:
        now = time.monotonic()
        assert now < deadline, "the ingest never read its source"
        if not _opened_by(process.pid, path):
            held_since = None
        elif held_since is None:
            held_since = now
        elif now - held_since >= 0.03:
            return
        time.sleep(0.002)


def _opened_by(pid: int, path: Path) -> bool:
    try:
        return any(
            os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")
        )
    except OSError:  # the descriptor closed between the listing and the link
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd")
def test_a_source_cut_short_while_the_engine_reads_it_fails_in_one_line(tmp_path):
    source = tmp_path / "live.csv"
    cut = write_big_csv(source)
    script = tmp_path / "ingest.py"
    script.write_text(textwrap.dedent(_INGEST))
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "warehouse"), str(source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    wait_for_the_engines_read(process, source)
    os.truncate(source, cut)

    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the ingest hung once its source was cut short: {out}{err}")

    assert process.returncode == 0, f"exit {process.returncode}: {out}{err}"
    # The engine met the new end and said so; the Python reader then names the cut row.
    assert "the engine did not compute raw_online_retails itself (Cannot parse input: " in err, err
    assert out == (
        f"failed SourceError {source}, row {ROWS // 2 + 1}: malformed CSV: 3 fields where "
        'the header has 8; a quote (") opened in this row is never closed: '
        f'\'"{489434 + ROWS // 2}","85048","\'\n'
    ), out
