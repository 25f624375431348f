"""Where assets live: ClickHouse, embedded (chdb, the default) or a server (HTTP).

``warehouse_from_env()`` is the entry point; everything else here is for callers that
need a specific piece (configuration, the read-only guard, the type mapping, errors).
"""

from io_managers.clickhouse import ClickHouseIOManager
from io_managers.config import (
    DEFAULT_WAREHOUSE_DIR,
    WarehouseConfig,
    load_config,
    parse_warehouse_url,
    warehouse_from_env,
)
from io_managers.errors import (
    AssetValidationError,
    MaterializationError,
    ReadOnlyQueryError,
    ValidationFailure,
    WarehouseConfigError,
    WarehouseConnectionError,
    WarehouseError,
    WarehouseQueryError,
)
from io_managers.read_only import ensure_read_only
from io_managers.sql import split_statements
from io_managers.types import ClickHouseType, dtype_mismatch, nullability_mismatch, parse_type
from io_managers.validation import plan_validation, run_validation

__all__ = [
    "DEFAULT_WAREHOUSE_DIR",
    "AssetValidationError",
    "ClickHouseIOManager",
    "ClickHouseType",
    "MaterializationError",
    "ReadOnlyQueryError",
    "ValidationFailure",
    "WarehouseConfig",
    "WarehouseConfigError",
    "WarehouseConnectionError",
    "WarehouseError",
    "WarehouseQueryError",
    "dtype_mismatch",
    "ensure_read_only",
    "load_config",
    "nullability_mismatch",
    "parse_type",
    "parse_warehouse_url",
    "plan_validation",
    "run_validation",
    "split_statements",
    "warehouse_from_env",
]
