"""A real ``prefect server start`` (API + UI) on a free loopback port, in its own sandbox.

Why this ships with the package: runs that must be judged as a deployment sees them need
a running server, not ``prefect_test_harness``. The benchmark times task runs whose state
changes, logs and asset events all travel over HTTP into a server database; the UI tests
open the V2 UI, which only ``prefect server start`` mounts. Both get the same server from
here:

* its own ``PREFECT_HOME`` (so its SQLite database and settings never touch the user's),
  no telemetry, and a UI that calls this very port;
* Prefect's server as is, its start-up heap kept out of the garbage collector
  (:mod:`orchestration.server_process`);
* ``running_prefect_server`` yields only once ``/api/health`` answers and a read and a
  write-path request have warmed it up, and on the way out stops the whole process group
  (uvicorn and its workers too), however the caller ends, even if the caller stopped the
  server meanwhile (the outage tests do, then start it again on the same home and port:
  the same server back, as after a restart);
* a failed start raises ``PrefectServerError`` carrying the tail of the server's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.basic_auth import open_url
from orchestration.server_process import server_command

STARTUP_TIMEOUT = 120.0
HOST = "127.0.0.1"


class PrefectServerError(RuntimeError):
    """The server did not come up; carries the tail of its log so the cause is visible."""


@dataclass(frozen=True)
class PrefectServer:
    """A running server: where it listens, its log, and its process id."""

    url: str
    log_path: Path
    pid: int
    #: The server's process, when this process started it (``running_prefect_server``):
    #: what a caller that stops the server itself waits for. None for a server another
    #: process started (``local_server`` knows only its recorded pid).
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def ui_url(self) -> str:
        """Base of the V2 UI (the React UI that renders Mermaid in markdown artifacts)."""
        return f"{self.url}/v2"

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log, for error messages."""
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def peak_rss_mib(self) -> float | None:
        """High-water resident memory of the server process (Linux ``VmHWM``), if known."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


def free_port() -> int:
    """A port the OS just had free on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


#: The server's task-run recorder writes task-run states in batches of up to 100, at least
#: once a second, instead of one transaction per state (Prefect's default). A run of 27
#: assets sends 81 states: batched, the server spends ~0.7 s less CPU per 100,000-row run
#: on the two cores the run shares with it, and the whole command is ~0.4 s faster
#: (docs/benchmark.md, "Session 8"). A task's state reaches the UI up to a second later.
TASK_STATE_BATCHING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}


def _without_prefect_settings() -> dict[str, str]:
    """This process's environment minus every ``PREFECT_*`` setting the caller may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def server_environment(home: Path, port: int) -> dict[str, str]:
    """The server's environment: isolated home, no telemetry, UI calling this very port."""
    env = _without_prefect_settings()
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=HOST,
        PREFECT_SERVER_API_PORT=str(port),
        # The UI reads its API address from /ui-settings; without this it would call :4200.
        PREFECT_UI_API_URL=f"http://{HOST}:{port}/api",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        **TASK_STATE_BATCHING,
    )
    return env


def client_environment(home: Path, api_url: str) -> dict[str, str]:
    """Environment for a process that runs flows against the server (and nothing else)."""
    env = _without_prefect_settings()
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at ``api_url`` answers its health check within ``timeout``
    (a ``user:password@`` in it sent as Prefect's client sends it)."""
    try:
        with open_url(f"{api_url}/health", timeout) as response:
            return bool(response.status == 200)
    except OSError:  # URLError and HTTPError among them
        return False


def server_version(api_url: str, timeout: float = 2.0) -> str | None:
    """The Prefect version the server at ``api_url`` runs (``/admin/version``), if it says."""
    import json

    url = f"{api_url.rstrip('/')}/admin/version"
    try:
        with open_url(url, timeout) as response:
            version = json.loads(response.read())
    except (OSError, ValueError):  # no answer, an error status, or not Prefect's JSON
        return None
    return version if isinstance(version, str) else None


def _warm_up(api_url: str) -> None:
    """One read and one write-path request, so the first real request meets a warm server.

    A fresh server answers its first database-backed requests slowly (lazy imports,
    connection set-up, ~0.5 s); a server that has been running does not.
    """
    import urllib.request

    for path, body in (("/admin/version", None), ("/flows/filter", b"{}")):
        request = urllib.request.Request(
            f"{api_url}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


def spawn_server(port: int, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``prefect server start`` on ``HOST:port`` (:mod:`orchestration.server_process`), its
    output appended to ``log_path`` (a server started again keeps its earlier log), in a
    process group of its own: stopping the group stops its workers too."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            server_command(HOST, port),
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def start_failure(process: subprocess.Popen[bytes], api_url: str, timeout: float) -> str | None:
    """Wait until the server started as ``process`` is healthy at ``api_url``: None then,
    else what went wrong, as words to follow "the server": ``exited with code 3`` (it
    crashed: waiting longer would not help) or ``did not answer within 20 s`` (it is left
    running: the caller stops it, as it stops what it started)."""
    deadline = time.monotonic() + timeout
    while not healthy(api_url, timeout=1.0):
        if process.poll() is not None:
            return f"exited with code {process.returncode}"
        if time.monotonic() > deadline:
            return f"did not answer within {timeout:.0f} s"
        time.sleep(0.2)
    return None


@contextlib.contextmanager
def running_prefect_server(
    home: Path, timeout: float = STARTUP_TIMEOUT, *, port: int | None = None
) -> Iterator[PrefectServer]:
    """Start the server under ``home``, on ``port`` (a free one when None); yield once
    healthy and warm; always stop it.

    Its database and log are in ``home``, so started again on the same ``home`` and
    ``port`` it is the same server back, as after a restart; its log goes on, not anew.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port() if port is None else port
    log_path = home / "server.log"
    process = spawn_server(port, server_environment(home, port), log_path)
    server = PrefectServer(
        url=f"http://{HOST}:{port}", log_path=log_path, pid=process.pid, process=process
    )
    try:
        failure = start_failure(process, server.api_url, timeout)
        if failure:
            raise PrefectServerError(f"prefect server {failure}:\n{server.log_tail()}")
        _warm_up(server.api_url)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers.

    The group is signalled even when the server itself has ended (stopped by the caller,
    or crashed): whatever it started and left in its group is stopped with it.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
