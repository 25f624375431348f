"""The thin per-backend layer: how a statement reaches ClickHouse and Arrow comes back.

Everything above this module (staging, validation, publishing) is plain SQL shared by both
backends; a transport only moves statements and Arrow data. Two implementations:

* :class:`EmbeddedTransport`: chdb, in process. chdb runs one engine per process and
  per directory, so the engine is shared through a reference-counted registry; each
  call borrows a connection of its own from the engine's pool, so the statements of
  assets running side by side run at once.
* :class:`ServerTransport`: clickhouse-connect over HTTP(S), one client without a server
  session so concurrent calls from several threads do not trip over a session lock.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from io_managers.config import WarehouseConfig
from io_managers.disk_full import disk_full_error, engine_error_code, free_bytes, out_of_space
from io_managers.engine_stderr import EXCEPTION_START, stderr_held
from io_managers.errors import (
    WarehouseConnectionError,
    WarehouseError,
    WarehouseInUseError,
    WarehouseOpenError,
    WarehouseQueryError,
)
from io_managers.sql import quote_identifier, quote_string
from io_managers.warehouse_lock import warehouse_holder
from orchestration.exception_chain import exception_chain
from orchestration.redaction import credential_forms, redact
from orchestration.uninterruptible import uninterruptible

SettingValue = str | int | float | bool
#: Settings for one read's rendering (:meth:`Transport.raw`); None: the engine's own.
OutputSettings = Mapping[str, SettingValue] | None
#: How much of a server's streamed response :meth:`ServerTransport.iter_raw` reads at a time.
RAW_PIECE_BYTES = 1 << 20


class Transport(Protocol):
    """What the IO manager needs from a backend; all methods are thread-safe."""

    #: Host part of Prefect asset keys (``embedded`` or the server host).
    authority: str
    #: Whether this process is the warehouse's only user (so leftovers are abandoned).
    exclusive: bool
    #: Whether the engine runs on this machine, so ``file()`` reads the files we see.
    reads_local_files: bool
    #: What the layers above keep about the warehouse (the catalog), shared by every IO
    #: manager on it: embedded, one per directory (one engine per process); server, one
    #: per client.
    shared: dict[str, Any]
    #: The engine's version as it reports it (``26.9.2.1``), known without a statement:
    #: what compiles on it may not on another (:mod:`io_managers.checks`). ``""``: unknown.
    engine_version: str

    def command(self, sql: str) -> None:
        """Run a statement whose result is not needed (DDL, TRUNCATE, ...); an INSERT of
        rows goes through :meth:`write`, which says how many it wrote."""

    def write(self, sql: str) -> int | None:
        """Run an ``INSERT ... SELECT``; the rows the engine reports it wrote, or None
        when it does not say. What the target then holds is checked against it: chdb can
        drop rows it had no disk space for without raising (:mod:`io_managers.stage`)."""

    def query_arrow(self, sql: str, readonly: int = 0) -> pa.Table:
        """Run a query and return its whole result as Arrow.

        ``readonly`` > 0 runs it with ClickHouse's ``readonly`` setting at that level, so
        the engine itself refuses writes (see :mod:`io_managers.read_only`).
        """

    def iter_arrow(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Stream a query's result in batches; the stream holds a connection until it ends
        or is closed."""

    def insert_arrow(
        self, table: str, data: pa.Table, settings: Mapping[str, SettingValue]
    ) -> None:
        """Insert ``data`` into ``table`` (already quoted), columns matched by name."""

    def raw(self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None) -> bytes:
        """Run a query and return the engine's rendering in output format ``fmt``.

        ``settings`` (how values are rendered: ``date_time_output_format``, ...) apply to
        this statement alone; they are set together with ``readonly``, which would
        refuse them in the statement itself.
        """

    def iter_raw(
        self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None
    ) -> Iterator[bytes]:
        """Run a query and stream the engine's rendering in ``fmt``, a piece at a time.

        Only for row formats without a header, prefix or suffix (``CSV``, ``TSV``,
        ``JSONEachRow``): the pieces joined are then ``raw(sql, fmt, readonly,
        settings)``. (chdb renders each block of rows on its own, so a header or a JSON
        document would come once per block.) The stream holds a connection until it ends
        or is closed.
        """

    def close(self) -> None:
        """Release the engine or connection; idempotent."""


