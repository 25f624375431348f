"""The warehouse IO manager: stage, validate, publish atomically, on either backend.

Every materialization follows the same path, in SQL that is identical for embedded chdb
and a ClickHouse server (only :mod:`io_managers.transport` differs):

1. ``CREATE TABLE db._stg_<table>_<id> AS db.<table>``: a private staging table with the
   target's exact structure (the target must exist: it comes from the DDL;
   :mod:`io_managers.staging`);
2. fill it: a SQL asset's ``SELECT`` runs inside ClickHouse (``INSERT ... SELECT``), a
   Python asset's DataFrames/Arrow tables stream in as Arrow, in bounded chunks
   (:mod:`io_managers.stage`);
3. validate it against the asset's Pandera model (:mod:`io_managers.validation`), and
   hold its row count to the rows written into it (chdb drops rows it has no disk space
   for without raising; :mod:`io_managers.staged`); then hand the caller's
   ``before_publish`` (the asset's checks) what the table will hold once published:
   staging, or for ``insert_new`` a view of the target with the rows step 4 appends;
4. publish: ``replace`` swaps it in with ``EXCHANGE TABLES`` (one atomic metadata
   operation); ``insert_new`` appends only rows whose ``unique_key`` is not yet present
   (:mod:`io_managers.publish`);
5. drop staging, always, including on failure.

Readers therefore never see a half-written or invalid table, and a failed run leaves the
previous version exactly as it was. This class only composes those steps; reading
(:mod:`io_managers.queries`), DDL (:mod:`io_managers.ddl`), the statements' text
(:mod:`io_managers.statements`) and SQL analysis (:mod:`io_managers.sql_analysis`) each
live in their own module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from io_managers import checks, statements
from io_managers.catalog import Catalog, TableFacts, counts_hold
from io_managers.config import DEFAULT_WAREHOUSE_DIR, WarehouseConfig, load_config
from io_managers.ddl import apply_ddl
from io_managers.ddl_analysis import ColumnChange
from io_managers.ddl_drift import (
    DeclaredTable,
    Drift,
    declared_statements,
    declared_tables,
    described_changes,
    drift_error,
    foreseen_drift,
    type_drift,
)
from io_managers.dialect import ClickHouseDialect
from io_managers.errors import (
    AssetValidationError,
    MaterializationError,
    WarehouseConnectionError,
    WarehouseError,
    WarehouseQueryError,
)
from io_managers.history import ClickHouseHistory
from io_managers.publish import Publisher
from io_managers.publish_gate import PublishGate
from io_managers.queries import WarehouseQueries
from io_managers.run_lock import RunLock, RunLockHolder
from io_managers.sql import quote_table
from io_managers.sql_tokens import is_select, one_statement
from io_managers.stage import Staged, Stager, TargetShape
from io_managers.staged import StagedFacts, measures, staged_facts
from io_managers.staging import StagingTables
from io_managers.transport import EmbeddedTransport, ServerTransport, Transport
from io_managers.types import ClickHouseType, arrow_to_pandas
from io_managers.validation import plan_validation, run_validation
from orchestration.asset_code import raised_place, schema_place
from orchestration.errors import RebuildRequired, StorageFullError
from orchestration.io_manager import (
    STAGED_ROWS,
    IOManager,
    KeptRows,
    MaterializeResult,
    OffendingRows,
    QueryText,
    SqlAnalysisError,
    TableOutlook,
)
from orchestration.redaction import shown_source

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext


class ClickHouseIOManager(ClickHouseDialect, IOManager):
    """Stores assets in ClickHouse; one instance per process, shared by all threads."""

    def __init__(
        self, transport: Transport, description: str = "", location: str | None = None
    ) -> None:
        self._transport = transport
        self.authority = transport.authority
        self.description = description or transport.authority
        #: The location it was opened from as it may be shown (``chdb:///path``, or a
        #: server's :attr:`WarehouseConfig.shown_url`); else the description, redacted.
        self._location = location or description or None
        self.queries = WarehouseQueries(transport)
        self.catalog = Catalog(transport)
        self.staging = StagingTables(transport, self.queries)
        self.run_lock = RunLock(transport, self._location or self.description)
        #: The DDL files setup() applied: where a column that refused a value is declared.
        self._ddl_paths: list[Path | str] = []
        self._stager = Stager(transport, self.queries, self._ddl_paths)
        self._publisher = Publisher(transport, self.queries)
        self._history = ClickHouseHistory(transport, self.catalog)
        #: What setup()'s DDL declares, to hold published tables to it (drift check).
        self._declared: dict[str, DeclaredTable] = {}
        #: Each declared table's statement as written, its asset's code version's part.
        self._definitions: dict[str, str] = {}
        #: All the DDL :meth:`declare` was given: the drift a read foretells reads it all;
        #: :meth:`table_definitions` parses each path once, when a definition is first
        #: asked for (a ``query`` or ``checks`` command never asks, and parses nothing).
        self._declared_ddl: list[Path | str] = []
        #: How many of ``_declared_ddl`` are in ``_definitions`` already.
        self._parsed_ddl = 0
        self._definitions_lock = threading.Lock()
        self._gate = PublishGate()
        #: The tables :meth:`materialize` hands ``before_publish`` now, each with the
        #: asset's table, which errors on them name instead (one entry per thread).
        self._gated: dict[str, str] = {}

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(cls, config: WarehouseConfig) -> ClickHouseIOManager:
        """Open the warehouse ``config`` describes (connecting to a server right away)."""
        if config.backend == "embedded":
            return cls.embedded(config.path or Path(DEFAULT_WAREHOUSE_DIR))
        return cls(
            ServerTransport(config), description=config.redacted_url, location=config.shown_url
        )

    @classmethod
    def embedded(cls, path: str | Path) -> ClickHouseIOManager:
        """The embedded warehouse in directory ``path`` (created if missing)."""
        transport = EmbeddedTransport(Path(path))
        return cls(transport, description=f"chdb://{transport.path}")

    def __repr__(self) -> str:
        return f"ClickHouseIOManager({self.description})"

    def open_scratch(self, path: Path) -> ClickHouseIOManager:
        return ClickHouseIOManager.embedded(path)

    def location(self) -> str | None:
        """The location it was opened from, shown without user, password or options;
        None for one built on a bare transport (it was given none)."""
        return shown_source(self._location) if self._location else None

    def asset_uri(self, table: str) -> str:
        """Prefect asset key of ``database.Table``: ``clickhouse://<authority>/<db>/<table>``,
        where the authority is ``embedded`` for chdb and the server host otherwise."""
        database, name = table.split(".", 1)
        return f"clickhouse://{self.authority}/{database}/{name}"

    def __enter__(self) -> ClickHouseIOManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the engine (embedded) or the HTTP connections (server)."""
        self._transport.close()

    @contextlib.contextmanager
    def hold_run_lock(
        self,
        *,
        flow_run_id: str | None = None,
        break_held: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """A server's run lock (:mod:`io_managers.run_lock`), let go of however the run
        ends (an interrupt's :meth:`stop` lets go of it too). Embedded, chdb's own lock
        on the directory already keeps a second process out."""
        if self._transport.exclusive:
            yield
            return
        holder = RunLockHolder.this_process(flow_run_id)
        self.run_lock.acquire(holder, break_held=break_held, warn=warn)
        try:
            yield
        finally:
            self.run_lock.release()

    # ----------------------------------------------------------------- plain access

    def command(self, sql: str) -> None:
        """Run one statement for its effect (DDL, INSERT ... SELECT, ...)."""
        try:
            self._transport.command(sql)
        finally:
            self.catalog.forget()  # it may have changed any table's structure

    def setup(self, ddl_paths: Sequence[Path | str]) -> int:
        """Apply DDL files (or directories of ``*.sql``); see :func:`apply_ddl`.

        The declared column types are remembered: every later materialization first
        checks its table still has them (:mod:`io_managers.ddl_drift`).
        """
        try:
            count = apply_ddl(self._transport, ddl_paths)
        finally:
            self.catalog.forget()
        declared = declared_tables(self._transport, ddl_paths)
        self._declared.update(declared)
        self._ddl_paths.extend(p for p in ddl_paths if p not in self._ddl_paths)
        with self._definitions_lock:
            self._definitions.update({name: t.statement for name, t in declared.items()})
        return count

    def declare(self, ddl_paths: Sequence[Path | str]) -> None:
        """The DDL's statements, not applied, for :meth:`table_definitions`."""
        with self._definitions_lock:
            self._declared_ddl.extend(ddl_paths)

    def type_drift(self, table: str) -> list[Drift]:
        """How ``database.Table`` differs from its DDL (empty: not at all, or no DDL)."""
        declared = self._declared.get(table)
        if declared is None:
            return []
        facts = self.catalog.table(table)
        return type_drift(declared, facts.columns if facts is not None else {})

    def table_outlook(
        self, specs: Sequence[AssetSpec], params: Mapping[str, Any] | None = None
    ) -> dict[str, TableOutlook]:
        """What :meth:`materialize` would refuse of ``specs`` (a table that exists and
        drifted from its DDL: the refusal :meth:`_refuse_drift` raises for a run given
        ``params``, foretold), what
        the next set-up changes in their tables (the DDL's ALTERs that take effect on
        them, in words: ``adds column 'Priced' (UInt8)``) and the rows they hold
        (:meth:`_rows_held`), by asset key.

        The table is judged as the run's set-up will leave it: a column the DDL's own
        ALTER adds there is no drift (:func:`~io_managers.ddl_drift.foreseen_drift`).
        Reads only, once for every answer: the catalog (kept for the embedded warehouse,
        which the history has read already; one statement on a server) and, when a table
        exists, one query that spells the DDL's types as the engine does. The DDL is the
        one :meth:`setup` applied, else the one :meth:`declare` was given (its facts kept
        on disk: no sqlglot).
        """
        facts = self.catalog.tables({spec.table for spec in specs}, counted=True)
        foreseen = {
            spec.key: (drift, applied) for spec, drift, applied in self._foreseen(specs, facts)
        }
        held = self._rows_held(specs, facts)
        outlooks = {}
        for spec in specs:
            drift, applied = foreseen.get(spec.key, ([], []))
            rows = held.get(spec.key)
            if drift or applied or rows is not None:
                outlooks[spec.key] = TableOutlook(
                    refusal=self._foretold_refusal(spec, drift, params) if drift else None,
                    changes=described_changes(applied) or None,
                    rows=rows,
                )
        return outlooks

    def _rows_held(
        self, specs: Sequence[AssetSpec], facts: Mapping[str, TableFacts]
    ) -> dict[str, int]:
        """The rows each of ``specs``' tables holds whose engine keeps its count
        (:func:`~io_managers.catalog.counts_hold`), by asset key: as the catalog ``facts``
        tell, and, for the tables whose parts hold rows a lightweight ``DELETE`` masked
        (which their metadata still count), by one ``count()`` of them all."""
        kept = {
            spec.key: spec.table
            for spec in specs
            if (found := facts.get(spec.table)) is not None and counts_hold(found.engine_full)
        }
        masked = sorted({table for table in kept.values() if facts[table].masked})
        counted = self.queries.row_counts(masked) if masked else {}
        held = {key: counted.get(table, facts[table].total_rows) for key, table in kept.items()}
        return {key: rows for key, rows in held.items() if rows is not None}

    @staticmethod
    def _foretold_refusal(
        spec: AssetSpec, drift: Sequence[Drift], params: Mapping[str, Any] | None
    ) -> RebuildRequired:
        """The refusal :meth:`_refuse_drift` would raise for ``drift``, as foretold."""
        insert_only = spec.write_mode == "insert_new"
        return drift_error(
            spec.key, spec.table, drift, params, insert_only=insert_only, planned=True
        )

    def _foreseen(
        self, specs: Sequence[AssetSpec], facts: Mapping[str, TableFacts]
    ) -> list[tuple[AssetSpec, list[Drift], list[ColumnChange]]]:
        """Each of ``specs`` whose table exists (in the catalog ``facts``) and a DDL
        declares, with its drift once the next set-up ran the DDL's ALTERs on it, and the
        changes they make."""
        existing = [spec for spec in specs if spec.table in facts]
        if not existing:
            return []
        declared = dict(self._declared)
        unknown = {spec.table for spec in existing if spec.table not in declared}
        with self._definitions_lock:
            ddl = list(self._declared_ddl)
        if unknown and ddl:
            declared.update(declared_tables(self._transport, ddl, only=unknown))
        return [
            (spec, *foreseen_drift(declared[spec.table], facts[spec.table].columns))
            for spec in existing
            if spec.table in declared
        ]

    def history(self) -> ClickHouseHistory:
        """Materialization history in this warehouse's ``_pipeline`` database."""
        return self._history

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        """``CREATE TABLE`` of each table as the DDL declares it; for a table no DDL
        given to :meth:`setup` or :meth:`declare` declares, as the engine holds it."""
        with self._definitions_lock:
            unparsed = self._declared_ddl[self._parsed_ddl :]
            if unparsed:
                self._definitions.update(declared_statements(unparsed))
                self._parsed_ddl = len(self._declared_ddl)
            declared = dict(self._definitions)
        found = {table: declared[table] for table in tables if table in declared}
        undeclared = [table for table in tables if table not in found]
        return {**self.queries.table_definitions(undeclared), **found}

    def table_exists(self, table: str) -> bool:
        return self.catalog.table(table) is not None

    def rows_a_rebuild_loses(
        self, table: str, unique_key: Sequence[str], select: str | None
    ) -> KeptRows:
        """Counted in the warehouse: the table's rows, then those whose key ``select`` does
        not yield (one anti-join). A SELECT that cannot be compared (a key column it does
        not give, a drifted key type) counts every row, as a run that cannot be foretold."""
        if not self.table_exists(table):
            return KeptRows(lost=0, held=0)
        held = self.row_count(table)
        if not held or select is None or not unique_key:
            return KeptRows(lost=held, held=held, exact=not held)
        try:
            compared = statements.rows_not_yielded(
                quote_table(table), unique_key, one_statement(select, "its SELECT").text
            )
            (lost,) = self.queries.rows(compared)[0].values()
        except (WarehouseError, ValueError):
            return KeptRows(lost=held, held=held, exact=False)
        return KeptRows(lost=int(lost), held=held)

    def describe(self, table: str) -> list[tuple[str, str]]:
        """``(column, ClickHouse type)`` pairs of ``database.Table``, in table order."""
        facts = self.catalog.table(table)
        if facts is None:
            return self.queries.describe(table)  # the engine's own error: no such table
        return _described(facts)

    def describe_tables(self, tables: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """:meth:`describe` of each of ``tables`` that exists: one catalog statement on a
        server (the embedded catalog is kept)."""
        return {table: _described(facts) for table, facts in self.catalog.tables(tables).items()}

    def row_count(self, table: str) -> int:
        return self.queries.row_count(table)

    def row_counts(self, tables: Collection[str]) -> dict[str, int]:
        return self.queries.row_counts(tables)

    def query_arrow(self, sql: str) -> pa.Table:
        """A query's result as Arrow. Enum and UUID columns come back as text: Arrow has
        no enum labels, and string UUIDs read the same from either backend."""
        try:
            return self.queries.query_arrow(sql)
        finally:
            if not is_select(sql):
                self.catalog.forget()  # not a query: it may have changed a table

    def query_df(self, sql: str) -> pd.DataFrame:
        """A query's result as pandas, through Arrow."""
        return arrow_to_pandas(self.query_arrow(sql))

    def read_only_text(
        self, sql: str, allow_external: bool = False, *, max_rows: int | None = None
    ) -> QueryText:
        """A user's read query, on a session where ClickHouse refuses writes
        (:mod:`io_managers.read_only`), each value as ClickHouse prints it
        (:mod:`io_managers.query_text`); ``allow_external`` lets table functions read
        files and the network; ``max_rows`` limits a SELECT's rows in the engine."""
        return self.queries.read_only_text(sql, allow_external, max_rows=max_rows)

    def read_only_raw(self, sql: str, fmt: str, allow_external: bool = False) -> bytes:
        """A user's read query rendered by ClickHouse itself in output format ``fmt`` (CSV
        with NULL as an empty field: :data:`io_managers.read_only.CSV_SETTINGS`)."""
        return self.queries.read_only_raw(sql, fmt, allow_external)

    def read_only_stream(
        self, sql: str, fmt: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """:meth:`read_only_raw`, a block of rows at a time (a row format such as
        ``CSVWithNames``); closing the generator stops the query."""
        return self.queries.read_only_stream(sql, fmt, allow_external)

    def read_only_json(
        self, sql: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """A user's read query as one JSON list of objects, one row a line, rendered by
        ClickHouse a block at a time (:data:`io_managers.read_only.JSON_SETTINGS` say how
        each type reads); closing the generator stops the query."""
        return self.queries.read_only_json(sql, allow_external)

    def offending_rows(
        self, check_sql: str, table: str, examples: int, tally: str | None = None
    ) -> OffendingRows:
        """An asset check counted, tallied and sampled in ClickHouse
        (:mod:`io_managers.checks`). On a table :meth:`materialize` handed its
        ``before_publish``, an error of the engine names the asset's table instead."""
        try:
            return checks.offending_rows(
                self.queries.rows,
                lambda sql: self.query_arrow(sql).to_pylist(),
                check_sql,
                table,
                examples,
                tally,
            )
        except WarehouseQueryError as exc:
            published_as = self._gated.get(table)
            if published_as is None:
                raise
            renamed = type(exc)(_named_as(str(exc), quote_table(table), published_as))
            renamed.code = exc.code
            raise renamed from None

    # ----------------------------------------------------------------- materialize

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        """Stage, validate and publish ``spec`` (the module's steps); ``before_publish``
        (:meth:`IOManager.materialize`) is given, just before publishing, staging itself
        for a table that is replaced, else a view of the table with the rows the publish
        appends (:meth:`_check_before_publish`)."""
        started = time.perf_counter()
        target = quote_table(spec.table)
        facts = self.catalog.table(spec.table)
        shape = self._stager.target_shape(spec, facts)
        rebuild = self._declared_for_rebuild(spec) if context.full_refresh else None
        if rebuild is None:
            self._refuse_drift(spec, shape.columns, context.params)
        self.staging.drop_abandoned(spec.database, spec.table_name)
        metadata: dict[str, Any] = {"write_mode": spec.write_mode}
        staging = self.staging.new_name(spec.database, spec.table_name)
        # A full refresh stages every row in a table built from the DDL, then swaps it in.
        staged_as = spec if rebuild is None else dataclasses.replace(spec, write_mode="replace")
        try:
            if rebuild is None:
                self.staging.create(staging, target)
            else:
                self._transport.command(rebuild.create_named(staging))
                shape = TargetShape(*self.queries.describe_with_defaults(f"TABLE {staging}"))
                metadata["full_refresh"] = True
            if spec.kind == "sql":
                selected = self._stager.stage_sql(staged_as, context, staging, shape)
            else:
                selected = self._stager.stage_python(staged_as, context, staging, shape)
                # Arrow's allocator keeps the freed chunk buffers for reuse; hand them back
                # before the engine's big statements, or they add to the process's peak.
                pa.default_memory_pool().release_unused()
            new_keys_only = selected.new_keys_only
            if selected.unique_keys:
                metadata["unique_by_select"] = [sorted(key) for key in selected.unique_keys]
            # Staging holds only new keys: its parts can be attached as they are.
            attach = new_keys_only and facts is not None and facts.parts_attachable
            checked = time.perf_counter()
            staged = self._validate(spec, staging, shape.columns, selected, attach, metadata)
            metadata[STAGED_ROWS] = staged.rows
            metadata["validation_seconds"] = round(time.perf_counter() - checked, 4)
            # A table built from the DDL is not the target: its checks compile every time.
            self._refuse_uncompiled_checks(spec, staging, facts if rebuild is None else None)
            if before_publish is not None:
                appended = None
                if staged_as.write_mode == "insert_new":
                    columns = list(shape.columns)
                    appended = statements.appended(
                        target,
                        columns,
                        f"SELECT {statements.quoted_columns(columns)} FROM {staging}"
                        if new_keys_only
                        else statements.new_keys_select(target, staging, columns, spec.unique_key),
                    )
                self._check_before_publish(spec, before_publish, staging, appended)
            with self._gate.publishing(spec.key, spec.table):
                inserted = self._publisher.publish(
                    staged_as,
                    staging,
                    target,
                    list(shape.columns),
                    new_rows=staged.rows if new_keys_only else None,
                    partitions=staged.partitions if attach else None,
                )
        except WarehouseError as exc:
            # Said in full already: the asset's failure, a server out of reach, a full disk.
            if isinstance(exc, (MaterializationError, WarehouseConnectionError, StorageFullError)):
                raise
            if raised_place(spec, exc) is not None:
                # The engine refused SQL a Python body sent: the body raised, and is said
                # at its line as any error it raises is (``asset_code.body_failure``).
                raise
            raise MaterializationError.of(spec, str(exc)) from exc
        finally:
            self.staging.drop_quietly(staging)
            self.catalog.rows_changed()  # it may have published them
            if rebuild is not None:
                self.catalog.forget()  # the table now has the DDL's structure
        if staged_as.write_mode == "replace" or attach:
            rows, size = staged.published_size(attached=attach)
        else:  # appended by an anti-join: only the table knows what it holds now
            rows, size = self.queries.table_stats(spec.table)
        if staged_as.write_mode != "replace" and facts is not None and facts.masked:
            # Added to parts that hold rows a DELETE masked, which their metadata still
            # count: counted instead, or the history records rows the table does not hold
            # (and ``status`` would call it changed outside the pipeline ever after).
            rows = None
        return MaterializeResult(
            table=spec.table,
            rows=rows if rows is not None else self.row_count(spec.table),
            seconds=round(time.perf_counter() - started, 4),
            bytes=size,
            columns=tuple(shape.columns),
            inserted_rows=inserted,
            metadata=metadata,
        )

    def unpublished_select(
        self, spec: AssetSpec, select: str, *, full_refresh: bool = False
    ) -> str:
        """What :meth:`_check_before_publish` hands the checks, as one SELECT: ``select``
        itself for a table it replaces (or rebuilds); else the table and the rows of
        ``select`` whose key it lacks (:func:`~io_managers.statements.appended` of
        :func:`~io_managers.statements.new_keys_select`, as the checks' view), in the
        table's columns that ``select`` gives (staging fills the others with defaults,
        which no SELECT of it can name)."""
        body = one_statement(select, "its SELECT").text
        if spec.write_mode == "replace" or full_refresh:
            return body
        produced = self.queries.columns(statements.described_select(body))
        columns = [name for name, _ in self.describe(spec.table) if name in produced]
        target = quote_table(spec.table)
        added = statements.new_keys_select(target, f"(\n{body}\n)", columns, spec.unique_key)
        return statements.appended(target, columns, added)

    def _check_before_publish(
        self,
        spec: AssetSpec,
        before_publish: Callable[[str], None],
        staging: str,
        appended: str | None,
    ) -> None:
        """Call ``before_publish`` with what ``spec``'s table holds once published:
        ``staging`` itself for a table it replaces; else (``appended``: the table and
        the rows its publish appends, :func:`~io_managers.statements.appended`) a view of
        them, named as staging is, so the same ``finally`` (or sweep) drops it. An error
        the engine says while it runs names the asset's table, as its checks' authors
        wrote ``{table}`` (:meth:`offending_rows`)."""
        gate = staging
        if appended is not None:
            gate = self.staging.new_name(spec.database, spec.table_name)
            self.staging.create_view(gate, appended)
        plain = f"{spec.database}.{gate.split('.', 1)[1].strip('`')}"  # generated: no escapes
        self._gated[plain] = spec.table
        try:
            before_publish(plain)
        finally:
            del self._gated[plain]
            if gate != staging:
                self.staging.drop_quietly(gate)

    def _refuse_uncompiled_checks(
        self, spec: AssetSpec, staging: str, staged_as: TableFacts | None
    ) -> None:
        """Fail ``spec`` before publishing when one of its checks does not compile on
        ``staging``: the checks run on the published table, and one that cannot run
        would fail the asset only after its rows replaced the table's (one ``DESCRIBE``
        of them all, the first naming where the check is declared).

        ``staged_as``: the table ``staging`` was created as (its columns and engine), so
        the verdict that they compile can be kept between runs
        (:func:`~io_managers.checks.uncompiled_checks_kept`); None: compile them."""
        broken = self._uncompiled_checks(spec, staging, staged_as)
        if broken:
            check, exc = broken[0]
            # The engine names the staged table; the check's author wrote {table}.
            said = _named_as(str(exc), staging, spec.table)
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            why = checks.does_not_compile(check, said)
            full = checks.does_not_compile(check, said, full=True)
            raise MaterializationError.of(
                spec, f"{why}{more}", check.place, full_cause=f"{full}{more}"
            )

    def uncompiled_checks(self, spec: AssetSpec) -> dict[str, str]:
        """:meth:`IOManager.uncompiled_checks`: compiled on the published table as a run
        compiles them on the staged one, the verdict that they compile kept alike."""
        table = quote_table(spec.table)
        broken = self._uncompiled_checks(spec, table, self.catalog.table(spec.table))
        return {check.name: checks.does_not_compile_at(check, exc) for check, exc in broken}

    def _uncompiled_checks(
        self, spec: AssetSpec, quoted_table: str, facts: TableFacts | None
    ) -> checks.Uncompiled:
        """``spec``'s checks that do not compile on ``quoted_table``, whose columns and
        engine ``facts`` are (None: not known, so compiled every time)."""
        identity = self._compile_identity(spec, facts) if facts is not None else None
        return checks.uncompiled_checks_kept(
            self.queries.columns, spec.checks, quoted_table, identity
        )

    def _compile_identity(self, spec: AssetSpec, staged_as: TableFacts) -> Any:
        """What besides their SQL decides whether ``spec``'s checks compile
        (:func:`~io_managers.checks.compile_identity`); None when a check may read a
        table analysis cannot name, or cannot be analysed: then they compile every run.

        The tables read come from the analysis cache (no sqlglot once asked); their facts
        from the catalog: kept on the embedded warehouse, one statement on a server for
        the checks that read other tables than their own, none for the rest.
        """
        if not spec.checks:
            return None
        reads: set[str] = set()
        for check in spec.checks:
            try:
                tables = self.compile_reads(check.sql.replace("{table}", spec.table))
            except SqlAnalysisError:
                return None
            if tables is None:
                return None
            reads.update(tables)
        others = self.catalog.tables(reads - {spec.table})
        found = {table: others.get(table) for table in reads}
        found[spec.table] = staged_as  # ``{table}``, and its own name if a check writes it
        return checks.compile_identity(self._transport.engine_version, found)

    def stop_publishing(self, timeout: float) -> list[str]:
        self._gate.close(timeout)
        return list(self._gate.published)

    def stop(self, timeout: float) -> list[str]:
        """Interrupted: no publish starts from now on, one in flight may finish (each is
        all or nothing), then this process's staging tables are dropped - within
        ``timeout`` seconds, as far as the engine lets go of them. Returns the assets
        this instance published, so the run report can tell them from cancelled ones
        even when the run had no time to record them."""
        deadline = time.monotonic() + timeout
        self.stop_publishing(timeout)
        # A worker may hold the engine in a long statement; do not wait past the deadline.
        sweeper = threading.Thread(target=self._drop_own_and_let_go, daemon=True)
        sweeper.start()
        sweeper.join(max(0.0, deadline - time.monotonic()))
        return list(self._gate.published)

    def _drop_own_and_let_go(self) -> None:
        """An interrupted run's last statements: its staging, then the run lock (the
        process then ends without unwinding, so no ``finally`` would)."""
        try:
            self.staging.drop_own()
        finally:
            self.run_lock.release()

    def _refuse_drift(
        self, spec: AssetSpec, actual: dict[str, ClickHouseType], params: Mapping[str, Any]
    ) -> None:
        declared = self._declared.get(spec.table)
        drift = type_drift(declared, actual) if declared is not None else []
        if drift:
            raise drift_error(
                spec.key, spec.table, drift, params, insert_only=spec.write_mode == "insert_new"
            )

    def _declared_for_rebuild(self, spec: AssetSpec) -> DeclaredTable:
        declared = self._declared.get(spec.table)
        if declared is None:
            raise MaterializationError.of(
                spec,
                f"--full-refresh rebuilds {spec.table} from its DDL, but no DDL applied to "
                "this warehouse declares it (CREATE TABLE in ddl/*.sql)",
            )
        return declared

    def _validate(
        self,
        spec: AssetSpec,
        staging: str,
        target_columns: dict[str, ClickHouseType],
        selected: Staged,
        attach: bool,
        metadata: dict[str, Any],
    ) -> StagedFacts:
        """Validate staging; the same aggregate measures it (:mod:`io_managers.staged`).

        Staging must hold every row written to it: chdb drops rows it has no disk space
        for without raising, and a run published the empty or half-filled table. Uniqueness
        the SELECT guarantees by itself is not counted again. Checks left to Pandera (it
        reads the staged rows into Python) are named in ``metadata``, so the run's log says
        why validating this asset takes longer."""
        unique_key = spec.unique_key if spec.write_mode == "insert_new" else ()
        plan = plan_validation(
            spec.schema,
            target_columns,
            unique_key,
            selected.python_checks_done,
            selected.unique_keys,
        )
        # The schema does not fit the table: the failure names the schema's line to edit,
        # as pipeline validate names it.
        plan.structural = [
            dataclasses.replace(failure, declared_at=schema_place(spec.schema, failure.column))
            for failure in plan.structural
        ]
        if plan.pandera_checks:
            metadata["checks_in_pandera"] = plan.pandera_checks
        staging_name = staging.split(".", 1)[1].strip("`")  # generated: needs no unescaping
        failures, measured = run_validation(
            plan,
            staging,
            target_columns,
            self.queries.rows,
            lambda sql: self._transport.iter_arrow(sql, 500_000),
            measures(spec.database, staging_name, spec.table_name, attach),
        )
        staged = staged_facts(measured)
        missing = staged.rows_missing(selected.written)
        if missing:
            raise self._rows_lost(spec, staged.rows, staged.rows + missing)
        if failures:
            raise AssetValidationError(spec.key, spec.table, failures)
        return staged

    def _rows_lost(self, spec: AssetSpec, held: int, written: int) -> MaterializationError:
        """The failure of an asset whose staging holds fewer rows than were written to it:
        the engine said nothing, and a full disk is what makes it so."""
        where = self.location() or self.description
        return MaterializationError.of(
            spec,
            f"its staging table holds {held:,} of the {written:,} rows written to it, and "
            "the engine reported no error: the likely cause is a full disk under the "
            f"warehouse ({where}); nothing was published, {spec.table} is as it was",
        )


def _named_as(said: str, staging: str, table: str) -> str:
    """The engine's words ``said`` with the staging table (or view) ``staging``, quoted
    or not, named as the asset's ``table``."""
    for named in (staging, staging.replace("`", "")):
        said = said.replace(named, table)
    return said


def _described(facts: TableFacts) -> list[tuple[str, str]]:
    """A table's ``(column, ClickHouse type)`` pairs, in table order."""
    return [(name, kind.text) for name, kind in facts.columns.items()]


def warehouse_from_env(url: str | None = None) -> ClickHouseIOManager:
    """The configured warehouse (see :func:`load_config`), opened now."""
    return ClickHouseIOManager.from_config(load_config(url))
