"""Turn (asset graph, selection) into a Prefect flow and run it.

One Prefect task per selected asset, named by its key and submitted once its *selected*
upstream assets have finished (:mod:`orchestration.dispatch`), with ``wait_for`` set to
their futures. Prefect therefore draws the asset graph as the run graph and runs independent
branches concurrently on a thread pool. An asset whose upstream failed does not run: its
task only ends ``Skipped``, naming the failed asset (:mod:`orchestration.skipping`).
Each task is a Prefect *materializing* task for the asset's
``clickhouse://<host>/<db>/<table>`` key with its upstream assets as asset deps, so
Prefect records materialization events with lineage.

A run that loses its Prefect API half way goes on without it and still reports
(:mod:`orchestration.api_outage`): its tables are the warehouse's, not Prefect's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.absent_source import absent_source_error
from orchestration.asset import AssetSpec
from orchestration.asset_code import SaidFailure, body_failure, said_failure
from orchestration.asset_reads import reads_of
from orchestration.asset_state import StateBook
from orchestration.checks import AssetCheckError, AssetCheckResult, evaluate_checks
from orchestration.concurrency import default_concurrency
from orchestration.context import AssetContext, discard_history_of, full_refresh_of, run_logger
from orchestration.crashed_run import mark_crashed, running_here
from orchestration.ddl_coverage import ddl_refusal
from orchestration.discarded_history import discarded_history_error
from orchestration.dispatch import critical_path_seconds, last_seconds, submit_when_ready
from orchestration.errors import (
    ExpectedError,
    InvalidRows,
    RebuildRequired,
    StorageFullError,
    chain_in_words,
    describe_error,
    storage_full,
)
from orchestration.final_state_lines import final_states_at_info
from orchestration.graph import AssetGraph
from orchestration.history import STOPPED
from orchestration.io_manager import IOManager, MaterializeResult
from orchestration.quick_exit import without_flow_heartbeats
from orchestration.recording import RunLedger
from orchestration.redaction import shown_source
from orchestration.report_output import next_sentence
from orchestration.report_told import report_says_it
from orchestration.rerun import run_options
from orchestration.run_hooks import (
    RunHook,
    call_hooks_of_idle_run,
    call_run_hooks,
    finished_run,
)
from orchestration.run_report import (
    END_STEPS,
    FINAL_STATE_STEP,
    HOOKS_STEP,
    PAGES_STEP,
    SKIPPED_HISTORY_STEP,
    AssetOutcome,
    MaterializationPlan,
    RunReport,
)
from orchestration.run_review import RunReview, run_name_from_parameters
from orchestration.skipping import (
    failed_ancestors,
    skip_reason,
    skipped_state,
    stopped_by,
    tolerated_upstream,
)
from orchestration.text_encoding import SOURCE_ENCODING_PARAM
from orchestration.unbuilt_upstream import unbuilt_upstream_error
from orchestration.unchosen_source import unchosen_source_error

if TYPE_CHECKING:
    from prefect.states import State

    from orchestration.api_outage import ApiOutage

ProgressCallback = Callable[[AssetOutcome], None]
#: Told, as each step a run takes once every asset has finished begins, the steps left
#: (that one first) and the run's report, whose outcomes are all there.
StepCallback = Callable[[Sequence[str], RunReport], None]

DEFAULT_CONCURRENCY = default_concurrency()


class MissingUpstreamError(ExpectedError, RuntimeError):
    """Unselected upstream tables the selection reads do not exist in the warehouse."""

    def __init__(self, missing: list[AssetSpec]) -> None:
        self.missing = missing
        names = ", ".join(f"{spec.key} ({spec.table})" for spec in missing)
        super().__init__(
            f"the selection reads upstream assets that are not in the warehouse: {names}. "
            "Materialize them first or add them to the selection (e.g. prefix it with '+')."
        )


class UnknownIOManagerError(ExpectedError, LookupError):
    """An asset names an IO manager that the run was not given."""


def plan_materialization(
    graph: AssetGraph,
    selection: str | None,
    book: StateBook | None = None,
    *,
    full_refresh: bool = False,
    discard_history: bool = False,
    run_options: tuple[tuple[str, str], ...] = (),
) -> MaterializationPlan:
    """Resolve a selection expression into what a run will materialize and read.

    ``book`` answers ``status:`` in the selection; without one, ``status:`` is an error.
    ``run_options`` are those the run's rerun passes on (:func:`rerun.run_options`).
    """
    selected = graph.select(selection, book.state_names if book else None)
    return MaterializationPlan(
        graph=graph,
        selected=selected,
        external=graph.external_upstream(spec.key for spec in selected),
        selection=selection,
        full_refresh=full_refresh,
        discard_history=discard_history,
        run_options=run_options,
    )


def plan_for_params(
    graph: AssetGraph,
    selection: str | None,
    book: StateBook | None,
    params: Mapping[str, Any],
) -> MaterializationPlan:
    """:func:`plan_materialization` with the run's ``--full-refresh``,
    ``--discard-history`` and the options its rerun passes on read from its parameters."""
    return plan_materialization(
        graph,
        selection,
        book,
        full_refresh=full_refresh_of(params),
        discard_history=discard_history_of(params),
        run_options=run_options(params),
    )


def check_external_upstream(
    plan: MaterializationPlan, io_managers: Mapping[str, IOManager], book: StateBook
) -> None:
    """Fail before any work if the selection reads an unselected upstream asset that no
    run ever materialized in this warehouse (:mod:`orchestration.unbuilt_upstream`), or
    whose table is missing. A selection without outside upstream asks nothing."""
    if not plan.external:
        return
    unbuilt = unbuilt_upstream_error(plan, book)
    if unbuilt is not None:
        raise unbuilt
    missing = [
        spec
        for spec in plan.external
        if not _io_manager_for(spec, io_managers).table_exists(spec.table)
    ]
    if missing:
        raise MissingUpstreamError(missing)


def check_runnable(
    plan: MaterializationPlan, io_managers: Mapping[str, IOManager], book: StateBook
) -> None:
    """Fail before any work on what a run of ``plan`` is refused for: upstream it reads
    that was never built or is missing (:func:`check_external_upstream`), or a default
    source, no source being chosen, loaded into assets built from another
    (:mod:`orchestration.unchosen_source`), a typed ``--source`` that a selected asset
    reads and is a path to no file (:mod:`orchestration.absent_source`), or a full
    refresh that would drop rows only insert-only tables keep, unconfirmed
    (:mod:`orchestration.discarded_history`); first, a selected asset whose table the
    code location's DDL does not create (:mod:`orchestration.ddl_coverage`)."""
    not_in_ddl = ddl_refusal(plan.graph, io_managers, plan.selected)
    if not_in_ddl is not None:
        raise not_in_ddl
    absent = absent_source_error(plan.selected, book.params)
    if absent is not None:
        raise absent
    check_external_upstream(plan, io_managers, book)
    unchosen = unchosen_source_error(plan, book)
    if unchosen is not None:
        raise unchosen
    discarded = discarded_history_error(plan, io_managers, book)
    if discarded is not None:
        raise discarded


