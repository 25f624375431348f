"""Lineage diagrams sized for the Prefect UI, where a Mermaid diagram is shrunk to fit.

Prefect 3.9's V2 UI draws a markdown artifact's Mermaid at most ~660 px wide at a
1600x1000 window, scaling a wider diagram down as a whole. A label stays at least 10 CSS
px only if the diagram is about three node columns wide (measured: the marts layer of the
shipped pipeline, inputs -> dimensions -> facts, renders its 22 px labels at 12 px; the
27-asset graph in one diagram rendered them at 3 px). So diagrams here run left to right
with at most three ranks, and height - which the page scrolls - takes the rest:

* :func:`focused_diagrams` - one asset's page: its direct upstream in the left column,
  the asset, its direct downstream in the right column, with their edges; the assets
  further away are counted in one dashed box per side (the page lists them by
  distance, with links); a side of more than :data:`MAX_COLUMN` assets takes several
  diagrams;
* :func:`layer_diagrams` - a run: one diagram per layer (split when a layer is more
  than two ranks deep), each with the assets it reads from outside as its first column.
  Together they hold every node and edge of :func:`orchestration.lineage.to_mermaid`.

Given where each asset's page is (``href``), every asset box opens it: the UI's Mermaid
runs at security level ``strict``, which drops script callbacks but follows a ``click``
link (measured in tests/test_lineage_ui.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestration.graph import AssetGraph
from orchestration.lineage import (
    LAYOUT_LINK,
    NOT_SELECTED,
    ORDER_LINE,
    SELECTED,
    arrow,
    checks_read,
    node_statuses,
    order_link_style,
    status_class_lines,
    status_legend,
)


def _mermaid_config(font_px: int) -> str:
    """The init line of a diagram: its labels' size, and no line hops. The UI's renderer
    (ELK layout) draws a hop where lines cross by rewriting the line's dash array as a
    solid one's, which turned 7 of the marts' 8 dotted ordering edges solid."""
    theme = f'"themeVariables": {{"fontSize": "{font_px}px"}}'
    return f'%%{{init: {{{theme}, "elk": {{"lineHops": false}}}}}}%%'


#: An asset's page: larger text than the UI's 14 px. Node boxes grow with it, the spacing
#: between them does not, so more of the width is label where the UI shrinks a diagram
#: wider than its column to fit, as it does this one (its *order* labels take a column of
#: their own). The UI ignores flowchart spacing settings.
FOCUS_CONFIG = _mermaid_config(22)
#: A run's diagrams, at most three columns, fit the width (nearly) unshrunk: the text sets
#: their height. A node takes its label's line (1.5 x the font) and 64 px (its padding,
#: the renderer's fixed 40 px to the next): 88 px at 16 px, so a column of
#: :data:`MAX_COLUMN` is 856 px and fits the 1600x1000 window (at 22 px it was 946 px).
LAYER_CONFIG = _mermaid_config(16)
#: Ranks of a layer drawn in one diagram, besides the column of assets it reads.
MAX_RANKS = 2
#: Edges beyond which a diagram's ranks are drawn one per diagram: the marts' four
#: dimensions and two facts drew 29, crossing into a tangle the UI shrank to 12 px labels.
MAX_EDGES = 16
#: Assets in one column of a diagram at most (a rank with more is split across diagrams):
#: the vault's 13 drew 1,237 px, taller than the window; on an asset's page, the PSA's 14
#: readers drew 1,092 px.
MAX_COLUMN = 10
#: Nodes a side of an asset's page stacks at most, its count box ("N more") included: its
#: labels of 22 px take ~114 px a node, so 8 fit the 1600x1000 window under the page's
#: heading; the PSA's 16 readers cut in two drew 8 and the box, 915 px.
FOCUS_COLUMN = 8

#: Where an asset's page is, by its key (:meth:`orchestration.asset_page.PageLinks.href`).
Href = Callable[[str], str]


def click_lines(keys: Iterable[str], href: Href | None) -> list[str]:
    """A ``click`` line per asset of ``keys``: a click on its box opens ``href(key)``,
    a root-relative path without quotes (none without ``href``)."""
    if href is None:
        return []
    return [f'  click {key} "{href(key)}"' for key in keys]


FOCUS = "focus"
DIRECT = "direct"
FURTHER = "further"
_FOCUS_STYLES = {
    FOCUS: "fill:#dbe9ff,stroke:#1f5fbf,stroke-width:3px,color:#1b1f24,font-weight:bold",
    DIRECT: "fill:#ffffff,stroke:#57606a,color:#1b1f24",
    FURTHER: "fill:#f6f8fa,stroke:#8a8a8a,color:#1b1f24,stroke-dasharray:5 4",
}


def _steps(neighbours: Callable[[str], Iterable[str]], key: str) -> dict[str, int]:
    """Fewest steps from ``key`` to every asset reachable through ``neighbours``."""
    steps: dict[str, int] = {}
    frontier = [key]
    depth = 0
    while frontier:
        depth += 1
        frontier = [n for k in frontier for n in neighbours(k) if n not in steps and n != key]
        for n in frontier:
            steps.setdefault(n, depth)
        frontier = list(dict.fromkeys(frontier))
    return steps


def distances(graph: AssetGraph, key: str) -> tuple[dict[str, int], dict[str, int]]:
    """Fewest steps from each ancestor to ``key`` and from ``key`` to each descendant."""
    return _steps(graph.dag.predecessors, key), _steps(graph.dag.successors, key)


def through_reads(graph: AssetGraph, key: str) -> tuple[set[str], set[str]]:
    """The ancestors ``key``'s rows come from and the descendants that get rows from it.

    Those are the assets joined to ``key`` by a chain of reads alone; the others of
    :func:`distances` are behind an ordering-only edge (the hubs behind the dimensions a
    fact only runs after), and a page says so rather than let them pass for sources.
    """

    def reads(k: str) -> Iterable[str]:
        return graph.upstream_of(k).reads

    def read_by(k: str) -> Iterable[str]:
        return (d for d in graph.dag.successors(k) if k in graph.upstream_of(d).reads)

    return set(_steps(reads, key)), set(_steps(read_by, key))


def order_lines(graph: AssetGraph, key: str) -> set[str]:
    """The labelled ordering lines :func:`focused_diagrams` of ``key`` draw: *order* where
    ``key`` runs after an asset it does not read (or one runs after it without reading
    it), *checked against* where that asset's checks read the other's table."""
    up = [arrow(graph, dep, key, labelled=True) for dep in graph.upstream_of(key).ordering]
    down = [arrow(graph, key, d, labelled=True) for d in graph.dag.successors(key)]
    return {line for line in up + down if line != "-->"}


def _ordered(graph: AssetGraph, steps: Mapping[str, int]) -> list[str]:
    """Nearest first, then in dependency order."""
    order = {spec.key: i for i, spec in enumerate(graph.topological(steps))}
    return sorted(steps, key=lambda k: (steps[k], order[k]))


def focused_diagrams(graph: AssetGraph, key: str, href: Href | None = None) -> list[str]:
    """``key`` between its direct upstream (left) and downstream (right), highlighted.

    Assets further away are counted, one dashed box per side in the same column: drawn
    one by one they stacked into a column taller than the screen (a dashboard has 20
    ancestors), with no arrow to follow. The page lists them by steps, with links.

    A side of more than :func:`focus_limit` assets is cut in even pieces, as a run's
    diagrams cut a rank, one per diagram, each drawing ``key`` again: the PSA's 14
    readers in one column drew 1,092 px. A side's count box goes with its last piece.
    """
    up, down = distances(graph, key)
    direct_up = [k for k in _ordered(graph, up) if up[k] == 1]
    direct_down = [k for k in _ordered(graph, down) if down[k] == 1]
    ups = _pieces(direct_up, focus_limit(len(up) - len(direct_up)))
    downs = _pieces(direct_down, focus_limit(len(down) - len(direct_down)))
    count = max(len(ups), len(downs), 1)
    return [
        _focused(
            graph,
            key,
            _piece(ups, number, len(up) - len(direct_up)),
            _piece(downs, number, len(down) - len(direct_down)),
            href,
        )
        for number in range(count)
    ]


def focus_limit(further: int) -> int:
    """Direct neighbours a side of an asset's page draws in one diagram: :data:`FOCUS_COLUMN`,
    less the count box of the ``further`` assets beyond them when there are any."""
    return FOCUS_COLUMN - 1 if further else FOCUS_COLUMN


def _piece(pieces: list[list[str]], number: int, further: int) -> tuple[list[str], int]:
    """Diagram ``number``'s assets of a side, and the assets further away it counts:
    all of them in the side's last piece, none in the others."""
    if number >= len(pieces):
        return [], 0
    return pieces[number], further if number == len(pieces) - 1 else 0


