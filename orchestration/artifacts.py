"""The lineage artifact: one markdown page per flow run, shown in the Prefect UI.

The run graph shows the order tasks ran in; this page answers the reviewer's question
"which tables fed this one, and did they all materialize in this run?" from the UI alone:
the selected assets and the unselected upstream tables they read, drawn one layer per
diagram so labels stay readable in the UI's text column (see
:mod:`orchestration.ui_lineage`), coloured by outcome; then one table row per asset, each
linking to its asset page, with rows, seconds, status and error; and one row per
unselected upstream, with the rows the run read in it and the run that built them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.text import Text

from orchestration.asset_page import (
    PageLinks,
    cell,
    checked_read_lines,
    code_span,
    collapsed,
    edited_check_line,
    fenced,
    inline_literal,
    literal,
    literal_cell,
    shown_time,
    shown_warehouses,
    source_named,
    table_since_line,
)
from orchestration.checks import failures_in_brief
from orchestration.fingerprint import ChosenSource
from orchestration.history import AssetHistory, MaterializationRecord
from orchestration.lineage import LAYOUT_LINK, NOT_SELECTED, ORDER_LINES
from orchestration.prefect_ui import flow_run_path
from orchestration.report_output import next_text
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport, counted
from orchestration.staleness import AssetState
from orchestration.ui_lineage import layer_diagrams, layer_legend

LINEAGE_ARTIFACT_KEY = "asset-lineage"
_ERROR_CHARS = 300
#: Characters of an error the table's last column gives: it is ~150 px wide at 1600x1000
#: (its six other columns take the rest), and a compile error of 600 characters wrapped
#: there to 16 lines. The list of failures above the diagrams gives the error.
_CELL_CHARS = 50

#: Under the table of a run that left assets undone: their rows read "-", not "gone".
_KEPT = (
    "A skipped asset's table, and a failed one's that wrote nothing (its rows read -), is "
    "left as it was; `pipeline status` says which are stale or missing."
)


def lineage_description(report: RunReport | None) -> str:
    """The lineage artifact's one line in Prefect's artifact lists, which cut it at ~40
    characters: the run's outcome first (None: not written yet, as said of a run going
    on and of one stopped before its end alike)."""
    return f"{report.summary() if report else 'not written yet'}: this run's asset lineage"


def unfinished_lineage_markdown(plan: MaterializationPlan) -> str:
    """The lineage artifact as the run begins: its pages link it as they are written, and
    its end replaces this. A run stopped before its end leaves this version."""
    return "\n".join(
        [
            "## Asset lineage: not written yet",
            "",
            f"Selection: {_chosen(plan)}; {len(plan.selected)} selected. This run writes "
            "its lineage here when it ends. If this page still says so, the run was stopped "
            "before its end: its flow run says how far it got, and each asset it reached "
            "has a page.",
            "",
        ]
    )


def _chosen(plan: MaterializationPlan) -> str:
    """The run's selection as its lineage names it."""
    return f"`{_code(plan.selection)}`" if plan.selection else "all assets"


def _code(text: str) -> str:
    """Text for an inline code span: literal there, so only backticks and newlines matter."""
    return " ".join(text.replace("`", "'").split())


def _short(error: str | None) -> str:
    """The error as the page shows it: its first characters, as written (shortened before
    it is escaped, so no cut falls between a backslash and the character it escapes)."""
    if not error:
        return "-"
    short = error if len(error) <= _ERROR_CHARS else error[: _ERROR_CHARS - 1] + "…"
    return literal_cell(short)


def _error_cell(outcome: AssetOutcome) -> str:
    """The error as the table's last cell gives it: the start of the first line of its
    cause (``outcome.cause``: where in the code and what kind, which the failures list
    gives, filled the 50 characters with a path), without the ``asset 'k' (table t):``
    its row says already (:meth:`~orchestration.run_report.AssetOutcome.said_cause`); cut
    at a word. A skipped asset's reason is short, and said as it is."""
    if not outcome.error:
        return "-"
    first = (outcome.said_cause() or "").strip().split("\n", 1)[0]
    if len(first) > _CELL_CHARS:
        head = first[: _CELL_CHARS + 1]
        cut = head.rsplit(" ", 1)[0] if " " in head else head[: _CELL_CHARS - 1]
        first = cut.rstrip() + "…"
    return literal_cell(first)


def _inserted(outcome: AssetOutcome) -> str:
    result = outcome.result
    if result is None:
        return "-"
    return f"{result.inserted_rows if result.inserted_rows is not None else result.rows:,}"


