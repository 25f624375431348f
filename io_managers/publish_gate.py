"""Let an interrupted run stop between publishes, never in the middle of one.

Each publish (an ``EXCHANGE``, an attach, an anti-join insert) is all or nothing in the
engine, but the process may be ended at any moment after an interrupt. So publishes pass
through a gate: :meth:`PublishGate.close` stops new ones and waits, bounded, for the one
in flight; then the process can end with no table half-published.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from io_managers.errors import MaterializationError


class PublishGate:
    """Counts publishes in flight; once closed, refuses new ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._in_flight = 0
        self._closed = False
        #: Assets whose publish finished (their tables are whole), in order.
        self.published: list[str] = []

    @contextlib.contextmanager
    def publishing(self, key: str, table: str) -> Iterator[None]:
        """Hold the gate open while one asset publishes."""
        with self._changed:
            if self._closed:
                raise MaterializationError.for_asset(
                    key, table, "the run was interrupted before publishing; the table is unchanged"
                )
            self._in_flight += 1
        try:
            yield
            with self._changed:
                self.published.append(key)
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new publishes; True once none is in flight (False: ``timeout`` passed)."""
        with self._changed:
            self._closed = True
            return self._changed.wait_for(lambda: self._in_flight == 0, timeout)
