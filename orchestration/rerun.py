"""The ``--select`` that reruns what a run left undone (failed, skipped or cancelled).

After a failure the useful next step is the command that builds what is missing, once
the cause is fixed; "``a+``" alone is not it when the run selected less than everything
downstream of ``a``, so each candidate is checked against the graph and the first that
selects exactly the undone assets wins, from the most readable to the always-exact list
of names.
"""

from __future__ import annotations

from orchestration.run_report import MaterializationPlan, RunReport


def rerun_selection(plan: MaterializationPlan, report: RunReport) -> str | None:
    """A selection expression for exactly the assets of ``report`` that did not
    materialize, or None when every one did.

    Tried in order: each undone asset that no other undone asset feeds, with its
    descendants (``a+ or b+``); the run's own selection, if nothing of it was built; that
    selection narrowed to those descendants; the undone assets by name. A selection on
    ``status:`` is never reused: the run has changed the states it matched.
    """
    undone = [o.key for o in report.outcomes if o.status != "materialized"]
    if not undone:
        return None
    # Here, like AssetGraph.select: commands that never select pay nothing for the parser.
    from orchestration.selection import parse_selection, uses_status

    wanted = set(undone)
    graph = plan.graph
    roots = [key for key in undone if not graph.ancestors(key) & wanted]
    descendants = " or ".join(f"{key}+" for key in roots)
    candidates = [descendants]
    chosen = plan.selection
    if chosen and chosen.strip() != "*" and not uses_status(parse_selection(chosen)):
        if wanted == plan.selected_keys:
            candidates.append(chosen)
        candidates.append(f"{_grouped(chosen)} and {_grouped(descendants)}")
    for expression in candidates:
        if {spec.key for spec in graph.select(expression)} == wanted:
            return expression
    return " or ".join(undone)


def _grouped(expression: str) -> str:
    """``expression`` as one operand of ``and``: in parentheses if it has an ``or``."""
    return f"({expression})" if " or " in expression else expression
