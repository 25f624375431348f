"""``pipeline status`` and ``pipeline plan``: what is out of date, and what a run would do.

Both read the warehouse's materialization history and compare it with the code and the
sources as they are now (:mod:`orchestration.staleness`); neither builds anything, nor
creates the warehouse or applies its DDL. Where there is no warehouse yet, every asset is
missing - the answer before a first run - and one line on stderr says so; the exit code
stays 0, since the answer is right (``query`` and ``checks`` refuse such a warehouse).
A ``--source`` path to no file stops both before they read anything, in the line the run
would fail with (:mod:`orchestration.absent_source`).
``plan`` answers "what would ``pipeline materialize --select EXPR`` run, in which order,
and why", so a ``status:stale+`` schedule can be checked before it fires.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from orchestration.absent_source import absent_source_error
from orchestration.asset_state import StateBook
from orchestration.cli_options import (
    NOTHING,
    SOURCE_DEFAULT,
    SOURCE_FORMS,
    DefinitionsOption,
    DiscardHistoryOption,
    JsonOption,
    SelectOption,
    WarehouseOption,
    confirmed_discard,
    console,
    error_console,
    load_defs,
    source_encoding_option,
    source_option,
)
from orchestration.ddl_coverage import NOT_CREATED, TableNotInDdlError, tables_not_in_ddl
from orchestration.errors import RebuildRequired
from orchestration.fingerprinted_source import SOURCE_OPTION
from orchestration.graph import AssetGraph
from orchestration.io_manager import KeptRows
from orchestration.missing_storage import missing_storage
from orchestration.output import echo
from orchestration.report_output import full_refresh_step, next_step, print_step
from orchestration.run_report import counted, quoted_selection, refresh_options
from orchestration.staleness import AssetState
from orchestration.text_encoding import SOURCE_ENCODING_OPTION, SOURCE_ENCODING_PARAM
from orchestration.text_table import Cell, Column, print_table
from orchestration.typed_options import carried_names, with_options

SourceOption = Annotated[
    str | None,
    source_option(
        f"The source a run would read ({SOURCE_FORMS}), whose fingerprint is compared with "
        f"the one the ingest asset was built from; {SOURCE_DEFAULT}."
    ),
]
#: They run no asset: the encoding is part of the source's fingerprint.
EncodingOption = Annotated[
    str | None,
    source_encoding_option("part of the source's fingerprint"),
]
#: The selection that brings everything up to date: what changed, what was never built,
#: and everything downstream of either (the daily schedule's selection).
UP_TO_DATE = "status:stale+ or status:missing+"
_STATE_STYLE = {"fresh": "green", "stale": "yellow", "missing": "bold red"}


def _last_materialized(state: AssetState) -> str:
    last = state.last_success
    if last is None:
        return "-"
    return f"{(last.ended or last.started):%Y-%m-%d %H:%M}"


@contextlib.contextmanager
def _state_book(
    definitions: str | None,
    warehouse: str | None,
    source: str | None,
    source_encoding: str | None,
) -> Iterator[tuple[AssetGraph, StateBook]]:
    """The code location's graph and its states, read while the warehouse is open.

    Opened for reading: a warehouse that does not exist yet is not created, and reads
    as empty, so every asset in it is missing (what the first run will build). The
    source parameters are the run's, as materialize would pass them: the encoding a
    source is read in is part of its fingerprint. A typed ``--source`` that is not there
    stops the command before the warehouse is opened, as the run fails on it
    (:mod:`orchestration.absent_source`).
    """
    defs = load_defs(definitions)
    graph = defs.graph()
    params: dict[str, Any] = {"source": source} if source else {}
    if source_encoding is not None:
        params[SOURCE_ENCODING_PARAM] = source_encoding
    if (absent := absent_source_error(graph, params)) is not None:
        raise absent
    with defs.read_io_managers(warehouse) as io_managers:
        yield graph, StateBook(graph, io_managers, params)


def _say_no_warehouse_yet(book: StateBook) -> None:
    """One line on stderr (stdout stays the answer, JSON included) when the states were
    read from storage that does not exist: right before a first run, a typo otherwise."""
    for missing in missing_storage(book.io_managers):
        error_console.print(
            f"{missing} yet, so every asset is missing "
            "(pipeline materialize creates it; check --warehouse if it should exist)",
            style="yellow",
            markup=False,
            highlight=False,
        )


def status(
    select: SelectOption = None,
    as_json: JsonOption = False,
    source: SourceOption = None,
    source_encoding: EncodingOption = None,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Each selected asset's state (missing, stale, fresh), why, and its last materialization."""

    with _state_book(definitions, warehouse, source, source_encoding) as (graph, book):
        keys = [spec.key for spec in graph.select(select, book.state_names)]
        states = [book.states[key] for key in keys if key in book.states]
        drift = book.drift_of(state.key for state in states)
        changes = book.setup_changes_of(state.key for state in states)
        not_in_ddl = _not_in_ddl(graph, book, keys)
        _say_no_warehouse_yet(book)
    if as_json:
        listed = [
            {
                **state.as_dict(),
                "drifted": drift[state.key].drifted if state.key in drift else None,
                "ddl_changes": changes.get(state.key),
                "not_in_ddl": state.key in not_in_ddl,
            }
            for state in states
        ]
        echo(json.dumps(listed, indent=2))
        return
    counts = {name: sum(s.state == name for s in states) for name in _STATE_STYLE}
    title = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "no assets"
    rows: list[list[Cell]] = [
        [
            state.key,
            Text(state.state, style=_STATE_STYLE[state.state]),
            _last_materialized(state),
            _joined(
                *state.said(),
                _drift_note(drift.get(state.key), full_refresh=False),
                _change_note(changes.get(state.key)),
                _ddl_note(state.key in not_in_ddl),
            ),
        ]
        for state in states
    ]
    columns = (
        Column("asset", fold=True, key=True),
        Column("state"),
        Column("last built (UTC)"),
        Column("why", wrap=True),
    )
    print_table(console, columns, rows, title=f"Asset status: {title}")
    lead = "Next"
    if drift:
        print_step(console, f"Next: {_rebuild_line(graph, drift)}.")
        lead = "Then"
    given = {SOURCE_OPTION: source, SOURCE_ENCODING_OPTION: source_encoding}
    if counts["missing"] == len(states) > 0:
        # A plan of what is stale or missing would list them all: the step is the run.
        command = _run_command(select, "", given)
        said = "it; it is missing" if len(states) == 1 else "them; all are missing"
        print_step(console, f"{lead}: [bold]{escape(command)}[/] builds {said}.")
    elif counts["stale"] or counts["missing"]:
        options, reading = _next_source(states, given)
        command = with_options(f"pipeline plan --select {UP_TO_DATE!r}", options)
        names = ["--select", *options, *carried_names()]
        same = " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else names[0]
        print_step(
            console,
            f"{lead}: [bold]{escape(command)}[/] shows what a run would rebuild"
            f"{escape(reading)}; [bold]pipeline materialize[/] with the same {same} rebuilds it.",
        )


