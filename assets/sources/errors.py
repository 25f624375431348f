"""The one exception a bad source raises, so callers can tell bad data from bugs."""

from __future__ import annotations

from orchestration.errors import ExpectedError


class SourceError(ExpectedError):
    """The source cannot be read as Online Retail data.

    The message names the source (file, sheet or URL without credentials), the row and
    column when there is one, the offending value, and what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: object = None,
    ) -> None:
        location = []
        if source:
            location.append(source)
        if row is not None:
            location.append(f"row {row}")
        if column:
            location.append(f"column {column!r}")
        prefix = f"{', '.join(location)}: " if location else ""
        super().__init__(prefix + message)
        self.source = source
        self.row = row
        self.column = column
        self.value = value


#: Characters of an offending value or row an error shows: a row with an unclosed quote
#: runs to the end of the file.
EXCERPT_CHARS = 100


def excerpt(text: str) -> str:
    """``text`` quoted on one line: line breaks and control characters escaped, capped, so
    an error stays one line whatever the value holds."""
    if len(text) <= EXCERPT_CHARS:
        return repr(text)
    return f"{text[:EXCERPT_CHARS]!r}…"
