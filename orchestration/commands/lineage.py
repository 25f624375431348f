"""``pipeline lineage``: the selected assets, the tables they read, and their columns' sources.

``text``, ``mermaid`` and ``dot`` draw the asset graph from the declarations alone.
``json`` and ``--column`` add column lineage (``--column`` prints one column's chain, in
text or ``json``, upstream or, with ``--downstream``, to everything that uses it; a
diagram of it is refused), which needs the columns of the tables each SELECT reads, so
they read them from the warehouse: one that does not exist, or a server that cannot be
reached, is one error line and exit 1 (nothing is created, no DDL is applied).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, cast

import typer

from orchestration.cli_options import (
    DefinitionsOption,
    JsonFormatOption,
    SelectOption,
    WarehouseOption,
    console,
    format_or_json,
    load_defs,
)
from orchestration.column_impact import DownstreamNode, downstream_lines
from orchestration.column_impact import downstream as downstream_tree
from orchestration.column_lineage import (
    AssetColumnLineage,
    chain_lines,
    derive_all,
    upstream_chain,
)
from orchestration.lineage import LineageFormat, render_lineage, to_text
from orchestration.missing_storage import require_storage
from orchestration.output import document_option, echo


class LineageChoice(StrEnum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


#: The formats that draw the asset graph: they have no drawing of one column's chain.
_DIAGRAMS = frozenset({LineageChoice.mermaid, LineageChoice.dot})


def lineage(
    ctx: typer.Context,
    select: SelectOption = None,
    fmt: Annotated[
        LineageChoice,
        typer.Option(
            "--format",
            "-f",
            help="text (for people), mermaid or dot (diagrams), json (with each asset's "
            "column lineage, read from the warehouse's tables); all but text hold all of "
            "stdout.",
            callback=document_option,
        ),
    ] = LineageChoice.text,
    as_json: JsonFormatOption = False,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            metavar="DB.TABLE.COL",
            help="A column as database.Table.column: print every upstream column it is "
            "computed from, down to the sources, whatever the selection (so not with "
            "--select; as text, or a nested document with --format json).",
        ),
    ] = None,
    downstream: Annotated[
        bool,
        typer.Option(
            "--downstream",
            help="With --column: print every column computed from it instead, downstream "
            "and transitively, asset by asset, with the assets whose SQL reads it in no "
            "column (a filter, a join) and the asset checks that read it: what a change to "
            "it would break.",
        ),
    ] = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Draw the selected assets and the upstream tables they read; with json, their columns."""
    fmt = format_or_json(ctx, fmt, as_json, LineageChoice.json)
    if downstream and column is None:
        # Else ignored: the asset graph, exit 0, for a user who asked about a column.
        raise typer.BadParameter(
            "it follows one column to what reads it; give it with --column DB.TABLE.COL",
            param_hint="'--downstream'",
        )
    if column is not None and fmt in _DIAGRAMS:
        # Drawn, one column's chain would be a different diagram; printed as text, a
        # script that asked for a diagram gets something else and exit 0.
        raise typer.BadParameter(
            f"{fmt.value} draws assets, not one column's chain; use text or json with --column",
            param_hint="'--format'",
        )
    if column is not None and select is not None:
        # Else ignored: the chain went past the selection, down to the sources, exit 0.
        way = "to everything that uses it" if downstream else "down to the sources"
        raise typer.BadParameter(
            f"--column traces one column through every asset, {way}; "
            "give --select or --column, not both",
            param_hint="'--select'",
        )
    defs = load_defs(definitions)
    graph = defs.graph()
    keys = [spec.key for spec in graph.select(select)]
    if fmt == LineageChoice.text and column is None:
        # On a terminal, within its width; piped, an asset a line, for grep.
        echo(to_text(graph, keys, width=console.width if console.is_terminal else None), nl=False)
        return
    if column is None and fmt != LineageChoice.json:
        echo(render_lineage(graph, keys, cast(LineageFormat, fmt.value)), nl=False)
        return
    with defs.read_io_managers(warehouse) as io_managers:
        require_storage(io_managers)
        if column is not None:
            everything = derive_all(graph, [spec.key for spec in graph], io_managers)
            _print_column(everything, column, downstream, as_json=fmt == LineageChoice.json)
            return
        lineage_of = derive_all(graph, keys, io_managers)
    echo(json.dumps([item.as_dict() for item in lineage_of], indent=2))


def _print_column(
    everything: list[AssetColumnLineage], column: str, downstream: bool, *, as_json: bool
) -> None:
    """``column``'s chain upstream, or what uses it downstream, as text or one document;
    a column no asset has is a usage error naming what is wrong."""
    try:
        node = (
            downstream_tree(everything, column)
            if downstream
            else upstream_chain(everything, column)
        )
    except KeyError as exc:
        raise typer.BadParameter(exc.args[0], param_hint="--column") from None
    if as_json:
        echo(json.dumps(node.as_dict(), indent=2))
    elif isinstance(node, DownstreamNode):
        # On a terminal, within its width; piped, a column a line, for grep.
        echo("\n".join(downstream_lines(node, console.width if console.is_terminal else None)))
    else:
        echo("\n".join(chain_lines(node)))
