"""Which failures this project foresaw, so each is shown the way that helps its reader.

An exception class derives from :class:`ExpectedError` when every instance is a failure
this project foresaw and explained: bad input (an unknown asset in ``--select``, a
warehouse URL without a scheme, a source file that is not there, a refused query) or a
known condition (a warehouse that cannot be reached, a table whose types drifted, a
blocking asset check). Its message, written here, names what failed and why, so the CLI
prints it as one line and nothing more.

Every other exception is unexpected: a bug (here or in an asset's code) or a failure of a
library or of the engine. For those the CLI adds that ``--debug`` shows the traceback,
since where it was raised is what its reader needs next.

The same mark decides how a failed asset's error reads (:func:`describe_error`): an
expected error's message alone, since ``SourceError:`` in front of "bad.csv, row 5,
column 'Quantity': not a number" tells the user nothing the sentence does not; any
other with its class first, since there the class is often the meaning (``KeyError:
'customer_id'``, ``ArrowInvalid: ...``, ``ValueError`` raised by an asset's own code).

The mark is a base class, so the decision is made by type, once, where the exception is
declared, never by matching message text; the storage and pipeline layers mark their own
exceptions (their classes may also derive from ``ValueError`` and the like, as before).

The exit status is decided the same way (:func:`exit_code`): a :class:`UsageError`, input
on the command line that cannot be used as given, exits 2 as Click's own usage errors do
(an unknown option, a bad option value); every other error exits 1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar

from orchestration.exception_chain import exception_chain


class ExpectedError(Exception):
    """A foreseen failure whose message, written for the user, says what and why."""

    #: The message in full, when the message leaves out a part a one-line error does
    #: without (the engine's quote of the SELECT it compiled, after its cause, its guess
    #: and the place in the file: :mod:`io_managers.select_syntax`); given by
    #: ``--verbose``, ``--json``, the history and the asset's page. None: it is whole.
    full_message: str | None = None
    #: What it says before the error it was raised from, when it says that error's words
    #: after it (:meth:`after`); None: its words are its own. So a line that names that
    #: cause another way (a run hook's failure whose cause a failed asset's error said
    #: already: :func:`~orchestration.run_hooks.call_run_hooks`) keeps the rest of the
    #: message without taking it apart.
    lead: str | None = None

    @classmethod
    def after(cls, lead: str, cause: BaseException) -> Self:
        """This error, saying ``lead`` then ``cause`` (:func:`describe_error`), raised
        from ``cause``: ``raise PushgatewayError.after("not pushed", exc) from exc``."""
        error = cls(f"{lead}: {describe_error(cause)}")
        error.lead = lead
        error.__cause__ = cause
        return error


_Expected = TypeVar("_Expected", bound=ExpectedError)


def with_full_message(error: _Expected, full: str) -> _Expected:
    """``error``, given ``full`` as its :attr:`~ExpectedError.full_message` when that says
    more than its message."""
    if full != str(error):
        error.full_message = full
    return error


def said_in_full(error: _Expected) -> _Expected:
    """``error`` with its :attr:`~ExpectedError.full_message` as its message, for a
    command's ``--verbose``, whose errors reach the user as the CLI prints any error (one
    ``error:`` line): the same error, so its class still decides its exit status."""
    if error.full_message is not None:
        error.args = (error.full_message,)
        error.full_message = None
    return error


#: The exit status of a usage error (Click's), and of any other failure.
EXIT_USAGE = 2
EXIT_FAILURE = 1


class UsageError(ExpectedError):
    """Input on the command line that cannot be used as given, found after Click parsed
    it (an asset selection that does not parse or selects nothing): like a bad option
    value, it exits :data:`EXIT_USAGE`, so a script tells "called it wrong" from "it ran
    and failed" (exit 1). Its message stays the one written for it, not Click's."""


def exit_code(exc: BaseException) -> int:
    """The exit status of a command that ``exc`` ended."""
    return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILURE


