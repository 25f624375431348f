"""The ``pipeline`` command: list, materialize and draw the assets of a code location.

Every command exits 0 only on success. Expected failures (a bad selection, a missing
upstream table, an unreachable warehouse, a failed asset) print one clear line and exit
non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestration.checks import AssetCheckResult, format_example
from orchestration.cli_options import (
    DefinitionsOption,
    JsonOption,
    SelectOption,
    WarehouseOption,
    load_defs,
    open_warehouse,
)
from orchestration.lineage import render_lineage
from orchestration.resolver import DEFAULT_CONCURRENCY
from orchestration.run_report import AssetOutcome, RunReport

app = typer.Typer(
    name="pipeline",
    help="Declare ClickHouse tables as assets, select them like Dagster, run them on Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
error_console = Console(stderr=True)

NOTHING = "nothing to materialize"
_STATUS_STYLE = {"materialized": "green", "failed": "bold red", "skipped": "yellow"}


class LineageChoice(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for errors.", envvar="PIPELINE_DEBUG")
    ] = False,
) -> None:
    """Global options; ``--debug`` is read by :func:`main` when an error escapes."""


@app.command("list")
def list_assets(
    select: SelectOption = None,
    as_json: JsonOption = False,
    definitions: DefinitionsOption = None,
) -> None:
    """List assets in dependency order with their group, table, deps and tags."""
    graph = load_defs(definitions).graph()
    specs = graph.select(select)
    if as_json:
        rows = [
            {
                "key": s.key,
                "table": s.table,
                "group": s.group,
                "deps": list(s.deps),
                "tags": dict(s.tags),
                "kind": s.kind,
                "write_mode": s.write_mode,
                "owners": list(s.owners),
                "description": s.description,
            }
            for s in specs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(specs)} assets", title_justify="left")
    for column in ("asset", "group", "table", "deps", "tags"):
        table.add_column(column)
    for s in specs:
        tags = ", ".join(f"{k}={v}" if v else k for k, v in s.tags.items())
        table.add_row(s.key, s.group, s.table, ", ".join(s.deps) or "-", tags or "-")
    console.print(table)


@app.command("lineage")
def lineage(
    select: SelectOption = None,
    fmt: Annotated[LineageChoice, typer.Option("--format", "-f")] = LineageChoice.text,
    definitions: DefinitionsOption = None,
) -> None:
    """Draw the selected assets and the upstream tables they read."""
    graph = load_defs(definitions).graph()
    keys = [s.key for s in graph.select(select)]
    typer.echo(render_lineage(graph, keys, fmt.value), nl=False)


@app.command("materialize")
def materialize_command(
    select: SelectOption = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Source data for ingest assets (a path, a URL, or synthetic[:ROWS[:SEED]]); "
            "passed to assets as context.params['source'].",
        ),
    ] = None,
    source_timeout: Annotated[
        float | None,
        typer.Option(
            "--source-timeout",
            metavar="SECONDS",
            min=0.001,
            help="Deadline for fetching the source, all retries included (the retail ingest "
            "defaults to 600, or $ONLINE_RETAIL_SOURCE_TIMEOUT); passed to assets as "
            "context.params['source_timeout'].",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="How many assets may run at once.")
    ] = DEFAULT_CONCURRENCY,
    as_json: JsonOption = False,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's own run logs.")] = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Materialize the selected assets (all by default) in one Prefect flow run."""
    from orchestration.asset_state import StateBook
    from orchestration.progress import RunProgress
    from orchestration.resolver import materialize

    defs = load_defs(definitions)
    graph = defs.graph()
    params: dict[str, Any] = {"source": source} if source else {}
    if source_timeout is not None:
        params["source_timeout"] = source_timeout
    _quiet_prefect_console(verbose)
    with open_warehouse(warehouse, defs.ddl_paths) as io_managers:
        book = StateBook(graph, io_managers, params)
        selected = graph.select(select, book.state_names)
        if not selected:  # only a status: selection may come out empty
            if as_json:
                typer.echo(json.dumps({"ok": True, "assets": [], "message": NOTHING}, indent=2))
            else:
                console.print(f"{NOTHING}: {select!r} selects no asset now")
            return
        with RunProgress(console if not as_json else None, total=len(selected)) as progress:
            report = materialize(
                graph,
                io_managers,
                select,
                params=params,
                concurrency=concurrency,
                on_progress=progress.advance,
                book=book,
            )
    if as_json:
        typer.echo(json.dumps(report_as_json(report), indent=2))
    else:
        print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _quiet_prefect_console(verbose: bool) -> None:
    """Keep Prefect's INFO lines off the terminal; they still reach the Prefect API and UI.

    Prefect reads ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL`` when it configures logging,
    so this must run before Prefect is first imported; a user's own setting wins.
    """
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # A temporary server's telemetry only fails noisily on machines without internet.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def report_as_json(report: RunReport) -> dict[str, Any]:
    """The run report as plain data for scripts."""
    return {
        "ok": report.ok,
        "flow_run_id": report.flow_run_id,
        "seconds": round(report.seconds, 3),
        "assets": [
            {
                "key": o.key,
                "table": o.table,
                "status": o.status,
                "rows": o.rows,
                "seconds": round(o.seconds, 3),
                "error": o.error,
                "failed_upstream": list(o.failed_upstream),
                "checks": [check.as_dict() for check in o.checks],
            }
            for o in report.outcomes
        ],
    }


