"""Exceptions of the warehouse layer.

Each one carries a message meant to be shown to a user as is: one line first naming the
thing that failed (asset, table, column, ``host:port``) and the cause. None of them ever
contains a password: connection errors are built from a classified cause, or else from
the server's error code and the first line of its text, masked; a server's error text is
masked in every form it may repeat the password (the ``Authorization`` header's base64
among them).

Those foreseen by this layer (bad settings, an unreachable server, a refused or failed
materialization) are :class:`orchestration.errors.ExpectedError`, shown as that one line;
:class:`WarehouseQueryError` is the engine's own refusal of SQL this project wrote,
unexpected, so the CLI also offers its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from orchestration.errors import (
    AssetFailure,
    ExpectedError,
    InvalidRows,
    Place,
    RebuildRequired,
    StorageFullError,
    StorageUnreachableError,
    at,
    of_asset,
    with_full_message,
)

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec


class WarehouseError(Exception):
    """Base class of every error raised by the warehouse layer."""


class WarehouseConfigError(WarehouseError, ExpectedError, ValueError):
    """``WAREHOUSE_URL`` or the ``CLICKHOUSE_*`` variables cannot be understood."""


class WarehouseConnectionError(WarehouseError, StorageUnreachableError):
    """The ClickHouse server cannot be reached or refuses our credentials."""


class WarehouseOpenError(WarehouseError, StorageUnreachableError):
    """The embedded engine cannot open its directory; the message is the engine's reason
    (unreadable metadata, say), which a traceback of this project's code would not add to."""


class WarehouseInUseError(WarehouseError, StorageUnreachableError):
    """Another process has the embedded warehouse open (chdb allows one at a time)."""


class RunLockHeldError(WarehouseError, ExpectedError, RuntimeError):
    """Another run holds a server's run lock (:mod:`io_managers.run_lock`)."""


class WarehouseQueryError(WarehouseError):
    """ClickHouse rejected a statement; the message is the engine's, trimmed."""

    #: The engine's error code (``47``: ``UNKNOWN_IDENTIFIER``), set by the transport that
    #: met it; None when it did not say (or the error is this project's).
    code: int | None = None

    @property
    def brief_message(self) -> str:
        """The message up to the engine's quote of the query it compiled (~600 characters
        of a Python body's own SELECT, which the line of the body that sent it points to
        already): what a one-line error says (:func:`orchestration.errors.describe_error`);
        ``--verbose`` and ``--json`` say the message whole."""
        return without_quoted_query(str(self))


#: Where the engine's analyzer starts quoting the query it was compiling, after the
#: sentence about what went wrong: ``In scope SELECT ...``, or ``In query SELECT ...`` (a
#: column neither aggregated nor grouped by); the sentence before ends in ``.`` or ``:``.
_QUOTED_QUERY = re.compile(r"(?<=[.:]) In (?:scope|query) ")


def without_quoted_query(message: str) -> str:
    """The engine's ``message`` up to its quote of the query it was compiling (the
    sentence about what went wrong and its guess: ``Identifier 'sat.Quantiy' cannot be
    resolved from table with name sat (an alias of sat_invoice). Maybe you meant:
    ['sat.Quantity'].``); the whole of it when it quotes none. The first quote is the
    engine's: the query it quotes may hold the same words (in a string) only after it."""
    found = _QUOTED_QUERY.search(message)
    return message if found is None else message[: found.start()].removesuffix(":")


class WarehouseDiskFullError(WarehouseError, StorageFullError):
    """The engine refused a write for want of disk space (:mod:`io_managers.disk_full`):
    not the statement's fault, and every write after it fails the same way."""

    skip_reason = "did not run: the warehouse disk is full"


class DdlFileError(WarehouseError, ExpectedError):
    """A DDL file the code location names is not there, or cannot be split into
    statements (an unclosed quote): its mistake, said in full."""


class DdlStatementError(WarehouseQueryError, ExpectedError):
    """A statement of a DDL file was refused; the message names its file, line and column
    (the file's mistake, said in full: no traceback to ask for)."""


