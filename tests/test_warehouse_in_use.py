"""A warehouse another process has open is refused in one line naming that process.

chdb opens a warehouse directory in one process at a time. A second command on it (a
``pipeline status`` while a run is going, two runs at once) used to print the engine's
C++ error on stderr, then "Error initializing EmbeddedServer" with a guess at the cause
and an offer of the traceback. These tests hold a warehouse open in a real second process
(the real engine) and run the commands as a user does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from io_managers.errors import WarehouseError, WarehouseInUseError
from io_managers.transport import EmbeddedTransport
from orchestration.errors import ExpectedError
from tests.test_missing_warehouse import REPO, pipeline
from tests.unprivileged import read_only_tree, unprivileged

#: Opens (creates) the warehouse given as argv[1], says so, and keeps it open until
#: stdin closes.
_HOLDER = """
import sys
from chdb.session import Session
session = Session(sys.argv[1])
session.query("CREATE TABLE held (n UInt8) ENGINE = MergeTree ORDER BY n")
print("open", flush=True)
sys.stdin.read()
session.close()
"""


@pytest.fixture
def held_warehouse(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """(warehouse directory, pid of the process that has it open)."""
    path = tmp_path / "warehouse"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        yield path, holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)


def test_opening_a_warehouse_another_process_holds_names_that_process(held_warehouse):
    path, pid = held_warehouse
    with pytest.raises(WarehouseInUseError) as raised:
        EmbeddedTransport(path)
    message = str(raised.value)
    assert message.startswith(f"embedded warehouse {path} is in use by another process (pid {pid},")
    assert "one process at a time" in message and "\n" not in message
    assert isinstance(raised.value, ExpectedError)  # no traceback offered: nothing is broken


def test_the_warehouse_opens_once_the_other_process_has_let_it_go(held_warehouse, tmp_path):
    path, pid = held_warehouse
    with pytest.raises(WarehouseInUseError):
        EmbeddedTransport(path)
    os.kill(pid, 9)  # even a process that died without closing releases its lock
    os.waitpid(pid, 0)
    transport = EmbeddedTransport(path)
    try:
        assert transport.query_arrow("SELECT 1 AS one").column("one").to_pylist() == [1]
    finally:
        transport.close()


def test_this_process_reopens_a_warehouse_it_closed(tmp_path: Path):
    path = tmp_path / "warehouse"
    for _ in range(2):  # chdb may keep its own lock on the directory: that is not "in use"
        transport = EmbeddedTransport(path)
        transport.close()


@pytest.mark.parametrize(
    "command",
    [["status"], ["query", "SELECT 1"], ["materialize"], ["lineage", "--format", "json"]],
)
def test_a_command_on_a_warehouse_in_use_says_so_in_one_line(held_warehouse, command):
    path, pid = held_warehouse
    result = pipeline(*command, warehouse=f"chdb://{path}")
    assert result.returncode == 1, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no engine line on stderr, no --debug offer
    assert lines[0].startswith(
        f"error: embedded warehouse {path} is in use by another process (pid {pid},"
    )
    assert result.stdout == ""


#: Opens the warehouse argv[1] as a command does, having first found it free: the other
#: process (the test's holder) opened it just after that look, as in two runs started at
#: once. Prints the error the open ends with.
_LATE_OPEN = """
import sys
from pathlib import Path
from io_managers import transport
looked = []
def first_look_finds_nobody(path, real=transport.warehouse_holder):
    looked.append(path)
    return None if len(looked) == 1 else real(path)
transport.warehouse_holder = first_look_finds_nobody
try:
    transport.EmbeddedTransport(Path(sys.argv[1]))
except transport.WarehouseError as error:
    print(type(error).__name__, error)
