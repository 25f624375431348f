"""``pipeline serve`` acts on a Cancel again once its Prefect API is back.

Prefect's runner (3.9) watches for runs set Cancelling (the UI's Cancel) with a
``FlowRunCancellingObserver``: an event stream, polled instead while the stream is down.
While a run is in flight and the API does not answer, three failed polls make it give up
for good ("Cancellation polling task failed. Execution will continue, but flow run
cancellation will fail."), and the runner does nothing about it. Serve notices an outage
only when Prefect's client gives up retrying its poll for runs (~60 s), and then serves
again with a fresh runner (:mod:`orchestration.serve_reconnect`); an outage shorter than
that left serve serving but blind to cancels: measured, a run cancelled after a 19 s
outage stayed Cancelling for 90 s, until serve was restarted.

So when the watch gives up, :func:`watching_again` waits for the API to answer (without
holding up the runner's loop), then starts a fresh watch as Prefect builds it, with the
runs in flight registered again, and catches up on a Cancel given meanwhile (a fresh
watch that connects at once only hears of cancels from then on).

An outage serve notices ends its runner, whose exit closes the watch and then waits for
the runs in flight to end: measured, a run cancelled once the API was back stayed
Cancelling, its asset sleeping on, and serve served again only once it ended. So such a
runner watches for cancels of those runs once the API answers, until they end
(:func:`watching_until_runs_end`). That watch gives up as any does if the API goes away
again meanwhile, and nothing else would notice (the runner no longer polls for runs, and
its own restart of a watch that gave up does nothing once it stopped serving): measured,
a run cancelled after the API's second return stayed Cancelling, its asset sleeping on.
So that watch is started afresh, the same way, each time it gives up while runs are in
flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from prefect._internal.observers import FlowRunCancellingObserver, OnFailureCallback

from orchestration.prefect_server import healthy
from orchestration.redaction import redact_url
from orchestration.serve_reconnect import PROBE_SECONDS, RETRY_SECONDS, unanswered
from orchestration.unanswered import api_not_answering, cause_in_words

if TYPE_CHECKING:
    import anyio

#: What serve logs when the watch gave up while its API answered (a server error, say).
RESTARTED = "Prefect's watch for cancelled runs stopped: started it again"
#: How often a runner that lost its API looks whether its runs in flight have ended.
RUNS_POLL_SECONDS = 1.0


def gave_up_line(api_url: str, cause: str) -> str:
    """The line serve logs once Prefect's watch for cancels gave up on an API that does
    not answer."""
    return api_not_answering(redact_url(api_url), cause, "cancelling runs waits for it")


def back_line(api_url: str) -> str:
    """The line serve logs once it watches for cancels again."""
    return f"the Prefect API at {redact_url(api_url)} answers again: cancelling runs works again"


def in_flight_line(api_url: str) -> str:
    """The line serve logs once it watches for cancels of the runs its lost runner left in
    flight, which serve waits for before it serves again."""
    return f"{back_line(api_url)}; serving again once the runs in flight end"


async def _answering(api_url: str) -> None:
    """Return once the API's health check says it is healthy (the probe is urllib's, in a
    thread: the runner's loop goes on meanwhile)."""
    import anyio

    while not await anyio.to_thread.run_sync(healthy, api_url, PROBE_SECONDS):
        await anyio.sleep(RETRY_SECONDS)


async def watching_again(
    dead: FlowRunCancellingObserver,
    install: Callable[[FlowRunCancellingObserver], None],
    exit_stack: AsyncExitStack,
    api_url: str,
    logger: logging.Logger,
) -> None:
    """Put a fresh watch for cancels in place of ``dead``, which gave up: once the API
    answers, one built as Prefect built ``dead`` (its callbacks, its polling interval) is
    entered into the runner's ``exit_stack`` (closed with the runner), given ``dead``'s
    runs in flight (those it had not yet passed on for cancelling) and handed to
    ``install`` at once, so that no run starts or ends unseen between the two. The caller
    cancels this as the runner stops."""
    import anyio

    cause = await anyio.to_thread.run_sync(unanswered, api_url) if api_url else None
    if cause is not None:
        logger.warning(gave_up_line(api_url, cause))
        await _answering(api_url)
    await _watching_anew(dead, install, exit_stack, logger)
    logger.warning(back_line(api_url) if cause is not None else RESTARTED)


async def watching_until_runs_end(
    current: Callable[[], FlowRunCancellingObserver],
    install: Callable[[FlowRunCancellingObserver], None],
    runs_in_flight: Callable[[], int],
    api_url: str,
    logger: logging.Logger,
) -> None:
    """For a runner that lost its API and waits for its runs in flight to end (its watch
    for cancels closed with it): once the API answers, a fresh watch in place of
    ``current()``, as :func:`watching_again` puts one, and another each time that one
    gives up (the API gone again: the runner no longer polls, so nothing else notices),
    all closed once ``runs_in_flight()`` is 0; return then, whether or not the API
    answered meanwhile."""
    import anyio

    async def watching(watches: AsyncExitStack) -> None:
        lost = True  # the API was gone as the runner ended
        while True:
            gave_up = anyio.Event()
            await _answering(api_url)
            await _watching_anew(current(), install, watches, logger, _setting(gave_up))
            logger.warning(in_flight_line(api_url) if lost else RESTARTED)
            await gave_up.wait()
            cause = await anyio.to_thread.run_sync(unanswered, api_url)
            lost = cause is not None
            if cause is not None:
                logger.warning(gave_up_line(api_url, cause))

    async with AsyncExitStack() as watches, anyio.create_task_group() as both:
        both.start_soon(watching, watches)
        while runs_in_flight():
            await anyio.sleep(RUNS_POLL_SECONDS)
        both.cancel_scope.cancel()


def _setting(event: anyio.Event) -> OnFailureCallback:
    """A watch's ``on_failure`` that sets ``event``: the watch gave up."""
    return lambda _flow_run_ids: event.set()


async def _watching_anew(
    dead: FlowRunCancellingObserver,
    install: Callable[[FlowRunCancellingObserver], None],
    exit_stack: AsyncExitStack,
    logger: logging.Logger,
    on_failure: OnFailureCallback | None = None,
) -> None:
    """A fresh watch for cancels, built as ``dead`` was (but for ``on_failure``, if
    given), entered into ``exit_stack``, with ``dead``'s runs in flight, handed to
    ``install``, having caught up on a Cancel given before it."""
    await dead.__aexit__(None, None, None)  # its client; the runner's exit finds it closed
    observer = await exit_stack.enter_async_context(
        FlowRunCancellingObserver(
            on_cancelling=dead.on_cancelling,
            polling_interval=dead.polling_interval,
            event_filter=dead._event_filter,
            on_failure=on_failure or dead.on_failure,
        )
    )
    for flow_run_id, registration in dead._registrations.items():
        if not registration.claimed:
            observer.add_in_flight_flow_run_id(flow_run_id)
    install(observer)
    # A Cancel given before the fresh watch's stream opened is not streamed to it.
    try:
        await observer._check_for_cancelled_flow_runs()
    except Exception as exc:  # the API gone again: the fresh watch meets that on its own
        logger.warning(
            "looking for a Cancel given while the API did not answer failed (%s): "
            "one given then may go unnoticed",
            cause_in_words(exc),
        )
