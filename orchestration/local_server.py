"""One local Prefect server, started in the background by the first command and reused.

With no ``PREFECT_API_URL``, Prefect starts a temporary server inside every flow-running
command and stops it at the end: 5-20 s of every ``pipeline materialize`` on a 2-core
machine (more than the whole run at 100,000 rows), and the run's lineage pages cannot be
opened afterwards without starting a server anyway. Instead the first command starts
``prefect server start`` on loopback (through :mod:`orchestration.server_process`),
detached from the terminal, on the same Prefect home (so the same database the temporary
server would use), and writes where it listens to ``<PREFECT_HOME>/pipeline-server.json``;
later commands find it there and reuse it, and its UI stays up to review the runs.
``pipeline server stop`` ends it; ``PIPELINE_PREFECT_SERVER=temporary`` keeps Prefect's
temporary server per command.

Two commands starting at once start one server: the check-then-start runs under an
exclusive lock on ``pipeline-server.lock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from orchestration.errors import ExpectedError
from orchestration.kept_environment import kept_environment
from orchestration.prefect_server import (
    HOST,
    TASK_STATE_BATCHING,
    PrefectServer,
    free_port,
    healthy,
    spawn_server,
    start_failure,
)
from orchestration.server_process import MODULE

MODE_ENV = "PIPELINE_PREFECT_SERVER"
BACKGROUND, TEMPORARY = "background", "temporary"
#: Prefect's own default port, so the address in Prefect's docs works when it is free.
PREFERRED_PORT = 4200
_STATE_FILE = "pipeline-server.json"
_LOCK_FILE = "pipeline-server.lock"
_LOG_FILE = "pipeline-server.log"


class LocalServerError(ExpectedError, RuntimeError):
    """The background server could not be started or stopped; the message says why."""


#: The background server: where it listens, its process (group) id and its log.
LocalServer = PrefectServer


def server_mode() -> str:
    """``background`` (the default) or ``temporary``, from ``PIPELINE_PREFECT_SERVER``."""
    mode = os.environ.get(MODE_ENV, "").strip().lower() or BACKGROUND
    if mode not in (BACKGROUND, TEMPORARY):
        raise LocalServerError(
            f"{MODE_ENV}={os.environ[MODE_ENV]!r} is not valid: use {BACKGROUND} (one local "
            f"server, started once and reused) or {TEMPORARY} (Prefect's server per command)"
        )
    return mode


def prefect_home() -> Path:
    """Prefect's home as Prefect resolves it (``PREFECT_HOME``, else ``~/.prefect``)."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live ``prefect server`` process (not a zombie, not a process
    that reused the number after the server died: those must never be signalled)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():  # no procfs (macOS): the signal check is all there is
        return True
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        command = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    # ``python -m orchestration.server_process server start``, or ``prefect server start``
    # as versions before it started the server.
    started_as = b" ".join(command)
    is_server = b"server" in command and (b"prefect" in started_as or MODULE.encode() in started_as)
    return state != "Z" and is_server


def recorded(home: Path | None = None) -> LocalServer | None:
    """The server the state file names, if there is one (running or not)."""
    path = (home or prefect_home()) / _STATE_FILE
    try:
        state = json.loads(path.read_text())
        return LocalServer(url=state["url"], pid=int(state["pid"]), log_path=Path(state["log"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def running(home: Path | None = None) -> LocalServer | None:
    """The recorded server if its process lives and its API answers, else None."""
    server = recorded(home)
    if server and _alive(server.pid) and healthy(server.api_url):
        return server
    return None


@contextlib.contextmanager
def _exclusive(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with (home / _LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, PREFERRED_PORT))
        except OSError:
            return free_port()
    return PREFERRED_PORT


def _server_environment(home: Path, port: int) -> dict[str, str]:
    """The user's Prefect settings (their database and server settings stay theirs) and
    what its imports read, pointed at this port, without telemetry and without a client
    API URL of its own; task-run states batched unless the user set the recorder's
    batching. Nothing else of the command's environment: the server outlives it by hours,
    and a password there would sit in its ``/proc/PID/environ``
    (:mod:`orchestration.kept_environment`)."""
    env = {**TASK_STATE_BATCHING}
    env.update((k, v) for k, v in kept_environment(os.environ).items() if k != "PREFECT_API_URL")
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_API_HOST=HOST,
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_API_URL=f"http://{HOST}:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
    )
    return env


def _start(home: Path, timeout: float) -> LocalServer:
    port = _port()
    log = home / _LOG_FILE
    # Its own process group: it outlives the command, and is stopped as one.
    process = spawn_server(port, _server_environment(home, port), log)
    server = LocalServer(url=f"http://{HOST}:{port}", pid=process.pid, log_path=log)
    failure = start_failure(process, server.api_url, timeout)
    if failure is not None:
        hint = "" if process.poll() is not None else "is the machine busy? "
        _terminate(process.pid)  # not answering yet, or what a crashed one left in its group
        raise LocalServerError(
            f"the background Prefect server {failure} while starting ({hint}its log: {log}); "
            f"set PREFECT_API_URL to a running server, or {MODE_ENV}={TEMPORARY}"
        )
    state = {"url": server.url, "pid": server.pid, "log": str(server.log_path)}
    (home / _STATE_FILE).write_text(json.dumps(state))
    return server


def ensure(timeout: float, home: Path | None = None) -> tuple[LocalServer, bool]:
    """The running background server, started now if there is none; and whether it was."""
    home = home or prefect_home()
    server = running(home)
    if server:
        return server, False
    with _exclusive(home):
        server = running(home)  # another command may have started it while we waited
        if server:
            return server, False
        stale = recorded(home)
        if stale and _alive(stale.pid):  # alive but not answering: replace it
            _terminate(stale.pid)
        return _start(home, timeout), True


def _terminate(pid: int, grace: float = 20.0) -> None:
    """SIGTERM the server's process group, SIGKILL it if it is still there after ``grace``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def stop(home: Path | None = None) -> LocalServer | None:
    """Stop the recorded server (if it runs) and forget it; the server that was stopped."""
    home = home or prefect_home()
    with _exclusive(home):
        server = recorded(home)
        if server is None:
            return None
        alive = _alive(server.pid)
        if alive:
            _terminate(server.pid)
        (home / _STATE_FILE).unlink(missing_ok=True)
        return server if alive else None
