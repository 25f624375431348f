"""An asset's page in the Prefect UI: a markdown artifact keyed ``asset-<key>``.

Prefect's OSS UI has no asset catalog, so each asset a run reaches (materialized, failed,
or skipped since an upstream failed) writes a new version of this artifact: **Artifacts ->
asset-fact-sales** is the table's page and its version list is the table's history. A
page answers the reviewer's questions about one table without a terminal: what it is
(table, group, owners, kind, write mode, columns, SQL), what feeds it and what it feeds (a
focused diagram whose boxes open the neighbours' pages, and links to them), how this
run's attempt went (run, time, rows, seconds, status, error or why it was skipped and,
for a failure, the step its run says to take next; checks, with the SQL that lists the
rows a failed one found; the source an ingest asset read) and, when it did not
materialize the table, when the table last was and the rows it left (or, when it
published and then failed its checks, that the table holds its rows), the asset's last
attempts and what changed since the previous one, which upstream columns each of its
columns is computed from, and which raw columns its whole chain ends in, and what uses each
column downstream (before it is renamed or dropped).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import groupby
from pathlib import Path
from uuid import UUID

from orchestration.asset import AssetSpec
from orchestration.asset_code import declaration_place
from orchestration.check_versions import EditedCheck
from orchestration.checks import AssetCheckResult, failures_in_brief, format_example
from orchestration.column_impact import CheckRef, Uses
from orchestration.column_lineage import NOT_DERIVED, ChainEnds
from orchestration.fingerprint import ChosenSource
from orchestration.graph import AssetGraph
from orchestration.history import MaterializationRecord
from orchestration.io_manager import STAGED_ROWS, IOManager, MaterializeResult
from orchestration.lineage import CHECKED_LABELLED_LINE, ORDER_LABELLED_LINE, checks_read
from orchestration.prefect_ui import (
    artifact_key_path,
    artifact_path,
    artifact_version_path,
    asset_page_key,
    flow_run_path,
)
from orchestration.redaction import shown_source
from orchestration.run_report import (
    SHORT_VERSION,
    AssetOutcome,
    CheckedRead,
    MaterializationPlan,
    counted,
    rows_phrase,
)
from orchestration.setting_names import parameter_for
from orchestration.staleness import Reason, failed_checks_notes, upstream_since
from orchestration.typed_options import carried
from orchestration.ui_lineage import (
    FOCUS_COLUMN,
    distances,
    focus_limit,
    focused_diagrams,
    order_lines,
    through_reads,
)

_WRITE_MODES = {
    "replace": "replace (each materialization swaps in a complete new table)",
    "insert_new": "insert_new (adds only rows whose key is new; reruns add nothing)",
}

#: Characters per line of a code block on a page: at 1600x1000 the V2 UI's page column
#: shows 78 monospace characters of one (690 px), and wraps no longer line: the rest is
#: out of sight at the column's edge until the block is scrolled sideways.
CODE_WIDTH = 78
#: The longest line of a SQL asset's SELECT as the SQL block shows it. The SQL is not
#: wrapped here (a break inside a string literal would change the query): each asset
#: lays its SQL out to fit (tests/test_asset_page_sql.py holds the retail assets to it).
SQL_WIDTH = CODE_WIDTH

#: The first line of the table of facts at the top of every page.
_ABOUT_HEADER = "| | |"
#: The name of that table's state row as a run writes it, and as a later run restates
#: it (:func:`with_state`): the state it gives is its run's, whose page this is, until
#: a later run says it as of then.
_STATE_AS_WRITTEN = "state after this run"
_STATE_RESTATED = "state"
#: Where a failed page's other mentions of its error send the reader: it is shown once.
_ERROR_ABOVE = "see the error under the title"
#: What opens the error in full under a failed page's line, when the line leaves a part
#: of it out (the engine's quote of the SELECT it compiled, ~600 characters).
WHOLE_ERROR = "The whole error"
#: How the line under a page's title starts: whose version it is; then how it started
#: before it was reworded (a later relink finds either, to put its note under it).
_VERSION_LINE = "**This version:** run "
_VERSION_LINE_BEFORE = "This version: run "
#: How the note of a page a later run relinked starts (:func:`with_links_updated`); then
#: how it started before it was reworded (a later relink replaces either).
_LINKS_UPDATED = "Since this version, run "
_LINKS_UPDATED_BEFORE = "Links updated by run "
#: What a relinked page's note calls the neighbours a run materialized; then each kind of
#: what it did to them, in the order the note counts them.
_REBUILT = "rebuilt"
_WHAT_A_RUN_DID = (_REBUILT, "failed its checks", "failed", "cancelled", "skipped")
#: The words before the list of the versions of its direct upstream an attempt read.
VERSIONS_READ = (
    "**Versions read** by this attempt, of each table it reads directly (a name opens the "
    "page of the version read):"
)
#: How many of the versions read that are this run's the list says in one line.
_THIS_RUNS_TOGETHER = 3
#: Said of a version read whose page the run did not find among the newest pages.
_PAGE_NOT_LOOKED_UP = "its page: in that run's Artifacts tab"
#: Between the date and the clock of a time a page shows, and before ``UTC``: a time in
#: a narrow column wrapped there, and read as two values.
_NO_BREAK = "\u00a0"
#: Between the year, month and day of a date a page shows (U+2011, a hyphen no line
#: breaks after): with a plain one, the date wrapped in a narrow column (``2026-12-``
#: over ``07 19:12:33``). Prefect's markdown renderer leaves it as it is.
_DATE_HYPHEN = "\u2011"
#: The most characters of a run's name a table's run cell shows (a rerun's selection,
#: ``dim_customer or dim_product or ... or fact_sale_returns+``, wrapped to three lines
#: there); a longer one is cut after a word, its whole name in the link's title.
RUN_CELL_CHARS = 30
#: Attempts a page's History lists: this version's and the ones before it.
HISTORY_ROWS = 10

#: The Columns table's last column: where each column's whole upstream chain ends.
_ENDS = "raw source columns"
#: Said instead of that column where it would repeat the one before it.
_ENDS_ONE_STEP_UP = (
    "Each column's upstream columns are raw source columns: its whole chain ends one step up."
)
#: What a column computed from no column is computed from.
_COMPUTED = "a constant or a function"
#: What the Columns table's last two columns say, above it: one step up, and the ends of
#: the chain a reader would otherwise follow page after page.
_COLUMNS_GUIDE = (
    "*computed from*: the columns one step upstream, each linking to the page of its "
    f"asset. *{_ENDS}*: the columns of the tables loaded from outside the graph that the "
    "whole chain ends in (`pipeline lineage --column` prints the chain)."
)
#: Where a column a link opens is: the UI opens another page at its top (it scrolls to
#: no anchor of a page it navigates to, only to one of the page it shows).
COLUMN_LINKS = (
    "A link opens its asset's page at the top: the column is a row of its *Columns* "
    "table, after *This run* and *Checks*."
)
#: The summary of the lineage legend, which a click opens under the line above the
#: diagrams: on every page, it preceded them with up to eleven lines.
LEGEND = "What the diagrams' lines, boxes and marks mean"
#: The uses of a column its *Used downstream* row names, of each kind; the others behind
#: ``and N more``, which a click opens.
USES_SHOWN = 4
#: What a *Used downstream* row calls an asset that may use the column.
_MAYBE = "maybe used by"
#: The marks of a page's Lineage list for a neighbour no chain of reads joins to the
#: asset (:meth:`AssetPage._marks`).
ORDER_ONLY = "order only"
CHECKED_AGAINST = "checked against"
CHECKS_THIS = "checks this"
#: What each labelled ordering line of a page's diagram means, said if it draws one.
_LINE_MEANINGS = {
    CHECKED_LABELLED_LINE: "A purple dotted line labelled *checked against* joins an asset "
    "to a table its checks read: none of that table's rows are in the asset's, but a check "
    "can fail on them, and the asset runs after it",
    ORDER_LABELLED_LINE: "A purple dotted line labelled *order* joins an asset to one it "
    "runs after but does not read (e.g. one its checks read)",
}
#: What the checks' marks mean, said if the list shows one (*order only*: see the guide).
_MARK_MEANINGS = {
    CHECKED_AGAINST: f"*{CHECKED_AGAINST}* marks an asset whose table this one's checks read.",
    CHECKS_THIS: f"*{CHECKS_THIS}* marks an asset whose checks read this table.",
}

#: Characters that can open or close markdown inside a line: escapes, code, emphasis,
#: links and images, raw HTML and entities, table cells, strikethrough, headings, quotes.
#: Underscores inside a word (``anomaly_invoice``) cannot: left as they are, names read
#: as typed in the markdown too.
_MARKDOWN_CHARS = re.compile(r"[\\`*\[\]<>&|~!#]|(?<!\w)_+|_+(?!\w)")
#: What makes the start of a line a list item, a thematic break or a heading underline.
_BLOCK_START = re.compile(r"^(\d*)([-+=.)])")
#: The pieces of markdown text as :func:`markdown_text` reads it, each as CommonMark does:
#: a backslash-escaped punctuation character; a code span (a run of backticks, the
#: shortest text, and a run of as many, neither run longer); an unclosed run of backticks;
#: text without either; a lone backslash.
_MARKDOWN_PIECE = re.compile(
    r"(?P<escape>\\[!-/:-@\[-`{-~])"
    r"|(?P<code>(?P<run>`+)(?!`).+?(?<!`)(?P=run)(?!`))"
    r"|`+|[^\\`]+|\\",
    re.DOTALL,
)


def markdown_text(text: str) -> str:
    """``text`` written as markdown (a docstring, an error quoting names in backticks) for
    a page whose renderer shows raw HTML: ``<``, ``>`` and ``&`` HTML-escaped, so none of
    its tags, comments or entities renders, but not in its code spans, whose characters
    markdown shows as they are: escaped there, ``warehouse=<the warehouse>`` showed as
    ``warehouse=&lt;the warehouse&gt;``. The code spans are those a CommonMark renderer
    finds (:data:`_MARKDOWN_PIECE`), read from the start as it reads them: any other
    ``<`` is escaped, so no tag can start before one and run into it."""
    pieces, at = [], 0
    while piece := _MARKDOWN_PIECE.match(text, at):
        said, at = piece.group(), piece.end()
        if piece.group("escape") and said[1] in "<>&":  # as the entity: "\&lt;" showed "&lt;"
            said = html.escape(said[1], quote=False)
        elif not (piece.group("code") or piece.group("escape")):
            said = html.escape(said, quote=False)
        pieces.append(said)
    return "".join(pieces)


def cell(value: object) -> str:
    """A markdown table cell: HTML-escaped outside its code spans (the UI renders raw HTML:
    :func:`markdown_text`), pipes and newlines safe."""
    text = markdown_text(str(value))
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip() or "-"


def row(*cells: object) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def fenced(text: str, language: str) -> list[str]:
    """A fenced code block that no run of backticks inside ``text`` can close early."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def code_span(text: str) -> str:
    """``text`` (one line: a command) as a code span that no run of backticks inside it
    ends early, to be selected and copied whole out of the prose around it."""
    ticks = "`" * (_longest_backticks(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""  # read as the ticks'
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backticks(text: str) -> int:
    runs = [len(list(group)) for char, group in groupby(text) if char == "`"]
    return max(runs, default=0)


@dataclass
class PageLinks:
    """Where each asset's page is: the newest known version of its artifact.

    A version page (``/v2/artifacts/artifact/<id>``) shows the content; the key page only
    lists versions, so it is the fallback for assets that have no page yet.
    """

    versions: dict[str, UUID] = field(default_factory=dict)
    #: The run's lineage page (``asset-lineage``), which each of its pages links: the flow
    #: run's Artifacts tab lists it among a page per asset. None: not written (yet).
    lineage: UUID | None = None

    def href(self, key: str) -> str:
        version = self.versions.get(key)
        return artifact_path(version) if version else artifact_key_path(asset_page_key(key))

    def link(self, key: str) -> str:
        """A markdown link to ``key``'s page (keys are identifiers: nothing to escape)."""
        return f"[{key}]({self.href(key)})"


@dataclass(frozen=True)
class Materialization:
    """One materialization of one asset, as its page reports it."""

    outcome: AssetOutcome
    flow_run_id: str | None
    run_name: str
    finished: datetime
    #: Where the run wrote the table (:meth:`IOManager.location`); None: its storage
    #: names no location.
    warehouse: str | None = None
    #: The source the asset read, for an ingest asset whose fingerprint names it
    #: (:func:`~orchestration.fingerprint.chosen_source`); None for any other.
    source: ChosenSource | None = None

    @property
    def rows_inserted(self) -> int | None:
        """Rows this run wrote: the new rows of an insert-only load, else the whole table."""
        result = self.outcome.result
        if result is None:
            return None
        return result.inserted_rows if result.inserted_rows is not None else result.rows


@dataclass(frozen=True)
class EarlierAttempts:
    """An asset's records before this version's, as its History lists them: newest first,
    at most ``HISTORY_ROWS - 1``, from the history store (a skip is no attempt, but a
    version of the page all the same); and the names of their flow runs by id (a run the
    server no longer has: none)."""

    records: Sequence[MaterializationRecord]
    run_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamRead:
    """The version of a direct upstream's table an attempt read: the materialization its
    record names as read (:attr:`MaterializationRecord.upstream`), which the rows came from.

    ``this_run``: the run's own (its page of this run is the version's); else ``built``,
    the materialization as the history the run read at its start holds it, ``run_name``
    its flow run's name, if known, and ``page`` its page, if the run found it among the
    newest pages (asking for an older version is a request per upstream; the page says
    where it is instead). Neither: no build of it is recorded (a table made outside the
    pipeline)."""

    key: str
    built: MaterializationRecord | None = None
    run_name: str | None = None
    page: UUID | None = None
    this_run: bool = False


@dataclass(frozen=True)
class AssetPage:
    """Everything one page shows; rendered by :meth:`markdown`, a pure function of it."""

    spec: AssetSpec
    graph: AssetGraph
    materialization: Materialization
    columns: Sequence[tuple[str, str]] = ()
    column_sources: Mapping[str, Sequence[str]] | None = None
    column_note: str = NOT_DERIVED
    #: Where each column's whole upstream chain ends (:func:`~orchestration.column_lineage.
    #: ends_by_column`); None: not followed, and the Columns table shows one step only.
    column_ends: Mapping[str, ChainEnds] | None = None
    #: What uses each column downstream (:func:`~orchestration.column_impact.
    #: uses_by_column`); None: not followed, and the page has no *Used downstream*.
    column_uses: Mapping[str, Uses] | None = None
    sql: str | None = None
    #: What the table would hold had this attempt published, as one SELECT
    #: (:meth:`IOManager.unpublished_select`), when its checks stopped the publish: their
    #: rows are in no table, and its failed checks' commands read this instead. None: the
    #: checks read the table as it is, or the rows are kept nowhere (a Python asset's).
    unpublished: str | None = None
    #: The options ``pipeline query`` needs to run a read (:meth:`IOManager.
    #: read_only_options` of the run's storage): the checks' commands carry them.
    query_options: Callable[[str], tuple[str, ...]] = lambda sql: ()
    #: None: the asset's storage keeps no history (or it could not be read): no History.
    earlier: EarlierAttempts | None = None
    #: The versions of its direct upstream the attempt read (:class:`UpstreamRead`); None:
    #: it read none (it was skipped), or their storage keeps no history.
    reads: Sequence[UpstreamRead] | None = None

    @property
    def key(self) -> str:
        return asset_page_key(self.spec.key)

    def description(self) -> str:
        """The version's one line in Prefect's artifact lists and atop the key's version
        list, under the key as a title; cards cut it at ~45 characters: the status first,
        then the rows the run left in the table, when it counted them, and the warehouse
        as the page shows it. Prefect keeps the versions of every warehouse under the one
        key (links depend on it), so the list interleaves them: each line says whose it is.
        """
        outcome = self.materialization.outcome
        rows = f", {rows_phrase(outcome.rows)}" if outcome.rows is not None else ""
        warehouse = shown_warehouse(self.materialization.warehouse)
        where = f" in {warehouse}" if warehouse else ""
        return f"{outcome.status}{rows}: {self.spec.table}{where}"

    def markdown(self, links: PageLinks, next_line: str | None = None) -> str:
        """The page, linking its neighbours' pages at ``links``; ``next_line``: the step
        its run says to take next (the terminal's ``Next:`` line, as written), which the
        page of an attempt that failed says under its error. The run knows it at its end,
        and rewrites its pages then (:meth:`RunReview.finish`)."""
        lines = [f"# {self.spec.key}", "", *self._outcome_first(links, next_line)]
        lines += [self._version_line(links), ""]
        if self.spec.description:
            lines += [" ".join(markdown_text(self.spec.description).splitlines()), ""]
        lines += self._about()
        lines += self._this_run(links)
        lines += self._checks()
        lines += self._columns(links)
        lines += self._used_downstream(links)
        lines += self._lineage(links)
        lines += self._history()
        lines += self._body()
        history = artifact_key_path(self.key)
        lines += ["", f"[Every materialization of {self.spec.key}]({history}) (newest first)", ""]
        return "\n".join(lines)

    def _outcome_first(self, links: PageLinks, next_line: str | None) -> list[str]:
        """Under the title of an attempt that did not materialize: its status and why,
        the error as the run's line says it (the one place it is shown: the state row
        and the checks refer to it), then, if it failed its checks, each failed check
        edited since the asset last passed (the likeliest cause), that the table holds
        its rows (published first: a reader of the warehouse sees them, as the run's
        lineage page says), each other asset's table its failed checks read and what the
        run did to it; when the line leaves a part of the error out, the error in full
        behind a click (:func:`collapsed`); and the step to take next. A reader opens a
        failed asset's page for the reason, which came below a screen of table facts."""
        o = self.materialization.outcome
        if o.status == "materialized":
            return []
        if o.status == "skipped":
            return [f"**Skipped:** {skip_reason(o, links)}", ""]
        label = f"**{o.status.capitalize()}:**"
        said = error_blocks(self._failure_said())
        if said and not said[0].startswith("`"):  # a paragraph: the label opens it
            said[0] = f"{label} {said[0]}"
        else:
            said = [label, "", *said]
        published = [checked_table_line(o.result)] if o.published_then_failed and o.result else []
        edited = [edited_check_line(edited) for edited in o.edited_checks]
        reads = [*edited, *published, *checked_read_lines(o.checked_reads, links)]
        if reads and not said[-2].startswith("`"):  # the error's last paragraph goes on
            said[-2] = "\\\n".join([said[-2], *reads])
        elif reads:
            said += ["\\\n".join(reads), ""]
        full = collapsed(WHOLE_ERROR, error_blocks(o.full_error)) if o.full_error else []
        return [*said, *full, *([next_line, ""] if next_line else [])]

    def _failure_said(self) -> str:
        """The error as the page says it under its title: the run's line; for an attempt
        that failed its checks, which checks and how many rows each found, without the
        example row of each the line gives (~11 lines of UUIDs for four checks, which
        the Checks table shows again) nor the asset and table the page is about."""
        o = self.materialization.outcome
        failing = [check for check in o.checks if check.blocking]
        if not (o.failed_its_checks and failing):
            return o.error or "no error recorded"
        said = f"{failures_in_brief(failing)}."
        if o.checks_stopped_its_publish:
            said += " Nothing was published."
        if any(check.status == "failed" for check in failing):
            said += " The Checks table below shows an example row of each" + (
                "." if o.checks_stopped_its_publish else ", and the command that lists them all."
            )
        return said

    def _version_line(self, links: PageLinks) -> str:
        """Whose version this is, the way back to its run's lineage, that what the page
        says is as of that run, and where the newer versions are: a reader may land here
        from an older run's Artifacts tab, lineage page or a bookmark, after later runs
        wrote newer pages, and an old version looked like the newest (its ``state after
        this run: fresh`` read as the state now, after a later run failed the asset).

        The page cannot know whether it is the newest (a later run does not rewrite it),
        so it says where to look: Prefect's list of the key's versions, under a heading
        that is the newest version's description (its outcome). The list itself shows
        each version's id and run name only."""
        finished = self.materialization.finished
        lineage = f" ([its lineage]({artifact_path(links.lineage)}))" if links.lineage else ""
        return (
            f"{_VERSION_LINE}{self._run_link()} at {utc_time(finished)}{lineage}; what it "
            f"says is as of then. **Newer versions:** [all versions of {self.key}]"
            f"({artifact_key_path(self.key)}), newest first."
        )

    def _run_link(self) -> str:
        return run_link(self.materialization.run_name, self.materialization.flow_run_id)

    def _run_cell(self) -> str:
        return run_cell(self.materialization.run_name, self.materialization.flow_run_id)

    def _about(self) -> list[str]:
        spec = self.spec
        warehouse = shown_warehouse(self.materialization.warehouse)
        facts = {
            "table": f"`{spec.table}`",
            # A pipe ends a table cell even inside a code span (GFM), which shows it as "|".
            **({"warehouse": "`" + warehouse.replace("|", "\\|") + "`"} if warehouse else {}),
            "group": cell(spec.group),
            "kind": "SQL asset" if spec.kind == "sql" else "Python asset",
            "write mode": cell(_WRITE_MODES.get(spec.write_mode, spec.write_mode)),
            "owners": cell(", ".join(spec.owners)),
            "tags": cell(", ".join(f"{k}={v}" if v else k for k, v in spec.tags.items())),
            "schema": cell(getattr(spec.schema, "__name__", None) or "-"),
            **self._state(),
        }
        return [_ABOUT_HEADER, "|---|---|", *(f"| {k} | {v} |" for k, v in facts.items()), ""]

    def _state(self) -> dict[str, str]:
        """Code version and state after the run, once the run has settled them. Named as
        its run's: the page stays as written, while its table's state moves on (its code
        is edited, its upstream rebuilt); a later run that knows restates it."""
        outcome = self.materialization.outcome
        facts = {}
        if outcome.code_version:
            facts["code version"] = f"`{cell(outcome.code_version)}`"
        if outcome.state:
            notes = failed_checks_notes(
                outcome.upstream_failed_checks, outcome.built_from_failed_checks
            )
            facts[_STATE_AS_WRITTEN] = state_cell(outcome.state, [*self._reasons(), *notes])
        return facts

    def _reasons(self) -> list[str]:
        """The state's reasons as the state row says them, a failure's error referred to
        (:meth:`_without_own_error`), the upstream materialized since its last success
        last: a reader of a failed page looks for the failure, and it came after the
        eleven upstream the run rebuilt before the asset failed, five lines of them. Those
        the run rebuilt, if many, are counted (:func:`upstream_since`), as this attempt's
        reads tell (none told: each named)."""
        outcome = self.materialization.outcome
        rebuilt = {read.key for read in self.reads or () if read.this_run}
        ordering = self.graph.upstream_of(self.spec.key).ordering
        said = []
        for reason in sorted(outcome.reasons, key=lambda r: r.kind == "upstream_materialized"):
            if reason.kind == "upstream_materialized" and reason.upstream:
                said.append(upstream_since(reason.upstream, ordering, rebuilt))
            else:
                said.append(self._without_own_error(reason))
        return said

    def _without_own_error(self, reason: Reason) -> str:
        """``reason``, less the error it quotes when that is this attempt's, shown under
        the title: ``last run failed ...: see the error under the title``."""
        status = self.materialization.outcome.status
        if status in ("materialized", "skipped") or reason.kind != "last_run_failed":
            return reason.detail
        head, colon, _ = reason.detail.partition(": ")
        return f"{head}: {_ERROR_ABOVE}" if colon else reason.detail

    def _this_run(self, links: PageLinks) -> list[str]:
        """This run's attempt; if it failed, was skipped or cancelled, the table's last
        success too, which a reviewer of a failed run looks for first; if skipped, first
        why, linking the failed upstream's page of this run."""
        m = self.materialization
        o = m.outcome
        run = self._run_cell()
        # A failure that published nothing left the table as it was: "-" read as empty.
        unknown = "unchanged" if o.status != "materialized" else "-"
        held = o.rows if o.rows is not None else o.kept_rows
        rows = f"{held:,}" if held is not None else unknown
        inserted = f"{m.rows_inserted:,}" if m.rows_inserted is not None else "-"
        seconds = "-" if o.status == "skipped" else f"{o.seconds:.2f}"  # it did not run
        lines = [
            f"## This run: {o.status}",
            "",
            "| run | finished (UTC) | rows in table | rows inserted | seconds | status |",
            "|---|---|--:|--:|--:|---|",
            f"| {run} | {shown_time(m.finished)} | {rows} | {inserted} | {seconds} | {o.status} |",
            "",
        ]
        if m.source is not None and o.status != "skipped":  # a skipped asset read nothing
            lines += [source_line(m.source, o.result, self.spec.write_mode), ""]
        if o.status == "skipped":
            lines += [skipped_line(o, links), ""]
        if o.published_then_failed and o.state is not None:  # what it holds: under the title
            lines += [last_success_line(o.last_success, superseded=True), ""]
        elif o.status != "materialized" and o.state is not None:  # settled: the history told
            lines += [table_since_line(o), ""]
        return lines

    def _checks(self) -> list[str]:
        checks = self.materialization.outcome.checks
        if not checks and not self.spec.checks:  # said, so nobody wonders where they went
            return ["## Checks", "", f"No asset checks are declared for {self.spec.key}.", ""]
        if not checks:
            return []
        # What a check guards, as its declaration says, if any says: else no empty column.
        described = any(c.description for c in checks)
        lines = [
            "## Checks",
            "",
            f"| check | {'description | ' if described else ''}severity | status | violations "
            "| example / error |",
            f"|---|{'---|' if described else ''}---|---|--:|---|",
        ]
        for c in checks:
            # The description and the error or example row are the user's words and data,
            # shown as written: an error quotes identifiers in backticks.
            about = [literal_cell(c.description or "")] if described else []
            outcome = [cell(c.severity), cell(c.status), cell(_violations(c))]
            name = f'<a id="{check_anchor(c.name)}"></a>{cell(c.name)}'
            cells = [name, *about, *outcome, self._detail(c)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for c in checks:
            lines += self._check_query(c)
        return lines

    def _detail(self, check: AssetCheckResult) -> str:
        """A check's last cell: an example of its rows, or why it could not run, unless
        that is in the error under the title, which is shown once."""
        if check.error and check.error in self._failure_said():
            return f"could not run: {_ERROR_ABOVE}"
        return literal_cell(_example_or_error(check))

    def _check_query(self, check: AssetCheckResult) -> list[str]:
        """For a check that found rows, or could not run, its SQL as the command that runs
        it (:func:`check_query`): the page names a few of its rows, this lists them all
        (or shows the SQL to fix). When the checks stopped the publish, the rows are in
        no table: the command reads what the table would have held (:attr:`unpublished`),
        or, kept nowhere, the page says so and how to compute them again."""
        if check.status not in ("failed", "warning", "error"):
            return []
        declared = next((c for c in self.spec.checks if c.name == check.name), None)
        if declared is None:
            return []
        name = check.name.replace("`", "'")
        found = f" ({check.violations:,})" if check.violations is not None else ""
        relation = self.spec.table
        if check.status == "error":
            said = f"Check `{name}` could not run; its SQL, as this command runs it"
        elif not self.materialization.outcome.checks_stopped_its_publish:
            said = f"Check `{name}` selects the rows it found{found}; this command lists them"
        elif self.unpublished is not None:
            relation = f"(\n{self.unpublished.strip()}\n)"
            said = (
                f"Check `{name}` found its rows{found} in what this run would have "
                "published, which were not published. This command runs it on the rows "
                "this run would have published (its SELECT run again, on the tables as "
                "they are now) and lists them"
            )
        else:
            said = f"Check `{name}` found its rows{found} in this run's, {self._kept_nowhere()}"
        select = declared.sql.strip().replace("{table}", relation)
        options = self.query_options(select)
        if options:
            said += (
                f", with `{' '.join(options)}`: its SQL sets ClickHouse settings, which "
                "`pipeline query` refuses without it (writes stay refused)"
            )
        command = check_query(select, options)
        # Folded as the asset's own SQL is: fact_sales's reconciling check took 4.5 windows.
        summary = f"pipeline query … ({counted(len(command.splitlines()), 'line')})"
        return [f"{said}:", "", *collapsed(summary, fenced(command, "sh"))]

    def _kept_nowhere(self) -> str:
        """The end of the sentence over a stopped check's command when the rows it found
        are in no table and no SELECT gives them again."""
        where = python_location(self.spec) if self.spec.kind == "python" else None
        again = (
            f" (a Python asset's rows live only in its run; calling `{where}` computes them again)"
            if where
            else ""
        )
        return (
            f"which were not published and are kept nowhere{again}. This command runs it "
            "on the table as it is, the rows last published, not these"
        )

    def _history(self) -> list[str]:
        """The asset's last attempts, this version's first and marked, under what changed
        since the previous one. Prefect lists a page's versions by id and run name alone
        (``fact_sales+`` three times): they told apart by time only, a failed one from the
        good ones not at all."""
        if self.earlier is None:
            return []
        m, earlier = self.materialization, self.earlier
        o = m.outcome
        this = [
            self._run_cell(),
            shown_time(m.finished),
            _status_cell(outcome_status(o)),
            _rows_cell(o.rows, o.status),
            _version_cell(o.code_version),
        ]
        lines = [
            "## History",
            "",
            self._since_previous(),
            "",
            "| run | ended (UTC) | status | rows in table | code version |",
            "|---|---|---|--:|---|",
            f"| **{this[0]}** (this version) | " + " | ".join(f"**{c}**" for c in this[1:]) + " |",
        ]
        lines += [_history_row(r, earlier.run_names) for r in earlier.records]
        return [*lines, ""]

    def _since_previous(self) -> str:
        """What changed since the asset's previous attempt (a skip changed nothing): its
        code, the rows in its table and, as far as the history tells, its checks (it
        records whether an attempt failed its error-severity checks, not each check's
        result)."""
        records = self.earlier.records if self.earlier else ()
        previous = next((r for r in records if r.status != "skipped"), None)
        if previous is None:
            none = "none in the runs below" if records else "none, the first in this warehouse"
            return f"Since the previous materialization: {none}."
        outcome = self.materialization.outcome
        changes = [
            _code_change(previous.code_version, outcome.code_version),
            _rows_change(outcome, records),
            _checks_change(previous, outcome),
        ]
        at = previous.ended or previous.started
        return (
            f"Since the previous materialization ({utc_time(at)}, "
            f"{record_status(previous)}): {'; '.join(c for c in changes if c)}."
        )

    def _lineage(self, links: PageLinks) -> list[str]:
        up, down = distances(self.graph, self.spec.key)
        marks = self._marks(up, down)
        diagrams = focused_diagrams(self.graph, self.spec.key, links.href)
        line, legend = self._lineage_guide(up, down, set(marks.values()), len(diagrams))
        lines = ["## Lineage", "", " ".join([line, *legend]) if len(legend) == 1 else line]
        if len(legend) > 1:  # a sentence is shorter than its fold
            lines += ["", *collapsed(LEGEND, [" ".join(legend)])]
        for diagram in diagrams:
            lines += ["", *fenced(diagram, "mermaid")]
        lines += [
            "",
            "| direction | steps | assets (each links to its page) |",
            "|---|--:|---|",
        ]
        for direction, steps in (("upstream", up), ("downstream", down)):
            for n in sorted(set(steps.values())):
                at = self.graph.topological(k for k, d in steps.items() if d == n)
                named = ", ".join(
                    links.link(s.key) + (f" ({marks[s.key]})" if s.key in marks else "") for s in at
                )
                lines.append(f"| {direction} | {n} | {named} |")
        if not up and not down:
            lines.append("| - | - | no upstream or downstream assets |")
        return [*lines, "", *self._versions_read(links, marks)]

    def _versions_read(self, links: PageLinks, marks: Mapping[str, str]) -> list[str]:
        """Which version of each direct upstream the attempt read, one line each: the
        table an asset is built from changes run after run, and which of its versions
        this one read is what its record keeps. An order-only dep gives it no rows: left
        out; one its checks read is marked as the list above marks it."""
        upstream = self.graph.upstream_of(self.spec.key)
        listed = {*upstream.reads, *upstream.checked}
        shown = [read for read in self.reads or () if read.key in listed]
        if not shown:
            return []
        this_run = [read for read in shown if read.this_run]
        items = []
        if len(this_run) >= _THIS_RUNS_TOGETHER:  # eleven lines of "X: this run" were one fact
            every = "all " if len(this_run) == len(shown) else ""
            names = ", ".join(self._read_name(read, links) for read in this_run)
            items.append(f"- this run's, of {every}{len(this_run)}: {names}")
        items += [
            f"- {self._read_name(read, links)}"
            + (f" ({marks[read.key]})" if read.key in marks else "")
            + f": {_read_version(read)}"
            for read in shown
            if not (read.this_run and len(this_run) >= _THIS_RUNS_TOGETHER)
        ]
        return [VERSIONS_READ, "", *items, ""]

    @staticmethod
    def _read_name(read: UpstreamRead, links: PageLinks) -> str:
        """The upstream's name, linking the page of the version read if known: as an
        address no relink moves (:func:`artifact_version_path`)."""
        if read.this_run and read.key in links.versions:
            return f"[{read.key}]({artifact_version_path(links.versions[read.key])})"
        if read.page is not None:
            return f"[{read.key}]({artifact_version_path(read.page)})"
        return read.key

    def _marks(self, up: Mapping[str, int], down: Mapping[str, int]) -> dict[str, str]:
        """The mark of each neighbour no chain of reads joins to this asset: *checked
        against* for a table this asset's checks read, *checks this* for an asset whose
        checks read this table (a check can fail on that table's rows), else *order only*
        (one runs after the other, and no rows flow between them)."""
        key, graph = self.spec.key, self.graph
        read_up, read_down = through_reads(graph, key)
        marks = dict.fromkeys((up.keys() - read_up) | (down.keys() - read_down), ORDER_ONLY)
        for other in marks:
            if up.get(other) == 1 and checks_read(graph, other, key):
                marks[other] = CHECKED_AGAINST
            elif down.get(other) == 1 and checks_read(graph, key, other):
                marks[other] = CHECKS_THIS
        return marks

    def _lineage_guide(
        self, up: Mapping[str, int], down: Mapping[str, int], marks: set[str], diagrams: int
    ) -> tuple[str, list[str]]:
        """How to read the diagrams and the list under them: a line of what they show,
        then the legend's sentences, each of their marks explained only if this page shows
        it (a page of two assets and one arrow that explained *order* arrows, dashed boxes
        and *order only* sent its reader looking for them). The page folds the legend
        (:data:`LEGEND`): said on every page, it pushed the diagrams down by eleven lines."""
        key = self.spec.key
        sides = [
            *([f"left: what {key} reads directly"] if 1 in up.values() else []),
            *([f"right: what reads {key} directly"] if 1 in down.values() else []),
        ]
        line = [f"{len(up)} upstream and {len(down)} downstream assets."]
        if sides:
            line.append("; ".join(sides).capitalize() + ". A click on a box opens its page.")
        said = []
        if diagrams > 1:
            said.append(_cut_diagram(up, down, diagrams))
        drawn = order_lines(self.graph, key)
        lines = [meaning for line, meaning in _LINE_MEANINGS.items() if line in drawn]
        if lines:
            said.append(
                "; ".join([*lines, "an arrow joins a table to an asset that reads it"]) + "."
            )
        if any(steps > 1 for steps in [*up.values(), *down.values()]):
            said.append("A dashed box counts the assets further away, listed below by steps.")
        said += [meaning for mark, meaning in _MARK_MEANINGS.items() if mark in marks]
        if ORDER_ONLY in marks:
            via = (
                "such lines"
                if drawn
                else "an asset that runs after one it does not read (e.g. one its checks read)"
            )
            said.append(
                f"*order only* marks an asset joined to this one only through {via}: no rows "
                "flow between them, but one runs after the other (a failed error-severity "
                "check skips what runs after it)."
            )
        return " ".join(line), said

    def _columns(self, links: PageLinks) -> list[str]:
        if not self.columns:
            return []
        if self.column_sources is None:  # one note for every column: said once
            return ["## Columns", "", self._column_note(), "", *self._names_and_types()]
        header = ["| column | type | computed from |", "|---|---|---|"]
        ends = self.column_ends is not None
        guide = []
        if ends and self._ends_one_step_up():
            guide, ends = [_ENDS_ONE_STEP_UP], False
        elif ends:  # the chain's ends: a column more, and what the last two say
            guide, header = [_COLUMNS_GUIDE], [f"{header[0]} {_ENDS} |", f"{header[1]}---|"]
        if any(self.column_sources.values()):  # a column of another asset: a link to it
            guide.append(COLUMN_LINKS)
        lines = ["## Columns", "", *([" ".join(guide), ""] if guide else []), *header]
        for name, kind in self.columns:
            chain = f" {self._ends_of(name, links)} |" if ends else ""
            lines.append(
                f"| {cell(name)} | {cell(kind)} | {self._sources_of(name, links)} |{chain}"
            )
        return [*lines, ""]

    def _column_note(self) -> str:
        """Why no column's upstream columns are known, for all of them: the raw page said
        "not derived: a Python asset that loads a source" in each of its ten rows."""
        head, _, why = self.column_note.partition(": ")
        return f"*computed from*: {cell(head)} for any column{f' ({cell(why)})' if why else ''}."

    def _names_and_types(self) -> list[str]:
        rows = [f"| {cell(name)} | {cell(kind)} |" for name, kind in self.columns]
        return ["| column | type |", "|---|---|", *rows, ""]

    def _ends_one_step_up(self) -> bool:
        """Whether the upstream columns of each column are its raw source columns (the
        PSA's page): a column of those would repeat the one before it, link for link."""
        sources, ends = self.column_sources or {}, self.column_ends or {}
        return any(e.sources for e in ends.values()) and all(
            not e.untraced and {leaf.column for leaf in e.sources} == set(sources.get(name, ()))
            for name, e in ends.items()
        )

    def _sources_of(self, column: str, links: PageLinks) -> str:
        """The upstream columns as a cell, each linking to the page of the asset holding
        it: that page's Columns section carries the chain one step further."""
        if self.column_sources is None:
            return cell(self.column_note)
        if column not in self.column_sources:
            return cell(NOT_DERIVED)
        found = self.column_sources[column]
        if not found:
            return cell(f"no upstream column ({_COMPUTED})")
        return ", ".join(self._linked(source, _table_of(source), links) for source in found)

    def _ends_of(self, column: str, links: PageLinks) -> str:
        """Where the column's whole chain ends, as a cell: its raw columns by table, the
        table linking to its page; then each column the chain stops at, and why."""
        ends = (self.column_ends or {}).get(column)
        if ends is None:
            return cell(NOT_DERIVED)
        said = []
        for table, read in groupby(ends.sources, key=lambda leaf: _table_of(leaf.column)):
            names = ", ".join(cell(leaf.column.rpartition(".")[2]) for leaf in read)
            said.append(f"{self._linked(table, table, links)}: {names}")
        for stop in ends.untraced:
            where = self._linked(stop.column, _table_of(stop.column), links)
            said.append(f"unknown past {where} ({cell(stop.note)})")
        return "; ".join(said) or cell(f"none ({_COMPUTED})")

    def _used_downstream(self, links: PageLinks) -> list[str]:
        """What uses each column downstream, in a table of its own (the Columns table is
        full at the page's width): a row per used column, its uses nearest first, the
        first :data:`USES_SHOWN` of each kind by name, behind a click (it took four of
        the raw page's six windows); then, in a line, the columns nothing downstream
        reads."""
        if self.column_uses is None or not self.columns:
            return []
        used = {name: u for name, _ in self.columns if (u := self.column_uses.get(name))}
        unused = [name for name, _ in self.columns if name not in used]
        if not used:
            return [
                "## Used downstream",
                "",
                f"Nothing downstream reads a column of {self.spec.key}.",
                "",
            ]
        share = "its" if not unused else f"{len(used)} of its"
        table = [
            self._uses_guide(used.values()),
            "",
            "| column | used by |",
            "|---|---|",
            *(f"| {cell(name)} | {self._uses_cell(u, links)} |" for name, u in used.items()),
        ]
        summary = f"What uses {share} {counted(len(self.columns), 'column')} downstream"
        lines = ["## Used downstream", "", *collapsed(summary, table)]
        if unused:
            lines += [f"Nothing downstream reads {', '.join(cell(name) for name in unused)}.", ""]
        return lines

    def _uses_guide(self, uses: Iterable[Uses]) -> str:
        """What the table says, its *maybe* explained only if a row says it."""
        command = f"`pipeline lineage --column {self.spec.table}.<column> --downstream`"
        said = [
            "What a change to each column would reach: the columns computed from it, and "
            "from those, nearest first, each linking to its asset's page (opened at its top: "
            "the column is a row of its *Columns* table, a check of its *Checks* table); the "
            "SQL that reads it without computing a column (a filter, a join); the checks that "
            f"read it or those columns. {command} prints the whole tree."
        ]
        if any(u.untraced for u in uses):
            said.append(
                f"*{_MAYBE}*: an asset reads the table, but which of its columns is not "
                "known (its column lineage is not derived)."
            )
        return " ".join(said)

    def _uses_cell(self, uses: Uses, links: PageLinks) -> str:
        """One column's uses, each kind capped at :data:`USES_SHOWN` names, the rest a
        click away (:func:`_capped`)."""
        said: list[str] = []
        if uses.columns:
            said.append(_capped([self._linked(c, _table_of(c), links) for c, _ in uses.columns]))
        if uses.read_by:
            readers = _capped([links.link(key) for key in uses.read_by])
            said.append(f"read by the SQL of {readers} (not into a column)")
        if uses.checks:
            checks = [self._check_link(check, links) for check in uses.checks]
            said.append(f"read by check {_capped(checks)}")
        if uses.untraced:
            maybe = dict.fromkeys(u.asset for u in uses.untraced)
            said.append(f"{_MAYBE} {_capped([links.link(key) for key in maybe])}")
        return _joined_uses(said)

    def _check_link(self, check: CheckRef, links: PageLinks) -> str:
        """A check that reads a column, linking its asset's page; a check of this page's
        asset, its row of the Checks table above (the UI follows an anchor of the page it
        shows: a link to the page's own version reloaded it at its top), or, not run by
        this attempt (it has no row), said so."""
        name = cell(str(check))
        if check.asset != self.spec.key:
            return f"[{name}]({links.href(check.asset)})"
        if any(result.name == check.check for result in self.materialization.outcome.checks):
            return f"[{name}](#{check_anchor(check.check)})"
        return f"{name} (not run by this attempt)"

    def _linked(self, text: str, table: str, links: PageLinks) -> str:
        """``text`` linking to the page of the asset writing ``table``; as it is if no
        asset of the graph does, or this one (a column of its own earlier rows)."""
        owner = self._owners.get(table.lower())
        if owner is None or owner == self.spec.key:
            return cell(text)
        return f"[{cell(text)}]({links.href(owner)})"

    @cached_property
    def _owners(self) -> dict[str, str]:
        """The asset writing each table of the graph, by the table's name in lower case."""
        return {spec.table.lower(): spec.key for spec in self.graph}

    def _body(self) -> list[str]:
        """The SQL, behind a click saying how long it is (fact_sales's took a window), or
        the Python function."""
        if self.sql is not None:
            sql = self.sql.strip()
            lines = counted(len(sql.splitlines()), "line")
            summary = f"The SELECT that builds {self.spec.table} ({lines})"
            return ["## SQL", "", *collapsed(summary, fenced(sql, "sql"))]
        where = python_location(self.spec)
        return ["## Python", "", f"Computed by `{where}`.", ""] if where else []


def check_anchor(check: str) -> str:
    """The id of a check's row in a page's Checks table, which a link on the page opens:
    its name, any character an id or a URL's fragment could not hold as it is a ``-``."""
    return "check-" + re.sub(r"[^A-Za-z0-9_-]", "-", check)


def collapsed(summary: str, block: Sequence[str]) -> list[str]:
    """``block`` (markdown lines) closed behind ``summary``, which a click opens: a
    ``<details>`` the UI renders with the markdown inside it, which the blank lines around
    it let a CommonMark renderer read as markdown. ``summary`` is shown as written (HTML-
    escaped: a line of the HTML block, where no markdown, a code span neither, is read)."""
    shown = html.escape(" ".join(summary.split()), quote=False)
    return ["<details>", f"<summary>{shown}</summary>", "", *block, "", "</details>", ""]


def shown_time(at: datetime) -> str:
    """A time as pages show it (in UTC, as the runs record it): its date and clock kept
    on one line (a build time in a narrow column wrapped between them, and its date at
    each hyphen)."""
    date = _DATE_HYPHEN.join((f"{at:%Y}", f"{at:%m}", f"{at:%d}"))
    return f"{date}{_NO_BREAK}{at:%H:%M:%S}"


def utc_time(at: datetime) -> str:
    """:func:`shown_time` in a sentence, where no column heading says ``UTC``."""
    return f"{shown_time(at)}{_NO_BREAK}UTC"


def _read_version(read: UpstreamRead) -> str:
    """The version an attempt read, after its name: this run's, or when an earlier run
    built it, which run (linked), whether its checks then failed (its rows were published
    all the same), and where its page is if the run did not find it."""
    if read.this_run:
        return "this run"
    built = read.built
    if built is None:
        return "no recorded build (read as it was)"
    said = f"built {utc_time(built.ended or built.started)}"
    if built.run_id:
        said += f" by run {run_link(read.run_name or built.run_id[:8], built.run_id)}"
    if built.failed_its_checks:
        said += ", then its checks failed"
    if read.page is None and built.run_id:
        said += f" ({_PAGE_NOT_LOOKED_UP})"
    return said


def _cut_diagram(up: Mapping[str, int], down: Mapping[str, int], diagrams: int) -> str:
    """Why a page draws its neighbours in several diagrams: which side is too long."""
    long = [
        f"{n} direct {side}"
        for side, steps in (("upstream", up), ("downstream", down))
        if (n := list(steps.values()).count(1)) > focus_limit(len(steps) - n)
    ]
    return (
        f"Its {' and '.join(long)} assets take {diagrams} diagrams, at most {FOCUS_COLUMN} "
        "to a column with the count of those further away, so that each fits the window."
    )


def source_line(source: ChosenSource, result: MaterializeResult | None, write_mode: str) -> str:
    """What an ingest asset read this run: the source, the setting that chose it (a run
    given no source reads the default, and its page said nothing of it), and the rows
    read from it, when known: those the run staged, all of which a table it replaces
    holds."""
    rows = _rows_read(result, write_mode)
    read = f"; {rows:,} rows read" if rows is not None else ""
    return f"Source: {source_named(source)}{read}."


def source_named(source: ChosenSource) -> str:
    """A source as a ``Source:`` line names it: in a code span (a URL's secrets as the
    ``Next:`` command's placeholders), then the setting that chose it."""
    if source.chosen_by == "":
        chosen = "the default: this run named no source"
    elif parameter := parameter_for(source.chosen_by):
        chosen = f"given by the `{parameter}` parameter"
    elif source.chosen_by.startswith("-"):
        chosen = f"given by `{source.chosen_by}`"
    else:
        chosen = f"from `${source.chosen_by}`"
    return f"`{_code_span_text(source.shown)}` ({chosen})"


def _rows_read(result: MaterializeResult | None, write_mode: str) -> int | None:
    """The rows an asset's body gave: staged (as its storage says), else, for a table it
    replaces, the rows the table holds; None if not known."""
    if result is None:
        return None
    staged = result.metadata.get(STAGED_ROWS)
    if isinstance(staged, int):
        return staged
    return result.rows if write_mode == "replace" else None


def _capped(names: Sequence[str]) -> str:
    """The first :data:`USES_SHOWN` of ``names``, then the others behind ``and N more``: a
    ``<details>``, which the UI renders in a table cell and opens on a click (the page
    said how many more, and nothing in the UI listed them)."""
    shown = ", ".join(names[:USES_SHOWN])
    if len(names) <= USES_SHOWN:
        return shown
    more = f"<summary>and {len(names) - USES_SHOWN} more</summary>{', '.join(names[USES_SHOWN:])}"
    return f"{shown} <details>{more}</details>"


def _joined_uses(said: Sequence[str]) -> str:
    """The kinds of a column's uses in one cell, ``; `` between them; none after a
    collapsed list, which the UI draws as a block of its own: the next kind starts on
    the line under it."""
    joined = ""
    for part in said:
        joined += "" if not joined or joined.endswith("</details>") else "; "
        joined += part
    return joined


def check_query(select: str, options: Sequence[str] = ()) -> str:
    """The ``pipeline query`` that runs ``select`` (a check's SQL, its ``{table}`` filled
    in) with ``options``, for a shell: the SQL as written, on its own lines (a
    here-document, which no quote or ``$`` in it can end), the options that say where the
    run ran after it."""
    end = "SQL"
    while end in select.splitlines():
        end += "_END"
    return carried(" ".join([f"pipeline query \"$(cat <<'{end}'\n{select}\n{end}\n)\"", *options]))


def _table_of(column: str) -> str:
    """``database.Table`` of a ``database.Table.column``."""
    return column.rpartition(".")[0]


def run_link(name: str, flow_run_id: str | None) -> str:
    """A flow run as pages name it, linking it: after its selection (``key:hub_* or
    sinks(*)``), markdown's emphasis stars and link brackets escaped, so it reads as
    typed (an underscore inside a word is no emphasis)."""
    shown = cell(name)
    for char in "\\*[]":
        shown = shown.replace(char, f"\\{char}")
    return f"[{shown}]({flow_run_path(flow_run_id)})" if flow_run_id else shown


def run_cell(name: str, flow_run_id: str | None) -> str:
    """A flow run in a table's run cell: as :func:`run_link` names it, cut after a word
    to at most :data:`RUN_CELL_CHARS` characters (``dim_customer or dim_product …``),
    with its whole name as the link's title, which the browser shows on hover; the run
    it opens is named in full too. A run the page cannot link is named whole."""
    if len(name) <= RUN_CELL_CHARS or not flow_run_id:
        return run_link(name, flow_run_id)
    shown = ""
    for word in name.split():
        if len(f"{shown} {word}".strip()) > RUN_CELL_CHARS - 2:
            break
        shown = f"{shown} {word}".strip()
    # No whole word fits (its first is longer than the cell): cut inside the first.
    shown = f"{shown} …" if shown else f"{name[: RUN_CELL_CHARS - 1]}…"
    link = run_link(shown, flow_run_id)
    return f'{link[:-1]} "{_link_title(name)}")'


def _link_title(text: str) -> str:
    """``text`` as a markdown link's title, in a table cell: on one line, its backslashes
    and quotes escaped (a title reads backslash escapes), HTML-escaped and its pipes
    escaped as :func:`cell` does."""
    escaped = " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')
    return cell(escaped)


def outcome_status(outcome: AssetOutcome) -> str:
    """This run's attempt in a History row: its status, or ``failed its checks`` for the
    one failure that published its rows."""
    return "failed its checks" if outcome.published_then_failed else outcome.status


def record_status(record: MaterializationRecord) -> str:
    """An earlier attempt in a History row: as :func:`outcome_status` words it, or ``did
    not finish`` for one that recorded no outcome (its process was killed)."""
    if record.failed_its_checks:
        return "failed its checks"
    return "did not finish" if record.status == "started" else record.status


def _history_row(record: MaterializationRecord, run_names: Mapping[str, str]) -> str:
    """One earlier record: its run, named (or by the start of its id), when it ended (or
    began, if it never did), how, the rows its table held after it and its code."""
    run = "-"
    if record.run_id:
        run = run_cell(run_names.get(record.run_id) or record.run_id[:8], record.run_id)
    at = record.ended or record.started
    rows = _rows_cell(record.rows, record.status)
    status, version = _status_cell(record_status(record)), _version_cell(record.code_version)
    return f"| {run} | {shown_time(at)} | {status} | {rows} | {version} |"


def _status_cell(status: str) -> str:
    """A History row's status, a failure marked: in a column of ``materialized``, a
    ``failed its checks`` read like the rest."""
    return f"✗ {status}" if status.startswith("failed") else status


def _rows_cell(rows: int | None, status: str) -> str:
    """Rows a run left in the table; ``unchanged`` for one that published none (a failure
    before publishing, a skip), ``-`` when not known (it did not finish)."""
    if rows is not None:
        return f"{rows:,}"
    return "unchanged" if status in ("failed", "skipped") else "-"


def _version_cell(version: str | None) -> str:
    return f"`{cell(version[:SHORT_VERSION])}`" if version else "-"


def _code_change(before: str, now: str | None) -> str | None:
    if not now or not before:
        return None
    if now == before:
        return "code version unchanged"
    return f"code version changed ({_version_cell(before)} → {_version_cell(now)})"


def _rows_change(outcome: AssetOutcome, earlier: Sequence[MaterializationRecord]) -> str:
    """The rows this attempt left against those the table held before it: the newest
    earlier attempt that published (a failure before publishing left the table as it
    was)."""
    if outcome.rows is None:
        return "table left as it was"
    before = next((r.rows for r in earlier if r.rows is not None), None)
    if before is None:
        return f"{rows_phrase(outcome.rows)}, none recorded before"
    if before == outcome.rows:
        return f"rows unchanged ({outcome.rows:,})"
    return f"rows {before:,} → {outcome.rows:,} ({outcome.rows - before:+,})"


def _checks_change(previous: MaterializationRecord, outcome: AssetOutcome) -> str | None:
    """The error-severity checks that turned, as far as the history tells: a success
    passed all of them; an attempt that failed its checks failed some, which its own
    results name (the previous one's are not recorded)."""
    if previous.failed_its_checks and outcome.status == "materialized":
        return "error-severity checks failed then, all pass now"
    if previous.status == "materialized" and outcome.failed_its_checks:
        failing = [literal(c.name) for c in outcome.checks if c.blocking]
        verb = "fails" if len(failing) == 1 else "fail"
        return f"error-severity checks passed then, now {', '.join(failing)} {verb}"
    return None


def error_blocks(error: str) -> list[str]:
    """An error as a page shows it, each block followed by a blank line: its sentences as
    paragraphs, which the page wraps at its own width between words, each character as
    written (:func:`literal`); its indented lines (a table of failure cases, a traceback's
    frames) in a code block, where they line up, broken at spaces to its width.

    In a code block the UI neither wraps nor shows a line past its 78 characters, and a
    sentence broken there for it read "Error while type" on one line and "casting for
    column 'amount'" on the next (and was copied in pieces)."""
    blocks: list[str] = []
    for kind, group in groupby(error.strip("\n").splitlines(), key=_error_line_kind):
        lines = list(group)
        if kind == "code":
            blocks += [*fenced(wrapped("\n".join(lines)), "text"), ""]
        elif kind == "prose":  # one line after the other, as the error has them
            blocks += ["\\\n".join(literal(line) for line in lines), ""]
    return blocks


def _error_line_kind(line: str) -> str:
    if not line.strip():
        return "blank"
    return "code" if line[0].isspace() else "prose"


def literal(line: str) -> str:
    """One line of text that markdown shows as it is: every character that could start
    emphasis, code, a link, HTML, a table cell or a block (a list item, a heading) is
    backslash-escaped. Without, the ``*`` of ``SELECT *`` in an error began italics."""
    return _BLOCK_START.sub(r"\1\\\2", inline_literal(line))


def inline_literal(text: str) -> str:
    """:func:`literal` of text inside a line, after other markdown: a ``.`` or ``-`` it
    starts with starts no block there."""
    return _MARKDOWN_CHARS.sub(lambda match: "".join("\\" + c for c in match.group()), text)


def literal_cell(text: str) -> str:
    """``text`` in a table cell or a list item, each character as written (:func:`literal`),
    its lines joined by spaces: a newline would end the table's row, or the list. Empty,
    ``-``, as :func:`cell` shows it."""
    return literal(" ".join(text.split())) or "-"


def wrapped(text: str, width: int = CODE_WIDTH) -> str:
    """``text`` with each line longer than ``width`` broken at spaces, so a code block the
    UI will not wrap shows all of it; a word longer than a line (a path, a URL) stays
    whole, to copy, and a continuation keeps its line's indent."""
    out: list[str] = []
    for line in text.splitlines() or [""]:
        if len(line) <= width:  # as it was: a caret under a column keeps its place
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        out += textwrap.wrap(
            line,
            width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
            drop_whitespace=True,
        ) or [line]
    return "\n".join(out)


def skipped_line(outcome: AssetOutcome, links: PageLinks) -> str:
    """Why a skipped asset did not run, as a sentence (:func:`skip_reason`)."""
    return f"Skipped: {skip_reason(outcome, links)}"


def skip_reason(outcome: AssetOutcome, links: PageLinks) -> str:
    """Why a skipped asset did not run: the failed upstream, each linking its page of this
    run (its error is there), or that the run stopped before it."""
    if not outcome.failed_upstream:
        return f"{literal(outcome.error or 'did not run')}."
    failed = ", ".join(links.link(key) for key in outcome.failed_upstream)
    return f"upstream {failed} failed in this run, so this run left the table as it was."


def edited_check_line(edited: EditedCheck) -> str:
    """A failed check edited (or added) since its asset last passed, linking that run:
    the likeliest cause, which nothing else on the page shows (no code version covers
    a check)."""
    since = edited.since
    at = utc_time(since.ended or since.started)
    run = f"[{at}]({flow_run_path(since.run_id)})" if since.run_id else at
    check = edited.check.replace("`", "'")
    return f"Check `{check}` {literal(edited.since_when)} ({run})."


def checked_read_lines(
    reads: Sequence[CheckedRead], links: PageLinks, *, alike: bool = True
) -> list[str]:
    """What a failed asset's checks read of other assets' tables, in lines: a line per
    read that may be why a check failed (:func:`checked_read_line`), then one for each
    kind of those said alike (:attr:`CheckedRead.same`, when more than one read is):
    "Its failed checks read dim_product, dim_customer, dim_time, dim_country: each
    rebuilt this run with the same code and row count." for four lines that each said
    so. ``alike``: False leaves those out (the run's lineage, whose asset's page says
    them)."""
    kinds: dict[str, list[str]] = {}
    for read in reads:
        if read.same is not None:
            kinds.setdefault(read.same, []).append(read.asset)
    folded = [same for same, assets in kinds.items() if len(assets) > 1]
    lines = [
        checked_read_line(read, links)
        for read in reads
        if read.same not in folded and (alike or read.same is None)
    ]
    for same in folded if alike else ():
        assets = list(dict.fromkeys(kinds[same]))
        each = "each " if len(assets) > 1 else ""
        named = ", ".join(links.link(asset) for asset in assets)
        lines.append(f"Its failed checks read {named}: {each}{literal(same)}.")
    return lines


def checked_read_line(read: CheckedRead, links: PageLinks) -> str:
    """A failed check's read of another asset's table, linking that asset's page, and what
    the run did to the table: the check may have failed on its rows."""
    check, table = (name.replace("`", "'") for name in (read.check, read.table))
    return f"Check `{check}` reads `{table}` ({links.link(read.asset)}), {literal(read.change)}."


def table_since_line(outcome: AssetOutcome, *, named: bool = False) -> str:
    """What a page of an attempt that did not materialize the table says of the table: its
    last success; first, if the attempt published and then failed its checks, that the
    table holds the attempt's rows (they replaced the success's, or joined them).

    ``named``: said on a page of several assets (the run's lineage), under the asset's
    error; the line names the table, and says so too when the attempt left it as it was."""
    published = outcome.result if outcome.published_then_failed else None
    if published is None:  # the table holds what an earlier attempt left
        since = last_success_line(outcome.last_success)
        return f"`{outcome.table}` is left as it was. {since}" if named else since
    since = last_success_line(outcome.last_success, superseded=True)
    table = f"`{outcome.table}`" if named else "The table"
    return f"{checked_table_line(published, table)} {since}"


def checked_table_line(published: MaterializeResult, table: str = "The table") -> str:
    """What the ``table`` of an attempt that failed its checks holds: the rows it
    ``published``, which its checks then read. Before its last success's line, which
    without it read as if the table held that success's rows still."""
    rows, new = published.rows, published.inserted_rows
    if new is None or new == rows:
        held = f"this run's {rows_phrase(rows)}"
    else:  # an insert-only load added its new keys to what the table held
        held = f"{rows_phrase(rows)}, {f'{new:,}' if new else 'none'} of them this run's"
    return f"{table} holds {held}: published, then its checks failed."


def last_success_line(record: MaterializationRecord | None, *, superseded: bool = False) -> str:
    """The table's last successful materialization as a failed attempt's page states it:
    when it finished (as the run table shows times), the rows it left and its run; or,
    in ``pipeline status``'s words, that there was none. ``superseded``: the attempt
    published after it (and failed its checks), so those rows are what the table held
    then, and "never materialized" would deny the rows it holds now."""
    if record is None:
        if superseded:
            return "Last successful materialization: none in this warehouse."
        return "Last successful materialization: none, never materialized in this warehouse."
    finished = record.ended or record.started
    facts = [f"finished {utc_time(finished)}"]
    if record.rows is not None:
        where = "in the table then" if superseded else "left in the table"
        facts.append(f"{rows_phrase(record.rows)} {where}")
    if record.run_id:
        facts.append(f"by [its flow run]({flow_run_path(record.run_id)})")
    return f"Last successful materialization: {', '.join(facts)}."


def state_cell(state: str, reasons: Sequence[str]) -> str:
    """The page's state, worded as ``pipeline status`` words it: ``stale (why; why)``."""
    return cell(f"{state} ({'; '.join(reasons)})" if reasons else state)


def shown_warehouse(location: str | None) -> str | None:
    """A warehouse's location as pages show it: a server without user, password or query
    string (whatever the IO manager gave), on one line, with no backtick to end its code
    span. Each page also carries it in its artifact's metadata (``warehouse``), which a
    later run compares with its own."""
    if not location:
        return None
    return _code_span_text(shown_source(location) or "") or None


def _code_span_text(text: str) -> str:
    """``text`` for a code span: on one line, with no backtick to end the span."""
    return " ".join(text.replace("`", "'").split())


def shown_warehouses(locations: Iterable[str | None]) -> list[str]:
    """Each distinct warehouse of ``locations`` as :func:`shown_warehouse` shows it, sorted;
    storage that names no location is left out."""
    return sorted({w for location in locations if (w := shown_warehouse(location))})


def run_warehouses(plan: MaterializationPlan, io_managers: Mapping[str, IOManager]) -> list[str]:
    """Where a run's tables are, as :func:`shown_warehouses` shows them: its selected
    assets' and the upstream they read. Said by a whole run's report and an interrupted
    one's alike."""
    locations = {name: io.location() for name, io in io_managers.items()}
    specs = (*plan.selected, *plan.external)
    return shown_warehouses(locations.get(spec.io_manager) for spec in specs)


def linked_page(markdown: str, key: str) -> str | None:
    """Where a written page links ``key``'s page (a version, or the version list), as its
    Lineage list does for every ancestor and descendant; None if it links none.

    Which version that is depends on the run that wrote or last relinked the page, and
    with several warehouses it need not be the newest one on the server: so it is read
    from the page. Only a link to an artifact counts (a run named ``key`` links its run).
    """
    for address in (artifact_path(""), artifact_key_path(asset_page_key(key))):
        head = f"[{key}]({address}"
        at = markdown.find(head)
        if at >= 0:
            start = at + len(key) + 3
            end = markdown.find(")", start)
            return markdown[start:end] if end >= 0 else None
    return None


def with_relinked(markdown: str, key: str, old: str, new: str) -> str:
    """A written page with its links to ``key``'s page at ``old`` (as :func:`linked_page`
    read it) pointing at ``new``: in its lists and column sources, and the ``click`` of
    ``key``'s box in its diagrams, which would open the superseded page."""
    markdown = markdown.replace(f"]({old})", f"]({new})")
    return markdown.replace(f'click {key} "{old}"', f'click {key} "{new}"')


def with_state(markdown: str, state: str) -> str:
    """A written page with its state row (in the table at its top) saying ``state``, as of
    a later run (its name then says so: ``state``, not ``state after this run``).

    A page outside a later run is not rendered again (that run does not have what it was
    rendered from), yet the run can change its asset's state: this is the one row to say so.
    """
    lines = markdown.split("\n")
    if _ABOUT_HEADER not in lines:
        return markdown
    top = lines.index(_ABOUT_HEADER)
    end = lines.index("", top) if "" in lines[top:] else len(lines)
    names = (f"| {_STATE_AS_WRITTEN} | ", f"| {_STATE_RESTATED} | ")
    rows = [at for at in range(top, end) if lines[at].startswith(names)]
    row = f"| {_STATE_RESTATED} | {state} |"
    if rows:
        lines[rows[0]] = row
    else:
        lines.insert(end, row)
    return "\n".join(lines)


def with_links_updated(
    markdown: str,
    run_name: str,
    flow_run_id: str | None,
    at: datetime,
    reached: Sequence[AssetOutcome],
) -> str:
    """A written page with a note under its version line: run ``run_name`` wrote new pages,
    ``at`` (UTC), of the assets this page links whose outcomes are ``reached``, and its
    links now open those. The page of an asset a run did not touch is relinked in place
    (:meth:`RunReview._relinked_pages_outside_the_run`): a reader who clicks from it lands
    on another run's versions, and is told so, in plain words ("Links updated by run ...:
    they lead to that run's pages of the assets it rebuilt" was not), and told what the
    run did to them: a run that rebuilt nothing (one asset failed, the rest skipped) was
    said to have "rebuilt some assets". One note a page: a later relink replaces it."""
    note = (
        f"{_LINKS_UPDATED}{run_link(run_name, flow_run_id)} {_what_it_did(reached, at)}: "
        "their links now open that run's pages."
    )
    lines = markdown.split("\n")
    top = lines.index(_ABOUT_HEADER) if _ABOUT_HEADER in lines else len(lines)
    for at_line in range(top):
        if lines[at_line].startswith((_LINKS_UPDATED, _LINKS_UPDATED_BEFORE)):
            lines[at_line] = note
            return "\n".join(lines)
    version_lines = (_VERSION_LINE, _VERSION_LINE_BEFORE)
    version = next((i for i in range(top) if lines[i].startswith(version_lines)), 0)
    lines[version + 1 : version + 1] = ["", note]
    return "\n".join(lines)


def _what_it_did(reached: Sequence[AssetOutcome], at: datetime) -> str:
    """``rebuilt 2 assets this page links to (when)``; or, if it did not rebuild each,
    how many it rebuilt and what became of the others: ``wrote new pages of 7 assets this
    page links to (0 rebuilt, 1 failed its checks, 6 skipped; when)``."""
    said = [_REBUILT if o.status == "materialized" else outcome_status(o) for o in reached]
    assets = f"{counted(len(said), 'asset')} this page links to"
    if all(status == _REBUILT for status in said):
        return f"{_REBUILT} {assets} ({utc_time(at)})"
    kinds = [k for k in _WHAT_A_RUN_DID if k == _REBUILT or k in said]  # "0 rebuilt" said
    each = ", ".join(f"{said.count(kind)} {kind}" for kind in kinds)
    return f"wrote new pages of {assets} ({each}; {utc_time(at)})"


def python_location(spec: AssetSpec) -> str | None:
    """``module.function (file:line)`` of a Python asset's body, for pages and logs: the
    place errors name (:func:`~orchestration.asset_code.declaration_place`), by file name."""
    body = spec.body
    name = f"{getattr(body, '__module__', '?')}.{getattr(body, '__qualname__', '?')}"
    place = declaration_place(spec)
    return name if place is None else f"{name} ({Path(place.file).name}:{place.line})"


def _violations(check: AssetCheckResult) -> str:
    return f"{check.violations:,}" if check.violations is not None else "-"


def _example_or_error(check: AssetCheckResult) -> str:
    if check.error:
        return check.error
    return format_example(check.examples[0]) if check.examples else ""
