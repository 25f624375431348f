"""Produce the next chunk while the caller is still busy with the current one.

Reading and normalising a chunk (Arrow's CSV parser and compute kernels) and inserting
the previous one (the warehouse engine) both run in C++ with the GIL released, so on
two cores they overlap almost perfectly: ingest then costs about max(read, insert)
instead of read + insert. At most one chunk waits in the hand-over, so memory stays
bounded by two chunks whatever the file size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


class _Done:
    """End of the stream (``error`` set if the producer failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], *, name: str = "read-ahead") -> Iterator[T]:
    """Yield ``items`` in order, computing the next one in a background thread.

    An exception raised by ``items`` is re-raised here, in the caller's thread, at the
    point where the item would have been. If the caller stops early (closes this
    generator, or fails), the producer is told to stop and ``items`` is closed in its
    own thread, so its ``finally`` blocks (temporary files) still run.
    """
    handover: queue.Queue[T | _Done] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        outcome = _Done()
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handover.put(item, timeout=_POLL_SECONDS)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the caller, who re-raises it
            outcome = _Done(error)
        finally:
            if stop.is_set():
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        while not stop.is_set():
            try:
                handover.put(outcome, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = handover.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        worker.join()
