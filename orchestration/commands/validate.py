"""``pipeline validate``: the CI schema check, with no database server.

Checks that the asset graph builds and every table a SQL asset or an asset check reads,
or the DDL declares, is produced by an asset (or declared external), then asks each IO
manager of the code location to check the assets no graph problem reaches (every graph
problem is a finding, and the assets each sets aside, its own and those downstream, one
line and a count, so one CI run says every problem of a change): for the warehouse,
that every Pandera schema and DDL table agree column by column, that the DDL applies to
a fresh embedded ClickHouse, and that every SQL asset's SELECT compiles and fits its
table (each output column's type into its column's without loss); ``--sample`` also
materializes a small source, validates real content and runs each asset's checks on it,
as a run does. One line per problem; exit 1 if there is any. A problem that is an error
nobody foresaw (an asset's own code failing in the sample run) is shown as every command
shows one: ``--debug`` prints its traceback, else a hint says that it does.

The assets the sample run could not validate (downstream of a failed asset) are said in
one more line and counted in the summary, never passed over; ``--json``, whose document is
the list of findings whatever went wrong, lists each as a finding of check
``not_validated``. ``--format github`` prints each problem as a GitHub Actions annotation
at the file and line its finding names, for the pull request's diff.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text

from orchestration.asset import AssetSpec
from orchestration.asset_code import at
from orchestration.cli_options import (
    DEBUG_HINT,
    DefinitionsOption,
    JsonFormatOption,
    SourceEncodingOption,
    debug_on,
    error_console,
    format_or_json,
    ignored_warehouse_option,
    source_option,
)
from orchestration.definitions import Definitions, load_definitions
from orchestration.derived_deps import uncovered_check_reads
from orchestration.errors import ExpectedError, Place
from orchestration.findings import (
    NOT_CHECKED,
    NOT_VALIDATED,
    Finding,
    count_assets,
    is_problem,
    not_checked,
    not_checked_line,
    not_validated_line,
    sample_not_started,
)
from orchestration.graph import AssetGraph, GraphProblem, PartialGraph
from orchestration.output import document_option, echo
from orchestration.redaction import shown_source
from orchestration.run_report import counted
from orchestration.selection import EmptySelectionError, SelectionSyntaxError, select_keys
from orchestration.text_encoding import SOURCE_ENCODING_PARAM
from orchestration.text_table import make_console
from orchestration.workflow_commands import workflow_command

DEFAULT_SAMPLE_SOURCE = "synthetic:5000"


class ValidateFormat(StrEnum):
    """How ``pipeline validate`` prints its findings."""

    text = "text"
    json = "json"
    github = "github"


def validate(
    ctx: typer.Context,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Also materialize a small source, validate every table's content and run "
            "the asset checks on it (an error check that finds rows is a problem).",
        ),
    ] = False,
    source: Annotated[
        str | None, source_option(f"Source of the --sample run (default {DEFAULT_SAMPLE_SOURCE}).")
    ] = None,
    source_encoding: SourceEncodingOption = None,
    fmt: Annotated[
        ValidateFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="text (a line a problem, for people), json (a list of findings, "
            "docs/json.md) or github (GitHub Actions annotations, each at its finding's file "
            "and line in the pull request's diff); json and github hold all of stdout.",
            callback=document_option,
        ),
    ] = ValidateFormat.text,
    as_json: JsonFormatOption = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",  # one flag, as materialize's: no "--no-verbose" column in the help
            help="Say each problem in full: a SELECT that does not compile with the engine's "
            "quote of it after its cause and guess (--json gives both: found, found_full).",
        ),
    ] = False,
    definitions: DefinitionsOption = None,
    warehouse: Annotated[
        str | None,
        ignored_warehouse_option("validate checks in a throwaway embedded warehouse of its own"),
    ] = None,
) -> None:
    """Check schemas against the DDL and the SQL, in a throwaway embedded warehouse.

    Also that every asset check compiles, that every table a SELECT or a check reads has
    an asset, and so has every table the DDL declares (or it is external). One line per
    problem and exit 1 if there is any: the CI schema check.
    """
    fmt = format_or_json(ctx, fmt, as_json, ValidateFormat.json)
    if source is not None and not sample:
        # Only the sample run reads a source: ignoring it would report success on a file
        # that was never opened.
        raise typer.BadParameter(
            "it is the source of the --sample run; add --sample to validate its content",
            param_hint="'--source'",
        )
    if source_encoding is not None and not sample:
        raise typer.BadParameter(
            "it is the encoding of the --sample run's source; add --sample to validate its content",
            param_hint="'--source-encoding'",
        )
    source = source or DEFAULT_SAMPLE_SOURCE
    try:
        defs = load_definitions(definitions)
    except ExpectedError as exc:
        # The document a script reads, whatever went wrong; the line on stderr.
        unloaded = [Finding.from_error("definitions", None, None, exc)]
        if fmt is ValidateFormat.json:
            echo(_as_json(unloaded))
        elif fmt is ValidateFormat.github:
            echo("\n".join(_annotations(unloaded)))
        raise
    given = {"source": source}
    if source_encoding is not None:  # as materialize passes it: a run parameter
        given[SOURCE_ENCODING_PARAM] = source_encoding
    sample_params = ReadParams(given)
    findings = [*_not_loaded(defs), *find_problems(defs, sample_params if sample else None)]
    checked = count_assets(len(defs.assets))
    if sample:
        checked += _sample_run(source, source_encoding, read="source" in sample_params.read)
    if fmt is ValidateFormat.json:
        echo(_as_json(findings))
    else:
        github = fmt is ValidateFormat.github
        said = _annotations(findings, full=verbose) if github else _lines(findings, full=verbose)
        for line in said:
            echo(line)
    if debug_on(ctx):
        _print_tracebacks(findings)
    elif fmt is not ValidateFormat.json and any(not finding.foreseen for finding in findings):
        error_console.print(DEBUG_HINT, style="dim")
    if fmt is ValidateFormat.github:
        echo(_summary(findings, checked).plain)
    elif fmt is ValidateFormat.text:
        make_console().print(_summary(findings, checked), highlight=False)
    if findings:
        raise typer.Exit(1)


class ReadParams(Mapping[str, Any]):
    """The sample run's parameters, noting each one an asset (or what runs it) reads:
    the summary named ``synthetic:5000`` as the sample's source for a code location
    whose assets read none. Copying them (``dict(params)``) reads them all, so an IO
    manager that copies them never makes a source that was read look unread; this
    project's hands them to the assets' contexts as given."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self._params = dict(params)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)