def _next_source(
    states: list[AssetState], given: dict[str, str | None]
) -> tuple[dict[str, str], str]:
    """The source options status's next step passes, and what it adds after "what a run
    would rebuild" to say why.

    The states were judged on the options ``given``: a plan or run reading another source
    (the default) would find other assets stale, so they are passed on. Given none, an
    asset built from another source than the default is stale for that alone, and the
    step names the options of the source it was built from: copied without them, it would
    replace the asset's rows with the default's (generated ones).
    """
    options = {name: value for name, value in given.items() if value is not None}
    switches = {state.key: state.source_switch for state in states if state.source_switch}
    if options or not switches:
        return options, ""
    built = f"{', '.join(switches)} {'was' if len(switches) == 1 else 'were'} built from"
    named = [switch.named_options() for switch in switches.values()]
    if named[0] is not None and all(found == named[0] for found in named):
        return named[0], f" from the source {built}"
    # A URL (no record names one), or sources that differ: the user must name it.
    return {SOURCE_OPTION: "SOURCE"}, f", SOURCE being the one {built}"


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part) or "-"


def _drift_note(refusal: RebuildRequired | None, *, full_refresh: bool) -> str:
    """What an asset's "why" adds when its table drifted from its DDL."""
    if refusal is None:
        return ""
    outcome = "--full-refresh rebuilds it" if full_refresh else "refused unless --full-refresh"
    return f"drifted from its DDL: {refusal.drifted}; {outcome}"


