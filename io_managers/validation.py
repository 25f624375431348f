"""Validate a table against a Pandera model where the data is: inside ClickHouse.

Measured on 1.07 M rows, pulling a table into pandas costs seconds while the same checks
as one aggregate query cost milliseconds, so the model is *compiled*: column presence,
types (``DESCRIBE`` against the dtypes, see :mod:`io_managers.types`) and nullability
are compared structurally, and every built-in check (``nullable``, ``unique``, ``isin``,
ranges, ``str_matches``, ``str_length``, ...) becomes a ``countIf`` in ONE aggregate
query that also collects a few failing values. Checks that cannot be expressed in SQL
(custom functions, dataframe-level checks) still run, through Pandera itself, on the
table streamed in batches of only the columns they need, so no full copy is held.
The Pandera model stays the single source of truth.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from io_managers.errors import ValidationFailure
from io_managers.re2_pattern import re2_pattern
from io_managers.sql import literal, quote_identifier, quote_string
from io_managers.types import (
    ClickHouseType,
    arrow_to_pandas,
    dtype_mismatch,
    needs_text_projection,
    nullability_mismatch,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pipeline.warehouse.validation")
# Pandera's str_contains asks pandas for a boolean per row; pandas still warns that the
# pattern's groups are not extracted, on the user's terminal, once per run. Nothing is
# wrong (the check runs in Pandera when RE2 cannot say it: io_managers/re2_pattern.py).
warnings.filterwarnings(
    "ignore",
    message="This pattern is interpreted as a regular expression, and has match groups",
    category=UserWarning,
    module=r"pandera\.",
)

EXAMPLES = 5
FALLBACK_BATCH_ROWS = 500_000


def as_dataframe_schema(schema: Any) -> Any:
    """A ``DataFrameSchema`` from a ``DataFrameModel`` class or a schema instance."""
    if schema is None:
        return None
    if hasattr(schema, "to_schema"):
        return schema.to_schema()
    return schema


def show_value(value: Any, limit: int = 60) -> str:
    """A failing value as it appears in an error message: quoted, bounded."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class CompiledCheck:
    """One violation counter of the aggregate query."""

    column: str | None
    label: str
    count_sql: str
    examples_sql: str | None = None
    duplicates_of: tuple[str, ...] = ()
    warn_only: bool = False
    #: Text values are shown quoted so blanks and look-alike numbers stay visible.
    quote_examples: bool = False


@dataclass
class ValidationPlan:
    """What validating one table against one schema takes."""

    structural: list[ValidationFailure] = field(default_factory=list)
    checks: list[CompiledCheck] = field(default_factory=list)
    fallback_schema: Any = None
    fallback_columns: tuple[str, ...] = ()
    #: Column sets the data is known to be unique on: uniqueness there is not counted.
    unique_by_construction: tuple[frozenset[str], ...] = ()

    @property
    def pandera_checks(self) -> list[str]:
        """The checks ClickHouse cannot run, left to Pandera on the staged table, as
        ``column: check`` (a DataFrame-wide check by its name alone)."""
        schema = self.fallback_schema
        if schema is None:
            return []
        per_column = [
            f"{name}: {_check_label(check)}"
            for name, column in schema.columns.items()
            for check in column.checks
        ]
        return per_column + [_check_label(check) for check in schema.checks]


def _is_builtin(check: Any) -> bool:
    """Pandera's own checks (dispatched functions with statistics), not user functions."""
    module = getattr(getattr(check, "_check_fn", None), "__module__", None) or ""
    return module.startswith("pandera.") and bool(getattr(check, "statistics", None))


def _check_label(check: Any) -> str:
    error = getattr(check, "error", None)
    return str(error) if error else str(check.name)