def plan_or_refuse(
    graph: AssetGraph,
    readers: Mapping[str, IOManager],
    selection: str | None,
    params: Mapping[str, Any],
) -> MaterializationPlan:
    """A run's plan, made as ``pipeline plan`` makes it: on ``readers``, the IO managers
    that never create storage nor apply DDL. A run that would be refused
    (:func:`check_runnable`) is refused before opening the warehouse for the run would
    create it (a new embedded warehouse) or apply the DDL (any warehouse, a server too:
    it is never missing) for a run that cannot happen. The CLI and the scheduled
    deployment both plan this way; the run takes the plan as it is (its states are not
    read twice)."""
    book = StateBook(graph, readers, dict(params))
    plan = plan_for_params(graph, selection, book, params)
    check_runnable(plan, readers, book)
    return plan


def _io_manager_for(spec: AssetSpec, io_managers: Mapping[str, IOManager]) -> IOManager:
    try:
        return io_managers[spec.io_manager]
    except KeyError:
        raise UnknownIOManagerError(
            f"asset {spec.key!r} uses IO manager {spec.io_manager!r}, but this run only has "
            f"{sorted(io_managers)}"
        ) from None


def prefect_asset(spec: AssetSpec, io_manager: IOManager) -> Any:
    """The Prefect asset (key and properties) that stands for ``spec``'s table."""
    from prefect.assets import Asset, AssetProperties

    return Asset(
        key=io_manager.asset_uri(spec.table),
        properties=AssetProperties(
            name=spec.key,
            description=(spec.description or None) and spec.description[:2500],
            owners=list(spec.owners) or None,
        ),
    )


