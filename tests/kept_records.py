"""A logging handler that keeps what a logger handled, for tests of logging filters."""

from __future__ import annotations

import logging


class KeptRecords(logging.Handler):
    """The records a logger handled, as its handlers got them (after its filters)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
