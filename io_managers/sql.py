"""Small, dependency-free SQL text utilities for ClickHouse: quoting and literals.

Nothing here reads SQL text: statements are split by sqlglot's tokenizer
(:mod:`io_managers.sql_tokens`), and what ``pipeline query`` may run is decided by the
engine and real parsers (:mod:`io_managers.read_only`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

#: The dialect sqlglot reads this warehouse's SQL in (analysis, DDL facts, read-only checks).
DIALECT = "clickhouse"


def quote_identifier(name: str) -> str:
    """``name`` as a backtick-quoted ClickHouse identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_table(table: str) -> str:
    """``database.Table`` with both parts quoted."""
    database, name = table.split(".", 1)
    return f"{quote_identifier(database)}.{quote_identifier(name)}"


def quote_string(value: str) -> str:
    """``value`` as a ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Any) -> str:
    """A Python value as a ClickHouse literal, for checks compiled from Pandera schemas."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return quote_string(str(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return f"toDateTime64({quote_string(value.isoformat(sep=' '))}, 6, 'UTC')"
        return f"toDateTime64({quote_string(value.isoformat(sep=' '))}, 6)"
    if isinstance(value, dt.date):
        return f"toDate32({quote_string(value.isoformat())})"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "(" + ", ".join(literal(item) for item in value) + ")"
    if hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        return literal(value.to_pydatetime())
    if hasattr(value, "item"):  # numpy scalar
        return literal(value.item())
    return quote_string(str(value))
