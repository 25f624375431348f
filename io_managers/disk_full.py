"""A warehouse out of disk space, said as such wherever a statement meets it.

The engine refuses a write it has no room for with ``NOT_ENOUGH_SPACE`` (code 243): it
could not reserve room for a new part (``Cannot reserve 1.00 MiB, not enough space``: it
reserves at least 1 MiB for any write, a one-row history record too), nor for a sort's
or an aggregation's temporary data, or a ``min_free_disk_*_to_perform_insert`` setting
keeps more free than there is. chdb says nothing else on a full disk (measured on a full
tmpfs: ``CREATE``, ``EXCHANGE`` and ``DROP`` still pass, every write is refused so). A
system call that runs out of room all the same (another process took the space after the
reservation) fails with ``ENOSPC``, which ClickHouse's message spells ``errno: 28`` (code
75, ``CANNOT_WRITE_TO_FILE_DESCRIPTOR``, among others). Both are known by those numbers,
never by the words around them.

The engine's words say neither where the disk is nor what to do, and the layers above
took them for something else: the history's write for a broken history table ("drop it
and it is created again", which would throw every record away), a SQL asset's INSERT for
a mistake of its code. So each transport turns them into :class:`WarehouseDiskFullError`
where it meets them, one line: ``warehouse disk is full at /data/wh (812.0 KiB free):
free space, then run again`` (on a server, the server's disk, as its ``system.disks``
tells). It is no :class:`~io_managers.errors.WarehouseQueryError`, so no handler of the
engine's refusals words it as its own; a run stops at it (:mod:`orchestration.resolver`).
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

from io_managers.errors import WarehouseDiskFullError

#: ClickHouse's ``NOT_ENOUGH_SPACE``.
NOT_ENOUGH_SPACE = 243
#: An engine error's code as ClickHouse prints it: ``Code: 243. DB::Exception: ...``.
_CODE = re.compile(r"\bCode: (\d+)\. DB::")
#: A failed system call's errno in ClickHouse's message (``, errno: 28, strerror: ...``).
_ERRNO = re.compile(r"\berrno: (\d+)\b")
#: The settings a refusal names when it was a threshold of free space, not the disk's end.
_THRESHOLD = "min_free_disk_"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def engine_error_code(message: str) -> int | None:
    """The engine's error code in ``message`` (its exception's text), if it says one."""
    found = _CODE.search(message)
    return int(found.group(1)) if found else None


def out_of_space(code: int | None, message: str) -> bool:
    """Whether the engine refused for want of disk space: ``NOT_ENOUGH_SPACE``, or a
    system call that failed with ``ENOSPC``."""
    return code == NOT_ENOUGH_SPACE or any(
        int(number) == errno.ENOSPC for number in _ERRNO.findall(message)
    )


def free_bytes(path: Path) -> int | None:
    """The bytes free to this user on ``path``'s file system (None: it cannot be asked)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_full_error(where: str, free: int | None, message: str) -> WarehouseDiskFullError:
    """The one line for a write refused for space (``message``, the engine's) by the
    warehouse on the disk at ``where``, ``free`` bytes free there (None: not known)."""
    room = []
    if free is not None:
        room.append(f"{readable_size(free)} free")
    if _THRESHOLD in message:  # the disk has room; the table's setting keeps it free
        room.append("less than its min_free_disk_* settings keep free")
    said = f" ({', '.join(room)})" if room else ""
    error = WarehouseDiskFullError(
        f"warehouse disk is full at {where}{said}: free space, then run again"
    )
    error.where = where
    return error


def readable_size(size: int) -> str:
    """``812 B``, ``1.5 MiB``: a size as a person reads it, in powers of 1024."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"
