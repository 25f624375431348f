"""Which of a failed asset's checks changed since the asset last passed its checks.

A check's SQL and severity are not part of its asset's code version (docs/state.md: an
edited check does not make the table stale, as its rows are what they were). But a check
edited since the asset last passed is the likeliest cause of its failure, and nothing
else a run says points at it: its tables, code and rows are unchanged. So each
materialization records its checks' versions (:func:`check_versions`, a hash of each
check's SQL and its severity; computed in Python, written with the record), and a failed
check is compared with the version of the last materialization that passed
(:func:`edited_since`).

The SQL's hash is of its normal form (:meth:`IOManager.normalized_sql`): a check only
re-indented, commented or its keywords recased reads the same rows, and a reviewer told
it was edited would look for a change that is not there. That hash is tagged
(:data:`NORMALISED`); an untagged one is of the SQL's text as written, which a record an
older version wrote holds, and a check whose SQL does not parse (the run refuses it
where the check runs; its version must not fail the run first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestration.checks import AssetCheck, AssetCheckResult
from orchestration.history import MaterializationRecord
from orchestration.io_manager import IOManager, SqlAnalysisError

#: A check's version as a record keeps it: ``{"sql": "n1:" + 16 hex digits, "severity":
#: ...}`` (16 hex digits alone: the hash of the text as written).
CheckVersion = Mapping[str, str]
#: What starts the hash of a SQL's normal form.
NORMALISED = "n1:"
#: What ``{table}`` is read as while the SQL is parsed: a quoted name, so the normal form
#: keeps ``{table}`` where it was written, whichever table the asset writes.
_TABLE_NAME = "`{table}`"


def check_versions(
    checks: Sequence[AssetCheck], analyser: IOManager | None
) -> dict[str, dict[str, str]]:
    """Each check's version by name: its SQL's hash (``{table}`` and all: the same SELECT
    checks the same rows), by ``analyser``'s normal form of it when it has one, and its
    severity, which turns its findings into a failure."""
    return {
        check.name: {"sql": _sql_version(check.sql, analyser), "severity": check.severity}
        for check in checks
    }


def _sql_version(sql: str, analyser: IOManager | None) -> str:
    """The hash of ``sql``'s normal form, tagged; of its text when ``analyser`` cannot
    parse it (no dialect, or SQL the run refuses where the check runs)."""
    try:
        normal = (
            analyser.normalized_sql(sql.replace("{table}", _TABLE_NAME))
            if analyser is not None
            else None
        )
    except (NotImplementedError, SqlAnalysisError):
        normal = None
    return _text_hash(sql) if normal is None else NORMALISED + _text_hash(normal)


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _same_sql(then: str | None, now: str | None, sql: str | None) -> bool:
    """Whether a check's SQL hashed ``then`` (at the last pass) is the one hashed ``now``,
    declared as ``sql``. An untagged ``then`` is of the text as written: ``sql``'s text
    is hashed so, or a check unchanged since an older version recorded it would read as
    edited."""
    if then is not None and sql is not None and not then.startswith(NORMALISED):
        return then == _text_hash(sql)
    return then == now


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
    checks: Sequence[AssetCheck],
) -> tuple[EditedCheck, ...]:
    """The blocking ``results`` whose check's version ``now`` (of ``checks``, as declared)
    differs from the one ``passed`` (the asset's last success) recorded. None when that
    success recorded no versions (an older version wrote it) or there was none: nothing
    tells."""
    then = passed.check_versions if passed is not None else None
    if passed is None or then is None or now is None:
        return ()
    declared = {check.name: check.sql for check in checks}
    edited = []
    for result in results:
        current = now.get(result.name)
        if not result.blocking or current is None:
            continue
        before = then.get(result.name)
        sql_edited = before is not None and not _same_sql(
            before.get("sql"), current.get("sql"), declared.get(result.name)
        )
        severity_then = before.get("severity") if before is not None else None
        if before is not None and not sql_edited and severity_then == current.get("severity"):
            continue
        edited.append(
            EditedCheck(
                check=result.name,
                asset=result.asset,
                since=passed,
                added=before is None,
                sql_edited=sql_edited,
                severity_then=severity_then,
                severity_now=current.get("severity"),
            )
        )
    return tuple(edited)
