"""The warehouse IO manager: stage, validate, publish atomically, on either backend.

Every materialization follows the same path, in SQL that is identical for embedded chdb
and a ClickHouse server (only :mod:`io_managers.transport` differs):

1. ``CREATE TABLE db._stg_<table>_<id> AS db.<table>``: a private staging table with the
   target's exact structure (the target must exist: it comes from the DDL);
2. fill it: a SQL asset's ``SELECT`` runs inside ClickHouse (``INSERT ... SELECT``), a
   Python asset's DataFrames/Arrow tables stream in as Arrow, in bounded chunks;
3. validate it against the asset's Pandera model (:mod:`io_managers.validation`);
4. publish: ``replace`` swaps it in with ``EXCHANGE TABLES`` (one atomic metadata
   operation); ``insert_new`` appends only rows whose ``unique_key`` is not yet present;
5. drop staging, always, including on failure.

Readers therefore never see a half-written or invalid table, and a failed run leaves the
previous version exactly as it was.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from io_managers import sql_analysis
from io_managers.config import WarehouseConfig
from io_managers.errors import (
    AssetValidationError,
    MaterializationError,
    ValidationFailure,
    WarehouseConnectionError,
    WarehouseError,
    WarehouseQueryError,
)
from io_managers.history import ClickHouseHistory
from io_managers.sql import (
    ensure_read_only,
    is_select,
    quote_identifier,
    quote_string,
    quote_table,
    single_statement,
    split_statements,
)
from io_managers.transport import EmbeddedTransport, ServerTransport, Transport
from io_managers.types import ClickHouseType, arrow_to_pandas, needs_text_projection, parse_type
from io_managers.validation import (
    plan_validation,
    read_projection,
    run_validation,
    validate_pandas,
)
from orchestration.io_manager import IOManager, MaterializeResult, TableReads

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext

log = logging.getLogger("pipeline.warehouse")

STAGING_PREFIX = "_stg_"
#: Python chunks are buffered up to this size before one INSERT, so tiny chunks from a
#: generator do not turn into thousands of parts.
INSERT_BATCH_ROWS = 250_000
INSERT_BATCH_BYTES = 64 * 1024 * 1024
#: A staging table this old on a shared server belongs to a run that died.
STALE_STAGING_SECONDS = 6 * 3600
#: Strict inserts: a NULL for a non-Nullable column is an error, not a silent default.
_INSERT_SETTINGS = {"input_format_null_as_default": 0}


@dataclass(frozen=True)
class _Shape:
    """A target table's columns (parsed types) and those with a default expression."""

    columns: dict[str, ClickHouseType]
    defaults: set[str]


