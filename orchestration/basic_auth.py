"""A plain HTTP request to a URL that may carry ``user:password@``, sent as Prefect's
client sends it.

``PREFECT_API_URL=http://user:password@host/api`` is how a Prefect server behind a proxy
that asks for HTTP Basic auth is reached: Prefect's client (httpx) sends the URL's user
and password, percent-decoded, in the ``Authorization`` header. urllib reads
``user:password@host`` as a host name instead ("unknown host"), so the probes that ask
such an API whether it answers (its ``/health``, its version) could not be made: a run
found out only once its flow run began, the warehouse created, in other words than for
the same URL without credentials.

So :func:`open_url` sends the request to the URL without them, which is all an error
urllib raises can name, and the credentials in an ``Authorization`` header that a
redirect does not carry on (urllib sends a header added the usual way to whatever host a
redirect names; httpx drops it on a redirect to another origin).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from orchestration.redaction import basic_token, without_credentials


def open_url(url: str, timeout: float) -> Any:
    """``urllib.request.urlopen`` of ``url`` (a GET), its ``user:password@`` sent as HTTP
    Basic credentials; raises as ``urlopen`` does (``HTTPError`` for an error status)."""
    # Imported here: urllib's HTTP client brings http.client, email and ssl (~25 ms),
    # which commands that probe no server (``--help``, ``list``) should not pay for.
    import urllib.request

    request = urllib.request.Request(without_credentials(url))
    authorization = _authorization(url)
    if authorization is not None:
        request.add_unredirected_header("Authorization", authorization)
    return urllib.request.urlopen(request, timeout=timeout)


def _authorization(url: str) -> str | None:
    """The ``Authorization`` header httpx sends for ``url``'s user and password (each
    percent-decoded, either may be empty); None for a URL without ``user:password@``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return None
    return "Basic " + basic_token(unquote(parts.username or ""), unquote(parts.password or ""))