class CommandRefused(SystemExit):
    """How a command exits when an error ended it on its one ``error:`` line, before any
    report of its work: a usage error, or a refusal (an unreachable or mistyped
    ``PREFECT_API_URL``, a warehouse URL without a scheme, a code location that does not
    import). It exits with its code as any :class:`SystemExit` does.

    The launcher leaves no warm starter for such a command (:mod:`orchestration.launcher`):
    what refused it is often a setting the starter is keyed by (a mistyped
    ``PREFECT_API_URL``), which the next command has corrected, so the starter would only
    idle (~200 MiB) for its 30 minutes. A command that did its work and failed (an asset,
    a blocking check, validate's findings) exits plainly, and leaves one for its retry."""


class StorageUnreachableError(ExpectedError):
    """The storage cannot be reached at all (a server down, a login refused).

    Nothing about any one asset can then be answered, so a command that reads stops with
    this one line instead of giving it as every asset's answer (column lineage
    "not derived: ..." 27 times, and exit 0).
    """


class StorageFullError(ExpectedError):
    """The storage has no room left for a write (a warehouse's disk is full).

    Every asset that writes there after it fails the same way, each repeating the cause;
    so a run stops starting assets once one meets it (:func:`storage_full`): those not
    started yet are skipped with :attr:`skip_reason`, and the report says the cause once.
    """

    #: What an asset the run did not start because of it says, in the report and history.
    skip_reason = "did not run: the storage is full"
    #: Where the storage is full (a directory, a server's disk): two failures that name the
    #: same place are one cause.
    where = ""


def storage_full(exc: BaseException) -> StorageFullError | None:
    """The :class:`StorageFullError` ``exc`` is, or was raised from (an asset's failure
    that wraps it: its table published, its record not written), else None."""
    chain = exception_chain(exc, raised_from=True)
    return next((cause for cause in chain if isinstance(cause, StorageFullError)), None)


def describe_error(exc: BaseException, *, full: bool = False) -> str:
    """``exc`` as one failed asset's cause: see the module docstring for the rule;
    ``full``: its :attr:`~ExpectedError.full_message`, if it has one."""
    if isinstance(exc, ExpectedError):
        return (exc.full_message if full else None) or str(exc)
    message = message_of(exc, full=full)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def message_of(exc: BaseException, *, full: bool = False) -> str:
    """``exc``'s message; unless ``full``, its ``brief_message`` when its class gives one:
    an unforeseen error whose message holds a part a one-line error does without (the
    engine's quote of the query a Python body sent: ``io_managers.errors``), which this
    layer knows only by that name."""
    brief = None if full else getattr(exc, "brief_message", None)
    return brief if isinstance(brief, str) else str(exc)


def chain_in_words(exc: BaseException) -> tuple[str, ...]:
    """``exc`` and each error it was raised from, as :func:`describe_error` says each: what
    tells that two failures have one cause (a run hook's and an asset's, a Pushgateway
    that is down), compared whole, not searched for in a message made of them."""
    return tuple(describe_error(cause) for cause in exception_chain(exc, raised_from=True))


def of_asset(key: str, table: str) -> str:
    """``asset 'k' (table t): ``, how an asset's failure starts: built here once, so the
    places that show the cause without it (a report row, a status reason, which name the
    asset already) remove exactly what was put there."""
    return f"asset {key!r} (table {table}): "


def at(where: Place | None, text: str) -> str:
    """``text`` after ``where`` (``path:line``) as a compiler puts it; alone without one."""
    return f"{where}: {text}" if where else text


class AssetError(Exception):
    """A failure of one asset worded as ``asset 'k' (table t): [place: ]cause`` by
    :meth:`for_asset`, the one builder of such an error, keeping the parts too:
    ``place``, the line of the asset's own code to fix (where its SELECT does not
    compile, its output does not fit its table), ``cause``, the words after it, and
    ``full_cause``, those words in full when ``cause`` leaves a part out (the engine's
    quote of the SELECT it compiled). A run's outcome carries them
    (:class:`~orchestration.run_report.AssetOutcome`), so what shows the cause without
    the asset or the place (the run's table, ~50 characters wide, in brief or with
    ``--verbose`` in full; its state message; which name the asset already) never
    parses the message.

    Most are foreseen (:class:`AssetFailure`); one a bug may cause is not, and its line
    says its class first, as any unforeseen error's does."""

    def __init__(
        self,
        message: str,
        *,
        place: Place | None = None,
        cause: str | None = None,
        full_cause: str | None = None,
    ) -> None:
        super().__init__(message)
        self.place = place
        self.cause = cause
        self.full_cause = full_cause

    @classmethod
    def for_asset(
        cls,
        key: str,
        table: str,
        cause: str,
        place: Place | None = None,
        *,
        full_cause: str | None = None,
    ) -> Self:
        """The failure of asset ``key`` (its table ``table``) for ``cause``, about
        ``place`` in its code if any: :func:`of_asset`, then both; ``full_cause``, the
        cause in full when ``cause`` leaves a part of it out, is kept apart."""
        message = of_asset(key, table) + at(place, cause)
        return cls(message, place=place, cause=cause, full_cause=full_cause)


