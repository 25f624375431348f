"""Shared pieces of the warehouse tests: backends, DDL, and asset builders.

chdb runs one warehouse directory per process, so every embedded warehouse opened here
is closed when its test ends; a test that needs another directory must do the same.
The server backend runs against ``CLICKHOUSE_TEST_URL`` (a ClickHouse server,
``clickhouse://user:password@host:8123/``) or, when it is unset, the chdb HTTP stand-in
the session starts (the ``clickhouse_test_url`` fixture); each test works in its own
database there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from io_managers import ClickHouseIOManager, warehouse_from_env
from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.io_manager import MaterializeResult

SERVER_URL_ENV = "CLICKHOUSE_TEST_URL"
BACKENDS = ["embedded", "server"]
LOAD_DATETIME = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

#: Tables used by the materialization tests; ``{db}`` is each test's own database.
TEST_DDL = """
CREATE DATABASE IF NOT EXISTS {db};

-- a comment with a semicolon; it must not split the statement
CREATE TABLE IF NOT EXISTS {db}.numbers
(
    n UInt64,
    label String DEFAULT 'none;really',
    score Nullable(Float64)
)
ENGINE = MergeTree
ORDER BY n;

/* the vault pattern: insert-only hub and a ReplacingMergeTree satellite */
CREATE TABLE IF NOT EXISTS {db}.hub_customer
(
    hub_customer_hash_key UUID,
    CustomerID UInt64,
    LOAD_DATETIME DateTime64(0, 'UTC'),
    RECORD_SOURCE String
)
ENGINE = MergeTree
PRIMARY KEY hub_customer_hash_key;

CREATE TABLE IF NOT EXISTS {db}.sat_product
(
    hub_product_hash_key UUID,
    Description Nullable(String),
    hash_diff UUID,
    EFFECTIVE_FROM DateTime64(0, 'UTC'),
    LOAD_DATETIME DateTime64(0, 'UTC'),
    RECORD_SOURCE String
)
ENGINE = ReplacingMergeTree(LOAD_DATETIME)
ORDER BY (hub_product_hash_key, EFFECTIVE_FROM);

-- every type the retail DDL uses
CREATE TABLE IF NOT EXISTS {db}.retail_types
(
    id UInt64,
    hash_key UUID,
    invoice_date DateTime64(0, 'UTC'),
    unit_price Decimal(10, 4),
    return_status LowCardinality(String),
    status Enum8('Normal' = 0, 'Return' = 1),
    description Nullable(String),
    quantity Int32,
    maybe_quantity Nullable(Int32),
    day Date,
    ratio Float64,
    year UInt16
)
ENGINE = MergeTree
ORDER BY id;
"""


class Backend:
    """One backend for one test: its warehouse, re-openable, closed at the end."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind: str = request.param
        self.tmp_path = tmp_path
        #: Where the server backend connects (a real server or the stand-in).
        self.server_url = (
            request.getfixturevalue("clickhouse_test_url") if self.kind == "server" else None
        )
        self.warehouse = self._open()

    def _open(self) -> ClickHouseIOManager:
        if self.server_url is None:
            return ClickHouseIOManager.embedded(self.tmp_path / "warehouse")
        return warehouse_from_env(self.server_url)

    def close(self) -> None:
        """Release the warehouse (the embedded engine lets one process in at a time)."""
        self.warehouse.close()

    def reopen(self) -> ClickHouseIOManager:
        self.warehouse.close()
        self.warehouse = self._open()
        return self.warehouse


def new_database_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def apply_test_ddl(warehouse: ClickHouseIOManager, db: str, tmp_path: Path) -> Path:
    ddl = tmp_path / f"{db}.sql"
    ddl.write_text(TEST_DDL.format(db=db))
    warehouse.setup([ddl])
    return ddl


def context(spec: AssetSpec, warehouse: Any) -> AssetContext:
    return AssetContext(spec=spec, io_manager=warehouse, load_datetime=LOAD_DATETIME)


def sql_asset(table: str, select: str, **kwargs: Any) -> AssetSpec:
    key = kwargs.pop("key", table.split(".")[1])
    return AssetSpec(key=key, table=table, body=lambda ctx: select, kind="sql", **kwargs)


def python_asset(table: str, body: Callable[[AssetContext], Any], **kwargs: Any) -> AssetSpec:
    key = kwargs.pop("key", table.split(".")[1])
    return AssetSpec(key=key, table=table, body=body, kind="python", **kwargs)


def staging_tables(warehouse: ClickHouseIOManager, db: str) -> list[str]:
    rows = warehouse.query_arrow(
        f"SELECT name FROM system.tables WHERE database = '{db}' AND startsWith(name, '_stg_')"
    )
    return rows.column("name").to_pylist()


class PublishFirstIOManager(ClickHouseIOManager):
    """The warehouse as a storage that cannot check an asset before publishing it: it
    never calls ``before_publish``, so a run checks the published table, which then
    holds the rows that failed (the resolver's fallback)."""

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        return super().materialize(spec, context)
