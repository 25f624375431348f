"""The ``--select`` that reruns what a run left undone (failed, skipped or cancelled).

After a failure the useful next step is the command that builds what is missing, once
the cause is fixed; "``a+``" alone is not it when the run selected less than everything
downstream of ``a``, so each candidate is checked against the graph and the first that
selects exactly the undone assets wins, from the most readable to the always-exact list
of names. An asset that failed its checks may have failed on another asset's table its
checks read: one the run rebuilt, or a stale one, is selected too (its fix needs a
rebuild, and a rerun reading it as it is fails the same way).

The rerun reads what the run read: :func:`run_options` are the options it passes on,
and :func:`materialize_command` is every command printed to be run after a run or in its
stead (its rerun, the full refresh a drifted table's refusal names) with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestration.concurrency import CONCURRENCY_OPTION
from orchestration.context import SOURCE_TIMEOUT_OPTION, SOURCE_TIMEOUT_PARAM
from orchestration.fingerprinted_source import SOURCE_OPTION, source_options
from orchestration.run_report import MaterializationPlan, RunReport
from orchestration.setting_names import named_as_parameters
from orchestration.typed_options import carried, typed, with_options


def run_options(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The options a run given ``params`` was given that say what it reads, as given
    (``--source-encoding latin-1``, not Python's ``iso8859-1``): its rerun without them
    read the default source, which a run refuses to load over the one the assets were
    built from, or the same file in another encoding, or gave up on a slow source
    sooner or later than asked."""
    options = source_options(params)
    timeout = params.get(SOURCE_TIMEOUT_PARAM)
    if timeout is not None:
        seconds = float(timeout)  # 30, not 30.0
        options[SOURCE_TIMEOUT_OPTION] = f"{seconds:.0f}" if seconds.is_integer() else repr(seconds)
    return tuple(options.items())


def materialize_command(
    options: str, given: Iterable[tuple[str, str]], *, source: bool = True
) -> str:
    """``pipeline materialize`` with ``options`` (`` --select 'a+'``, plain text) and the
    run's own: the source options it was ``given`` (:func:`run_options`; with ``source``
    False its ``--source``, for a command that names another), its ``--concurrency`` and
    the ``--warehouse`` and ``--definitions`` typed (:mod:`orchestration.typed_options`),
    each quoted for a shell, a URL's secrets as placeholders. Pasted as printed it reran
    without them: the default source, which a run refuses to load over the one the assets
    were built from. A deployment's run has parameters, not a command line: its command
    carries none of them."""
    command = f"pipeline materialize{options}"
    if named_as_parameters():
        return carried(command)
    passed = {name: value for name, value in given if source or name != SOURCE_OPTION}
    if (concurrency := typed(CONCURRENCY_OPTION)) is not None:
        passed[CONCURRENCY_OPTION] = concurrency
    return with_options(command, passed)


def checked_to_rebuild(report: RunReport) -> list[str]:
    """The assets whose tables the run's failed checks read that the rerun rebuilds too
    (:attr:`~orchestration.run_report.CheckedRead.rerun`: rebuilt by the run, or stale),
    each once, less those it reruns anyway. A rerun leaving such a table as it is reads
    the rows the check failed on, and fails the same way. Not those of an asset whose own
    code change is the likeliest cause (``AssetOutcome.blames_its_code``): they were
    rebuilt as they were, and rebuilding them again changes nothing."""
    undone = {o.key for o in report.outcomes if o.status != "materialized"}
    return list(
        dict.fromkeys(
            read.asset
            for outcome in report.outcomes
            if not outcome.blames_its_code
            for read in outcome.checked_reads
            if read.rerun and read.asset not in undone
        )
    )


def rerun_selection(plan: MaterializationPlan, report: RunReport) -> str | None:
    """A selection expression for exactly the assets of ``report`` that did not
    materialize, and the tables its failed checks read that need a rebuild
    (:func:`checked_to_rebuild`), or None when every asset materialized.

    Tried in order, after those tables by name: each undone asset that no other undone
    asset feeds, with its descendants (``a+ or b+``); the run's own selection, if nothing
    of it was built; that selection narrowed to those descendants; the undone assets by
    name. A selection on ``status:`` is never reused: the run has changed the states it
    matched.
    """
    undone = [o.key for o in report.outcomes if o.status != "materialized"]
    if not undone:
        return None
    # Here, like AssetGraph.select: commands that never select pay nothing for the parser.
    from orchestration.selection import parse_selection, uses_status

    graph = plan.graph
    rebuilt = [spec.key for spec in graph.topological(checked_to_rebuild(report))]
    wanted = set(undone)
    roots = [key for key in undone if not graph.ancestors(key) & wanted]
    descendants = " or ".join(f"{key}+" for key in roots)
    candidates = [descendants]
    chosen = plan.selection
    if chosen and chosen.strip() != "*" and not uses_status(parse_selection(chosen)):
        if wanted == plan.selected_keys:
            candidates.append(chosen)
        candidates.append(f"{_grouped(chosen)} and {_grouped(descendants)}")
    first = "".join(f"{key} or " for key in rebuilt)
    for expression in candidates:
        expression = first + (f"({expression})" if first and " and " in expression else expression)
        if {spec.key for spec in graph.select(expression)} == wanted | set(rebuilt):
            return expression
    return " or ".join([*rebuilt, *undone])


def _grouped(expression: str) -> str:
    """``expression`` as one operand of ``and``: in parentheses if it has an ``or``."""
    return f"({expression})" if " or " in expression else expression
