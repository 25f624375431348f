"""What a run decides and what it produced: the plan, each asset's outcome, the report.

Plain data shared by the resolver (which fills it), the lineage artifact and the CLI
(which render it). Kept apart from the Prefect executor so that rendering a report never
imports the code that runs one, and the two cannot import each other.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from orchestration.asset import AssetSpec
from orchestration.check_versions import EditedCheck
from orchestration.checks import AssetCheckResult
from orchestration.context import DISCARD_HISTORY_OPTION
from orchestration.errors import Place, at
from orchestration.graph import AssetGraph
from orchestration.history import MaterializationRecord
from orchestration.io_manager import MaterializeResult

if TYPE_CHECKING:  # staleness words its reasons with rows_phrase, from here
    from orchestration.staleness import Reason

#: How much of each failed asset's cause a failed run's state message gives.
FAILURE_CHARS = 200


def _briefly(cause: str | None) -> str:
    """The first line of ``cause``, cut at a word within :data:`FAILURE_CHARS`."""
    first = (cause or "no cause recorded").strip().split("\n", 1)[0]
    return textwrap.shorten(first, FAILURE_CHARS, placeholder=" …")


Status = Literal["materialized", "failed", "skipped", "cancelled"]
#: ``cancelled``: the run was interrupted (Ctrl-C, SIGTERM) before the asset finished.
STATUSES: tuple[Status, ...] = ("materialized", "failed", "skipped", "cancelled")
#: Statuses a run's end folds into a line per reason instead of a row each
#: (:meth:`RunReport.folded`).
FOLDED: tuple[Status, ...] = ("skipped", "cancelled")

#: What a run does once every asset has finished, in this order, as its report names
#: those an interrupt cut (:attr:`RunReport.cut`): the ``skipped`` records of the assets
#: that never ran (else their history says they started), ...
SKIPPED_HISTORY_STEP = "the skipped assets' history"
#: ... the asset pages' final versions and the run's lineage page, ...
PAGES_STEP = "the asset pages and the lineage page"
#: ... the code location's run hooks (a metrics push, an alert), ...
HOOKS_STEP = "the run hooks"
#: ... and the run's final state in Prefect, set by Prefect's engine once the flow's body
#: returned.
FINAL_STATE_STEP = "the run's final state in Prefect"
END_STEPS = (SKIPPED_HISTORY_STEP, PAGES_STEP, HOOKS_STEP, FINAL_STATE_STEP)

#: How an asset ended, as :meth:`RunReport.ended_as` words it, by its statuses.
_ENDED_AS: tuple[tuple[str, tuple[Status, ...]], ...] = (
    ("finished", ("materialized", "failed")),
    ("been skipped", ("skipped",)),
    ("been cancelled", ("cancelled",)),
)


@dataclass(frozen=True)
class MaterializationPlan:
    """The selected assets and the unselected upstream assets they read."""

    graph: AssetGraph
    selected: list[AssetSpec]
    external: list[AssetSpec]
    selection: str | None = None
    #: Whether the run rebuilds each selected table (``--full-refresh``): its rerun must
    #: too, or the tables it left undone are updated on rows from before the refresh.
    full_refresh: bool = False
    #: Whether that rebuild may drop rows only insert-only tables keep
    #: (``--discard-history``): the rerun of a run it confirmed confirms it too.
    discard_history: bool = False
    #: The run's options that say what it reads, each with its value as given
    #: (``--source``, ``--source-encoding``, ``--source-timeout``): its rerun passes them
    #: on, or it reads another source (the default) than the run did
    #: (:func:`orchestration.rerun.run_options`).
    run_options: tuple[tuple[str, str], ...] = ()

    @property
    def selected_keys(self) -> set[str]:
        return {spec.key for spec in self.selected}


def refresh_options(plan: MaterializationPlan) -> str:
    """`` --full-refresh`` (`` --discard-history`` too) when ``plan`` was given them: the
    rerun of a run, or the run a plan foretells, rebuilds as it was asked to."""
    if not plan.full_refresh:
        return ""
    return " --full-refresh" + (f" {DISCARD_HISTORY_OPTION}" if plan.discard_history else "")


def counted(count: int, noun: str) -> str:
    """``1 asset``, ``12,345 rows``: how a count reads in a line of text (a title line is
    also the first line a script reads)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def quoted_selection(expression: str) -> str:
    """A selection as it is typed after ``--select``: one shell word, in the quotes the
    docs use (``'fact_sales+'``), so a suggested command can be pasted as printed."""
    import shlex

    return f"'{expression}'" if "'" not in expression else shlex.quote(expression)


def rows_phrase(rows: int) -> str:
    """``1 row``, ``12,345 rows``: how a count of rows reads in a line of text."""
    return counted(rows, "row")


