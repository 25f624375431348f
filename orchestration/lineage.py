"""Lineage pictures of a selection: plain text, Mermaid and Graphviz DOT.

The same Mermaid text goes into the Prefect UI artifact and into ``pipeline lineage``,
so what reviewers see in a pull request matches what operators see in a run. Assets are
grouped by layer in subgraphs so graphs of 30+ nodes stay readable; unselected upstream
assets (read, not rebuilt) are drawn with a dashed border; a run's outcome colours each
node; an edge the downstream asset only runs after is a purple dotted line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from orchestration.graph import AssetGraph
from orchestration.run_report import counted

LineageFormat = Literal["text", "mermaid", "dot"]
NOT_SELECTED = "not selected"
SELECTED = "selected"

#: Node text colour: dark on every status fill, whatever the viewer's theme.
_TEXT = "#1b1f24"
#: Mermaid/DOT styling per node status: (fill, stroke, dashed).
_STYLES: dict[str, tuple[str, str, bool]] = {
    "materialized": ("#d1f2d9", "#1e7e34", False),
    "failed": ("#f8d7da", "#b02a37", False),
    "skipped": ("#fff3cd", "#b58105", False),
    SELECTED: ("#dbe9ff", "#1f5fbf", False),
    NOT_SELECTED: ("#f1f1f1", "#8a8a8a", True),
}
#: How a legend names each style, and what each status means; a status without a style
#: of its own (``cancelled``) is drawn, and named, as ``selected`` is.
_LOOKS = {
    "materialized": "green",
    "failed": "red",
    "skipped": "amber",
    SELECTED: "blue",
    NOT_SELECTED: "grey dashed",
}
_MEANINGS = {
    "skipped": "skipped (an upstream failed)",
    "cancelled": "cancelled (the run was stopped)",
    NOT_SELECTED: "not selected (left in the warehouse as it is)",
}


def _nodes(graph: AssetGraph, selected: Iterable[str]) -> tuple[list[str], list[str]]:
    """Selected keys and their unselected upstream, both in topological order."""
    chosen = [spec.key for spec in graph.topological(selected)]
    external = [spec.key for spec in graph.external_upstream(chosen)]
    return chosen, external


def node_statuses(
    graph: AssetGraph, selected: Iterable[str], outcomes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each drawn node's status: its run outcome, ``selected`` or ``not selected``."""
    chosen, external = _nodes(graph, selected)
    statuses = {key: (outcomes or {}).get(key, SELECTED) for key in chosen}
    statuses.update(dict.fromkeys(external, NOT_SELECTED))
    return statuses


def _edges(graph: AssetGraph, drawn: Iterable[str]) -> list[tuple[str, str]]:
    nodes = set(drawn)
    return [
        (dep, spec.key) for spec in graph.topological(nodes) for dep in spec.deps if dep in nodes
    ]


