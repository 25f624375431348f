"""Static schema validation: assets, Pandera schemas, DDL and SQL agree, with no server.

``pipeline validate`` runs this in CI. Everything happens in a throwaway embedded
ClickHouse: the DDL is applied to it, every table's columns are compared with its
schema (the same dtype mapping materialization uses), every SQL asset's ``SELECT`` is
compiled as a run compiles it (``DESCRIBE`` of
:func:`io_managers.statements.described_select`) against the empty tables, so is every
asset check's SQL, each output type of a SELECT is held to its column's
(:mod:`io_managers.type_fit`), and optionally a small sample run materializes everything,
which validates real content against each schema.

One asset's problem stops only what depends on it: an asset whose schema cannot be
imported is one finding and the others are still checked (one finding for every asset
a schema module that does not import stops, not one each); the sample run skips an asset
with a problem and what is downstream of it (saying so, :data:`NOT_VALIDATED`), and
materializes every other asset.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from io_managers import statements
from io_managers.checks import check_select as check_statement
from io_managers.checks import does_not_compile_at, tally_select, uncompiled_checks
from io_managers.ddl import column_place
from io_managers.errors import AssetValidationError, WarehouseError, without_quoted_query
from io_managers.select_syntax import compile_failure
from io_managers.sql import quote_string, quote_table
from io_managers.sql_tokens import one_statement
from io_managers.stage import (
    TargetShape,
    column_problems,
    output_problem,
    select_does_not_compile,
)
from io_managers.type_fit import conversion_loss
from io_managers.types import ClickHouseType, dtype_mismatch, nullability_mismatch
from io_managers.validation import as_dataframe_schema, plan_validation
from orchestration.asset import AssetSpec, SchemaImportError
from orchestration.asset_code import (
    at,
    body_failure,
    body_place,
    declaration_place,
    failure_place,
    in_body,
    literal_place,
    schema_place,
)
from orchestration.asset_reads import reads_of
from orchestration.checks import evaluate_checks
from orchestration.column_lineage import declared_lineage_problems
from orchestration.context import AssetContext
from orchestration.ddl_coverage import not_created_by_ddl
from orchestration.errors import did_you_mean
from orchestration.findings import Finding, sample_not_started, shared_cause, upstream_failed
from orchestration.graph import AssetGraph

if TYPE_CHECKING:
    from io_managers.clickhouse import ClickHouseIOManager
    from orchestration.checks import AssetCheck
    from orchestration.errors import Place


def check_table_against_schema(
    spec: AssetSpec, schema: Any, columns: Mapping[str, ClickHouseType]
) -> list[Finding]:
    """The DDL table and the Pandera schema (``DataFrameSchema``) agree column by column,
    in both directions; each finding names the schema's line to edit (the field, or the
    model that lacks one)."""
    if schema is None:
        return [Finding("schema", spec.key, spec.table, found="the asset declares no schema")]
    findings = []
    for failure in plan_validation(schema, dict(columns)).structural:
        check, _, reason = failure.check.partition(": ")
        findings.append(
            _in_schema(
                "dtype" if check == "dtype" else "nullable" if check == "nullable" else "columns",
                spec,
                failure.column,
                failure.column,
                reason or failure.check,
            )
        )
    declared = set(schema.columns) | {f.column for f in findings if f.check == "columns"}
    findings.extend(
        _in_schema(
            "columns",
            spec,
            name,
            None,
            f"{name} ({ch_type.text}) is in the DDL but not in schema "
            f"{getattr(spec.schema, '__name__', 'schema')}",
            expected="a schema field for every DDL column",
        )
        for name, ch_type in columns.items()
        if name not in declared
    )
    return findings


def _in_schema(
    check: str,
    spec: AssetSpec,
    column: str | None,
    field: str | None,
    text: str,
    expected: str | None = None,
) -> Finding:
    """A finding that ``spec``'s schema does not fit its table at ``column``, said after
    (and placed at) the line declaring ``field`` (None: the model, which lacks one)."""
    place = schema_place(spec.schema, field)
    found = at(place, text)
    return Finding(check, spec.key, spec.table, column, expected, found, place=place)


def check_key_columns(
    io: ClickHouseIOManager, spec: AssetSpec, schema_columns: Iterable[str]
) -> list[Finding]:
    """ORDER BY / PRIMARY KEY columns exist in the schema, and insert-only keys in the table."""
    database, name = spec.table.split(".", 1)
    rows = io.query_arrow(
        "SELECT name, is_in_sorting_key, is_in_primary_key FROM system.columns "
        f"WHERE database = {quote_string(database)} AND table = {quote_string(name)}"
    ).to_pylist()
    declared = set(schema_columns)
    table_columns = {row["name"] for row in rows}
    findings = [
        Finding(
            "keys",
            spec.key,
            spec.table,
            row["name"],
            expected="ORDER BY / PRIMARY KEY columns declared in the schema",
            found=f"{row['name']} is a key column missing from the schema",
        )
        for row in rows
        if (row["is_in_sorting_key"] or row["is_in_primary_key"]) and row["name"] not in declared
    ]
    findings.extend(
        Finding(
            "keys",
            spec.key,
            spec.table,
            column,
            expected="unique_key columns present in the table",
            found=f"unique_key column {column} is not in the DDL",
        )
        for column in spec.unique_key
        if column not in table_columns
    )
    return findings


def check_select(
    io: ClickHouseIOManager,
    spec: AssetSpec,
    schema: Any,
    target: TargetShape,
    context: AssetContext,
    ddl_paths: Sequence[Path],
) -> list[Finding]:
    """A SQL asset's SELECT compiles, and its output fits its table (by name, as it is
    inserted: :func:`~io_managers.stage.column_problems`; by type, each output column
    into its table column without loss: :func:`~io_managers.type_fit.conversion_loss`)
    and its schema (``DataFrameSchema``; ``None``: no schema to compare with). Each
    finding is worded as a run words it, after where the asset's body is; one of an
    output type its column cannot hold, after where ``ddl_paths`` declare that column.

    An output column of its table column's very type is not compared with the schema
    again: :func:`check_table_against_schema` compared that type already, and would only
    be repeated (one wrong dtype, two lines). Only a type the SELECT gives of its own
    (``Int32`` into an ``Int8`` column, ``Nullable`` into a plain one) is a cause of its
    own, reported here, once: the column's type comes first (the schema accepts a
    narrower integer column, the INSERT wraps into it), the schema's only when the column
    holds the output.
    """
    body = spec.body(context)
    select = body
    place = body_place(spec)  # where each finding's words (in_body's) say its body is
    if isinstance(body, str):
        # Its one statement, compiled as a run compiles it (io_managers.stage.stage_sql).
        try:
            select = one_statement(body, "its SELECT").text
        except ValueError as exc:
            return [_in_select(spec, in_body(spec, str(exc)), place)]
    try:
        output = io.queries.columns(statements.described_select(select))
    except WarehouseError as exc:
        # At its line in the author's text, as materialize gives it.
        refused = select_does_not_compile(spec, body, compile_failure(io.queries, body, exc))
        where = refused.place
        full = at(where, refused.full_cause)
        return [_in_select(spec, at(where, refused.cause), where, full_found=full)]
    findings = [
        # Its words list the columns: named once, not again before them.
        _in_select(
            spec, at(place, output_problem(spec, problem.text)), place, problem.column, {"column"}
        )
        for problem in column_problems(list(output), target)
    ]
    fields = dict(schema.columns) if schema is not None else {}
    for name, ch_type in output.items():
        column = target.columns.get(name)
        if column is None or column == ch_type:
            continue
        if loss := conversion_loss(ch_type, column):
            findings.append(_lossy_insert(spec, ddl_paths, name, ch_type, column, loss))
            continue
        field = fields.get(name)
        if field is None:
            continue
        # Non-null output into a Nullable column is safe; only NULLs with nowhere to go count.
        nullable = bool(field.nullable) and ch_type.nullable
        for reason in (
            dtype_mismatch(field.dtype, ch_type),
            nullability_mismatch(nullable, ch_type),
        ):
            if reason:
                found = at(place, output_problem(spec, f"output {reason}"))
                findings.append(_in_select(spec, found, place, name))
    return findings


def _lossy_insert(
    spec: AssetSpec,
    ddl_paths: Sequence[Path],
    name: str,
    produced: ClickHouseType,
    column: ClickHouseType,
    loss: str,
) -> Finding:
    """An output column its table column cannot hold without loss, after (and placed at)
    where the DDL declares that column (the type a change of the DDL narrowed), naming
    where the SELECT is too (the type a change of the SELECT widened): either may be the
    one to edit."""
    select = body_place(spec)
    place = column_place(ddl_paths, spec.table, name)
    text = f"column type {column.text} cannot hold SELECT output {produced.text}"
    found = at(place, f"{text} ({select}): {loss}" if select else f"{text}: {loss}")
    return Finding("select", spec.key, spec.table, name, found=found, place=place)


def _in_select(
    spec: AssetSpec,
    found: str,
    place: Place | None,
    column: str | None = None,
    named_in_found: Iterable[str] = (),
    full_found: str | None = None,
) -> Finding:
    """A finding about ``spec``'s SELECT, whose words ``found`` name its body's ``place``
    (``full_found``: them in full, when ``found`` leaves a part out)."""
    return Finding(
        "select",
        spec.key,
        spec.table,
        column,
        found=found,
        place=place,
        named_in_found=frozenset(named_in_found),
        full_found=full_found,
    )


def check_asset_checks(io: ClickHouseIOManager, spec: AssetSpec) -> list[Finding]:
    """Each asset check's SQL is one statement that compiles against the DDL's tables,
    and so does the tally of its rows' sources (``AssetCheck.reloads``) over it; each
    finding is placed where the check is declared.

    A run compiles the checks too, on the staged table before publishing it
    (:func:`io_managers.checks.uncompiled_checks`), and fails the asset in these words;
    here it fails CI instead.
    """
    broken = uncompiled_checks(io.queries.columns, spec.checks, quote_table(spec.table))
    findings = [
        _check_finding(
            spec,
            check,
            does_not_compile_at(check, exc),
            does_not_compile_at(check, exc, full=True),
        )
        for check, exc in broken
    ]
    failed = {check.name for check, _ in broken}
    for check in spec.checks:
        if check.reloads is None or check.name in failed:
            continue
        statement = check_statement(check.sql, spec.table)
        try:  # counted only when the check fails: a typo would show in the incident
            io.queries.columns(f"({tally_select(statement, check.reloads.source)})")
        except WarehouseError as exc:
            said = f"check {check.name!r}: its reload source does not compile: "
            findings.append(
                _check_finding(
                    spec,
                    check,
                    at(check.place, said + without_quoted_query(str(exc))),
                    at(check.place, said + str(exc)),
                )
            )
    return findings


def _check_finding(
    spec: AssetSpec, check: AssetCheck, found: str, full_found: str | None = None
) -> Finding:
    """A finding about ``check``, one of ``spec``'s asset checks, at its declaration
    (``full_found``: ``found`` in full, when it leaves a part out)."""
    return Finding(
        "check", spec.key, spec.table, found=found, place=check.place, full_found=full_found
    )


def run_sample(
    io: ClickHouseIOManager,
    graph: AssetGraph,
    context_for: Callable[[AssetSpec], AssetContext],
    failed: Iterable[str] = (),
) -> list[Finding]:
    """Materialize every asset in order; each materialization validates its content,
    then its checks run as a run runs them: an error check that finds rows (or cannot
    run) fails the asset, a warn check's rows are no problem.

    An asset that failed (in ``failed``, the static checks' problems, or here) is not
    materialized, nor is anything downstream of it: each of those is a finding saying
    which failed upstream assets stopped it, after the problems; every other asset runs.
    """
    findings: list[Finding] = []
    skipped: list[Finding] = []
    broken = set(failed)
    for spec in graph:
        if spec.key in broken:
            continue  # its problems are reported already
        if stopped_by := broken & graph.ancestors(spec.key):
            skipped.append(upstream_failed(spec.key, spec.table, stopped_by))
            continue
        try:
            io.materialize(spec, context_for(spec))
            failing = [result for result in evaluate_checks(spec, io) if result.blocking]
        except AssetValidationError as exc:
            broken.add(spec.key)
            findings.extend(
                Finding(
                    "sample",
                    spec.key,
                    spec.table,
                    f.column,
                    found=f.describe(where=False),
                    place=f.declared_at,
                )
                for f in exc.failures
            )
        except Exception as exc:  # said as a run says it: where its code raised it
            broken.add(spec.key)
            cause, place = body_failure(spec, exc), failure_place(spec, exc)
            full = body_failure(spec, exc, full=True)
            findings.append(
                Finding.from_error("sample", spec.key, spec.table, exc, cause, place, full)
            )
        else:
            if failing:  # a run fails the asset here too, and builds nothing on it
                broken.add(spec.key)
                findings.extend(
                    Finding("sample", spec.key, spec.table, found=result.summary())
                    for result in failing
                )
    return findings + skipped


def validate_definitions(
    graph: AssetGraph,
    ddl_paths: Iterable[Path],
    scratch: Callable[[Path], ClickHouseIOManager],
    *,
    sample_params: Mapping[str, Any] | None = None,
    workdir: Path | None = None,
) -> list[Finding]:
    """Every finding for a code location's graph; none means schemas, DDL and SQL agree.

    ``scratch`` opens an empty embedded warehouse in a directory (a throwaway one is
    made); ``sample_params`` (e.g. ``{"source": "synthetic:5000"}``) adds the sample run.
    """
    with tempfile.TemporaryDirectory(prefix="pipeline-validate-", dir=workdir) as tmp:
        io = scratch(Path(tmp) / "warehouse")
        try:
            return _validate_in(io, graph, list(ddl_paths), sample_params, Path(tmp))
        finally:
            io.close()


def _validate_in(
    io: ClickHouseIOManager,
    graph: AssetGraph,
    ddl_paths: list[Path],
    sample_params: Mapping[str, Any] | None,
    tmp: Path,
) -> list[Finding]:
    try:
        io.setup(ddl_paths)
    except (WarehouseError, OSError) as exc:
        problem = Finding("ddl", found=f"DDL does not apply to a fresh ClickHouse: {exc}")
        unsampled = [(spec.key, spec.table) for spec in graph] if sample_params is not None else []
        return [problem, *sample_not_started(unsampled)]
    load_datetime = datetime.now(UTC).replace(microsecond=0)
    # As given, not copied: validate learns from it which parameters the sample read.
    params: Mapping[str, Any] = sample_params if sample_params is not None else {}

    def context_for(spec: AssetSpec) -> AssetContext:
        # Sandboxed: a report goes into the temp dir, and nothing is sent out.
        return AssetContext(
            spec=spec,
            io_manager=reads_of(io, spec, graph),  # as a run's: only what the graph knows
            load_datetime=load_datetime,
            params=params,
            sandbox=tmp / "reports",
        )

    schemas, unreadable = read_schemas(graph)
    findings: list[Finding] = []
    for spec in graph:
        if spec.key in unreadable:  # where the first asset it stops is checked
            findings.append(unreadable[spec.key])
        findings.extend(check_asset(io, spec, context_for(spec), schemas, ddl_paths))
        findings.extend(check_declared_lineage(io, graph, spec))
        findings.extend(check_latest_by(io, spec))
    if sample_params is not None:
        failed = {key for finding in findings for key in finding.affected}
        findings.extend(run_sample(io, graph, context_for, failed))
    return findings


def check_declared_lineage(
    io: ClickHouseIOManager, graph: AssetGraph, spec: AssetSpec
) -> list[Finding]:
    """A Python asset's declared column lineage names columns of the DDL's tables: its
    keys its own table's, its sources those of the tables of the assets upstream of it
    (:func:`~orchestration.column_lineage.declared_lineage_problems`)."""
    if not (spec.column_lineage or spec.also_reads) or not io.table_exists(spec.table):
        return []  # a table the DDL does not create is a finding of check_asset's

    def table_columns(table: str) -> list[str] | None:
        return [name for name, _ in io.describe(table)] if io.table_exists(table) else None

    return declared_lineage_problems(
        spec,
        table_columns(spec.table) or [],
        table_columns,
        upstream={graph[key].table for key in graph.ancestors(spec.key)},
        produced={other.table for other in graph},
    )


def check_latest_by(io: ClickHouseIOManager, spec: AssetSpec) -> list[Finding]:
    """An asset's ``latest_by`` names a column of its DDL table: it orders the query a run
    suggests of that table, which a misspelt one made fail on the engine's unknown
    identifier, after the run, for whoever pasted it."""
    if spec.latest_by is None or not io.table_exists(spec.table):
        return []  # a table the DDL does not create is a finding of check_asset's
    columns = [name for name, _ in io.describe(spec.table)]
    if spec.latest_by in columns:
        return []
    place = literal_place(spec, spec.latest_by)
    found = f"latest_by names {spec.latest_by!r}, not a column of {spec.table}"
    return [
        Finding(
            "columns",
            spec.key,
            spec.table,
            found=at(place, found + did_you_mean(spec.latest_by, columns)),
            place=place,
        )
    ]


def read_schemas(graph: AssetGraph) -> tuple[dict[str, Any], dict[str, Finding]]:
    """Each readable schema of the graph's assets as a ``DataFrameSchema`` (None: the
    asset declares none), and why the others cannot be read, by the first asset each
    cause stops: one finding per cause (:func:`shared_cause`), so a syntax error in a
    schema module is one finding, not one for each asset whose model is there; a
    misspelt ``"module:Model"`` stays its asset's own."""
    schemas: dict[str, Any] = {}
    causes: dict[str, list[Finding]] = {}
    for spec in graph:
        try:
            schemas[spec.key] = as_dataframe_schema(spec.schema)
        except SchemaImportError as exc:
            failure = Finding("schema", spec.key, spec.table, found=exc.reason)
            causes.setdefault(failure.found, []).append(failure)
        except Exception as exc:  # the model's own code: shown as any asset's bug is
            failure = Finding.from_error("schema", spec.key, spec.table, exc)
            causes.setdefault(failure.found, []).append(failure)
    return schemas, {str(stopped[0].asset): shared_cause(stopped) for stopped in causes.values()}