class AssetFailure(AssetError, ExpectedError):
    """A foreseen failure of one asset (:class:`AssetError`): bad input, a refusal, a
    known condition, its message written for the user."""


#: Where the docs say how to change a table and keep its rows (named by drift refusals).
CHANGING_A_TABLE = "docs/warehouse.md#changing-a-table"


class RebuildRequired(ExpectedError):
    """A foreseen failure no rerun gets past: the asset's table no longer matches its DDL
    (a column drifted, by hand or because the DDL was edited), and only rebuilding the
    table from it, a full refresh, can. The run report's last line then names that
    command instead of a rerun that would be refused the same way."""

    #: The full refresh loses rows only this table kept (an insert-only table is rebuilt
    #: from what its upstream holds now), so the last line says so and names the way
    #: that keeps them; decided by type, like the rest of this module.
    loses_rows: bool = False
    #: What no longer matches, in words (``column 'x' is missing in the warehouse (Float64
    #: in the DDL)``), for a command that shows it beside the asset (``plan``, ``status``).
    drifted: str = ""


class InvalidRows(ExpectedError):
    """A foreseen failure of the rows an asset made, refused by its schema before anything
    was published: the same code on the same upstream makes the same rows, so the run
    report's last line names what to fix before the rerun (its SELECT, or the schema)."""


def did_you_mean(typed: str, known: Sequence[str], n: int = 3) -> str:
    """``"; did you mean a, b?"`` with the names in ``known`` closest to ``typed`` (none:
    ``""``), for the end of a line that refuses a name."""
    close = closest_names(typed, known, n)
    return f"; did you mean {', '.join(close)}?" if close else ""


def closest_names(typed: str, known: Sequence[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The names in ``known`` closest to ``typed``, closest first, at most ``n``: what
    :func:`did_you_mean` offers, for a line that words the offer its own way. Case aside:
    ``FACT_SALES`` shares no letter with ``fact_sales`` as difflib compares them, and a
    name that differs only in case is the one meant, alone. ``cutoff`` is difflib's: a
    short name abbreviating a longer one (``Qty``, ``Quantity``) needs a lower one."""
    import difflib  # here: every command imports this module, few ever refuse a name

    by_lower: dict[str, list[str]] = {}
    for name in known:
        by_lower.setdefault(name.lower(), []).append(name)
    if same := by_lower.get(typed.lower()):
        return same[:n]
    lowered = difflib.get_close_matches(typed.lower(), list(by_lower), n=n, cutoff=cutoff)
    return [name for lower in lowered for name in by_lower[lower]][:n]


@dataclass(frozen=True)
class Place:
    """Where in the user's code an error is: said as a compiler says it at the start of the
    error's line (``assets/marts.py:209``, ``schemas/marts.py:48:36``), and kept apart as
    well, so a script (``pipeline validate --json``, a CI annotation) reads the file and
    line without parsing the sentence."""

    file: str
    line: int
    col: int | None = None

    @classmethod
    def at(cls, path: str | os.PathLike[str], line: int, col: int | None = None) -> Place:
        """The place in ``path`` as an error line names it (:func:`shown_path`)."""
        return cls(shown_path(path), line, col or None)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" + (f":{self.col}" if self.col else "")


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the working directory when it is inside it, as the user and
    their editor (or a CI annotation) name it in an error line; else as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return os.fspath(path)
