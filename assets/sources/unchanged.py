"""A local source is loaded as one version of itself, or not at all.

Another process may write a source file while a run reads it: a copy or an export still
under way, rows appended, ``rsync`` moving a new version into place. The engine reads
with ``pread`` (:mod:`assets.sources.engine_csv`), so a file cut short makes its read
fail; but rows appended, a file rewritten at its size, or one replaced by another still
parse, and the ingest opens the path more than once (its first bytes, its header and its
last line in Python, then the engine's or Arrow's read), each open meeting whichever
version is there. The run published rows of two versions (or of one it no longer was),
exit 0, into an insert-only vault that never lets them go.

So the ingest takes the file's :class:`~orchestration.fingerprint.FileIdentity` (device,
inode, size, modification time) before anything opens it, and again once every row is
read and staged, before any is published: when the two differ the asset fails in one line
naming the file, and publishes nothing. A read that fails on a file that changed fails as
changed: the cut row a truncation left is the change's doing, not the file's.

Not caught: a change that leaves all four as they were, a rewrite at the same size within
one tick of the kernel's clock (a few milliseconds) of the write before the first look;
nor a file whose writer stopped before that look, half-written: nothing in a file says
where its writer meant it to end (see docs/safety.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from assets.sources.errors import SourceError, file_error
from orchestration.fingerprint import FileIdentity

T = TypeVar("T")


@dataclass(frozen=True)
class SourceVersion:
    """The version of a local source file that a read began with; ``label`` names the
    file in errors, as the readers name it."""

    path: Path
    label: str
    identity: FileIdentity

    @classmethod
    def of(cls, path: Path, label: str) -> SourceVersion | None:
        """The version of the file at ``path`` now; None when it cannot be looked up (no
        file there, no permission), which its read then names in its own words."""
        try:
            return cls(path, label, FileIdentity.of(path))
        except OSError:
            return None

    def changed(self) -> SourceError | None:
        """The error of a read of this version when the file is no longer it; None while
        it is."""
        try:
            now: FileIdentity | None = FileIdentity.of(self.path)
        except (FileNotFoundError, NotADirectoryError):
            now = None
        except OSError as error:  # no longer readable: the system's words
            return file_error(error, self.label)
        what = self.identity.change_to(now)
        if what is None:
            return None
        return SourceError(
            f"the file changed while it was read ({what}), so its rows could mix two "
            "versions of it; nothing was published: run again once the file is complete",
            source=self.label,
        )

    def check(self) -> None:
        """Raise :meth:`changed`'s error, if any: called once the rows are read and
        staged, before any is published."""
        if (error := self.changed()) is not None:
            raise error

    def guard(self, chunks: Iterator[T]) -> Iterator[T]:
        """``chunks``, read from this version: once they end, or fail as a bad source or
        on a file gone from under a reader opening it again, a file that changed fails the
        read as changed."""
        try:
            yield from chunks
        except (SourceError, OSError) as error:
            if (changed := self.changed()) is None:
                raise
            raise changed from error
        self.check()
