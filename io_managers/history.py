"""Materialization history in the warehouse itself: ``_pipeline.materializations``.

The framework's own database, created by the first write (a read finds none, and
creates nothing), one table with one row per materialization (see
:mod:`orchestration.history`). A materialization is written twice
under one id: ``started`` before any work, then its outcome. The table is a
``ReplacingMergeTree`` keyed by (asset, id) whose version is the write's stage, so
``FINAL`` shows each materialization once, as its last write; a process killed before
the outcome leaves ``started``, which never claims a publish.

Every write is one statement and one part, of one row (an outcome) or of a run's
``started`` rows together: the table stores such small parts *packed* (one file rather
than a dozen) and computes no automatic column statistics for them: a write costs half
the engine time while big tables merge, as during a run (13 against 25 ms median), a
fifth less when the engine is idle (5.5 against 7.1 ms; docs/benchmark.md). A part is
still committed by one rename, so a killed process leaves each write whole or absent,
never half. The table's COMMENT names its layout; a table an older version made is brought to
it by its first write (``ALTER ... MODIFY SETTING``, ``ADD COLUMN IF NOT EXISTS``: metadata
only, its rows stay as they are and read the same, a column added since as NULL: not
recorded). Reads ask for ``*``, so a table not yet brought to it reads as well.

Readers can query it like any table:
``pipeline query "SELECT * FROM _pipeline.materializations FINAL ORDER BY started"``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from io_managers.catalog import Catalog
from io_managers.errors import WarehouseQueryError
from io_managers.sql import quote_string
from io_managers.transport import Transport
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord

DATABASE = "_pipeline"
TABLE = f"{DATABASE}.materializations"
#: Where a time read as microseconds counts from (:func:`_python_rows`).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAGE = {"started": 0, "materialized": 1, "failed": 1, "skipped": 1}
#: The table's layout, kept in its COMMENT (see the module's docstring): 2 packed the
#: one-row parts, 3 added ``check_versions``.
LAYOUT = "pipeline materialization history, layout 3: one-row parts packed, check versions"
#: Settings that make a one-row write cheap; only those the engine knows are applied
#: (older servers lack some, and an unknown setting would refuse the table).
_CHEAP_WRITES = {"min_bytes_for_full_part_storage": "1048576", "auto_statistics_types": "''"}

#: Columns a later layout added, which an older table is given by its first write.
_CHECK_VERSIONS = (
    "check_versions Nullable(String) "
    "COMMENT 'JSON: check name -> hash of its SQL and its severity (NULL: not recorded)'"
)
_ADDED_COLUMNS = (_CHECK_VERSIONS,)

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    materialization_id String,
    run_id Nullable(String),
    asset_key String,
    `table` String,
    code_version String,
    upstream String COMMENT 'JSON: upstream asset key -> materialization_id it read',
    source_fingerprint Nullable(String),
    rows_in_table Nullable(UInt64),
    rows_inserted Nullable(UInt64),
    started DateTime64(6, 'UTC'),
    ended Nullable(DateTime64(6, 'UTC')),
    status LowCardinality(String),
    error Nullable(String),
    stage UInt8 COMMENT '0 started, 1 outcome: the later write wins under FINAL',
    {_CHECK_VERSIONS}
)
ENGINE = ReplacingMergeTree(stage)
ORDER BY (asset_key, materialization_id)
"""


