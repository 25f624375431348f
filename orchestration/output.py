"""A command's output on stdout, and what happens when its reader stops reading.

``pipeline query "..." | head -3`` closes the pipe while the command still writes. That
is not a failure of the command: it asked for nothing the reader did not get. So the
first write that finds the pipe closed sends the rest of the output to ``/dev/null``;
the command finishes its work and exits with its own status (0 for a read, 1 for a
failed run or check). Coreutils, git and jq die of SIGPIPE instead (exit 141), and
Rich, like Click, exits 1: either fails a ``set -o pipefail`` script that only wanted
the first lines, which is why ``pipeline`` does neither.
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import sys
from typing import IO, Any

import typer


def discard(stream: IO[Any]) -> None:
    """Send the rest of what is written to ``stream`` (its reader is gone) to /dev/null.

    The descriptor itself is replaced, so text still buffered above it, Rich's output
    and the flush at exit all go there too, without another error.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no descriptor: nothing
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


def echo(text: str = "", *, nl: bool = True) -> None:
    """``typer.echo`` to stdout; a closed pipe discards it (and all later output)."""
    try:
        typer.echo(text, nl=nl)
    except BrokenPipeError:
        discard(sys.stdout)


def write_bytes(data: bytes) -> bool:
    """Write ``data`` whole to stdout's binary layer; a closed pipe discards it. Returns
    whether the reader is still there, so a writer of more can stop producing it.

    With ``PYTHONUNBUFFERED`` that layer is the raw file, whose ``write`` may take only
    part of a large buffer (a signal, a pipe closing): the rest is written, not dropped.
    """
    sys.stdout.flush()  # text written before comes first
    out = sys.stdout.buffer
    view = memoryview(data)
    try:
        while view:
            view = view[out.write(view) or 0 :]
        out.flush()
    except BrokenPipeError:
        discard(sys.stdout)
        return False
    return True


def reader_gone(stream: IO[Any] | None = None, *, was_devnull: bool = False) -> bool:
    """Whether ``stream`` (stdout) is a pipe that nobody reads any more, or /dev/null that
    was not (Rich's own consoles, e.g. Typer's help, put it there when the pipe closed)."""
    try:
        fd = (stream or sys.stdout).fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if any(events & select.POLLERR for _, events in poller.poll(0)):
            return True
        return not was_devnull and is_devnull(stream)
    except (OSError, ValueError, AttributeError):
        return False


def is_devnull(stream: IO[Any] | None = None) -> bool:
    """Whether ``stream`` (stdout) writes to /dev/null."""
    try:
        found = os.fstat((stream or sys.stdout).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    devnull = os.stat(os.devnull)
    return stat.S_ISCHR(found.st_mode) and found.st_rdev == devnull.st_rdev
