"""Download a source over HTTP(S) to a temporary file, with deadlines, retrying what may heal.

Two limits keep a bad server from holding a run hostage: ``timeout`` bounds the whole
download, every attempt and every retry pause included (``--source-timeout``, default
600 s), and ``stall`` bounds the silence between two bytes (30 s). A server that trickles
a byte every 20 s therefore ends at the deadline, one that stops sending at the stall
limit, and one that accepts and never answers at the stall limit too.

Connection failures, stalls, HTTP 429 and 5xx are transient: they are retried with
backoff while the deadline allows. Anything else (404, a redirect loop, an HTML page
where data was expected) will not change on retry and fails at once. Messages name the
URL without credentials or query string (see ``redact_url``) and say what happened: a
connection failure by its cause as the warehouse names its own (a DNS failure, a refused
connection, a server that hung up), never by the library's text, which may echo the URL.
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from assets.sources.errors import SourceError
from orchestration.exception_chain import exception_chain
from orchestration.redaction import quiet_request_logs, redact_url, status_words

if TYPE_CHECKING:  # imported by the functions that download: declaring assets needs no httpx
    import httpx

#: Seconds to wait before each retry; the attempt count is one more than its length.
DEFAULT_BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0)
#: The whole download, all attempts included, unless the run says otherwise.
DEFAULT_TIMEOUT_SECONDS = 600.0
#: Longest silence tolerated between two bytes (or before the response starts).
DEFAULT_STALL_SECONDS = 30.0
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")


class _Deadline(Exception):
    """The whole-download deadline passed (raised between chunks)."""


def download(
    url: str,
    directory: Path,
    *,
    backoff: tuple[float, ...] = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    stall: float = DEFAULT_STALL_SECONDS,
) -> Path:
    """Stream ``url`` into ``directory``; returns the file (named like the URL's path)."""
    import httpx

    quiet_request_logs()
    label = redact_url(url)
    name = PurePosixPath(urlsplit(url).path).name or "download"
    target = directory / name
    deadline = time.monotonic() + timeout
    attempts = 0
    last_problem = ""
    out_of_time = False
    for delay in (0.0, *backoff):
        remaining = deadline - time.monotonic() - delay
        if remaining <= 0:  # no time for another try: no wait ran out unless none began
            out_of_time = not attempts
            break
        time.sleep(delay)
        attempts += 1
        wait = min(stall, remaining)
        limits = httpx.Timeout(wait, connect=wait, pool=wait)
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=limits) as response:
                if response.status_code in _TRANSIENT_STATUS:
                    last_problem = status_words(response.status_code)
                    continue
                if response.status_code >= 400:
                    raise SourceError(
                        f"{status_words(response.status_code)}; check the URL", source=label
                    )
                _save(response, target, label, deadline)
                return target
        except _Deadline:
            out_of_time = True
            break
        except httpx.TooManyRedirects:
            raise SourceError(
                "redirect loop: too many redirects without reaching a file; open the URL in a "
                "browser to see where it leads, and pass the final download link",
                source=label,
            ) from None
        except httpx.TimeoutException as error:
            if wait < stall:  # the deadline, not the stall limit, ended this wait
                last_problem = "no bytes before the deadline (no response, or it stopped mid-way)"
                out_of_time = True
                break
            last_problem = _timeout_problem(error, stall)
        except httpx.TransportError as error:
            last_problem = _connection_problem(error)
        except httpx.InvalidURL as error:
            raise SourceError("invalid URL", source=label) from error
    if out_of_time:
        raise SourceError(
            f"did not finish within {timeout:g} s"
            + (f" (last problem: {last_problem})" if last_problem else "")
            + "; raise --source-timeout (or ONLINE_RETAIL_SOURCE_TIMEOUT), or download the "
            "file and pass its path",
            source=label,
        )
    raise SourceError(
        f"download failed after {attempts} attempt(s): {last_problem}; check the URL and the "
        "network, or download the file and pass its path",
        source=label,
    )


def _connection_problem(error: httpx.TransportError) -> str:
    """Why an attempt could not connect or was cut off, in words that hold no URL (the
    exception's text may echo it whole): the cause as the warehouse's connection errors
    name it, else the system's words for the socket's error, else the exception's class."""
    from io_managers.transport import classify_connection_failure

    cause = classify_connection_failure(error)
    if cause is not None:
        return cause
    for item in exception_chain(error):
        if isinstance(item, OSError) and item.strerror:  # "Network is unreachable"
            return f"{item.strerror[:1].lower()}{item.strerror[1:]} ({type(error).__name__})"
    return type(error).__name__


def _timeout_problem(error: httpx.TimeoutException, stall: float) -> str:
    import httpx

    if isinstance(error, httpx.ConnectTimeout):
        return f"could not connect within {stall:g} s (ConnectTimeout)"
    if isinstance(error, httpx.ReadTimeout):
        return f"stalled: no bytes for {stall:g} s (no response, or it stopped mid-way)"
    return f"{type(error).__name__} after {stall:g} s"


def _save(response: httpx.Response, target: Path, label: str, deadline: float) -> None:
    """Write the body to ``target``, refusing web pages and stopping at the deadline."""
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type:
        raise _html_page(label, f"Content-Type {content_type.split(';')[0]}")
    first = True
    with target.open("wb") as handle:
        for block in response.iter_bytes():  # as bytes arrive, so the deadline is seen
            if first and block.strip():
                if block.lstrip()[:16].lower().startswith(_HTML_STARTS):
                    raise _html_page(label, "the body starts like HTML")
                first = False
            handle.write(block)
            if time.monotonic() >= deadline:
                raise _Deadline


def _html_page(label: str, evidence: str) -> SourceError:
    return SourceError(
        f"the server sent an HTML page ({evidence}) with status 200, not a data file; "
        "the URL probably leads to a web page (a login, a landing page or an error page) "
        "rather than the download itself",
        source=label,
    )