class ClickHouseHistory(MaterializationHistory):
    """History kept in the warehouse the assets live in, through the same transport."""

    def __init__(self, transport: Transport, catalog: Catalog) -> None:
        self._transport = transport
        self._catalog = catalog
        #: The table's COMMENT as last seen (None: not looked yet); LAYOUT once laid out.
        self._layout: str | None = None
        self._lock = threading.Lock()

    @property
    def one_process_at_a_time(self) -> bool:
        """The embedded warehouse is (chdb locks its directory); a server is not."""
        return self._transport.exclusive

    def _ensure_table(self, writing: bool) -> bool:
        """Whether the table exists. Before the first write, create it if missing or
        bring an older one to :data:`LAYOUT`; reading never creates or alters it (a
        command that only reads writes nothing to the warehouse)."""
        with self._lock:
            if self._layout == LAYOUT or (self._layout is not None and not writing):
                return True
            facts = self._catalog.table(TABLE)  # kept embedded: no statement at all
            if facts is None and not writing:
                return False  # never written: there is no history to read
            if facts is not None and (facts.comment == LAYOUT or not writing):
                self._layout = facts.comment
                return True
            with _naming_the_table():
                settings = self._cheap_write_settings()
                if facts is None:
                    self._transport.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
                    listed = f"SETTINGS {settings} " if settings else ""
                    self._transport.command(f"{_DDL}{listed}COMMENT {quote_string(LAYOUT)}")
                else:
                    for column in _ADDED_COLUMNS:
                        self._transport.command(
                            f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {column}"
                        )
                    if settings:
                        self._transport.command(f"ALTER TABLE {TABLE} MODIFY SETTING {settings}")
                    self._transport.command(
                        f"ALTER TABLE {TABLE} MODIFY COMMENT {quote_string(LAYOUT)}"
                    )
            self._catalog.forget()
            self._layout = LAYOUT
            return True

    def _cheap_write_settings(self) -> str:
        """``name = value, ...`` of the :data:`_CHEAP_WRITES` this engine knows."""
        listed = ", ".join(quote_string(name) for name in _CHEAP_WRITES)
        known = {
            row["name"]
            for row in self._transport.query_arrow(
                f"SELECT name FROM system.merge_tree_settings WHERE name IN ({listed})"
            ).to_pylist()
        }
        return ", ".join(
            f"{name} = {value}" for name, value in _CHEAP_WRITES.items() if name in known
        )

    def record(self, record: MaterializationRecord) -> None:
        self.record_all([record])

    def record_all(self, records: Sequence[MaterializationRecord]) -> None:
        """One statement for all ``records``, their rows inline: an Arrow insert is a
        streamed exchange of several calls into the engine, 4x the time of this for one
        row (measured)."""
        if not records:
            return
        self._ensure_table(writing=True)
        rows = "\n".join(json.dumps(_row(record)) for record in records)
        with _naming_the_table():
            self._transport.command(f"INSERT INTO {TABLE} FORMAT JSONEachRow\n{rows}")

    def latest(self, tables: Mapping[str, str]) -> dict[str, AssetHistory]:
        wanted = sorted(tables.items())
        if not wanted:
            return {}
        if not self._ensure_table(writing=False):
            return {}
        # Key and table, compared by the engine as it compares names (exactly): the same
        # key of another code location, writing another table, is another asset. The
        # primary key's asset_key still selects the granules (the tuple's first column).
        listed = ", ".join(f"({quote_string(key)}, {quote_string(table)})" for key, table in wanted)
        latest = "ORDER BY asset_key, started DESC, materialization_id LIMIT 1 BY asset_key"
        base = f"FROM {TABLE} FINAL WHERE (asset_key, `table`) IN ({listed})"
        # Both in one statement: each asset's last attempt, and its last success. (With
        # FINAL the conditions apply to each materialization's last write.)
        with _naming_the_table():
            rows = _python_rows(
                self._transport.query_arrow(
                    f"(SELECT *, 0 AS __success {base} AND status != 'skipped' {latest}) "
                    f"UNION ALL (SELECT *, 1 AS __success {base} AND status = 'materialized' "
                    f"{latest})"
                )
            )
        attempts = {row["asset_key"]: _record(row) for row in rows if not row["__success"]}
        successes = {row["asset_key"]: _record(row) for row in rows if row["__success"]}
        return {
            key: AssetHistory(last_attempt=attempts.get(key), last_success=successes.get(key))
            for key, _ in wanted
            if key in attempts
        }

    def recent(
        self, tables: Mapping[str, str], limit: int, *, except_run: str | None = None
    ) -> dict[str, list[MaterializationRecord]]:
        """One statement for every asset: ``LIMIT n BY asset_key`` keeps each one's newest."""
        wanted = sorted(tables.items())
        if not wanted or limit < 1 or not self._ensure_table(writing=False):
            return {}
        listed = ", ".join(f"({quote_string(key)}, {quote_string(table)})" for key, table in wanted)
        others = f" AND ifNull(run_id, '') != {quote_string(except_run)}" if except_run else ""
        newest = "ORDER BY asset_key, started DESC, materialization_id"
        with _naming_the_table():
            rows = _python_rows(
                self._transport.query_arrow(
                    f"SELECT * FROM {TABLE} FINAL WHERE (asset_key, `table`) IN ({listed}) "
                    f"{others} {newest} LIMIT {limit:d} BY asset_key"
                )
            )
        found: dict[str, list[MaterializationRecord]] = {}
        for row in rows:
            found.setdefault(row["asset_key"], []).append(_record(row))
        return found


