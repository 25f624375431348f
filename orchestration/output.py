"""A command's output on stdout, and what happens when its reader stops reading.

``pipeline query "..." | head -3`` closes the pipe while the command still writes. That
is not a failure of the command: it asked for nothing the reader did not get. So the
first write that finds the pipe closed sends the rest of the output to ``/dev/null``;
the command finishes its work and exits with its own status (0 for a read, 1 for a
failed run or check). Coreutils, git and jq die of SIGPIPE instead (exit 141), and
Rich, like Click, exits 1: either fails a ``set -o pipefail`` script that only wanted
the first lines, which is why ``pipeline`` does neither.

A command asked for a document (``--json``; ``--format`` csv, json, mermaid or dot) prints
that document alone on stdout: a script reads it whole with ``jq`` or ``json.loads``. The
user's code runs inside the command (the code location's module, asset bodies), and
``print("debug")`` there, or a library's or a subprocess's output, would come first and
make the document unreadable; so while such a command runs, everything else written to
stdout goes to stderr, where the person debugging still sees it (:func:`document_only`).
"""

from __future__ import annotations

import contextlib
import os
import select
import stat
import sys
from collections.abc import Iterator
from typing import IO, Any, TextIO

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


#: The ``--format`` values that print a document for a program (``query``'s csv and json,
#: ``lineage``'s json, mermaid and dot, ``validate``'s github annotations), not text for
#: people (table, text).
DOCUMENT_FORMATS = frozenset({"csv", "json", "mermaid", "dot", "github"})
#: Where :func:`echo` and :func:`write_bytes` write while a command prints a document: the
#: command's own stdout, kept aside by :func:`document_only`. None: ``sys.stdout``.
_document: TextIO | None = None


def _stdout() -> TextIO:
    """Where the command's output goes: its stdout, wherever ``sys.stdout`` points now."""
    return _document or sys.stdout


@contextlib.contextmanager
def document_only() -> Iterator[None]:
    """While inside: :func:`echo` and :func:`write_bytes` write to the command's stdout and
    everything else written there goes to stderr.

    ``sys.stdout`` is ``sys.stderr`` meanwhile, so the user's prints keep their order among
    the command's own lines there. When stdout is the process's descriptor 1, that is
    pointed at stderr too, so a stream a library kept from ``sys.stdout`` and a
    subprocess's output go there as well; the document goes to a duplicate of the original
    descriptor, which becomes 1 again on the way out. A warm command's descriptors are its
    own (:mod:`orchestration.warm_server`), so this holds warm or cold. Any other stdout (a
    test's capture) is itself where the document goes.
    """
    global _document
    diverted = sys.stdout
    diverted.flush()
    document = _duplicate_of_descriptor_1(diverted)
    if document is not None:
        os.dup2(2, 1)
    sys.stdout, _document = sys.stderr, document or diverted
    try:
        yield
    finally:
        sys.stdout, _document = diverted, None
        with contextlib.suppress(OSError, ValueError):  # what user code left in its buffer
            diverted.flush()
        if document is not None:
            _restore_descriptor_1(document)


def _duplicate_of_descriptor_1(stream: TextIO) -> TextIO | None:
    """A text stream like ``stream`` on a duplicate of descriptor 1, if ``stream`` writes
    there; else None."""
    try:
        if stream.fileno() != 1:
            return None
    except (OSError, ValueError, AttributeError):  # no descriptor at all (io.UnsupportedOperation)
        return None
    return open(os.dup(1), "w", encoding=stream.encoding, errors=stream.errors)


def _restore_descriptor_1(document: TextIO) -> None:
    """Make ``document``'s descriptor (the original stdout) descriptor 1 again; close it."""
    try:
        document.flush()
    except BrokenPipeError:
        discard(document)
    os.dup2(document.fileno(), 1)
    with contextlib.suppress(OSError):
        document.close()


def document_option(ctx: typer.Context, value: Any) -> Any:
    """The callback of the options that ask for a document (``--json``, and ``--format``
    with one of :data:`DOCUMENT_FORMATS`): from their parsing to the command's end, stdout
    holds only the document (:func:`document_only`). One place for every such command,
    whose body (and the user's code it runs) starts after its options are parsed. Once
    per command: ``--json`` and ``--format json`` both given ask for the one document."""
    asks = value is True or str(value).lower() in DOCUMENT_FORMATS
    if asks and _document is None:
        ctx.with_resource(document_only())
    return value


def echo(text: str = "", *, nl: bool = True) -> None:
    """``typer.echo`` to stdout; a closed pipe discards it (and all later output)."""
    out = _stdout()
    try:
        typer.echo(text, nl=nl, file=out)
    except BrokenPipeError:
        discard(out)


def write_bytes(data: bytes) -> bool:
    """Write ``data`` whole to stdout's binary layer; a closed pipe discards it. Returns
    whether the reader is still there, so a writer of more can stop producing it.

    With ``PYTHONUNBUFFERED`` that layer is the raw file, whose ``write`` may take only
    part of a large buffer (a signal, a pipe closing): the rest is written, not dropped.
    """
    stdout = _stdout()
    stdout.flush()  # text written before comes first
    out = stdout.buffer
    view = memoryview(data)
    try:
        while view:
            view = view[out.write(view) or 0 :]
        out.flush()
    except BrokenPipeError:
        discard(stdout)
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
