"""Where the warehouse is: one setting, ``WAREHOUSE_URL``, with environment fallbacks.

Accepted forms::

    chdb:///abs/path                 embedded ClickHouse (chdb) in an absolute directory
    chdb://relative/path             ... in a directory relative to the working directory
                                     (refused when its first directory is one at the
                                     root, not here: chdb://tmp/wh lost a slash)
    clickhouse://user:password@host:port/?secure=true|false
    clickhouses://user:password@host:port/   (same, TLS on)

Without ``WAREHOUSE_URL``, ``CLICKHOUSE_HOST`` (with ``CLICKHOUSE_PORT``, ``_USER``,
``_PASSWORD``, ``_SECURE``) selects a server; without either the embedded warehouse in
the project's ``.warehouse`` is used, so a fresh clone works with no server at all. The
project is the directory of the nearest ``pyproject.toml`` naming a code location
(:mod:`orchestration.project`), so a command run in ``docs/`` finds the warehouse its
project built, as git finds its repository; outside any project, the working directory.
A relative ``chdb://`` URL is taken as given: relative to the working directory.

A ``chdb://`` URL takes no user or password (an embedded warehouse has no login), nor
options after ``?``: one that holds them is refused without repeating them.

Special characters in the password are percent-encoded (``p@ss`` as ``p%40ss``); a ``?``,
``#`` or ``/`` left as it is would end the host part early, so a URL with an ``@`` after one
is refused, the error saying why without repeating the URL (it holds the password).

The password lives only in :class:`WarehouseConfig`, whose ``repr`` and ``redacted_url``
mask it, so logging a config can never leak it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from io_managers.errors import WarehouseConfigError
from orchestration.project import project_dir
from orchestration.redaction import url_problem

DEFAULT_WAREHOUSE_DIR = ".warehouse"
Backend = Literal["embedded", "server"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SERVER_SCHEMES = {"clickhouse": False, "clickhouses": True, "http": False, "https": True}
_SERVER_PARAMS = {"secure", "verify", "connect_timeout", "send_receive_timeout"}
_KNOWN_SCHEMES = {"chdb", *_SERVER_SCHEMES}


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise WarehouseConfigError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class WarehouseConfig:
    """A parsed warehouse location; build it with :func:`load_config`."""

    backend: Backend
    path: Path | None = None
    host: str | None = None
    port: int | None = None
    user: str = "default"
    password: str = field(default="", repr=False)
    secure: bool = False
    verify: bool = True
    connect_timeout: float = 10.0
    send_receive_timeout: float = 300.0

    @property
    def address(self) -> str:
        """``host:port`` for a server, the directory for the embedded warehouse."""
        if self.backend == "embedded":
            return str(self.path)
        return f"{self.host}:{self.port}"

    @property
    def redacted_url(self) -> str:
        """The location as a URL that is safe to print (password replaced by ``***``)."""
        if self.backend == "embedded":
            return f"chdb://{self.path}"
        secret = ":***" if self.password else ""
        return (
            f"clickhouse://{self.user}{secret}@{self.host}:{self.port}/"
            f"?secure={str(self.secure).lower()}"
        )

    @property
    def shown_url(self) -> str:
        """The location as pages and run reports name it, to everyone with access to the
        Prefect UI: no user, password or options, but TLS kept in the scheme
        (``clickhouses://``), so a plain and an encrypted connection read differently."""
        if self.backend == "embedded":
            return f"chdb://{self.path}"
        scheme = "clickhouses" if self.secure else "clickhouse"
        return f"{scheme}://{self.host}:{self.port}/"

    def __repr__(self) -> str:
        return f"WarehouseConfig({self.redacted_url})"

    __str__ = __repr__


def _embedded(location: str, base: Path) -> WarehouseConfig:
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base / path
    return WarehouseConfig(backend="embedded", path=path)


def _root_read_as_relative(location: str, base: Path) -> str | None:
    """What is wrong with a ``chdb://`` location that, relative as written, most likely
    lost a slash: ``chdb://tmp/r1/wh2`` for ``chdb:///tmp/r1/wh2``, which would make a new
    warehouse in ``./tmp/r1/wh2`` (inside the project) while later commands given the
    right URL find none. That is when its first directory is one at the root and not one
    in ``base``; ``None`` otherwise (``chdb://./tmp/...`` says "here" whatever the root
    holds)."""
    first = location.split("/", 1)[0]  # not Path's parts, which drop a leading "./"
    if (
        first in ("", ".", "..")
        or first.startswith("~")
        or not (Path("/") / first).is_dir()
        or (base / first).exists()
    ):
        return None
    return (
        f"names {location} in the working directory, not /{location}: write "
        f"chdb:///{location} for that one, or chdb://./{location} for one here"
    )


_USER_IN_CHDB = (
    "holds a user or password (user:password@), which an embedded chdb:// warehouse does "
    "not take: it is a directory, with no login (write chdb:///abs/path)"
)


def _query_in_chdb(location: str) -> str:
    """Why a ``chdb://`` URL with options after ``?`` is refused, and the URL to write.

    They were silently dropped, and the URL quoted back whole in ``Next:`` lines, a
    ``?password=...`` with it."""
    fix = f"chdb://{location}" if location else "chdb:///abs/path"
    return (
        "has options after '?', which an embedded chdb:// warehouse does not take (it is a "
        f"directory, with no login or settings): write {fix}"
    )


def _names_a_user(location: str) -> bool:
    """Whether a ``chdb://`` URL's ``location`` (what follows ``chdb://``) starts with
    ``user@`` or ``user:password@``, a password holding ``/``, ``?`` or ``#`` included.

    It was read as a relative directory (``./default:secret@/tmp/wh``), made in the
    working directory, and printed, password and all. A directory name may hold an ``@``
    past the first ``/`` (``chdb://./data@2024``) but not before it, nor past a first
    part holding ``:``, which is how ``user:password`` reads.
    """
    first = re.split(r"[/?#]", location, maxsplit=1)[0]
    return "@" in first or (":" in first and "@" in location)


#: What a location given on the command line (or to a library call) is called in errors.
EXPLICIT_NAME = "the warehouse URL"
ENV_NAME = "WAREHOUSE_URL"


def _no_scheme(text: str, name: str) -> WarehouseConfigError:
    """A location without ``scheme://`` is most often a bare directory: say the URL for it.
    One with an ``@`` may hold a password, so it is not repeated."""
    forms = "chdb:///abs/path, chdb://relative/path, clickhouse://user:password@host:port/"
    scheme, colon, rest = text.partition(":")
    if colon and scheme.lower() in _KNOWN_SCHEMES:
        # ``chdb:/tmp/wh``: a scheme typed without its slashes, not a directory.
        if "@" in text:
            return WarehouseConfigError(f"{name} is missing '//' after its scheme {scheme!r}")
        fixed = f"{scheme.lower()}://{rest.removeprefix('//')}"
        return WarehouseConfigError(
            f"{name} {text!r} is missing '//' after its scheme: write {fixed}"
        )
    if "@" in text:
        return WarehouseConfigError(f"{name} has no scheme (forms: {forms})")
    return WarehouseConfigError(
        f"{name} {text!r} has no scheme: write chdb://{text} for an embedded warehouse in "
        f"that directory (forms: {forms})"
    )


def parse_warehouse_url(
    url: str, base: Path | None = None, *, name: str = EXPLICIT_NAME
) -> WarehouseConfig:
    """Parse a ``WAREHOUSE_URL``; relative ``chdb://`` paths are resolved against ``base``.

    ``name`` is what errors call the value, so a user who typed ``--warehouse`` is not
    told about a variable they never set.
    """
    base = base or Path.cwd()
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise _no_scheme(text, name)
    if scheme == "chdb":
        if _names_a_user(rest):  # said without the text: it may hold a password
            raise WarehouseConfigError(f"{name} {_USER_IN_CHDB}")
        location, question_mark, _ = rest.partition("?")
        if question_mark:  # said without the options: one may be a password
            raise WarehouseConfigError(f"{name} {_query_in_chdb(location)}")
        if problem := _root_read_as_relative(location, base):
            raise WarehouseConfigError(f"{name} {text!r} {problem}")
        return _embedded(location or DEFAULT_WAREHOUSE_DIR, base)
    if scheme not in _SERVER_SCHEMES:
        raise WarehouseConfigError(
            f"{name} scheme {scheme!r} is not supported; use chdb:// or clickhouse://"
        )
    if problem := url_problem(text, name):  # said without the text: it may hold a password
        raise WarehouseConfigError(problem)
    parts = urlsplit(text)
    port = parts.port
    if not parts.hostname:
        raise WarehouseConfigError(f"{name} names no host (clickhouse://user@HOST:port/)")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - _SERVER_PARAMS)
    if unknown:
        raise WarehouseConfigError(
            f"{name} has unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_SERVER_PARAMS))}"
        )
    where = f"{name} option"  # "WAREHOUSE_URL option secure ...": where the value was set
    secure = _SERVER_SCHEMES[scheme]
    if "secure" in params:
        secure = _flag(params["secure"], f"{where} secure")
    return WarehouseConfig(
        backend="server",
        host=parts.hostname,
        port=port or (8443 if secure else 8123),
        user=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        secure=secure,
        verify=_flag(params.get("verify", "true"), f"{where} verify"),
        connect_timeout=_number(params.get("connect_timeout", "10"), f"{where} connect_timeout"),
        send_receive_timeout=_number(
            params.get("send_receive_timeout", "300"), f"{where} send_receive_timeout"
        ),
    )