#: The engine's errors that say the table is not laid out as this module made it (a
#: column renamed, dropped or retyped by hand): only then is dropping it the way out. Not
#: for a full disk, a memory limit or a lost server, after which the history is sound.
_CHANGED_BY_HAND = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        8,  # THERE_IS_NO_COLUMN
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        41,  # CANNOT_PARSE_DATETIME
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        47,  # UNKNOWN_IDENTIFIER
        53,  # TYPE_MISMATCH
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        386,  # NO_COMMON_TYPE
    }
)


@contextlib.contextmanager
def _naming_the_table() -> Iterator[None]:
    """Engine errors say what failed, not that it was the history: say so, and how to
    start it again where a hand changed its layout. (A full disk is no engine refusal
    here: :class:`~io_managers.errors.WarehouseDiskFullError` says it in its own line.)"""
    try:
        yield
    except WarehouseQueryError as exc:
        hint = ""
        if exc.code in _CHANGED_BY_HAND:
            hint = (
                " (it is the framework's own table; if it was changed by hand, drop it and "
                "it is created again, empty)"
            )
        error = WarehouseQueryError(f"materialization history {TABLE}: {exc}{hint}")
        error.code = exc.code
        raise error from None


def _row(record: MaterializationRecord) -> dict[str, Any]:
    return {
        "materialization_id": record.materialization_id,
        "run_id": record.run_id,
        "asset_key": record.asset_key,
        "table": record.table,
        "code_version": record.code_version,
        "upstream": json.dumps(dict(record.upstream), sort_keys=True),
        "source_fingerprint": record.source_fingerprint,
        "rows_in_table": record.rows,
        "rows_inserted": record.inserted_rows,
        "started": _utc_text(record.started),
        "ended": _utc_text(record.ended),
        "status": record.status,
        "error": record.error,
        "stage": _STAGE[record.status],
        "check_versions": (
            None
            if record.check_versions is None
            else json.dumps(record.check_versions, sort_keys=True)
        ),
    }


def _utc_text(moment: datetime | None) -> str | None:
    """A time as DateTime64(6, 'UTC') reads it from text (a naive one is taken as UTC)."""
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _python_rows(table: Any) -> list[dict[str, Any]]:
    """``table``'s rows as dicts, its times as UTC datetimes. Not ``Table.to_pylist`` alone:
    pyarrow turns a timestamp into a datetime through pandas, whose import (0.15-0.3 s)
    `pipeline checks` and `status`, which read the history, need for nothing else. So
    the times come over as microseconds since the epoch."""
    import pyarrow as pa

    times = [i for i, column in enumerate(table.schema) if pa.types.is_timestamp(column.type)]
    for i in times:
        table = table.set_column(i, table.field(i).name, table.column(i).cast(pa.int64()))
    rows = table.to_pylist()
    for name in (table.field(i).name for i in times):
        for row in rows:
            if row[name] is not None:
                row[name] = _EPOCH + timedelta(microseconds=row[name])
    return rows


def _record(row: dict[str, Any]) -> MaterializationRecord:
    return MaterializationRecord(
        materialization_id=row["materialization_id"],
        run_id=row["run_id"],
        asset_key=row["asset_key"],
        table=row["table"],
        code_version=row["code_version"],
        upstream=json.loads(row["upstream"] or "{}"),
        source_fingerprint=row["source_fingerprint"],
        rows=row["rows_in_table"],
        inserted_rows=row["rows_inserted"],
        started=row["started"],
        ended=row["ended"],
        status=row["status"],
        error=row["error"],
        # Absent from a table an older version made, until a write adds it (NULL then).
        check_versions=json.loads(versions) if (versions := row.get("check_versions")) else None,
    )