def _compile_predicate(check: Any, value: str, text: str) -> str | None:
    """SQL that is true where a row PASSES ``check``; ``None`` if not expressible."""
    if not _is_builtin(check):
        return None
    stats = check.statistics
    name = check.name
    comparisons = {
        "equal_to": ("=", "value"),
        "not_equal_to": ("!=", "value"),
        "greater_than": (">", "min_value"),
        "greater_than_or_equal_to": (">=", "min_value"),
        "less_than": ("<", "max_value"),
        "less_than_or_equal_to": ("<=", "max_value"),
    }
    if name in comparisons:
        operator, key = comparisons[name]
        return f"{value} {operator} {literal(stats[key])}"
    if name == "in_range":
        low = ">=" if stats.get("include_min", True) else ">"
        high = "<=" if stats.get("include_max", True) else "<"
        return (
            f"{value} {low} {literal(stats['min_value'])} "
            f"AND {value} {high} {literal(stats['max_value'])}"
        )
    if name == "isin":
        allowed = list(stats["allowed_values"])
        return f"{value} IN {literal(allowed)}" if allowed else "0"
    if name == "notin":
        forbidden = list(stats["forbidden_values"])
        return f"NOT ({value} IN {literal(forbidden)})" if forbidden else "1"
    if name in ("str_matches", "str_contains"):
        # Python's re.match anchors at the start (str_matches), RE2 does not.
        pattern = re2_pattern(stats["pattern"], anchored=name == "str_matches")
        return None if pattern is None else f"match({text}, {quote_string(pattern)})"
    if name == "str_startswith":
        return f"startsWith({text}, {quote_string(str(stats['string']))})"
    if name == "str_endswith":
        return f"endsWith({text}, {quote_string(str(stats['string']))})"
    if name == "str_length":
        length = f"lengthUTF8({text})"
        if stats.get("exact_value") is not None:
            return f"{length} = {int(stats['exact_value'])}"
        parts = []
        if stats.get("min_value") is not None:
            parts.append(f"{length} >= {int(stats['min_value'])}")
        if stats.get("max_value") is not None:
            parts.append(f"{length} <= {int(stats['max_value'])}")
        return " AND ".join(parts) or "1"
    return None


def _unique_check(
    columns: Sequence[str], label: str, column: str | None, quote: bool = False
) -> CompiledCheck:
    quoted = [quote_identifier(name) for name in columns]
    key = quoted[0] if len(quoted) == 1 else f"tuple({', '.join(quoted)})"
    count = (
        f"count({key}) - uniqExact({key})" if len(quoted) == 1 else f"count() - uniqExact({key})"
    )
    return CompiledCheck(column, label, count, duplicates_of=tuple(columns), quote_examples=quote)


def _column_names(schema: Any, table_columns: dict[str, ClickHouseType]) -> dict[str, list[str]]:
    """Schema column name -> table columns it covers (regex columns may cover several)."""
    matched: dict[str, list[str]] = {}
    for name, column in schema.columns.items():
        if getattr(column, "regex", False):
            matched[name] = [c for c in table_columns if re.fullmatch(str(name), c)]
        else:
            matched[name] = [name] if name in table_columns else []
    return matched


def plan_validation(
    schema_or_model: Any,
    table_columns: dict[str, ClickHouseType],
    unique_key: Sequence[str] = (),
    python_checks_done: bool = False,
    unique_by_construction: Iterable[frozenset[str]] = (),
) -> ValidationPlan:
    """Compile a schema against a table's columns (name -> parsed ``DESCRIBE`` type).

    ``python_checks_done`` skips the checks Pandera already ran on every chunk of a
    Python asset's DataFrames, so nothing is checked twice. ``unique_by_construction``
    are column sets the rows are unique on by how they were made (a SELECT's ``GROUP
    BY``, see :mod:`io_managers.unique_by_select`): a uniqueness check over columns
    that include one of them cannot fail, so it is not counted.
    """
    plan = ValidationPlan(unique_by_construction=tuple(unique_by_construction))
    schema = as_dataframe_schema(schema_or_model)
    if schema is not None:
        _plan_schema(plan, schema, table_columns, python_checks_done)
    if unique_key:
        missing = [name for name in unique_key if name not in table_columns]
        if missing:
            plan.structural.append(
                ValidationFailure(", ".join(missing), "unique_key column missing from table")
            )
        else:
            label = f"unique_key ({', '.join(unique_key)}) unique"
            _add_unique_check(plan, _unique_check(unique_key, label, None))
    return plan


def _add_unique_check(plan: ValidationPlan, check: CompiledCheck) -> None:
    """Add a uniqueness count unless one over the same columns is there already (a key
    the schema marks unique and also publishes by is counted once, not twice) or the
    rows are unique on those columns by construction."""
    if _unique_on_one_of(check.duplicates_of, plan.unique_by_construction):
        return
    if all(existing.duplicates_of != check.duplicates_of for existing in plan.checks):
        plan.checks.append(check)


