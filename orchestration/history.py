"""Materialization history: what was built, from what, when, and how it ended.

Each materialization of an asset is one :class:`MaterializationRecord`. The resolver writes
it twice under one ``materialization_id``: ``started`` before any work (a run writes every
asset it materializes as ``started`` at once, before its first asset's work), then
``materialized`` or ``failed`` once the outcome is known (after the publish and the
asset's checks), or ``skipped`` at the end of the run for an asset that never ran (its
upstream failed). A store keeps the later write, so a process killed mid-run leaves a
``started`` record: it never claims a publish that did not happen.

A ``skipped`` record is no attempt: :meth:`MaterializationHistory.latest` passes over it,
so an asset whose run never reached it keeps the state it had (its table is untouched).

Where records live is the IO manager's business (:meth:`IOManager.history`); the framework
only writes records and reads, per asset, the latest attempt and the latest success.

An asset's records are those of its key *and* its table: several code locations may
share one warehouse (two teams, a dev and a test location), each with an asset
``orders`` writing a table of its own, and one's runs must not make the other's built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

RecordStatus = Literal["started", "materialized", "failed", "skipped"]
#: The error of an asset whose run was stopped while it ran (Ctrl-C, SIGTERM): recorded
#: ``failed``, it reads as one the stop left ``started`` (``pipeline status``).
STOPPED = "interrupted: the run was stopped"


@dataclass(frozen=True)
class MaterializationRecord:
    """One materialization of one asset.

    ``upstream`` maps each upstream asset key to the ``materialization_id`` of the
    upstream materialization whose rows this one read (:attr:`AssetHistory.holding`: the
    last success, or a later attempt that published and then failed its checks; ``None``:
    the upstream table was never materialized by the framework), which is how "an
    upstream materialized since" is known.

    ``check_versions`` maps each of its asset's checks to its version then (the hash of
    its SQL and its severity: :func:`~orchestration.check_versions.check_versions`), so a
    failed check can be told edited since the last success; None: not recorded (a record
    an older version wrote).
    """

    materialization_id: str
    asset_key: str
    table: str
    code_version: str
    started: datetime
    status: RecordStatus = "started"
    run_id: str | None = None
    upstream: Mapping[str, str | None] = field(default_factory=dict)
    source_fingerprint: str | None = None
    rows: int | None = None
    inserted_rows: int | None = None
    ended: datetime | None = None
    error: str | None = None
    check_versions: Mapping[str, Mapping[str, str]] | None = None

    @property
    def failed_its_checks(self) -> bool:
        """Whether it failed in its blocking checks on its published table, the one
        failure that records rows: that table holds the rows they failed. (Checks run
        before publishing, as the warehouse runs them, fail an attempt that records no
        rows: it published none.)"""
        return self.status == "failed" and self.rows is not None

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json`` output and artifacts."""
        return {
            "materialization_id": self.materialization_id,
            "run_id": self.run_id,
            "asset_key": self.asset_key,
            "table": self.table,
            "code_version": self.code_version,
            "upstream": dict(self.upstream),
            "source_fingerprint": self.source_fingerprint,
            "rows": self.rows,
            "inserted_rows": self.inserted_rows,
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat() if self.ended else None,
            "status": self.status,
            "error": self.error,
            "check_versions": (
                None
                if self.check_versions is None
                else {name: dict(version) for name, version in self.check_versions.items()}
            ),
        }


@dataclass(frozen=True)
class AssetHistory:
    """What the state of one asset is judged on: its latest attempt and latest success."""

    last_attempt: MaterializationRecord | None = None
    last_success: MaterializationRecord | None = None

    @property
    def published(self) -> bool:
        """Whether a materialization published the asset's table, as these records tell:
        a success, or a latest attempt that failed only in its checks (which run on the
        published table, so the attempt has its rows). No success alone is state
        ``missing``, but such a table is there to check."""
        return self.last_success is not None or self.failed_its_checks

    @property
    def failed_its_checks(self) -> bool:
        """Whether its latest attempt published the table and then failed its checks: the
        table holds rows that failed them, whatever the last success left."""
        return self.last_attempt is not None and self.last_attempt.failed_its_checks

    @property
    def holding(self) -> MaterializationRecord | None:
        """The materialization whose rows the table holds, as these records tell: what a
        reader of the table reads now, and so what its record names as read. The latest
        attempt if it failed only in its checks (it published them), else the last
        success. An attempt that published nothing leaves what the one before it left,
        which these two records do not tell when that was a failure in its checks."""
        return self.last_attempt if self.failed_its_checks else self.last_success

    @property
    def table_rows(self) -> int | None:
        """Rows the asset's table holds, as the latest attempt tells: those it published (a
        success, or a failure only in its checks, as in :attr:`published`). None when it
        published none, since the table holds what an earlier attempt left and that need
        not be the last success (one between may have failed only in its checks); and for
        an interrupted attempt (``started``, no rows), which may or may not have published."""
        return self.last_attempt.rows if self.last_attempt is not None else None


class MaterializationHistory(ABC):
    """Where materialization records are kept; safe to call from several threads."""

    @property
    def one_process_at_a_time(self) -> bool:
        """Whether one process at a time can have this store open (the embedded
        warehouse): while this one has it, a run that recorded ``started`` here and is not
        going on in this process has no process left (:mod:`orchestration.crashed_run`).
        A store processes share (a server) cannot tell, hence False unless said."""
        return False

    @abstractmethod
    def record(self, record: MaterializationRecord) -> None:
        """Store ``record``, replacing an earlier record with the same id."""

    def record_all(self, records: Sequence[MaterializationRecord]) -> None:
        """Store several records; a store that can write them in one go overrides this."""
        for record in records:
            self.record(record)

    @abstractmethod
    def latest(self, tables: Mapping[str, str]) -> dict[str, AssetHistory]:
        """The latest attempt and latest success of each asset (absent: none recorded);
        ``skipped`` records are not attempts.

        ``tables`` maps each asset key to the table its declaration names
        (``database.Table``). A record is the asset's if it has that key and that table,
        compared as ClickHouse compares names (exactly, case included): a record of the
        key with another table is another asset's history (another code location's on a
        shared warehouse), or the asset's before its table was renamed, a table no run
        built yet."""

    def recent(
        self, tables: Mapping[str, str], limit: int, *, except_run: str | None = None
    ) -> dict[str, list[MaterializationRecord]] | None:
        """The last ``limit`` records of each asset, newest first (absent: none), for its
        page's History; read for all of ``tables`` (as :meth:`latest` takes them)
        together, since a run asks once for all its pages. ``skipped`` records are among
        them (no attempt, but a version of the page, which its History tells apart);
        ``except_run``'s are left out (the asking run's own, which its pages tell from the
        run itself). None: this store does not list its records: pages have no History."""
        return None
