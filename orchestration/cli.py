"""The ``pipeline`` command: list, materialize and draw the assets of a code location.

Every command exits 0 only on success: 2 for a usage error (an unknown option, a bad
value, an asset selection that does not parse or selects nothing), 1 for any other
failure (README, "Exit codes"). Expected failures (a bad selection, a missing upstream
table, an unreachable warehouse, a failed asset) print one clear line; any other error
(a bug, an engine failure) adds that ``--debug`` (before or after the sub-command) shows
the traceback (see :mod:`orchestration.errors`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.markup import escape

from orchestration.argument_mistakes import MistakeCheckedCommand
from orchestration.cli_options import (
    DEBUG_HINT,
    DEFINITIONS_HELP,
    NOTHING,
    SOURCE_DEFAULT,
    SOURCE_FORMS,
    WAREHOUSE_HELP,
    DefinitionsOption,
    DiscardHistoryOption,
    JsonOption,
    SelectOption,
    SourceEncodingOption,
    SourceTimeoutOption,
    WarehouseOption,
    confirmed_discard,
    connect_to_prefect,
    console,
    debug_on,
    error_console,
    ignored_warehouse_option,
    load_defs,
    source_option,
    typed_for_the_rerun,
)
from orchestration.concurrency import CONCURRENCY_OPTION
from orchestration.context import DISCARD_HISTORY_PARAM, FULL_REFRESH_PARAM, SOURCE_TIMEOUT_PARAM
from orchestration.ctrl_c import (
    INTERRUPTED,
    caused_by_ctrl_c,
    end_if_ctrl_c_came,
    noting_ctrl_c,
)
from orchestration.debug_env import DEBUG_ENV, debug_asked
from orchestration.errors import CommandRefused, ExpectedError, exit_code
from orchestration.output import discard, echo, is_devnull, reader_gone
from orchestration.prefect_setup import (
    check_configured_api,
    configure_prefect,
    temporary_server_failure,
)
from orchestration.preload import import_libraries, runs_one_command
from orchestration.quick_exit import end_now, ends_without_teardown
from orchestration.report_output import (
    print_failed_run,
    print_report,
    print_warnings,
    report_as_json,
)
from orchestration.resolver import DEFAULT_CONCURRENCY
from orchestration.run_report import MaterializationPlan, RunReport, counted
from orchestration.text_encoding import SOURCE_ENCODING_PARAM
from orchestration.text_table import Column, print_table
from orchestration.typed_options import recording
from orchestration.usage import (
    HelpGroup,
    help_markup,
    report_usage_error,
    say_where_an_option_goes,
)

app = typer.Typer(
    name="pipeline",
    help="Declare ClickHouse tables as assets, select them like Dagster, run them on Prefect.",
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=HelpGroup,
    # Help texts are plain text: Rich markup would eat "[tool.pipeline]". Piped, the
    # help is Click's plain text (main sets this per call: orchestration.usage).
    rich_markup_mode="markdown",
)
DEBUG_FLAG = "--debug"
_LIST_COLUMNS = (
    Column("asset", fold=True, key=True),
    Column("group"),
    Column("table", fold=True),
    Column("deps", wrap=True),
    Column("tags", wrap=True),
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            DEBUG_FLAG,
            help="Show tracebacks and Prefect's logs (also after the sub-command).",
            envvar=DEBUG_ENV,
        ),
    ] = False,
    definitions: Annotated[
        str | None,
        typer.Option(
            "--definitions",
            metavar="MODULE",
            help=f"{DEFINITIONS_HELP.removesuffix('.')}; for every command (as "
            "PIPELINE_DEFINITIONS; given after the command too, that one wins).",
        ),
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            metavar="URL",
            # The shared text names WAREHOUSE_URL as the default already.
            help=f"{WAREHOUSE_HELP.removesuffix('.')}; for the commands that open the "
            "warehouse (given after the command too, that one wins).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Global options, which may also be written before the sub-command (``pipeline
    --definitions X list``, as git or docker take theirs): the sub-commands read the code
    location and the warehouse from here when not given their own
    (:func:`orchestration.cli_options._or_given_before_the_command`); :func:`main` also
    reads ``--debug`` when an error escapes. The options typed are recorded for this
    command line only (:mod:`orchestration.typed_options`)."""
    ctx.obj = {"debug": debug, "definitions": definitions, "warehouse": warehouse}
    ctx.with_resource(recording())