def _plan_schema(
    plan: ValidationPlan,
    schema: Any,
    table_columns: dict[str, ClickHouseType],
    python_checks_done: bool,
) -> None:
    """The schema's part of the plan: structure, column checks, frame-level checks."""
    covered = _column_names(schema, table_columns)
    fallback_columns: dict[str, Any] = {}
    for name, column in schema.columns.items():
        targets = covered[name]
        if not targets:
            if getattr(column, "required", True):
                plan.structural.append(
                    ValidationFailure(str(name), "column is in the schema but not in the table")
                )
            continue
        for target in targets:
            ch_type = table_columns[target]
            reason = dtype_mismatch(column.dtype, ch_type)
            if reason:
                plan.structural.append(ValidationFailure(target, f"dtype: {reason}"))
            reason = nullability_mismatch(bool(column.nullable), ch_type)
            if reason:
                plan.structural.append(ValidationFailure(target, f"nullable: {reason}"))
            _compile_column(plan, target, column, ch_type, fallback_columns, python_checks_done)

    if getattr(schema, "strict", False) is True:
        known = {target for targets in covered.values() for target in targets}
        for extra in table_columns:
            if extra not in known:
                plan.structural.append(
                    ValidationFailure(extra, "column is not in the schema (schema is strict)")
                )
    unique = schema.unique
    if unique:
        names = [unique] if isinstance(unique, str) else list(unique)
        if all(name in table_columns for name in names):
            _add_unique_check(plan, _unique_check(names, f"unique ({', '.join(names)})", None))
    frame_checks = [] if python_checks_done else list(schema.checks or [])
    if fallback_columns or frame_checks:
        import pandera.pandas as pa

        plan.fallback_schema = pa.DataFrameSchema(
            columns=fallback_columns, checks=frame_checks, strict=False
        )
        if frame_checks:
            plan.fallback_columns = tuple(table_columns)
        else:
            plan.fallback_columns = tuple(fallback_columns)


def _compile_column(
    plan: ValidationPlan,
    target: str,
    column: Any,
    ch_type: ClickHouseType,
    fallback_columns: dict[str, Any],
    python_checks_done: bool,
) -> None:
    ident = quote_identifier(target)
    value = f"toString({ident})" if ch_type.is_enum else ident
    text = ident if ch_type.is_string else f"toString({ident})"
    present = []
    if ch_type.nullable:
        present.append(f"{ident} IS NOT NULL")
    if ch_type.is_float:
        present.append(f"NOT isNaN({ident})")
    guard = " AND ".join(present)
    textual = ch_type.is_string or needs_text_projection(ch_type)

    if not column.nullable and present:
        missing = " OR ".join(
            ([f"{ident} IS NULL"] if ch_type.nullable else [])
            + ([f"isNaN({ident})"] if ch_type.is_float else [])
        )
        plan.checks.append(CompiledCheck(target, "not nullable", f"countIf({missing})"))
    if column.unique:
        _add_unique_check(plan, _unique_check([target], "unique", target, quote=textual))

    leftovers = []
    for check in column.checks:
        if check.name == "unique_values_eq" and _is_builtin(check):
            values = list(check.statistics["values"])
            listed = ", ".join(map(literal, values))
            outside = f"NOT ({value} IN {literal(values)})"
            count = (
                f"countIf({guard + ' AND ' if guard else ''}{outside})"
                f" + toUInt64(NOT hasAll(groupUniqArray({value}), [{listed}]))"
            )
            plan.checks.append(CompiledCheck(target, _check_label(check), count))
            continue
        predicate = _compile_predicate(check, value, text)
        if predicate is None:
            leftovers.append(check)
            continue
        failing = f"NOT ({predicate})"
        if guard:
            failing = f"{guard} AND {failing}"
        plan.checks.append(
            CompiledCheck(
                target,
                _check_label(check),
                f"countIf({failing})",
                examples_sql=f"groupUniqArrayIf({EXAMPLES})(toString({ident}), {failing})",
                warn_only=bool(getattr(check, "raise_warning", False)),
                quote_examples=textual,
            )
        )
    if leftovers and not python_checks_done:
        import pandera.pandas as pa

        fallback_columns[target] = pa.Column(
            dtype=None, checks=leftovers, nullable=True, required=True, name=target
        )