def _sample_run(source: str, encoding: str | None, *, read: bool) -> str:
    """What the summary says of the sample run: the source it read, or that no asset
    read the one it was given (a code location that reads none of its own)."""
    read_as = f" read as {encoding}" if encoding else ""
    shown = f"{shown_source(source)}{read_as}"
    if read:
        return f", sample run from {shown}"
    return f", sample run (no asset read the sample source, {shown})"


def _as_json(findings: list[Finding]) -> str:
    return json.dumps([finding.as_dict() for finding in findings], indent=2)


def _lines(findings: list[Finding], *, full: bool = False) -> list[str]:
    """A line for each problem (``full``: said in full), then one for the assets left
    unchecked, one for those the sample run left unvalidated."""
    problems = [finding.line(full=full) for finding in findings if is_problem(finding)]
    left = [not_checked_line(findings), not_validated_line(findings)]
    return problems + [line for line in left if line]


def _annotations(findings: list[Finding], *, full: bool = False) -> list[str]:
    """Each problem as an error annotation at its file and line (of the run, with none;
    ``full``: said in full), the assets left unchecked or unvalidated as a warning:
    ``--format github``."""
    errors = [
        workflow_command(
            "error",
            finding.line(full=full),
            file=finding.place.file if finding.place else None,
            line=finding.place.line if finding.place else None,
            col=finding.place.col if finding.place else None,
            title=" ".join(
                part for part in ("pipeline validate", f"[{finding.check}]", finding.asset) if part
            ),
        )
        for finding in findings
        if is_problem(finding)
    ]
    left = [not_checked_line(findings), not_validated_line(findings)]
    return errors + [
        workflow_command("warning", line, title="pipeline validate") for line in left if line
    ]


