"""Fill a staging table: a SQL asset's SELECT runs inside ClickHouse, a Python asset's
DataFrames and Arrow tables stream in as Arrow, in bounded batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from io_managers import statements
from io_managers.arrow_fit import ARROW_OUTPUT, arrow_guards, first_refused_value
from io_managers.catalog import TableFacts
from io_managers.ddl import column_place
from io_managers.errors import (
    AssetValidationError,
    MaterializationError,
    ValidationFailure,
    WarehouseQueryError,
)
from io_managers.guarded_insert import (
    SELECT_OUTPUT,
    Guard,
    Output,
    first_refused,
    guarded_select,
    guards,
    refused_value,
)
from io_managers.queries import WarehouseQueries
from io_managers.select_syntax import CompileFailure, compile_failure
from io_managers.sql import quote_table
from io_managers.sql_tokens import one_statement
from io_managers.transport import Transport
from io_managers.types import ClickHouseType
from io_managers.validation import validate_pandas
from orchestration.asset_code import body_place, select_place
from orchestration.io_manager import EngineSelect

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext
    from orchestration.errors import Place

#: Python chunks are buffered up to this size before one INSERT, so tiny chunks from a
#: generator do not turn into thousands of parts.
INSERT_BATCH_ROWS = 250_000
INSERT_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Staged:
    """What filling a staging table established besides the rows themselves."""

    #: Only rows whose key the target lacks were staged.
    new_keys_only: bool = False
    #: Column sets the SELECT makes unique by itself (:mod:`io_managers.unique_by_select`).
    unique_keys: tuple[frozenset[str], ...] = ()
    #: Pandera checked every chunk of a Python asset's output on its way in.
    python_checks_done: bool = False
    #: Rows written into staging: counted as sent for a Python asset's output, as the
    #: engine reported for a SELECT; None when the engine did not say. chdb drops rows it
    #: has no disk space for without raising, so staging is held to this count.
    written: int | None = None


@dataclass(frozen=True)
class TargetShape:
    """A target table's columns (parsed types) and those with a default expression."""

    columns: dict[str, ClickHouseType]
    defaults: set[str]


