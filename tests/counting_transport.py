"""A warehouse that writes down every statement it sends, for tests that count what a
``pipeline`` command asks of the warehouse.

chdb keeps no ``system.query_log``, and the server stand-in is chdb, so the statements are
counted on their way in: the real transport (embedded or server) runs each one, after
its text is appended to the file :data:`STATEMENT_LOG_ENV` names, one JSON string a line.
A code location declares :func:`counting_warehouse` as its IO manager factory.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from io_managers.clickhouse import ClickHouseIOManager
from io_managers.config import DEFAULT_WAREHOUSE_DIR, load_config
from io_managers.transport import (
    EmbeddedTransport,
    OutputSettings,
    ServerTransport,
    SettingValue,
    Transport,
)

#: The file the statements go to, set in the environment of the ``pipeline`` process.
STATEMENT_LOG_ENV = "PIPELINE_TEST_STATEMENT_LOG"


class CountingTransport:
    """``transport`` itself, each statement noted in ``log`` before it runs."""

    def __init__(self, transport: Transport, log: Path) -> None:
        self._transport = transport
        self._log = log
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        """What is not a statement (``authority``, ``exclusive``, ``shared``, ``close``)."""
        return getattr(self._transport, name)

    def _noted(self, sql: str) -> str:
        with self._lock, self._log.open("a") as log:
            log.write(json.dumps(sql) + "\n")
        return sql

    def command(self, sql: str) -> None:
        self._transport.command(self._noted(sql))

    def write(self, sql: str) -> int | None:
        return self._transport.write(self._noted(sql))

    def query_arrow(self, sql: str, readonly: int = 0) -> pa.Table:
        return self._transport.query_arrow(self._noted(sql), readonly)

    def iter_arrow(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        return self._transport.iter_arrow(self._noted(sql), batch_rows)

    def insert_arrow(
        self, table: str, data: pa.Table, settings: Mapping[str, SettingValue]
    ) -> None:
        self._noted(f"INSERT INTO {table} (Arrow)")
        self._transport.insert_arrow(table, data, settings)

    def raw(self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None) -> bytes:
        return self._transport.raw(self._noted(sql), fmt, readonly, settings)

    def iter_raw(
        self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None
    ) -> Iterator[bytes]:
        return self._transport.iter_raw(self._noted(sql), fmt, readonly, settings)


def counting_warehouse(location: str | None = None) -> ClickHouseIOManager:
    """The warehouse at ``location`` (as ``--warehouse`` gives it), counting its statements."""
    config = load_config(location)
    transport: Transport = (
        EmbeddedTransport(Path(config.path or DEFAULT_WAREHOUSE_DIR))
        if config.backend == "embedded"
        else ServerTransport(config)
    )
    log = Path(os.environ[STATEMENT_LOG_ENV])
    return ClickHouseIOManager(CountingTransport(transport, log), location=config.shown_url)


def statements(log: Path) -> list[str]:
    """The statements noted in ``log``, in the order they were sent."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]
