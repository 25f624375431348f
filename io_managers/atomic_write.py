"""Writing a file whole: through a temporary file beside it, renamed over it at the end.

A reader (a browser on the dashboard, the next command on a kept SQL analysis answer)
never opens half a file, and a failed write leaves the old one. The temporary file is
created as any file a program creates, with the mode the umask gives (0644 under the
usual 022), not with ``tempfile.mkstemp``'s owner-only 0600, which the rename would carry
over to the file people open, share or serve. Reading the umask would mean setting it
(``os.umask``), for the whole process, while other threads create files: the kernel
applies it instead, as ``open`` does.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: The mode asked for; the kernel takes the umask's bits away.
_MODE = 0o666
_ATTEMPTS = 100


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, creating its directory if need be."""
    content = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary, handle = _create_beside(path)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _create_beside(path: Path) -> tuple[Path, int]:
    """A new, hidden file in ``path``'s directory, open for writing: its path and handle."""
    for _ in range(_ATTEMPTS):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE)
        except FileExistsError:  # another writer's, this instant: draw another name
            continue
    raise FileExistsError(f"no free temporary file name beside {path}")
