"""The one exception a bad source raises, so callers can tell bad data from bugs."""

from __future__ import annotations

from assets.sources.places import Place
from orchestration.errors import ExpectedError

#: Why a local file cannot be read when the system refuses this user (EACCES, EPERM): the
#: file's mode, or a directory above it the user may not enter (the system does not say
#: which).
PERMISSION_DENIED = (
    "permission denied (this user may not read the file, or enter a directory on its path)"
)


class SourceError(ExpectedError):
    """The source cannot be read as Online Retail data.

    The message names the source (file, sheet or URL without credentials), the row's
    place when there is one (a CSV file's line, a sheet's row: :mod:`.places`) and its
    column, the offending value, and what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        place: Place | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        location = []
        if source:
            location.append(source)
        if place is not None:
            location.append(str(place))
        if column:
            location.append(f"column {column!r}")
        prefix = f"{', '.join(location)}: " if location else ""
        super().__init__(prefix + message)
        self.source = source
        self.place = place
        self.column = column
        self.value = value

    @property
    def row(self) -> int | None:
        """The 1-based data row (the header not counted), whatever the place's unit."""
        return self.place.row if self.place is not None else None


#: Characters of an offending value or row an error shows: a row with an unclosed quote
#: runs to the end of the file.
EXCERPT_CHARS = 100


def excerpt(text: str) -> str:
    """``text`` quoted on one line: line breaks and control characters escaped, capped, so
    an error stays one line whatever the value holds."""
    if len(text) <= EXCERPT_CHARS:
        return repr(text)
    return f"{text[:EXCERPT_CHARS]!r}…"


def file_error(error: OSError, source: str) -> SourceError:
    """What the system said of the local file ``source`` (``error``, from looking it up or
    opening it), as the source's own line: a missing file or a permission is the user's
    to fix, not a bug here, so it must not read as ``[Errno 13] ...`` plus a traceback."""
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        why = "file not found"
    elif isinstance(error, PermissionError):
        why = PERMISSION_DENIED
    else:  # an I/O error, a loop of links: the system's words, without the errno
        why = (error.strerror or str(error)).lower()
    return SourceError(why, source=source)
