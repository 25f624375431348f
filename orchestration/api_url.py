"""Whether ``PREFECT_API_URL`` names a Prefect API at all, and if not, what to write.

Two mistakes are common and Prefect's client explains neither before the flow run
starts, when the warehouse is already opened (or created): a URL without its scheme
(``localhost:4200/api``: "request URL has an unsupported protocol 'localhost://'", or
``pipeline serve`` waiting for ever), and a server's address without ``/api`` (its UI's,
``http://127.0.0.1:4200`` or ``.../v2``, which ``pipeline`` itself prints: "Failed to
reach API" after a 404). Each is said here in one line that says what to write instead,
for :func:`orchestration.prefect_setup.check_configured_api`. A URL the line would repeat
is never repeated with a password or a query string (a token): see
:mod:`orchestration.redaction`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from orchestration.errors import ExpectedError

#: What every line calls the setting (an environment variable, or a Prefect profile's).
SETTING = "PREFECT_API_URL"
_SCHEMES = ("http", "https")
#: The path of the API on a Prefect server (``prefect server start``, ``pipeline server``).
API_PATH = "/api"


class PrefectApiUrlError(ExpectedError, ValueError):
    """``PREFECT_API_URL`` is not the URL of a Prefect API (no http(s) scheme, or nothing
    of Prefect's at that path)."""


def scheme_problem(url: str) -> str | None:
    """Why ``url`` is not an ``http://`` or ``https://`` URL, and what to write instead;
    None if it is one."""
    scheme, sep, _ = url.partition("://")
    if sep:
        if scheme.lower() in _SCHEMES:
            return None
        return f"{SETTING} scheme {scheme!r} is not supported; use http:// or https://"
    secret = "@" in url or "?" in url or "#" in url
    scheme, colon, rest = url.partition(":")
    if colon and scheme.lower() in _SCHEMES:  # ``http:/host``: the scheme without its //
        if secret:
            return f"{SETTING} is missing '//' after its scheme {scheme.lower()!r}"
        fixed = f"{scheme.lower()}://{rest.lstrip('/')}"
        return f"{SETTING} {url!r} is missing '//' after its scheme: write {fixed}"
    if secret:
        return f"{SETTING} has no scheme: put http:// (or https://) in front of it"
    return f"{SETTING} {url!r} has no scheme: write http://{url}"


def api_on_that_server(api_url: str) -> str:
    """Where a Prefect server at ``api_url``'s host and port has its API:
    ``scheme://user:password@host:port/api``, its credentials kept for the probe to send
    (never shown: see :mod:`orchestration.redaction`)."""
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}{API_PATH}"


def not_an_api(shown_url: str, suggested: str | None) -> str:
    """The line for an API URL whose ``/health`` answered 404: nothing of Prefect's there.
    ``suggested``: the API URL of the same server that does answer, if one does."""
    where = f"no Prefect API answers at {shown_url} ({SETTING}: its /health is 404 Not Found)"
    if suggested:
        return f"{where}: set {SETTING}={suggested}, the API of the server there"
    return (
        f"{where}: set {SETTING} to a Prefect server's API (http://HOST:4200{API_PATH}), "
        "or unset it to run on the local one"
    )