class Stager:
    """Writes an asset's output into its staging table, checking its columns by name."""

    def __init__(
        self, transport: Transport, queries: WarehouseQueries, ddl_paths: Sequence[Path | str]
    ) -> None:
        self._transport = transport
        self._queries = queries
        #: The DDL applied (the IO manager's list, filled by its setup): where a column
        #: that refused a value of the SELECT is declared, for the run's error to name.
        self._ddl_paths = ddl_paths

    def target_shape(self, spec: AssetSpec, facts: TableFacts | None) -> TargetShape:
        """The target's shape from its catalog facts (None: it does not exist)."""
        if facts is None:
            raise MaterializationError.of(
                spec,
                f"table {spec.table} does not exist; declare it in the code location's DDL "
                "(CREATE TABLE IF NOT EXISTS), which the next materialize applies",
            )
        return TargetShape(dict(facts.columns), set(facts.defaults))

    def stage_sql(
        self, spec: AssetSpec, context: AssetContext, staging: str, shape: TargetShape
    ) -> Staged:
        """Run the SELECT into staging."""
        body = spec.body(context)
        if not isinstance(body, str):
            raise _of_its_code(
                spec, f"a SQL asset must return a SELECT string, got {type(body).__name__}"
            )
        try:
            statement = one_statement(body, "its SELECT")
        except ValueError as exc:
            raise _of_its_code(spec, str(exc)) from None
        select = statement.text
        if not statement.is_query:
            raise _of_its_code(spec, "a SQL asset must return a SELECT (or WITH ... SELECT)")
        try:
            produced_types = self._queries.columns(statements.described_select(select))
        except WarehouseQueryError as exc:
            failure = compile_failure(self._queries, body, exc)
            refused = select_does_not_compile(spec, body, failure)
            raise MaterializationError.of(
                spec, refused.cause, refused.place, full_cause=refused.full_cause
            ) from None
        produced = list(produced_types)
        check_columns(spec, produced, shape)
        # Here, not with the module: sqlglot loads when a SELECT is staged, not in every
        # command that opens the warehouse (status, plan).
        from io_managers.unique_by_select import proven_unique_keys

        unique_keys = proven_unique_keys(select, produced_types, shape.columns)
        new_keys_only = spec.write_mode == "insert_new" and set(spec.unique_key) <= set(produced)
        if new_keys_only:
            # Stage only keys the target lacks, so staging holds exactly what publishing
            # adds and can be attached as it is (no second copy, no second sort); the
            # validation then checks exactly the rows that will be published.
            select = statements.only_new_keys(select, spec.unique_key, quote_table(spec.table))
        guarded = guards(produced_types, shape.columns)
        inserted = guarded_select(select, produced, guarded)
        try:
            written = self._transport.write(statements.insert_select(staging, produced, inserted))
        except WarehouseQueryError as exc:
            raise self._insert_failure(spec, select, guarded, exc) from None
        return Staged(new_keys_only, unique_keys, written=written)

    def _insert_failure(
        self, spec: AssetSpec, select: str, guarded: list[Guard], exc: WarehouseQueryError
    ) -> MaterializationError:
        """The run's error for an INSERT of ``select`` the engine refused: the column,
        types and value it refused to convert, when it was one of ``guarded``'s (where it
        is declared and where the SELECT is: the two places a fix may go); else the
        engine's words, after where the body is."""
        refused = first_refused(self._queries, select, guarded, exc)
        if refused is None:
            return _of_its_code(spec, f"its SELECT failed: {exc}")
        return self._refusal(spec, *refused, SELECT_OUTPUT)

    def _refusal(
        self, spec: AssetSpec, guard: Guard, value: str | None, output: Output
    ) -> MaterializationError:
        """The run's error for ``value`` (None: a NULL) of ``guard``'s column, refused:
        where the column is declared and where the body is, the two places a fix may go."""
        declared = column_place(self._ddl_paths, spec.table, guard.name)
        return MaterializationError.of(
            spec, refused_value(guard, value, declared, body_place(spec), output)
        )

    def stage_python(
        self, spec: AssetSpec, context: AssetContext, staging: str, shape: TargetShape
    ) -> Staged:
        """Stream the body's output into staging, counting the rows sent."""
        import pandas as pd  # here, not with the module: SQL-only commands do without it

        output = spec.body(context)
        if isinstance(output, EngineSelect):
            written = self._stage_engine_select(spec, context, output, staging, shape)
            if written is not None:
                return Staged(written=written)
            output = output.fallback()
        all_pandas = True
        checked_columns: tuple[str, ...] | None = None
        buffered: list[pa.Table] = []
        buffered_rows = buffered_bytes = sent = 0
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
                check_columns(spec, table.column_names, shape)
                checked_columns = tuple(table.column_names)
            if buffered and buffered[0].schema != table.schema:
                sent += self._insert(spec, staging, buffered, shape.columns)
                buffered, buffered_rows, buffered_bytes = [], 0, 0
            buffered.append(table)
            buffered_rows += table.num_rows
            buffered_bytes += table.nbytes
            if buffered_rows >= INSERT_BATCH_ROWS or buffered_bytes >= INSERT_BATCH_BYTES:
                sent += self._insert(spec, staging, buffered, shape.columns)
                buffered, buffered_rows, buffered_bytes = [], 0, 0
        if buffered:
            sent += self._insert(spec, staging, buffered, shape.columns)
        return Staged(python_checks_done=all_pandas, written=sent)

    def _stage_engine_select(
        self,
        spec: AssetSpec,
        context: AssetContext,
        output: EngineSelect,
        staging: str,
        shape: TargetShape,
    ) -> int | None:
        """Run a Python asset's :class:`EngineSelect` into staging: the rows the engine
        wrote, or None (staging left empty) when the asset's fallback has to produce the
        rows instead. Rows written but not held are no reason to fall back: staging is
        held to the count the engine reported, and the run fails. Nor is a source that
        changed while the engine read it (:attr:`EngineSelect.verify_read` raises), or a
        value the guards of a SQL asset's SELECT refuse (:mod:`io_managers.guarded_insert`):
        the fallback gives the same rows, by the SELECT's contract, and the run fails
        naming it. Declared columns are inserted without a ``DESCRIBE``, so with no types
        to guard by: the SELECT answers for giving its table's types."""
        if output.reads_local_files and not self._transport.reads_local_files:
            return None
        guarded: list[Guard] = []
        try:
            if output.columns:
                produced = list(output.columns)
                select = statements.select_by_name(produced, output.select)
            else:
                produced_types = self._queries.columns(statements.described_select(output.select))
                produced, select = list(produced_types), output.select
                guarded = guards(produced_types, shape.columns)
            check_columns(spec, produced, shape)
        except (WarehouseQueryError, MaterializationError) as exc:
            self._fall_back(spec, context, staging, exc)
            return None
        inserted = guarded_select(select, produced, guarded)
        try:
            written = self._transport.write(statements.insert_select(staging, produced, inserted))
        except WarehouseQueryError as exc:
            refused = first_refused(self._queries, select, guarded, exc)
            if refused is not None:
                raise self._refusal(spec, *refused, SELECT_OUTPUT) from None
            self._fall_back(spec, context, staging, exc)
            return None
        if output.verify_read is not None:
            output.verify_read()
        if written is None:  # the engine did not say: staging does
            written = int(self._queries.rows(f"SELECT count() AS n FROM {staging}")[0]["n"])
        return written or None

    def _fall_back(
        self, spec: AssetSpec, context: AssetContext, staging: str, exc: Exception
    ) -> None:
        """Empty ``staging`` for the fallback of ``spec``'s :class:`EngineSelect`, saying
        why the engine did not compute its rows (``exc``, its first line)."""
        reason = (str(exc).strip().splitlines() or [repr(exc)])[0]
        context.log.info(
            "the engine did not compute %s itself (%s); computing it in Python",
            spec.key,
            reason if len(reason) <= 200 else reason[:199] + "…",
        )
        self._transport.command(f"TRUNCATE TABLE {staging}")

    def _insert(
        self,
        spec: AssetSpec,
        staging: str,
        tables: list[pa.Table],
        columns: dict[str, ClickHouseType],
    ) -> int:
        """Insert ``tables`` into staging as one batch; the rows sent."""
        data = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        if data.num_rows == 0:
            return 0
        self._refuse_lost_values(spec, data, columns)
        try:
            self._transport.insert_arrow(staging, data, statements.INSERT_SETTINGS)
        except WarehouseQueryError as exc:
            raise MaterializationError.of(spec, f"writing its rows failed: {exc}") from None
        return data.num_rows

    def _refuse_lost_values(
        self, spec: AssetSpec, data: pa.Table, columns: dict[str, ClickHouseType]
    ) -> None:
        """Refuse ``data`` when one of its values would be changed without a word on its
        way into its table ``columns`` (:mod:`io_managers.arrow_fit`): the engine would
        store it, wrapped or cut, and nothing after could tell."""
        found = arrow_guards(data.schema, columns)
        refused = first_refused_value(data, found) if found else None
        if refused is not None:
            raise self._refusal(spec, *refused, ARROW_OUTPUT)


