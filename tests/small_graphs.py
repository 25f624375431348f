"""Small asset graphs for rendering tests: a project of one's own, and ordering edges.

The retail-shaped graph of ``tests.lineage_location`` draws every colour and line a page
can; these draw few, so a test can tell what a page explains from what it draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestration.asset import AssetSpec
from orchestration.graph import AssetGraph, Upstream


def graph_of(
    deps: Sequence[tuple[str, tuple[str, ...]]], upstream: Mapping[str, Upstream] | None = None
) -> AssetGraph:
    """Python assets ``db.<key>`` with these deps (none ever runs)."""
    specs = [
        AssetSpec(key=key, table=f"db.{key}", body=lambda context: None, kind="python", deps=on)
        for key, on in deps
    ]
    return AssetGraph(specs, upstream=dict(upstream or {}))


def two_assets() -> AssetGraph:
    """The smallest project of one's own: ``totals`` reads ``orders``."""
    return graph_of([("orders", ()), ("totals", ("orders",))])


def with_an_ordering_dep() -> AssetGraph:
    """``fact`` reads ``source`` and runs after ``dimension`` (its checks read it)."""
    ordering = Upstream(reads=("source",), ordering=("dimension",), derived=True)
    return graph_of(
        [
            ("source", ()),
            ("dimension", ("source",)),
            ("fact", ("source", "dimension")),
            ("report", ("fact",)),
        ],
        {"fact": ordering},
    )


def with_an_order_only_branch() -> AssetGraph:
    """``fact`` reads ``link``; it runs after ``dimension``, which reads ``hub``; ``report``
    reads ``fact`` and ``audit`` runs after it. So ``hub`` is upstream of ``fact`` only
    through the ordering edge, as the retail hubs behind the dimensions are."""
    ordering = Upstream(reads=("link",), ordering=("dimension",), derived=True)
    return graph_of(
        [
            ("hub", ()),
            ("link", ()),
            ("dimension", ("hub",)),
            ("fact", ("link", "dimension")),
            ("report", ("fact",)),
            ("audit", ("dimension",)),
        ],
        {"fact": ordering},
    )


def with_a_checked_dimension() -> AssetGraph:
    """``fact`` reads ``source``; its check ``key_resolves`` reads ``dimension``'s table,
    so it runs after it (the retail facts and their dimensions, parsed from the checks'
    SQL into ``Upstream.checks_read``)."""
    checked = Upstream(
        reads=("source",),
        ordering=("dimension",),
        derived=True,
        checks_read=(("key_resolves", ("dimension",)),),
    )
    return graph_of(
        [
            ("source", ()),
            ("dimension", ("source",)),
            ("fact", ("source", "dimension")),
            ("report", ("fact",)),
        ],
        {"fact": checked},
    )