#: Characters of a code version a line shows, of its 16 (as a page's History row does).
SHORT_VERSION = 8

#: What :attr:`CheckedRead.same` says of a table rebuilt this run with the code and the
#: number of rows it had, and of one not rebuilt whose state is fresh.
REBUILT_THE_SAME = "rebuilt this run with the same code and row count"
LEFT_FRESH = "not rebuilt this run, fresh"


@dataclass(frozen=True)
class CheckedRead:
    """Another asset's table that a failed check of an asset reads, and what became of it
    in the run: a check can fail on that table (a dimension that lost the row the facts'
    keys resolve to), and a rerun that leaves it as it is fails the same way."""

    check: str
    asset: str
    table: str
    #: What the run did to it, in words: ``rebuilt this run: code e193fcc9 -> 6cbcffdd,
    #: 1,904 -> 1,903 rows``, or ``not rebuilt this run, stale: code changed (...)``.
    change: str
    #: Whether the rerun after the fix selects it too: it was rebuilt this run (its change
    #: may be what the check found, and a fix of it takes a rebuild), or it is stale (its
    #: table is not what its code and upstream make now).
    rerun: bool
    #: Its table holds another number of rows than its last build left: it was changed
    #: outside the pipeline (state reason ``changed_outside``), which its rebuild undoes.
    changed_outside: bool = False
    #: What a page says once of several tables the checks read that this run left as they
    #: were for a check (:data:`REBUILT_THE_SAME`, :data:`LEFT_FRESH`): four lines "rebuilt
    #: this run: same code, 4,002 rows as before" buried the one that differed. None: what
    #: the run did to it may be why the check failed, said in a line of its own.
    same: str | None = None

    def said(self) -> str:
        """One line for the terminal: which check reads which table, and what became of it."""
        return f"check {self.check!r} reads {self.table} ({self.asset}), {self.change}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "asset": self.asset,
            "table": self.table,
            "change": self.change,
            "rerun": self.rerun,
            "changed_outside": self.changed_outside,
        }


@dataclass(frozen=True)
class CodeChange:
    """A failed asset's code version (``now``) against that of its last passing
    materialization (``since``): when the tables its failed checks read are as they were,
    its own change is the likeliest cause (:attr:`AssetOutcome.blames_its_code`), and a
    rebuild of those tables fails the same way."""

    since: MaterializationRecord
    now: str

    @property
    def built_with(self) -> str:
        return self.since.code_version

    @property
    def versions(self) -> str:
        """``built with 3156821b, now e633c796``, as a state's ``code changed`` says it."""
        return f"built with {self.built_with[:SHORT_VERSION]}, now {self.now[:SHORT_VERSION]}"

    def as_dict(self) -> dict[str, Any]:
        ended = self.since.ended or self.since.started
        return {
            "built_with": self.built_with,
            "now": self.now,
            "last_passing_run_id": self.since.run_id,
            "last_passing_ended": ended.isoformat(),
        }


