"""What a materialization learns about its staging table from the validation's aggregate.

Validation scans staging once, in one aggregate query; the same query also counts the
staged rows, lists the partitions their parts would be attached by, and reads the sizes
(and staging's engine) the result reports. So no count, partition or size query of its
own runs: each was a statement on the engine per asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from io_managers.sql import quote_string


@dataclass(frozen=True)
class StagedFacts:
    """Staging as validated, and (when its parts are to be attached) the target before."""

    rows: int
    bytes: int | None
    partitions: tuple[str, ...] = ()
    target_rows: int | None = None
    target_bytes: int | None = None
    #: Staging's ``engine_full``: its engine, sorting, TTL and settings.
    engine: str = ""

    def rows_missing(self, written: int | None) -> int:
        """How many of ``written`` rows staging lacks: a loss, where its engine keeps
        every row it is given (0 when it may hold fewer by design, or nothing was
        counted)."""
        if written is None or not keeps_every_row(self.engine):
            return 0
        return max(0, written - self.rows)

    def published_size(self, attached: bool) -> tuple[int | None, int | None]:
        """``(rows, bytes)`` of the target once staging is published: staging itself
        after an exchange, the target plus staging after attaching staging's parts."""
        if not attached:
            return self.rows, self.bytes
        rows = None if self.target_rows is None else self.target_rows + self.rows
        size = (
            None
            if self.target_bytes is None or self.bytes is None
            else self.target_bytes + self.bytes
        )
        return rows, size


#: Engines that hold every row an INSERT gives them, until something deletes rows.
_KEEPING_ENGINES = frozenset({"MergeTree", "Log", "TinyLog", "StripeLog"})


def keeps_every_row(engine_full: str) -> bool:
    """Whether a table of ``engine_full`` (``system.tables``) holds every row inserted.

    Not the others, which may hold fewer without losing any: ReplacingMergeTree and its
    kin merge the rows of one key as they are inserted (``optimize_on_insert``), a
    Replicated table drops a block inserted twice, as a plain one with a
    ``non_replicated_deduplication_window`` does, and a ``TTL`` deletes rows in merges
    that may run before validation.
    """
    engine, _, rest = engine_full.partition(" ")
    return (
        engine in _KEEPING_ENGINES
        and " TTL " not in f" {rest} "
        and "deduplication_window" not in rest
    )


def measures(database: str, staging_name: str, table_name: str, attach: bool) -> dict[str, str]:
    """Select-list expressions, by alias, measuring staging (names unquoted).

    The aliases start with ``__`` so they cannot shadow a column the checks read. The
    sizes of staging and, when attaching, of the target come from one ``system.tables``
    subquery: each costs ~2 ms whatever it reads (measured).
    """
    names = [staging_name, table_name] if attach else [staging_name]
    listed = ", ".join(quote_string(name) for name in names)
    found = {
        "__staged_rows": "count()",
        "__sizes": (
            f"(SELECT groupArray(CAST((name = {quote_string(staging_name)}, total_rows, "
            "total_bytes, engine_full), 'Tuple(staging Bool, rows Nullable(UInt64), "
            "bytes Nullable(UInt64), engine String)'))"
            f" FROM system.tables WHERE database = {quote_string(database)} "
            f"AND name IN ({listed}))"
        ),
    }
    if attach:
        # From the parts, not per row: 2 ms against 11 ms for a million rows (measured).
        found["__partitions"] = (
            "(SELECT groupUniqArray(partition_id) FROM system.parts WHERE active AND "
            f"database = {quote_string(database)} AND table = {quote_string(staging_name)})"
        )
    return found


def staged_facts(measured: Mapping[str, Any]) -> StagedFacts:
    """The facts from the aggregate's row (the aliases of :func:`measures`)."""
    sizes = {bool(entry["staging"]): entry for entry in measured.get("__sizes") or ()}

    def number(staging: bool, column: str) -> int | None:
        value = sizes.get(staging, {}).get(column)
        return None if value is None else int(value)

    return StagedFacts(
        rows=int(measured["__staged_rows"]),
        bytes=number(True, "bytes"),
        partitions=tuple(sorted(measured.get("__partitions") or ())),
        target_rows=number(False, "rows"),
        target_bytes=number(False, "bytes"),
        engine=str(sizes.get(True, {}).get("engine") or ""),
    )
