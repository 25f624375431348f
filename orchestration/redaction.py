"""Naming a location without its secrets, for anything a log, an error or the UI shows.

Download links and service URLs often carry credentials (``user:password@``) or tokens
(a presigned S3 URL's ``X-Amz-Signature=``, ``?token=``). Prefect stores a run's
parameters and logs and shows them to everyone with access to the UI; errors reach
terminals and CI logs. So whatever names a URL there names it by scheme, host, port and
path only. One strict rule for every caller: a query string is dropped whole, since no
rule can tell which of its parameters is a token.

A URL that cannot be read that way is not shown at all (:data:`UNREADABLE_URL`): a
password holding ``?``, ``#`` or ``/`` ends the URL's host part early, so what would be
shown as host, port or path is partly the password (``http://user:9000?s3cr3t@host/``
reads as host ``user``, port 9000). :func:`url_problem` says why, for the error that
refuses such a URL, without repeating any of its text.

What a server answered is never repeated either: a proxy, a debugging endpoint or a
service on the wrong port may echo the request, its ``Authorization`` header (the
credentials, in base64) included. An error names the answer by its status alone. The
warehouse's own error text is the exception: ClickHouse's words about a statement are
the whole story, so they are shown, with the password masked (:func:`redact`) in every
form a server's answer may repeat it (:func:`credential_forms`), the ``Authorization``
header's base64 among them.

Nor may the HTTP client's own logs name a URL whole (:func:`quiet_request_logs`).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from http import HTTPStatus
from urllib.parse import SplitResult, quote, quote_plus, urlsplit, urlunsplit

#: How a URL that cannot be read is shown.
UNREADABLE_URL = "<unreadable URL>"
#: Why a URL with an ``@`` past its host part cannot be read, and the fix.
RESERVED_CHARACTER = (
    "password (or user) holds a reserved character: percent-encode ? as %3F, # as %23, "
    "/ as %2F, @ as %40 (an @ in the path or query string too)"
)


def redact_url(url: str) -> str:
    """``url`` without user, password, query string or fragment: safe to log and store.
    Never raises: a URL it cannot read is :data:`UNREADABLE_URL`."""
    parts = _readable(url)
    if parts is None:
        return UNREADABLE_URL
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def shown_source(source: str | None) -> str | None:
    """A run's ``source`` parameter as it may be shown: a URL redacted, a path or a
    generator spec (``synthetic:100``) as it is (neither has a host part to hide)."""
    if source is None or not _has_host_part(source):
        return source
    return redact_url(source)


def url_problem(url: str, name: str) -> str | None:
    """Why ``url`` cannot be read, as a sentence about ``name`` ("the warehouse URL",
    "WAREHOUSE_URL") that repeats none of its text; None if it can be."""
    if _past_host_part(url):
        return f"{name}'s {RESERVED_CHARACTER}"
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed "[", characters a host name cannot hold
        return f"{name} has a host that cannot be read (an IPv6 address is written [::1])"
    try:
        _ = parts.port  # the property parses the port, and raises on a bad one
    except ValueError:
        return f"{name} has an invalid port (a number up to 65535)"
    return None


def _readable(url: str) -> SplitResult | None:
    """``url`` split, if every part of it is what it seems."""
    if url_problem(url, "") is not None:
        return None
    return urlsplit(url)


def _split_authority(url: str) -> tuple[str, str, str] | None:
    """``url`` as what comes before its authority (``scheme://``), the authority (after
    ``//``, up to the first ``/``, ``?`` or ``#``, as :func:`urllib.parse.urlsplit` reads
    it) and the rest; read by hand, so no URL makes this raise. None: no ``//``."""
    head, slashes, rest = url.partition("//")
    if not slashes:
        return None
    ends = [found for found in map(rest.find, "/?#") if found >= 0]
    authority = rest[: min(ends, default=len(rest))]
    return head + slashes, authority, rest[len(authority) :]


def _past_host_part(url: str) -> bool:
    """Whether an ``@`` follows the ``/``, ``?`` or ``#`` that ends the URL's host part:
    then the ``user:password@`` it most likely ends was cut short by one of them."""
    parts = _split_authority(url)
    return parts is not None and "://" in url and "@" in parts[2]


def _has_host_part(text: str) -> bool:
    """Whether ``text`` is a URL with a host part (``scheme://...``), readable or not."""
    try:
        return bool(urlsplit(text).netloc)
    except ValueError:  # a host part it cannot read is a host part still
        return True


