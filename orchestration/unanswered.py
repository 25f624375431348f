"""Why the Prefect API did not answer, in the same few words whoever found out.

Two places meet a Prefect API that does not answer: the check before a run
(:func:`orchestration.prefect_setup.check_configured_api`, through urllib) and a run's
circuit breaker (:mod:`orchestration.api_outage`, through Prefect's httpx client). Each
library wraps the socket's error its own way (``URLError``; ``httpx.ConnectError`` from
``httpcore.ConnectError``), and both keep it in the exception chain, so the cause is read
from there: a refused connection reads ``connection refused`` in either line.
"""

from __future__ import annotations

import socket

from orchestration.basic_auth import open_url
from orchestration.exception_chain import exception_chain


def cause_in_words(exc: BaseException, timeout: float | None = None) -> str:
    """``connection refused``, ``unknown host``, ``no answer within 2 s`` and the like,
    for a request that got no answer; ``timeout`` is the wait that ran out, if known."""
    chain = list(exception_chain(exc))
    for item in chain:
        if isinstance(item, TimeoutError) or type(item).__name__.endswith("Timeout"):
            return f"no answer within {timeout:g} s" if timeout else "no answer in time"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, socket.gaierror):
            return "unknown host"
    for item in chain:
        if isinstance(item, OSError) and item.strerror:
            return item.strerror.lower()
    text = str(exc).strip() or type(exc).__name__
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:]


def api_not_answering(url: str, cause: str, advice: str) -> str:
    """The one line for a Prefect API that does not answer: where, why, what to do."""
    return f"the Prefect API at {url} does not answer ({cause}): {advice}"


def health_problem(health_url: str, timeout: float) -> str | None:
    """Why ``health_url`` (an API's ``/health``) cannot be reached, in a few words; None if
    it answered at all (any HTTP status is an answer: a busy server says 503)."""
    try:
        health_status(health_url, timeout)
    except OSError as exc:  # URLError, and a timeout while reading the answer
        return cause_in_words(exc, timeout)
    return None


def health_status(health_url: str, timeout: float) -> int:
    """The HTTP status ``health_url`` answers with, an error status too (an answer, if not
    the one hoped for); raises the ``OSError`` of a request that got no answer. A
    ``user:password@`` in it is sent as Prefect's client sends it
    (:mod:`orchestration.basic_auth`)."""
    import urllib.error

    try:
        with open_url(health_url, timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def lost_connection(exc: BaseException) -> BaseException | None:
    """The error that lost the connection behind ``exc`` (a refused or dropped connection,
    a request with no answer: a socket's error, httpx's, a closed websocket), following
    what each error was raised from; None if there is none. Only what an error was raised
    *from*, not what it was raised *while handling*: an error in the code that handled a
    lost connection (a bug) is not the connection's fault."""
    import httpx
    from websockets.exceptions import ConnectionClosed

    return _first_raised_from(exc, (ConnectionClosed, OSError, httpx.TransportError))


def lost_client_connection(exc: BaseException) -> BaseException | None:
    """As :func:`lost_connection`, for code that does more than talk to an API: only an
    HTTP or websocket client's error for a lost connection, or a socket's
    (``ConnectionError``), counts - not any ``OSError``, which such code raises for its
    own reasons (``os.kill``'s ``PermissionError``, a hook's ``FileNotFoundError``: its
    bugs, whose tracebacks must show)."""
    import httpx
    from websockets.exceptions import ConnectionClosed

    return _first_raised_from(exc, (ConnectionClosed, ConnectionError, httpx.TransportError))


def _first_raised_from(
    exc: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    return next((e for e in exception_chain(exc, raised_from=True) if isinstance(e, kinds)), None)