def _table(report: RunReport, links: PageLinks) -> list[str]:
    lines = [
        "| asset | table | rows | inserted | seconds | status | error |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for o in report.outcomes:
        rows = f"{o.rows:,}" if o.rows is not None else "-"
        seconds = f"{o.seconds:.2f}" if o.status != "skipped" else "-"
        cells: tuple[str, ...] = (o.table, rows, _inserted(o), seconds, o.status)
        lines.append(
            f"| {links.link(o.key)} | "
            + " | ".join(cell(c) for c in cells)
            + f" | {_error_cell(o)} |"
        )
    return lines


def _read_as_they_are(
    plan: MaterializationPlan,
    links: PageLinks,
    history: Mapping[str, AssetHistory],
    states: Mapping[str, AssetState],
    held: Mapping[str, int],
) -> list[str]:
    """The unselected upstream, each with the rows its table held as the run began
    (``held``, counted then; else the rows its build left, said to be that) and the run
    that built them, from the history the run read then, and its state as ``pipeline
    status`` says it (if the run told: ``states``). A table of their own: in the outcome
    table's seven columns, a time and a link in the last one wrapped at every hyphen in
    the UI's 690 px page column. Behind a click, saying how many tables it lists: it took
    a window of a selection's page, and those of them not fresh are named at the top
    (:func:`_stale_read`)."""
    if not plan.external:
        return []
    with_state = bool(states)
    said = "the run that built them, and its state as the run ended" if with_state else ""
    table = [
        f"| asset | table | rows | built (UTC) |{' state |' if with_state else ''}",
        f"|---|---|---:|---|{'---|' if with_state else ''}",
    ]
    for spec in plan.external:
        read = history.get(spec.key, AssetHistory())
        rows = _rows_cell(held.get(spec.key), read.table_rows, marked=bool(held))
        row = f"| {links.link(spec.key)} | {cell(spec.table)} | {rows} | {_last_build(read)} |"
        if with_state:
            state = states.get(spec.key)
            row += f" {cell(_state_kinds(state)) if state else '-'} |"
        table.append(row)
    tables = counted(len(plan.external), "unselected upstream table")
    return [
        f"**{NOT_SELECTED.capitalize()}**, read as they are: {_rows_said(plan, held)}, "
        f"{said or 'and the run that built them'}.",
        "",
        *collapsed(f"The {tables} this run read", table),
    ]


def _rows_said(plan: MaterializationPlan, held: Mapping[str, int]) -> str:
    """What the rows column of the unselected upstream gives: counted as the run began,
    the rows their builds left, or either, marked (:func:`_rows_cell`)."""
    counted = [spec.key in held for spec in plan.external]
    if all(counted):
        return "the rows each table held as the run began"
    if not any(counted):
        return "the rows each table held when built"
    return (
        "the rows each table held as the run began (*when built*: as its build left it, "
        "not counted)"
    )


def _rows_cell(held: int | None, built: int | None, *, marked: bool) -> str:
    """An unselected upstream's rows: counted as the run began, and the rows its build
    left where they differ (rows deleted or added outside the pipeline since); not
    counted, the rows its build left, said to be that if others were counted
    (``marked``); ``-`` if neither is known."""
    if held is None:
        if built is None:
            return "-"
        return f"{built:,} when built" if marked else f"{built:,}"
    if built is not None and built != held:
        return f"{held:,} ({built:,} when built)"
    return f"{held:,}"


def _state_kinds(state: AssetState) -> str:
    """``fresh``, or ``stale: code changed``: the state and the kinds of its reasons, short
    enough to leave the build time beside it on one line in the UI's page column (a
    reason in full wrapped it at every hyphen); :func:`_stale_read` gives them in full."""
    kinds = dict.fromkeys(reason.kind.replace("_", " ") for reason in state.reasons)
    return f"{state.state}: {', '.join(kinds)}" if kinds else state.state


def _stale_read(
    plan: MaterializationPlan, links: PageLinks, states: Mapping[str, AssetState]
) -> list[str]:
    """One line, under the selection's: each unselected upstream the run read that is not
    fresh, and why, as ``pipeline status`` says it. The run built on what their tables
    hold, which is not what their code and upstream make now."""
    stale = [s for spec in plan.external if (s := states.get(spec.key)) and s.state != "fresh"]
    if not stale:
        return []
    named = "; ".join(f"{links.link(s.key)}: {literal(s.explain())}" for s in stale)
    one = len(stale) == 1
    read = "its table as it is" if one else "their tables as they are"
    make = "its code and upstream make it" if one else "their code and upstream make them"
    return [f"**Read while stale:** {named}. This run read {read}, not as {make} now.", ""]


def _last_build(read: AssetHistory) -> str:
    """What an unselected upstream's table held as the run read it, as its history tells:
    the materialization that published its rows, linking its run; or, when the latest
    attempt published none (it failed first, or was stopped), the last success, and that
    attempt. ``-`` without a record (never built here, or its storage keeps no history)."""
    attempt, success = read.last_attempt, read.last_success
    if attempt is not None and attempt.rows is not None:  # the table holds its rows
        built = _run_at(attempt)
        return f"{built}, then its checks failed" if attempt.failed_its_checks else built
    if attempt is None:
        return "-"
    ended = "failed" if attempt.status == "failed" else "did not finish"
    later = f"a run at {_run_at(attempt)} {ended}"
    if success is None or success.materialization_id == attempt.materialization_id:
        return f"never; {later}"
    return f"{_run_at(success)}; {later}"


def _run_at(record: MaterializationRecord) -> str:
    """When ``record`` ended, linking its flow run (as text, if it names none)."""
    at = shown_time(record.ended or record.started)
    return f"[{at}]({flow_run_path(record.run_id)})" if record.run_id else at


def _failures(report: RunReport, links: PageLinks) -> list[str]:
    """The failed assets and their errors, first thing under the headline: a reader
    opening a failed run's lineage wants the reason, which the table gives only at the
    end, a few screens down (the diagram shows only which asset is red). Under each
    error, each failed check edited since its asset last passed (the likeliest cause),
    then, once the run settled its state, what its table holds now, as its page says
    it: the rows of an attempt that failed its checks (published first: a reader of the
    warehouse sees them), or what it was left, and since when (its last success's run);
    then each other asset's table its failed checks read that the run changed or left
    stale (one rebuilt the same, or left fresh, its page names: four such lines per
    failed asset pushed ``Next:`` below the fold)."""
    failed = report.by_status("failed")
    if not failed:
        return []
    items = []
    for o in failed:
        lines = [f"- {links.link(o.key)}: {_failure(o)}"]
        lines += [edited_check_line(edited) for edited in o.edited_checks]
        if o.state is not None:
            lines.append(table_since_line(o, named=True))
        lines += checked_read_lines(o.checked_reads, links, alike=False)
        items.append("\\\n  ".join(lines))  # hard line breaks keep the item's lines apart
    return ["**Failed:**", "", *items, ""]


def _not_run(report: RunReport, links: PageLinks) -> list[str]:
    """The assets the run did not build though it selected them, a line per status and
    reason with each one's page, under the failures (:meth:`RunReport.folded`, as the
    terminal says them): the diagrams show them only by colour, the table names them at
    the page's end, five screens below "6 skipped" in the headline."""
    lines = [
        f"**{counted(len(keys), 'asset')} {status}**"
        + (f" ({_short(reason)})" if reason else "")
        + f": {', '.join(links.link(key) for key in keys)}"
        for (status, reason), keys in report.folded().items()
    ]
    return [line for said in lines for line in (said, "")]


def _failure(outcome: AssetOutcome) -> str:
    """What failed, after the asset's link: the checks that failed and the rows each
    found (:func:`failures_in_brief`), else the error as the run gives it (the place in
    the code with the cause); its first 300 characters (:func:`_short`). The run's error
    of four failed checks filled the first screen with an example row of each, cut at
    ``…`` after the first, and put ``Next:`` below the fold; the asset's page gives them."""
    failing = [check for check in outcome.checks if check.blocking]
    if outcome.failed_its_checks and failing:
        return _short(f"{failures_in_brief(failing)}.")
    return _short(outcome.error)


def next_line(plan: MaterializationPlan, report: RunReport) -> str | None:
    """The terminal's ``Next:`` line (:func:`next_text`) as a page says it, as written
    (None: the run left nothing undone): a reader of the run's lineage page, or of a
    failed asset's page, has the same step to take, and may not have the terminal that
    printed it. Each command in it is a code span: in the prose, a reader selected where
    it ends by eye."""
    sentence = next_text(plan, report)
    return None if sentence is None else _with_commands_as_code(sentence)


def _with_commands_as_code(sentence: Text) -> str:
    """``sentence`` (``Next: ...``, which starts no block) in markdown, as written: its bold
    parts (the commands it names) as code spans, the rest :func:`inline_literal`."""
    said, at = [], 0
    for span in sorted(sentence.spans, key=lambda span: span.start):
        if span.style == "bold":
            said += [inline_literal(sentence.plain[at : span.start])]
            said += [code_span(sentence.plain[span.start : span.end])]
            at = span.end
    return "".join([*said, inline_literal(sentence.plain[at:])])


def _next(step: str | None) -> list[str]:
    return [step, ""] if step else []


def _warehouses(locations: Iterable[str], sources: Sequence[ChosenSource]) -> list[str]:
    """The paragraph naming where the run's tables are (none if no storage names one):
    runs against every warehouse share one Prefect server, so the page says which; and
    on the next line, the source it loaded them from (its ingest assets'), which a
    reviewer looked for, to tell a run of a file from one of generated rows."""
    shown = shown_warehouses(locations)
    said = []
    if shown:
        named = ", ".join(f"`{w}`" for w in shown)
        said.append(f"Warehouse{'s' if len(shown) > 1 else ''}: {named}.")
    if sources:
        named = ", ".join(source_named(source) for source in sources)
        said.append(f"Source{'s' if len(sources) > 1 else ''}: {named}.")
    return ["\\\n".join(said), ""] if said else []


def lineage_markdown(
    plan: MaterializationPlan,
    report: RunReport,
    links: PageLinks | None = None,
    history: Mapping[str, AssetHistory] | None = None,
    upstream_states: Mapping[str, AssetState] | None = None,
    held: Mapping[str, int] | None = None,
    sources: Sequence[ChosenSource] = (),
) -> str:
    """The artifact's markdown: headline, what failed and why (and what the failed tables
    hold now), the step that builds what the run left undone, the warehouse(s) of the
    run's tables (the report's) and the ``sources`` it loaded them from (its ingest
    assets': :func:`~orchestration.fingerprint.run_sources`), the selection (and a
    warning when it read a stale upstream), a legend of what the diagrams draw, one
    Mermaid diagram per layer, the table of outcomes, then the unselected upstream the
    run read. ``history``: each asset's as the run read it when it began, which tells
    who built those (and the rows their builds left); ``held``: the rows their tables
    held as it began, counted then (without them, their builds' rows, said to be that);
    ``upstream_states``: their states as the run ended (without them, no state column)."""
    outcomes = {o.key: o.status for o in report.outcomes}
    links = links or PageLinks()
    states = upstream_states or {}
    diagrams = layer_diagrams(plan.graph, [s.key for s in plan.selected], outcomes, links.href)
    lines = [
        f"## Asset lineage: {report.summary()}",
        "",
        *_failures(report, links),
        *_not_run(report, links),
        *_next(next_line(plan, report)),
        *_warehouses(report.warehouses, sources),
        f"Selection: {_chosen(plan)}; {len(plan.selected)} selected, "
        f"{len(plan.external)} unselected upstream read as they are. "
        "A click on an asset's box, or on its name in the table below, opens its page "
        "(what feeds it, what it feeds, its columns and checks).",
        "",
        *_stale_read(plan, links, states),
        layer_legend(diagrams),
        "",
    ]
    for diagram in diagrams:
        lines += [f"### {diagram.title}", "", *fenced(diagram.mermaid, "mermaid"), ""]
    lines += [*_table(report, links), ""]
    if report.by_status("failed") or report.by_status("skipped"):
        lines += [_KEPT, ""]
    lines += _read_as_they_are(plan, links, history or {}, states, held or {})
    return "\n".join(lines)


def mermaid_blocks(markdown: str) -> list[str]:
    """The Mermaid source of every fenced ``mermaid`` block (for tests and tools)."""
    blocks: list[str] = []
    inside: list[str] | None = None
    for line in markdown.splitlines():
        if inside is None and line.strip().startswith("```") and line.strip().endswith("mermaid"):
            inside = []
        elif inside is not None and line.strip() and set(line.strip()) == {"`"}:
            blocks.append("\n".join(inside) + "\n")
            inside = None
        elif inside is not None:
            inside.append(line)
    return blocks


def mermaid_block(markdown: str) -> str:
    """The first Mermaid block of a markdown artifact."""
    blocks = mermaid_blocks(markdown)
    if not blocks:
        raise ValueError("no ```mermaid block in the markdown")
    return blocks[0]


def edges_in(mermaid: str, *, layout: bool = False) -> set[tuple[str, str]]:
    """Every ``a --> b`` / ``a -.- b`` / ``a -. order .- b`` / ``a -. checked against .- b``
    edge in a Mermaid flowchart, and its invisible ``a ~~~ b`` links if ``layout``: they
    are no lineage edges, but the renderer puts nodes in columns by them too."""
    lines = ("-->", *ORDER_LINES, *((LAYOUT_LINK,) if layout else ()))
    edges = set()
    for line in mermaid.splitlines():
        parts = line.split()
        if len(parts) >= 3 and " ".join(parts[1:-1]) in lines:
            edges.add((parts[0], parts[-1]))
    return edges
