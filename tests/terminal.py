"""Run the ``pipeline`` command on a terminal (a pseudo-terminal), as a person sees it."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def on_a_terminal(env: Mapping[str, str], *args: str, columns: int = 120) -> tuple[int, bytes]:
    """Exit code and everything written to the terminal (stdout and stderr, interleaved as
    a person sees them) by ``python -m orchestration ARGS``."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        output = _read_to_the_end(leader, timeout=300)
    finally:
        os.close(leader)
    return process.wait(timeout=60), output


def screen(env: Mapping[str, str], *args: str, columns: int) -> tuple[int, list[str]]:
    """Exit code and the lines a person reads on a terminal ``columns`` wide: what
    :func:`on_a_terminal` wrote, without its colours and carriage returns."""
    code, output = on_a_terminal(env, *args, columns=columns)
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode()).replace("\r", "")
    return code, text.splitlines()


#: The ``pipeline`` console script (as pip writes it), saying on descriptor ``argv[1]``
#: when its launcher has taken Ctrl-C, its first step: Ctrl-C before that, in the
#: interpreter's own start-up, is Python's affair, out of this project's reach. (Said as
#: the launcher was loaded, a Ctrl-C "0 s after" could come before it took it, and ended
#: the command with Python's traceback.)
_LAUNCHED = """
import contextlib, os, sys
from orchestration import launcher

taking_ctrl_c = launcher.interrupted_quietly

@contextlib.contextmanager
def said_once_taken():
    with taking_ctrl_c():
        os.write(int(sys.argv[1]), b"."); os.close(int(sys.argv[1]))
        del sys.argv[1]
        yield

launcher.interrupted_quietly = said_once_taken
sys.exit(launcher.main())
"""


def interrupted_on_a_terminal(
    env: Mapping[str, str], args: Sequence[str], *, after: float = 0.0, when: Path | None = None
) -> tuple[int, str]:
    """Exit code and what ``pipeline ARGS`` wrote to its terminal when Ctrl-C (SIGINT)
    came ``after`` seconds after its launcher took Ctrl-C, or once the file ``when``
    exists (an asset saying it is busy), what it wrote meanwhile read all along."""
    leader, follower = pty.openpty()
    started, said_started = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHED, str(said_started), *args],
        cwd=REPO,
        env={**env, "TERM": "xterm"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        pass_fds=(said_started,),
    )
    os.close(follower)
    os.close(said_started)
    try:
        assert os.read(started, 1) == b".", "the launcher did not start"
        time.sleep(after)
        before = b""
        if when is not None:
            before = _read_to_the_end(leader, timeout=180, until=when.exists)
            assert when.exists(), before.decode(errors="replace")
        process.send_signal(signal.SIGINT)
        said = (before + _read_to_the_end(leader)).decode(errors="replace").replace("\r", "")
        return process.wait(timeout=60), said
    finally:
        os.close(started)
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()


def _read_to_the_end(
    leader: int, timeout: float = 60, until: Callable[[], bool] | None = None
) -> bytes:
    """What a terminal's processes wrote to it, until every one of them has ended (or
    ``timeout`` seconds passed, or ``until()`` holds)."""
    output = bytearray()
    waiting = select.poll()  # not select(): it cannot wait on a descriptor above 1023
    waiting.register(leader, select.POLLIN)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (until is not None and until()):
        if not waiting.poll(1000):
            continue
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every process on it has ended
            break
        if not chunk:
            break
        output += chunk
    return bytes(output)