class CheckSQLError(WarehouseQueryError, ExpectedError):
    """An asset check's SQL is not one statement: its author's to fix, said in words
    (no engine error class in front of it)."""


class ReadOnlyQueryError(WarehouseError, ExpectedError):
    """``pipeline query`` was given something other than a single read statement."""


class QueryRejectedError(WarehouseQueryError, ExpectedError):
    """ClickHouse refused the statement a user typed (``pipeline query``): theirs to fix.
    The engine's message is the story, said in one line: a syntax error at its line and
    column with the first few tokens expected there, any other without the engine's quote
    of the statement; the message whole is its ``full_message`` (``--verbose``)."""


class MaterializationError(WarehouseError, AssetFailure):
    """An asset could not be computed or published; the previous table is untouched."""

    @classmethod
    def of(
        cls,
        spec: AssetSpec,
        cause: str,
        place: Place | None = None,
        *,
        full_cause: str | None = None,
    ) -> Self:
        """The failure of ``spec`` for ``cause``, built by
        :meth:`~orchestration.errors.AssetError.for_asset`: its asset and table first,
        then the ``place`` in its code the cause is about, if any; both kept apart too.
        ``full_cause``: the cause in full, when ``cause`` leaves a part of it out (the
        engine's quote of the SELECT it compiled), said the same way as the error's
        :attr:`~orchestration.errors.ExpectedError.full_message`."""
        error = cls.for_asset(spec.key, spec.table, cause, place, full_cause=full_cause)
        if full_cause is None:
            return error
        return with_full_message(error, of_asset(spec.key, spec.table) + at(place, full_cause))


class TypeDriftError(MaterializationError, RebuildRequired):
    """A published table's column types differ from its DDL; nothing was written."""


class InsertOnlyDriftError(TypeDriftError):
    """An insert-only table drifted: its full refresh keeps only what its upstream holds
    now, so keys of earlier loads that only it kept would be lost."""

    loses_rows = True


@dataclass(frozen=True)
class ValidationFailure:
    """One failed check: which column, which check, how many rows, a few bad values."""

    column: str | None
    check: str
    failing_rows: int | None = None
    examples: tuple[str, ...] = ()
    #: The schema's field, for a schema that does not fit the table (a failure of the
    #: schema's code, not of the rows): said before the check, as ``path:line``.
    declared_at: Place | None = None

    def describe(self, *, where: bool = True) -> str:
        """The failure in words; ``where=False`` leaves out the column (or ``table``) for
        a line that names it already (``pipeline validate``'s)."""
        text = at(self.declared_at, self.check)
        if where:
            text = f"{f'column {self.column!r}' if self.column else 'table'}: {text}"
        if self.failing_rows is not None:
            text += f" failed for {self.failing_rows} row{'s' if self.failing_rows != 1 else ''}"
        if self.examples:
            text += ", e.g. " + ", ".join(self.examples)
        return text


class AssetValidationError(MaterializationError, InvalidRows):
    """Staged data broke the asset's schema; nothing was published.

    Its line names the first failed check and counts the others; each of them, a line
    apiece, is its :attr:`~orchestration.errors.ExpectedError.full_message` (``--verbose``,
    the history, the asset's page): a run says one line per failed asset."""

    def __init__(self, asset: str, table: str, failures: Sequence[ValidationFailure]) -> None:
        self.asset = asset
        self.table = table
        self.failures = tuple(failures)
        first = self.failures[0].describe() if self.failures else "unknown failure"
        more = len(self.failures) - 1
        cause = f"failed validation: {first}"
        if more:
            cause += f" (and {more} more check{'s' if more != 1 else ''})"
        full_cause = cause + "".join(f"\n  - {f.describe()}" for f in self.failures[1:])
        # Built from its failures, not by AssetError.for_asset: the same lead and cause.
        lead = of_asset(asset, table)
        super().__init__(lead + cause, cause=cause, full_cause=full_cause if more else None)
        if more:
            with_full_message(self, lead + full_cause)