_VERSION_TRAILER = re.compile(r"\s*\(version [^()]*(\([^()]*\))?[^()]*\)\s*$")


#: How ClickHouse ends the message of a system call that failed (``Cannot open file
#: /wh/status: , errno: 13, strerror: Permission denied.``): said as ``: Permission denied``.
_ERRNO_TAIL = re.compile(r":?\s*, errno: \d+, strerror: ([^.]*)\.")


def clean_engine_message(message: str, limit: int = 800) -> str:
    """An engine error trimmed for humans: no version trailer, no stack trace, no errno
    number, bounded."""
    text = str(message).strip()
    text = text.split("\nStack trace", 1)[0]
    text = _VERSION_TRAILER.sub("", text)
    if start := EXCEPTION_START.match(text):
        text = text[start.end() :]
    text = _ERRNO_TAIL.sub(r": \1", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def query_error(message: str, code: int | None) -> WarehouseQueryError:
    """The error of a statement the engine refused with ``message`` (as it raised it):
    its words, trimmed (:func:`clean_engine_message`), and its error ``code``."""
    error = WarehouseQueryError(clean_engine_message(message))
    error.code = code
    return error


def _settings_clause(settings: Mapping[str, SettingValue]) -> str:
    return f" SETTINGS {_setting_list(settings)}" if settings else ""


def _setting_list(settings: Mapping[str, SettingValue]) -> str:
    """``a=1, b='x'``: the settings as a ``SETTINGS`` clause or a ``SET`` lists them."""
    parts = []
    for name, value in settings.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"invalid setting name {name!r}")
        if isinstance(value, bool):
            value = int(value)
        rendered = str(value) if isinstance(value, (int, float)) else quote_string(str(value))
        parts.append(f"{name}={rendered}")
    return ", ".join(parts)


