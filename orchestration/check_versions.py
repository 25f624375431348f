"""Which of a failed asset's checks changed since the asset last passed its checks.

A check's SQL and severity are not part of its asset's code version (docs/state.md: an
edited check does not make the table stale, as its rows are what they were). But a check
edited since the asset last passed is the likeliest cause of its failure, and nothing
else a run says points at it: its tables, code and rows are unchanged. So each
materialization records its checks' versions (:func:`check_versions`, a hash of each
check's SQL as declared, and its severity; computed in Python, written with the record),
and a failed check is compared with the version of the last materialization that passed
(:func:`edited_since`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestration.checks import AssetCheck, AssetCheckResult
from orchestration.history import MaterializationRecord

#: A check's version as a record keeps it: ``{"sql": <16 hex digits>, "severity": ...}``.
CheckVersion = Mapping[str, str]


def check_versions(checks: Sequence[AssetCheck]) -> dict[str, dict[str, str]]:
    """Each check's version by name: its SQL's hash (as declared, ``{table}`` and all: the
    same text checks the same rows) and its severity, which turns its findings into a
    failure."""
    return {
        check.name: {
            "sql": hashlib.sha256(check.sql.encode()).hexdigest()[:16],
            "severity": check.severity,
        }
        for check in checks
    }


@dataclass(frozen=True)
class EditedCheck:
    """A failed check that differs from the check of its asset's last passing
    materialization (``since``): its SQL, its severity, or it was not there (``added``)."""

    check: str
    asset: str
    since: MaterializationRecord
    added: bool = False
    sql_edited: bool = False
    severity_then: str | None = None
    severity_now: str | None = None

    @property
    def what(self) -> str:
        """``(its SQL)``, ``(severity warn -> error)``, both, or nothing for one added."""
        if self.added:
            return ""
        parts = ["its SQL"] if self.sql_edited else []
        if self.severity_then != self.severity_now:
            parts.append(f"severity {self.severity_then} -> {self.severity_now}")
        return f" ({'; '.join(parts)})"

    @property
    def ended(self) -> str:
        """When the last passing materialization ended, as a terminal line says it."""
        return f"{self.since.ended or self.since.started:%Y-%m-%d %H:%M:%S} UTC"

    @property
    def since_when(self) -> str:
        """``was edited (its SQL) since fact_sales's last passing run``: what a line says
        after the check's name, before that run."""
        verb = "added" if self.added else "edited"
        return f"was {verb}{self.what} since {self.asset}'s last passing run"

    def said(self) -> str:
        """``check 'x' was edited (its SQL) since fact_sales's last passing run (TIME,
        flow run ID)``: one line for the terminal."""
        run = self.ended + (f", flow run {self.since.run_id}" if self.since.run_id else "")
        return f"check {self.check!r} {self.since_when} ({run})"

    def as_dict(self) -> dict[str, Any]:
        ended = self.since.ended or self.since.started
        return {
            "check": self.check,
            "asset": self.asset,
            "added": self.added,
            "sql_edited": self.sql_edited,
            "severity_then": self.severity_then,
            "severity_now": self.severity_now,
            "last_passing_run_id": self.since.run_id,
            "last_passing_ended": ended.isoformat(),
        }


def edited_since(
    results: Sequence[AssetCheckResult],
    now: Mapping[str, CheckVersion] | None,
    passed: MaterializationRecord | None,
) -> tuple[EditedCheck, ...]:
    """The blocking ``results`` whose check's version ``now`` differs from the one
    ``passed`` (the asset's last success) recorded. None when that success recorded no
    versions (an older version wrote it) or there was none: nothing tells."""
    then = passed.check_versions if passed is not None else None
    if passed is None or then is None or now is None:
        return ()
    edited = []
    for result in results:
        current = now.get(result.name)
        if not result.blocking or current is None or then.get(result.name) == current:
            continue
        before = then.get(result.name)
        edited.append(
            EditedCheck(
                check=result.name,
                asset=result.asset,
                since=passed,
                added=before is None,
                sql_edited=before is not None and before.get("sql") != current.get("sql"),
                severity_then=before.get("severity") if before is not None else None,
                severity_now=current.get("severity"),
            )
        )
    return tuple(edited)
