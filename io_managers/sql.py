"""Small, dependency-free SQL text utilities for ClickHouse.

A real lexer (strings, quoted identifiers, nested comments) rather than regexes over raw
text, because DDL files and user queries routinely contain ``;`` or ``--`` inside string
literals. (What ``pipeline query`` may run is decided by the engine and real parsers:
see :mod:`io_managers.read_only`.)
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Iterator
from typing import Any, Literal

#: The dialect sqlglot reads this warehouse's SQL in (analysis, DDL facts, read-only checks).
DIALECT = "clickhouse"

SegmentKind = Literal["code", "string", "identifier", "comment"]


def _segments(sql: str) -> Iterator[tuple[SegmentKind, str]]:
    """Split ``sql`` into code, string literal, quoted identifier and comment pieces."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            if start < i:
                yield "code", sql[start:i]
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # doubled quote escapes itself
                        j += 2
                        continue
                    break
                j += 1
            j = min(j + 1, n)
            yield ("string" if ch == "'" else "identifier"), sql[i:j]
            i = start = j
        elif sql.startswith("--", i) or (ch == "#" and sql[i + 1 : i + 2] in (" ", "!", "\n", "")):
            if start < i:
                yield "code", sql[start:i]
            j = sql.find("\n", i)
            j = n if j < 0 else j
            yield "comment", sql[i:j]
            i = start = j
        elif sql.startswith("/*", i):
            if start < i:
                yield "code", sql[start:i]
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            yield "comment", sql[i:j]
            i = start = j
        else:
            i += 1
    if start < n:
        yield "code", sql[start:]


def split_statements(sql: str) -> list[str]:
    """Statements of a script, split on ``;`` outside strings and comments.

    Comments are dropped and empty statements skipped, so a DDL file with a trailing
    ``;`` or a commented-out block yields exactly the statements that will run.
    """
    statements: list[str] = []
    current: list[str] = []
    for kind, text in _segments(sql):
        if kind == "comment":
            current.append(" ")
            continue
        if kind != "code":
            current.append(text)
            continue
        parts = text.split(";")
        current.append(parts[0])
        for part in parts[1:]:
            statements.append("".join(current).strip())
            current = [part]
    statements.append("".join(current).strip())
    return [statement for statement in statements if statement]


def single_statement(sql: str, what: str = "statement") -> str:
    """The one statement in ``sql`` (comments removed, trailing ``;`` dropped)."""
    statements = split_statements(sql)
    if not statements:
        raise ValueError(f"{what} is empty")
    if len(statements) > 1:
        raise ValueError(f"{what} must be a single statement, found {len(statements)}")
    return statements[0]


def _code_only(sql: str) -> str:
    """The code of ``sql`` with literals and identifiers blanked, for keyword checks."""
    return " ".join(text if kind == "code" else " " for kind, text in _segments(sql))


def first_keyword(sql: str) -> str:
    """The statement's leading keyword, upper-cased (leading parentheses skipped)."""
    match = re.match(r"[\s(]*([A-Za-z]+)", _code_only(sql))
    return match.group(1).upper() if match else ""


def is_select(sql: str) -> bool:
    """Whether ``sql`` is a query whose result columns ``DESCRIBE (...)`` can report."""
    return first_keyword(sql) in ("SELECT", "WITH")


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