def arrow_stream_bytes(data: pa.Table) -> bytes:
    """``data`` as one Arrow IPC stream, the format both backends ingest natively."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return sink.getvalue()


# --------------------------------------------------------------------------- embedded


#: A chdb connection's settings: its ``readonly`` level and the output settings set
#: before it (sorted), which that level then keeps from changing.
_Profile = tuple[int, tuple[tuple[str, SettingValue], ...]]
_ORDINARY: _Profile = (0, ())
#: Every chdb connection's: ``file()`` reads with ``pread``, not chdb's ``mmap``, under
#: which a file rewritten or cut short during the read kills the process with SIGBUS (a
#: run then dies printing nothing; a query too). A profile's settings may override it.
_CONNECTION_SETTINGS: dict[str, SettingValue] = {"storage_file_read_method": "pread"}


@dataclass
class _Engine:
    """One chdb engine (one directory) and the connections this process has to it.

    chdb runs one statement at a time per connection but statements of different
    connections at once, and a connection to an open engine costs a fraction of a
    millisecond. So each call borrows a connection of its own from a pool: the
    statements of assets running side by side (each mostly single-threaded work: query
    analysis, small inserts, checks) use both cores instead of queueing behind one lock.
    A connection's settings are its own, so the pool is kept per :data:`_Profile`: its
    ``readonly`` level and the output settings set before it.
    """

    path: Path
    #: Guards the pools and the count of borrowed connections, never a statement.
    lock: threading.Condition = field(default_factory=threading.Condition)
    refs: int = 0
    #: Idle connections by profile (``(0, ())``: ordinary).
    idle: dict[_Profile, list[Any]] = field(default_factory=dict)
    #: Connections borrowed now, by the borrowing thread's ident.
    borrowers: Counter[int] = field(default_factory=Counter)
    closed: bool = False
    #: :attr:`Transport.shared` of every transport on this engine.
    shared: dict[str, Any] = field(default_factory=dict)

    def connect(self, profile: _Profile = _ORDINARY) -> Any:
        """A new connection with :data:`_CONNECTION_SETTINGS` and ``profile``'s settings,
        ``readonly`` last: once it is above 0 the engine refuses writes and settings
        changes on that connection."""
        readonly, settings = profile
        session = _session_class()(str(self.path))
        session.query(f"SET {_setting_list({**_CONNECTION_SETTINGS, **dict(settings)})}", "CSV")
        if readonly:
            session.query(f"SET readonly = {int(readonly)}", "CSV")
        return session

    @contextlib.contextmanager
    def borrowed(self, readonly: int = 0, settings: OutputSettings = None) -> Iterator[Any]:
        """A connection for this call alone, back to the pool afterwards - unless the
        call failed: chdb keeps what a failed statement wrote before it failed (a
        multi-statement string refused part-way, the first blocks of a query that threw)
        in front of the connection's next result, so a failed connection is closed and
        the next call gets a new one (~0.2 ms)."""
        profile = (readonly, tuple(sorted((settings or {}).items())))
        with self.lock:
            if self.closed:
                raise WarehouseError(f"embedded warehouse {self.path} is closed")
            pool = self.idle.setdefault(profile, [])
            session = pool.pop() if pool else None
            borrower = threading.get_ident()
            self.borrowers[borrower] += 1
        failed = True
        try:
            if session is None:
                session = self.connect(profile)
            yield session
            failed = False
        finally:
            with self.lock:
                self.borrowers[borrower] -= 1
                if session is not None:
                    if self.closed or failed:
                        session.close()
                    else:
                        self.idle.setdefault(profile, []).append(session)
                self.lock.notify_all()

    def close(self) -> None:
        """Close every connection once other threads' calls in flight have returned
        theirs; a stream this thread still holds (kept alive by an exception's
        traceback, say) cannot return it while we wait, so it is closed when it ends."""
        me = threading.get_ident()
        with self.lock:
            self.closed = True
            self.lock.wait_for(
                lambda: not any(n for ident, n in self.borrowers.items() if ident != me)
            )
            for pool in self.idle.values():
                for session in pool:
                    session.close()
            self.idle.clear()


def _session_class() -> Any:
    """chdb's ``Session``, imported with the stop signals held the first time: the import
    runs an engine of its own whose ``clickhouse-embedded-*`` directory in the temp
    directory only the import's end removes (:mod:`orchestration.uninterruptible`)."""
    module = sys.modules.get("chdb.session")
    if module is None:
        with uninterruptible():
            module = importlib.import_module("chdb.session")
    return module.Session


_engines: dict[Path, _Engine] = {}
_registry_lock = threading.Lock()


def _open_engine(path: Path) -> _Engine:
    with _registry_lock:
        engine = _engines.get(path)
        if engine is None:
            if _engines:
                other = next(iter(_engines))
                raise WarehouseError(
                    f"cannot open embedded warehouse {path}: this process already has "
                    f"{other} open and chdb runs one warehouse directory per process; "
                    "close the other warehouse first"
                )
            _refuse_if_in_use(path)
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # a directory this user may not write to, say
                reason = error.strerror or str(error)
                raise WarehouseOpenError(
                    f"cannot create embedded warehouse {path}: {reason}"
                ) from error
            engine = _Engine(path=path)
            with stderr_held() as engine_stderr:
                try:
                    first = engine.connect()
                except Exception as exc:  # chdb raises a bare RuntimeError, saying little
                    # Taken first: whichever error this becomes, the engine's own line goes
                    # with it, never to stderr as well.
                    reason = engine_stderr.take_engine_exception() or str(exc)
                    _refuse_if_in_use(path)  # opened by another process a moment ago
                    raise WarehouseOpenError(
                        f"cannot open embedded warehouse {path}: "
                        f"{clean_engine_message(reason)}{_unwritable(path)}"
                    ) from exc
            engine.idle[_ORDINARY] = [first]
            _engines[path] = engine
        engine.refs += 1
        return engine


def _unwritable(path: Path) -> str:
    """What to add to the engine's reason when this user may not write to the warehouse
    directory ``path`` (its mode, a read-only mount): the engine's words name a file in
    it, not that every command, a read too, needs to write there."""
    if os.access(path, os.W_OK):
        return ""
    return (
        "; this user may not write to the warehouse directory, and chdb creates and locks "
        "a status file there even to read it"
    )


