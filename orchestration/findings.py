"""Findings of ``pipeline validate``: one disagreement each, printed as one line.

A framework type, because findings come from two sides: the graph (a read no asset
covers) and each IO manager's own schema check (a column whose type does not fit).

A finding may come from an exception (an asset's code failing in the ``--sample`` run):
then it keeps whether that failure was foreseen and its traceback, so ``validate`` shows
it the way every command shows an error (:mod:`orchestration.errors`): the line alone for
a foreseen one, a hint that ``--debug`` shows the traceback for any other, and the
traceback itself with ``--debug``.
"""

from __future__ import annotations

import traceback as tb
from dataclasses import dataclass, field
from typing import Any

from orchestration.errors import ExpectedError, describe_error


@dataclass(frozen=True)
class Finding:
    """One disagreement, printed as one line: where, which check, expected vs found."""

    check: str
    asset: str | None = None
    table: str | None = None
    column: str | None = None
    expected: str = ""
    found: str = ""
    #: False for a failure nobody foresaw (not an :class:`ExpectedError`): a bug, an engine
    #: failure. Neither this nor ``traceback`` is part of the line or of ``--json``.
    foreseen: bool = field(default=True, compare=False)
    #: The formatted traceback of the exception the finding reports, if it is one.
    traceback: str = field(default="", compare=False, repr=False)

    @classmethod
    def from_error(
        cls, check: str, asset: str | None, table: str | None, exc: BaseException
    ) -> Finding:
        """A finding for an exception: its one-line cause, and what ``--debug`` shows."""
        return cls(
            check,
            asset,
            table,
            found=describe_error(exc),
            foreseen=isinstance(exc, ExpectedError),
            traceback="".join(tb.format_exception(exc)),
        )

    def line(self) -> str:
        where = " ".join(
            part
            for part in (
                f"asset {self.asset}" if self.asset else "",
                f"table {self.table}" if self.table else "",
                f"column {self.column}" if self.column else "",
            )
            if part
        )
        detail = f"expected {self.expected}, found {self.found}" if self.expected else self.found
        return f"[{self.check}] {where + ': ' if where else ''}{detail}"

    def as_dict(self) -> dict[str, Any]:
        """What ``--json`` gives: where, which check, expected vs found (no traceback)."""
        return {
            "check": self.check,
            "asset": self.asset,
            "table": self.table,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
        }
