"""Reading back what the lineage artifact's markdown says: its table rows and node classes.

Shared by the rendering tests and the UI tests, which read the same markdown from the
Prefect API.
"""

from __future__ import annotations

import re


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
