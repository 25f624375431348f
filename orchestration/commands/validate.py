"""``pipeline validate``: the CI schema check, with no database server.

Checks that the asset graph builds and every table a SQL asset or an asset check reads is
produced by an asset (or declared external), then asks each IO manager of the code
location to check its assets: for the warehouse, that every Pandera schema and DDL table
agree column by column, that the DDL applies to a fresh embedded ClickHouse, and that
every SQL asset's SELECT compiles and fits its table (each output column's type into its
column's without loss); ``--sample`` also materializes a small source, validates real
content and runs each asset's checks on it, as a run does.
One line per problem; exit 1 if there is any. A problem that is an error nobody foresaw
(an asset's own code failing in the sample run) is shown as every command shows one:
``--debug`` prints its traceback, else a hint says that it does.

The assets the sample run could not validate (downstream of a failed asset) are said in
one more line and counted in the summary, never passed over; ``--json``, whose document is
the list of findings whatever went wrong, lists each as a finding of check
``not_validated``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated

import typer

from orchestration.asset import AssetSpec
from orchestration.cli_options import (
    DEBUG_HINT,
    SOURCE_ENCODING_PARAM,
    DefinitionsOption,
    JsonOption,
    SourceEncodingOption,
    debug_on,
    error_console,
    source_option,
)
from orchestration.definitions import Definitions, load_definitions
from orchestration.derived_deps import UncoveredReadError, uncovered_check_reads
from orchestration.errors import ExpectedError
from orchestration.findings import (
    Finding,
    count_assets,
    is_problem,
    not_validated_line,
    sample_not_started,
)
from orchestration.graph import AssetGraphError
from orchestration.output import echo
from orchestration.redaction import shown_source
from orchestration.run_report import counted
from orchestration.text_table import make_console

DEFAULT_SAMPLE_SOURCE = "synthetic:5000"


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
    as_json: JsonOption = False,
    definitions: DefinitionsOption = None,
) -> None:
    """Check schemas against the DDL and the SQL, in a throwaway embedded warehouse.

    Also that every asset check compiles and that every table a SELECT or a check reads
    has an asset. One line per problem and exit 1 if there is any: the CI schema check.
    """
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
        if as_json:  # the document a script reads, whatever went wrong; the line on stderr
            echo(json.dumps([Finding("definitions", found=str(exc)).as_dict()], indent=2))
        raise
    sample_params = {"source": source}
    if source_encoding is not None:  # as materialize passes it: a run parameter
        sample_params[SOURCE_ENCODING_PARAM] = source_encoding
    findings = find_problems(defs, sample_params if sample else None)
    debug = debug_on(ctx)
    if as_json:
        echo(json.dumps([f.as_dict() for f in findings], indent=2))
        if debug:
            _print_tracebacks(findings)
    else:
        problems = [finding for finding in findings if is_problem(finding)]
        for finding in problems:
            echo(finding.line())
        if skipped_line := not_validated_line(findings):
            echo(skipped_line)
        if debug:
            _print_tracebacks(findings)
        elif any(not finding.foreseen for finding in findings):
            error_console.print(DEBUG_HINT, style="dim")
        console = make_console()
        read_as = f" read as {source_encoding}" if source_encoding else ""
        checked = count_assets(len(defs.assets)) + (
            f", sample run from {shown_source(source)}{read_as}" if sample else ""
        )
        if skipped := len(findings) - len(problems):
            checked += f" ({count_assets(skipped)} not validated)"
        if findings:
            said = counted(len(problems), "problem")
            console.print(f"[bold red]{said}[/] in {checked}", highlight=False)
        else:
            console.print(f"[green]schemas, DDL and SQL agree[/] ({checked})", highlight=False)
    if findings:
        raise typer.Exit(1)


def _print_tracebacks(findings: list[Finding]) -> None:
    """With ``--debug``: where each finding that is an exception was raised, on stderr
    (as ``main`` lets any error's traceback through), never in the findings' own output."""
    for finding in findings:
        if finding.traceback:
            sys.stdout.flush()  # after its line, on a terminal showing both streams
            sys.stderr.write(finding.traceback)
            sys.stderr.flush()


def find_problems(defs: Definitions, sample_params: dict[str, str] | None) -> list[Finding]:
    """The graph's problems, else every IO manager's findings about its assets.

    With ``sample_params``, a problem that stops everything (the graph does not build,
    no IO manager can check its assets) also says which assets the sample run never
    validated.
    """
    sampled = sample_params is not None
    try:
        graph = defs.graph()
    except UncoveredReadError as exc:
        reads = [Finding("reads", read.asset, read.table, found=read.CAUSE) for read in exc.reads]
        return reads + _not_started(defs.assets, sampled)
    except AssetGraphError as exc:
        return [Finding("graph", found=str(exc)), *_not_started(defs.assets, sampled)]
    if not defs.io_managers:
        problem = Finding("io_manager", found="the code location declares no IO managers")
        return [problem, *_not_started(defs.assets, sampled)]
    findings: list[Finding] = []
    specs = list(graph)
    for name, factory in defs.io_managers.items():
        io_manager = factory(None)
        try:
            findings.extend(
                Finding("reads", read.asset, read.table, found=read.cause())
                for read in uncovered_check_reads(specs, {name: io_manager}, defs.external_tables)
            )
            findings.extend(io_manager.check_definitions(graph, defs.ddl_paths, sample_params))
        except NotImplementedError as exc:
            findings.append(Finding("io_manager", found=f"IO manager {name!r}: {exc}"))
            stored = [spec for spec in specs if spec.io_manager == name]
            findings.extend(_not_started(stored, sampled))
        finally:
            io_manager.close()
    return findings


def _not_started(specs: Iterable[AssetSpec], sampled: bool) -> list[Finding]:
    """If the sample run was asked for: each of ``specs`` as one it never validated."""
    return sample_not_started((spec.key, spec.table) for spec in specs) if sampled else []
