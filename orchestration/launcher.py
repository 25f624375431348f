"""The ``pipeline`` console script: start the command warm if a starter runs, else cold.

Kept to the standard library until it knows which: a warm command's whole process is this
module, a socket and a wait (see :mod:`orchestration.warm_start`).

Ctrl-C while a cold command imports its command line (the first ~0.7 s) ends it at once
with 130, as a shell reports an interrupted command: nothing has started yet that needs
stopping, and the ``KeyboardInterrupt`` traceback of whichever import was running (23 to
52 lines) told the user nothing. From the command line's start on, Ctrl-C is the
command's to handle (Typer ends a command with 130; a run stops its assets first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

#: How a shell reports a command that Ctrl-C ended (128 + SIGINT).
INTERRUPTED = 128 + signal.SIGINT


def main() -> None:
    with interrupted_quietly():  # first: every import below takes time
        from orchestration import warm_start

        # Import the code location from the directory the command runs in, as `python -m`
        # and Dagster's `-m` do: a project of one's own needs no install, and a second
        # checkout sharing the environment runs its own assets, not the editable install's.
        # A console script's first path entry is its own directory (the venv's bin), where
        # nothing is imported from; a warm start hands this entry on to the child that runs
        # the command.
        sys.path[0] = os.getcwd()
        argv = sys.argv[1:]
        # The environment as launched: what the next command's key is computed from (a
        # cold command changes its own, e.g. PREFECT_API_URL once the local server is found).
        launched = dict(os.environ)
        try:
            warm = warm_start.enabled(os.environ) and warm_start.eligible(argv, os.environ)
        except warm_start.WarmStartError as exc:
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(2)
        if warm:
            code = warm_start.run_warm(argv)
            if code is not None:
                sys.exit(code)
        from orchestration.cli import main as cold_main
        from orchestration.errors import CommandRefused

    succeeded = refused = False
    try:
        cold_main()
        succeeded = True
    except SystemExit as exit_:
        succeeded = exit_.code in (0, None)
        refused = isinstance(exit_, CommandRefused)
        raise
    except KeyboardInterrupt:  # in the instant before Typer handles it: the same exit
        sys.exit(INTERRUPTED)
    finally:
        # No starter took it: leave one for the next command, unless an error refused
        # this one before its work (its settings may be what the next command corrects).
        if warm and not refused:
            warm_start.start_in_background(launched, succeeded=succeeded)


@contextlib.contextmanager
def interrupted_quietly() -> Iterator[None]:
    """For the block, Ctrl-C ends the process at once with :data:`INTERRUPTED` and prints
    nothing; then SIGINT is handled as before. A SIGINT that was ignored (a command
    started with ``nohup`` or in the background of a shell without job control) stays
    ignored."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, _end_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _end_interrupted(_signum: int, _frame: object) -> None:
    os._exit(INTERRUPTED)