def _not_in_ddl(graph: AssetGraph, book: StateBook, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` whose table the DDL does not create (materialize refuses them)."""
    specs = [graph[key] for key in keys]
    return {spec.key for spec in tables_not_in_ddl(graph, book.io_managers, specs)}


def _ddl_note(missing: bool) -> str:
    """What an asset's "why" adds when its DDL does not create its table."""
    return f"{NOT_CREATED}: materialize refuses it" if missing else ""


def _change_note(changes: str | None) -> str:
    """What an asset's "why" adds when the next run's DDL changes its table first."""
    return f"the next run's DDL {changes}" if changes else ""


def _rebuild_line(graph: AssetGraph, drift: dict[str, RebuildRequired]) -> str:
    """The full refresh that drifted tables need before a run takes them, as a run's
    report names it (insert-only losses included)."""
    rebuild = [spec.key for spec in graph if spec.key in drift]
    kept = [key for key in rebuild if drift[key].loses_rows]
    one = len(rebuild) == 1
    return f"{full_refresh_step(rebuild, kept)}; a run without it refuses {'it' if one else 'them'}"


def _why(
    key: str,
    graph: AssetGraph,
    states: dict[str, AssetState],
    planned: set[str],
) -> str:
    """Why ``key`` is in the plan: its own reasons, the stale assets upstream, or selection;
    then what status notes of it (an upstream holding rows that failed their checks, which
    the run would build on, or that it was built from such rows)."""
    state = states.get(key)
    notes = state.notes if state is not None else []
    if state is not None and state.state != "fresh":
        return _joined(state.explain(), *notes)
    changed = sorted(
        dep
        for dep in graph.ancestors(key) & planned
        if dep in states and states[dep].state != "fresh"
    )
    if changed:
        return _joined(f"downstream of {', '.join(changed)}", *notes)
    return _joined("selected (fresh)", *notes)


def plan(
    select: SelectOption = None,
    as_json: JsonOption = False,
    source: SourceOption = None,
    source_encoding: EncodingOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Plan materialize --full-refresh: each selected table rebuilt from its DDL, "
            "so a table that drifted from its DDL is not refused; one that would lose rows "
            "only an insert-only table keeps is, unless --discard-history.",
        ),
    ] = False,
    discard_history: DiscardHistoryOption = False,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """What materialize would run for this selection, in order, and why; nothing runs.

    Exits 1 where materialize would refuse to run, printing what materialize would. It
    refuses a selection that reads an asset never materialized in this warehouse, or a
    missing table. It refuses to load the default source, given no --source, into an
    asset built from another. It refuses a table that drifted from its DDL, unless
    --full-refresh. It refuses a --full-refresh that would lose rows only insert-only
    tables keep, unless --discard-history. A --source path to no file fails at once.
    """
    from orchestration.discarded_history import DiscardedHistoryError
    from orchestration.forecast import forecast
    from orchestration.rerun import run_options
    from orchestration.resolver import MissingUpstreamError, check_runnable, plan_materialization
    from orchestration.unbuilt_upstream import UnbuiltUpstreamError
    from orchestration.unchosen_source import UnchosenSourceError

    confirmed_discard(discard_history, full_refresh)
    refused: (
        UnbuiltUpstreamError
        | MissingUpstreamError
        | UnchosenSourceError
        | DiscardedHistoryError
        | TableNotInDdlError
        | None
    ) = None
    with _state_book(definitions, warehouse, source, source_encoding) as (graph, book):
        run_plan = plan_materialization(
            graph,
            select,
            book,
            full_refresh=full_refresh,
            discard_history=discard_history,
            run_options=run_options(book.params),
        )
        states = book.states
        _say_no_warehouse_yet(book)
        try:
            check_runnable(run_plan, book.io_managers, book)
        except (
            UnbuiltUpstreamError,
            MissingUpstreamError,
            UnchosenSourceError,
            DiscardedHistoryError,
            TableNotInDdlError,
        ) as error:
            refused = error  # shown with the plan, then raised as materialize raises it
        drift = book.drift_of(spec.key for spec in run_plan.selected)
        changes = book.setup_changes_of(spec.key for spec in run_plan.selected)
    foretold = forecast(run_plan, drift)
    unbuilt = refused.unbuilt if isinstance(refused, UnbuiltUpstreamError) else {}
    not_in_ddl = set(refused.keys) if isinstance(refused, TableNotInDdlError) else set()
    losses = refused.losses if isinstance(refused, DiscardedHistoryError) else {}
    planned = run_plan.selected_keys
    steps: list[dict[str, Any]] = []
    for spec in run_plan.selected:
        outcome = "refused" if refused is not None else foretold.outcomes[spec.key]
        blockers = foretold.blockers.get(spec.key, ())
        why = _joined(
            _why(spec.key, graph, states, planned),
            _drift_note(drift.get(spec.key), full_refresh=full_refresh),
            _change_note(changes.get(spec.key)),
            _ddl_note(spec.key in not_in_ddl),
        )
        if outcome == "skipped":
            why = f"skipped: upstream {', '.join(blockers)} would be refused; {why}"
        steps.append(
            {
                "key": spec.key,
                "table": spec.table,
                "state": states[spec.key].state if spec.key in states else None,
                "why": why,
                "drifted": drift[spec.key].drifted if spec.key in drift else None,
                "ddl_changes": changes.get(spec.key),
                "outcome": outcome,
            }
        )
    reads = [spec.key for spec in run_plan.external if spec.key not in unbuilt]
    if as_json:
        payload = {
            "run": steps,
            "reads_as_is": reads,
            "never_materialized": list(unbuilt),
            "refused": str(refused) if refused else None,
            "full_refresh": full_refresh,
            "rebuild": [spec.key for spec in run_plan.selected if spec.key in drift],
            "discard_history": discard_history,
            "would_lose": {key: _lost_as_json(kept) for key, kept in losses.items()},
        }
        echo(json.dumps(payload, indent=2))
    elif not steps:
        console.print(f"{NOTHING}: {select!r} selects no asset now")
    else:
        given = {SOURCE_OPTION: source, SOURCE_ENCODING_OPTION: source_encoding}
        run = _run_command(select, refresh_options(run_plan), given)
        _print_plan(steps, reads, refused=refused is not None, full_refresh=full_refresh, run=run)
        if refused is None and foretold.refused:
            print_step(console, f"Next: {next_step(run_plan, foretold.report)}.")
    if refused is not None:
        raise refused
    if foretold.refused:
        for key in foretold.refused:  # one line per asset, as materialize's report gives
            error_console.print(f"[bold red]error:[/] {escape(str(drift[key]))}", highlight=False)
        raise typer.Exit(1)


def _plan_title(steps: list[dict[str, Any]], *, refused: bool, full_refresh: bool) -> str:
    """``Plan: 3 assets would run``, or what materialize would refuse of them."""
    assets = counted(len(steps), "asset")
    outcomes = [step["outcome"] for step in steps]
    if refused:
        return (
            f"Plan: {assets} selected; materialize would refuse to run "
            f"{'it' if len(steps) == 1 else 'them'}"
        )
    if full_refresh:
        return f"Plan: {assets} would run, each table rebuilt from its DDL (--full-refresh)"
    drifted = outcomes.count("refused")
    if not drifted:
        return f"Plan: {assets} would run"
    one = drifted == 1
    parts = [f"refuse {drifted} (drifted from {'its' if one else 'their'} DDL)"]
    if outcomes.count("skipped"):
        parts.append(f"skip {outcomes.count('skipped')} below {'it' if one else 'them'}")
    if outcomes.count("run"):
        parts.append(f"run {outcomes.count('run')}")
    said = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"Plan: {assets} selected; materialize would {said}"


def _lost_as_json(kept: KeptRows | None) -> dict[str, Any] | None:
    """What an insert-only table's full refresh would lose, for ``plan --json``."""
    return dataclasses.asdict(kept) if kept is not None else None


def _run_command(select: str | None, refresh: str, given: dict[str, str | None]) -> str:
    """The materialize a plan foretells, to be copied: with each option the plan was given
    that materialize takes the same way (``refresh``, and the source ones ``given``), and
    only those: ``--select`` only if one was given."""
    command = "pipeline materialize" + refresh
    if select is not None:
        command += f" --select {quoted_selection(select)}"
    return with_options(command, {name: value for name, value in given.items() if value})


def _print_plan(
    steps: list[dict[str, Any]],
    reads: list[str],
    *,
    refused: bool,
    full_refresh: bool,
    run: str,
) -> None:
    rows = [
        [
            str(number),
            step["key"],
            Text(step["state"] or "-", style=_STATE_STYLE.get(step["state"] or "", "")),
            step["why"],
        ]
        for number, step in enumerate(steps, start=1)
    ]
    columns = (
        Column("#", right=True),
        Column("asset", fold=True, key=True),
        Column("state"),
        Column("why", wrap=True),
    )
    title = _plan_title(steps, refused=refused, full_refresh=full_refresh)
    print_table(console, columns, rows, title=title)
    if reads:
        console.print(f"Reads as they are in the warehouse: {', '.join(reads)}")
    if refused or any(step["outcome"] == "refused" for step in steps):
        console.print("Nothing ran.")
    else:
        print_step(console, f"Nothing ran. [bold]{escape(run)}[/] runs it.")
