"""The scheduled materialization: a module-level Prefect flow and its deployment.

A deployment needs a flow Prefect can import by path (``orchestration/deployment.py:
materialize_assets``), so a worker or ``pipeline serve`` can start runs without the CLI.
The flow loads the code location, opens the warehouse from the environment and runs
the resolver's flow body *inside this flow run*, so a scheduled run looks exactly like a
``pipeline materialize`` run in the UI: one task per asset, the lineage artifact, the
asset events. Selection and source are deployment parameters; the warehouse address is
not (it may hold a password, and parameters are shown in the UI), it comes from
``WAREHOUSE_URL`` / ``CLICKHOUSE_*`` in the process that runs the flow. Nor is a source
URL with credentials or a token: ``pipeline serve`` hands that to the runs as
``PIPELINE_SOURCE``, used when the run's ``source`` parameter is empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from typing import TYPE_CHECKING, Any

from prefect import flow
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner
from prefect.task_runners import ThreadPoolTaskRunner

from orchestration.api_outage import watching_this_flow_run
from orchestration.asset_state import StateBook
from orchestration.definitions import load_definitions
from orchestration.interrupts import OutcomeLog
from orchestration.resolver import (
    DEFAULT_CONCURRENCY,
    build_flow,
    plan_refusing_unbuilt_upstream,
)
from orchestration.run_review import run_name_from_parameters
from orchestration.serve_reconnect import (
    configured_api,
    ending_when_api_lost,
    lost_api,
    lost_line,
    not_paused_line,
    wait_for_api,
)
from orchestration.served_outage import end_if_api_lost, quiet_served_run_logs
from orchestration.served_stop import end_stopped_run

if TYPE_CHECKING:
    from typing import Self

    from prefect.deployments.runner import RunnerDeployment

#: Daily at midnight UTC, as the system this replaces ran.
DEFAULT_CRON = "0 0 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DEPLOYMENT_NAME = "daily"
#: Same flow name as ``pipeline materialize`` runs, so the UI lists every materialization together.
FLOW_NAME = "materialize-assets"
#: How prefect.yaml names the flow (``prefect deploy`` wants a file path).
ENTRYPOINT = "orchestration/deployment.py:materialize_assets"
#: The source of runs whose ``source`` parameter is empty (a secret-bearing URL).
SOURCE_ENV = "PIPELINE_SOURCE"


@flow(
    name=FLOW_NAME,
    flow_run_name=run_name_from_parameters,
    # Prefect types task_runner invariantly; a thread pool runner is what it expects.
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_CONCURRENCY),  # type: ignore[arg-type]
    persist_result=False,
    description="Materialize the selected assets (all by default), one task per asset.",
)
def materialize_assets(select: str | None = None, source: str | None = None) -> Any:
    """Materialize ``select`` (Dagster selection syntax; all assets when empty).

    ``source`` is handed to ingest assets as ``context.params['source']`` (a path, a URL or
    ``synthetic[:ROWS[:SEED]]``); when it is empty, ``$PIPELINE_SOURCE`` is, if set. The
    run ends Failed when any asset fails or is skipped.
    With ``select='status:stale+'`` only what changed runs; when nothing did, the run
    completes at once with the message "nothing to materialize".
    """
    from prefect.states import Completed

    quiet_served_run_logs()
    # The run's own breaker, so that the run can tell, once it ends, whether it lost its API.
    outage = watching_this_flow_run()
    defs = load_definitions()
    graph = defs.graph()
    source = source or os.environ.get(SOURCE_ENV) or None
    params: dict[str, Any] = {"source": source} if source else {}
    with contextlib.ExitStack() as opened:
        # Planned on readers, as `pipeline materialize` plans: a refused selection leaves
        # the warehouse as it was (no new directory, no DDL applied to a server).
        readers = opened.enter_context(defs.read_io_managers())
        plan = plan_refusing_unbuilt_upstream(graph, readers, select or None, params)
        if not plan.selected:
            return Completed(message="nothing to materialize")
        io_managers = opened.enter_context(defs.open_io_managers())
        book = StateBook(graph, io_managers, params)
        outcomes = OutcomeLog()
        body, report = build_flow(
            plan,
            io_managers,
            params=params,
            book=book,
            outage=outage,
            on_progress=outcomes.record,
            on_flow_run=outcomes.flow_run_began,
            stopping=outcomes.interrupted,
        )
        try:
            # The body, not the flow: its tasks, artifact and final state belong to this run.
            state = body.fn(select, source)
        except (KeyboardInterrupt, TerminationSignal) as stop:  # its runner stops it
            end_stopped_run(stop, io_managers, outcomes, plan)
    end_if_api_lost(outage, report())  # once the warehouse is closed
    return state


def build_deployment(
    *,
    name: str = DEFAULT_DEPLOYMENT_NAME,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    select: str | None = None,
    source: str | None = None,
    work_pool_name: str | None = None,
) -> RunnerDeployment:
    """The deployment of :func:`materialize_assets` on a cron schedule.

    Without a work pool it is for ``serve`` (runs start in the serving process); with
    one, a worker of that pool picks the runs up (see ``prefect.yaml``).
    """
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    # Called outside an event loop, Prefect's sync/async helper returns the deployment.
    return materialize_assets.to_deployment(  # type: ignore[return-value]
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"select": select, "source": source},
        description=(
            f"Materialize {select or 'all assets'} on '{cron}' ({timezone}); "
            "one task per asset, lineage artifact per run."
        ),
        tags=["assets"],
        work_pool_name=work_pool_name,
        # Import by module name, so runs work wherever the package is installed (Docker).
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve(deployment: RunnerDeployment, *, limit: int | None = 1) -> signal.Signals | None:
    """Register the deployment and run its scheduled runs in this process until stopped;
    the signal that stopped it (None if it ended on its own).

    ``limit`` keeps runs from overlapping by default: two materializations of one
    warehouse at once would race for the same tables. Prefect's starting banner is left
    out: its links open the V1 UI, and the ``prefect deployment run`` it suggests finds
    no deployment in a shell whose ``PREFECT_API_URL`` is unset (the command says where
    the deployment is instead).

    Ctrl+C stops it as SIGTERM does (:class:`_StoppingRunner`): the runs in flight are
    cancelled, and stop as an interrupted materialize does (:mod:`orchestration.served_stop`).
    A Prefect API that stops answering does not stop it: it waits for the API, then serves
    again with a fresh runner (:mod:`orchestration.serve_reconnect`).
    """
    import asyncio

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    api = configured_api()
    try:
        while True:
            runner = _StoppingRunner(api, pause_on_shutdown=True, limit=limit)
            signal.signal(signal.SIGINT, runner.stop_on)
            signal.signal(signal.SIGTERM, runner.handle_sigterm)  # as its start() does
            try:
                runner.add_deployment(deployment)
                asyncio.run(runner.start())
            except (KeyboardInterrupt, TerminationSignal):
                break  # a second signal, or one before the runner served: it ends now
            except Exception as exc:
                cause = lost_api(exc, api)
                if cause is None:
                    raise
                if runner.stopped_by is not None:  # its way out met the API gone
                    runner.logger.warning(not_paused_line(api, cause))
                    break
                runner.lose_api(cause)  # it never served: the API went before it could
            if runner.stopped_by is not None or runner.lost is None:
                break
            try:
                wait_for_api(api)
            except KeyboardInterrupt:
                break  # its runner's handlers tell Ctrl+C from SIGTERM
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return runner.stopped_by


class _StoppingRunner(Runner):
    """Prefect's runner, which Ctrl+C stops as gracefully as SIGTERM.

    Left to Prefect, SIGINT ended its event loop at once: the run in flight was killed
    with it, and the Prefect UI showed it Running for ever (measured). SIGTERM was
    graceful - the runs in flight cancelled, each marked Cancelled - but the command
    exited 0 either way. Here both take the graceful way, a second signal ends it at once,
    and the signal is kept for the exit code.
    """

    stopped_by: signal.Signals | None = None
    #: Why its Prefect API stopped answering, which ended it (None: it did not).
    lost: str | None = None

    def __init__(self, api: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._api = api

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        poller = self._scheduled_run_poller
        poller._get_and_submit_flow_runs = ending_when_api_lost(  # type: ignore[method-assign]
            poller._get_and_submit_flow_runs, self._lose_api_now, self._api
        )
        return self

    @property
    def logger(self) -> logging.Logger:
        """The runner's log (Prefect's ``prefect.runner``), where serve says what it does."""
        return self._logger

    def lose_api(self, cause: str) -> None:
        """Record and say, once, that the API stopped answering."""
        if self.lost is None:
            self.lost = cause
            self._logger.warning(lost_line(self._api, cause))

    def _lose_api_now(self, cause: str) -> None:
        """End serving as its poll found the API gone: runs in flight end as they would
        (they lose the API too), and the schedule is left as it is (pausing it would be
        one more request retried for a minute, to a server that does not answer)."""
        self.lose_api(cause)
        self.pause_on_shutdown = False
        self._loops_task_group.cancel_scope.cancel()

    def stop_on(self, signum: int, _frame: object = None) -> None:
        if self.stopped_by is not None or not self.started or self.stopping:
            self.stopped_by = self.stopped_by or signal.Signals(signum)
            raise KeyboardInterrupt  # not serving yet, or asked twice: no more patience
        self.stopped_by = signal.Signals(signum)
        self._logger.info(
            "%s received: cancelling the runs in progress, then stopping", self.stopped_by.name
        )
        self.stopping = True
        self.execute_in_background(self.astop)

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """Prefect installs this for SIGTERM when the runner starts."""
        self.stop_on(signal.SIGTERM)