def _number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise WarehouseConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if number <= 0:
        raise WarehouseConfigError(f"{name} must be positive, got {value!r}")
    return number


def load_config(
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
    base: Path | None = None,
) -> WarehouseConfig:
    """Resolve the warehouse: explicit ``url``, else ``WAREHOUSE_URL``, else ``CLICKHOUSE_*``,
    else the embedded ``.warehouse`` of the project (:func:`orchestration.project.project_dir`).

    ``base`` stands for both the working directory, which a relative ``chdb://`` path is
    relative to, and the project's directory, which the default is in."""
    env = os.environ if environ is None else environ
    if url:
        return parse_warehouse_url(url, base)
    if env.get(ENV_NAME):
        return parse_warehouse_url(env[ENV_NAME], base, name=ENV_NAME)
    host = env.get("CLICKHOUSE_HOST", "").strip()
    if host:
        secure = _flag(env.get("CLICKHOUSE_SECURE", "false"), "CLICKHOUSE_SECURE")
        port_text = env.get("CLICKHOUSE_PORT", "").strip()
        try:
            port = int(port_text) if port_text else (8443 if secure else 8123)
        except ValueError:
            raise WarehouseConfigError(
                f"CLICKHOUSE_PORT must be a number, got {port_text!r}"
            ) from None
        return WarehouseConfig(
            backend="server",
            host=host,
            port=port,
            user=env.get("CLICKHOUSE_USER", "").strip() or "default",
            password=env.get("CLICKHOUSE_PASSWORD", ""),
            secure=secure,
        )
    return _embedded(DEFAULT_WAREHOUSE_DIR, base or project_dir())
