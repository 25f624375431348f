"""One ``pipeline materialize`` at a time on a ClickHouse server: the run lock.

Two runs writing one server's vault at once corrupted it (insert-only hubs and links
kept lines whose satellite rows the other run's sweep had dropped). Every run that writes
now holds ``_pipeline.run_lock`` in the warehouse itself. Real ``pipeline`` processes on
a chdb HTTP stand-in of this module's own: a second run refused in one line while one
runs, the lock let go of on success, failure and Ctrl-C, a lock whose process ended on
this machine taken over, one held elsewhere broken only when asked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from io_managers import ClickHouseIOManager
from io_managers.config import parse_warehouse_url
from io_managers.run_lock import RunLockHolder
from tests.chdb_http_server import TEST_PASSWORD, running_stand_in, stand_in_url
from tests.safety_location import SLOW_MARKER_ENV

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A stand-in of this module's own: its runs share no ``safe`` database with others."""
    with running_stand_in(tmp_path_factory.mktemp("run-lock-server")) as port:
        yield stand_in_url(port)


@pytest.fixture
def prefect_api(prefect_server: None) -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.fixture
def warehouse(server_url: str) -> Iterator[ClickHouseIOManager]:
    """The server, its lock released and its ``safe`` database gone when the test ends."""
    io = ClickHouseIOManager.from_config(parse_warehouse_url(server_url))
    try:
        yield io
    finally:
        io.command("DROP TABLE IF EXISTS _pipeline.run_lock")
        io.command("DROP DATABASE IF EXISTS safe")
        io.close()


def _env(server_url: str, prefect_api: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "WAREHOUSE_URL": server_url, "PREFECT_API_URL": prefect_api, **extra}


def _command(source: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "orchestration", "materialize",
            "--definitions", "tests.safety_location", "--source", str(source), *extra]  # fmt: skip


def _source(tmp_path: Path, text: str = "n,q\n1,10\n2,20\n") -> Path:
    source = tmp_path / "n.csv"
    source.write_text(text)
    return source


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _locked(io: ClickHouseIOManager) -> bool:
    tables = io.query_arrow(
        "SELECT name FROM system.tables WHERE database = '_pipeline' AND name = 'run_lock'"
    )
    return tables.num_rows == 1


