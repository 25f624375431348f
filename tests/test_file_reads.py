"""The engine reads local files with ``pread``, never ``mmap``: a file cut short while it
is read is an error, not a dead process; and a file that changes in any way while it is
read fails the ingest, publishing nothing.

chdb (as ``clickhouse-local``) maps a ``file()`` source into memory
(``storage_file_read_method = 'mmap'``). A source rewritten or truncated during the read
leaves pages past its new end, and touching them raises SIGBUS: ``pipeline materialize``
died with exit 135, printing nothing, its staging table left behind and its Prefect run
Running for good. Read with ``pread``, the read meets the file's end instead, and the
engine says where it stopped.

A file appended to, rewritten in place or replaced while it is read still parses: the run
published rows from two versions of it (or one it no longer was) and exited 0, and the
insert-only vault keeps them for good. The ingest now takes the file's identity (device,
inode, size, modification time) before it opens it and again once its rows are staged,
and fails when they differ. Each test changes a real file from this process while the
ingest's own process is reading it.

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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assets.sources import SourceError, read_source
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

    read = warehouse.read_only_text(
        f"SELECT count() AS n FROM file('{sample}', 'LineAsString')", allow_external=True
    )

    assert read.rows == (("100",),)  # the header and 99 rows
    after = buffers_created(warehouse)
    assert after["CreatedReadBufferMMap"] == before["CreatedReadBufferMMap"]
    assert after["CreatedReadBufferOrdinary"] > before["CreatedReadBufferOrdinary"]


# ------------------------------------------------------------- a file changed mid-read

#: Loads ``first`` (if given) into a new warehouse, then the source, and prints two lines:
#: the rows, or the error; then the rows ``raw.online_retails`` holds. The run's log goes
#: to stderr.
_INGEST = """
import logging
import sys
from datetime import UTC, datetime
from assets.sources import SourceError, read_source
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions

logging.basicConfig(level=logging.INFO)
definitions = load_definitions("assets")
spec = definitions.graph()["raw_online_retails"]


def materialize(warehouse, source):
    load = datetime.now(UTC).replace(microsecond=0)
    context = AssetContext(
        spec=spec, io_manager=warehouse, load_datetime=load, params={"source": source}
    )
    return warehouse.materialize(spec, context)


with ClickHouseIOManager.embedded(sys.argv[1]) as warehouse:
    warehouse.setup(list(definitions.ddl_paths))
    for first in sys.argv[3:]:
        materialize(warehouse, first)
    print("ready", flush=True)
    try:
        print("rows", materialize(warehouse, sys.argv[2]).rows)
    except Exception as exc:
        print("failed", type(exc).__name__, str(exc).splitlines()[0])
    print("held", warehouse.row_count("raw.online_retails"))
"""

ROWS = 600_000
FIRST_INVOICE = 489434
#: One row of the big files, in the comma and in the semicolon layout (decimal comma).
ROW = '"{n}","85048","15CM CHRISTMAS GLASS BALL 20 LIGHTS",{q},"2010-12-01 08:26:00",6.95,13085,"United Kingdom"\n'  # noqa: E501
SEMICOLON_ROW = "{n};85048;15CM CHRISTMAS GLASS BALL 20 LIGHTS;{q};2010-12-01 08:26:00;6,95;13085;United Kingdom\n"  # noqa: E501


def write_big_csv(path: Path, quantity: int = 12, *, row: str = ROW) -> int:
    """A CSV of :data:`ROWS` rows (~50 MB, a second or two of a read), each of
    ``quantity``, in the layout of ``row``; returns the offset just inside the quoted
    Description of a row near its middle: cut there, the file ends in a quote that never
    closes."""
    header = HEADER if row == ROW else HEADER.replace(",", ";")
    with path.open("w") as handle:
        handle.write(header)
        for n in range(ROWS):
            if n == ROWS // 2:
                cut = handle.tell() + len(f'"{n}","85048","')
            handle.write(row.format(n=FIRST_INVOICE + n, q=quantity))
    return cut


def wait_for_the_read(process: subprocess.Popen[str], path: Path) -> None:
    """Until ``process`` has held ``path`` open for 30 ms: the Python reader's checks
    before the read open it for a moment each, the read (the engine's, or Arrow's) for a
    second or so."""
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


def ingest_while(tmp_path: Path, source: Path, change: Callable[[], None]) -> tuple[list[str], str]:
    """Load the real sample, then ``source`` in another process, calling ``change`` once
    that process reads ``source``; its two lines (see :data:`_INGEST`) and its log."""
    script = tmp_path / "ingest.py"
    script.write_text(textwrap.dedent(_INGEST))
    sample = shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv")
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "warehouse"), str(source), sample],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    wait_for_the_read(process, source)
    change()
    try:
        out, err = process.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the ingest hung once its source changed: {out}{err}")
    assert process.returncode == 0, f"exit {process.returncode}: {out}{err}"
    return out.splitlines(), err


def changed_while_read(source: Path, what: str) -> str:
    """The ingest's one line for ``source`` changed under its read (``what`` happened)."""
    return (
        f"failed SourceError {source}: the file changed while it was read ({what}), so its "
        "rows could mix two versions of it; nothing was published: run again once the file "
        "is complete"
    )