def _format_rows(outcome: AssetOutcome) -> str:
    return f"{outcome.rows:,}" if outcome.rows is not None else "-"


def print_report(report: RunReport) -> None:
    """The run report as a table, then where to look next."""
    table = Table(title=f"Run report: {report.summary()}", title_justify="left")
    table.add_column("asset", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    errors = any(o.error for o in report.outcomes)
    if errors:
        table.add_column("error", overflow="fold", ratio=1)
    for o in report.outcomes:
        style = _STATUS_STYLE[o.status]
        row = [
            o.key,
            _format_rows(o),
            f"{o.seconds:.2f}" if o.status != "skipped" else "-",
            f"[{style}]{o.status}[/]",
        ]
        table.add_row(*row, *([escape(o.error or "")] if errors else []))
    console.print(table)
    print_check_results([check for o in report.outcomes for check in o.checks])
    console.print(f"Total {report.seconds:.1f} s. Flow run id: {report.flow_run_id}")
    api_url = os.environ.get("PREFECT_API_URL")
    ui_hint = (
        f"the Prefect UI at {api_url.removesuffix('/api')}"
        if api_url
        else "point PREFECT_API_URL at `prefect server start` to review runs in the Prefect UI"
    )
    console.print(
        'Next: [bold]pipeline query "SELECT ..."[/] reads the tables, '
        f"[bold]pipeline lineage --format mermaid[/] draws the graph; {ui_hint}."
    )


_CHECK_STYLE = {"passed": "green", "warning": "yellow", "failed": "bold red", "error": "bold red"}


def print_check_results(results: Sequence[AssetCheckResult], *, show_passed: bool = False) -> None:
    """Asset checks that did not pass (all of them with ``show_passed``), then a tally."""
    if not results:
        return
    shown = [r for r in results if show_passed or r.status != "passed"]
    if shown:
        table = Table(title="Asset checks", title_justify="left")
        table.add_column("asset", overflow="fold")
        table.add_column("check", overflow="fold")
        table.add_column("severity")
        table.add_column("status")
        table.add_column("violations", justify="right")
        table.add_column("example / error", overflow="fold", max_width=70)
        for r in shown:
            detail = r.error or (format_example(r.examples[0]) if r.examples else "")
            table.add_row(
                r.asset,
                r.name,
                r.severity,
                f"[{_CHECK_STYLE[r.status]}]{r.status}[/]",
                f"{r.violations:,}" if r.violations is not None else "-",
                escape(detail),
            )
        console.print(table)
    tally = {s: sum(r.status == s for r in results) for s in _CHECK_STYLE}
    console.print("Checks: " + ", ".join(f"{n} {s}" for s, n in tally.items() if n))


def _register_commands() -> None:
    """Commands kept in their own modules (queries, asset checks, validation)."""
    from orchestration.commands.checks import checks
    from orchestration.commands.query import query
    from orchestration.commands.serve import serve
    from orchestration.commands.status import plan, status
    from orchestration.commands.validate import validate

    app.command("query")(query)
    app.command("validate")(validate)
    app.command("checks")(checks)
    app.command("serve")(serve)
    app.command("status")(status)
    app.command("plan")(plan)


_register_commands()


def main() -> None:
    """Console-script entry point: run the app, turning expected errors into one line."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("PIPELINE_DEBUG", "") not in ("", "0")
    try:
        code = app(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        error_console.print("aborted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        error_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        error_console.print("(run with --debug for the traceback)", style="dim")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
