"""Refuse a run that would read upstream assets never materialized in its warehouse.

A selection reads its unselected upstream assets as they are in the warehouse. On a new
warehouse the DDL has created every table empty, so ``materialize --select 'fact_sales+'``
would build the facts from nothing, pass their checks (nothing to violate) and report
success; a ``--full-refresh`` would replace a table's rows with nothing. The
materialization history, which a run reads once anyway, says which tables no run ever
published: a selection that reads one is refused before any work, naming those assets,
what reads them and the selection that builds them too. ``pipeline plan`` says the same.
"""

from __future__ import annotations

import re
import shlex

from orchestration.asset_state import StateBook
from orchestration.errors import ExpectedError
from orchestration.run_report import MaterializationPlan

#: A selection that is one name (``fact_sales``, ``key:hub_*``), maybe with its
#: descendants (``fact_sales+``, ``fact_sales+2``): ``+`` written before it is its ancestors.
_ONE_NAME = re.compile(r"(?:key:)?[A-Za-z_][\w/*]*(?:\+\d*)?")


class UnbuiltUpstreamError(ExpectedError, RuntimeError):
    """The selection reads unselected upstream assets no run ever materialized here.

    ``unbuilt`` maps each of them to the selected assets that read it.
    """

    def __init__(self, message: str, unbuilt: dict[str, tuple[str, ...]]) -> None:
        super().__init__(message)
        self.unbuilt = unbuilt


def unbuilt_upstream(plan: MaterializationPlan, book: StateBook) -> dict[str, tuple[str, ...]]:
    """Each unselected upstream asset of ``plan`` that no materialization in this warehouse
    published -> the selected assets that read it (or run after it), in dependency order.

    A selection with no outside upstream (every full run) reads nothing for this. Otherwise
    it is the history every run reads, read once (:attr:`StateBook.never_published`). An
    asset whose IO manager keeps no history is never in it: nothing says its table was
    not built some other way.
    """
    if not plan.external:
        return {}
    never = book.never_published
    return {
        spec.key: tuple(reader.key for reader in plan.selected if spec.key in reader.deps)
        for spec in plan.external
        if spec.key in never
    }


def unbuilt_upstream_error(
    plan: MaterializationPlan, book: StateBook
) -> UnbuiltUpstreamError | None:
    """Why a run of ``plan`` is refused, in one line; None when it reads no unbuilt asset."""
    unbuilt = unbuilt_upstream(plan, book)
    if not unbuilt:
        return None
    by_readers: dict[tuple[str, ...], list[str]] = {}
    for key, readers in unbuilt.items():
        by_readers.setdefault(readers, []).append(key)
    listed = "; ".join(
        f"{', '.join(keys)} (read by {', '.join(readers)})" for readers, keys in by_readers.items()
    )
    one = len(unbuilt) == 1
    return UnbuiltUpstreamError(
        f"the selection {plan.selection or '*'!r} reads "
        f"{'an asset' if one else f'{len(unbuilt)} assets'} never materialized in this "
        f"warehouse: {listed}; materialize {'it' if one else 'them'} first or select "
        f"{_quoted(widened_selection(plan, book))}",
        unbuilt,
    )


def widened_selection(plan: MaterializationPlan, book: StateBook) -> str:
    """A selection that runs: ``plan``'s and everything it reads, ancestors included.

    ``+NAME`` or ``+NAME+`` when that is enough, else ``+(SELECTION)``: the descendants of
    one asset may read beyond its ancestors (data_quality, below fact_sales, reads
    fact_sale_returns), so ``+fact_sales+`` is offered only if it reads nothing unbuilt.
    """
    selection = plan.selection or "*"
    if _ONE_NAME.fullmatch(selection):
        candidate = f"+{selection}"
        selected = {spec.key for spec in plan.graph.select(candidate)}
        outside = {spec.key for spec in plan.graph.external_upstream(selected)}
        if not outside & book.never_published:
            return candidate
    return f"+({selection})"


def _quoted(selection: str) -> str:
    """The selection as typed after ``--select``, in the quotes a shell keeps it in."""
    return f"'{selection}'" if "'" not in selection else shlex.quote(selection)