def check_asset(
    io: ClickHouseIOManager,
    spec: AssetSpec,
    context: AssetContext,
    schemas: Mapping[str, Any],
    ddl_paths: Sequence[Path],
) -> list[Finding]:
    """Every static check of one asset against the DDL's tables in ``io``.

    An asset not in ``schemas`` (:func:`read_schemas`: its schema cannot be read, which
    a finding of its own says) is not the end of validate: its SELECT and checks, which
    need no schema, are still checked.
    """
    if not io.table_exists(spec.table):
        # Where to add it is the DDL; which asset, here. Materialize refuses it in these words.
        found, place = not_created_by_ddl(spec), declaration_place(spec)
        return [Finding("ddl", spec.key, spec.table, found=found, place=place)]
    columns, defaults = io.queries.describe_with_defaults(f"TABLE {quote_table(spec.table)}")
    findings: list[Finding] = []
    schema = schemas.get(spec.key)
    if spec.key in schemas:
        findings.extend(check_table_against_schema(spec, schema, columns))
        findings.extend(check_key_columns(io, spec, schema.columns if schema is not None else ()))
    if spec.kind == "sql":
        shape = TargetShape(columns, defaults)
        findings.extend(check_select(io, spec, schema, shape, context, ddl_paths))
    findings.extend(check_asset_checks(io, spec))
    return findings
