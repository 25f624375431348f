"""The options a user typed to say where a command acts, carried into the commands it prints.

Lines such as ``Next: pipeline plan --select ...`` are there to be copied into a shell.
Copied without the ``--warehouse`` and ``--definitions`` typed on the command line, such
a command acts on another warehouse or code location, the one ``WAREHOUSE_URL`` (else
the project's ``.warehouse``) and ``PIPELINE_DEFINITIONS`` (else pyproject.toml) name: ``pipeline
status --warehouse chdb:///tmp/wh3`` said to run a plan that, run as printed, answered
for another warehouse. So every command the CLI prints carries the ones typed, before or
after the sub-command, written after it and quoted for a shell (:func:`carried`). Those
from the environment or pyproject.toml are not repeated: the copied command finds them
the same way.

A printed command never holds a secret (docs/safety.md): what the redactor would hide of
a URL stands there as a placeholder in capitals, for the user to fill in
(:func:`printed_value`): ``clickhouse://etl:PASSWORD@ch:8123/``. A warehouse URL keeps its
user, which errors name anyway, and its query string, whose options (``secure``,
``verify``, timeouts; any other is refused) choose how to connect: dropped, the copied
command would connect another way, or as another user.

The options are recorded for one command line (:func:`recording`, which the ``pipeline``
app opens around each), in a context variable, so the run's worker threads, which
Prefect starts with a copy of the context, see them too: a drift refusal raised in an
asset's task names the same command.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from urllib.parse import urlsplit, urlunsplit

from orchestration.redaction import UNREADABLE_URL, shown_source

#: The options that say where a command acts, in the order a printed command gives them.
WHERE_OPTIONS = ("--warehouse", "--definitions")
#: The placeholders a printed URL holds where its secrets were; ``URL`` stands for one the
#: redactor cannot read (``chdb://[x``), of which no part is shown.
PASSWORD, USER, QUERY, FRAGMENT, URL = "PASSWORD", "USER", "QUERY", "FRAGMENT", "URL"

_typed: ContextVar[dict[str, str] | None] = ContextVar("typed_options", default=None)


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Record the options of one command line (:func:`remember`) until it is done."""
    token = _typed.set({})
    try:
        yield
    finally:
        _typed.reset(token)


def remember(option: str, value: str) -> None:
    """``option`` (``--warehouse``) was typed on the command line with ``value``; outside
    a command line (a library call, a test), nothing is recorded."""
    options = _typed.get()
    if options is not None:
        options[option] = value


def typed(option: str) -> str | None:
    """The value ``option`` was typed with on this command line, if it was."""
    return (_typed.get() or {}).get(option)


def carried_names() -> list[str]:
    """The options of :data:`WHERE_OPTIONS` typed on this command line."""
    return [option for option in WHERE_OPTIONS if typed(option) is not None]


def carried(command: str) -> str:
    """``command`` (``pipeline query "..."``) with the ``--warehouse`` and
    ``--definitions`` typed on this command line after it, as :func:`printed_value`
    shows them; plain text, not Rich markup."""
    options = [f"{name} {printed_value(name, typed(name) or '')}" for name in carried_names()]
    return " ".join([command, *options])


def with_options(command: str, options: Mapping[str, str]) -> str:
    """``command`` with ``options`` (by name) and the ``--warehouse`` and ``--definitions``
    typed after it, as one shell line that prints no secret."""
    given = [f"{name} {printed_value(name, value)}" for name, value in options.items()]
    return carried(" ".join([command, *given]))


def printed_value(option: str, value: str) -> str:
    """``value`` of ``option`` as a printed command carries it: one shell word, a URL's
    secrets as placeholders (a ``--source`` URL's user and query string too, which may
    be a token; a ``--warehouse`` URL's password only)."""
    return shlex.quote(_placeheld(value, whole_url=option != "--warehouse"))


def with_placeholders(url: str) -> str:
    """A URL a line says to set, as a printed ``--warehouse`` URL is written: its password
    ``PASSWORD``, its user and the rest kept (``http://ci:PASSWORD@host:4200/api``)."""
    return _placeheld(url, whole_url=False)


def source_with_placeholders(source: str) -> str:
    """A source as a printed ``--source`` carries it, unquoted, for a line that names it
    (a page's ``Source:``): a URL's user, password, query string and fragment as
    placeholders (``https://USER:PASSWORD@host/x.csv?QUERY``); a path as it is."""
    return _placeheld(source, whole_url=True)


def _placeheld(value: str, *, whole_url: bool) -> str:
    """``value`` with a placeholder for each part of it the redactor would hide;
    ``whole_url``: every such part, else the password alone."""
    shown = shown_source(value)
    if shown == value:  # no URL, or one with nothing to hide
        return value
    if shown == UNREADABLE_URL:
        return URL
    parts = urlsplit(value)
    user = parts.username if not whole_url else USER if parts.username else None
    password = PASSWORD if parts.password else None  # an empty one hides nothing
    host = parts.netloc.rpartition("@")[2]
    userinfo = ":".join(part for part in (user, password) if part is not None)
    netloc = f"{userinfo}@{host}" if userinfo else host
    if not whole_url:
        return urlunsplit(parts._replace(netloc=netloc))
    query = QUERY if parts.query else ""
    fragment = FRAGMENT if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
