"""The processes the serve tests start: a Prefect server of their own, and ``pipeline
serve`` in the background.

tests/test_serve_outage.py, tests/test_serve_stop.py and tests/test_served_api_lost.py
set these up the same way; here once, so each test reads as what it does to them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.prefect_server import HOST, PrefectServer, free_port, running_prefect_server

REPO = Path(__file__).resolve().parents[1]

#: The two ways serve is stopped, and the exit code each must give: the signal, whether it
#: goes to serve's whole process group, as a terminal sends it, and the code.
STOPPED_EITHER_WAY = pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [
        (signal.SIGINT, True, 130),  # Ctrl+C on serve's terminal
        (signal.SIGTERM, False, 143),  # kill PID, as a supervisor stops it
    ],
    ids=["ctrl-c", "sigterm"],
)


@dataclass(frozen=True)
class OwnServer:
    """A Prefect server of a test's own. Its home (database, log) and port are fixed when
    the test begins, so each :meth:`start` is the same server, back as after a restart;
    its API URL is known before it first starts (serve's environment names it)."""

    home: Path
    port: int

    @classmethod
    def under(cls, tmp_path: Path) -> OwnServer:
        return cls(tmp_path / "prefect-server", free_port())

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.port}/api"

    def start(self) -> contextlib.AbstractContextManager[PrefectServer]:
        """The server, running until the block ends (the test may stop it meanwhile)."""
        return running_prefect_server(self.home, port=self.port)


@contextlib.contextmanager
def serve_in_background(
    env: dict[str, str], log: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``pipeline serve ARGS``, its stdout and stderr to ``log``, in a process group of its
    own for the test to signal as a terminal or a supervisor would; killed with its group
    when the block ends, so a failed test leaves nothing behind."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration", "serve", *args],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop_serve(
    process: subprocess.Popen[bytes], signum: int, to_group: bool, timeout: float
) -> float:
    """Stop serve as :data:`STOPPED_EITHER_WAY` says (to its process group, as a terminal's
    Ctrl+C, or to it alone, as ``kill PID``); the seconds it took to exit."""
    sent = time.monotonic()
    (os.killpg if to_group else os.kill)(process.pid, signum)
    process.wait(timeout=timeout)
    return time.monotonic() - sent
