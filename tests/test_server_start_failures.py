"""A Prefect server this project starts that does not come up: the caller is told why,
and nothing of it is left running.

Both starters (:func:`orchestration.prefect_server.running_prefect_server` for tests and
the benchmark, :func:`orchestration.local_server.ensure` for a user's commands) wait for
the server's health check; a server that exits first, or does not answer in time, must
end in one error naming what happened, never in a wait without end or an orphaned server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import local_server
from orchestration.prefect_server import HOST, PrefectServerError, running_prefect_server

REPO = Path(__file__).resolve().parents[1]
LOCATION = ("--definitions", "tests.serve_location")
#: A database the server cannot reach: it exits while starting (code 3, in ~3 s).
UNREACHABLE_DATABASE = "postgresql+asyncpg://pipeline:s3cret-pw@127.0.0.1:9/prefect"


def _server_processes_under(home: Path) -> list[int]:
    """Processes whose environment points PREFECT_HOME at ``home``: the server's."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_server_that_exits_while_starting_raises_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:  # its port is in use: the server gives up
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(PrefectServerError, match=r"exited with code \d+") as raised,
            running_prefect_server(tmp_path / "home", port=port),
        ):
            pytest.fail("the server came up on a port in use")
    assert str(port) in str(raised.value)  # the log's tail says which port was in use
    assert _server_processes_under(tmp_path / "home") == []


def test_a_server_that_does_not_answer_in_time_is_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with (
        pytest.raises(PrefectServerError, match=r"did not answer within 0 s"),
        running_prefect_server(home, timeout=0.01),
    ):
        pytest.fail("the server answered within 10 ms")
    assert _server_processes_under(home) == []


def test_a_background_server_that_does_not_answer_in_time_is_stopped(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    with pytest.raises(local_server.LocalServerError, match="did not answer within 0 s"):
        local_server.ensure(0.01, home)
    assert local_server.recorded(home) is None
    assert _server_processes_under(home) == []


def test_materialize_whose_background_server_exits_says_so_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop(local_server.MODE_ENV, None)
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_DATABASE_CONNECTION_URL=UNREACHABLE_DATABASE)
    warehouse = f"chdb://{tmp_path / 'wh'}"
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", "materialize", *LOCATION, "--warehouse", warehouse],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "error: the background Prefect server exited with code 3 while starting (its log: "
    ), result.stderr
    assert "set PREFECT_API_URL to a running server" in lines[0]
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert local_server.recorded(home) is None
    assert _server_processes_under(home) == []
    assert not (tmp_path / "wh").exists()  # nothing ran: no warehouse was made