def _summary(findings: list[Finding], checked: str) -> Text:
    """``2 problems in 27 assets (9 assets not checked)``, or that all agree: the last line."""
    left = [
        f"{count_assets(count)} {said}"
        for check, said in ((NOT_CHECKED, "not checked"), (NOT_VALIDATED, "not validated"))
        if (count := sum(finding.check == check for finding in findings))
    ]
    if left:
        checked += f" ({', '.join(left)})"
    if findings:
        problems = counted(sum(is_problem(finding) for finding in findings), "problem")
        return Text.assemble((problems, "bold red"), f" in {checked}")
    return Text.assemble(("schemas, DDL and SQL agree", "green"), f" ({checked})")


def _print_tracebacks(findings: list[Finding]) -> None:
    """With ``--debug``: where each finding that is an exception was raised, on stderr
    (as ``main`` lets any error's traceback through), never in the findings' own output."""
    for finding in findings:
        if finding.traceback:
            sys.stdout.flush()  # after its line, on a terminal showing both streams
            sys.stderr.write(finding.traceback)
            sys.stderr.flush()


def find_problems(defs: Definitions, sample_params: Mapping[str, Any] | None) -> list[Finding]:
    """Every problem of the graph, then every IO manager's findings about the assets none
    of those problems reaches, then each asset a graph problem kept from being checked.

    With ``sample_params``, a problem that stops every IO manager's check (none is
    declared, or one cannot check its assets) also says which assets the sample run never
    validated.
    """
    sampled = sample_params is not None
    partial, uncovered = defs.checked_graph()
    tables = _tables(defs.assets)
    findings = [_graph_finding(problem, tables) for problem in partial.problems]
    findings.extend(
        Finding("reads", read.asset, read.table, found=read.cause(), place=read.place)
        for read in uncovered
    )
    findings.extend(_rebuild_findings(partial))
    if defs.io_managers:
        findings.extend(_io_manager_findings(defs, partial.graph, sample_params))
    else:
        findings.append(Finding("io_manager", found="the code location declares no IO managers"))
        findings.extend(_not_started(partial.graph, sampled))
    return findings + _set_aside(partial, tables)


def _not_loaded(defs: Definitions) -> list[Finding]:
    """Each file of the code location's package that may declare assets but that no
    import reaches: a problem, as its assets are in no graph, no check and no run."""
    return [Finding("module", found=file.line(), place=file.place) for file in defs.not_loaded]


def _rebuild_findings(partial: PartialGraph) -> list[Finding]:
    """Each check whose ``rebuilds`` selection, or the selection its ``reloads`` loads a
    source with, cannot run: its failed run's Next line offers that selection as the
    command to paste, which would then be refused in the incident (it does not parse, or
    selects no asset of the graph). Not judged while a graph problem sets assets aside:
    the selection may name one of them."""
    graph = partial.graph
    found: list[Finding] = []
    for spec in graph:
        for check in spec.checks:
            selections = {
                "rebuild": check.rebuilds,
                "reload": check.reloads.select if check.reloads else None,
            }
            for role, selection in selections.items():
                cause = _why_it_cannot_run(graph, selection, bool(partial.set_aside))
                if cause is not None:
                    found.append(
                        Finding(
                            "check",
                            spec.key,
                            spec.table,
                            found=f"check {check.name!r}: its {role} selection cannot run: {cause}",
                        )
                    )
    return found


