"""One run at a time writes a ClickHouse server: a lock held in the warehouse itself.

Two ``pipeline materialize`` runs on one server at once corrupt it: insert-only hubs and
links keep the lines of one run whose satellite rows the other replaced, and each run's
checks then fail on the other's rows. An embedded warehouse cannot see two runs (chdb
opens a directory in one process: :mod:`io_managers.warehouse_lock`); a server can, from
any machine, so the lock is the server's own: ``CREATE VIEW _pipeline.run_lock`` without
``IF NOT EXISTS`` succeeds for exactly one of two runs (the other's fails with
``TABLE_ALREADY_EXISTS``), and the view's SELECT says who holds it, in the same atomic
statement: flow run id, host, pid, program name, since when - never arguments or URLs,
which may carry a password. ``DROP`` lets go of it, on every way a run ends.

A lock whose holder died (killed with SIGKILL, its machine restarted) stays. It is taken
over, with a warning, only when this machine can tell that its holder is gone: same host,
same boot and process namespace, and no process with its pid. Takeovers are serialized
on this machine (a ``flock``: only processes of the holder's machine may take it over),
so two runs that find the same dead holder do not both take it. A holder on another
machine is refused: only ``pipeline materialize --break-lock`` (a person who knows it is
gone) breaks it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from io_managers.errors import RunLockHeldError, WarehouseQueryError
from io_managers.sql import quote_string
from io_managers.transport import Transport

log = logging.getLogger("pipeline.warehouse")

LOCK = "_pipeline.run_lock"
#: The engine's ``TABLE_ALREADY_EXISTS`` and ``UNKNOWN_TABLE``.
ALREADY_EXISTS, UNKNOWN_TABLE = 57, 60
#: What to do about a lock held by a live run, or one this machine cannot judge.
BREAK_HINT = (
    "one run writes a warehouse at a time; wait for that one to finish, or, if it is gone "
    "and was not on this machine, run pipeline materialize --break-lock"
)


@dataclass(frozen=True)
class RunLockHolder:
    """The run that holds the lock, as its view says."""

    host: str
    pid: int
    #: The kernel's short name of the process, never its arguments.
    program: str
    started: str
    flow_run_id: str | None
    #: The boot and pid namespace ``pid`` belongs to: on the same host name, a container
    #: or a restarted machine numbers its processes anew.
    process_space: str

    @classmethod
    def this_process(cls, flow_run_id: str | None) -> RunLockHolder:
        """This process, as it holds the lock now."""
        return cls(
            host=socket.gethostname(),
            pid=os.getpid(),
            program=_read(f"/proc/{os.getpid()}/comm") or "unknown",
            started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            flow_run_id=flow_run_id,
            process_space=_process_space(),
        )

    def describe(self) -> str:
        """``pid 1234 on etl-1, pipeline, since 2026-12-05 10:31:16 UTC, flow run ...``."""
        said = f"pid {self.pid} on {self.host}, {self.program}, since {self.started}"
        return f"{said}, flow run {self.flow_run_id}" if self.flow_run_id else said

    def same_process(self, other: RunLockHolder) -> bool:
        """Whether ``other`` is the process this holder is (its other IO managers share
        the lock)."""
        return (self.host, self.process_space, self.pid) == (
            other.host,
            other.process_space,
            other.pid,
        )

    def ended(self) -> bool:
        """Whether this machine can tell that the holder's process is gone."""
        if (self.host, self.process_space) != (socket.gethostname(), _process_space()):
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process
            return False
        return False


class RunLock:
    """The run lock of one server, held by this process between acquire and release."""

    def __init__(self, transport: Transport, where: str) -> None:
        self._transport = transport
        self._where = where
        self._held: RunLockHolder | None = None

    def acquire(
        self,
        holder: RunLockHolder,
        *,
        break_held: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """Hold the lock as ``holder``; raises :class:`RunLockHeldError` naming the run
        that holds it. A holder that ended on this machine is taken over, any holder
        broken with ``break_held``, each told to ``warn`` in one line."""
        warn = warn or log.warning
        self._transport.command("CREATE DATABASE IF NOT EXISTS _pipeline")
        for _attempt in range(3):  # a holder may let go between the CREATE and the read
            if self._create(holder):
                return
            held = self.holder()
            if held is None:
                continue
            if held.same_process(holder):
                return  # another IO manager of this run, on the same server, holds it
            if break_held:
                warn(f"breaking the run lock of {held.describe()} on {self._where}")
                self._drop()
            elif held.ended():
                self._take_over(held, warn)
            else:
                raise RunLockHeldError(
                    f"warehouse {self._where} is being materialized by another run "
                    f"({held.describe()}): {BREAK_HINT}"
                )
        raise RunLockHeldError(f"warehouse {self._where}: the run lock changed hands while "
                               f"this run tried to take it; {BREAK_HINT}")  # fmt: skip

    def release(self) -> None:
        """Let go of the lock if this process took it; idempotent. Not one another run
        holds now (``--break-lock`` took it from this one): that run's lock stays."""
        held, self._held = self._held, None
        if held is not None and (now := self.holder()) is not None and now.same_process(held):
            self._drop()

    def holder(self) -> RunLockHolder | None:
        """Who holds the lock now; None if nobody does."""
        try:
            rows = self._transport.query_arrow(f"SELECT * FROM {LOCK}").to_pylist()
        except WarehouseQueryError as error:
            if error.code == UNKNOWN_TABLE:
                return None
            raise
        return RunLockHolder(**rows[0]) if rows else None

    def _create(self, holder: RunLockHolder) -> bool:
        columns = ", ".join(
            f"{_literal(value)} AS {name}" for name, value in asdict(holder).items()
        )
        try:
            self._transport.command(f"CREATE VIEW {LOCK} AS SELECT {columns}")
        except WarehouseQueryError as error:
            if error.code == ALREADY_EXISTS:
                return False
            raise
        self._held = holder
        return True

    def _take_over(self, ended: RunLockHolder, warn: Callable[[str], None]) -> None:
        with self._takeovers_here():
            if self.holder() == ended:  # not taken over meanwhile by another run here
                warn(
                    f"taking over the run lock of pid {ended.pid} on {ended.host}, which has "
                    "ended (killed, or its machine restarted)"
                )
                self._drop()

    @contextlib.contextmanager
    def _takeovers_here(self) -> Iterator[None]:
        key = hashlib.sha256(self._where.encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"pipeline-run-lock-{key}.lock"
        with path.open("a") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            yield

    def _drop(self) -> None:
        self._transport.command(f"DROP VIEW IF EXISTS {LOCK}")


def _literal(value: object) -> str:
    if value is None:
        return "CAST(NULL AS Nullable(String))"
    if isinstance(value, int):
        return f"toUInt32({value})"
    return quote_string(str(value))


def _process_space() -> str:
    """This machine's boot and this process's pid namespace, as Linux names them."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{boot} {namespace}".strip()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # not Linux
        return ""