def _refuse_if_in_use(path: Path) -> None:
    """Say which process has ``path`` open, before chdb fails on its lock with less."""
    holder = warehouse_holder(path)
    if holder is not None:
        raise WarehouseInUseError(
            f"embedded warehouse {path} is in use by another process ({holder.describe()}): "
            "chdb opens a warehouse directory in one process at a time; wait for that one "
            "to finish, or use a ClickHouse server (WAREHOUSE_URL) to read while a run writes"
        )


def _release_engine(engine: _Engine) -> None:
    with _registry_lock:
        engine.refs -= 1
        if engine.refs <= 0 and _engines.get(engine.path) is engine:
            del _engines[engine.path]
            engine.close()


def arrow_file_table(result: Any) -> pa.Table:
    """The table in a chdb result of format ``Arrow`` (an Arrow IPC file; none: empty).

    What chdb's own ``ArrowTable`` format does, without its import of pandas (only to check
    that it is installed): ~0.45 s that a ``pipeline query`` would pay for nothing. The
    bytes are copied into memory Python owns, so the table does not depend on how long
    chdb keeps its result buffer (its ``get_memview().view()`` holds no reference to it).
    """
    if len(result) == 0:
        return pa.Table.from_batches([], schema=pa.schema([]))
    return pa.ipc.open_file(pa.py_buffer(result.bytes())).read_all()