def without_credentials(url: str) -> str:
    """``url`` without its ``user:password@``, the rest kept as it is (a URL without them
    is returned unchanged): what identifies a URL, where another query may be another
    file but a password must not count (a hash of it could be guessed back).

    The authority is read as :func:`_split_authority` reads it: no URL makes this raise."""
    parts = _split_authority(url)
    if parts is None or "@" not in parts[1]:
        return url
    head, authority, rest = parts
    return head + authority.rpartition("@")[2] + rest


def credential_forms(user: str, password: str) -> tuple[str, ...]:
    """``password`` in every form an answer may repeat it, for :func:`redact`: as typed,
    percent-encoded as in a URL (``%20`` or ``+`` for a space), and as the HTTP Basic
    ``Authorization`` header carries it, the base64 of ``user:password``, which a
    server echoing the request repeats without the password ever appearing as typed.
    None without a password: ``user:`` alone is no secret."""
    if not password:
        return ()
    basic = basic_token(user, password)
    return tuple({password, quote(password, safe=""), quote_plus(password, safe=""), basic})


def basic_token(user: str, password: str) -> str:
    """What the HTTP Basic ``Authorization`` header carries for ``user`` and ``password``:
    the base64 of ``user:password`` (UTF-8, as httpx encodes it)."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


#: A character of a word (letter, digit, ``_``), where :func:`redact` looks for one.
_WORD = re.compile(r"\w")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` masked (``***``) wherever it stands as a word of
    its own: where the secret begins (ends) with a letter, digit or ``_``, the character
    before (after) it is none of those.

    Not inside a longer word: with the password ``e``, the server's ``Unknown expression
    identifier`` read ``Unknown ***xpr***ssion id***ntifi***r``, garbled, and the masks'
    pattern gave the password away; a longer word holding the password is not the
    password. Echoed as a credential (``user:secret@``, ``'secret'``) or as an identifier
    it is masked, whatever its length. The longest secret is tried first at each place,
    so a form that holds a shorter one is masked whole, no part of it left showing.
    """
    longest_first = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
    if not longest_first:
        return text
    return re.sub("|".join(map(_whole_word, longest_first)), "***", text)


def _whole_word(secret: str) -> str:
    """A pattern matching ``secret`` (not empty) as a word of its own."""
    before = r"(?<!\w)" if _WORD.match(secret[0]) else ""
    after = r"(?!\w)" if _WORD.match(secret[-1]) else ""
    return f"{before}{re.escape(secret)}{after}"


def status_words(status: int) -> str:
    """An HTTP answer as it may be shown: ``HTTP 400 Bad Request``, with the standard words
    for its status; never the server's own reason phrase or body, which may echo the
    request (credentials included)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status HTTP does not define
        return f"HTTP {status}"


#: Libraries that log every request they send: httpx its whole URL at INFO (``HTTP
#: Request: GET http://user:password@host/x.csv?token=...``), httpcore each step of the
#: exchange, the answer's headers included, at DEBUG.
REQUEST_LOGGERS = ("httpx", "httpcore")


class _RedactedUrls(logging.Filter):
    """Names each URL a log record's arguments hold as :func:`shown_source` does (httpx
    passes the request's URL as an argument of its ``HTTP Request: %s %s ...`` line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(map(_shown_argument, record.args))
        return True


def _shown_argument(argument: object) -> object:
    if isinstance(argument, int | float):  # a status code, formatted with %d
        return argument
    return shown_source(str(argument))  # never raises: an unreadable URL is hidden whole


def quiet_request_logs() -> None:
    """Keep the HTTP client's request lines, which name URLs whole, out of every log.

    ``PREFECT_LOGGING_ROOT_LEVEL=DEBUG`` (or ``INFO``) lowers the root logger and with it
    every library's that sets no level of its own: httpx then printed each download's URL
    with its password and token on the console, and into the Prefect API through a handler
    a user adds (``PREFECT_LOGGING_EXTRA_LOGGERS``). So these loggers answer WARNING and
    up unless a level was set on them by name (a logging configuration that asks for
    them): httpx's lines then still name each URL redacted. Called before each request a
    source or a service URL goes into, so it holds in every process that sends one."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    httpx_log = logging.getLogger(REQUEST_LOGGERS[0])
    if not any(isinstance(found, _RedactedUrls) for found in httpx_log.filters):
        httpx_log.addFilter(_RedactedUrls())
