"""Make a validated staging table visible, atomically.

``replace`` swaps staging and target with ``EXCHANGE TABLES`` (one metadata operation);
``insert_new`` attaches staging's parts when staging holds only new keys, else appends
the keys the target lacks with an anti-join, so reruns never add a key twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from io_managers import statements
from io_managers.errors import WarehouseQueryError
from io_managers.queries import WarehouseQueries
from io_managers.sql import quote_identifier
from io_managers.transport import Transport

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec


class Publisher:
    """Publishes staging tables into their targets."""

    def __init__(self, transport: Transport, queries: WarehouseQueries) -> None:
        self._transport = transport
        self._queries = queries

    def publish(
        self,
        spec: AssetSpec,
        staging: str,
        target: str,
        columns: Sequence[str],
        new_rows: int | None = None,
        partitions: Sequence[str] | None = None,
    ) -> int | None:
        """Make staging visible; returns rows added for ``insert_new``.

        ``new_rows`` is given when staging holds only keys new to the target;
        ``partitions`` (staging's) when its parts may be attached to the target as they
        are (see :attr:`io_managers.catalog.TableFacts.parts_attachable`).
        """
        if spec.write_mode == "replace":
            self._exchange(spec, staging, target)
            return None
        if new_rows is not None and partitions is not None:
            self._attach_staged_parts(staging, target, partitions)
            return new_rows
        before = self._queries.row_count(spec.table)
        # Anti-join on the key: rerunning, or rerunning after a crash part-way through
        # this very INSERT, adds only what is missing, so no duplicates ever appear.
        self._transport.command(
            statements.insert_new_keys(target, staging, columns, spec.unique_key)
        )
        return self._queries.row_count(spec.table) - before

    def _exchange(self, spec: AssetSpec, staging: str, target: str) -> None:
        try:
            self._transport.command(statements.exchange(staging, target))
        except WarehouseQueryError as exc:
            if "NOT_IMPLEMENTED" not in str(exc) and "not supported" not in str(exc):
                raise
            # Databases without EXCHANGE (e.g. Ordinary): one multi-table RENAME.
            old_name = f"{statements.STAGING_PREFIX}old_{uuid.uuid4().hex[:8]}"
            old = f"{quote_identifier(spec.database)}.{quote_identifier(old_name)}"
            self._transport.command(f"RENAME TABLE {target} TO {old}, {staging} TO {target}")
            self._transport.command(f"RENAME TABLE {old} TO {staging}")

    def _attach_staged_parts(self, staging: str, target: str, partitions: Sequence[str]) -> None:
        """Publish new keys by attaching staging's parts to the target.

        Staging already holds only new keys (see :meth:`Stager.stage_sql`) and has the
        target's exact structure, so ``ATTACH PARTITION ... FROM`` hard-links its sorted
        parts into the target: no rows are read or written again. Each partition is
        attached atomically; after a crash between partitions, the rerun's anti-join
        skips whatever was attached. Tables outside the MergeTree family, and tables
        with materialized views (which only see INSERTs), get the INSERT instead.
        """
        for partition_id in partitions:
            self._transport.command(statements.attach_partition(target, partition_id, staging))
