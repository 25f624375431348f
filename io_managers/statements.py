"""SQL text of the materialization steps, one function per statement shape.

Kept apart from the code that runs them so the statements can be read (and reviewed for
atomicity) in one place: staging is a copy of the target's structure, publishing is a
metadata swap or an anti-join on the unique key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from io_managers.sql import quote_identifier, quote_string

STAGING_PREFIX = "_stg_"
#: Strict inserts: a NULL for a non-Nullable column is an error, not a silent default.
INSERT_SETTINGS = {"input_format_null_as_default": 0}
#: How an asset's SELECT resolves names, whatever the server's profile says: its aliases
#: before the columns it reads (ClickHouse's default). Its DESCRIBE and its INSERT both
#: run with it, and the uniqueness it proves (:mod:`io_managers.unique_by_select`) is
#: read with it.
SELECT_SETTINGS = "prefer_column_name_to_alias = 0"


def quoted_columns(columns: Sequence[str]) -> str:
    return ", ".join(quote_identifier(name) for name in columns)


def staging_name(table_name: str, run_token: str, unique: str) -> str:
    """``_stg_<table>_<run token>_<id>``: both hex of fixed width (see :func:`staging_pattern`)."""
    return f"{STAGING_PREFIX}{table_name}_{run_token}_{unique}"


def staging_pattern(table_name: str) -> str:
    """RE2 pattern of :func:`staging_name` for one table; cannot match ``a_b``'s for ``a``."""
    return f"^{re.escape(STAGING_PREFIX + table_name)}_[0-9a-f]{{8}}_[0-9a-f]{{8}}$"


def any_staging_pattern() -> str:
    """RE2 pattern of every staging name, whatever its table and process."""
    return f"^{re.escape(STAGING_PREFIX)}.+_[0-9a-f]{{8}}_[0-9a-f]{{8}}$"


def staging_pattern_of_run(run_token: str) -> str:
    """RE2 pattern of every staging name one process (``run_token``) created."""
    return f"^{re.escape(STAGING_PREFIX)}.+_{re.escape(run_token)}_[0-9a-f]{{8}}$"


def create_like(staging: str, target: str) -> str:
    return f"CREATE TABLE {staging} AS {target}"


def drop_table(table: str) -> str:
    return f"DROP TABLE IF EXISTS {table} SYNC"


def insert_select(table: str, columns: Sequence[str], select: str) -> str:
    """``INSERT ... SELECT`` by column name; a NULL for a non-Nullable column fails."""
    return (
        f"INSERT INTO {table} ({quoted_columns(columns)}) "
        f"SETTINGS insert_null_as_default = 0, {SELECT_SETTINGS}\n{select}"
    )


def select_by_name(columns: Sequence[str], select: str) -> str:
    """``columns`` of ``select``, by name: a column it does not give is an error."""
    return f"SELECT {quoted_columns(columns)} FROM (\n{select}\n)"


def described_select(select: str) -> str:
    """What ``DESCRIBE`` takes to report the columns ``select`` gives when inserted."""
    return f"({select}) SETTINGS {SELECT_SETTINGS}"


def new_keys_condition(unique_key: Sequence[str], target: str) -> str:
    """WHERE condition keeping rows whose ``unique_key`` is not in ``target`` yet.

    ``NOT IN`` a subquery builds one hash set of the target's keys (it is ClickHouse's
    cheapest anti-join); ``transform_null_in`` makes a NULL key equal a NULL key.
    """
    return _not_in(unique_key, target)


def _not_in(unique_key: Sequence[str], source: str) -> str:
    """``key NOT IN (SELECT key FROM source)``, a NULL key equal to a NULL key."""
    key = quoted_columns(unique_key)
    key_expr = f"({key})" if len(unique_key) > 1 else key
    return f"{key_expr} NOT IN (SELECT {key} FROM {source}) SETTINGS transform_null_in = 1"


def rows_not_yielded(target: str, unique_key: Sequence[str], select: str) -> str:
    """Count ``target``'s rows whose ``unique_key`` ``select`` does not yield: what
    rebuilding ``target`` from ``select`` alone would drop (the anti-join of
    :func:`new_keys_condition`, the other way round). The count is not aliased: an alias
    would shadow a key column of the same name in the condition."""
    return f"SELECT count() FROM {target} WHERE {_not_in(unique_key, f'({select})')}"


def only_new_keys(select: str, unique_key: Sequence[str], target: str) -> str:
    """``select`` narrowed to rows whose key ``target`` does not hold yet."""
    return f"SELECT * FROM (\n{select}\n) WHERE {new_keys_condition(unique_key, target)}"


def insert_new_keys(
    target: str, staging: str, columns: Sequence[str], unique_key: Sequence[str]
) -> str:
    """Append staging's rows whose key the target lacks (idempotent on rerun)."""
    return (
        f"INSERT INTO {target} ({quoted_columns(columns)}) SETTINGS insert_null_as_default = 0\n"
        f"{new_keys_select(target, staging, columns, unique_key)}"
    )


def new_keys_select(
    target: str, staging: str, columns: Sequence[str], unique_key: Sequence[str]
) -> str:
    """Staging's rows whose key the target lacks: what :func:`insert_new_keys` appends."""
    listed = quoted_columns(columns)
    return f"SELECT {listed} FROM {staging} WHERE {new_keys_condition(unique_key, target)}"


def appended(target: str, columns: Sequence[str], added: str) -> str:
    """What ``target`` holds once the rows ``added`` selects are appended: what an
    insert-only asset's checks read before it is published."""
    return f"SELECT {quoted_columns(columns)} FROM {target}\nUNION ALL\n{added}"


def create_view(view: str, select: str) -> str:
    return f"CREATE VIEW {view} AS\n{select}"


def exchange(staging: str, target: str) -> str:
    return f"EXCHANGE TABLES {staging} AND {target}"


def attach_partition(target: str, partition_id: str, staging: str) -> str:
    return f"ALTER TABLE {target} ATTACH PARTITION ID {quote_string(partition_id)} FROM {staging}"