def _focused(
    graph: AssetGraph,
    key: str,
    upstream: tuple[list[str], int],
    downstream: tuple[list[str], int],
    href: Href | None,
) -> str:
    """One diagram of :func:`focused_diagrams`: ``key`` and, on each side, the direct
    neighbours given (:func:`_piece`) and a box counting the assets further away."""
    (direct_up, further_up), (direct_down, further_down) = upstream, downstream
    lines = ["flowchart LR", f'  {key}["{key}"]']
    lines += [f'  {other}["{other}"]' for other in direct_up + direct_down]
    edges = [(other, arrow(graph, other, key, labelled=True), key) for other in direct_up]
    edges += [(key, arrow(graph, key, other, labelled=True), other) for other in direct_down]
    lines += [f"  {upstream} {line} {downstream}" for upstream, line, downstream in edges]
    classes = {FOCUS: [key], DIRECT: direct_up + direct_down}
    for side, further in (("upstream", further_up), ("downstream", further_down)):
        if further:
            box = f"0_more_{side}"  # asset keys never start with a digit
            lines.append(f'  {box}["{further} more {side}, listed below"]')
            ends = (box, key) if side == "upstream" else (key, box)
            lines.append(f"  {ends[0]} {LAYOUT_LINK} {ends[1]}")
            classes.setdefault(FURTHER, []).append(box)
    for name, members in classes.items():
        if members:
            lines.append(f"  classDef {name} {_FOCUS_STYLES[name]}")
            lines.append(f"  class {','.join(members)} {name}")
    lines += order_link_style([line for _, line, _ in edges])  # numbered before the ~~~
    lines += click_lines(direct_up + direct_down, href)
    return "\n".join([FOCUS_CONFIG, *lines]) + "\n"


