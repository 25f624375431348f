"""The state of each asset - missing, stale (and why) or fresh - as pure logic.

An asset is judged on its latest successful materialization against what holds now:

* ``missing``: never materialized (by this framework, in this warehouse), or only by runs
  that published the table and then failed its checks (``no successful materialization``:
  its reason says the table holds those rows);
* ``stale``, for one or more reasons:
  - ``code_changed``: its code version differs from the one it was built with;
  - ``source_changed``: its source's fingerprint differs from the one it was built from
    (its data changed, or the command judged it on another source: the reason names both,
    :mod:`orchestration.fingerprinted_source`), or the source cannot be asked now (so
    nothing says it is unchanged);
  - ``upstream_materialized``: an upstream asset was materialized after the one it read;
  - ``changed_outside``: its table holds another number of rows than its latest attempt
    left there (rows deleted or added outside the pipeline), when its storage counts them
    as it looks at its tables (:attr:`~orchestration.io_manager.TableOutlook.rows`);
  - ``last_run_failed``: its latest attempt, after that success, failed or never finished
    (one that published and then failed its checks, as an IO manager that cannot check
    before publishing does, says the table holds its rows, not the success's);
* ``fresh``: none of these.

A failed attempt is no materialization, so an asset reading one that published and then
failed its checks keeps its state; :attr:`AssetState.upstream_failed_checks` names such
upstream: the rows it read may be gone since, or be those that failed. What it read is
the materialization whose rows the table held (:attr:`AssetHistory.holding`): built from
the rows that failed, it is not stale while the table holds them
(:attr:`AssetState.built_from_failed_checks` names that upstream), and stale once a
success replaces them.

A stale asset does not make its descendants stale here: ``status:stale`` names where a
change entered, and ``status:stale+`` adds everything downstream of it (as dbt's
``state:modified+``). Nothing here touches a warehouse, so every rule is unit-tested.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from orchestration.errors import of_asset
from orchestration.fingerprint import UNAVAILABLE, is_available
from orchestration.fingerprinted_source import SAME_SOURCE_CHANGED, SourceSwitch, source_switch
from orchestration.graph import AssetGraph
from orchestration.history import STOPPED, AssetHistory, MaterializationRecord
from orchestration.run_report import rows_phrase

StateName = Literal["missing", "stale", "fresh"]
ReasonKind = Literal[
    "never_materialized",
    "code_changed",
    "source_changed",
    "upstream_materialized",
    "changed_outside",
    "last_run_failed",
]
STATE_NAMES: tuple[StateName, ...] = ("missing", "stale", "fresh")


@dataclass(frozen=True)
class Reason:
    """Why an asset is not fresh: a machine-readable kind and a sentence for people."""

    kind: ReasonKind
    detail: str
    #: For ``upstream_materialized``: the upstream it names, in the graph's order, so that
    #: a page can say it shorter (:func:`upstream_since`) without reading ``detail``.
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssetState:
    """An asset's state, the reasons for it, and the materializations it was judged on."""

    key: str
    state: StateName
    code_version: str
    reasons: tuple[Reason, ...] = ()
    last_success: MaterializationRecord | None = None
    last_attempt: MaterializationRecord | None = None
    #: Its upstream whose latest attempt published and then failed its checks: no reason
    #: (that attempt is no materialization), but the asset was built before those rows
    #: replaced or joined what it read, or from them. Only for an asset that was built.
    upstream_failed_checks: tuple[str, ...] = ()
    #: Those of them whose rows that failed it was built from (its last success read the
    #: attempt whose rows they hold): not stale for it while they hold them.
    built_from_failed_checks: tuple[str, ...] = ()
    #: It was judged on another source than the one it was built from (its reason says
    #: so): what a command's next step must pass not to replace its rows with another's.
    source_switch: SourceSwitch | None = None

    def explain(self) -> str:
        """The reasons as one line (``fresh`` when there are none)."""
        return "; ".join(reason.detail for reason in self.reasons) or "fresh"

    @property
    def notes(self) -> list[str]:
        """What a reader of the state should know besides its reasons, in words."""
        return failed_checks_notes(self.upstream_failed_checks, self.built_from_failed_checks)

    def said(self) -> list[str]:
        """Everything its state's line says after the state: its reasons, then its notes."""
        return [*(reason.detail for reason in self.reasons), *self.notes]

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "state": self.state,
            "code_version": self.code_version,
            "reasons": [{"kind": r.kind, "detail": r.detail} for r in self.reasons],
            "last_materialization": self.last_success.as_dict() if self.last_success else None,
            "last_attempt": self.last_attempt.as_dict() if self.last_attempt else None,
            "upstream_failed_checks": list(self.upstream_failed_checks),
            "built_from_failed_checks": list(self.built_from_failed_checks),
        }