#: ``raw.online_retails`` as the sample left it: the failed load published nothing.
SAMPLE_KEPT = "held 99"


def _touch(path: Path) -> None:
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1))


def _replace(path: Path) -> None:
    os.replace(shutil.copy(path, path.with_name("copy.csv")), path)


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (Path.unlink, "it was removed"),
        (_touch, "its modification time changed"),
        (_replace, "another file was put in its place"),
    ],
    ids=["removed", "touched", "replaced"],
)
def test_a_source_changed_between_two_chunks_of_the_python_read_fails_it(tmp_path, change, what):
    """The reader's own caller makes the moment: after its first chunk. Any reader of the
    source, not only the ingest asset, is held to the version its read began with."""
    source = Path(shutil.copy(REAL_SAMPLE, tmp_path / "sample.csv"))
    chunks = read_source(str(source), chunk_rows=10)
    next(chunks)
    change(source)

    with pytest.raises(SourceError) as raised:
        list(chunks)

    assert f"failed SourceError {raised.value}" == changed_while_read(source, what)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd")
def test_a_source_cut_short_while_the_engine_reads_it_fails_in_one_line(tmp_path):
    source = tmp_path / "live.csv"
    cut = write_big_csv(source)
    size = source.stat().st_size

    lines, err = ingest_while(tmp_path, source, lambda: os.truncate(source, cut))

    # The engine met the new end and said so, and lived on (no SIGBUS); the Arrow reader
    # then met a cut row, which was the change's doing, not the file's.
    assert "the engine did not compute raw_online_retails itself (Cannot parse input: " in err, err
    assert lines == [
        changed_while_read(source, f"it shrank from {size:,} to {cut:,} bytes"),
        SAMPLE_KEPT,
    ], err


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd")
def test_rows_appended_while_the_engine_reads_the_source_fail_the_ingest(tmp_path):
    """Whole rows appended mid-read parse: the engine read on into them (or stopped short
    of them) and the run published the file as it was at no moment, exit 0."""
    source = tmp_path / "live.csv"
    write_big_csv(source)
    size = source.stat().st_size
    more = "".join(ROW.format(n=FIRST_INVOICE + ROWS + n, q=12) for n in range(10_000))

    def append() -> None:
        with source.open("a") as handle:
            handle.write(more)

    lines, err = ingest_while(tmp_path, source, append)

    assert "computing it in Python" not in err  # the engine read it
    grown = size + len(more)
    assert lines == [
        changed_while_read(source, f"it grew from {size:,} to {grown:,} bytes"),
        SAMPLE_KEPT,
    ], err


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd")
def test_a_source_rewritten_in_place_while_arrow_reads_it_fails_the_ingest(tmp_path):
    """The Arrow reader's path (a ``;`` file): the file rewritten in place with another
    version of the same size read the first rows from one version and the rest from the
    other, exit 0; only its modification time tells."""
    source = tmp_path / "live.csv"
    write_big_csv(source, row=SEMICOLON_ROW)
    other = tmp_path / "other.csv"
    write_big_csv(other, 24, row=SEMICOLON_ROW)
    assert other.stat().st_size == source.stat().st_size

    def rewrite() -> None:
        with source.open("r+b") as handle:
            handle.write(other.read_bytes())

    lines, err = ingest_while(tmp_path, source, rewrite)

    assert "the engine did not compute" not in err  # Arrow read it: the engine was not asked
    assert lines == [changed_while_read(source, "its modification time changed"), SAMPLE_KEPT], err


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="watches /proc/PID/fd")
def test_a_source_replaced_while_the_engine_reads_it_fails_the_ingest(tmp_path):
    """Another file moved into its place (``rsync``, ``mv``): same size, same modification
    time (``cp -p``), so only the inode tells. The ingest opens the path more than once
    (the header, the last line, then the engine's read), and each open may meet either."""
    source = tmp_path / "live.csv"
    write_big_csv(source)
    other = tmp_path / "other.csv"
    write_big_csv(other, 24)
    before = source.stat()
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))

    lines, err = ingest_while(tmp_path, source, lambda: os.replace(other, source))

    assert "computing it in Python" not in err  # the engine read it
    assert lines == [
        changed_while_read(source, "another file was put in its place"),
        SAMPLE_KEPT,
    ], err