@app.command("list", cls=MistakeCheckedCommand)
def list_assets(
    select: SelectOption = None,
    as_json: JsonOption = False,
    definitions: DefinitionsOption = None,
    warehouse: Annotated[
        str | None, ignored_warehouse_option("list reads the code location, not the warehouse")
    ] = None,
) -> None:
    """List assets in dependency order with their group, table, deps and tags.

    A dep marked (order) only orders the run: the asset does not read its table.
    """
    graph = load_defs(definitions).graph()
    specs = graph.select(select)
    if as_json:
        listed = [
            {
                "key": s.key,
                "table": s.table,
                "group": s.group,
                "deps": list(s.deps),
                "read_deps": list(graph.upstream_of(s.key).reads),
                "ordering_deps": list(graph.upstream_of(s.key).ordering),
                "tags": dict(s.tags),
                "kind": s.kind,
                "write_mode": s.write_mode,
                "owners": list(s.owners),
                "description": s.description,
            }
            for s in specs
        ]
        echo(json.dumps(listed, indent=2))
        return
    rows = [
        [
            s.key,
            s.group,
            s.table,
            ", ".join(graph.upstream_of(s.key).shown()) or "-",
            ", ".join(f"{k}={v}" if v else k for k, v in s.tags.items()) or "-",
        ]
        for s in specs
    ]
    print_table(console, _LIST_COLUMNS, rows, title=counted(len(specs), "asset"))