def asset_event_metadata(spec: AssetSpec, result: MaterializeResult) -> dict[str, Any]:
    """Metadata attached to the Prefect materialization event of one asset."""
    metadata: dict[str, Any] = {
        "table": result.table,
        "rows": result.rows,
        "seconds": round(result.seconds, 3),
        "columns": list(result.columns),
        "group": spec.group,
        "tags": dict(spec.tags),
        "kind": spec.kind,
        "write_mode": spec.write_mode,
        "schema": getattr(spec.schema, "__name__", None),
    }
    if result.bytes is not None:
        metadata["bytes"] = result.bytes
    if result.inserted_rows is not None:
        metadata["inserted_rows"] = result.inserted_rows
    metadata.update(result.metadata)
    return metadata


def failure_event_metadata(spec: AssetSpec, exc: BaseException) -> dict[str, Any]:
    """Payload of a failed materialization event: which table, and why it failed."""
    return {
        "table": spec.table,
        "group": spec.group,
        "error": body_failure(spec, exc, full=True)[:2000],
    }


class _RunRecorder:
    """Collects outcomes from worker threads; Prefect states are not parsed for this."""

    def __init__(
        self,
        on_progress: ProgressCallback | None,
        stopping: Callable[[], bool] | None = None,
        on_asset_start: Callable[[str], None] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.outcomes: dict[str, AssetOutcome] = {}
        #: The assets skipped so far, as their pages state them (settled): not among
        #: ``outcomes``, which hold what ran.
        self.skipped: dict[str, AssetOutcome] = {}
        self._on_progress = on_progress
        self._stopping = stopping
        self._on_asset_start = on_asset_start
        #: The full storage an asset met (the first): no asset starts after it.
        self.halted: StorageFullError | None = None

    def began(self, key: str) -> None:
        """Asset ``key``'s task body began: Prefect has been sent its task run."""
        if self._on_asset_start is not None:
            self._on_asset_start(key)

    def stopping(self) -> bool:
        """Whether the run is being stopped (interrupted), so its assets' failures are
        the stop's doing: each IO manager refuses to publish and drops staging."""
        return self._stopping is not None and self._stopping()

    def record(self, outcome: AssetOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.key] = outcome
        if self._on_progress is not None:
            self._on_progress(outcome)

    def failed(self) -> list[str]:
        """The assets failed so far (a copy, taken in one step: workers record meanwhile)."""
        with self._lock:
            return [key for key, outcome in self.outcomes.items() if outcome.status == "failed"]

    def record_skipped(self, outcome: AssetOutcome) -> None:
        with self._lock:
            self.skipped[outcome.key] = outcome

    def halt(self, full: StorageFullError) -> StorageFullError:
        """Start no more assets: ``full``'s storage has no room, and each would fail the
        same way. Returns the first full storage met, which the run's report names."""
        with self._lock:
            if self.halted is None:
                self.halted = full
            return self.halted


def _run_asset(
    spec: AssetSpec,
    io_manager: IOManager,
    target: Any,
    recorder: _RunRecorder,
    ledger: RunLedger,
    review: RunReview,
    context_for: Callable[[AssetSpec], AssetContext],
) -> MaterializeResult | State[Any]:
    """One asset's task body: materialize, check, record, review, report to Prefect."""
    from prefect.assets import add_asset_metadata

    started = time.perf_counter()
    recorder.began(spec.key)
    context = context_for(spec)
    sql = review.sql_of(spec, context)
    review.log_start(spec, sql, context.params)

    def settle(outcome: AssetOutcome) -> None:
        # Its state is settled now (every upstream has finished): the page shows it, and
        # which version of each upstream the attempt read, as its record says.
        if attempt is not None:
            outcome.upstream_read = attempt.record.upstream
        ledger.annotate([outcome])
        recorder.record(outcome)
        review.asset_finished(spec, outcome, sql)

    attempt = None
    #: Its checks' results, once evaluated on what publishing it would leave: a failing
    #: one stops the publish (the IO manager raises what this raises).
    gated: tuple[AssetCheckResult, ...] | None = None

    def before_publish(table: str) -> None:
        nonlocal gated
        gated = tuple(evaluate_checks(spec, io_manager, table))
        blocking = [check for check in gated if check.blocking]
        if blocking:
            raise AssetCheckError(spec.key, spec.table, blocking)

    try:
        attempt = ledger.start(spec, context.run_id)
        result = io_manager.materialize(
            spec, context, before_publish=before_publish if spec.checks else None
        )
        # An IO manager that cannot check before it publishes: its published table.
        checks = gated if gated is not None else tuple(evaluate_checks(spec, io_manager))
        blocking = [check for check in checks if check.blocking]
        failure = AssetCheckError(spec.key, spec.table, blocking) if blocking else None
        if failure:
            attempt.failed(describe_error(failure), result)
        else:
            attempt.succeeded(result)
    except Exception as exc:
        # Failing while the run is stopped is the stop's doing (its IO manager refused to
        # publish, dropped the staging table): cancelled, not the asset's failure.
        stopped = recorder.stopping()
        said = SaidFailure(STOPPED) if stopped else _failure(spec, exc, recorder)
        error = said.error
        # Its checks stopped its publish: the results say why, as a published table's do.
        unpublished = gated if isinstance(exc, AssetCheckError) and gated is not None else ()
        if attempt is not None and attempt.record.status == "started":
            attempt.failed(said.full_error or error)  # the history keeps the whole of it
        outcome = AssetOutcome(
            key=spec.key,
            table=spec.table,
            status="cancelled" if stopped else "failed",
            seconds=time.perf_counter() - started,
            error=error,
            full_error=said.full_error,
            place=said.place,
            cause=said.cause,
            full_cause=said.full_cause,
            error_chain=said.chain,
            foreseen=stopped or isinstance(exc, ExpectedError),
            needs_full_refresh=isinstance(exc, RebuildRequired),
            rebuild_loses_rows=isinstance(exc, RebuildRequired) and exc.loses_rows,
            made_invalid_rows=isinstance(exc, InvalidRows),
            checks=unpublished,
        )
        settle(outcome)
        # Prefect emits prefect.asset.materialization.failed; say why in its payload.
        failed = failure_event_metadata(spec, exc)
        if unpublished:
            failed["checks"] = [check.as_dict() for check in unpublished]
        add_asset_metadata(target, failed)
        if stopped:
            from prefect.states import Cancelled

            return Cancelled(message=error)  # no traceback in the run's log for it
        if outcome.foreseen:
            return _failed_in_its_own_words(error)
        raise
    metadata = asset_event_metadata(spec, result)
    if checks:
        metadata["checks"] = [check.as_dict() for check in checks]
    if failure:
        metadata.update(failure_event_metadata(spec, failure))
    metadata["code_version"] = attempt.record.code_version
    add_asset_metadata(target, metadata)
    settle(
        AssetOutcome(
            key=spec.key,
            table=spec.table,
            status="failed" if failure else "materialized",
            seconds=time.perf_counter() - started,
            result=result,
            error=describe_error(failure) if failure else None,
            cause=failure.cause if failure else None,
            error_chain=chain_in_words(failure) if failure else (),
            foreseen=failure is not None,  # an AssetCheckError: the checks say why
            checks=checks,
            files={what: str(path) for what, path in context.files.items()},
        )
    )
    if failure:
        return _failed_in_its_own_words(describe_error(failure))
    return result


def _failure(spec: AssetSpec, exc: Exception, recorder: _RunRecorder) -> SaidFailure:
    """``spec``'s cause (:func:`said_failure`); a full storage (:func:`storage_full`) also
    stops the run from starting more assets. An asset already running when another met
    it, and meeting it too, says the first one's: the report's error block then says the
    cause once (its words differ only in the bytes free)."""
    full = storage_full(exc)
    if full is None:
        return said_failure(spec, exc)
    first = recorder.halt(full)
    if exc is full and type(first) is type(full) and first.where == full.where:
        return said_failure(spec, first)
    return said_failure(spec, exc)


def _failed_in_its_own_words(error: str) -> State[Any]:
    """The Failed state of an asset whose failure was foreseen (its checks failed, a bad
    source): its message says it all. Raised, it was logged again by Prefect with the
    framework's traceback, which read as a crash on the run's Logs tab; a bug's failure
    is raised, so its traceback is there."""
    from prefect.states import Failed

    return Failed(message=error)


def _asset_task(
    spec: AssetSpec,
    plan: MaterializationPlan,
    io_managers: Mapping[str, IOManager],
    recorder: _RunRecorder,
    ledger: RunLedger,
    review: RunReview,
    context_for: Callable[[AssetSpec], AssetContext],
    skipped: bool = False,
) -> Any:
    """A Prefect materializing task that computes and publishes one asset; or, for an asset
    ``skipped`` since an upstream did not materialize, one that writes its page of this
    run and ends in the skipped state (:func:`_skip_asset`)."""
    from prefect.assets import materialize as materializing_task
    from prefect.cache_policies import NO_CACHE

    io_manager = _io_manager_for(spec, io_managers)
    target = prefect_asset(spec, io_manager)
    upstream = [
        prefect_asset(plan.graph[dep], _io_manager_for(plan.graph[dep], io_managers))
        for dep in spec.deps
    ]

    def run_asset() -> MaterializeResult | State[Any]:
        # Prefect tokenizes a task function's source when it builds the task (to key a
        # cache we do not use): a two-line body keeps that cheap for every asset.
        return _run_asset(spec, io_manager, target, recorder, ledger, review, context_for)

    def skip_asset() -> State[Any]:
        return _skip_asset(spec, plan.graph, recorder, ledger, review, context_for)

    return materializing_task(
        target,
        asset_deps=upstream,
        name=spec.key,
        task_run_name=spec.key,
        description=spec.description or None,
        # No task tags: each tag costs a concurrency-slot request to the Prefect server per
        # task (seconds per run on SQLite when it is busy; bench/tag_cost.py). The flow
        # run carries the selection's tags; group and tags travel in the event metadata.
        cache_policy=NO_CACHE,
        persist_result=False,
        retries=0,
    )(skip_asset if skipped else run_asset)


def _skip_asset(
    spec: AssetSpec,
    graph: AssetGraph,
    recorder: _RunRecorder,
    ledger: RunLedger,
    review: RunReview,
    context_for: Callable[[AssetSpec], AssetContext],
) -> State[Any]:
    """A skipped asset's task body: it writes the asset's page of this run and ends in the
    skipped state, saying why.

    Without a page of this run, the run's links to the asset (its lineage row, its
    neighbours' pages) led to the last run's page, whose "This run: materialized" read as
    this run's doing. Its state is settled now (every upstream has finished), as a
    finished asset's is; the page is one request, on the page writer like the others.
    """
    reason, outcome = _unrun_outcome(spec, graph, recorder.failed(), recorder.halted)
    ledger.annotate([outcome])
    recorder.record_skipped(outcome)
    review.asset_finished(spec, outcome, review.sql_of(spec, context_for(spec)))
    return skipped_state(reason)


def _unrun_outcome(
    spec: AssetSpec, graph: AssetGraph, failed: list[str], halted: StorageFullError | None
) -> tuple[str, AssetOutcome]:
    """Why an asset did not run, and its outcome: the run stopped at a full storage
    (``halted``: every asset after it would have failed the same way), else the
    ``failed`` upstream that stopped it (none: the run stopped before it)."""
    blockers = failed_ancestors(graph, spec.key, failed)
    reason = halted.skip_reason if halted is not None else skip_reason(blockers)
    outcome = AssetOutcome(
        key=spec.key, table=spec.table, status="skipped", failed_upstream=blockers, error=reason
    )
    return reason, outcome


def _step_teller(
    report: RunReport, run_hooks: Sequence[RunHook], on_step: StepCallback | None
) -> Callable[[str], None]:
    """What tells ``on_step`` that a step of the run's end (:data:`END_STEPS`) begins, with
    the steps left as this run takes them: one with no skipped asset records none, one
    with no hook calls none."""
    taken = {
        SKIPPED_HISTORY_STEP: bool(report.by_status("skipped")),
        HOOKS_STEP: bool(run_hooks),
    }

    def begins(step: str) -> None:
        if on_step is not None:
            left = END_STEPS[END_STEPS.index(step) :]
            on_step([later for later in left if taken.get(later, True)], report)

    return begins


def _skipped_outcomes(plan: MaterializationPlan, recorder: _RunRecorder) -> list[AssetOutcome]:
    """Outcomes in plan order; assets that never ran say what stopped them."""
    failed = recorder.failed()
    return [
        recorder.outcomes.get(spec.key)
        or recorder.skipped.get(spec.key)
        or _unrun_outcome(spec, plan.graph, failed, recorder.halted)[1]
        for spec in plan.selected
    ]


def build_flow(
    plan: MaterializationPlan,
    io_managers: Mapping[str, IOManager],
    *,
    params: Mapping[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    flow_name: str = "materialize-assets",
    flow_run_name: str | None = None,
    book: StateBook | None = None,
    outage: ApiOutage | None = None,
    on_flow_run: Callable[[str], None] | None = None,
    stopping: Callable[[], bool] | None = None,
    on_asset_start: Callable[[str], None] | None = None,
    run_hooks: Sequence[RunHook] = (),
    on_step: StepCallback | None = None,
) -> tuple[Any, Callable[[], RunReport]]:
    """Build the Prefect flow for a plan; returns the flow and a function giving its report.

    The flow's final state is Failed when any selected asset failed or was skipped.
    Every asset's materialization is recorded in its IO manager's history, with the code
    versions and fingerprints of ``book`` (taken when the flow starts if not given). The
    run is named ``flow_run_name``, else after its selection. Should its Prefect API stop
    answering, the run goes on without it and its report says so (``prefect_error``):
    ``outage`` is the breaker of the client the run is given, else one watching the
    client of the flow run the body finds itself in. ``on_flow_run`` is told the flow
    run's id as it begins (an interrupt marks that run Cancelled); ``stopping`` says when
    the run is being stopped: an asset failing then ends Cancelled, not Failed;
    ``on_asset_start`` is told each asset's key as its task body begins (an interrupt
    waits for the server to have those task runs before it marks them). Its task runs'
    final states are logged at INFO (:mod:`orchestration.final_state_lines`). Once its
    report is complete, the flow tells ``run_hooks`` how it ended; what they raise is the
    report's ``warnings``, and leaves its state as its assets decided it. ``on_step`` is
    told as each step of the run's end begins (:data:`StepCallback`): an interrupt then
    cuts those left, and says so.
    """
    from prefect.runtime import flow_run
    from prefect.states import Completed, Failed
    from prefect.task_runners import ThreadPoolTaskRunner

    from orchestration.api_outage import watching_this_flow_run
    from orchestration.plain_parameter_flow import PlainParameterFlow

    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    final_states_at_info()  # each failure told once at ERROR on the run's Logs tab
    run_params = dict(params or {})
    recorder = _RunRecorder(on_progress, stopping, on_asset_start)
    selected = plan.selected_keys
    report = RunReport(outcomes=[])

    def materialize_assets(
        select: str | None = None, source: str | None = None, source_encoding: str | None = None
    ) -> Any:
        # ``select``, ``source`` and its encoding are shown as the run's parameters, as a
        # served run's (orchestration.deployment); the plan and the run parameters this
        # flow was built with are what it runs.
        started = time.perf_counter()
        load_datetime = datetime.now(UTC).replace(microsecond=0)
        run_id = flow_run.get_id()
        if on_flow_run is not None and run_id:
            on_flow_run(run_id)
        run_book = book or StateBook(plan.graph, io_managers, run_params)
        ledger = RunLedger(run_book, plan.selected_keys)
        run_outage = outage or watching_this_flow_run()
        # The first asset to start records every selected asset's code version: computed
        # here, a schema module of the user's that cannot be imported fails the run in its
        # own words before any asset starts, not as the first asset's failure.
        run_book.code_versions_of(selected)

        def context_for(spec: AssetSpec) -> AssetContext:
            return AssetContext(
                spec=spec,
                # Its queries may read only what the graph knows it reads.
                io_manager=reads_of(_io_manager_for(spec, io_managers), spec, plan.graph),
                load_datetime=load_datetime,
                params=run_params,
                run_id=run_id,
                log=run_logger(),  # called in the asset's task: its lines are in the run's logs
            )

        with (
            running_here(run_id),
            RunReview(
                plan, io_managers, run_params, run_outage, ledger.states_now, run_book.history
            ) as review,
        ):
            if run_id:  # a run killed outright is shown Crashed, not Running for ever
                mark_crashed(run_book, run_id, run_outage, run_logger())
            skipped_runs: set[UUID] = set()  # task run ids of the assets skipped so far

            def submit(spec: AssetSpec, upstream: list[Any]) -> Any:
                # Every upstream task is done: settle here whether this asset can run.
                why = stopped_by(plan.graph, spec.key, spec.deps, selected, recorder.outcomes)
                skipped = why is not None or recorder.halted is not None
                task = _asset_task(
                    spec, plan, io_managers, recorder, ledger, review, context_for, skipped
                )
                if not skipped:
                    return task.submit(wait_for=upstream)
                future = task.submit(wait_for=tolerated_upstream(upstream, skipped_runs))
                skipped_runs.add(future.task_run_id)
                return future

            urgency = critical_path_seconds(plan.selected, last_seconds(run_book.history))
            submit_when_ready(plan.selected, submit, limit=concurrency, urgency=urgency)
            report.outcomes = _skipped_outcomes(plan, recorder)
            step_begins = _step_teller(report, run_hooks, on_step)
            step_begins(SKIPPED_HISTORY_STEP)  # every asset has finished
            ledger.skipped(o for o in report.outcomes if o.status == "skipped")
            # Finished and skipped assets were annotated as they settled; only those the
            # run never reached (it was stopped) remain.
            ledger.annotate(o for o in report.outcomes if o.state is None)
            report.flow_run_id = run_id
            report.seconds = time.perf_counter() - started
            report.warehouses = review.warehouses()
            step_begins(PAGES_STEP)
            lineage = review.finish(report)
            report.lineage_artifact_id = str(lineage) if lineage else None
            report.prefect_error = run_outage.message()
        finished = finished_run(report, run_params, io_managers, run_logger())
        step_begins(HOOKS_STEP)
        report.warnings = call_run_hooks(run_hooks, finished)
        step_begins(FINAL_STATE_STEP)
        if report.ok:
            return Completed(message=report.summary())
        sentence = next_sentence(plan, report)
        if sentence is not None:  # the run's log ends with it, as the terminal's report does
            run_logger().info(sentence, extra=report_says_it())
        return Failed(message=report.failure_summary())

    run_flow = PlainParameterFlow(
        materialize_assets,
        name=flow_name,
        flow_run_name=flow_run_name or run_name_from_parameters,
        # Prefect types task_runner invariantly; a thread pool runner is what it expects.
        task_runner=ThreadPoolTaskRunner(max_workers=concurrency),  # type: ignore[arg-type]
        persist_result=False,
        validate_parameters=False,
    )
    return run_flow, lambda: report


def _lost_api(report: RunReport, outage: ApiOutage, exc: Exception) -> RunReport | None:
    """The run's report if ``exc`` is its Prefect API gone after its assets ran (the
    engine could not record the run's end); None if ``exc`` is something else. An API
    gone before they ran is one line, since nothing was materialized."""
    from orchestration.api_outage import lost_cause, unreachable_before_the_run
    from orchestration.prefect_setup import PrefectApiUnreachableError

    cause = lost_cause(exc)
    if cause is None:
        return None
    if not report.outcomes:
        raise PrefectApiUnreachableError(unreachable_before_the_run(outage.url, cause)) from exc
    # Gone after the run's last page, only the engine found out: the report says so too.
    report.prefect_error = outage.message()
    return report


def materialize(
    graph: AssetGraph,
    io_managers: Mapping[str, IOManager],
    selection: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_progress: ProgressCallback | None = None,
    flow_run_name: str | None = None,
    book: StateBook | None = None,
    plan: MaterializationPlan | None = None,
    on_flow_run: Callable[[str], None] | None = None,
    stopping: Callable[[], bool] | None = None,
    on_asset_start: Callable[[str], None] | None = None,
    run_hooks: Sequence[RunHook] = (),
    on_step: StepCallback | None = None,
) -> RunReport:
    """Materialize the selected assets in one Prefect flow run and report each outcome.

    A ``status:`` selection that selects nothing (nothing is stale) runs no flow and
    returns an empty report. A selection that reads an unselected upstream asset never
    materialized in this warehouse, or whose table is missing, a run given no source
    that would load the default into assets built from another, or a full refresh that
    would drop rows only insert-only tables keep without ``discard_history`` in
    ``params``, raises before any work (:func:`check_runnable`). ``book`` is the
    caller's, if it already read the states; ``plan`` too, if it already resolved
    ``selection`` (which is then not parsed again). The run sends no flow heartbeats
    unless ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` is set (:mod:`orchestration.quick_exit`).
    A run whose Prefect API stopped answering after its assets ran returns its report,
    which says so (``prefect_error``); one whose API was gone before raises
    ``PrefectApiUnreachableError``. ``on_flow_run``, ``stopping``, ``on_asset_start``,
    ``run_hooks`` and ``on_step`` are :func:`build_flow`'s; an empty selection tells the
    hooks of a run with no asset.
    """
    book = book or StateBook(graph, io_managers, params)
    plan = plan or plan_for_params(graph, selection, book, params or {})
    if not plan.selected:
        return RunReport(
            outcomes=[], warnings=call_hooks_of_idle_run(run_hooks, params or {}, io_managers)
        )
    for spec in plan.selected + plan.external:
        _io_manager_for(spec, io_managers)
    book.history  # noqa: B018 - read now, so a broken history store fails before any work
    check_runnable(plan, io_managers, book)
    from orchestration.api_outage import ApiOutage, api_url

    outage = ApiOutage(api_url())
    flow, report = build_flow(
        plan,
        io_managers,
        params=params,
        concurrency=concurrency,
        on_progress=on_progress,
        flow_run_name=flow_run_name,
        book=book,
        outage=outage,
        on_flow_run=on_flow_run,
        stopping=stopping,
        on_asset_start=on_asset_start,
        run_hooks=run_hooks,
        on_step=on_step,
    )
    book.prefetch_code_versions(plan.selected_keys)
    # One run, then done: no heartbeat thread to join at its end (up to 1 s of waiting).
    with without_flow_heartbeats():
        # The parameters are what the UI shows: the source without a URL's secrets.
        shown = shown_source((params or {}).get("source"))
        try:
            with outage.client_context():  # the engine's, its tasks' and the pages' client
                state = flow(
                    select=plan.selection,
                    source=shown,
                    source_encoding=(params or {}).get(SOURCE_ENCODING_PARAM),
                    return_state=True,
                )
        except Exception as exc:
            lost = _lost_api(report(), outage, exc)
            if lost is None:
                raise
            return lost
    run_report = report()
    if plan.selected and not run_report.outcomes:
        if state.is_failed():
            state.result(raise_on_failure=True)  # what the flow's body raised, as it was
        raise RuntimeError(f"the flow run ended {state.name} before any asset ran: {state.message}")
    return run_report