def failed_checks_notes(upstream: Sequence[str], built_from: Collection[str] = ()) -> list[str]:
    """The notes on an asset whose ``upstream`` hold rows that failed their checks, if any
    do (a list, to follow the reasons): first those it was ``built_from`` (it holds rows
    computed from them), then the others (it was built before them)."""
    read = [key for key in upstream if key in built_from]
    other = [key for key in upstream if key not in built_from]
    notes = []
    if read:
        notes.append(f"built from rows of upstream {', '.join(read)} that failed their checks")
    if other:
        verb = "holds" if len(other) == 1 else "hold"
        notes.append(f"upstream {', '.join(other)} {verb} rows that failed their checks")
    return notes


#: How the reason of an asset whose latest attempt failed starts; then what it left in
#: its table, if anything, and after ``: `` the first line of its error.
LAST_RUN_FAILED = "last run failed"


def _failed_since(history: AssetHistory) -> Reason | None:
    attempt, success = history.last_attempt, history.last_success
    if attempt is None or attempt.status == "materialized":
        return None
    if success is not None and attempt.started <= success.started:
        return None
    if attempt.status == "started" or attempt.error == STOPPED:  # one interrupt, one story
        return Reason("last_run_failed", "last run did not finish (interrupted, or still running)")
    said = (attempt.error or "no error recorded").splitlines()[0]
    # The row names the asset: its 200 characters go to the cause (and the engine's guess).
    first_line = _shortened(said.removeprefix(of_asset(attempt.asset_key, attempt.table)))
    if attempt.failed_its_checks:
        left = _left_in_table(attempt, after_a_success=success is not None)
        return Reason("last_run_failed", f"{LAST_RUN_FAILED} after {left}: {first_line}")
    return Reason("last_run_failed", f"{LAST_RUN_FAILED}: {first_line}")


def _left_in_table(attempt: MaterializationRecord, *, after_a_success: bool) -> str:
    """What an attempt that failed its checks left in its table: the rows it published,
    which replaced the last success's, or, loaded insert-only, those it added to them.
    Without it, "last run failed" read as if the table held the success's rows still."""
    rows, new = attempt.rows or 0, attempt.inserted_rows
    if new is not None and new != rows:
        return f"adding {rows_phrase(new)} to the table ({rows:,} in all)"
    instead = " instead of the last success's" if after_a_success else ""
    return f"publishing {rows_phrase(rows)}, which the table holds{instead}"


def _changed_outside(history: AssetHistory, held: int | None) -> Reason | None:
    """Why a table that holds ``held`` rows was changed outside the pipeline, if it was:
    its latest attempt left another number there (:attr:`AssetHistory.table_rows`, what
    the history records as the table's rows after the publish, insert-only tables
    included). Not compared when either is unknown: a count its storage does not give
    (an engine whose merges fold or expire rows changes it with nothing written), or an
    attempt that published nothing, which left what some earlier one did. An outside
    change that keeps the count (an ``UPDATE``, as many rows deleted as added) goes
    unseen: nothing recorded tells which rows the table held."""
    built = history.table_rows
    if held is None or built is None or held == built:
        return None
    detail = f"changed outside the pipeline: holds {rows_phrase(held)}, {built:,} when built"
    return Reason("changed_outside", detail)