def run_validation(
    plan: ValidationPlan,
    table: str,
    table_columns: dict[str, ClickHouseType],
    query_rows: Callable[[str], list[dict[str, Any]]],
    iter_batches: Callable[[str], Iterator[pa.RecordBatch]],
    measures: Mapping[str, str] | None = None,
) -> tuple[list[ValidationFailure], dict[str, Any]]:
    """Execute ``plan`` against ``table`` (quoted); return every failure found.

    ``measures`` (alias -> aggregate expression) ride along in the same aggregate query;
    their values come back by alias, so measuring the table costs no query of its own.
    """
    failures = list(plan.structural)
    measured: dict[str, Any] = {}
    if plan.checks or measures:
        selects = [f"{expression} AS {alias}" for alias, expression in (measures or {}).items()]
        for i, check in enumerate(plan.checks):
            selects.append(f"toUInt64({check.count_sql}) AS c{i}")
            if check.examples_sql:
                selects.append(f"{check.examples_sql} AS e{i}")
        row = query_rows(f"SELECT {', '.join(selects)} FROM {table}")[0]
        measured = {alias: row[alias] for alias in measures or {}}
        for i, check in enumerate(plan.checks):
            count = int(row[f"c{i}"])
            if not count:
                continue
            examples: list[str] = []
            if check.examples_sql:
                values = sorted(str(v) for v in row[f"e{i}"])
                examples = [show_value(v) if check.quote_examples else v for v in values]
            elif check.duplicates_of:
                examples = _duplicate_examples(
                    check.duplicates_of, table, query_rows, check.quote_examples
                )
            failure = ValidationFailure(check.column, check.label, count, tuple(examples))
            if check.warn_only:
                log.warning("%s: %s", table, failure.describe())
            else:
                failures.append(failure)
    if plan.fallback_schema is not None:
        failures.extend(_run_fallback(plan, table, table_columns, iter_batches))
    return failures, measured


def _duplicate_examples(
    columns: Sequence[str],
    table: str,
    query_rows: Callable[[str], list[dict[str, Any]]],
    quote: bool,
) -> list[str]:
    quoted = [quote_identifier(name) for name in columns]
    key = quoted[0] if len(quoted) == 1 else f"tuple({', '.join(quoted)})"
    rows = query_rows(
        f"SELECT toString({key}) AS __value, count() AS __copies FROM {table} "
        f"WHERE {key} IS NOT NULL GROUP BY {key} HAVING __copies > 1 "
        f"ORDER BY __copies DESC, __value LIMIT {EXAMPLES}"
    )
    return [
        f"{show_value(row['__value']) if quote else row['__value']} (x{row['__copies']})"
        for row in rows
    ]


def read_projection(columns: Iterable[str], table_columns: dict[str, ClickHouseType]) -> str:
    """A select list that reads columns the way :func:`arrow_to_pandas` expects them."""
    parts = []
    for name in columns:
        ident = quote_identifier(name)
        ch_type = table_columns.get(name)
        if ch_type is not None and needs_text_projection(ch_type):
            parts.append(f"toString({ident}) AS {ident}")
        else:
            parts.append(ident)
    return ", ".join(parts)


def _run_fallback(
    plan: ValidationPlan,
    table: str,
    table_columns: dict[str, ClickHouseType],
    iter_batches: Callable[[str], Iterator[pa.RecordBatch]],
) -> list[ValidationFailure]:
    import pandas as pd

    sql = f"SELECT {read_projection(plan.fallback_columns, table_columns)} FROM {table}"
    found: dict[tuple[str | None, str], ValidationFailure] = {}
    offset = 0
    for batch in iter_batches(sql):
        frame = arrow_to_pandas(pa.Table.from_batches([batch]))
        frame.index = pd.RangeIndex(offset, offset + len(frame))  # rows number the table
        offset += len(frame)
        for failure in pandera_failures(plan.fallback_schema, frame):
            key = (failure.column, failure.check)
            previous = found.get(key)
            if previous is None:
                found[key] = failure
            else:
                examples = (previous.examples + failure.examples)[:EXAMPLES]
                found[key] = ValidationFailure(
                    failure.column,
                    failure.check,
                    (previous.failing_rows or 0) + (failure.failing_rows or 0),
                    examples,
                )
    return list(found.values())


