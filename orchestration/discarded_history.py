"""Refuse a full refresh that would drop rows only an insert-only table keeps.

An insert-only table (``write_mode="insert_new"``: the Data Vault's hubs, links and
satellites) keeps every key any load brought; its upstream holds only the latest load. A
``--full-refresh`` rebuilds the table from that upstream alone, so the keys of earlier
loads are gone for good, and nothing said so: the audit's full run took hub_invoice from
44,672 lines to 19,851, Fact_Sales with it, and printed "Checks: 20 passed".

So a full refresh that would lose such rows is refused before any work, in one line
naming each table and how many rows it would lose, counted in the warehouse
(:meth:`IOManager.rows_a_rebuild_loses`), unless the run confirms it
(``--discard-history``). Where the table's upstream is read as it is, the count is exact:
its rows whose key the asset's SELECT over that upstream does not yield, so a refresh that
loses nothing runs unasked. Where an upstream is rebuilt in the same run, or the body is
no SQL, what comes back is known only as the run goes: every row it holds is at risk,
said as ``up to``. Tables replaced on every run hold nothing of their own and are never
refused. ``pipeline plan --full-refresh`` says the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.context import DISCARD_HISTORY_OPTION, render_sql
from orchestration.errors import ExpectedError
from orchestration.io_manager import IOManager, KeptRows
from orchestration.run_report import MaterializationPlan


class DiscardedHistoryError(ExpectedError, RuntimeError):
    """A full refresh would drop rows only insert-only tables keep, and was not told to.

    ``losses`` maps each of those assets to what its rebuild would lose (None: its
    storage could not count it).
    """

    def __init__(self, message: str, losses: dict[str, KeptRows | None]) -> None:
        super().__init__(message)
        self.losses = losses


def history_losses(
    plan: MaterializationPlan, io_managers: Mapping[str, IOManager], book: StateBook
) -> dict[str, KeptRows | None]:
    """Each selected insert-only asset whose full refresh would lose rows -> how many
    (None: its storage cannot count them, so all of them may go).

    A run that rebuilds nothing, or that confirmed the loss, asks nothing.
    """
    if not plan.full_refresh or plan.discard_history:
        return {}
    losses: dict[str, KeptRows | None] = {}
    for spec in plan.selected:
        io_manager = io_managers.get(spec.io_manager)
        if spec.write_mode != "insert_new" or io_manager is None:
            continue
        select = _select_now(spec, plan, io_manager, book)
        kept = io_manager.rows_a_rebuild_loses(spec.table, spec.unique_key, select)
        if kept is None or kept.lost:
            losses[spec.key] = kept
    return losses


def _select_now(
    spec: AssetSpec, plan: MaterializationPlan, io_manager: IOManager, book: StateBook
) -> str | None:
    """The SELECT the rebuild would run, when it reads its upstream as it is now: a SQL
    asset none of whose upstream assets the run rebuilds first. Else None."""
    if spec.kind != "sql" or set(spec.deps) & plan.selected_keys:
        return None
    try:
        return render_sql(spec, io_manager, book.params)
    except Exception:  # a body that cannot render outside a run is counted in full
        return None


#: How many tables the refusal names before it counts the rest.
_NAMED = 3


def discarded_history_error(
    plan: MaterializationPlan, io_managers: Mapping[str, IOManager], book: StateBook
) -> DiscardedHistoryError | None:
    """Why a run of ``plan`` is refused, in one line; None when it drops no kept rows."""
    losses = history_losses(plan, io_managers, book)
    if not losses:
        return None
    tables = {spec.key: spec.table for spec in plan.selected}
    # The tables that hold most first; beyond a few, a count: fifteen named one by one
    # made a line of ~900 characters (``plan --json``'s ``would_lose`` has each).
    named = sorted(losses.items(), key=lambda item: -(item[1].held if item[1] else 0))
    listed = ", ".join(f"{tables[key]} {_lost(kept)}" for key, kept in named[:_NAMED])
    if len(named) > _NAMED:
        listed += f" and {len(named) - _NAMED} more tables (plan --json lists each)"
    guessed = any(kept is not None and not kept.exact for kept in losses.values())
    bound = ' ("up to": what comes back is known only as the run rebuilds it)' if guessed else ""
    one = len(losses) == 1
    return DiscardedHistoryError(
        f"--full-refresh would lose rows only insert-only tables keep, which no source "
        f"may hold any more: {listed}{bound}. Pass {DISCARD_HISTORY_OPTION} to rebuild "
        f"{'it' if one else 'them'} anyway, or leave {'it' if one else 'them'} out of "
        "--select",
        losses,
    )


def _lost(kept: KeptRows | None) -> str:
    """``2,971 of its 5,942 rows``, or ``up to 5,942 rows`` where it cannot be foretold."""
    if kept is None:
        return "(rows its storage cannot count)"
    if not kept.exact:
        return f"up to {kept.held:,} rows"
    return f"{kept.lost:,} of its {kept.held:,} rows"