def _by_group(graph: AssetGraph, statuses: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in graph.topological(statuses):
        groups.setdefault(spec.group, []).append(spec.key)
    return groups


#: An edge the downstream asset only runs after: it builds nothing from the upstream
#: table (e.g. one its checks read), so it must not look like "built from". A dotted
#: line in :data:`ORDER_STYLE`, without an arrowhead (an asset's arrowheads and circles
#: piled into one blob where ten edges met it); labelled where an asset's few edges leave
#: room (its page), not in a whole graph, whose many labels would crowd it (the legend
#: says what it is). Dotted lines mean this alone: a read is an arrow, selected or not.
ORDER_LABELLED_LINE = "-. order .-"
ORDER_LINE = "-.-"
#: An ordering edge to a table the downstream asset's checks read, labelled: no rows of
#: it are in the asset's table, but "order" alone hid that a check can fail on them.
CHECKED_LABELLED_LINE = "-. checked against .-"
#: Every line :func:`arrow` draws for an ordering edge.
ORDER_LINES = (ORDER_LABELLED_LINE, CHECKED_LABELLED_LINE, ORDER_LINE)
#: An invisible link: no edge of the lineage, but the renderer ranks (places in columns)
#: the nodes it joins as it does any other link's, and numbers it for ``linkStyle``.
LAYOUT_LINK = "~~~"
#: The ``linkStyle`` of ordering edges. The Prefect UI's Mermaid draws a dotted line that
#: crosses another solid (its line hops rewrite the dash array), and a colour survives
#: that: purple, which no node status is drawn in. Its 2 px dots, half of them gaps, put
#: no more ink on the page than a read's 1 px line.
ORDER_COLOUR = "#a855f7"
ORDER_STYLE = f"stroke:{ORDER_COLOUR},stroke-width:2px"


def arrow(graph: AssetGraph, upstream: str, downstream: str, *, labelled: bool = False) -> str:
    """The Mermaid edge from ``upstream`` to ``downstream``: an ordering-only one as
    :data:`ORDER_LINE`, or labelled (``labelled``) :data:`CHECKED_LABELLED_LINE` when the
    downstream asset's checks read the upstream table, else :data:`ORDER_LABELLED_LINE`;
    a read as a solid arrow."""
    deps = graph.upstream_of(downstream)
    if upstream not in deps.ordering:
        return "-->"
    if not labelled:
        return ORDER_LINE
    return CHECKED_LABELLED_LINE if upstream in deps.checked else ORDER_LABELLED_LINE


def checks_read(graph: AssetGraph, upstream: str, downstream: str) -> bool:
    """Whether ``downstream`` only runs after ``upstream`` because its checks read that
    table (an ordering edge its checks explain)."""
    deps = graph.upstream_of(downstream)
    return upstream in deps.ordering and upstream in deps.checked


def order_link_style(edges: Sequence[str]) -> list[str]:
    """The ``linkStyle`` line colouring the ordering edges among ``edges``, a diagram's
    links in the order it declares them (Mermaid numbers them so), if it has any."""
    numbers = [str(i) for i, edge in enumerate(edges) if edge in ORDER_LINES]
    return [f"  linkStyle {','.join(numbers)} {ORDER_STYLE}"] if numbers else []


def _class_name(status: str) -> str:
    return status.replace(" ", "_")


def to_mermaid(
    graph: AssetGraph, selected: Iterable[str], outcomes: Mapping[str, str] | None = None
) -> str:
    """A Mermaid flowchart, layers as subgraphs, nodes classed by status.

    Top-down, because renderers (the Prefect UI, GitHub) shrink a diagram to the width
    of a text column: stacking the layers vertically keeps a 30-node graph about half
    again as large as a left-to-right one. Node text has an explicit dark colour so the
    pastel status fills stay legible under a dark UI theme.
    """
    statuses = node_statuses(graph, selected, outcomes)
    lines = ["flowchart TB"]
    for group, keys in _by_group(graph, statuses).items():
        lines.append(f'  subgraph layer_{group}["{group}"]')
        for key in keys:
            lines.append(f'    {key}["{key}<br/><small>{graph[key].table}</small>"]')
        lines.append("  end")
    edges = [(up, arrow(graph, up, down), down) for up, down in _edges(graph, statuses)]
    lines += [f"  {upstream} {line} {downstream}" for upstream, line, downstream in edges]
    lines += status_class_lines(statuses)
    lines += order_link_style([line for _, line, _ in edges])
    return "\n".join(lines) + "\n"


def status_legend(statuses: Iterable[str]) -> list[str]:
    """``look = meaning`` for each of ``statuses`` (those a page draws), in the order of
    :data:`_STYLES`, then the statuses drawn in another's style; statuses that look the
    same share one entry."""
    drawn = set(statuses)
    meanings: dict[str, list[str]] = {}
    for status in [s for s in _STYLES if s in drawn] + sorted(drawn - set(_STYLES)):
        meanings.setdefault(_LOOKS.get(status, _LOOKS[SELECTED]), []).append(
            _MEANINGS.get(status, status)
        )
    return [f"{look} = {' or '.join(said)}" for look, said in meanings.items()]


def status_class_lines(statuses: Mapping[str, str]) -> list[str]:
    """Mermaid ``classDef``/``class`` lines colouring each node by its status."""
    lines = []
    used = sorted(set(statuses.values()))
    for status in used:
        fill, stroke, dashed = _STYLES.get(status, _STYLES[SELECTED])
        dash = ",stroke-dasharray:5 4" if dashed else ""
        style = f"fill:{fill},stroke:{stroke},color:{_TEXT}{dash}"
        lines.append(f"  classDef {_class_name(status)} {style}")
    for status in used:
        members = ",".join(k for k, s in statuses.items() if s == status)
        lines.append(f"  class {members} {_class_name(status)}")
    return lines


def to_dot(
    graph: AssetGraph, selected: Iterable[str], outcomes: Mapping[str, str] | None = None
) -> str:
    """A Graphviz digraph, layers as clusters, for tools that read DOT."""
    statuses = node_statuses(graph, selected, outcomes)
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled"];']
    for group, keys in _by_group(graph, statuses).items():
        lines.append(f'  subgraph "cluster_{group}" {{')
        lines.append(f'    label="{group}";')
        for key in keys:
            fill, stroke, dashed = _STYLES.get(statuses[key], _STYLES[SELECTED])
            style = '"rounded,filled,dashed"' if dashed else '"rounded,filled"'
            label = f"{key}\\n{graph[key].table}"
            colours = f'fillcolor="{fill}", color="{stroke}"'
            lines.append(f'    "{key}" [label="{label}", {colours}, style={style}];')
        lines.append("  }")
    for upstream, downstream in _edges(graph, statuses):
        # Dotted: runs after, reads nothing. A read from an unselected asset is drawn as
        # any read: its node's dashed border says it is not selected.
        ordering = upstream in graph.upstream_of(downstream).ordering
        style = f' [style=dotted, arrowhead=odot, color="{ORDER_COLOUR}"]' if ordering else ""
        lines.append(f'  "{upstream}" -> "{downstream}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"


#: What a text line says an asset reading no other asset reads (it was ``<- -``).
NO_UPSTREAM = "(none)"
#: Narrowest room for the reads after their arrow on a terminal; with less, they go on the
#: lines below, indented this much.
_MIN_READS_WIDTH = 24
_READS_INDENT = 4


def to_text(
    graph: AssetGraph,
    selected: Iterable[str],
    outcomes: Mapping[str, str] | None = None,
    width: int | None = None,
) -> str:
    """One line per selected asset in run order: key, table and what it reads (then what
    it only runs after, marked ``(order)``), and one line counting the upstream assets
    outside the selection, if any. Those are named after the ``<-`` of the assets that
    read them, and had a line each, marked ``(not selected)``: ``--select fact_sales``
    printed eleven of them before the one asset selected. ``outcomes`` is taken as every
    renderer takes it; a line says no status.

    Given the terminal's ``width``, reads that do not fit go on under the first, lined up
    after the arrow (fact_sales' line was 258 characters, broken mid-name); without it
    (piped), each asset is one line, for ``grep``."""
    chosen, external = _nodes(graph, selected)
    specs = graph.topological(chosen)
    key_width = max((len(spec.key) for spec in specs), default=0)
    table_width = max((len(spec.table) for spec in specs), default=0)
    lines = []
    for spec in specs:
        head = f"{spec.key:<{key_width}}  {spec.table:<{table_width}}  <- "
        reads = list(graph.upstream_of(spec.key).shown()) or [NO_UPSTREAM]
        lines += _folded(head, reads, width)
    if external:
        left_out = counted(len(external), "upstream asset")
        as_found = "as it is" if len(external) == 1 else "as they are"
        lines.append(f"{left_out} {NOT_SELECTED} (left in the warehouse {as_found})")
    return "\n".join(lines) + "\n"


def _folded(head: str, reads: list[str], width: int | None) -> list[str]:
    """``head`` then ``reads`` joined by commas: one line, or, within ``width``, as many
    as they take, each further line indented under the first read (or by a few spaces,
    all reads below the head, when it leaves too little room). A read is never broken."""
    one = head + ", ".join(reads)
    if width is None or len(one) <= width:
        return [one]
    indent = len(head) if width - len(head) >= _MIN_READS_WIDTH else _READS_INDENT
    items = [f"{read}," for read in reads[:-1]] + reads[-1:]
    chunks: list[list[str]] = [[]]
    for item in items:
        if chunks[-1] and len(" ".join([*chunks[-1], item])) > width - indent:
            chunks.append([])
        chunks[-1].append(item)
    lines = [" ".join(chunk) for chunk in chunks]
    if indent == len(head):
        return [head + lines[0], *(" " * indent + line for line in lines[1:])]
    return [head.rstrip(), *(" " * indent + line for line in lines)]


RENDERERS = {"text": to_text, "mermaid": to_mermaid, "dot": to_dot}


def render_lineage(
    graph: AssetGraph,
    selected: Iterable[str],
    fmt: LineageFormat = "text",
    outcomes: Mapping[str, str] | None = None,
) -> str:
    """Render the selection's lineage in the requested format."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown lineage format {fmt!r}; choose one of {sorted(RENDERERS)}"
        ) from None
    return renderer(graph, selected, outcomes)