#: How much of a failure's first line a state's reason carries (the run report and the
#: asset page have it whole), before the command it ends with, if any.
REASON_CHARS = 200
#: A failure's last sentence that names a command (a drift refusal's "Rebuild it from the
#: DDL with: pipeline materialize --full-refresh --select dim_country") is kept whole
#: after a cut, up to this long: it is what the reader does next, and it carries the
#: ``--warehouse`` and ``--definitions`` of the run (orchestration.typed_options).
COMMAND_CHARS = 400
_COMMAND = re.compile(r"\bpipeline [a-z]")


def _shortened(text: str, limit: int = REASON_CHARS) -> str:
    """``text`` whole if it fits, else cut by :func:`_cut`; a closing sentence that names
    a command is kept after the cut, the rest within ``limit``."""
    if len(text) <= limit:
        return text
    end = text.rfind(". ")
    command = text[end + 2 :]
    if end < 0 or len(command) > COMMAND_CHARS or not _COMMAND.search(command):
        return _cut(text, limit)
    head = text[: end + 1]
    return f"{head if len(head) <= limit else _cut(head, limit)} {command}"


def _cut(text: str, limit: int) -> str:
    """``text`` cut after its last sentence that fits in ``limit`` (if that keeps half of
    it), else at a word, marked with ``…``: cut at a character it ended mid-word
    (``...with: pipel``)."""
    kept = text[:limit]
    sentence = kept.rfind(". ")
    if sentence >= limit // 2:
        return f"{kept[: sentence + 1]} …"
    space = kept.rfind(" ")
    return f"{kept[:space] if space > 0 else kept} …"


def assess_asset(
    key: str,
    deps: tuple[str, ...],
    code_version: str,
    fingerprint: str | None,
    history: Mapping[str, AssetHistory],
    ordering: Collection[str] = (),
    *,
    held_rows: int | None = None,
) -> AssetState:
    """The state of one asset; ``history`` holds every asset's, its upstream included.

    ``ordering`` are the deps it only runs after (a fact after the dimensions its checks
    read): one rebuilt since still makes it stale, since its checks judged the old
    dimension, and the reason marks it ``(order)`` so it does not read as its data's source.
    ``held_rows``: the rows its table holds now, if counted (:func:`_changed_outside`).
    """
    own = history.get(key, AssetHistory())
    success = own.last_success
    failure = _failed_since(own)
    if success is None:
        # A table published and then failed by its checks was materialized, just never well.
        unbuilt = "no successful materialization" if own.published else "never materialized"
        reasons = [Reason("never_materialized", unbuilt)]
        reasons += [failure] if failure else []
        return AssetState(key, "missing", code_version, tuple(reasons), None, own.last_attempt)
    reasons = []
    if success.code_version != code_version:
        reasons.append(
            Reason(
                "code_changed",
                f"code changed (built with {success.code_version}, now {code_version})",
            )
        )
    switch = None
    if fingerprint is not None and not is_available(fingerprint):
        # Equal to the recorded answer or not, an unanswered question proves nothing.
        cause = fingerprint.removeprefix(UNAVAILABLE).strip()
        reasons.append(Reason("source_changed", f"source cannot be asked ({cause})"))
    elif fingerprint is not None and success.source_fingerprint != fingerprint:
        switch = source_switch(success.source_fingerprint, fingerprint)
        reasons.append(Reason("source_changed", str(switch) if switch else SAME_SOURCE_CHANGED))
    newer = tuple(
        dep
        for dep in deps
        if _materialized_since(history.get(dep, AssetHistory()), success.upstream.get(dep), success)
    )
    if newer:
        detail = upstream_since(newer, ordering)
        reasons.append(Reason("upstream_materialized", detail, upstream=newer))
    outside = _changed_outside(own, held_rows)
    if outside:
        reasons.append(outside)
    if failure:
        reasons.append(failure)
    state: StateName = "stale" if reasons else "fresh"
    return AssetState(
        key,
        state,
        code_version,
        tuple(reasons),
        success,
        own.last_attempt,
        upstream_failed_checks=tuple(
            dep for dep in deps if history.get(dep, AssetHistory()).failed_its_checks
        ),
        built_from_failed_checks=tuple(
            dep
            for dep in deps
            if _read_failed_checks(history.get(dep, AssetHistory()), success.upstream.get(dep))
        ),
        source_switch=switch,
    )