@dataclass(frozen=True)
class LayerDiagram:
    """One readable piece of a run's lineage: some assets of a layer and what they read."""

    title: str
    keys: tuple[str, ...]
    inputs: tuple[str, ...]
    mermaid: str
    #: The statuses its nodes are drawn in, and whether it draws an ordering-only edge
    #: that no check explains (``ordering``), or one to a table its asset's checks read
    #: (``checked``): what a legend of it must explain, and no more (:func:`layer_legend`).
    statuses: frozenset[str] = frozenset()
    ordering: bool = False
    checked: bool = False


#: The legend's words for the lines of ordering-only edges and for a diagram's first
#: column, each said only when some diagram draws one.
_READ_LEGEND = "an arrow joins a table to an asset that reads it"
_DOTTED_LEGEND = "a purple dotted line without an arrowhead joins an asset to"
_CHECKED_LEGEND = (
    "a table its checks read (checked against: none of its rows are in the asset's table, "
    "but a check can fail on them)"
)
_ORDER_LEGEND = "one it runs after but does not read (e.g. one its checks read)"
_INPUTS_LEGEND = "Each diagram starts with the assets outside it that its assets depend on."


def _dotted_legend(checked: bool, ordering: bool) -> str | None:
    """What the dotted lines drawn mean: a table the asset's checks read (``checked``),
    one it only runs after (``ordering``), or either; None if none is drawn. A check can
    fail on a table its asset runs after: "does not read" sent a reader of a failed
    check away from it."""
    if checked and ordering:
        return (
            f"{_DOTTED_LEGEND} one it does not read: {_CHECKED_LEGEND}, or one it only runs after"
        )
    if checked:
        return f"{_DOTTED_LEGEND} {_CHECKED_LEGEND}"
    return f"{_DOTTED_LEGEND} {_ORDER_LEGEND}" if ordering else None


def layer_legend(diagrams: Sequence[LayerDiagram]) -> str:
    """The legend of a run's diagrams: the colours they draw, then the kinds of line and
    the first column of outside assets where they draw them. A legend of colours and
    lines a page does not draw sends its reader looking for them (two green boxes and an
    arrow came with red, amber, grey dashed and dotted)."""
    legend = "Legend: " + ", ".join(status_legend(s for d in diagrams for s in d.statuses))
    dotted = _dotted_legend(any(d.checked for d in diagrams), any(d.ordering for d in diagrams))
    if dotted:
        legend += f"; {_READ_LEGEND}; {dotted}"
    legend += "."
    if any(d.inputs for d in diagrams):
        legend += f" {_INPUTS_LEGEND}"
    return legend