@dataclass
class AssetOutcome:
    """What happened to one selected asset in a run."""

    key: str
    table: str
    status: Status
    seconds: float = 0.0
    result: MaterializeResult | None = None
    error: str | None = None
    #: ``error`` in full, when ``error`` leaves out a part its line does without (the
    #: engine's quote of the SELECT it compiled: ``ExpectedError.full_message``); None:
    #: ``error`` is whole. ``--verbose``, ``--json``'s ``error_full``, the history and
    #: the asset's page give it.
    full_error: str | None = None
    #: Whether ``error`` was foreseen (:class:`~orchestration.errors.ExpectedError`): its
    #: line says it all, so the report offers no traceback for it.
    foreseen: bool = False
    #: The line of the asset's own code ``error`` names (its body raised there, its
    #: SELECT does not compile there), and what went wrong, in the error's words after
    #: the asset, its table and that place, less the class of an error its code raised
    #: (:func:`~orchestration.asset_code.said_failure`): the run's table, too narrow for
    #: a path, gives ``cause``. None: the error was not said in parts (a skip's reason).
    place: Place | None = None
    cause: str | None = None
    #: ``cause`` in full, when ``full_error`` leaves out only the asset, its table and
    #: the place (:attr:`~orchestration.errors.AssetError.full_cause`); None: not kept.
    full_cause: str | None = None
    #: For a failure: its error and each error it was raised from, in words
    #: (:func:`~orchestration.errors.chain_in_words`); a run hook's failure raised from
    #: one of them is said as this asset's (:func:`~orchestration.run_hooks.call_run_hooks`).
    error_chain: tuple[str, ...] = ()
    failed_upstream: tuple[str, ...] = ()
    checks: tuple[AssetCheckResult, ...] = ()
    #: It failed because its table must be rebuilt from its definition first
    #: (:class:`~orchestration.errors.RebuildRequired`): a plain rerun cannot succeed.
    needs_full_refresh: bool = False
    #: That rebuild loses rows only its table kept (``RebuildRequired.loses_rows``).
    rebuild_loses_rows: bool = False
    #: It failed because its schema refused the rows it made, before publishing them
    #: (:class:`~orchestration.errors.InvalidRows`): a plain rerun makes the same rows.
    made_invalid_rows: bool = False
    #: Its code version (``orchestration.code_version``) and its state after the run
    #: (``fresh`` once materialized; else ``stale``/``missing``) with the reasons, as
    #: ``pipeline status`` would say (``orchestration.staleness``).
    code_version: str | None = None
    state: str | None = None
    reasons: tuple[Reason, ...] = ()
    #: Its upstream whose tables hold rows that failed their checks (no reason: the state
    #: does not count them; ``AssetState.upstream_failed_checks``).
    upstream_failed_checks: tuple[str, ...] = ()
    #: Those of them whose rows that failed it was built from, this run's materialization
    #: or the last success before it (``AssetState.built_from_failed_checks``).
    built_from_failed_checks: tuple[str, ...] = ()
    #: Its table's latest successful materialization, this run's included, as the state
    #: was judged on (None: never materialized in this warehouse); and, when this run
    #: published nothing, the rows the table still holds if the history tells (else None).
    #: The page of a failed or skipped attempt says what the table holds, and since when.
    last_success: MaterializationRecord | None = None
    kept_rows: int | None = None
    #: False for an asset published as an interrupted run stopped, before its worker
    #: counted, checked and recorded it: its rows and seconds are not known.
    recorded: bool = True
    #: For an asset that failed its checks: the other assets' tables its failed checks
    #: read, and what became of each in the run (:class:`CheckedRead`).
    checked_reads: tuple[CheckedRead, ...] = ()
    #: For an asset that failed its checks: those of its failed checks edited (or added)
    #: since its last success, the likeliest cause (:class:`EditedCheck`).
    edited_checks: tuple[EditedCheck, ...] = ()
    #: For an asset that failed its checks, or whose schema refused its rows: its code
    #: version against its last success's, if they differ (None: the same code, or no
    #: success to compare with).
    code_change: CodeChange | None = None
    #: The materialization of each upstream whose rows its attempt read, by asset key, as
    #: its record says (``MaterializationRecord.upstream``; None: no build recorded); None
    #: for an asset that read nothing (skipped, or failed before its attempt began).
    upstream_read: Mapping[str, str | None] | None = None
    #: Files it wrote besides its table, what each is -> its absolute path
    #: (:meth:`~orchestration.context.AssetContext.add_file`): the report says where.
    files: Mapping[str, str] = field(default_factory=dict)

    def said_cause(self) -> str | None:
        """Why it failed, without the asset and table a row or list names already: its
        :attr:`cause`, which every error that starts ``asset 'k' (table t):`` keeps
        (:class:`~orchestration.errors.AssetError`), else its error (a skip's reason, a
        bug's ``KeyError: 'x'``), which names no asset."""
        return self.cause or self.error

    def said_beside(self, *, full: bool = False) -> str | None:
        """Why it failed, where its name is said already (the run's live line ``✗ orders
        ...``, the report's row and error block): a foreseen failure's :attr:`place` and
        :attr:`cause`, the error less only its ``asset 'k' (table t):`` lead, which said
        the asset twice there; else its error whole (a skip's reason, which names no
        asset; a bug's, whose class the line keeps). ``full`` (``--verbose``): an error
        that leaves a part out is said in full: a foreseen one's :attr:`full_cause`
        after its place (its lead named the asset twice there), else the error whole.
        None: it has no error."""
        if full and self.full_error:
            if self.foreseen and self.full_cause is not None:
                return at(self.place, self.full_cause)
            return self.full_error
        if self.foreseen and self.cause is not None:
            return at(self.place, self.cause)
        return self.error

    @property
    def rows(self) -> int | None:
        return self.result.rows if self.result else None

    @property
    def error_in_full(self) -> str | None:
        """``error``, with what it leaves out if anything."""
        return self.full_error or self.error

    @property
    def failed_its_checks(self) -> bool:
        """Whether it failed in its blocking checks: a rerun of the same code on the same
        sources fails the same way. Checked before publishing (the IO manager could),
        it published nothing; else see :attr:`published_then_failed`."""
        blocking = any(check.blocking for check in self.checks)
        return self.status == "failed" and (blocking or self.result is not None)

    @property
    def blames_its_code(self) -> bool:
        """Whether its own code change since it last passed its checks is the likeliest
        cause of their failure: its code changed, and each table they read was rebuilt this
        run with the same code and row count, or left fresh (:attr:`CheckedRead.same`).
        Rebuilding those again, as a check's declared rebuild would, fails the same way."""
        return self.code_change is not None and all(read.same for read in self.checked_reads)

    @property
    def checks_stopped_its_publish(self) -> bool:
        """Whether it failed its checks on its staged rows, before publishing them: the
        rows they found are in no table, which the run left as it found it."""
        return self.failed_its_checks and self.result is None

    @property
    def publish_said(self) -> str:
        """What a failed asset's table got, for the lines that name the failure:
        `` (nothing published)`` when its checks stopped the publish (the table keeps its
        last rows), `` (3 rows published)`` when it failed after publishing; else ``""``
        (any other failure publishes nothing, and says why)."""
        if self.checks_stopped_its_publish:
            return " (nothing published)"
        if self.status == "failed" and self.rows is not None:
            return f" ({rows_phrase(self.rows)} published)"
        return ""

    @property
    def published_then_failed(self) -> bool:
        """Whether it failed its checks on its published table (its IO manager could not
        check before publishing): the one failure with a result, whose rows the table
        holds."""
        return self.status == "failed" and self.result is not None


