"""Ctrl-C and SIGTERM end a run within seconds and leave no table half-published.

An asset runs in a worker thread that Python cannot stop: a ClickHouse statement, a
socket read, an asset's own sleep. Waiting for them is what kept interrupted runs alive
(and Prefect's flow engine replaces the SIGTERM handler of the thread it runs in). So
the run executes in a thread of its own while the main thread, which receives signals,
only waits. On SIGINT or SIGTERM the main thread

1. says so in one line;
2. asks every IO manager to stop (:meth:`IOManager.stop`): no publish starts any more,
   one in flight finishes (an ``EXCHANGE`` or an insert is all or nothing), this run's
   staging tables are dropped - all within :data:`STOP_SECONDS`;
3. waits, within the same bound, for the assets published meanwhile to be counted,
   checked and recorded by their workers, then prints the partial report: what was
   materialized, what was cancelled (an asset whose worker did not get that far says so);
4. ends the process at once with 130 or 143 (128 + the signal's number, as shells do).

A second signal while that happens stops at once, without the report, and a third is
let pass (:mod:`orchestration.stop_at_once`).

Once every asset has finished, the run still has steps of its own to take (its asset and
lineage pages, its run hooks, its final state: ``run_report.END_STEPS``): a signal then
cuts those left, and the report says which (``interrupted once all 29 assets had
finished; not done: the run hooks``). Once all it has left is its final state, the
signal lets it end (within :data:`STOP_SECONDS`) and stops nothing: the command closes
the warehouse and prints the whole report, ends as the run did, and says in one line
that the signal came too late (:class:`RunSignals`).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from orchestration.asset_page import run_warehouses
from orchestration.ctrl_c import end_if_ctrl_c_came
from orchestration.run_report import FINAL_STATE_STEP, AssetOutcome, MaterializationPlan, RunReport
from orchestration.uninterruptible import sections_ended

if TYPE_CHECKING:
    from orchestration.io_manager import IOManager

T = TypeVar("T")

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: How long a stop waits for a worker's uninterruptible section (an import) to end.
SECTION_SECONDS = 5.0
#: How long IO managers may take to finish a publish in flight and drop staging.
STOP_SECONDS = 5.0
#: What the report says of an asset whose table was published as the run stopped, before
#: its worker could count, check and record it (its history still says ``started``).
PUBLISHED_UNRECORDED = (
    "published as the run stopped, before its rows, checks and history were recorded "
    "(pipeline status calls it stale)"
)


def stopping_line(number: signal.Signals, *, ended: RunReport | None = None) -> str:
    """What a run says, once, when a signal stops it (``ended``: the run's report once
    every asset had ended, which leaves no table as it was)."""
    if ended is not None:
        return (
            f"interrupted ({number.name}): every asset has {ended.ended_as()}; the run stops "
            "before its last steps"
        )
    return (
        f"interrupted ({number.name}): stopping; finished tables are kept, the others are "
        "left as they were"
    )


def late_line(number: signal.Signals) -> str:
    """What a command says of a signal that came once its run had ended."""
    return f"interrupted ({number.name}) once the run had ended: nothing was stopped"


class OutcomeLog:
    """The outcomes a run reported so far (the resolver's ``on_progress``), thread-safe."""

    def __init__(self, forward: Callable[[AssetOutcome], None] | None = None) -> None:
        self._forward = forward
        self._lock = threading.Lock()
        self._recorded = threading.Condition(self._lock)
        self._outcomes: dict[str, AssetOutcome] = {}
        self._interrupted = False
        #: The run's Prefect flow run, once it began (:meth:`flow_run_began`).
        self.flow_run_id: str | None = None
        self._began: set[str] = set()
        self.started = time.perf_counter()
        #: Once every asset has finished: the run's report and the steps it has left
        #: (:meth:`steps_left`).
        self._ended: RunReport | None = None
        self._left: tuple[str, ...] = ()

    def record(self, outcome: AssetOutcome) -> None:
        with self._lock:
            if self._interrupted and outcome.status != "materialized" and outcome.result is None:
                # Failed because the interrupt stopped it (e.g. before publishing); one
                # that published and then failed (a check) keeps its failure.
                outcome = AssetOutcome(
                    key=outcome.key, table=outcome.table, status="cancelled", error="interrupted"
                )
            self._outcomes[outcome.key] = outcome
            self._recorded.notify_all()
        if self._forward is not None and not self._interrupted:
            self._forward(outcome)

    def flow_run_began(self, flow_run_id: str) -> None:
        """The resolver's ``on_flow_run``: an interrupt marks this run Cancelled."""
        self.flow_run_id = flow_run_id

    def asset_began(self, key: str) -> None:
        """The resolver's ``on_asset_start``: an interrupt marks the task run of ``key``
        once the server has it."""
        with self._lock:
            self._began.add(key)

    def began(self) -> frozenset[str]:
        """The assets whose task body began so far (:meth:`asset_began`)."""
        with self._lock:
            return frozenset(self._began)

    def steps_left(self, steps: Sequence[str], report: RunReport) -> None:
        """The resolver's ``on_step``: every asset has finished, as ``report`` has them,
        and the run has ``steps`` left to take, the first under way."""
        with self._lock:
            self._ended = report
            self._left = tuple(steps)

    def assets_ended(self) -> RunReport | None:
        """The run's report once every asset has ended (:meth:`steps_left` was called)."""
        with self._lock:
            return self._ended

    def ending(self) -> bool:
        """Whether all the run has left is its final state, which Prefect's engine sets
        once the flow's body returned: an interrupt lets it end rather than cut it."""
        with self._lock:
            return self._left == (FINAL_STATE_STEP,)

    def interrupt(self) -> None:
        """From now on an asset that does not materialize was cancelled, not failed."""
        with self._lock:
            self._interrupted = True

    def interrupted(self) -> bool:
        """Whether :meth:`interrupt` was called (the resolver's ``stopping``)."""
        return self._interrupted

    def wait_for(self, keys: Collection[str], timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for every one of ``keys`` to have its outcome;
        True if they all do. An asset published while the run was stopping (the publish
        in flight is let finish) is still being counted, checked and recorded in its
        history by its worker: its row in the report should say how that went."""
        with self._recorded:
            return self._recorded.wait_for(
                lambda: all(key in self._outcomes for key in keys), max(0.0, timeout)
            )

    def partial_report(
        self,
        selected: Sequence[tuple[str, str]],
        published: Collection[str] = (),
        warehouses: Sequence[str] = (),
    ) -> RunReport:
        """Every selected ``(key, table)``: its outcome if it has one; ``materialized``,
        not ``recorded``, if its table was published before the run could record it
        (``published``, from :meth:`IOManager.stop`): its rows and seconds are not known
        and its history still says it started; else ``cancelled``.

        Like a whole run's report it names the flow run (once it began) and
        ``warehouses``: Prefect keeps the interrupted run, Cancelled, with its logs, and
        a script reading ``--json`` goes on from its id.

        Once every asset had finished, the outcomes are the run's own (the skipped with
        their reasons) and the report names the steps the run had left (``cut``)."""
        with self._lock:
            ended, left = self._ended, self._left
        if ended is not None:
            return RunReport(
                outcomes=list(ended.outcomes),
                flow_run_id=self.flow_run_id,
                seconds=time.perf_counter() - self.started,
                warehouses=list(warehouses),
                cut=_cut(left),
            )
        with self._lock:
            outcomes = [
                self._outcomes.get(key)
                or (
                    AssetOutcome(
                        key=key,
                        table=table,
                        status="materialized",
                        error=PUBLISHED_UNRECORDED,
                        recorded=False,
                    )
                    if key in published
                    else AssetOutcome(key=key, table=table, status="cancelled", error="interrupted")
                )
                for key, table in selected
            ]
        return RunReport(
            outcomes=outcomes,
            flow_run_id=self.flow_run_id,
            seconds=time.perf_counter() - self.started,
            warehouses=list(warehouses),
        )


def _cut(left: Sequence[str]) -> list[str]:
    """The steps an interrupt cut, of those the run had ``left``: its final state is not
    among them (the interrupt marks the run Cancelled) unless it was all that was left,
    and did not come in time."""
    return [step for step in left if step != FINAL_STATE_STEP] or list(left)


def stop_run(
    io_managers: Mapping[str, IOManager], outcomes: OutcomeLog, plan: MaterializationPlan
) -> RunReport:
    """Stop a run of ``plan`` whose assets are still in flight; its partial report.

    Every IO manager is asked to stop (no publish starts any more, one in flight finishes,
    staging is dropped) within :data:`STOP_SECONDS`; within the same bound, the assets
    published meanwhile are waited for, to be counted, checked and recorded by their
    workers, so their rows say how that went rather than guess.
    """
    outcomes.interrupt()
    deadline = time.monotonic() + STOP_SECONDS
    published = {key for io in io_managers.values() for key in io.stop(STOP_SECONDS)}
    outcomes.wait_for(published, deadline - time.monotonic())
    selected = [(spec.key, spec.table) for spec in plan.selected]
    return outcomes.partial_report(selected, published, run_warehouses(plan, io_managers))


def stop_temporary_prefect_server() -> None:
    """Stop the temporary Prefect server this process started, if it did.

    It runs as a subprocess that Prefect stops from an exit handler, which ``os._exit``
    skips; left alone it would outlive the interrupted command.
    """
    server_module = sys.modules.get("prefect.server.api.server")
    if server_module is None:
        return  # Prefect's server code never loaded: no temporary server here
    for server in list(getattr(server_module.SubprocessASGIServer, "_instances", {}).values()):
        server.stop()


class RunSignals:
    """SIGINT and SIGTERM while a run works in a thread of its own, until the block ends.

    While the work runs, a signal stops it: ``on_interrupt`` (say so, stop the assets,
    report), then the process ends with 130 or 143 once the temporary Prefect server is
    stopped and the sections that must not be cut have ended. A second signal meanwhile
    runs ``at_once`` instead (bounded: let a publish in flight finish, mark the run), then
    the process ends the same way; further signals are let pass, which no longer printed
    a traceback. Without ``at_once`` (or once the first came too late), it ends the
    process at once.

    Given ``ending`` (whether the run has only its final state left), a caller reports a
    signal that came too late to stop anything (``late``): once the work has returned, or
    all it has left is its final state (waited for, up to :data:`STOP_SECONDS`), a signal
    stops nothing, and what the caller does until the block ends (closing the warehouse,
    printing the report) is done whole. It ended the command with 130 and no report, or
    marked a run Prefect had Completed as Cancelled.
    """

    def __init__(self) -> None:
        #: The signal that came once the run had ended, if one did (with ``ending``).
        self.late: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._signalled = threading.Event()
        self._work_ended = threading.Event()
        self._worker: threading.Thread | None = None
        self._on_interrupt: Callable[[signal.Signals], None] = lambda _number: None
        self._at_once: Callable[[signal.Signals], None] | None = None
        self._stopping = False
        self._hurried = False
        self._ending: Callable[[], bool] | None = None

    def __enter__(self) -> RunSignals:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def run(
        self,
        work: Callable[[], T],
        on_interrupt: Callable[[signal.Signals], None],
        *,
        ending: Callable[[], bool] | None = None,
        at_once: Callable[[signal.Signals], None] | None = None,
    ) -> T:
        """``work()`` in a thread; a signal meanwhile runs ``on_interrupt`` and ends the
        process, a second one during that runs ``at_once`` instead. It does not start
        once a Ctrl-C came that library code lost
        (:func:`~orchestration.ctrl_c.end_if_ctrl_c_came`)."""
        end_if_ctrl_c_came()
        if threading.current_thread() is not threading.main_thread():
            return work()  # signals reach only the main thread; nothing to arrange
        self._on_interrupt, self._ending, self._at_once = on_interrupt, ending, at_once
        result: list[T] = []
        failure: list[BaseException] = []

        def target() -> None:
            try:
                result.append(work())
            except BaseException as exc:  # handed back to the main thread, re-raised there
                failure.append(exc)
            finally:
                self._work_ended.set()

        self._previous = {number: signal.signal(number, self._handle) for number in EXIT_CODES}
        # The caller's context goes along: settings scoped with context variables (Prefect's
        # temporary_settings) must hold in the run.
        context = contextvars.copy_context()
        self._worker = threading.Thread(
            target=context.run, args=(target,), name="pipeline-run", daemon=True
        )
        self._worker.start()
        while self._worker.is_alive():
            self._worker.join(0.2)
        if failure:
            raise failure[0]
        return result[0]

    def _handle(self, signum: int, _frame: object) -> None:
        number = signal.Signals(signum)
        if self._hurried:
            return  # a third: the second's stop is under way, in bounds of its own
        if self._signalled.is_set():
            if self._at_once is None or not self._stopping:
                os._exit(EXIT_CODES[number])  # a second signal: no more patience
            # Run in this handler, on top of the first's stop, which never resumes.
            self._hurried = True
            self._end_after(self._at_once, number)
        self._signalled.set()
        if self._ended_by_now():
            self.late = number
            return
        self._stopping = True
        self._end_after(self._on_interrupt, number)

    def _end_after(self, stop: Callable[[signal.Signals], None], number: signal.Signals) -> None:
        """Run ``stop``, then end the process as signal ``number`` ends it."""
        try:
            stop(number)
            stop_temporary_prefect_server()
        finally:
            # A worker inside a section a stop must not cut (importing chdb, whose engine
            # directory only the import's end removes) is let finish it first.
            sections_ended(timeout=SECTION_SECONDS)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):  # a closed pipe: exit anyway
                    stream.flush()
            os._exit(EXIT_CODES[number])

    def _ended_by_now(self) -> bool:
        """Whether the run has ended, or, having only its final state left, ends within
        :data:`STOP_SECONDS`: then a signal stops nothing (only with ``ending``)."""
        if self._ending is None or self._worker is None:
            return False
        if not self._work_ended.is_set() and self._ending():
            self._work_ended.wait(STOP_SECONDS)
        return self._work_ended.is_set()


def run_interruptibly(work: Callable[[], T], on_interrupt: Callable[[signal.Signals], None]) -> T:
    """``work()`` in a thread; a signal runs ``on_interrupt`` and ends the process."""
    with RunSignals() as signals:
        return signals.run(work, on_interrupt)
