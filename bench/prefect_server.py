"""A real ``prefect server start`` on a free loopback port, for the benchmark's runs.

The orchestrated run must talk to a running server, as a deployment does: every task
run, state change, log line and asset event goes over HTTP into the server's database.
The server gets its own ``PREFECT_HOME`` (a temporary directory, so its SQLite database
and settings never touch the user's) and no telemetry. It is a separate process group,
stopped at the end however the benchmark ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT = 120.0


class PrefectServerError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class PrefectServer:
    """A running server: where its API listens, its log, and its process id."""

    api_url: str
    log_path: Path
    pid: int

    def log_tail(self, lines: int = 30) -> str:
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def client_environment(home: Path, api_url: str) -> dict[str, str]:
    """Environment for a process that runs flows against the server (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return env


def _warm_up(api_url: str) -> None:
    """One read and one write-path request, so the first timed run meets a warm server.

    A fresh server answers its first database-backed requests slowly (lazy imports,
    connection set-up, ~0.5 s); a server that has been running does not.
    """
    for path, body in (("/admin/version", None), ("/flows/filter", b"{}")):
        request = urllib.request.Request(
            f"{api_url}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


@contextlib.contextmanager
def running_prefect_server(home: Path) -> Iterator[PrefectServer]:
    """Start the server under ``home``; yield once ``/api/health`` answers; always stop it."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = client_environment(home, api_url)
    env.pop("PREFECT_API_URL")  # the server is the API; it must not look for another
    env.update(PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port))
    log_path = home / "server.log"
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopping it stops its workers
        )
    server = PrefectServer(api_url=api_url, log_path=log_path, pid=process.pid)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _healthy(api_url):
            if process.poll() is not None:
                raise PrefectServerError(
                    f"prefect server exited with {process.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise PrefectServerError(
                    f"prefect server not healthy after {STARTUP_TIMEOUT:.0f} s:\n"
                    f"{server.log_tail()}"
                )
            time.sleep(0.25)
        _warm_up(api_url)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
