"""A short section that a stop signal must not cut in two: the signal waits for its end.

What needs it: ``import chdb`` starts an in-memory engine to read its version and closes
it again; the engine works in ``$TMPDIR/clickhouse-embedded-<uuid>/``, which only that close
removes. A process that ends in between (~40 ms; SIGTERM's default action, or a handler
that ends the process with ``os._exit``, as a command's own do) leaves the empty directory
in the temp directory for good: a command stopped as it opened the warehouse, a warm
starter's spare stopped by ``pipeline server stop``. chdb has no setting for that
directory but ``TMPDIR``, which is the whole process's (Prefect and ``tempfile`` read it
too), so the section is protected instead of moved.

SIGINT, SIGTERM and SIGHUP that arrive during the section are kept and delivered, in the
order they came, as it ends, to whatever handled them before (the default action, a
handler, ``KeyboardInterrupt``). Only the main thread can change how Python handles a
signal, so in another thread the section is counted instead: a handler that ends the
process while work runs in a worker (:func:`orchestration.interrupts.run_interruptibly`)
first waits for :func:`sections_ended`. SIGKILL cannot be held by anyone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The signals that stop a command: Ctrl-C, ``kill``, a closed terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Sections(threading.Condition):
    """How many sections run in threads other than the main one."""

    running = 0


_in_workers = _Sections()


def sections_ended(timeout: float) -> bool:
    """Wait until no section runs in another thread than the main one, at most
    ``timeout`` seconds (a section is short: an import); whether none runs."""
    with _in_workers:
        return _in_workers.wait_for(lambda: _in_workers.running == 0, timeout)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Run the body with :data:`STOP_SIGNALS` held, then deliver those that came.

    A signal Python leaves to C code (``getsignal`` is None) or that is ignored stays as
    it is: holding it would change nothing or lose nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        with _in_workers:
            _in_workers.running += 1
        try:
            yield
        finally:
            with _in_workers:
                _in_workers.running -= 1
                _in_workers.notify_all()
        return
    arrived: list[int] = []

    def keep(number: int, _frame: object) -> None:
        arrived.append(number)

    previous = {}
    for stop in STOP_SIGNALS:
        handler = signal.getsignal(stop)
        if handler is None or handler is signal.SIG_IGN:
            continue
        previous[stop] = signal.signal(stop, keep)
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)
        for number in dict.fromkeys(arrived):  # each once, in order of arrival
            signal.raise_signal(number)