def _why_it_cannot_run(graph: AssetGraph, selection: str | None, set_aside: bool) -> str | None:
    """Why ``selection`` would be refused (None: it runs, or there is none); one that
    selects nothing is not judged while a graph problem sets assets aside."""
    if selection is None:
        return None
    try:
        select_keys(graph.dag, selection)
    except SelectionSyntaxError as exc:
        return f"invalid asset selection at position {exc.position}: {exc.reason}"
    except EmptySelectionError as exc:
        return None if set_aside else str(exc)
    return None


def _io_manager_findings(
    defs: Definitions, graph: AssetGraph, sample_params: Mapping[str, Any] | None
) -> list[Finding]:
    """Each IO manager's findings about its assets in ``graph``, each check of every
    asset of the code location that reads a table no asset produces, and each table the
    DDL declares that no asset produces."""
    findings: list[Finding] = []
    declared: dict[str, Place] = {}
    for name, factory in defs.io_managers.items():
        io_manager = factory(None)
        try:
            for table, place in io_manager.declared_tables(defs.ddl_paths).items():
                declared.setdefault(table, place)
            findings.extend(
                Finding("reads", read.asset, read.table, found=read.cause(), place=read.place)
                for read in uncovered_check_reads(
                    defs.assets, {name: io_manager}, defs.external_tables
                )
            )
            findings.extend(io_manager.check_definitions(graph, defs.ddl_paths, sample_params))
        except NotImplementedError as exc:
            findings.append(Finding("io_manager", found=f"IO manager {name!r}: {exc}"))
            stored = [spec for spec in graph if spec.io_manager == name]
            findings.extend(_not_started(stored, sample_params is not None))
        finally:
            io_manager.close()
    return findings + _unproduced(defs, declared)


def _unproduced(defs: Definitions, declared: Mapping[str, Place]) -> list[Finding]:
    """Each table of ``declared`` (the DDL's) that no asset of the code location
    produces, set aside or not, and none names external: a table no run fills, most
    often the DDL of an asset deleted or renamed, which validate never said."""
    produced = {spec.table for spec in defs.assets} | set(defs.external_tables)
    return [
        Finding("ddl", table=table, found=at(place, _UNPRODUCED), place=place)
        for table, place in declared.items()
        if table not in produced
    ]


_UNPRODUCED = (
    "the DDL creates it but no asset produces it: declare its asset, name it in "
    "Definitions(external_tables=...) if another system loads it, or drop it from the DDL"
)


def _tables(specs: Iterable[AssetSpec]) -> dict[str, str | None]:
    """Each asset's table; None for a key declared twice (it names two)."""
    tables: dict[str, str | None] = {}
    for spec in specs:
        tables[spec.key] = None if spec.key in tables else spec.table
    return tables


def _graph_finding(problem: GraphProblem, tables: dict[str, str | None]) -> Finding:
    """``problem`` as a finding: its words as every command refuses it, its asset (its
    assets, when it is of several, a cycle) and its place."""
    (asset,) = problem.assets if len(problem.assets) == 1 else (None,)
    return Finding(
        "graph",
        asset,
        tables.get(asset) if asset else None,
        found=problem.message,
        place=problem.place,
        assets=problem.assets if asset is None else (),
        named_in_found=frozenset({"asset", "table", "assets"}),
    )


def _set_aside(partial: PartialGraph, tables: dict[str, str | None]) -> list[Finding]:
    """Each asset a graph problem kept from being checked, in declaration order."""
    return [
        not_checked(key, table, partial.set_aside[key])
        for key, table in tables.items()
        if key in partial.set_aside
    ]


def _not_started(specs: Iterable[AssetSpec], sampled: bool) -> list[Finding]:
    """If the sample run was asked for: each of ``specs`` as one it never validated."""
    return sample_not_started((spec.key, spec.table) for spec in specs) if sampled else []