class ClickHouseIOManager(IOManager):
    """Stores assets in ClickHouse; one instance per process, shared by all threads."""

    def __init__(self, transport: Transport, description: str = "") -> None:
        self._transport = transport
        self.authority = transport.authority
        self.description = description or transport.authority
        self._run_token = uuid.uuid4().hex[:8]
        self._history = ClickHouseHistory(transport)

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(cls, config: WarehouseConfig) -> ClickHouseIOManager:
        """Open the warehouse ``config`` describes (connecting to a server right away)."""
        if config.backend == "embedded":
            return cls.embedded(config.path or Path(".warehouse"))
        return cls(ServerTransport(config), description=config.redacted_url)

    @classmethod
    def embedded(cls, path: str | Path) -> ClickHouseIOManager:
        """The embedded warehouse in directory ``path`` (created if missing)."""
        transport = EmbeddedTransport(Path(path))
        return cls(transport, description=f"chdb://{transport.path}")

    def __repr__(self) -> str:
        return f"ClickHouseIOManager({self.description})"

    def __enter__(self) -> ClickHouseIOManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the engine (embedded) or the HTTP connections (server)."""
        self._transport.close()

    # ----------------------------------------------------------------- plain access

    def command(self, sql: str) -> None:
        """Run one statement for its effect (DDL, INSERT ... SELECT, ...)."""
        self._transport.command(sql)

    def setup(self, ddl_paths: Sequence[Path | str]) -> int:
        """Apply DDL files (or directories of ``*.sql``) statement by statement.

        Idempotent as long as the DDL says ``IF NOT EXISTS``; returns the number of
        statements run. A failing statement is reported with its file and position.
        """
        count = 0
        for path in _ddl_files(ddl_paths):
            for number, statement in enumerate(split_statements(path.read_text()), start=1):
                try:
                    self._transport.command(statement)
                except WarehouseQueryError as exc:
                    head = " ".join(statement.split())[:80]
                    raise WarehouseQueryError(
                        f"{path}: statement {number} ({head}...) failed: {exc}"
                    ) from None
                count += 1
        return count

    def history(self) -> ClickHouseHistory:
        """Materialization history in this warehouse's ``_pipeline`` database."""
        return self._history

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        """``CREATE TABLE`` of each existing table, as the engine holds it (one query)."""
        if not tables:
            return {}
        listed = ", ".join(quote_string(table) for table in tables)
        rows = self._rows(
            "SELECT concat(database, '.', name) AS table, create_table_query AS ddl "
            f"FROM system.tables WHERE concat(database, '.', name) IN ({listed})"
        )
        return {row["table"]: row["ddl"] for row in rows}

    def table_exists(self, table: str) -> bool:
        database, name = table.split(".", 1)
        rows = self._rows(
            "SELECT count() AS n FROM system.tables "
            f"WHERE database = {quote_string(database)} AND name = {quote_string(name)}"
        )
        return bool(rows[0]["n"])

    def describe(self, table: str) -> list[tuple[str, str]]:
        """``(column, ClickHouse type)`` pairs of ``database.Table``, in table order."""
        return [(name, t.text) for name, t in self._columns(f"TABLE {quote_table(table)}").items()]

    def row_count(self, table: str) -> int:
        return int(self._rows(f"SELECT count() AS n FROM {quote_table(table)}")[0]["n"])

    def query_arrow(self, sql: str) -> pa.Table:
        """A query's result as Arrow. Enum and UUID columns come back as text: Arrow has
        no enum labels, and string UUIDs read the same from either backend."""
        try:
            statement = single_statement(sql, "query")
        except ValueError as exc:
            raise WarehouseQueryError(str(exc)) from None
        return self._transport.query_arrow(self._text_projection(statement))

    def query_df(self, sql: str) -> pd.DataFrame:
        """A query's result as pandas, through Arrow (dtypes: :func:`arrow_to_pandas`)."""
        return arrow_to_pandas(self.query_arrow(sql))

    def read_only_query(self, sql: str) -> pa.Table:
        """Run a user's query after :func:`ensure_read_only` accepted it (and, on a
        server, with ``readonly`` set, so the engine refuses writes as well)."""
        statement = self._text_projection(ensure_read_only(sql))
        return self._transport.query_arrow(statement, read_only=True)

    def read_only_raw(self, sql: str, fmt: str) -> bytes:
        """A user's read query rendered by ClickHouse itself in output format ``fmt``."""
        return self._transport.raw(ensure_read_only(sql), fmt)

    def _rows(self, sql: str) -> list[dict[str, Any]]:
        return self._transport.query_arrow(sql).to_pylist()

    def _columns(self, described: str) -> dict[str, ClickHouseType]:
        """Parsed ``DESCRIBE <described>`` (``TABLE db.t`` or ``(SELECT ...)``)."""
        return self._describe(described)[0]

    def _describe(self, described: str) -> tuple[dict[str, ClickHouseType], set[str]]:
        """Column types, and the columns with a DEFAULT/MATERIALIZED/ALIAS expression."""
        table = self._transport.query_arrow(f"DESCRIBE {described}")
        names = table.column("name").to_pylist()
        types = table.column("type").to_pylist()
        kinds = table.column("default_type").to_pylist()
        columns = {name: parse_type(kind) for name, kind in zip(names, types, strict=True)}
        return columns, {name for name, kind in zip(names, kinds, strict=True) if kind}

    def _text_projection(self, statement: str) -> str:
        if not is_select(statement):
            return statement
        columns = self._columns(f"({statement})")
        if not any(needs_text_projection(t) for t in columns.values()):
            return statement
        return f"SELECT {read_projection(columns, columns)} FROM ({statement})"

    # ----------------------------------------------------------------- SQL analysis

    def tables_read(self, sql: str) -> TableReads:
        return sql_analysis.tables_read(sql)

    def column_lineage(
        self, sql: str, columns_of: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[str, ...]]:
        return sql_analysis.column_lineage(sql, columns_of)

    # ----------------------------------------------------------------- materialize

    def materialize(self, spec: AssetSpec, context: AssetContext) -> MaterializeResult:
        started = time.perf_counter()
        target = quote_table(spec.table)
        shape = self._target_shape(spec)
        target_columns = shape.columns
        self._drop_abandoned_staging(spec)
        staging_name = f"{STAGING_PREFIX}{spec.table_name}_{self._run_token}_{uuid.uuid4().hex[:8]}"
        staging = f"{quote_identifier(spec.database)}.{quote_identifier(staging_name)}"
        metadata: dict[str, Any] = {"write_mode": spec.write_mode}
        try:
            self._transport.command(f"CREATE TABLE {staging} AS {target}")
            new_keys_only = False
            if spec.kind == "sql":
                new_keys_only = self._stage_sql(spec, context, staging, shape)
                python_checks_done = False
            else:
                python_checks_done = self._stage_python(spec, context, staging, shape)
                # Arrow's allocator keeps the freed chunk buffers for reuse; hand them back
                # before the engine's big statements, or they add to the process's peak.
                pa.default_memory_pool().release_unused()
            metadata["staged_rows"] = int(self._rows(f"SELECT count() AS n FROM {staging}")[0]["n"])
            checked = time.perf_counter()
            self._validate(spec, staging, target_columns, python_checks_done)
            metadata["validation_seconds"] = round(time.perf_counter() - checked, 4)
            inserted = self._publish(
                spec,
                staging,
                target,
                list(target_columns),
                new_rows=metadata["staged_rows"] if new_keys_only else None,
            )
        except WarehouseError as exc:
            if isinstance(exc, (MaterializationError, WarehouseConnectionError)):
                raise
            raise MaterializationError(f"asset {spec.key!r} (table {spec.table}): {exc}") from exc
        finally:
            self._drop_quietly(staging)
        stats = self._rows(
            "SELECT total_rows AS rows, total_bytes AS bytes FROM system.tables "
            f"WHERE database = {quote_string(spec.database)} "
            f"AND name = {quote_string(spec.table_name)}"
        )
        rows = stats[0]["rows"] if stats else None
        size = stats[0]["bytes"] if stats else None
        return MaterializeResult(
            table=spec.table,
            rows=int(rows) if rows is not None else self.row_count(spec.table),
            seconds=round(time.perf_counter() - started, 4),
            bytes=int(size) if size is not None else None,
            columns=tuple(target_columns),
            inserted_rows=inserted,
            metadata=metadata,
        )

    def _target_shape(self, spec: AssetSpec) -> _Shape:
        if not self.table_exists(spec.table):
            raise MaterializationError(
                f"asset {spec.key!r}: table {spec.table} does not exist; declare it in the "
                "DDL (ddl/*.sql, CREATE TABLE IF NOT EXISTS) and run the warehouse setup"
            )
        return _Shape(*self._describe(f"TABLE {quote_table(spec.table)}"))

    def _check_columns(self, spec: AssetSpec, produced: Sequence[str], shape: _Shape) -> None:
        """Columns are matched by name: unknown or missing (non-default) ones are errors."""
        duplicates = sorted({name for name in produced if list(produced).count(name) > 1})
        if duplicates:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): output has duplicate column(s) "
                f"{', '.join(duplicates)}"
            )
        unknown = [name for name in produced if name not in shape.columns]
        if unknown:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): output column(s) "
                f"{', '.join(unknown)} are not in the table (columns: {', '.join(shape.columns)})"
            )
        missing = [n for n in shape.columns if n not in produced and n not in shape.defaults]
        if missing:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): output lacks column(s) "
                f"{', '.join(missing)}, which have no DEFAULT in the DDL"
            )

    def _stage_sql(
        self,
        spec: AssetSpec,
        context: AssetContext,
        staging: str,
        shape: _Shape,
    ) -> bool:
        """Run the SELECT into staging; True if only keys new to the target were staged."""
        body = spec.body(context)
        if not isinstance(body, str):
            raise MaterializationError(
                f"asset {spec.key!r}: a SQL asset must return a SELECT string, "
                f"got {type(body).__name__}"
            )
        try:
            select = single_statement(body, f"asset {spec.key!r} SELECT")
        except ValueError as exc:
            raise MaterializationError(str(exc)) from None
        if not is_select(select):
            raise MaterializationError(
                f"asset {spec.key!r}: a SQL asset must return a SELECT (or WITH ... SELECT)"
            )
        try:
            produced = list(self._columns(f"({select})"))
        except WarehouseQueryError as exc:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): its SELECT does not compile: {exc}"
            ) from None
        self._check_columns(spec, produced, shape)
        new_keys_only = spec.write_mode == "insert_new" and set(spec.unique_key) <= set(produced)
        if new_keys_only:
            # Stage only keys the target lacks, so staging holds exactly what publishing
            # adds and can be attached as it is (no second copy, no second sort); the
            # validation then checks exactly the rows that will be published.
            select = (
                f"SELECT * FROM (\n{select}\n) WHERE {_new_keys(spec, quote_table(spec.table))}"
            )
        columns = ", ".join(quote_identifier(name) for name in produced)
        try:
            self._transport.command(
                f"INSERT INTO {staging} ({columns}) SETTINGS insert_null_as_default = 0\n{select}"
            )
        except WarehouseQueryError as exc:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): its SELECT failed: {exc}"
            ) from None
        return new_keys_only

    def _stage_python(
        self,
        spec: AssetSpec,
        context: AssetContext,
        staging: str,
        shape: _Shape,
    ) -> bool:
        """Stream the body's output into staging; True if Pandera saw every chunk."""
        output = spec.body(context)
        all_pandas = True
        checked_columns: tuple[str, ...] | None = None
        buffered: list[pa.Table] = []
        buffered_rows = buffered_bytes = 0
        for number, chunk in enumerate(_chunks(spec, output), start=1):
            if isinstance(chunk, pd.DataFrame):
                if spec.schema is not None:
                    chunk, failures = validate_pandas(spec.schema, chunk)
                    if failures:
                        raise AssetValidationError(
                            spec.key, spec.table, _in_chunk(failures, number)
                        )
                table = _frame_to_arrow(spec, chunk)
            else:
                all_pandas = False
                table = chunk
            if checked_columns != tuple(table.column_names):
                self._check_columns(spec, table.column_names, shape)
                checked_columns = tuple(table.column_names)
            if buffered and buffered[0].schema != table.schema:
                self._insert(spec, staging, buffered)
                buffered, buffered_rows, buffered_bytes = [], 0, 0
            buffered.append(table)
            buffered_rows += table.num_rows
            buffered_bytes += table.nbytes
            if buffered_rows >= INSERT_BATCH_ROWS or buffered_bytes >= INSERT_BATCH_BYTES:
                self._insert(spec, staging, buffered)
                buffered, buffered_rows, buffered_bytes = [], 0, 0
        if buffered:
            self._insert(spec, staging, buffered)
        return all_pandas

    def _insert(self, spec: AssetSpec, staging: str, tables: list[pa.Table]) -> None:
        data = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if data.num_rows == 0:
            return
        try:
            self._transport.insert_arrow(staging, data, _INSERT_SETTINGS)
        except WarehouseQueryError as exc:
            raise MaterializationError(
                f"asset {spec.key!r} (table {spec.table}): writing its rows failed: {exc}"
            ) from None

    def _validate(
        self,
        spec: AssetSpec,
        staging: str,
        target_columns: dict[str, ClickHouseType],
        python_checks_done: bool,
    ) -> None:
        unique_key = spec.unique_key if spec.write_mode == "insert_new" else ()
        plan = plan_validation(spec.schema, target_columns, unique_key, python_checks_done)
        failures = run_validation(
            plan,
            staging,
            target_columns,
            self._rows,
            lambda sql: self._transport.iter_arrow(sql, 500_000),
        )
        if failures:
            raise AssetValidationError(spec.key, spec.table, failures)

    def _publish(
        self,
        spec: AssetSpec,
        staging: str,
        target: str,
        columns: list[str],
        new_rows: int | None = None,
    ) -> int | None:
        """Make staging visible; returns rows added for ``insert_new``.

        ``new_rows`` is given when staging holds only keys new to the target.
        """
        if spec.write_mode == "replace":
            try:
                self._transport.command(f"EXCHANGE TABLES {staging} AND {target}")
            except WarehouseQueryError as exc:
                if "NOT_IMPLEMENTED" not in str(exc) and "not supported" not in str(exc):
                    raise
                # Databases without EXCHANGE (e.g. Ordinary): one multi-table RENAME.
                old_name = f"{STAGING_PREFIX}old_{uuid.uuid4().hex[:8]}"
                old = f"{quote_identifier(spec.database)}.{quote_identifier(old_name)}"
                self._transport.command(f"RENAME TABLE {target} TO {old}, {staging} TO {target}")
                self._transport.command(f"RENAME TABLE {old} TO {staging}")
            return None
        if new_rows is not None and self._attach_staged_parts(spec, staging, target):
            return new_rows
        listed = ", ".join(quote_identifier(name) for name in columns)
        before = self.row_count(spec.table)
        # Anti-join on the key: rerunning, or rerunning after a crash part-way through
        # this very INSERT, adds only what is missing, so no duplicates ever appear.
        self._transport.command(
            f"INSERT INTO {target} ({listed}) "
            "SETTINGS insert_null_as_default = 0\n"
            f"SELECT {listed} FROM {staging} WHERE {_new_keys(spec, target)}"
        )
        return self.row_count(spec.table) - before

    def _attach_staged_parts(self, spec: AssetSpec, staging: str, target: str) -> bool:
        """Publish new keys by attaching staging's parts to the target; False if unsuited.

        Staging already holds only new keys (see :meth:`_stage_sql`) and has the
        target's exact structure, so ``ATTACH PARTITION ... FROM`` hard-links its sorted
        parts into the target: no rows are read or written again. Each partition is
        attached atomically; after a crash between partitions, the rerun's anti-join
        skips whatever was attached. Tables outside the MergeTree family, and tables
        with materialized views (which only see INSERTs), get the INSERT instead.
        """
        database, name = spec.table.split(".", 1)
        described = self._rows(
            "SELECT engine, length(dependencies_table) AS views FROM system.tables "
            f"WHERE database = {quote_string(database)} AND name = {quote_string(name)}"
        )
        if not described or described[0]["views"] or "MergeTree" not in described[0]["engine"]:
            return False
        staging_name = staging.split(".", 1)[1].strip("`")  # generated: needs no unescaping
        partitions = self._rows(
            "SELECT DISTINCT partition_id FROM system.parts "
            f"WHERE database = {quote_string(database)} "
            f"AND table = {quote_string(staging_name)} AND active"
        )
        for row in partitions:
            self._transport.command(
                f"ALTER TABLE {target} ATTACH PARTITION ID {quote_string(row['partition_id'])} "
                f"FROM {staging}"
            )
        return True

    def _drop_quietly(self, staging: str) -> None:
        try:
            self._transport.command(f"DROP TABLE IF EXISTS {staging} SYNC")
        except WarehouseError as exc:  # never mask the materialization's own outcome
            log.warning("could not drop staging table %s: %s", staging, exc)

    def _drop_abandoned_staging(self, spec: AssetSpec) -> None:
        """Drop staging tables of ``spec`` left by a run that died before cleaning up.

        Embedded: the directory belongs to this process alone, so any staging table
        not created by it is abandoned. Server: other runs may be live, so only tables
        older than :data:`STALE_STAGING_SECONDS` are.
        """
        # Staging names are _stg_<table>_<run token>_<id>, both hex of fixed width, so
        # the pattern cannot match another table's staging (e.g. of "a_b" for "a").
        pattern = f"^{re.escape(STAGING_PREFIX + spec.table_name)}_[0-9a-f]{{8}}_[0-9a-f]{{8}}$"
        own = f"{STAGING_PREFIX}{spec.table_name}_{self._run_token}_"
        condition = (
            f"NOT startsWith(name, {quote_string(own)})"
            if self._transport.exclusive
            else f"metadata_modification_time < now() - {STALE_STAGING_SECONDS}"
        )
        rows = self._rows(
            "SELECT name FROM system.tables "
            f"WHERE database = {quote_string(spec.database)} "
            f"AND match(name, {quote_string(pattern)}) AND {condition}"
        )
        for row in rows:
            name = f"{quote_identifier(spec.database)}.{quote_identifier(row['name'])}"
            log.warning("dropping abandoned staging table %s", name)
            self._drop_quietly(name)