@app.command("materialize", cls=MistakeCheckedCommand)
def materialize_command(
    ctx: typer.Context,
    select: SelectOption = None,
    source: Annotated[
        str | None,
        source_option(
            f"Source data for ingest assets ({SOURCE_FORMS}); {SOURCE_DEFAULT}. Passed to "
            "assets as context.params['source']."
        ),
    ] = None,
    source_timeout: SourceTimeoutOption = None,
    source_encoding: SourceEncodingOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild each selected table from its DDL and reload it from its upstream, "
            "instead of updating it: the way back for a table whose types drifted. The "
            "rebuilt table holds only what its upstream holds now: a full refresh that would "
            "drop rows only an insert-only table keeps is refused unless --discard-history.",
        ),
    ] = False,
    discard_history: DiscardHistoryOption = False,
    break_lock: Annotated[
        bool,
        typer.Option(
            "--break-lock",
            help="Take the ClickHouse server's run lock from the run that holds it: only "
            "when that run is gone and was on another machine (one that ended on this "
            "machine is taken over without it). Two runs at once corrupt the vault.",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            CONCURRENCY_OPTION,
            min=1,
            callback=typed_for_the_rerun,
            metavar="N",
            help="How many assets may run at once; the slowest branch (by the last run) "
            "starts first.",
        ),
    ] = DEFAULT_CONCURRENCY,
    as_json: JsonOption = False,
    verbose: Annotated[
        bool,
        typer.Option(
            # One flag: "--verbose/--no-verbose" took the help panels a column of their own
            # for "--no-verbose", which nobody needs to type (it is the default).
            "--verbose",
            help="Show Prefect's own run logs and task tracebacks, each error in full (a SQL "
            "that does not compile with the engine's quote of it), and, when the selection "
            "is refused for reading assets never materialized, which selected asset reads each.",
        ),
    ] = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Materialize the selected assets (all by default) in one Prefect flow run."""
    verbose = verbose or debug_on(ctx)  # --debug shows the logs too
    configure_prefect(verbose=verbose)
    from orchestration.asset_state import StateBook
    from orchestration.cancelled_run import mark_interrupted, unmarked_line
    from orchestration.interrupts import (
        OutcomeLog,
        RunSignals,
        late_line,
        stop_run,
        stopping_line,
    )
    from orchestration.progress import RunProgress
    from orchestration.report_told import leave_to_the_report
    from orchestration.resolver import materialize, plan_or_refuse
    from orchestration.run_hooks import call_hooks_of_idle_run
    from orchestration.stop_at_once import at_once_line, stop_at_once
    from orchestration.unbuilt_upstream import UnbuiltUpstreamError

    defs = load_defs(definitions)  # a broken code location fails before the big imports
    defs.check_settings()
    import_libraries()  # all at once, kept out of the garbage collector's way
    graph = defs.graph()
    params: dict[str, Any] = {"source": source} if source else {}
    if source_timeout is not None:
        params[SOURCE_TIMEOUT_PARAM] = source_timeout
    if source_encoding is not None:
        params[SOURCE_ENCODING_PARAM] = source_encoding
    if full_refresh:
        params[FULL_REFRESH_PARAM] = True
    confirmed_discard(discard_history, full_refresh)
    if discard_history:
        params[DISCARD_HISTORY_PARAM] = True
    # From the run's start until the report is out (the warehouse closed), a signal is the
    # run's to handle: it stops the run, or once the run ended, nothing.
    with RunSignals() as signals:
        with contextlib.ExitStack() as opened:
            # Planned on readers, so a refusal leaves the warehouse as it was: no directory, no
            # DDL. They stay open for the run (an embedded warehouse's engine is then shared).
            readers = opened.enter_context(defs.read_io_managers(warehouse))
            try:
                plan = plan_or_refuse(graph, readers, select, params)
            except UnbuiltUpstreamError as refused:
                if not verbose:
                    raise
                raise refused.with_readers() from None
            if not plan.selected:  # only a status: selection may come out empty
                warnings = call_hooks_of_idle_run(defs.run_hooks, params, readers)
                if as_json:
                    idle = {"ok": True, "assets": [], "message": NOTHING, "warnings": warnings}
                    echo(json.dumps(idle, indent=2))
                else:
                    console.print(f"{NOTHING}: {select!r} selects no asset now")
                print_warnings(warnings, error_console)
                return
            # Nothing started or written so far: a Ctrl-C that library code lost ends it here.
            end_if_ctrl_c_came()
            # Prefect before the warehouse: a server set by the user that is not there, or a
            # local one that cannot start, fails the command before any work.
            check_configured_api()
            connect_to_prefect(quiet=as_json)
            if not as_json:  # the report ends with the Next line; --verbose's logs skip it
                leave_to_the_report()
            io_managers = opened.enter_context(
                defs.open_io_managers(
                    warehouse,
                    break_lock=break_lock,
                    warn=lambda line: print_warnings([line], error_console),
                )
            )
            book = StateBook(graph, io_managers, params)
            progress = RunProgress(console if not as_json else None, total=len(plan.selected))
            outcomes = OutcomeLog(progress.advance)

            def run() -> RunReport:
                return materialize(
                    graph,
                    io_managers,
                    select,
                    params=params,
                    concurrency=concurrency,
                    on_progress=outcomes.record,
                    book=book,
                    plan=plan,
                    on_flow_run=outcomes.flow_run_began,
                    on_asset_start=outcomes.asset_began,
                    stopping=outcomes.interrupted,
                    run_hooks=defs.run_hooks,
                    on_step=outcomes.steps_left,
                )

            def interrupted(number: signal.Signals) -> None:
                progress.__exit__(None, None, None)
                error_console.print(stopping_line(number, ended=outcomes.assets_ended()))
                partial = stop_run(io_managers, outcomes, plan)
                if as_json:
                    echo(json.dumps(report_as_json(partial), indent=2))
                    print_failed_run(partial, plan, error_console, verbose=verbose)
                else:
                    print_report(
                        partial, console, plan, verbose=verbose, error_console=error_console
                    )
                # Else the UI shows the run Running for ever: its engine never finishes it.
                why_not = mark_interrupted(outcomes, partial, number)
                if why_not:
                    error_console.print(escape(unmarked_line(why_not)), highlight=False)

            def interrupted_again(number: signal.Signals) -> None:
                error_console.print(at_once_line(number), highlight=False)
                why_not = stop_at_once(io_managers, outcomes, plan, number)
                if why_not:
                    error_console.print(escape(unmarked_line(why_not)), highlight=False)

            with progress:
                report = signals.run(
                    run, interrupted, ending=outcomes.ending, at_once=interrupted_again
                )
        _print_run_report(report, plan, as_json=as_json, verbose=verbose)
        if signals.late is not None:
            error_console.print(late_line(signals.late))
    _end_as_the_run_did(report)


def _print_run_report(
    report: RunReport, plan: MaterializationPlan, *, as_json: bool, verbose: bool
) -> None:
    """A run's report, as a table or as ``--json``; its warnings and failures on stderr."""
    if as_json:
        echo(json.dumps(report_as_json(report), indent=2))
        print_warnings(report.warnings, error_console)
        print_failed_run(report, plan, error_console, verbose=verbose)
    else:
        print_report(report, console, plan, verbose=verbose, error_console=error_console)