def pandera_failures(schema: Any, frame: pd.DataFrame) -> list[ValidationFailure]:
    """Run Pandera on ``frame`` and summarise its failure cases per column and check."""
    from pandera.errors import SchemaError, SchemaErrors

    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return summarise_failure_cases(exc.failure_cases, _dtypes(frame))
    except SchemaError as exc:  # raised directly for some schema-level problems
        return [ValidationFailure(getattr(exc, "column_name", None), str(exc).splitlines()[0])]
    return []


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(column): str(dtype) for column, dtype in frame.dtypes.items()}


def summarise_failure_cases(
    cases: pd.DataFrame, dtypes: Mapping[str, str] | None = None
) -> list[ValidationFailure]:
    """Pandera's ``failure_cases`` frame as one failure per (column, check), worded like
    the SQL validation's so both kinds of asset report problems the same way.
    ``dtypes``: the validated frame's column types, named where a dtype check failed."""
    failures: list[ValidationFailure] = []
    context_of = cases["schema_context"].astype(str)
    # A dataframe-level check fails per (row, column); it is reported once, per row.
    column_of = cases["column"].astype(str).where(context_of != "DataFrameSchema", "")
    for (context, column, check), group in cases.groupby(
        [context_of, column_of, cases["check"].astype(str)], sort=True
    ):
        context, column, check = str(context), str(column), str(check)
        values = group["failure_case"].drop_duplicates()
        examples = tuple(show_value(v) for v in values.head(EXAMPLES))
        count: int | None = len(group)
        if context == "DataFrameSchema" and check not in _SCHEMA_LEVEL and "index" in group:
            rows = group["index"].drop_duplicates()
            count, examples = len(rows), tuple(f"row {i}" for i in rows.head(EXAMPLES))
        if context == "DataFrameSchema" and check in _SCHEMA_LEVEL:
            failures.extend(
                ValidationFailure(str(name), _SCHEMA_LEVEL[check]) for name in values.tolist()
            )
            continue
        if check.startswith("dtype("):
            expected = check.removeprefix("dtype(").removesuffix(")").strip("'")
            check = _dtype_check(expected, values, (dtypes or {}).get(column))
            examples, count = (), None
        elif check == "not_nullable":
            check, examples = "not nullable", ()
        elif check == "field_uniqueness":
            check = "unique"
        failures.append(
            ValidationFailure(
                None if context == "DataFrameSchema" else column, check, count, examples
            )
        )
    return failures


def _dtype_check(expected: str, values: pd.Series, found: str | None) -> str:
    """``dtype: expected date, found object (e.g. '2026-01-01')``. Pandera reports most
    dtype failures once, as the type it found, but some (dates) value by value: a value
    where a type belongs read as if that value were wrong."""
    reported = str(values.iloc[0])
    if found is None or found == reported:
        return f"dtype: expected {expected}, found {reported}"
    return f"dtype: expected {expected}, found {found} (e.g. {show_value(values.iloc[0])})"


_SCHEMA_LEVEL = {
    "column_in_dataframe": "column is in the schema but not in the data",
    "column_in_schema": "column is not in the schema (schema is strict)",
}


def validate_pandas(
    schema_or_model: Any, frame: pd.DataFrame
) -> tuple[pd.DataFrame, list[ValidationFailure]]:
    """Validate one chunk of a Python asset; returns the (possibly coerced) frame."""
    from pandera.errors import SchemaError, SchemaErrors

    schema = as_dataframe_schema(schema_or_model)
    try:
        return schema.validate(frame, lazy=True), []
    except SchemaErrors as exc:
        return frame, summarise_failure_cases(exc.failure_cases, _dtypes(frame))
    except SchemaError as exc:
        return frame, [
            ValidationFailure(getattr(exc, "column_name", None), str(exc).splitlines()[0])
        ]


def _unique_on_one_of(columns: Iterable[str], keys: Iterable[frozenset[str]]) -> bool:
    """Whether rows unique on one of ``keys`` are unique on ``columns`` too."""
    wanted = frozenset(columns)
    return any(key <= wanted for key in keys)