def _ranks(graph: AssetGraph, keys: list[str]) -> list[list[str]]:
    """``keys`` by longest path among themselves: rank 0 reads none of the others."""
    members = set(keys)
    rank: dict[str, int] = {}
    for spec in graph.topological(members):
        inside = [rank[dep] for dep in spec.deps if dep in members]
        rank[spec.key] = 1 + max(inside) if inside else 0
    ranks: list[list[str]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for k in keys:
        ranks[rank[k]].append(k)
    return ranks


def layer_diagrams(
    graph: AssetGraph,
    selected: Iterable[str],
    outcomes: Mapping[str, str] | None = None,
    href: Href | None = None,
) -> list[LayerDiagram]:
    """The selection's lineage as one diagram per layer, each at most three ranks wide.

    Every selected asset is a node of exactly one diagram; every edge into a selected
    asset is drawn in that asset's diagram, from the column of what it reads. Given
    ``href``, each box opens its asset's page.
    """
    statuses = node_statuses(graph, selected, outcomes)
    by_group: dict[str, list[str]] = {}
    for spec in graph.topological(k for k, s in statuses.items() if s != NOT_SELECTED):
        by_group.setdefault(spec.group, []).append(spec.key)
    diagrams = []
    for group, keys in by_group.items():
        parts = _parts(graph, _ranks(graph, keys))
        for number, members in enumerate(parts, start=1):
            title = group if len(parts) == 1 else f"{group} ({number} of {len(parts)})"
            diagrams.append(_layer_diagram(graph, title, members, statuses, href))
    return diagrams


def _parts(graph: AssetGraph, ranks: list[list[str]]) -> list[list[str]]:
    """A layer's ranks cut into the members of its diagrams: :data:`MAX_RANKS` ranks
    each, or one rank each where those ranks would draw more than :data:`MAX_EDGES` or
    stack more than :data:`MAX_COLUMN` assets, a rank that does cut in even pieces."""
    parts: list[list[str]] = []
    for i in range(0, len(ranks), MAX_RANKS):
        chunk = ranks[i : i + MAX_RANKS]
        edges = sum(len(graph[key].deps) for rank in chunk for key in rank)
        if edges > MAX_EDGES or any(len(rank) > MAX_COLUMN for rank in chunk):
            parts += [piece for rank in chunk for piece in _pieces(rank)]
        else:
            parts.append([key for rank in chunk for key in rank])
    return parts


def _pieces(rank: list[str], limit: int = MAX_COLUMN) -> list[list[str]]:
    """``rank`` in as few even pieces as hold at most ``limit`` assets each (none of an
    empty one)."""
    if not rank:
        return []
    count = -(-len(rank) // limit)
    size = -(-len(rank) // count)
    return [rank[i : i + size] for i in range(0, len(rank), size)]


def _reads_first(graph: AssetGraph, inputs: Sequence[str], members: Iterable[str]) -> list[str]:
    """``inputs`` with those a member reads first, those members only run after last.
    The renderer stacks a column in this order: the dimensions fact_sales runs after,
    declared among the links it reads, ran their dotted lines across the reads."""
    read = {dep for key in members for dep in graph.upstream_of(key).reads}
    return sorted(inputs, key=lambda key: key not in read)


def _order_column(graph: AssetGraph, inputs: Sequence[str], members: Iterable[str]) -> list[str]:
    """Invisible links that rank the ``inputs`` ``members`` only run after in a column of
    their own, after the inputs they read, when one column of all would hold more than
    :data:`MAX_COLUMN` (fact_sales's 7 vault tables and 4 dimensions drew 11).

    Every input takes part, in order, the reads' column joined block by block to the
    other's: the renderer (ELK) puts an input next to the nodes it links to, so a read
    left unlinked moved into the dimensions' column, and crossing links would shuffle it.
    """
    read = {dep for key in members for dep in graph.upstream_of(key).reads}
    reads = [key for key in inputs if key in read]
    after = [key for key in inputs if key not in read]
    if len(inputs) <= MAX_COLUMN or not reads or not after:
        return []
    n = max(len(reads), len(after))
    pairs = dict.fromkeys(
        (reads[i * len(reads) // n], after[i * len(after) // n]) for i in range(n)
    )
    return [f"  {source} {LAYOUT_LINK} {target}" for source, target in pairs]


def _layer_diagram(
    graph: AssetGraph,
    title: str,
    members: list[str],
    statuses: Mapping[str, str],
    href: Href | None,
) -> LayerDiagram:
    inside = set(members)
    outside = graph.topological(
        dep for key in members for dep in graph[key].deps if dep not in inside
    )
    inputs = _reads_first(graph, [spec.key for spec in outside], members)
    lines = ["flowchart LR"]
    lines += [f'  {key}["{key}"]' for key in inputs + members]
    arrows = [
        (dep, arrow(graph, dep, spec.key), spec.key)
        for spec in graph.topological(members)
        for dep in spec.deps
    ]
    lines += [f"  {dep} {line} {key}" for dep, line, key in arrows]
    drawn = {key: statuses.get(key, SELECTED) for key in inputs + members}
    lines += status_class_lines(drawn)
    lines += order_link_style([line for _, line, _ in arrows])
    lines += _order_column(graph, inputs, members)  # numbered after the arrows
    lines += click_lines(inputs + members, href)
    mermaid = "\n".join([LAYER_CONFIG, *lines]) + "\n"
    dotted = [checks_read(graph, dep, key) for dep, line, key in arrows if line == ORDER_LINE]
    return LayerDiagram(
        title,
        tuple(members),
        tuple(inputs),
        mermaid,
        frozenset(drawn.values()),
        ordering=not all(dotted),
        checked=any(dotted),
    )
