"""``pipeline serve`` outlives an outage of its Prefect API, and says so in one line.

Measured (Prefect 3.9, serve idle, its server stopped): the runner's poll for scheduled
runs met the dead server, Prefect's client retried each poll for ~62 s, and after three
failed polls Prefect's poll loop printed "Failed the last 3 attempts" with a traceback on
stdout and raised ``RuntimeError("Service exceeded error threshold.")``; the runner then
tried to pause the deployment's schedule on its way out, which retried for another ~62 s
and raised ``httpx.ConnectError``, so serve exited 1 after ~4 min with "error: All
connection attempts failed", naming no API. A scheduler is meant to outlive a restart of
its server.

So a poll that fails because the API does not answer (a transport error, and the API's
health check gets no answer either: not one connection's bad luck, which Prefect's loop
tolerates) ends that runner quietly, in one line, without pausing a schedule it cannot
reach; :func:`orchestration.serving.serve` then waits for the API to answer and serves
again with a fresh runner, which registers the deployment anew (a server restarted on an
empty database gets it back too).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec

import httpx

from orchestration.exception_chain import exception_chain
from orchestration.prefect_server import healthy
from orchestration.redaction import redact_url
from orchestration.unanswered import api_not_answering, health_problem

P = ParamSpec("P")
#: How long one health probe waits for an answer, and how often the API is probed while
#: it does not answer.
PROBE_SECONDS = 2.0
RETRY_SECONDS = 3.0


def configured_api() -> str:
    """The Prefect API this process talks to (``PREFECT_API_URL``; empty with Prefect's
    temporary server)."""
    from prefect.settings import get_current_settings

    return str(get_current_settings().api.url or "").rstrip("/")


def unanswered(api_url: str) -> str | None:
    """Why the API's health check gets no answer, in a few words; None once it answers."""
    return health_problem(f"{api_url}/health", PROBE_SECONDS)


def lost_line(api_url: str, cause: str) -> str:
    """The line serve logs once its API stopped answering."""
    return api_not_answering(
        redact_url(api_url), cause, "waiting for it, serving again once it answers"
    )


def not_paused_line(api_url: str, cause: str) -> str:
    """The line for serve stopped (Ctrl+C, SIGTERM) as its API stopped answering: the
    schedule it pauses on its way out stays active on the server."""
    return api_not_answering(
        redact_url(api_url), cause, "stopped without pausing the deployment's schedule"
    )


def lost_api(exc: BaseException, api_url: str) -> str | None:
    """Why the API is gone, if ``exc`` (a transport error, or raised from one: Prefect
    wraps them) came from an API that does not answer now; else None, as for no API URL
    (Prefect's temporary server, which serve owns: it does not go away on its own)."""
    if not api_url:
        return None
    transport = any(isinstance(seen, httpx.TransportError) for seen in exception_chain(exc))
    return unanswered(api_url) if transport else None


def ending_when_api_lost(
    poll: Callable[P, Awaitable[None]], on_lost: Callable[[str], None], api_url: str
) -> Callable[P, Coroutine[Any, Any, None]]:
    """``poll`` (the runner's poll for scheduled runs), which calls ``on_lost`` with the
    cause instead of raising when the API does not answer; any other error is raised, for
    Prefect's poll loop to tolerate or not, as before."""
    import anyio

    async def polling(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await poll(*args, **kwargs)
        except httpx.TransportError as exc:
            cause = await anyio.to_thread.run_sync(lost_api, exc, api_url)
            if cause is None:
                raise
            on_lost(cause)

    return polling


def wait_for_api(api_url: str) -> None:
    """Return once the API's health check says it is healthy, probing it every few seconds,
    and log that it is in the runner's log (Ctrl+C or SIGTERM ends the wait, as the
    caller's handlers decide). Healthy, not just answering: when any answer counted, a server
    still starting answered the request that registers the deployment anew with 503
    (measured)."""
    from prefect.logging import get_logger

    while not healthy(api_url, PROBE_SECONDS):
        time.sleep(RETRY_SECONDS)
    get_logger("runner").warning(
        "the Prefect API at %s answers again: serving again", redact_url(api_url)
    )
