"""Reading back what the lineage artifact's markdown says: its table rows and node classes,
and the HTML a CommonMark renderer makes of a page.

Shared by the rendering tests and the UI tests, which read the same markdown from the
Prefect API.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt


def artifact_rows(markdown: str) -> dict[str, list[str]]:
    """Table rows by asset key; the first cell is a link ``[key](href)``, kept as the href."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| ["):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            link = re.fullmatch(r"\[(\w+)\]\((\S+)\)", cells[0])
            assert link, f"the first cell of {line!r} is not a link to an asset page"
            rows[link.group(1)] = [link.group(2), *cells[1:]]
    return rows


def mermaid_classes(diagrams: list[str]) -> dict[str, set[str]]:
    """Each Mermaid class (outcome) and the nodes given it, over all diagrams."""
    found: dict[str, set[str]] = {}
    for diagram in diagrams:
        for match in re.finditer(r"^\s+class (\S+) (\S+)$", diagram, re.M):
            found.setdefault(match.group(2), set()).update(match.group(1).split(","))
    return found


def rendered(markdown: str) -> str:
    """The HTML of ``markdown`` by CommonMark with GFM tables and strikethrough, as the
    Prefect UI renders it (less its sanitising): what a reader sees, not what was written."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


#: Flowchart statements that are not links.
_NOT_LINKS = {"flowchart", "subgraph", "end", "classDef", "class", "linkStyle"}


def links(mermaid: str) -> list[tuple[str, str, str]]:
    """Each link of a flowchart as ``(from, operator, to)``, in the order Mermaid numbers
    them for ``linkStyle`` (invisible ``~~~`` links count too)."""
    found = []
    for line in mermaid.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "[" not in line and "%%" not in line and parts[0] not in _NOT_LINKS:
            found.append((parts[0], " ".join(parts[1:-1]), parts[-1]))
    return found


def link_styles(mermaid: str) -> dict[int, str]:
    """The style each ``linkStyle`` line gives a link, by the link's number."""
    styles = {}
    for match in re.finditer(r"^\s+linkStyle (\S+) (\S+)$", mermaid, re.M):
        styles.update(dict.fromkeys(map(int, match.group(1).split(",")), match.group(2)))
    return styles
