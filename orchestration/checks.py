"""Asset checks: declarative data tests attached to an asset, as in Dagster.

A check is a SQL query that selects the *offending* rows (dbt style): no rows means the
check passed. ``{table}`` in the query stands for the asset's own table. Severity
``error`` fails the asset (so its descendants are skipped); ``warn`` is reported only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["warn", "error"]


@dataclass(frozen=True)
class AssetCheck:
    """One named check on an asset's table."""

    name: str
    sql: str
    severity: Severity = "error"
    description: str = ""

    def __post_init__(self) -> None:
        if self.severity not in ("warn", "error"):
            raise ValueError(f"check {self.name!r}: severity must be 'warn' or 'error'")
