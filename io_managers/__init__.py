"""Where assets live: ClickHouse, embedded (chdb, the default) or a server (HTTP).

``warehouse_io_manager`` is what a code location declares in ``Definitions(io_managers=
...)``; ``warehouse_from_env()`` opens the configured warehouse at once (scripts, tests).
Everything else here is for callers that need a specific piece (configuration, the
read-only guard, the type mapping, errors).

Names are imported on first use: declaring the warehouse in a code location must not
import the data stack (pandas, pyarrow) that only storing assets needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from io_managers.clickhouse import ClickHouseIOManager, warehouse_from_env
    from io_managers.config import (
        DEFAULT_WAREHOUSE_DIR,
        WarehouseConfig,
        load_config,
        parse_warehouse_url,
    )
    from io_managers.declared import DeclaredWarehouse, warehouse_io_manager
    from io_managers.errors import (
        AssetValidationError,
        MaterializationError,
        QueryRejectedError,
        ReadOnlyQueryError,
        TypeDriftError,
        ValidationFailure,
        WarehouseConfigError,
        WarehouseConnectionError,
        WarehouseError,
        WarehouseQueryError,
    )
    from io_managers.read_only import ensure_read_only
    from io_managers.sql_tokens import split_statements
    from io_managers.types import ClickHouseType, dtype_mismatch, nullability_mismatch, parse_type
    from io_managers.validation import plan_validation, run_validation

_MODULE_OF = {
    "ClickHouseIOManager": "clickhouse",
    "warehouse_from_env": "clickhouse",
    "DEFAULT_WAREHOUSE_DIR": "config",
    "WarehouseConfig": "config",
    "load_config": "config",
    "parse_warehouse_url": "config",
    "DeclaredWarehouse": "declared",
    "warehouse_io_manager": "declared",
    "AssetValidationError": "errors",
    "MaterializationError": "errors",
    "QueryRejectedError": "errors",
    "ReadOnlyQueryError": "errors",
    "TypeDriftError": "errors",
    "ValidationFailure": "errors",
    "WarehouseConfigError": "errors",
    "WarehouseConnectionError": "errors",
    "WarehouseError": "errors",
    "WarehouseQueryError": "errors",
    "ensure_read_only": "read_only",
    "split_statements": "sql_tokens",
    "ClickHouseType": "types",
    "dtype_mismatch": "types",
    "nullability_mismatch": "types",
    "parse_type": "types",
    "plan_validation": "validation",
    "run_validation": "validation",
}

__all__ = [
    "DEFAULT_WAREHOUSE_DIR",
    "AssetValidationError",
    "ClickHouseIOManager",
    "ClickHouseType",
    "DeclaredWarehouse",
    "MaterializationError",
    "QueryRejectedError",
    "ReadOnlyQueryError",
    "TypeDriftError",
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
    "warehouse_io_manager",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'io_managers' has no attribute {name!r}")
    return getattr(importlib.import_module(f"io_managers.{module}"), name)
