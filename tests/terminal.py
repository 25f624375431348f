"""Run the ``pipeline`` command on a terminal (a pseudo-terminal), as a person sees it."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Mapping
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
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every process on it has ended
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=60), output


def screen(env: Mapping[str, str], *args: str, columns: int) -> tuple[int, list[str]]:
    """Exit code and the lines a person reads on a terminal ``columns`` wide: what
    :func:`on_a_terminal` wrote, without its colours and carriage returns."""
    code, output = on_a_terminal(env, *args, columns=columns)
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode()).replace("\r", "")
    return code, text.splitlines()