@dataclass
class RunReport:
    """Every selected asset's outcome, in topological order."""

    outcomes: list[AssetOutcome]
    flow_run_id: str | None = None
    lineage_artifact_id: str | None = None
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Where the run's tables are, as pages show them (no user, password or options):
    #: one Prefect server and one terminal serve runs against several warehouses.
    warehouses: list[str] = field(default_factory=list)
    #: Why Prefect has only part of this run, in one line: its API stopped answering
    #: (:mod:`orchestration.api_outage`). None when Prefect has all of it.
    prefect_error: str | None = None
    #: What went wrong after the run, each in one line, that changes none of its outcome:
    #: a run hook that failed (:mod:`orchestration.run_hooks`).
    warnings: list[str] = field(default_factory=list)
    #: What the run had left to do when an interrupt stopped it once every asset had
    #: finished (:data:`PAGES_STEP`, :data:`HOOKS_STEP`, ...); empty when it did not.
    cut: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status == "materialized" for o in self.outcomes)

    def by_status(self, status: Status) -> list[AssetOutcome]:
        return [o for o in self.outcomes if o.status == status]

    def folded(self) -> dict[tuple[Status, str | None], list[str]]:
        """The assets that did not fail yet have a reason, by status and reason, in run
        order: the skipped and cancelled, and one published as the run stopped. Said a
        line per reason (``6 assets skipped (upstream failed: fact_sales): ...``) where
        the run's end names its failures: a row each repeated the reason 28 times and
        pushed the failure that caused it all out of view."""
        folded: dict[tuple[Status, str | None], list[str]] = {}
        for outcome in self.outcomes:
            if outcome.status in FOLDED or (outcome.status != "failed" and outcome.error):
                folded.setdefault((outcome.status, outcome.error), []).append(outcome.key)
        return folded

    def summary(self) -> str:
        counts = {s: len(self.by_status(s)) for s in STATUSES}
        return ", ".join(f"{n} {s}" for s, n in counts.items() if n or s == "materialized")

    def failure_summary(self) -> str:
        """:meth:`summary` and each failed asset with why, the first line of its cause cut
        at a word: a failed flow run's state message, which the run's page shows first
        (the assets' own errors are a tab and a scroll away)."""
        failed = "; ".join(
            f"{o.key} ({_briefly(o.said_cause())})" for o in self.by_status("failed")
        )
        return f"{self.summary()}; failed: {failed}" if failed else self.summary()

    def ended_as(self) -> str:
        """``finished or been skipped``: how every asset ended, once all have, as a past
        participle; a skipped asset never ran, so "finished" alone would be untrue."""
        ways = [
            way for way, statuses in _ENDED_AS if any(o.status in statuses for o in self.outcomes)
        ]
        if len(ways) < 2:
            return ways[0] if ways else "finished"
        return f"{', '.join(ways[:-1])} or {ways[-1]}"

    def all_ended(self) -> str:
        """``all 29 assets had finished`` (``... or been skipped``): when an interrupt that
        cut steps came."""
        if len(self.outcomes) == 1:
            return f"its one asset had {self.ended_as()}"
        return f"all {len(self.outcomes):,} assets had {self.ended_as()}"

    def cut_line(self) -> str | None:
        """``interrupted once all 29 assets had finished; not done: the run hooks``: what
        an interrupt that came once every asset had ended cut (None: it cut none)."""
        if not self.cut:
            return None
        return f"interrupted once {self.all_ended()}; not done: {', '.join(self.cut)}"
