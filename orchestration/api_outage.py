"""A run that loses its Prefect API stops talking to it, and says so once.

Measured (300,000 rows, the local server stopped 5 s into the run): all 27 tables were
published and recorded in the warehouse, and then the command waited 12 minutes. Prefect's
client retries a request that meets a dead server ``PREFECT_CLIENT_MAX_RETRIES`` (5) times
with exponential backoff, ~62 s a request, and the run still had requests to make: its
asset pages (written one after another), the engine's final state for the run; then
Prefect's exit handlers tried to deliver each queued event (~7 s each) and log batch,
printing each failure. None of it could succeed.

So a run has one circuit breaker for its API, :class:`ApiOutage`. The first transport error
(connection refused or reset, a timeout) on the client it watches - the one the flow
engine, its tasks and the page writer share - trips it; from then on that client fails at
once instead of retrying, and the pages, their rewrites and the lineage artifact are not
sent. The tables are not touched by any of this: they are published and recorded in the
warehouse's history, which ``pipeline status`` reads. The run's report carries
:meth:`ApiOutage.message` and the CLI ends without waiting on Prefect's exit handlers.

Only a server that does not answer trips it. An HTTP error status (a 503 while the
server's database is busy) is an answer, retried by Prefect's client as before; so is a
transport error after which a fresh request to the API's health check gets any answer
(one connection's bad luck, such as a keep-alive connection the server closed as it was
reused, which Prefect's client retries for that reason).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from orchestration.errors import ExpectedError
from orchestration.exception_chain import exception_chain
from orchestration.redaction import redact_url
from orchestration.unanswered import api_not_answering, cause_in_words

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

T = TypeVar("T")
#: How long the health probe that confirms an outage may wait, per phase of the request.
PROBE_SECONDS = 2.0


class PrefectApiLostError(ExpectedError, RuntimeError):
    """The run's Prefect API stopped answering: raised by a watched client instead of
    Prefect's retries (it is not one of the errors Prefect's client retries)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        #: Why, in a few words (``connection refused``).
        self.cause = cause


def lost_cause(exc: BaseException) -> str | None:
    """Why the API was lost, in a few words, if ``exc`` is (or was raised from: Prefect
    wraps a failed connection in its own ``RuntimeError``) a watched client's
    :class:`PrefectApiLostError`; else None."""
    lost = (seen for seen in exception_chain(exc) if isinstance(seen, PrefectApiLostError))
    return next((seen.cause for seen in lost), None)


def api_url() -> str | None:
    """The Prefect API this process talks to, without credentials (None: none set)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return redact_url(str(url)) if url else None


class ApiOutage:
    """The circuit breaker of one run's Prefect API; safe to use from any thread."""

    def __init__(self, url: str | None) -> None:
        self.url = url or "(not set)"
        self._lock = threading.Lock()
        self._cause: str | None = None

    @property
    def tripped(self) -> bool:
        return self._cause is not None

    @property
    def cause(self) -> str | None:
        """Why the API is gone, in a few words (None while it answers)."""
        return self._cause

    def trip(self, exc: httpx.TransportError) -> None:
        """Record the first transport error of an API that does not answer."""
        with self._lock:
            if self._cause is None:
                self._cause = cause_in_words(exc)

    def guard(self, call: Callable[..., T], *args: Any) -> T | None:
        """``call(*args)`` (requests of a watched client), unless the API is gone: then
        nothing is sent, and None. Losing the API on the way is not raised: what is lost
        is Prefect's copy of the run, which :meth:`message` reports once; any other error
        (one the API answers with, or one of the call's own) is raised as before."""
        if self.tripped:
            return None
        try:
            return call(*args)
        except PrefectApiLostError:
            return None

    def watch(self, client: SyncPrefectClient | httpx.Client) -> None:
        """Route the requests of ``client`` (a Prefect client, or the HTTP client under
        one, whose ``base_url`` is the API) through the breaker: a transport error from
        an API that does not answer trips it and fails the request at once, and once it is
        tripped no request is sent."""
        http: httpx.Client = client if isinstance(client, httpx.Client) else client._client
        if isinstance(http._transport, _Breaking) and http._transport.outage is self:
            return  # the run's client, watched already
        health = http.base_url.join("health")
        http._transport = _Breaking(http._transport, self, health)
        # A proxy configured for the API's URL has a transport of its own.
        http._mounts = {
            pattern: _Breaking(transport, self, health) if transport is not None else None
            for pattern, transport in http._mounts.items()
        }

    @contextlib.contextmanager
    def client_context(self) -> Iterator[None]:
        """Prefect's client context for a run, its client watched: the flow engine, its
        tasks and the page writer all take that client (``get_client(sync_client=True)``
        returns the context's), so the breaker covers the run from its creation on."""
        from prefect.context import SyncClientContext

        context = SyncClientContext()
        self.watch(context.client)
        with context:
            yield

    def message(self, tables: str = "the tables are as the run report shows") -> str | None:
        """The one line for the user once tripped (None if the API answered throughout);
        ``tables`` says where the run's outcome is told (a served run has no report)."""
        if self._cause is None:
            return None
        return (
            f"the Prefect API at {self.url} stopped answering during the run ({self._cause}), "
            "so its record there is incomplete (no final state or lineage page, asset pages "
            f"only up to then); {tables}: the warehouse recorded them (pipeline status reads it)"
        )


def watching_this_flow_run() -> ApiOutage:
    """A breaker watching the client of the flow run this is called in (a scheduled run's
    body): once the API is gone, the engine's last requests (the run's final state) fail
    at once instead of being retried for a minute each."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.context import FlowRunContext

    outage = ApiOutage(api_url())
    context = FlowRunContext.get()
    if context is not None and isinstance(context.client, SyncPrefectClient):
        outage.watch(context.client)
    return outage


def unreachable_before_the_run(url: str, cause: str) -> str:
    """The line for a run whose API was gone before its first asset ran."""
    return api_not_answering(
        url,
        cause,
        "nothing was materialized; start it (pipeline server start, for the local server) "
        "or check PREFECT_API_URL, then run again",
    )


class _Breaking(httpx.BaseTransport):
    """A transport that fails fast once its breaker tripped, and trips it on a transport
    error when the API's ``health`` check does not answer either (raised as
    :class:`PrefectApiLostError`, which Prefect's client does not retry)."""

    def __init__(self, inner: httpx.BaseTransport, outage: ApiOutage, health: httpx.URL) -> None:
        self._inner = inner
        self.outage = outage
        self._health = health

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.outage.tripped:
            raise self._lost()
        try:
            return self._inner.handle_request(request)
        except httpx.TransportError as exc:
            if self._answers():
                raise  # this connection's trouble, not the server's: Prefect retries it
            self.outage.trip(exc)
            raise self._lost() from exc

    def _answers(self) -> bool:
        """Whether the API answers a fresh request at all (any status counts)."""
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), PROBE_SECONDS)
        probe = httpx.Request("GET", self._health, extensions={"timeout": timeouts})
        try:
            self._inner.handle_request(probe).close()
        except httpx.TransportError:
            return False
        return True

    def _lost(self) -> PrefectApiLostError:
        return PrefectApiLostError(self.outage.message() or "", self.outage.cause or "")

    def __enter__(self) -> _Breaking:
        self._inner.__enter__()
        return self

    def close(self) -> None:
        self._inner.close()