def check_columns(spec: AssetSpec, produced: Sequence[str], shape: TargetShape) -> None:
    """Columns are matched by name: unknown or missing (non-default) ones are errors."""
    problems = column_problems(produced, shape)
    if problems:
        raise _of_its_code(spec, output_problem(spec, problems[0].text))


@dataclass(frozen=True)
class SelectRefused:
    """Why an asset's SELECT does not compile (:attr:`cause`), and where, which its line
    says first (:attr:`place`, :func:`~orchestration.asset_code.at`); and the cause in
    full, with the engine's quote of the SELECT it compiled when it gave one
    (:attr:`full_cause`; else the cause again)."""

    cause: str
    full_cause: str
    place: Place | None


def select_does_not_compile(spec: AssetSpec, select: str, failure: CompileFailure) -> SelectRefused:
    """Why ``spec``'s SELECT (``select``, as its body returned it) does not compile, and
    where: the line of the body's module that holds the failure's place in the SELECT
    when it is found, else the body's first statement
    (:func:`~orchestration.asset_code.select_place`). The words of both ``pipeline
    validate`` and a run, so one mistake reads the same in each."""
    place, exact = select_place(spec, select, failure.line, failure.col)

    def words(full: bool) -> str:
        return f"SELECT does not compile: {failure.said(placed=exact, full=full)}"

    return SelectRefused(words(full=False), words(full=True), place)