def _new_keys(spec: AssetSpec, target: str) -> str:
    """WHERE condition keeping rows whose ``unique_key`` is not in ``target`` yet.

    ``NOT IN`` a subquery builds one hash set of the target's keys (it is ClickHouse's
    cheapest anti-join); ``transform_null_in`` makes a NULL key equal a NULL key.
    """
    key = ", ".join(quote_identifier(name) for name in spec.unique_key)
    key_expr = f"({key})" if len(spec.unique_key) > 1 else key
    return f"{key_expr} NOT IN (SELECT {key} FROM {target}) SETTINGS transform_null_in = 1"


def _ddl_files(paths: Sequence[Path | str]) -> Iterator[Path]:
    for item in paths:
        path = Path(item)
        if path.is_dir():
            yield from sorted(path.glob("*.sql"))
        elif path.is_file():
            yield path
        else:
            raise WarehouseError(f"DDL file {path} does not exist")


def _chunks(spec: AssetSpec, output: Any) -> Iterator[pd.DataFrame | pa.Table]:
    """Normalise a Python asset's output into a stream of DataFrames and Arrow tables."""
    if isinstance(output, (pd.DataFrame, pa.Table)):
        yield output
        return
    if isinstance(output, pa.RecordBatch):
        yield pa.Table.from_batches([output])
        return
    if isinstance(output, pa.RecordBatchReader):
        for batch in output:
            yield pa.Table.from_batches([batch])
        return
    if isinstance(output, Iterable) and not isinstance(output, (str, bytes, dict)):
        for item in output:
            if isinstance(item, pa.RecordBatch):
                item = pa.Table.from_batches([item])
            if not isinstance(item, (pd.DataFrame, pa.Table)):
                raise MaterializationError(
                    f"asset {spec.key!r}: its body yielded {type(item).__name__}; "
                    "yield pandas DataFrames or pyarrow Tables"
                )
            yield item
        return
    raise MaterializationError(
        f"asset {spec.key!r}: a Python asset must return a pandas DataFrame, a pyarrow "
        f"Table or an iterable of them, got {type(output).__name__}"
    )


def _frame_to_arrow(spec: AssetSpec, frame: pd.DataFrame) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise MaterializationError(
            f"asset {spec.key!r} (table {spec.table}): its DataFrame cannot be converted "
            f"to Arrow: {exc}"
        ) from None


def _in_chunk(failures: list[ValidationFailure], number: int) -> list[ValidationFailure]:
    if number == 1:
        return failures
    return [
        ValidationFailure(f.column, f"{f.check} (in chunk {number})", f.failing_rows, f.examples)
        for f in failures
    ]