class EmbeddedTransport:
    """chdb in this process, on a persistent directory."""

    authority = "embedded"
    exclusive = True
    reads_local_files = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()
        self._engine: _Engine | None = _open_engine(self.path)
        self.shared = self._engine.shared
        # The engine is open, so chdb is imported; its engine's version, not the package's.
        self.engine_version = str(getattr(sys.modules["chdb"], "engine_version", ""))

    def _borrowed(
        self, readonly: int = 0, settings: OutputSettings = None
    ) -> contextlib.AbstractContextManager[Any]:
        engine = self._engine
        if engine is None:
            raise WarehouseError(f"embedded warehouse {self.path} is closed")
        return engine.borrowed(readonly, settings)

    def _refused(self, message: str) -> WarehouseError:
        """The error of a statement the engine refused with ``message``: the warehouse's
        disk full (:mod:`io_managers.disk_full`), else the engine's words."""
        code = engine_error_code(message)
        if out_of_space(code, message):
            return disk_full_error(str(self.path), free_bytes(self.path), message)
        return query_error(message, code)

    def _run(self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None) -> Any:
        with self._borrowed(readonly, settings) as session:
            try:
                return session.query(sql, fmt)
            except Exception as exc:
                raise self._refused(str(exc)) from None

    def command(self, sql: str) -> None:
        self._run(sql, "CSV")

    def write(self, sql: str) -> int:
        return int(self._run(sql, "CSV").rows_written())

    def query_arrow(self, sql: str, readonly: int = 0) -> pa.Table:
        return arrow_file_table(self._run(sql, "Arrow", readonly))

    def iter_arrow(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        with self._borrowed() as session:
            try:
                stream = session.send_query(sql, "Arrow")
                try:
                    yield from stream.record_batch(rows_per_batch=batch_rows)
                finally:
                    stream.close()
            except WarehouseError:
                raise
            except Exception as exc:
                raise self._refused(str(exc)) from None

    def insert_arrow(
        self, table: str, data: pa.Table, settings: Mapping[str, SettingValue]
    ) -> None:
        columns = ", ".join(quote_identifier(name) for name in data.column_names)
        statement = f"INSERT INTO {table} ({columns}){_settings_clause(settings)}"
        payload = arrow_stream_bytes(data)
        with self._borrowed() as session:
            try:
                with session.send_insert(statement, "ArrowStream") as inserter:
                    inserter.append(payload)
                    inserter.finish()
            except Exception as exc:
                message = str(exc).removeprefix("Streaming insert finish failed: ")
                raise self._refused(message) from None

    def raw(self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None) -> bytes:
        result = self._run(sql, fmt, readonly, settings)
        data = result.bytes() if hasattr(result, "bytes") else result
        return data.encode() if isinstance(data, str) else bytes(data)

    def iter_raw(
        self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None
    ) -> Iterator[bytes]:
        with self._borrowed(readonly, settings) as session:
            try:
                stream = session.send_query(sql, fmt)
                try:
                    for block in stream:  # one block of rows (~65,000), rendered
                        yield block.bytes()
                finally:
                    stream.close()
            except WarehouseError:
                raise
            except Exception as exc:
                message = str(exc).removeprefix("Streaming query failed: ")
                raise self._refused(message) from None

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            _release_engine(engine)


# --------------------------------------------------------------------------- server


#: The driver's words for an HTTP error without ClickHouse's error header (its status only).
_NOT_CLICKHOUSE_STATUS = re.compile(r"HTTP driver received HTTP status (\d{3})")
_DNS = "host name could not be resolved (DNS failure)"
_REFUSED = "connection refused (is the server running and the port right?)"
_TLS = "TLS handshake failed"
_AUTH = "authentication failed (check the user and password)"
#: Statuses that mean the login, whoever answered them (ClickHouse or a proxy before it).
_LOGIN_STATUSES = {
    "401": "authentication failed (HTTP 401)",
    "403": "access denied (HTTP 403)",
}
_CLOSED = "the server closed the connection without answering"
_NOT_HTTP = "the service there does not answer in HTTP"
#: What a cause adds when it is the warehouse's: the URL option or the port that fixes it.
_WAREHOUSE_HINTS = {
    _TLS: " (check secure=true|false and the certificate)",
    _CLOSED: " (did it stop or restart? a service that is not ClickHouse over HTTP does this too)",
    _NOT_HTTP: " (is the port right? ClickHouse serves HTTP on 8123, HTTPS on 8443)",
}


def _timed_out(chain: list[BaseException], config: WarehouseConfig | None) -> str | None:
    """Which wait ran out, and the URL option that sets it: the two call for different
    fixes (an unreachable host; a port that is not ClickHouse, or a slow statement)."""
    names = {type(item).__name__ for item in chain}
    if "ConnectTimeoutError" in names or "ConnectTimeout" in names:
        if config is None:
            return "connection timed out"
        return (
            f"no connection within connect_timeout={config.connect_timeout:g} s (is the host "
            "reachable? a slow network wants a larger connect_timeout in the URL)"
        )
    if names & {"ReadTimeoutError", "ReadTimeout"} or any(
        isinstance(item, TimeoutError) for item in chain
    ):
        if config is None:
            return "connection timed out"
        return (
            f"no answer within send_receive_timeout={config.send_receive_timeout:g} s (is the "
            "port ClickHouse's HTTP interface? a statement that runs longer wants a larger "
            "send_receive_timeout in the URL)"
        )
    return None


def classify_connection_failure(
    exc: BaseException, config: WarehouseConfig | None = None
) -> str | None:
    """A short cause for a failure to reach or log in to a server, else ``None``.

    Built from exception types and well-known markers, never from the raw message, so
    the result cannot carry credentials: a service that is not ClickHouse may answer
    with anything, the request's own ``Authorization`` header included. With ``config``
    the server is that warehouse: a cause names the URL option or the port that fixes it
    (a timeout, the option that set it). Without, it is another service (a source
    download, through httpx), and the cause stands alone.
    """
    cause = _connection_failure(exc, config)
    if cause is None or config is None:
        return cause
    return cause + _WAREHOUSE_HINTS.get(cause, "")


def _connection_failure(exc: BaseException, config: WarehouseConfig | None) -> str | None:
    import http.client
    import socket
    import ssl

    chain = list(exception_chain(exc))
    text = " ".join(f"{type(item).__name__} {item}" for item in chain)
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return _REFUSED
        if isinstance(item, http.client.RemoteDisconnected):  # a BadStatusLine of no line
            return _CLOSED
        if isinstance(item, http.client.BadStatusLine):  # an SSH banner, say
            return _NOT_HTTP
        if isinstance(item, socket.gaierror):
            return _DNS
        if isinstance(item, ssl.SSLError):
            return _TLS
    timed_out = _timed_out(chain, config)
    if timed_out:
        return timed_out
    status = _NOT_CLICKHOUSE_STATUS.search(text)
    if status and status.group(1) in _LOGIN_STATUSES:  # a proxy's own login, say
        return _LOGIN_STATUSES[status.group(1)]
    if status:  # ClickHouse sends X-ClickHouse-Exception-Code with every error it answers
        return (
            f"the service there answered HTTP {status.group(1)} without ClickHouse's error "
            "header, so it is not ClickHouse's HTTP interface or a proxy in front of it "
            "failed (is the port right? ClickHouse serves HTTP on 8123, HTTPS on 8443)"
        )
    markers = [
        ("NameResolutionError", _DNS),
        ("Name or service not known", _DNS),
        ("nodename nor servname", _DNS),
        ("Temporary failure in name resolution", _DNS),
        ("Connection refused", _REFUSED),
        ("AUTHENTICATION_FAILED", _AUTH),
        ("Authentication failed", _AUTH),
        ("REQUIRED_PASSWORD", _AUTH),
        ("received ClickHouse error code 401", "authentication failed (HTTP 401)"),
        ("HTTP 401", "authentication failed (HTTP 401)"),
        ("401 Unauthorized", "authentication failed (HTTP 401)"),
        ("received ClickHouse error code 403", "access denied (HTTP 403)"),
        ("SSLError", _TLS),
        ("RemoteDisconnected", _CLOSED),
        ("Connection aborted", _CLOSED),
        ("Server disconnected without sending a response", _CLOSED),  # httpx's words
        ("illegal status line", _NOT_HTTP),  # httpx's (h11's)
        ("Connection reset", "the server reset the connection"),
        ("Max retries exceeded", "the server could not be reached"),
    ]
    for marker, cause in markers:
        if marker in text:
            return cause
    return None


#: How clickhouse-connect wraps the server's error text: its code, then, when asked to
#: show server errors (the default), the URL it posted to.
_DRIVER_WRAPPER = re.compile(
    r"^Received ClickHouse exception, code: (?P<code>\d+), server response: (?P<body>.*?)"
    r"(?: \(for url [^()\s]*\))?$",
    re.DOTALL,
)


def _server_response(message: str) -> str:
    """The server's own error text out of the driver's wrapper, so an engine error reads
    the same on both backends (``Syntax error: failed at position 7 ...``)."""
    match = _DRIVER_WRAPPER.match(message.strip())
    return match.group("body") if match else message


#: How much of a connection failure's text is shown: ClickHouse says why in one short line.
_UNVERIFIED_LIMIT = 200


def _unverified_answer(message: str, secrets: tuple[str, ...]) -> str:
    """What a server that failed the connection said, when no known cause fits: its error
    code and the first line of its text, masked. Nothing has shown yet that ClickHouse
    answered (a debugging endpoint or a proxy may echo the request, headers and all, below
    that line), so the rest is not repeated; ClickHouse's own reason fits on that line."""
    match = _DRIVER_WRAPPER.match(message.strip())
    text = match.group("body") if match else message
    first = redact(text, secrets).strip().partition("\n")[0]
    shown = clean_engine_message(first, limit=_UNVERIFIED_LIMIT)
    if match is None:
        return shown
    code = f"the server answered error code {match.group('code')}"
    return f"{code}: {shown}" if shown else code


def _request_settings(readonly: int, settings: OutputSettings) -> dict[str, SettingValue] | None:
    """A read's settings on its request: the server applies them all before it parses
    the statement, so ``readonly`` refuses settings changes in the statement only."""
    merged = {**(settings or {}), **({"readonly": readonly} if readonly else {})}
    return merged or None


class ServerTransport:
    """A ClickHouse server over HTTP(S) through clickhouse-connect."""

    exclusive = False
    reads_local_files = False
    #: A clickhouse-connect client (untyped library); None once closed.
    _client: Any

    def __init__(self, config: WarehouseConfig) -> None:
        import clickhouse_connect

        driver_log = logging.getLogger("clickhouse_connect")
        if driver_log.level == logging.NOTSET:
            # Its transport warnings repeat, as noise on stderr, the one-line error we raise.
            driver_log.setLevel(logging.ERROR)
        self.config = config
        #: The password in every form an error text may repeat it, all masked there.
        self._secrets = credential_forms(config.user, config.password)
        self.authority = str(config.host)
        self.shared: dict[str, Any] = {}
        try:
            self._client = clickhouse_connect.get_client(
                host=config.host,
                port=config.port,
                username=config.user,
                password=config.password,
                secure=config.secure,
                verify=config.verify,
                connect_timeout=config.connect_timeout,
                send_receive_timeout=config.send_receive_timeout,
                autogenerate_session_id=False,
                client_name="retail-asset-graph",
            )
        except Exception as exc:
            raise self._connection_error(exc) from None
        #: Asked by the client as it connected (``SELECT version()``), so it costs nothing.
        self.engine_version = str(self._client.server_version or "")

    def _connection_error(self, exc: BaseException) -> WarehouseError:
        cause = classify_connection_failure(exc, self.config)
        if cause is None:
            cause = _unverified_answer(str(exc), self._secrets) or type(exc).__name__
        return WarehouseConnectionError(
            f"cannot connect to ClickHouse at {self.config.address} "
            f"as user {self.config.user!r}: {cause}"
        )

    def _translate(self, exc: BaseException) -> WarehouseError:
        from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

        if isinstance(exc, OperationalError) or (
            isinstance(exc, DatabaseError) and classify_connection_failure(exc)
        ):
            return self._connection_error(exc)
        # Masked before it is trimmed, so no cut leaves a part of a secret unmasked.
        message = redact(_server_response(str(exc)), self._secrets)
        code = engine_error_code(message)
        if out_of_space(code, message):
            return self._disk_full(message)
        return query_error(message, code)

    def _disk_full(self, message: str) -> WarehouseError:
        """A write the server refused for space (``message``): its disk with the least
        room, as its ``system.disks`` tells (a read, which a full disk still answers);
        the server alone if it cannot be asked."""
        where, free = f"the server {self.config.address}", None
        with contextlib.suppress(Exception):
            disks = self._client.query(
                "SELECT path, free_space FROM system.disks ORDER BY free_space LIMIT 1"
            ).result_rows
            if disks:
                path, free = disks[0]
                where = f"{path} on the server {self.config.address}"
        return disk_full_error(where, free, message)

    def command(self, sql: str) -> None:
        self._command(sql)

    def write(self, sql: str) -> None:
        """A ClickHouse server refuses an INSERT it has no disk space for, aloud; the
        count of written rows its response header carries is left unread, so a count
        sent before the statement ended can never fail a run."""
        self._command(sql)

    def _command(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except Exception as exc:
            raise self._translate(exc) from None

    def query_arrow(self, sql: str, readonly: int = 0) -> pa.Table:
        settings = _request_settings(readonly, None)
        try:
            return self._client.query_arrow(sql, settings=settings, use_strings=True)
        except Exception as exc:
            raise self._translate(exc) from None

    def iter_arrow(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        try:
            with self._client.query_arrow_stream(sql, use_strings=True) as stream:
                for block in stream:  # RecordBatches, or Tables in older drivers
                    if isinstance(block, pa.Table):
                        yield from block.to_batches(max_chunksize=batch_rows)
                    else:
                        yield block
        except WarehouseError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None

    def insert_arrow(
        self, table: str, data: pa.Table, settings: Mapping[str, SettingValue]
    ) -> None:
        try:
            self._client.raw_insert(
                table,
                [quote_identifier(name) for name in data.column_names],
                arrow_stream_bytes(data),
                settings=dict(settings),
                fmt="ArrowStream",
            )
        except Exception as exc:
            raise self._translate(exc) from None

    def raw(self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None) -> bytes:
        try:
            return self._client.raw_query(
                sql, fmt=fmt, settings=_request_settings(readonly, settings)
            )
        except Exception as exc:
            raise self._translate(exc) from None

    def iter_raw(
        self, sql: str, fmt: str, readonly: int = 0, settings: OutputSettings = None
    ) -> Iterator[bytes]:
        try:
            response = self._client.raw_stream(
                sql, fmt=fmt, settings=_request_settings(readonly, settings)
            )
            try:
                yield from response.stream(RAW_PIECE_BYTES)
            finally:
                response.close()
        except WarehouseError:
            raise
        except Exception as exc:
            raise self._translate(exc) from None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
