"""Naming a location without its secrets, for anything a log, an error or the UI shows.

Download links and service URLs often carry credentials (``user:password@``) or tokens
(a presigned S3 URL's ``X-Amz-Signature=``, ``?token=``). Prefect stores a run's
parameters and logs and shows them to everyone with access to the UI; errors reach
terminals and CI logs. So whatever names a URL there names it by scheme, host, port and
path only. One strict rule for every caller: a query string is dropped whole, since no
rule can tell which of its parameters is a token.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """``url`` without user, password, query string or fragment: safe to log and store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def shown_source(source: str | None) -> str | None:
    """A run's ``source`` parameter as it may be shown: a URL redacted, a path or a
    generator spec (``synthetic:100``) as it is (neither has a host part to hide)."""
    if source is None or not urlsplit(source).netloc:
        return source
    return redact_url(source)
