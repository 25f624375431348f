"""Code versions: a hash of everything in the code that defines an asset's output.

Like Dagster's code versions and dbt's ``state:modified``, an asset whose definition
changed since its last materialization is stale. The version hashes:

* the body: a SQL asset's rendered ``SELECT``, a Python asset's source text (or the
  ``code_version`` the declaration states, for behaviour that lives in helpers);
* the Pandera schema (columns, dtypes, nullability, uniqueness, checks);
* the table's definition as the code's DDL declares it (so an edited DDL is a change
  before the table is rebuilt, and the rebuild leaves the asset fresh);
* how it is published: the write mode and the unique key, and the table it writes.

Values that change on every run must not change the version, or nothing would ever be
fresh: SQL is rendered with a fixed load time (:func:`orchestration.context.render_sql`)
instead of the run's, so ``LOAD_DATETIME`` and run dates drop out.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.context import render_sql
from orchestration.io_manager import IOManager

VERSION_LENGTH = 16


def body_text(spec: AssetSpec, io_manager: IOManager, params: Mapping[str, Any]) -> str:
    """What the body contributes: the stated version, the rendered SQL, or the source."""
    if spec.code_version is not None:
        return f"declared {spec.code_version}"
    if spec.kind == "sql":
        try:
            return render_sql(spec, io_manager, params)
        except Exception as error:
            # The run will fail on the same error; until then the asset cannot be fresh.
            return f"unrenderable {type(error).__name__}: {error}"
    try:
        return inspect.getsource(spec.body)
    except (OSError, TypeError):
        code = getattr(spec.body, "__code__", None)
        return repr((getattr(spec.body, "__qualname__", ""), code and code.co_code))


def schema_description(schema: type | str | None) -> Any:
    """A Pandera model as plain, ordered data: what it requires of every row."""
    if schema is None:
        return None
    to_schema = getattr(schema, "to_schema", None)
    if to_schema is None:
        return repr(schema)
    model = to_schema()

    def checks(items: Any) -> list[Any]:
        return [
            [c.name, json.dumps(getattr(c, "statistics", {}), sort_keys=True, default=repr)]
            for c in items or ()
        ]

    columns = [
        [
            name,
            str(column.dtype),
            column.nullable,
            column.unique,
            getattr(column, "required", True),
            checks(column.checks),
        ]
        for name, column in model.columns.items()
    ]
    return {
        "columns": columns,
        "checks": checks(model.checks),
        "unique": model.unique,
        "strict": str(model.strict),
        "ordered": model.ordered,
    }


def code_version(
    spec: AssetSpec,
    io_manager: IOManager,
    params: Mapping[str, Any] | None = None,
    table_ddl: str | None = None,
) -> str:
    """The asset's code version: 16 hex digits that change when its definition does."""
    parts = {
        "kind": spec.kind,
        "table": spec.table,
        "write_mode": spec.write_mode,
        "unique_key": list(spec.unique_key),
        "body": body_text(spec, io_manager, params or {}),
        "schema": schema_description(spec.schema),
        "ddl": table_ddl or "",
    }
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_LENGTH]
