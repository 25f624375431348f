"""Serving a deployment in this process: ``pipeline serve``'s loop around Prefect's runner.

Kept apart from :mod:`orchestration.deployment`, which declares *what* runs (the flow and
its scheduled deployment, imported by every run Prefect starts), because this is *how*
``pipeline serve`` keeps running it, and only serve needs it: the signal handling that
stops the runs in flight cleanly (:class:`_StoppingRunner`, a subclass of Prefect's
``Runner``), the loop that outlives a Prefect API that stops answering, serving again
once it is back (:mod:`orchestration.serve_reconnect`), and the heartbeats by which two
serves of one deployment know of each other (:mod:`orchestration.serve_presence`). A
run's process imports the flow, never this.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec

from prefect.exceptions import TerminationSignal
from prefect.runner import Runner

from orchestration.cancel_watch import watching_again, watching_until_runs_end
from orchestration.runner_cancel import keeping_its_own_cancel
from orchestration.serve_presence import (
    HEARTBEAT_SECONDS,
    Presence,
    ServingProcess,
    already_serving_line,
    still_serving_line,
)
from orchestration.serve_reconnect import (
    configured_api,
    ending_when_api_lost,
    lost_api,
    lost_line,
    not_paused_line,
    wait_for_api,
)

if TYPE_CHECKING:
    from typing import Self

    from prefect._internal.observers import FlowRunCancellingObserver
    from prefect.deployments.runner import RunnerDeployment

P = ParamSpec("P")


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
    again with a fresh runner (:mod:`orchestration.serve_reconnect`). It says that it
    serves in heartbeat events, warns when another process serves the deployment too, and
    leaves the schedule active when it stops while another still serves it
    (:mod:`orchestration.serve_presence`).
    """
    import asyncio

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    api = configured_api()
    me = ServingProcess.for_this_process()  # one process, however many runners it takes
    label = f"{deployment.flow_name}/{deployment.name}"
    try:
        while True:
            runner = _StoppingRunner(api, me, label, pause_on_shutdown=True, limit=limit)
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
            except KeyboardInterrupt:  # its runner's handlers tell Ctrl+C from SIGTERM
                # Said as when a stop meets the API gone: no runner runs, and the schedule
                # it pauses on its way out stays active on the server.
                runner.logger.warning(not_paused_line(api, runner.lost))
                break
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
    and the signal is kept for the exit code. A run that marked itself Cancelled as it
    stopped keeps its own message (:mod:`orchestration.runner_cancel`). Prefect's watch
    for cancels, which gives up for good when its API stops answering, watches again once
    the API is back (:mod:`orchestration.cancel_watch`). Before its first poll for runs it
    says that it serves, and warns if another process serves its deployment too; on its way
    out it pauses the schedule only if none does (:mod:`orchestration.serve_presence`).
    """

    stopped_by: signal.Signals | None = None
    #: Why its Prefect API stopped answering, which ended it (None: it did not).
    lost: str | None = None

    def __init__(self, api: str, me: ServingProcess, label: str, **kwargs: Any) -> None:
        """``me`` names the serving process in its heartbeats, ``label`` the deployment
        (``flow/name``) in its lines."""
        super().__init__(**kwargs)
        self._api = api
        self._presence = Presence(me, every=max(HEARTBEAT_SECONDS, self.query_seconds))
        self._label = label
        self._told_of_others = False

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        poller = self._scheduled_run_poller
        poller._get_and_submit_flow_runs = ending_when_api_lost(  # type: ignore[method-assign]
            self._saying_it_serves(poller._get_and_submit_flow_runs), self._lose_api_now, self._api
        )
        cancelling = self._cancellation_manager
        cancelling._finalize_cancelled_state = keeping_its_own_cancel(  # type: ignore[method-assign]
            cancelling._finalize_cancelled_state, self._client.read_flow_run
        )
        return self

    def _saying_it_serves(
        self, poll: Callable[P, Awaitable[None]]
    ) -> Callable[P, Coroutine[Any, Any, None]]:
        """``poll`` (the runner's poll for runs), after a heartbeat when one is due, and,
        before the first, a warning if another process serves the deployment too."""

        async def polling(*args: P.args, **kwargs: P.kwargs) -> None:
            self._presence.beat(self._deployment_ids())
            if not self._told_of_others:
                self._told_of_others = True
                if others := await self._others_serving():
                    self._logger.warning(already_serving_line(self._label, others))
            await poll(*args, **kwargs)

        return polling

    def _deployment_ids(self) -> list[str]:
        return [str(id_) for id_ in self._deployment_registry.get_deployment_ids()]

    async def _others_serving(self) -> list[str] | None:
        """The other processes serving the deployment, by name; None when the API answers
        the question with an error, said in one line (an API that does not answer is
        serve's outage, :mod:`orchestration.serve_reconnect`)."""
        from prefect.exceptions import PrefectHTTPStatusError

        try:
            return await self._presence.others(self._client, self._deployment_ids())
        except PrefectHTTPStatusError as error:
            self._logger.warning(
                "could not tell whether another process serves deployment '%s': the Prefect "
                "API answered HTTP %s",
                self._label,
                error.response.status_code,
            )
            return None

    async def _pause_schedules(self) -> None:
        """Pause the schedule as Prefect's runner does on its way out, unless another
        process still serves the deployment: then it stays active for that one."""
        others = await self._others_serving()
        self._presence.stopped(self._deployment_ids())
        if others:
            self._logger.info(still_serving_line(self._label, others))
            return
        await super()._pause_schedules()

    async def _handle_cancellation_observer_failure(self) -> None:
        """Prefect's watch for cancels gave up: as Prefect does (it may stop the runner),
        then a fresh watch once the API answers, unless the runner stops first."""
        import anyio

        await super()._handle_cancellation_observer_failure()
        dead = self._cancelling_observer
        if dead is None or self.stopping or not self.started:
            return
        with anyio.CancelScope() as waiting:
            self._exit_stack.callback(waiting.cancel)  # the runner's exit does not wait on it
            await watching_again(
                dead,
                self._watch_cancels_with,
                self._exit_stack,
                self._api,
                self._logger,
            )

    def _watch_cancels_with(self, observer: FlowRunCancellingObserver) -> None:
        self._cancelling_observer = observer

    def _watching_cancels(self) -> FlowRunCancellingObserver:
        watch = self._cancelling_observer
        if watch is None:  # set as the runner starts, before it serves
            raise RuntimeError("the runner has no watch for cancels: it never started")
        return watch

    async def _watch_cancels_until_runs_end(self) -> None:
        """Its runs in flight stay cancellable while its exit waits for them to end."""
        await watching_until_runs_end(
            self._watching_cancels,
            self._watch_cancels_with,
            self._process_manager.flow_run_count,
            self._api,
            self._logger,
        )

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
        one more request retried for a minute, to a server that does not answer).
        Its exit closes its watch for cancels, then waits for its runs in flight to end,
        which may take hours: a fresh watch for cancels of them runs meanwhile once the
        API answers (:func:`orchestration.cancel_watch.watching_until_runs_end`)."""
        self.lose_api(cause)
        self.pause_on_shutdown = False
        if self._process_manager.flow_run_count():
            self._runs_task_group.start_soon(self._watch_cancels_until_runs_end)
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
