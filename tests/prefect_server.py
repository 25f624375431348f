"""A real, persistent Prefect server (API + UI) in a subprocess, for UI-level tests.

``prefect_test_harness`` serves only the API; the UI bundles are mounted only by
``prefect server start``. This helper runs that command on a free loopback port with its
own ``PREFECT_HOME`` (so its SQLite database and settings never touch the user's), waits
for ``/api/health`` and stops the whole process group afterwards.
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
    """The server did not come up; carries the tail of its log so the cause is visible."""


@dataclass(frozen=True)
class PrefectServer:
    """Where a running server listens."""

    url: str
    log_path: Path

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def ui_url(self) -> str:
        """Base of the V2 UI (the React UI that renders Mermaid in markdown artifacts)."""
        return f"{self.url}/v2"

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """A port the OS just had free on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def server_environment(home: Path, port: int) -> dict[str, str]:
    """The server's environment: isolated home, no telemetry, UI calling this very port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    api_url = f"http://127.0.0.1:{port}/api"
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        # The UI reads its API address from /ui-settings; without this it would call :4200.
        PREFECT_UI_API_URL=api_url,
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


@contextlib.contextmanager
def running_prefect_server(home: Path, timeout: float = STARTUP_TIMEOUT) -> Iterator[PrefectServer]:
    """Start ``prefect server start`` under ``home``; yield once healthy; always stop it."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = PrefectServer(url=f"http://127.0.0.1:{port}", log_path=home / "server.log")
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=server_environment(home, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stopping it stops uvicorn too
        )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(server.api_url):
            if process.poll() is not None:
                raise PrefectServerError(
                    f"prefect server exited with {process.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise PrefectServerError(
                    f"prefect server not healthy after {timeout:.0f} s:\n{server.log_tail()}"
                )
            time.sleep(0.25)
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
