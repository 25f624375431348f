"""Writing materialization history during a run.

The run's :class:`RunLedger` knows each asset's code version and source fingerprint (from
the :class:`~orchestration.asset_state.StateBook` taken when the run began) and the latest
materialization of every asset, updated as this run's own assets end: the one whose rows
its table holds (the last success, or a later attempt that published and then failed its
checks) is what a downstream asset reads, and what its record says it read.

The run's first asset to start writes every asset of the run as ``started``, in one write
per history store: a single-row write per asset before its work cost a warm 100,000-row
run 0.26 s (27 statements; docs/benchmark.md). Each asset's :class:`Attempt` then writes
its outcome once known, under the same id; an asset that never ran (its upstream failed)
is written ``skipped`` when the run ends (:meth:`RunLedger.skipped`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.check_versions import EditedCheck, check_versions, edited_since
from orchestration.errors import AssetError, ExpectedError, describe_error
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord
from orchestration.io_manager import MaterializeResult
from orchestration.run_report import (
    LEFT_FRESH,
    REBUILT_THE_SAME,
    SHORT_VERSION,
    AssetOutcome,
    CheckedRead,
    CodeChange,
    rows_phrase,
)
from orchestration.staleness import AssetState, assess

log = logging.getLogger("pipeline.history")


def _now() -> datetime:
    return datetime.now(UTC)


def _what_changed(before: AssetHistory, now: MaterializationRecord) -> str:
    """``code e193fcc9 -> 6cbcffdd, 1,904 -> 1,903 rows``: a table this run rebuilt, its
    materialization ``now`` against what the table held as the run began (``before``)."""
    was = before.holding
    rows = now.rows or 0
    if was is None:
        return f"built for the first time, {rows_phrase(rows)}"
    code = "same code"
    if was.code_version != now.code_version:
        code = f"code {was.code_version[:SHORT_VERSION]} -> {now.code_version[:SHORT_VERSION]}"
    held = before.table_rows
    if held is None:  # its last attempt published nothing: what it held is not recorded
        return f"{code}, {rows_phrase(rows)}"
    if held == rows:
        return f"{code}, {rows_phrase(rows)} as before"
    return f"{code}, {held:,} -> {rows:,} rows"


def _rebuilt_the_same(before: AssetHistory, now: MaterializationRecord) -> str | None:
    """:data:`REBUILT_THE_SAME` if this run rebuilt a table (``now``) with the code and
    the number of rows it had as the run began (``before``), as :func:`_what_changed`
    says ``same code, N rows as before``; else None."""
    was = before.holding
    if was is None or was.code_version != now.code_version:
        return None
    return REBUILT_THE_SAME if before.table_rows == (now.rows or 0) else None


class UnrecordedPublishError(AssetError, RuntimeError):
    """An asset's table was published, but its record could not be written to the
    history, for a cause nobody foresaw (said with its class, a traceback offered)."""


class UnrecordedForeseenError(UnrecordedPublishError, ExpectedError):
    """The same for a foreseen cause (a full disk:
    :class:`~orchestration.errors.StorageFullError`), whose words say all."""


def unrecorded_publish(record: MaterializationRecord, exc: Exception) -> UnrecordedPublishError:
    """The failure of an asset whose table was published (``record``, as it was to be
    written) and whose record was not, for ``exc``: the one case of a published table the
    history does not tell of, so the line says both, and what ``status`` says until then."""
    kind = UnrecordedForeseenError if isinstance(exc, ExpectedError) else UnrecordedPublishError
    return kind.for_asset(
        record.asset_key,
        record.table,
        f"was published, but its record could not be written to the history: "
        f"{describe_error(exc)}; until a run records it, pipeline status does not call it fresh",
    )


class Attempt:
    """One asset's materialization in this run, as recorded in its history store (where
    the ledger has already written it ``started``)."""

    def __init__(
        self, ledger: RunLedger, store: MaterializationHistory | None, record: MaterializationRecord
    ) -> None:
        self._ledger = ledger
        self._store = store
        self.record = record

    def succeeded(self, result: MaterializeResult) -> None:
        """The asset was published and its checks passed: record it, then let readers see it.

        If the record cannot be written, the asset fails (:class:`UnrecordedPublishError`,
        saying its table was published): its history still says ``started``, so neither
        this run's states nor the next status call it fresh, and a run rebuilds it.
        """
        started = self.record
        self.record = replace(
            self.record,
            status="materialized",
            rows=result.rows,
            inserted_rows=result.inserted_rows,
            ended=_now(),
        )
        if self._store is not None:
            try:
                self._store.record(self.record)
            except Exception as exc:
                self._ledger.attempted(started)  # what the store holds of it
                raise unrecorded_publish(self.record, exc) from exc
        self._ledger.published(self.record)

    def failed(self, error: str, result: MaterializeResult | None = None) -> None:
        """Record the failure; a failure to record it is logged, never raised over it."""
        self.record = replace(
            self.record,
            status="failed",
            rows=result.rows if result else None,
            inserted_rows=result.inserted_rows if result else None,
            ended=_now(),
            error=error[:4000],
        )
        self._ledger.attempted(self.record)
        if self._store is None:
            return
        try:
            self._store.record(self.record)
        except Exception as exc:  # the asset's own error is the one to report
            log.warning("could not record the failure of %s: %s", self.record.asset_key, exc)


class RunLedger:
    """Hands out :class:`Attempt` s and keeps every asset's history up to date in memory.

    So a downstream asset records the upstream materialization it really read, and the
    states after the run (:meth:`annotate`) need no second look at the store.
    """

    def __init__(self, book: StateBook, keys: Iterable[str]) -> None:
        """``keys``: the assets this run materializes, whose code versions and ``started``
        records it writes (together, at the first start)."""
        self._book = book
        self._keys = tuple(keys)
        self._lock = threading.Lock()
        self._history: dict[str, AssetHistory] = dict(book.history)
        #: Each asset's ``started`` record, made by the first start.
        self._started: dict[str, MaterializationRecord] = {}
        #: Those records by history store, until written (a failed write is retried by
        #: the next start); None until the first start made them.
        self._unwritten: list[tuple[MaterializationHistory, list[MaterializationRecord]]] | None
        self._unwritten = None
        self._writing = threading.Lock()

    def _read_id(self, key: str) -> str | None:
        """The materialization whose rows ``key``'s table holds, which a reader reads: the
        last success's were replaced (or joined) by an attempt that failed its checks."""
        held = self._history.get(key, AssetHistory()).holding
        return held.materialization_id if held else None

    def start(self, spec: AssetSpec, run_id: str | None) -> Attempt:
        """Record that ``spec`` starts, reading its upstream as they are now."""
        planned = self._write_started(run_id)[spec.key]
        with self._lock:
            upstream = {dep: self._read_id(dep) for dep in spec.deps}
        record = replace(planned, upstream=upstream, started=_now())
        return Attempt(self, self._book.history_of(spec), record)

    def _write_started(self, run_id: str | None) -> dict[str, MaterializationRecord]:
        """Every asset of the run as ``started``, written by the first start (one write per
        history store); a store that could not be written is tried again by the next."""
        with self._writing:
            if self._unwritten is None:
                versions = self._book.code_versions_of(self._keys)
                now = _now()
                for key in self._keys:
                    spec = self._book.graph[key]
                    self._started[key] = MaterializationRecord(
                        materialization_id=str(uuid.uuid4()),
                        run_id=run_id,
                        asset_key=key,
                        table=spec.table,
                        code_version=versions[key],
                        source_fingerprint=self._book.fingerprint_of(spec),
                        started=now,
                        check_versions=check_versions(
                            spec.checks, self._book.io_managers.get(spec.io_manager)
                        ),
                    )
                self._unwritten = self._by_store(self._started.values())
            while self._unwritten:
                store, records = self._unwritten[0]
                store.record_all(records)
                self._unwritten.pop(0)
            return self._started

    def skipped(self, outcomes: Iterable[AssetOutcome]) -> None:
        """Write ``skipped`` over the ``started`` record of each asset that never ran, so
        it does not read as interrupted; a failure to write is logged, not raised (the
        run already failed, and its own error is the one to report)."""
        ended = _now()
        records = [
            replace(self._started[o.key], status="skipped", ended=ended, error=o.error)
            for o in outcomes
            if o.key in self._started
        ]
        for store, written in self._by_store(records):
            try:
                store.record_all(written)
            except Exception as exc:
                keys = ", ".join(record.asset_key for record in written)
                log.warning("could not record that %s did not run: %s", keys, exc)

    def _by_store(
        self, records: Iterable[MaterializationRecord]
    ) -> list[tuple[MaterializationHistory, list[MaterializationRecord]]]:
        """``records`` grouped by the history store of their asset (none: not kept)."""
        stores: dict[int, tuple[MaterializationHistory, list[MaterializationRecord]]] = {}
        for record in records:
            store = self._book.history_of(self._book.graph[record.asset_key])
            if store is not None:
                stores.setdefault(id(store), (store, []))[1].append(record)
        return list(stores.values())

    def published(self, record: MaterializationRecord) -> None:
        with self._lock:
            self._history[record.asset_key] = AssetHistory(record, record)

    def attempted(self, record: MaterializationRecord) -> None:
        with self._lock:
            previous = self._history.get(record.asset_key, AssetHistory())
            self._history[record.asset_key] = AssetHistory(record, previous.last_success)

    def annotate(self, outcomes: Iterable[AssetOutcome]) -> None:
        """Give each outcome its code version, its state after this run (with reasons) and
        its table's last success, for the run report, ``--json`` and the asset pages; and
        to an outcome that published nothing, the rows its table still holds, when the
        history tells."""
        outcomes = list(outcomes)
        states = self._assessed(o.key for o in outcomes)
        for outcome in outcomes:
            state = states.get(outcome.key)
            if state is None:
                continue
            outcome.code_version = state.code_version
            outcome.state = state.state
            outcome.reasons = state.reasons
            outcome.upstream_failed_checks = state.upstream_failed_checks
            outcome.built_from_failed_checks = state.built_from_failed_checks
            outcome.last_success = state.last_success
            if self._published_nothing(outcome):
                outcome.kept_rows = self._book.history.get(outcome.key, AssetHistory()).table_rows
            if outcome.failed_its_checks:
                outcome.checked_reads = self._checked_reads(outcome)
                outcome.edited_checks = self._edited_checks(outcome)
                outcome.code_change = self._code_change(outcome.key)
            elif outcome.made_invalid_rows:
                outcome.code_change = self._code_change(outcome.key)

    def _edited_checks(self, outcome: AssetOutcome) -> tuple[EditedCheck, ...]:
        """The failed checks of ``outcome`` that differ from those its asset last passed
        (:func:`~orchestration.check_versions.edited_since`): this run's versions, as its
        record holds them, against its last success as the run began."""
        started = self._started.get(outcome.key)
        now = started.check_versions if started is not None else None
        declared = self._book.graph[outcome.key].checks
        return edited_since(outcome.checks, now, self._last_pass(outcome.key), declared)

    def _code_change(self, key: str) -> CodeChange | None:
        """``key``'s code version in this run, as its record holds it, against its last
        success's as the run began, if they differ (:class:`CodeChange`)."""
        started = self._started.get(key)
        passed = self._last_pass(key)
        if started is None or passed is None or passed.code_version == started.code_version:
            return None
        return CodeChange(since=passed, now=started.code_version)

    def _last_pass(self, key: str) -> MaterializationRecord | None:
        """``key``'s last success as the run began: the last run that passed its checks."""
        return self._book.history.get(key, AssetHistory()).last_success

    def _checked_reads(self, outcome: AssetOutcome) -> tuple[CheckedRead, ...]:
        """The other assets' tables the failed checks of ``outcome`` read, each with what
        this run did to it (:class:`CheckedRead`), from the graph's analysis of the
        checks' SQL. Asked only of an asset that failed its checks: the state of a table
        the run did not rebuild costs its asset's code version."""
        graph = self._book.graph
        upstream = graph.upstream_of(outcome.key)
        read = [
            (check.name, key)
            for check in outcome.checks
            if check.blocking
            for key in upstream.read_by_check(check.name)
        ]
        changes = {key: self._change_of(key) for _, key in read}
        return tuple(
            CheckedRead(check, key, graph[key].table, *changes[key]) for check, key in read
        )

    def _change_of(self, key: str) -> tuple[str, bool, bool, str | None]:
        """What this run did to ``key``'s table, in words, whether a rerun after the fix
        rebuilds it too (rebuilt by this run: what changed against the table as the run
        began; else its state now, stale (or missing) or fresh), whether it was changed
        outside the pipeline (one of its reasons), and what a page says of it with others
        alike, if nothing changed that a check could fail on (:attr:`CheckedRead.same`)."""
        started = self._started.get(key)
        with self._lock:
            held = self._history.get(key, AssetHistory()).holding
        if (
            held is not None
            and started is not None
            and held.materialization_id == started.materialization_id
        ):
            then = ", then failed its own checks" if held.failed_its_checks else ""
            before = self._book.history.get(key, AssetHistory())
            same = None if then else _rebuilt_the_same(before, held)
            return f"rebuilt this run{then}: {_what_changed(before, held)}", True, False, same
        state = self.states_now([key]).get(key)
        if state is None:  # its storage keeps no history: nothing tells
            return "not rebuilt this run", False, False, None
        if state.state == "fresh":
            return LEFT_FRESH, False, False, LEFT_FRESH
        outside = any(reason.kind == "changed_outside" for reason in state.reasons)
        return f"not rebuilt this run, {state.state}: {state.explain()}", True, outside, None

    def _published_nothing(self, outcome: AssetOutcome) -> bool:
        """Whether this run left ``outcome``'s table as the run found it: skipped, or its
        attempt recorded as failed without rows (it failed before publishing). An attempt
        whose record is not this run's failure (its success could not be recorded) may
        have published."""
        if outcome.status == "skipped":
            return True
        if outcome.status == "materialized" or outcome.result is not None:
            return False
        started = self._started.get(outcome.key)
        with self._lock:
            attempt = self._history.get(outcome.key, AssetHistory()).last_attempt
        return (
            started is not None
            and attempt is not None
            and attempt.materialization_id == started.materialization_id
            and attempt.status == "failed"
            and attempt.rows is None
        )

    def states_now(self, keys: Iterable[str]) -> dict[str, AssetState]:
        """The states of ``keys`` as ``pipeline status`` would report them now, this run's
        materializations included, without reading the history stores again.

        Only assets whose IO manager keeps a history have one: for the others nothing
        outlives a run, and ``status`` calls them ``missing`` whatever was built.
        """
        kept = self._book.with_history
        return self._assessed(key for key in keys if key in kept)

    def _assessed(self, keys: Iterable[str]) -> dict[str, AssetState]:
        book = self._book
        keys = list(keys)
        fingerprints = {key: book.fingerprint_of(book.graph[key]) for key in keys}
        versions = book.code_versions_of(keys)
        held = book.held_rows_of(self._untouched(keys))
        with self._lock:
            return assess(book.graph, versions, fingerprints, self._history, held)

    def _untouched(self, keys: Iterable[str]) -> list[str]:
        """Those of ``keys`` whose history this run left as it found it: the run wrote
        none of their tables, so a count of one, whenever the book took it, is compared
        with the record it is to be compared with. An asset this run materialized holds
        what its new record says, and a count the book took before the run (it keeps
        them) would read as a change made outside the pipeline."""
        before = self._book.history
        with self._lock:
            return [key for key in keys if self._history.get(key) == before.get(key)]
