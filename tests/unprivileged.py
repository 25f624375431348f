"""Run a command as a user the file system's permissions apply to.

Root reads and writes through any mode bits (its ``CAP_DAC_OVERRIDE``), so a test of a
file or a directory the user may not read, run as root (a container, a CI image), would
prove nothing. As root the command runs under ``setpriv`` with every capability dropped:
still uid 0, so it may use the test's files, but held to their modes like anyone else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest


def unprivileged(command: Sequence[str]) -> list[str]:
    """``command`` run so that permissions hold for it (see the module docstring); skips
    the test when they cannot be made to."""
    if os.geteuid() != 0:
        return list(command)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("run as root, and setpriv (util-linux) is missing to drop its capabilities")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all", *command]


@contextlib.contextmanager
def mode(path: Path, bits: int) -> Iterator[Path]:
    """``path`` with mode ``bits`` for the block, then as it was (so the test's
    temporary directory can be removed)."""
    before = path.stat().st_mode & 0o7777
    path.chmod(bits)
    try:
        yield path
    finally:
        path.chmod(before)


@contextlib.contextmanager
def read_only_tree(root: Path) -> Iterator[Path]:
    """``root`` and everything under it without write permission for the block
    (``chmod -R a-w``), then as they were."""
    paths = [root, *root.rglob("*")]
    before = {path: path.lstat().st_mode & 0o7777 for path in paths if not path.is_symlink()}
    for path, bits in before.items():
        path.chmod(bits & ~0o222)
    try:
        yield root
    finally:
        for path, bits in before.items():
            path.chmod(bits)


def can_mount_a_private_tmpfs() -> bool:
    """Whether this process may mount a tmpfs of its own (root, with ``unshare -m``): a
    real disk that fills, for the full-disk tests."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0
