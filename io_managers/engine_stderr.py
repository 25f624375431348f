"""What the embedded engine writes to stderr while it opens a warehouse, kept for the error.

chdb's ``Session()`` fails with "Error initializing EmbeddedServer: ." and nothing more:
the engine's reason (a metadata file it cannot parse, a lock it cannot take) goes from C++
straight to file descriptor 2, ahead of our own error line. Holding descriptor 2 while the
first connection is made lets the error say why, in one line. Everything else written
meanwhile (by any thread) is passed on to the real stderr when the hold ends, delayed by
the open (tens of milliseconds); only a process killed during the open loses it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

#: Where an engine exception begins, as ClickHouse prints it: ``Code: 62. DB::Exception:``,
#: or ``Code: 76. DB::ErrnoException:`` for a system call that failed (a file it may not
#: create), whose words are the only ones that say why.
EXCEPTION_START = re.compile(r"Code: \d+\. DB::\w*Exception: ")
#: Its end: the last line ending with its error name, ``(SYNTAX_ERROR)`` (the message
#: itself may hold lines ending in parentheses, ``(UUID)``, before it).
_EXCEPTION_BODY = re.compile(r".*\([A-Z][A-Z0-9_]*\)[ \t]*(?:\n|\Z)", re.DOTALL)


class HeldStderr:
    """Descriptor 2's output while held; the engine's exception can be taken out of it."""

    def __init__(self, sink: IO[bytes] | None) -> None:
        self._sink = sink
        self._taken: str | None = None

    def text(self) -> str:
        if self._sink is None or self._sink.closed:
            return ""
        self._sink.flush()
        self._sink.seek(0)
        return self._sink.read().decode("utf-8", "replace")

    def take_engine_exception(self) -> str | None:
        """The last engine exception written, as printed; it is not passed on."""
        text = self.text()
        starts = [match.start() for match in EXCEPTION_START.finditer(text)]
        body = _EXCEPTION_BODY.match(text, starts[-1]) if starts else None
        self._taken = body.group(0) if body else None
        return self._taken

    def passed_on(self) -> str:
        """What goes to the real stderr: all of it, less an exception taken for an error."""
        text = self.text()
        return text.replace(self._taken, "", 1) if self._taken else text


@contextlib.contextmanager
def stderr_held() -> Iterator[HeldStderr]:
    """Hold descriptor 2 in a temporary file for the block; pass it on afterwards."""
    if sys.stderr is None:  # started without one (``2>&-``): nothing to hold or pass on
        yield HeldStderr(None)
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # descriptor 2 closed under a Python stderr: the same
        yield HeldStderr(None)
        return
    with tempfile.TemporaryFile() as sink:
        held = HeldStderr(sink)
        os.dup2(sink.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            rest = held.passed_on()
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()