def output_problem(spec: AssetSpec, problem: str) -> str:
    """A way ``spec``'s output does not fit its table (:func:`column_problems`), in the
    words of both ``pipeline validate`` and a run, which say it after where its body is
    (:func:`~orchestration.asset_code.in_body`)."""
    return f"SELECT {problem}" if spec.kind == "sql" else problem


def _of_its_code(spec: AssetSpec, cause: str) -> MaterializationError:
    """The failure of ``spec`` for ``cause``, a mistake of its body's, after where its
    body is."""
    return MaterializationError.of(spec, cause, body_place(spec))


@dataclass(frozen=True)
class ColumnProblem:
    """A way an output does not fit its table, in words, and the columns it is about."""

    text: str
    columns: tuple[str, ...]

    @property
    def column(self) -> str | None:
        """The column it is about, when it is about one (``validate --json``'s ``column``)."""
        return self.columns[0] if len(self.columns) == 1 else None


def column_problems(produced: Sequence[str], shape: TargetShape) -> list[ColumnProblem]:
    """Why ``produced`` cannot be inserted by name into a table of ``shape`` (empty: it
    can, in any order): duplicate columns, columns the table lacks, and columns without a
    DEFAULT it leaves out. ``pipeline validate`` holds a SELECT to the same rule."""
    problems = []
    duplicates = sorted({name for name in produced if list(produced).count(name) > 1})
    if duplicates:
        said = f"output has duplicate column(s) {', '.join(duplicates)}"
        problems.append(ColumnProblem(said, tuple(duplicates)))
    unknown = [name for name in produced if name not in shape.columns]
    if unknown:
        said = (
            f"output column(s) {', '.join(unknown)} are not in the table "
            f"(columns: {', '.join(shape.columns)})"
        )
        problems.append(ColumnProblem(said, tuple(unknown)))
    missing = [n for n in shape.columns if n not in produced and n not in shape.defaults]
    if missing:
        said = f"output lacks column(s) {', '.join(missing)}, which have no DEFAULT in the DDL"
        problems.append(ColumnProblem(said, tuple(missing)))
    return problems


def _chunks(spec: AssetSpec, output: Any) -> Iterator[pd.DataFrame | pa.Table]:
    """Normalise a Python asset's output into a stream of DataFrames and Arrow tables."""
    import pandas as pd

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
                raise _of_its_code(
                    spec,
                    f"its body yielded {type(item).__name__}; "
                    "yield pandas DataFrames or pyarrow Tables",
                )
            yield item
        return
    raise _of_its_code(
        spec,
        "a Python asset must return a pandas DataFrame, a pyarrow Table or an iterable of "
        f"them, got {type(output).__name__}",
    )


def _frame_to_arrow(spec: AssetSpec, frame: pd.DataFrame) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _of_its_code(spec, f"its DataFrame cannot be converted to Arrow: {exc}") from None


def _in_chunk(failures: list[ValidationFailure], number: int) -> list[ValidationFailure]:
    if number == 1:
        return failures
    return [
        ValidationFailure(f.column, f"{f.check} (in chunk {number})", f.failing_rows, f.examples)
        for f in failures
    ]
