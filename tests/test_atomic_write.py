"""Files written whole through a temporary file (io_managers/atomic_write.py).

A page or a report is for people to open, share and serve: it gets the mode every file a
program creates gets, the umask's (0644 under the usual 022), not the owner-only 0600 of
``tempfile.mkstemp``. Each case sets a real umask and reads the mode back with
``os.stat``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from io_managers.atomic_write import write_atomically


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)]
)
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path, mask: int, expected: int) -> None:
    page = tmp_path / "reports" / "page.html"
    with umask(mask):
        write_atomically(page, "<html></html>")
    assert page.read_text() == "<html></html>"
    assert oct(mode(page)) == oct(expected)


def test_a_file_written_again_is_replaced_whole_with_nothing_left_beside_it(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.html"
    with umask(0o022):
        write_atomically(page, "old")
        write_atomically(page, b"new")
    assert page.read_bytes() == b"new"
    assert oct(mode(page)) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_a_failed_write_leaves_what_was_there_and_no_temporary_file(tmp_path: Path) -> None:
    taken = tmp_path / "page.html"  # a directory where the file should go: replace fails
    (taken / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        write_atomically(taken, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]
    assert [p.name for p in taken.iterdir()] == ["inside"]
