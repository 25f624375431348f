"""``pipeline validate``: the CI schema check, with no database server.

Checks that the asset graph builds, that every asset's Pandera schema and DDL table agree
column by column, that the DDL applies to a fresh embedded ClickHouse, and that every SQL
asset's SELECT compiles and fits its table; ``--sample`` also materializes a small source
and validates real content. One line per problem; exit 1 if there is any.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from orchestration.cli_options import DefinitionsOption, JsonOption
from orchestration.definitions import load_definitions

DEFAULT_SAMPLE_SOURCE = "synthetic:5000"


def validate(
    sample: Annotated[
        bool,
        typer.Option(
            "--sample", help="Also materialize a small source and validate every table's content."
        ),
    ] = False,
    source: Annotated[
        str, typer.Option(help="Source of the --sample run.")
    ] = DEFAULT_SAMPLE_SOURCE,
    as_json: JsonOption = False,
    definitions: DefinitionsOption = None,
) -> None:
    """Check schemas against the DDL and the SQL, in a throwaway embedded warehouse."""
    from io_managers.schema_check import validate_definitions

    defs = load_definitions(definitions)
    findings = validate_definitions(
        defs.assets, defs.ddl_paths, sample_params={"source": source} if sample else None
    )
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            typer.echo(finding.line())
        console = Console(highlight=False)
        checked = f"{len(defs.assets)} assets" + (f", sample run from {source}" if sample else "")
        if findings:
            console.print(f"[bold red]{len(findings)} problem(s)[/] in {checked}")
        else:
            console.print(f"[green]schemas, DDL and SQL agree[/] ({checked})")
    if findings:
        raise typer.Exit(1)
