"""Which process has an embedded warehouse open: chdb lets one at a time open a directory.

ClickHouse marks a data directory it has open with an exclusive ``flock`` on its
``status`` file, whose text names the process (``PID: ...``, ``Started at: ...``). Asking
the kernel whether that lock is held, before chdb tries to take it, turns the engine's
failure (a C++ line on stderr, then "Error initializing EmbeddedServer") into one line
that names the process to wait for. The lock is the engine's own, so a process that died
without closing the warehouse (its lock went with it) does not count, whatever its status
file still says.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

#: The file ClickHouse locks in a data directory it has open.
STATUS_FILE = "status"


@dataclass(frozen=True)
class WarehouseHolder:
    """The process that has a warehouse open, as far as its status file tells."""

    pid: int | None
    started: str | None
    #: The kernel's short name of the process (``pipeline``, ``python3``): never its
    #: arguments, which may hold a password.
    program: str | None

    def describe(self) -> str:
        """``pid 1234, pipeline, since 2026-12-05 10:31:16`` (what is known of it)."""
        parts = [f"pid {self.pid}" if self.pid is not None else "pid unknown"]
        if self.program:
            parts.append(self.program)
        if self.started:
            parts.append(f"since {self.started}")
        return ", ".join(parts)


def warehouse_holder(path: Path) -> WarehouseHolder | None:
    """The other process that has the warehouse at ``path`` open, or None.

    None also when this process holds it (chdb may keep a closed directory locked) and
    when there is nothing to ask (no status file: no engine ever opened it or the last
    one closed it); chdb then opens the directory or says itself why it cannot.
    """
    try:
        descriptor = os.open(path / STATUS_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            # Shared: it fails only against the engine's exclusive lock, and is let go of
            # at once, so an engine starting now meets no more than a microsecond's lock.
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_from(os.read(descriptor, 4096).decode("utf-8", "replace"))
            return None if holder.pid == os.getpid() else holder
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _holder_from(status: str) -> WarehouseHolder:
    fields = dict(line.partition(": ")[::2] for line in status.splitlines())
    pid_text = fields.get("PID", "").strip()
    pid = int(pid_text) if pid_text.isdigit() else None
    return WarehouseHolder(pid, fields.get("Started at", "").strip() or None, _program(pid))


def _program(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # not Linux, or the process has just ended
        return None
