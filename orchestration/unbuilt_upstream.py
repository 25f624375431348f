"""Refuse a run that would read upstream assets never materialized in its warehouse.

A selection reads its unselected upstream assets as they are in the warehouse. On a new
warehouse the DDL has created every table empty, so ``materialize --select 'fact_sales+'``
would build the facts from nothing, pass their checks (nothing to violate) and report
success; a ``--full-refresh`` would replace a table's rows with nothing. The
materialization history, which a run reads once anyway, says which tables no run ever
published: a selection that reads one is refused before any work, with the command to
run instead first (the selection that builds them too), then those assets; ``--verbose``
adds what reads each. ``pipeline plan`` says the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from orchestration.asset_state import StateBook
from orchestration.errors import ExpectedError
from orchestration.fingerprinted_source import source_options
from orchestration.run_report import (
    MaterializationPlan,
    counted,
    quoted_selection,
    refresh_options,
)
from orchestration.typed_options import with_options

#: Unbuilt assets a suggested selection may name one by one.
_LISTED_AT_MOST = 3


class UnbuiltUpstreamError(ExpectedError, RuntimeError):
    """The selection reads unselected upstream assets no run ever materialized here.

    ``unbuilt`` maps each of them to the selected assets that read it.
    """

    def __init__(self, message: str, unbuilt: dict[str, tuple[str, ...]]) -> None:
        super().__init__(message)
        self.unbuilt = unbuilt

    def with_readers(self) -> UnbuiltUpstreamError:
        """This refusal with one more line, which selected assets read each unbuilt asset
        (``materialize --verbose``): why the offered selection is as wide as it is, which
        the two lines before leave out to stay short."""
        by_readers: dict[tuple[str, ...], list[str]] = {}
        for key, readers in self.unbuilt.items():
            by_readers.setdefault(readers, []).append(key)
        listed = "; ".join(
            f"{', '.join(keys)} (read by {', '.join(readers)})"
            for readers, keys in by_readers.items()
        )
        them = "it" if len(self.unbuilt) == 1 else "them"
        return UnbuiltUpstreamError(
            f"{self}\nthe selected assets that read {them}: {listed}", self.unbuilt
        )


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
    """Why a run of ``plan`` is refused; None when it reads no unbuilt asset.

    Two lines, what to do first: the command that runs, to copy (the selection that builds
    the unbuilt assets too, with the options this run was given, so it rebuilds and reads
    as this one would have), short enough for an 80-column terminal; then why, naming the
    unbuilt assets. Once one line of ~530 characters for the retail marts, with the
    command at its very end, after which selected asset reads each (now
    :meth:`UnbuiltUpstreamError.with_readers`, for ``--verbose``).
    """
    unbuilt = unbuilt_upstream(plan, book)
    if not unbuilt:
        return None
    one = len(unbuilt) == 1
    them = "it" if one else "them"
    widened = quoted_selection(widened_selection(plan, book, list(unbuilt)))
    command = with_options(
        f"pipeline materialize{refresh_options(plan)} --select {widened}",
        source_options(book.params),
    )
    # Materialized first, they would be refused too when they read an unbuilt asset.
    first = "" if _reads_unbuilt(plan, book, unbuilt) else f" (or materialize {them} first)"
    return UnbuiltUpstreamError(
        f"run this instead: {command}\n"
        f"the selection {plan.selection or '*'!r} reads "
        f"{'an asset' if one else counted(len(unbuilt), 'asset')} never materialized in "
        f"this warehouse; {widened} builds {them} too{first}: {', '.join(unbuilt)}",
        unbuilt,
    )


def _reads_unbuilt(plan: MaterializationPlan, book: StateBook, unbuilt: Iterable[str]) -> bool:
    """Whether the ``unbuilt`` assets, selected alone, read an asset never built either."""
    outside = plan.graph.external_upstream(unbuilt)
    return any(spec.key in book.never_published for spec in outside)


def widened_selection(plan: MaterializationPlan, book: StateBook, unbuilt: list[str]) -> str:
    """A selection that runs: ``plan``'s, and what it reads that was never built.

    The first of these that reads nothing unbuilt itself, so the suggestion rebuilds no
    more than it must: the selection plus the unbuilt assets (``fact_sales+ or
    fact_sale_returns``; only for a few, or the line would be a list), ``+NAME`` or
    ``+NAME+`` for a selection of one name, and ``+(SELECTION)``, all its ancestors,
    which always runs. ``+fact_sales+`` is not always enough: data_quality, below
    fact_sales, reads fact_sale_returns, no ancestor of fact_sales.
    """
    from orchestration.selection import key_term  # as AssetGraph.select: only when needed

    selection = plan.selection or "*"
    one_name = _is_one_name(selection)
    candidates = []
    if len(unbuilt) <= _LISTED_AT_MOST:
        named = [key_term(key) for key in unbuilt]
        candidates.append(" or ".join([selection if one_name else f"({selection})", *named]))
    if one_name:
        candidates.append(f"+{selection}")
    for candidate in candidates:
        selected = {spec.key for spec in plan.graph.select(candidate, book.state_names)}
        outside = {spec.key for spec in plan.graph.external_upstream(selected)}
        if not outside & book.never_published:
            return candidate
    return f"+({selection})"


def _is_one_name(selection: str) -> bool:
    """Whether ``selection`` is one name (``fact_sales``, ``key:hub_*``), maybe with its
    descendants (``fact_sales+``, ``fact_sales+2``), as the selection parser reads it:
    then ``+`` written before it adds its ancestors, and ``or`` needs no parentheses."""
    from orchestration.selection import Downstream, KeyPattern, parse_selection

    tree = parse_selection(selection)
    if isinstance(tree, Downstream):
        tree = tree.child
    return isinstance(tree, KeyPattern)
