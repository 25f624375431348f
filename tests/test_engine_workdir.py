"""No ``clickhouse-embedded-<uuid>`` directory is left in the temp directory by a command.

``import chdb`` starts an in-memory engine to read its version and closes it again; that
engine works in ``$TMPDIR/clickhouse-embedded-<uuid>/``, which the close removes. A process
that ended in between (~40 ms) left the empty directory behind for good: a command stopped
by SIGTERM as it opened the warehouse, or a warm starter's spare (which imports chdb as the
starter starts serving and after every command) stopped by ``pipeline server stop``. These
tests send the signal exactly then: when the directory appears in a TMPDIR of their own
(chdb takes the parent from ``TMPDIR``, as ``std::filesystem::temp_directory_path`` does).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from orchestration import warm_start
from orchestration.uninterruptible import uninterruptible
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
ENGINE_DIRS = "clickhouse-embedded-*"


def _engine_dirs(tmpdir: Path) -> list[Path]:
    return sorted(tmpdir.glob(ENGINE_DIRS))


def _engine_starting(tmpdir: Path, alive: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether an engine's working directory appeared in ``tmpdir`` while ``alive`` ran:
    polled every millisecond, since it exists for ~40 ms."""
    deadline = time.monotonic() + timeout
    while alive.poll() is None and time.monotonic() < deadline:
        if _engine_dirs(tmpdir):
            return True
        time.sleep(0.001)
    return False


def _cold_env(tmpdir: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmpdir), warm_start.MODE_ENV: "off"}


def _empty_warehouse(tmp_path: Path) -> Path:
    """A directory a reading command opens (it refuses one without ``metadata``)."""
    warehouse = tmp_path / "wh"
    (warehouse / "metadata").mkdir(parents=True)
    return warehouse


def test_a_command_stopped_while_the_engine_starts_leaves_no_working_directory(
    tmp_path: Path,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    warehouse = _empty_warehouse(tmp_path)
    command = [sys.executable, "-m", "orchestration", "query", "SELECT 1",
               "--warehouse", f"chdb://{warehouse}"]  # fmt: skip
    run = subprocess.Popen(command, cwd=REPO, env=_cold_env(tmpdir),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        starting = _engine_starting(tmpdir, run, timeout=120)
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert starting, f"the command ended before its engine started: {stderr.decode()}"
    # Stopped, not finished: 143, as a query stopped by SIGTERM ends (README: Exit codes).
    assert run.returncode == 143, stderr.decode()
    assert _engine_dirs(tmpdir) == []


def test_a_starter_stopped_while_its_spare_starts_the_engine_leaves_no_working_directory(
    tmp_path: Path,
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    directory = tempfile.mkdtemp(prefix="pw-")  # short: a socket path has ~100 bytes
    env = {**_cold_env(tmpdir), warm_start.MODE_ENV: "on", warm_start.DIR_ENV: directory}
    env.pop("CI", None)
    starter = warm_start.spawn_starter(env)
    try:
        # The spare is forked, and imports chdb, as soon as the starter serves.
        assert _engine_starting(tmpdir, starter, timeout=120), "no spare started its engine"
        assert warm_start.stop_all(env) == 1
        starter.wait(timeout=30)
        wait_for(
            lambda: not _engine_dirs(tmpdir), 10, "the stopped spare's engine directory removed"
        )
    finally:
        warm_start.stop_all(env)
        if starter.poll() is None:
            starter.kill()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(("query", "SELECT no_such_column"), 1, id="query-engine-error"),
        pytest.param(("query", "DROP DATABASE system"), 1, id="query-refused"),
        # A selection naming no asset is a usage error (README: Exit codes).
        pytest.param(("materialize", "--select", "no_such_asset"), 2, id="bad-selection"),
    ],
)
def test_a_command_failing_early_leaves_no_working_directory(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    warehouse = _empty_warehouse(tmp_path)
    command = [sys.executable, "-m", "orchestration", *args, "--warehouse", f"chdb://{warehouse}"]
    run = subprocess.run(command, cwd=REPO, env=_cold_env(tmpdir), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == code, run.stderr
    assert run.stderr.startswith("error: "), run.stderr
    assert _engine_dirs(tmpdir) == []


def test_a_stop_signal_during_an_uninterruptible_section_is_handled_as_it_ends() -> None:
    handled: list[int] = []

    def handler(number: int, _frame: object) -> None:
        handled.append(number)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with uninterruptible():
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
            assert handled == []
        assert handled == [signal.SIGTERM]  # once, and after the section
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)
