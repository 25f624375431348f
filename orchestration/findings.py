"""Findings of ``pipeline validate``: one disagreement each, printed as one line.

A framework type, because findings come from two sides: the graph (a read no asset
covers) and each IO manager's own schema check (a column whose type does not fit).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One disagreement, printed as one line: where, which check, expected vs found."""

    check: str
    asset: str | None = None
    table: str | None = None
    column: str | None = None
    expected: str = ""
    found: str = ""

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
        return asdict(self)
