"""``pipeline checks``: evaluate asset checks against the warehouse as it is now.

Runs the same checks a materialization runs, without rebuilding anything, so an
operator can ask "is the published data still sound?" at any time (for example after a
manual fix or before a report goes out). Exit 1 when an error-severity check fails.
"""

from __future__ import annotations

import json

import typer

from orchestration.checks import AssetCheckResult, evaluate_checks
from orchestration.cli_options import (
    DefinitionsOption,
    JsonOption,
    SelectOption,
    WarehouseOption,
    console,
    load_defs,
)


def checks(
    select: SelectOption = None,
    as_json: JsonOption = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Evaluate the checks of the selected assets (all by default); exit 1 on an error."""
    from orchestration.report_output import print_check_results

    defs = load_defs(definitions)
    specs = [spec for spec in defs.graph().select(select) if spec.checks]
    results: list[AssetCheckResult] = []
    with defs.open_io_managers(warehouse) as io_managers:
        for spec in specs:
            if spec.io_manager not in io_managers:
                raise typer.BadParameter(
                    f"asset {spec.key!r} uses IO manager {spec.io_manager!r}, which "
                    f"`pipeline checks` does not have (it has {sorted(io_managers)})"
                )
            results.extend(evaluate_checks(spec, io_managers[spec.io_manager]))
    failed = any(result.blocking for result in results)
    if as_json:
        payload = {"ok": not failed, "checks": [result.as_dict() for result in results]}
        typer.echo(json.dumps(payload, indent=2))
    elif not results:
        console.print("No asset checks in the selection.")
    else:
        print_check_results(results, console, show_passed=True)
    if failed:
        raise typer.Exit(1)