def _end_as_the_run_did(report: RunReport) -> None:
    """Exit 0 only if every asset materialized and Prefect has the whole run."""
    if report.prefect_error:
        # The tables are as reported, but the run's record in Prefect is not whole (its
        # state stays Running, its lineage page unfinished): a scheduler watching the exit
        # code should hear of it. Prefect's exit handlers could only retry into the gone API.
        error_console.print(f"[bold red]error:[/] {escape(report.prefect_error)}", highlight=False)
        end_now(1)
    if not report.ok:
        raise typer.Exit(1)


def _register_commands() -> None:
    """Commands kept in their own modules (queries, asset checks, validation)."""
    from orchestration.commands.checks import checks
    from orchestration.commands.lineage import lineage
    from orchestration.commands.query import query
    from orchestration.commands.serve import serve
    from orchestration.commands.server import server_app
    from orchestration.commands.status import plan, status
    from orchestration.commands.validate import validate

    app.command("lineage", cls=MistakeCheckedCommand)(lineage)
    app.command("query", cls=MistakeCheckedCommand)(query)
    app.command("validate", cls=MistakeCheckedCommand)(validate)
    app.command("checks", cls=MistakeCheckedCommand)(checks)
    app.command("serve", cls=MistakeCheckedCommand)(serve)
    app.command("status", cls=MistakeCheckedCommand)(status)
    app.command("plan", cls=MistakeCheckedCommand)(plan)
    app.add_typer(server_app, name="server")


_register_commands()


def command_line(args: Sequence[str]) -> tuple[list[str], bool]:
    """The arguments as the app parses them, and whether ``--debug`` was asked for.

    ``--debug`` is global but users type it anywhere (``pipeline materialize --debug``),
    so it moves in front of the sub-command (never past a ``--``). No arguments at all
    mean ``--help``.
    """
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    debug = DEBUG_FLAG in args[:end]
    if debug:
        args = [DEBUG_FLAG, *(a for a in args[:end] if a != DEBUG_FLAG), *args[end:]]
    debug = debug or debug_asked(os.environ)
    return args or ["--help"], debug


@ends_without_teardown
def main() -> None:
    """Console-script entry point: run the app, turning expected errors into one line."""
    runs_one_command()
    args, debug = command_line(sys.argv[1:])
    was_devnull = is_devnull()
    # Typer reads it when it builds the commands, at each call: Rich help on a terminal,
    # Click's plain text in a pipe or a file (orchestration.usage).
    app.rich_markup_mode = help_markup(console)
    try:
        with noting_ctrl_c():
            code = app(args=args, prog_name="pipeline", standalone_mode=False)
    except SystemExit as exit_:
        # Typer (like Click) ends a write to a closed pipe with exit 1; a reader that stops
        # early is no failure (orchestration.output), whichever write noticed it.
        if isinstance(exit_.__context__, BrokenPipeError) and reader_gone(was_devnull=was_devnull):
            discard(sys.stdout)
            sys.exit(0)
        raise
    except typer.TyperException as exc:  # usage errors: bad option, bad value
        say_where_an_option_goes(exc, args)
        report_usage_error(exc, error_console)
        raise CommandRefused(exc.exit_code) from None
    except typer.Abort:
        error_console.print("aborted")
        sys.exit(130)
    except Exception as exc:
        if caused_by_ctrl_c(exc):  # wrapped by library code: the same silent 130 as Typer's
            sys.exit(INTERRUPTED)
        if debug:
            raise
        message = temporary_server_failure(exc) or str(exc)
        error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
        if not isinstance(exc, ExpectedError):  # a bug or an engine failure: where it broke
            error_console.print(DEBUG_HINT, style="dim")
        raise CommandRefused(exit_code(exc)) from None
    sys.exit(code if isinstance(code, int) else 0)