#: How many of the upstream a run rebuilt its state's reason names, before ``…``.
UPSTREAM_NAMED = 3


def upstream_since(
    upstream: Sequence[str], ordering: Collection[str] = (), rebuilt: Collection[str] = ()
) -> str:
    """The reason ``upstream materialized since: a, b, c (order)``, each upstream only run
    after marked ``(order)`` (its data is no source of the asset's). Those of them a run
    ``rebuilt``, if more than :data:`UPSTREAM_NAMED`, counted and the first few named:
    the page of an asset that failed after the run rebuilt eleven of its upstream listed
    all eleven, five lines in its state row, before the reason that matters (its failure).
    """
    marked = [f"{dep} (order)" if dep in ordering else dep for dep in upstream]
    this_run = [dep for dep in upstream if dep in rebuilt]
    if len(this_run) <= UPSTREAM_NAMED:
        return f"upstream materialized since: {', '.join(marked)}"
    others = [name for dep, name in zip(upstream, marked, strict=True) if dep not in rebuilt]
    first = ", ".join(this_run[:UPSTREAM_NAMED])
    if not others:
        return f"upstream materialized since: {len(this_run)}, all by this run ({first}, …)"
    return (
        f"upstream materialized since: {', '.join(others)}, and {len(this_run)} by this run "
        f"({first}, …)"
    )


def _materialized_since(
    upstream: AssetHistory, read: str | None, built: MaterializationRecord
) -> bool:
    """Whether ``upstream`` was materialized after what ``built`` read of it (``read``, the
    id its record names). Not if that is its last success, or the attempt whose rows
    its table still holds (published, then failed its checks). Else, a last success
    that finished before ``built`` started came before what it read: an attempt that
    failed its checks, replaced since by another such attempt, which is no
    materialization either. The ids alone cannot tell that from a success since."""
    success = upstream.last_success
    if success is None or read == success.materialization_id:
        return False
    held = upstream.holding
    if held is not None and read == held.materialization_id:
        return False  # it read the rows the table holds still
    return (success.ended or success.started) >= built.started


def _read_failed_checks(upstream: AssetHistory, read: str | None) -> bool:
    """Whether what was read of ``upstream`` (``read``, its id) is the attempt that
    published and then failed its checks whose rows its table holds now."""
    held = upstream.holding
    return upstream.failed_its_checks and held is not None and read == held.materialization_id


def assess(
    graph: AssetGraph,
    code_versions: Mapping[str, str],
    fingerprints: Mapping[str, str | None],
    history: Mapping[str, AssetHistory],
    held_rows: Mapping[str, int] | None = None,
) -> dict[str, AssetState]:
    """The state of every asset with a code version, in the graph's topological order;
    ``held_rows``: the rows each asset's table holds now, of those counted."""
    held = held_rows or {}
    return {
        spec.key: assess_asset(
            spec.key,
            spec.deps,
            code_versions[spec.key],
            fingerprints.get(spec.key),
            history,
            graph.upstream_of(spec.key).ordering,
            held_rows=held.get(spec.key),
        )
        for spec in graph
        if spec.key in code_versions
    }
