"""How a run's outcome reaches the person or script that started it: table, checks, JSON.

The report is stdout's; what failed is stderr's, as for any command that fails (git, make,
dbt): each failed asset's line, whole (never cut to a column's width), and the ``Next:``
step that reruns what the run left undone, so ``pipeline materialize > run.log`` in cron
still shows why it exited 1. Each is said once, on one stream, since a terminal shows
both on one screen. A failed run prints nothing more than this report: Prefect's logs
stay in the Prefect API and appear on the terminal only with ``--verbose``.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from orchestration.check_versions import EditedCheck
from orchestration.checks import AssetCheck, AssetCheckResult, format_example
from orchestration.context import DISCARD_HISTORY_OPTION
from orchestration.errors import CHANGING_A_TABLE, of_asset
from orchestration.fingerprinted_source import SOURCE_OPTION
from orchestration.prefect_ui import absolute, run_urls, runs_path
from orchestration.rerun import checked_to_rebuild, materialize_command, rerun_selection
from orchestration.run_report import (
    FOLDED,
    AssetOutcome,
    MaterializationPlan,
    RunReport,
    counted,
    quoted_selection,
    refresh_options,
)
from orchestration.setting_names import named_as_parameters
from orchestration.synthetic_source import is_synthetic
from orchestration.text_table import Cell, Column, print_keyed_lines, print_table
from orchestration.typed_options import carried

_STATUS_STYLE = {
    "materialized": "green",
    "failed": "bold red",
    "skipped": "yellow",
    "cancelled": "magenta",
}
_CHECK_STYLE = {
    "passed": "green",
    "warning": "yellow",
    "failed": "bold red",
    "error": "bold red",
    "not_run": "bold magenta",
}
#: The rows and seconds of an asset the run published but did not get to record.
UNKNOWN = "unknown"
_REPORT_COLUMNS = (
    Column("asset", fold=True, key=True),
    Column("rows", right=True),
    Column("seconds", right=True),
    Column("status"),
)
#: The columns of the asset-checks table (``pipeline checks`` and a run's report).
CHECK_COLUMNS = (
    Column("asset", fold=True, key=True),
    Column("check", fold=True, key=True),
    Column("severity"),
    Column("status"),
    Column("violations", right=True),
    Column("example / error", wrap=True),
)


def report_as_json(report: RunReport) -> dict[str, Any]:
    """The run report as plain data for scripts."""
    return {
        "ok": report.ok,
        "flow_run_id": report.flow_run_id,
        "urls": run_urls(report.flow_run_id, report.lineage_artifact_id),
        "seconds": round(report.seconds, 3),
        "warehouses": report.warehouses,
        "prefect_error": report.prefect_error,
        "warnings": report.warnings,
        "cut": report.cut,
        "assets": [
            {
                "key": o.key,
                "table": o.table,
                "status": o.status,
                "rows": o.rows,
                "seconds": round(o.seconds, 3) if o.recorded else None,
                "recorded": o.recorded,
                "error": o.error,
                "error_full": o.error_in_full,
                "failed_upstream": list(o.failed_upstream),
                "checks": [check.as_dict() for check in o.checks],
                "code_version": o.code_version,
                "state": o.state,
                "reasons": [reason.detail for reason in o.reasons],
                "upstream_failed_checks": list(o.upstream_failed_checks),
                "built_from_failed_checks": list(o.built_from_failed_checks),
                "checked_reads": [read.as_dict() for read in o.checked_reads],
                "edited_checks": [edited.as_dict() for edited in o.edited_checks],
                "code_change": o.code_change.as_dict() if o.code_change else None,
                "files": dict(o.files),
            }
            for o in report.outcomes
        ],
    }


def _report_row(outcome: AssetOutcome) -> list[Cell]:
    if not outcome.recorded:  # published as the run stopped: said in words, not guessed
        rows = seconds = UNKNOWN
    else:
        rows = f"{outcome.rows:,}" if outcome.rows is not None else "-"
        seconds = f"{outcome.seconds:.2f}"
    return [
        outcome.key,
        rows,
        seconds,
        Text(outcome.status, style=_STATUS_STYLE[outcome.status]),
    ]


def print_report(
    report: RunReport,
    console: Console,
    plan: MaterializationPlan | None = None,
    *,
    verbose: bool = False,
    error_console: Console | None = None,
) -> None:
    """The run report: a table of the assets that ran (a box on a terminal, under their
    live lines, :class:`~orchestration.progress.RunProgress`; piped, their one line each);
    each failure (:func:`_print_failures`, on ``error_console``, else ``console``); a line
    per reason assets were skipped or cancelled, naming them; the asset checks that did
    not pass; the run's warnings (on ``error_console`` too); where to look next: after a
    failure, on ``error_console``, the ``--select`` (from ``plan``) that reruns what was
    left undone, and ``--verbose`` for the traceback of a failure nobody foresaw, unless
    the run was verbose already (a foreseen one's line is the whole story, as for any
    command). ``verbose`` gives each error in full (:attr:`AssetOutcome.full_error`).

    The warnings come before the last lines (the run's id, URLs, warehouse and ``Next:``),
    which end the report: printed after them, a warning read as something new gone wrong."""
    errors = error_console or console
    title = f"Run report: {report.summary()}"
    ran = [o for o in report.outcomes if o.status not in FOLDED]
    if ran:
        print_table(console, _REPORT_COLUMNS, [_report_row(o) for o in ran], title=title)
    else:  # interrupted before any asset ended
        console.print(title, soft_wrap=True, highlight=False, markup=False)
    _print_failures(report, errors, full=verbose)
    _print_folded(report, console)
    _print_edited_checks(report, console)
    _print_checked_reads(report, console)
    print_check_results([check for o in report.outcomes for check in o.checks], console)
    if cut := report.cut_line():  # every table is done: what the interrupt left undone
        console.print(cut, soft_wrap=True, highlight=False, markup=False)
    print_warnings(report.warnings, errors)
    run_id = f" Flow run id: {report.flow_run_id}" if report.flow_run_id else ""
    console.print(f"Total {report.seconds:.1f} s.{run_id}")
    urls = run_urls(report.flow_run_id, report.lineage_artifact_id)
    # Whole URLs on one line each, never wrapped, so a terminal can open them.
    if "flow_run" in urls:
        console.print(f"Flow run:  {urls['flow_run']}", soft_wrap=True, highlight=False)
    if "lineage" in urls:
        console.print(f"Lineage:   {urls['lineage']}", soft_wrap=True, highlight=False)
    if report.warehouses:
        named = ", ".join(report.warehouses)
        console.print(f"Warehouse: {named}", soft_wrap=True, highlight=False, markup=False)
    for what, path in _files_written(report):
        console.print(f"{what} {path}", soft_wrap=True, highlight=False, markup=False)
    runs = absolute(runs_path())
    if report.prefect_error:  # the UI is gone: the error line after the report says so
        ui_hint = ""
    elif "lineage" in urls:
        ui_hint = "; each asset in the lineage page links to its own page (asset-<key>)"
    elif urls:  # an interrupted run's lineage page is unfinished: its Flow run line leads on
        ui_hint = ""
    elif runs is not None:  # a run interrupted before its flow run began has no id
        ui_hint = f"; the run is in the Prefect UI at {runs}"
    else:
        ui_hint = (
            "; point PREFECT_API_URL at `prefect server start` to review runs in the Prefect UI"
        )
    rerun = next_step(plan, report) if plan is not None else None
    if rerun is None:
        print_step(
            console,
            f"Next: [bold]{escape(_first_query(report, plan))}[/] reads the tables, "
            f"[bold]{escape(carried('pipeline lineage --format mermaid'))}[/] draws the "
            f"graph{ui_hint}.",
        )
        return
    # After a failure the tables are not all there: the next step is the one that builds
    # them once the cause is fixed. The Flow run line above already leads to Prefect's logs.
    print_step(
        errors, _rerun_line(report, rerun, verbose=verbose, where=ui_hint if not urls else "")
    )


def print_failed_run(
    report: RunReport, plan: MaterializationPlan, console: Console, *, verbose: bool = False
) -> None:
    """What :func:`print_report` says on stderr (``console``) of a failed run, for
    ``--json``, whose stdout is its document: each failure, then the ``Next:`` step.
    A cron job's ``--json > report.json`` kept stderr empty on a failure."""
    _print_failures(report, console, full=verbose)
    rerun = next_step(plan, report)
    if rerun is not None:
        print_step(console, _rerun_line(report, rerun, verbose=verbose))


def _rerun_line(report: RunReport, rerun: str, *, verbose: bool, where: str = "") -> str:
    """``Next: {rerun}.``, with ``--verbose`` for the traceback of a failure nobody
    foresaw unless the run was verbose, and ``where`` the run is in the Prefect UI."""
    unforeseen = any(not outcome.foreseen for outcome in report.by_status("failed"))
    why = "; add [bold]--verbose[/] for the traceback" if unforeseen and not verbose else ""
    return f"Next: {rerun}{why}{where}."


def _files_written(report: RunReport) -> list[tuple[str, str]]:
    """What each file the run's assets wrote besides their tables is, as a label padded
    like ``Warehouse:``'s, and where: under the working directory, relative to it (the
    run's own ``reports/sales_dashboard.html``), else whole."""
    here = Path.cwd()
    found = []
    for outcome in report.outcomes:
        for what, written in outcome.files.items():
            path = Path(written)
            shown = path.relative_to(here) if path.is_relative_to(here) else path
            found.append((f"{what.capitalize()}:".ljust(len("Warehouse:")), str(shown)))
    return found


def print_warnings(warnings: Sequence[str], console: Console) -> None:
    """A run's warnings (a run hook that failed: :mod:`orchestration.run_hooks`), one
    ``warning:`` line each, whole: each says the run's result stands, so it is no error."""
    for line in warnings:
        console.print(f"[bold yellow]warning:[/] {escape(line)}", soft_wrap=True, highlight=False)


def print_step(console: Console, line: str) -> None:
    """A line (Rich markup) naming a command to copy, in one piece: on a terminal too, which
    wraps it for the eye. Broken at the terminal's width, the command was copied as two,
    the first run without the options after the break (its ``--warehouse`` among them)."""
    console.print(line, soft_wrap=True, highlight=False)


def _print_failures(report: RunReport, console: Console, *, full: bool = False) -> None:
    """Each failed asset's line, ``error: asset 'k' (table t): cause``, whole, on
    ``console`` (stderr): the one place a run says it, so ``2>`` keeps it and a terminal
    shows it once. ``full``: each error in full (``--verbose``)."""
    for outcome in report.by_status("failed"):
        lead = of_asset(outcome.key, outcome.table)
        said = (outcome.said_beside(full=full) or outcome.status).removeprefix(lead)
        said += outcome.publish_said
        console.print(f"[bold red]error:[/] {escape(lead + said)}", soft_wrap=True, highlight=False)


def _print_folded(report: RunReport, console: Console) -> None:
    """A line per status and reason for the assets that did not fail yet have a reason
    (:meth:`~orchestration.run_report.RunReport.folded`)."""
    for (status, reason), keys in report.folded().items():
        why = f" ({reason})" if reason else ""
        line = f"{counted(len(keys), 'asset')} {status}{why}: {', '.join(keys)}"
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def _print_edited_checks(report: RunReport, console: Console) -> None:
    """Each failed check edited (or added) since its asset last passed its checks: the
    likeliest cause, which its tables, code and rows do not show (an edited check is no
    code change), so it comes before what else the failed checks read."""
    lines = [(o.key, edited.said()) for o in report.outcomes for edited in o.edited_checks]
    if lines:
        print_keyed_lines(console, "checks edited since their asset last passed", lines)


def _print_checked_reads(report: RunReport, console: Console) -> None:
    """Each failed check that reads another asset's table, with what the run did to that
    table (rebuilt, or left stale or fresh): the check may have failed on its rows, and
    the Next line's rerun selects it when it needs a rebuild."""
    lines = [(o.key, read.said()) for o in report.outcomes for read in o.checked_reads]
    if lines:
        print_keyed_lines(console, "tables the failed checks read", lines)


def _first_query(report: RunReport, plan: MaterializationPlan | None) -> str:
    """A query of the run's last table that runs as printed (``SELECT ...`` pasted was a
    syntax error), in the warehouse the run wrote: the end of the run's lineage, where its
    results are. A table that keeps every run's rows is read newest first by the column
    its asset names (``latest_by``): unordered, its first ten rows were the first run's."""
    last = report.outcomes[-1] if report.outcomes else None
    if last is None:
        return carried('pipeline query "SELECT * FROM system.tables LIMIT 10"')
    spec = plan.graph[last.key] if plan is not None and last.key in plan.graph else None
    order = f" ORDER BY {spec.latest_by} DESC" if spec is not None and spec.latest_by else ""
    return carried(f'pipeline query "SELECT * FROM {last.table}{order} LIMIT 10"')


def next_step(plan: MaterializationPlan, report: RunReport) -> str | None:
    """The command that builds what ``report`` left undone, in Rich markup (None: nothing
    is undone): the rerun, after the full refresh that tables drifted from their DDL need,
    or after fixing what the checks found when every failure was an asset's checks. Each
    command runs as printed (:func:`rerun_command`): it reads what the run read, where
    the run ran.

    ``pipeline plan`` says it of the run it foretells, so the two lines agree."""
    rerun = rerun_selection(plan, report)
    if rerun is None:
        return None
    command = rerun_command(plan, f"{refresh_options(plan)} --select {quoted_selection(rerun)}")
    read = [spec.key for spec in plan.graph.topological(checked_to_rebuild(report))]
    rebuilds = f"rebuilds {', '.join(read)} and " if read else ""
    rerun_line = f"[bold]{escape(command)}[/]{_others()} {rebuilds}reruns {_undone(report)}"
    failed = report.by_status("failed")
    rebuild = [o.key for o in failed if o.needs_full_refresh]
    if rebuild:
        return _full_refresh_first(plan, report, rebuild, rerun_line)
    edited = [edited for outcome in failed for edited in outcome.edited_checks]
    if edited:
        return f"{_fix_the_edited_checks(failed, edited)}, then {rerun_line}"
    changed = [outcome for outcome in failed if outcome.blames_its_code]
    if changed:
        return f"{_fix_the_changed_code(plan, failed, changed)}, then {rerun_line}"
    made = [o for o in failed if o.made_invalid_rows and plan.graph[o.key].kind == "sql"]
    if made:
        return f"{_fix_the_selects(made)}, then {rerun_line}"
    if failed and all(outcome.failed_its_checks for outcome in failed):
        repair = _rebuild_the_checks_name(plan, report, rerun)
        if repair is not None:
            return repair
        outside = _rebuild_what_changed_outside(report, read, rerun_line)
        if outside is not None:
            return outside
        return f"{_fix_what_the_checks_found(failed, read)}, then {rerun_line}"
    return rerun_line


def rerun_command(plan: MaterializationPlan, options: str, *, source: bool = True) -> str:
    """:func:`~orchestration.rerun.materialize_command` after ``plan``'s run: with the
    options it was given (``plan.run_options``); a deployment's run's line says it leaves
    them out (:func:`_others`)."""
    return materialize_command(options, plan.run_options, source=source)


def _others() -> str:
    """What a rerun command adds when it leaves the run's options out: a deployment's run
    took them as parameters (:func:`rerun_command`); a command line's are all in it."""
    return " (and your other options)" if named_as_parameters() else ""


def next_sentence(plan: MaterializationPlan, report: RunReport) -> str | None:
    """:func:`next_step` as plain text, the sentence ``Next: ...``: what a run's log
    says, for a reader who may not have the terminal that printed it."""
    step = next_text(plan, report)
    return None if step is None else step.plain


def next_text(plan: MaterializationPlan, report: RunReport) -> Text | None:
    """The sentence ``Next: ...`` as styled text, each command it names in bold (the
    terminal's): a page shows those as code (:func:`orchestration.artifacts.next_line`)."""
    step = next_step(plan, report)
    return None if step is None else Text.from_markup(f"Next: {step}.")


def _rebuild_what_changed_outside(
    report: RunReport, read: Sequence[str], rerun_line: str
) -> str | None:
    """The next step when each table the failed checks ``read`` that the rerun rebuilds
    was changed outside the pipeline (rows deleted or added by hand) and each failed
    check ran: the rebuild is the likely fix, so it comes first, and fixing the rows the
    checks found only if they fail again. None in any other case."""
    changed = {
        checked.asset
        for outcome in report.outcomes
        for checked in outcome.checked_reads
        if checked.changed_outside
    }
    failed = report.by_status("failed")
    blocking = [check for outcome in failed for check in outcome.checks if check.blocking]
    if not read or not changed.issuperset(read) or any(c.status == "error" for c in blocking):
        return None
    tables = f"{read[0]}'s table was" if len(read) == 1 else f"the tables of {', '.join(read)} were"
    again = "its check fails" if len(blocking) == 1 else "their checks fail"
    them = "it" if len(blocking) == 1 else "they"
    checks = "check" if len(blocking) == 1 else "checks"
    return (
        f"{tables} changed outside the pipeline: {rerun_line}; "
        f"if {again} again, fix the rows {them} found (or the {checks})"
    )


def _rebuild_the_checks_name(
    plan: MaterializationPlan, report: RunReport, rerun: str
) -> str | None:
    """The rebuild that repairs what the blocking checks found, when each of them declares
    one (``AssetCheck.rebuilds``); None when any does not, or could not run (its SQL is
    what to fix). The selection also covers what the rerun would build (``rerun``). When
    some of their rows need a source loaded again (``AssetCheck.reloads``), that load
    comes first (:func:`_reload_first`).

    Never with ``--full-refresh``: the rebuild reloads upstream tables that may be
    insert-only, which rebuilt from what their upstream holds now would lose the keys of
    earlier loads; loaded as usual they gain only the rows they lack."""
    blocking = [
        check
        for outcome in report.by_status("failed")
        for check in outcome.checks
        if check.blocking
    ]
    declared = [_declared(plan, check) for check in blocking]
    rebuilds = [check.rebuilds if check else None for check in declared]
    if not rebuilds or None in rebuilds:
        return None
    if any(check.to_reload for check in blocking):
        return _reload_first(plan, report, rerun, blocking)
    selection = _covering(plan, [str(rebuild) for rebuild in rebuilds], rerun)
    command = rerun_command(plan, f" --select {quoted_selection(selection)}")
    return (
        f"[bold]{escape(command)}[/]{_others()} rebuilds what "
        f"{escape(_checks_named(blocking, 'compares', 'compare'))} with, and reruns "
        f"{_undone(report)}"
    )


def _declared(plan: MaterializationPlan, check: AssetCheckResult) -> AssetCheck | None:
    """The declaration of the failed ``check`` whose ``rebuilds`` and ``reloads`` say what
    repairs what it found (None when it could not run: its SQL is what to fix)."""
    if check.status == "error":
        return None
    declared = plan.graph[check.asset].checks
    return next((c for c in declared if c.name == check.name), None)


def _checks_named(checks: Sequence[AssetCheckResult], one: str = "", many: str = "") -> str:
    """``check 'a' compares`` or ``checks 'a', 'b' compare`` (the verb ``one`` or
    ``many``, if any): the checks, each name once."""
    return _named_checks([check.name for check in checks], one, many)


def _named_checks(names: Sequence[str], one: str = "", many: str = "") -> str:
    """:func:`_checks_named` of checks by name."""
    names = list(dict.fromkeys(names))
    listed = ", ".join(map(repr, names))
    said = f"check {listed} {one}" if len(names) == 1 else f"checks {listed} {many}"
    return said.rstrip()


def _covering(plan: MaterializationPlan, selections: Sequence[str], rerun: str) -> str:
    """``selections`` (each once) as one, widened to ``rerun`` unless it selects all that
    ``rerun`` would build already."""
    selection = " or ".join(dict.fromkeys(selections))
    if not {s.key for s in plan.graph.select(rerun)} <= {
        s.key for s in plan.graph.select(selection)
    }:
        selection = f"{selection} or {rerun}"
    return selection


def _reload_first(
    plan: MaterializationPlan,
    report: RunReport,
    rerun: str,
    blocking: Sequence[AssetCheckResult],
) -> str:
    """The load of the biggest source the failed checks' rows need again, with the
    selection their declarations load a source with (``SourceReload.select``): their
    declared rebuild loads from staging, which no longer holds it, so pasted as the Next
    line it would fail the same way, with the same line. Each check counts its rows; two
    checks may find the same rows, so a source is ranked by the most one check found of
    it, not by their sum. The other sources are counted, not named: the load changes what
    staging holds, and the run after names the next."""
    most: dict[str, int] = {}
    for check in blocking:
        for name, rows in check.to_reload:
            most[name] = max(rows, most.get(name, 0))
    source, rows = min(most.items(), key=lambda item: (-item[1], item[0]))
    finding = [check for check in blocking if source in dict(check.to_reload)]
    loads = [
        declared.reloads.select
        for declared in map(partial(_declared, plan), finding)
        if declared and declared.reloads
    ]
    selection = _covering(plan, loads, rerun)
    command = rerun_command(
        plan,
        f" {SOURCE_OPTION} {shlex.quote(source)} --select {quoted_selection(selection)}",
        source=False,
    )
    said = f"a load staging no longer holds: {rows:,} of the rows {_checks_named(finding)} "
    said += "found came from it"
    if len(most) > 1:
        said += f"; {counted(len(most) - 1, 'other source')} too, which the next run names"
    if not is_synthetic(source) and "://" not in source:
        said += f"; a file is named without its directory: give {source}'s path"
    return (
        f"[bold]{escape(command)}[/]{_others()} loads {escape(source)} again "
        f"({escape(said)}), and reruns {_undone(report)}"
    )


def _fix_the_edited_checks(failed: Sequence[AssetOutcome], edited: Sequence[EditedCheck]) -> str:
    """The fix first when failed checks were edited (or added) since their asset last
    passed: the edit is the likeliest cause (the code, the tables it reads and their rows
    may be as they were), and a rerun of the same check fails the same way; the rows it
    found, only if the edit is right. Then the rows any other blocking check found."""
    names = list(dict.fromkeys(e.check for e in edited))
    owners = list(dict.fromkeys(e.asset for e in edited))
    one = len(names) == 1
    kinds = {e.added for e in edited}
    verb = "added" if kinds == {True} else "edited" if kinds == {False} else "edited or added"
    since = (
        f"{owners[0]}'s last passing run"
        if len(owners) == 1
        else f"the last passing runs of {', '.join(owners)}"
    )
    said = (
        f"{escape(_named_checks(names))} {'was' if one else 'were'} {verb} since {since}: fix "
        f"the {'check' if one else 'checks'} (or, if {'it is' if one else 'they are'} right, "
        f"the rows {'it' if one else 'they'} found)"
    )
    return said + _and_the_rows_others_found(failed, {(e.asset, e.check) for e in edited})


def _fix_the_changed_code(
    plan: MaterializationPlan, failed: Sequence[AssetOutcome], changed: Sequence[AssetOutcome]
) -> str:
    """The fix first when failed assets' own code ``changed`` since they last passed their
    checks, and the tables those checks read are as they were (``blames_its_code``): the
    change is the likeliest cause, and rebuilding those tables (a check's declared
    rebuild) fails the same way. Then the rows any other blocking check found. An asset
    whose schema refused its rows (``made_invalid_rows``) passed no check yet: it last
    materialized, and its schema is the other thing to fix."""
    one = len(changed) == 1
    sql = all(plan.graph[outcome.key].kind == "sql" for outcome in changed)
    blocking = [check for outcome in changed for check in outcome.checks if check.blocking]
    checks = "check" if len({(c.asset, c.name) for c in blocking}) == 1 else "checks"
    schemas = all(outcome.made_invalid_rows for outcome in changed)
    passed = "materialized" if schemas else "passed its checks"
    guard = ("the schema" if one else "their schemas") if schemas else f"the {checks}"
    if one and (change := changed[0].code_change) is not None:
        what = "its SELECT" if sql else "its code"
        said = f"{changed[0].key}'s code changed since it last {passed} ({change.versions})"
    else:
        what = "their SELECTs" if sql else "their code"
        named = ", ".join(outcome.key for outcome in changed)
        passed = "materialized" if schemas else "passed their checks"
        said = f"the code of {named} changed since they last {passed}"
    said = f"{escape(said)}: fix {what} (or {guard})"
    return said + _and_the_rows_others_found(failed, {(c.asset, c.name) for c in blocking})


def _fix_the_selects(made: Sequence[AssetOutcome]) -> str:
    """The fix first when SQL assets' schemas refused the rows their SELECTs ``made``
    (their code as when they last materialized, or never built before): their upstream
    passed its own validation, and the same SELECT on it makes the same rows, so a plain
    rerun fails the same way. Bad rows of a source fail its ingest instead, whose own
    line names the file and row to fix."""
    if len(made) == 1:
        key = escape(made[0].key)
        return f"{key}'s SELECT made rows its schema refuses: fix its SELECT (or the schema)"
    named = escape(", ".join(outcome.key for outcome in made))
    return f"the SELECTs of {named} made rows their schemas refuse: fix them (or the schemas)"


def _and_the_rows_others_found(failed: Sequence[AssetOutcome], fixed: set[tuple[str, str]]) -> str:
    """``, and the rows check 'x' found (or it)``: the blocking checks of ``failed`` other
    than those (asset, check) the sentence before named a fix for; empty if none."""
    others = [
        check
        for outcome in failed
        for check in outcome.checks
        if check.blocking and (check.asset, check.name) not in fixed
    ]
    if not others:
        return ""
    them = "it" if len({check.name for check in others}) == 1 else "them"
    if {check.name for check in others} & {name for _, name in fixed}:
        # A name the fix names too reads as that check: each is said with its asset.
        named = _named_checks([f"{check.asset}.{check.name}" for check in others])
    else:
        named = _checks_named(others)
    return f", and the rows {escape(named)} found (or {them})"


def _fix_what_the_checks_found(failed: Sequence[AssetOutcome], read: Sequence[str]) -> str:
    """The fix a rerun needs when every failed asset failed its checks: the same code on
    the same sources publishes the same rows, which fail the same checks. So the rows the
    checks found (or the checks, if they are what is wrong, or the assets whose tables
    they ``read`` that the run rebuilt or left stale: a check can fail on those), and a
    check that could not run, whose SQL is the thing to fix."""
    blocking = [check for outcome in failed for check in outcome.checks if check.blocking]
    broken = sum(check.status == "error" for check in blocking)
    found = len(blocking) - broken
    fixes = []
    if found or not broken:
        whose = "its" if len(failed) == 1 else "their"
        checks = "check" if found == 1 else "checks"
        tables = ""
        if read:
            one = len(read) == 1
            they = "it reads" if found == 1 else "they read"
            tables = f", or {', '.join(read)}, whose {'table' if one else 'tables'} {they}"
        fixes.append(f"the rows {whose} {checks} found (or the {checks}{tables})")
    if broken:
        fixes.append(f"the {'check' if broken == 1 else 'checks'} that could not run")
    return "fix " + " and ".join(fixes)


def _full_refresh_first(
    plan: MaterializationPlan, report: RunReport, rebuild: list[str], rerun_line: str
) -> str:
    """The next step when tables drifted from their DDL: a plain rerun would be refused the
    same way, so first the full refresh that rebuilds them (saying what it loses of an
    insert-only table), then the rerun if more is undone."""
    kept = [o.key for o in report.by_status("failed") if o.rebuild_loses_rows]
    first = full_refresh_step(rebuild, kept, plan)
    undone = {o.key for o in report.outcomes if o.status != "materialized"}
    if undone == set(rebuild):
        return f"{first}{_others()}"
    return f"{first}, then {rerun_line}"


def full_refresh_step(
    rebuild: Sequence[str], kept: Sequence[str], run: MaterializationPlan | None = None
) -> str:
    """``pipeline materialize --full-refresh --select ...`` that rebuilds the tables of
    ``rebuild``, which drifted from their DDL, in Rich markup; ``kept`` are those of them
    that are insert-only, whose loss it names before the command is copied. After a
    ``run``, the command passes on its options (:func:`rerun_command`)."""
    tables = (
        "the table that drifted from its DDL"
        if len(rebuild) == 1
        else f"the {len(rebuild)} tables that drifted from their DDL"
    )
    discard = f" {DISCARD_HISTORY_OPTION}" if kept else ""  # else refused for what it drops
    selection = quoted_selection(" or ".join(rebuild))
    options = f" --full-refresh{discard} --select {selection}"
    if run is None:
        command = carried(f"pipeline materialize{options}")
    else:
        command = rerun_command(run, options)
    first = f"[bold]{escape(command)}[/] rebuilds {tables}"
    if kept:  # named before the command is copied: the rebuild drops those keys
        first += _what_a_rebuild_loses(kept, alone=len(rebuild) == 1)
    return first


def _what_a_rebuild_loses(kept: Sequence[str], *, alone: bool) -> str:
    """Said of a full refresh that rebuilds insert-only tables (``kept``): they are rebuilt
    from what their upstream holds now, so keys of earlier loads that only they kept are
    lost; changing the table by hand to its DDL keeps them."""
    one = len(kept) == 1
    return (
        f" from what {'its upstream holds' if alone else 'their upstreams hold'} now "
        f"(insert-only {escape(', '.join(kept))} {'loses' if one else 'lose'} the keys only "
        f"{'it' if one else 'they'} kept; to keep them, ALTER {'it' if one else 'them'} to "
        f"the DDL instead: {CHANGING_A_TABLE})"
    )


def _undone(report: RunReport) -> str:
    """``the failed asset and the 26 skipped``: what a rerun builds again, by status."""
    failed, skipped, cancelled = (
        len(report.by_status(status)) for status in ("failed", "skipped", "cancelled")
    )
    parts = []
    if failed:
        parts.append("the failed asset" if failed == 1 else f"the {failed} failed assets")
    if cancelled:
        parts.append("the cancelled asset" if cancelled == 1 else f"the {cancelled} cancelled")
    if skipped:
        parts.append(f"the {skipped} skipped")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 2 else parts)


def print_check_results(
    results: Sequence[AssetCheckResult], console: Console, *, show_passed: bool = False
) -> None:
    """Asset checks that did not pass (all of them with ``show_passed``), then a tally."""
    if not results:
        return
    shown = [r for r in results if show_passed or r.status != "passed"]
    if shown:
        rows: list[list[Cell]] = [
            [
                r.asset,
                r.name,
                r.severity,
                Text(r.status, style=_CHECK_STYLE[r.status]),
                f"{r.violations:,}" if r.violations is not None else "-",
                r.not_run or r.error or (format_example(r.examples[0]) if r.examples else ""),
            ]
            for r in shown
        ]
        print_table(console, CHECK_COLUMNS, rows, title="Asset checks")
    tally = {s: sum(r.status == s for r in results) for s in _CHECK_STYLE}
    counted = (f"{n} {s.replace('_', ' ')}" for s, n in tally.items() if n)
    console.print("Checks: " + ", ".join(counted))
