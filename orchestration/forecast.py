"""What a run would do to each planned asset, foretold from the tables that drifted.

``materialize`` refuses an asset whose table drifted from its DDL
(:class:`~orchestration.errors.RebuildRequired`), skips what its selection holds below
that asset, and runs the rest; with ``--full-refresh`` it rebuilds every selected table
from its DDL instead. ``pipeline plan`` foretells the same, and the report such a run
would print, so its next step is the one that run's report names
(:func:`orchestration.report_output.next_step`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestration.errors import AssetError, RebuildRequired
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport

Outcome = Literal["run", "rebuilt", "refused", "skipped"]


@dataclass(frozen=True)
class Forecast:
    """Each planned asset's outcome, and the run's report as it would read."""

    outcomes: dict[str, Outcome]
    #: A skipped asset -> the refused assets above it.
    blockers: dict[str, tuple[str, ...]]
    report: RunReport

    @property
    def refused(self) -> list[str]:
        return [key for key, outcome in self.outcomes.items() if outcome == "refused"]

    @property
    def skipped(self) -> list[str]:
        return [key for key, outcome in self.outcomes.items() if outcome == "skipped"]


def forecast(plan: MaterializationPlan, drift: Mapping[str, RebuildRequired]) -> Forecast:
    """The outcome of each asset of ``plan``, given which of them ``drift`` (their
    refusals, by key); as the resolver skips, an asset below a refused one in the
    selection is skipped, ordering-only deps included. A full refresh refuses none."""
    outcomes: dict[str, Outcome] = {}
    blockers: dict[str, tuple[str, ...]] = {}
    report: list[AssetOutcome] = []
    refused = set() if plan.full_refresh else set(drift) & plan.selected_keys
    for spec in plan.selected:
        above = tuple(sorted(plan.graph.ancestors(spec.key) & refused))
        if plan.full_refresh:
            outcomes[spec.key] = "rebuilt"
            report.append(AssetOutcome(spec.key, spec.table, "materialized"))
        elif spec.key in refused:
            outcomes[spec.key] = "refused"
            error = drift[spec.key]
            report.append(
                AssetOutcome(
                    spec.key,
                    spec.table,
                    "failed",
                    error=str(error),
                    cause=error.cause if isinstance(error, AssetError) else None,
                    foreseen=True,
                    needs_full_refresh=True,
                    rebuild_loses_rows=error.loses_rows,
                )
            )
        elif above:
            outcomes[spec.key] = "skipped"
            blockers[spec.key] = above
            report.append(AssetOutcome(spec.key, spec.table, "skipped", failed_upstream=above))
        else:
            outcomes[spec.key] = "run"
            report.append(AssetOutcome(spec.key, spec.table, "materialized"))
    return Forecast(outcomes, blockers, RunReport(report))
