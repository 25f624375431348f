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