def _ended_pid() -> int:
    """The pid of a process of this machine that has ended (not reused this soon)."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_a_second_run_is_refused_in_one_line_while_one_runs_and_ctrl_c_lets_go_of_the_lock(
    tmp_path: Path, server_url: str, prefect_api: str, warehouse: ClickHouseIOManager
) -> None:
    source, marker = _source(tmp_path), tmp_path / "busy"
    env = _env(server_url, prefect_api)
    first = subprocess.Popen(
        _command(source), cwd=REPO, env={**env, SLOW_MARKER_ENV: str(marker)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), first.communicate(timeout=5)
        second = _run(_command(source), env)
        holder = warehouse.run_lock.holder()
        # What the lock says of its holder: never an argument or a URL (a password).
        (definition,) = (
            warehouse.query_arrow(
                "SELECT create_table_query FROM system.tables "
                "WHERE database = '_pipeline' AND name = 'run_lock'"
            )
            .column(0)
            .to_pylist()
        )
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()

    assert holder is not None
    assert (holder.pid, holder.host) == (first.pid, socket.gethostname())
    assert second.returncode == 1, second.stderr
    assert second.stderr.splitlines() == [
        f"error: warehouse {parse_warehouse_url(server_url).shown_url} is being "
        f"materialized by another run ({holder.describe()}): one run writes a warehouse at "
        "a time; wait for that one to finish, or, if it is gone and was not on this "
        "machine, run pipeline materialize --break-lock"
    ], second.stderr
    assert second.stdout == ""
    for secret in (TEST_PASSWORD, "p%40ss", str(source)):
        assert secret not in definition
    assert first.returncode == 130
    assert not _locked(warehouse)  # let go of by the interrupt


def test_a_run_that_fails_or_succeeds_lets_go_of_the_lock(
    tmp_path: Path, server_url: str, prefect_api: str, warehouse: ClickHouseIOManager
) -> None:
    env = _env(server_url, prefect_api)
    failed = _run(_command(_source(tmp_path, "n,q\n1,ten\n")), env)
    assert failed.returncode == 1, failed.stderr
    assert not _locked(warehouse)
    succeeded = _run(_command(_source(tmp_path)), env)
    assert succeeded.returncode == 0, succeeded.stderr
    assert not _locked(warehouse)


def test_a_lock_whose_process_ended_on_this_machine_is_taken_over_with_a_warning(
    tmp_path: Path, server_url: str, prefect_api: str, warehouse: ClickHouseIOManager
) -> None:
    ended = replace(RunLockHolder.this_process(flow_run_id="0c0c0c0c"), pid=_ended_pid())
    warehouse.run_lock.acquire(ended)

    result = _run(_command(_source(tmp_path)), _env(server_url, prefect_api))

    assert result.returncode == 0, result.stderr
    assert (
        f"warning: taking over the run lock of pid {ended.pid} on {ended.host}, which has "
        "ended (killed, or its machine restarted)"
    ) in result.stderr, result.stderr
    assert warehouse.row_count("safe.ingest") == 2
    assert not _locked(warehouse)


def test_a_lock_held_on_another_machine_refuses_before_any_table_until_broken(
    tmp_path: Path, server_url: str, prefect_api: str, warehouse: ClickHouseIOManager
) -> None:
    elsewhere = replace(
        RunLockHolder.this_process(flow_run_id=None), host="etl-2", process_space="another"
    )
    warehouse.run_lock.acquire(elsewhere)
    env = _env(server_url, prefect_api)

    refused = _run(_command(_source(tmp_path)), env)

    assert refused.returncode == 1, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert f"(pid {elsewhere.pid} on etl-2, " in line
    assert line.endswith("run pipeline materialize --break-lock"), line
    databases = warehouse.query_arrow("SELECT name FROM system.databases WHERE name = 'safe'")
    assert databases.num_rows == 0  # no DDL applied, no table touched
    assert warehouse.run_lock.holder() == elsewhere

    broken = _run(_command(_source(tmp_path), "--break-lock"), env)

    assert broken.returncode == 0, broken.stderr
    assert f"warning: breaking the run lock of pid {elsewhere.pid} on etl-2" in broken.stderr
    assert not _locked(warehouse)


def test_two_io_managers_of_one_run_on_one_server_share_its_lock(
    server_url: str, warehouse: ClickHouseIOManager
) -> None:
    """A code location whose two IO managers write one server: the second is this run,
    not another; only the one that took the lock lets go of it."""
    second = ClickHouseIOManager.from_config(parse_warehouse_url(server_url))
    me = RunLockHolder.this_process(flow_run_id=None)
    try:
        warehouse.run_lock.acquire(me)
        second.run_lock.acquire(me)  # not refused as "another run"
        second.run_lock.release()
        assert _locked(warehouse)
        warehouse.run_lock.release()
        assert not _locked(warehouse)
    finally:
        second.close()


def test_a_run_whose_lock_was_broken_leaves_the_breakers_lock_when_it_ends(
    warehouse: ClickHouseIOManager, server_url: str
) -> None:
    breaker = ClickHouseIOManager.from_config(parse_warehouse_url(server_url))
    other = replace(RunLockHolder.this_process(flow_run_id=None), host="etl-2")
    try:
        warehouse.run_lock.acquire(RunLockHolder.this_process(flow_run_id=None))
        breaker.run_lock.acquire(other, break_held=True, warn=lambda line: None)
        warehouse.run_lock.release()
        assert warehouse.run_lock.holder() == other
    finally:
        breaker.close()