"""


def test_a_warehouse_taken_between_the_look_and_the_open_is_one_line(held_warehouse):
    """Two runs started together: the one that lost found nobody holding the warehouse,
    then failed on the engine's lock, and printed the engine's own line (`Code: 76.
    DB::Exception: Cannot lock file .../status. Another server instance ...`) before its
    `in use by another process` one; in 1 of 4 tries. The engine's words go with the
    error it became, never to stderr as well."""
    path, pid = held_warehouse
    opened = subprocess.run(
        [sys.executable, "-c", _LATE_OPEN, str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert opened.stdout.startswith(
        f"WarehouseInUseError embedded warehouse {path} is in use by another process (pid {pid},"
    ), opened.stdout + opened.stderr
    assert opened.stderr == ""


# ------------------------------------------------------------------ a warehouse that cannot load


@pytest.fixture
def corrupt_warehouse(tmp_path: Path) -> Path:
    """A warehouse whose database ``raw`` has unreadable metadata (a crash, a hand edit)."""
    path = tmp_path / "warehouse"
    (path / "metadata").mkdir(parents=True)
    (path / "metadata" / "raw.sql").write_text("garbage\n")
    return path


def test_a_warehouse_the_engine_cannot_load_says_why_in_the_error(corrupt_warehouse: Path):
    with pytest.raises(WarehouseError) as raised:
        EmbeddedTransport(corrupt_warehouse)
    message = str(raised.value)
    assert message.startswith(f"cannot open embedded warehouse {corrupt_warehouse}: ")
    assert "Syntax error (in file metadata/raw.sql)" in message
    assert "while loading database `raw`" in message and "\n" not in message


@pytest.mark.parametrize(
    "command", [["status"], ["lineage", "--column", "marts.Fact_Sales.sale_id"]]
)
def test_a_command_on_a_warehouse_that_cannot_load_is_one_line(corrupt_warehouse: Path, command):
    result = pipeline(*command, warehouse=f"chdb://{corrupt_warehouse}")
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()  # not the engine's own lines, then ours
    assert line.startswith(f"error: cannot open embedded warehouse {corrupt_warehouse}: ")
    assert "while loading database `raw` from file metadata/raw.sql" in line


def unprivileged_pipeline(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` as a user the files' modes hold for (:mod:`tests.unprivileged`)."""
    return subprocess.run(
        unprivileged([sys.executable, "-m", "orchestration", *args]),
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("command", [["status"], ["query", "SELECT 1"]])
def test_a_warehouse_in_a_directory_the_user_may_not_write_is_one_line(tmp_path: Path, command):
    """chdb creates and locks a status file in the warehouse directory, to read it too: in
    a read-only copy it printed the engine's `Code: 76. DB::ErrnoException: Cannot open
    file .../status: , errno: 13, ...` line, then `cannot open embedded warehouse ...:
    Failed to create connection: ... Error initializing EmbeddedServer: .`, which says
    nothing. Now one line naming the directory, the engine's reason and what to change."""
    path = tmp_path / "warehouse"
    built = EmbeddedTransport(path)
    built.command("CREATE TABLE kept (n UInt8) ENGINE = MergeTree ORDER BY n")
    built.close()
    with read_only_tree(path):
        result = unprivileged_pipeline(*command, "--warehouse", f"chdb://{path}")
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == (
        f"error: cannot open embedded warehouse {path}: Cannot open file {path}/status: "
        "Permission denied (CANNOT_OPEN_FILE); this user may not write to the warehouse "
        "directory, and chdb creates and locks a status file there even to read it\n"
    )


def test_a_warehouse_in_a_directory_the_user_may_not_create_it_in_is_one_line(
    tmp_path: Path, prefect_api_url: str
):
    """`materialize` creates the warehouse: in a directory this user may not write to it
    said `[Errno 13] Permission denied: '...'` and offered a traceback."""
    parent = tmp_path / "shared"
    parent.mkdir()
    path = parent / "warehouse"
    with read_only_tree(parent):
        result = unprivileged_pipeline(
            "materialize",
            "--warehouse",
            f"chdb://{path}",
            "--source",
            "synthetic:100",
            env={"PREFECT_API_URL": prefect_api_url},
        )
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == f"error: cannot create embedded warehouse {path}: Permission denied\n"
    assert not path.exists()
