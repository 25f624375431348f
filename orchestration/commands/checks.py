"""``pipeline checks``: evaluate asset checks against the warehouse as it is now.

Runs the same checks a materialization runs, without rebuilding anything, so an
operator can ask "is the published data still sound?" at any time (for example after a
manual fix or before a report goes out). Exit 1 when an error-severity check fails.

A warehouse that does not exist (a mistyped ``--warehouse``, or none built yet) is one
error line and exit 1; nothing is created. An asset whose table was never built in an
existing warehouse (the materialization history, as ``pipeline status`` reads it) has its
checks reported ``not_run``, with the command that builds it, and the exit code is 1: its
table is empty or holds what no run made, so a check "passing" on it would answer a
question nobody asked. Like every command that only reads, it applies no DDL.
"""

from __future__ import annotations

import json
import shlex

import typer

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.checks import AssetCheckResult, evaluate_checks, not_run_checks
from orchestration.cli_options import (
    DefinitionsOption,
    JsonOption,
    SelectOption,
    WarehouseOption,
    console,
    load_defs,
)
from orchestration.graph import AssetGraph
from orchestration.missing_storage import require_storage
from orchestration.output import echo
from orchestration.typed_options import carried


def _never_built(spec: AssetSpec, graph: AssetGraph, unbuilt: frozenset[str]) -> str:
    """Why ``spec``'s checks were not run, and what builds its table, in this warehouse: the
    asset alone, or with its ancestors when some were never built either (alone, it would
    read them empty)."""
    target = f"+{spec.key}" if graph.ancestors(spec.key) & unbuilt else spec.key
    build = carried(f"pipeline materialize --select {shlex.quote(target)}")
    return f"{spec.key} was never materialized in this warehouse; run {build}"


def checks(
    select: SelectOption = None,
    as_json: JsonOption = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Evaluate the checks of the selected assets (all by default); exit 1 on an error,
    or when an asset was never materialized (its checks are not run)."""
    from orchestration.report_output import print_check_results
    from orchestration.selection import StatusUnavailableError

    defs = load_defs(definitions)
    graph = defs.graph()
    try:  # a mistyped selection fails before the warehouse is opened
        selected: list[AssetSpec] | None = graph.select(select)
    except StatusUnavailableError:
        selected = None  # status: needs the history, read once the warehouse is open
    results: list[AssetCheckResult] = []
    unbuilt: frozenset[str] = frozenset()
    with defs.read_io_managers(warehouse) as io_managers:
        require_storage(io_managers)
        book = StateBook(graph, io_managers)
        if selected is None:
            selected = graph.select(select, book.state_names)
        specs = [spec for spec in selected if spec.checks]
        for spec in specs:
            if spec.io_manager not in io_managers:
                raise typer.BadParameter(
                    f"asset {spec.key!r} uses IO manager {spec.io_manager!r}, which "
                    f"`pipeline checks` does not have (it has {sorted(io_managers)})"
                )
        if specs:
            unbuilt = book.never_published
        for spec in specs:
            if spec.key in unbuilt:
                results.extend(not_run_checks(spec, _never_built(spec, graph, unbuilt)))
            else:
                io_manager = io_managers[spec.io_manager]
                results.extend(evaluate_checks(spec, io_manager, compile_first=True))
    failed = any(result.blocking for result in results)
    if as_json:
        payload = {
            "ok": not failed,
            "checks": [result.as_dict() for result in results],
            "never_materialized": [spec.key for spec in specs if spec.key in unbuilt],
        }
        echo(json.dumps(payload, indent=2))
    elif not results:
        console.print("No asset checks in the selection.")
    else:
        print_check_results(results, console, show_passed=True)
    if failed:
        raise typer.Exit(1)
