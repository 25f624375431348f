"""The lineage artifact: one markdown page per flow run, shown in the Prefect UI.

The run graph shows the order tasks ran in; this page answers the reviewer's question
"which tables fed this one, and did they all materialize in this run?" from the UI alone:
a Mermaid graph of the selected assets and the unselected upstream tables they read
(the same graph ``pipeline lineage --format mermaid`` prints, coloured by outcome), then
one table row per asset with its rows, seconds, status and error.
"""

from __future__ import annotations

import html
from uuid import UUID

from orchestration.lineage import NOT_SELECTED, to_mermaid
from orchestration.run_report import MaterializationPlan, RunReport

LINEAGE_ARTIFACT_KEY = "asset-lineage"
_ERROR_CHARS = 300

_LEGEND = (
    "Legend: green = materialized, red = failed, amber = skipped (an upstream failed), "
    "grey dashed = not selected (read from the warehouse as it is)."
)


def _cell(value: object) -> str:
    """A markdown table cell: HTML-escaped (the UI renders raw HTML), pipes and newlines safe."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip() or "-"


def _code(text: str) -> str:
    """Text for an inline code span: literal there, so only backticks and newlines matter."""
    return " ".join(text.replace("`", "'").split())


def _short(error: str | None) -> str:
    if not error:
        return "-"
    return error if len(error) <= _ERROR_CHARS else error[: _ERROR_CHARS - 1] + "…"


def _table(plan: MaterializationPlan, report: RunReport) -> list[str]:
    lines = [
        "| asset | table | rows | seconds | status | error |",
        "|---|---|---:|---:|---|---|",
    ]
    for o in report.outcomes:
        rows = f"{o.rows:,}" if o.rows is not None else "-"
        seconds = f"{o.seconds:.2f}" if o.status != "skipped" else "-"
        cells: tuple[str, ...] = (o.key, o.table, rows, seconds, o.status, _short(o.error))
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for spec in plan.external:
        cells = (spec.key, spec.table, "-", "-", NOT_SELECTED, "-")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def lineage_markdown(plan: MaterializationPlan, report: RunReport) -> str:
    """The artifact's markdown: headline, Mermaid lineage, legend, per-asset table."""
    outcomes = {o.key: o.status for o in report.outcomes}
    graph = to_mermaid(plan.graph, [spec.key for spec in plan.selected], outcomes)
    chosen = f"`{_code(plan.selection)}`" if plan.selection else "all assets"
    lines = [
        f"## Asset lineage: {report.summary()}",
        "",
        f"Selection: {chosen}; {len(plan.selected)} selected, "
        f"{len(plan.external)} unselected upstream read as they are.",
        "",
        "```mermaid",
        graph.rstrip("\n"),
        "```",
        "",
        _LEGEND,
        "",
        *_table(plan, report),
        "",
    ]
    return "\n".join(lines)


def publish_lineage_artifact(
    plan: MaterializationPlan,
    report: RunReport,
    *,
    key: str = LINEAGE_ARTIFACT_KEY,
) -> UUID:
    """Create the run's lineage artifact; call inside the flow so it links to the flow run."""
    from prefect.artifacts import create_markdown_artifact

    # Called in a sync flow, Prefect's sync/async helper returns the id, not a coroutine.
    return create_markdown_artifact(  # type: ignore[return-value]
        markdown=lineage_markdown(plan, report),
        key=key,
        description=f"Asset lineage and outcome of this run: {report.summary()}.",
    )


def mermaid_block(markdown: str) -> str:
    """The Mermaid source inside a lineage artifact's fenced block (for tests and tools)."""
    inside: list[str] = []
    capturing = False
    for line in markdown.splitlines():
        if line.strip() == "```mermaid":
            capturing = True
        elif capturing and line.strip() == "```":
            return "\n".join(inside) + "\n"
        elif capturing:
            inside.append(line)
    raise ValueError("no ```mermaid block in the markdown")


def structure_lines(mermaid: str) -> list[str]:
    """A Mermaid graph without its styling lines: the nodes, layers and edges only.

    ``pipeline lineage`` and the artifact draw the same structure; only the colours
    (``classDef``/``class``) differ, since only a run has outcomes.
    """
    return [line for line in mermaid.splitlines() if not _is_styling(line)]


def _is_styling(line: str) -> bool:
    return line.strip().startswith(("classDef ", "class "))


def edges_in(mermaid: str) -> set[tuple[str, str]]:
    """Every ``a --> b`` / ``a -.-> b`` edge in a Mermaid flowchart."""
    edges = set()
    for line in mermaid.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("-->", "-.->"):
            edges.add((parts[0], parts[2]))
    return edges
