"""Run hooks: a code location's functions told how each run ended, by the run itself.

Like Dagster's run status sensors, a hook reports a run's outcome outside the warehouse
(the Online Retail pipeline pushes it to a Prometheus Pushgateway, so an alert can fire
on a failed run, or on no successful run for a day). Assets cannot: a failed run skips
every asset downstream of its failure, and a run that finds nothing to do runs none.

A hook is called once per run that gets to its end: with every asset's outcome (a failed
run's too), and with no asset when a ``status:`` selection found nothing to materialize,
which is a successful run of its schedule. It is called in the flow run, after its
report is complete, so its log lines are in the run's logs. A hook that raises changes
nothing of the run: its report and exit code stay what the assets decided, and the
failure is one warning line (:func:`call_run_hooks`), in the report and the run's logs;
a cause a failed asset's error shows already is named, not repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orchestration.context import Log
from orchestration.errors import ExpectedError, describe_error
from orchestration.exception_chain import exception_chain
from orchestration.io_manager import IOManager
from orchestration.run_report import RunReport

#: Where hooks log outside a flow run (a CLI run that found nothing to materialize).
RUN_LOGGER = "pipeline.run"


@dataclass(frozen=True)
class FinishedRun:
    """What a run hook is told: the run's report, its parameters, when it finished, and
    where each IO manager stores (by name, as ``IOManager.location`` shows it: no user,
    password or query string; None for storage that names no place)."""

    report: RunReport
    params: Mapping[str, Any]
    finished_at: datetime
    locations: Mapping[str, str | None]
    log: Log = field(default_factory=lambda: logging.getLogger(RUN_LOGGER))


RunHook = Callable[[FinishedRun], None]


def finished_run(
    report: RunReport,
    params: Mapping[str, Any],
    io_managers: Mapping[str, IOManager],
    log: Log | None = None,
) -> FinishedRun:
    """The run that ends now, with its IO managers' locations (named, not opened)."""
    return FinishedRun(
        report=report,
        params=dict(params),
        finished_at=datetime.now(UTC),
        locations={name: io_manager.location() for name, io_manager in io_managers.items()},
        log=log or logging.getLogger(RUN_LOGGER),
    )


def call_run_hooks(hooks: Sequence[RunHook], run: FinishedRun) -> list[str]:
    """Call each hook; returns one warning line per hook that raised, also logged at
    WARNING (with the traceback when the failure is not an :class:`ExpectedError`: a bug).

    Nothing a hook raises ends the run: its outcome was decided by its assets, and a
    monitoring system being down must not turn a good run into a failed one.
    """
    warnings: list[str] = []
    for hook in hooks:
        try:
            hook(run)
        except Exception as exc:
            name = getattr(hook, "__name__", repr(hook))
            line = f"run hook {name} failed, the run's result stands: {_failure(exc, run)}"
            run.log.warning(line, exc_info=not isinstance(exc, ExpectedError))
            warnings.append(line)
    return warnings


def _failure(exc: BaseException, run: FinishedRun) -> str:
    """What a hook's failure says: its cause in words, unless it was raised from an error
    a failed asset's was raised from too (``AssetOutcome.error_chain``), whose failure
    it then names instead, after the words each error before it says of its own
    (:attr:`~orchestration.errors.ExpectedError.lead`). A Pushgateway that is down
    failed the metrics asset and the hook that pushes the run's outcome alike, and its
    cause was printed twice, the second copy after the report's last line."""
    failed = run.report.by_status("failed")
    leads: list[str] = []
    for cause in exception_chain(exc, raised_from=True):
        words = describe_error(cause)
        owner = next((o.key for o in failed if words in o.error_chain), None)
        if owner is not None:
            return ": ".join([*leads, f"the same cause as the failure of {owner}"])
        # Each error before it must say what it adds apart (ExpectedError.after): words
        # of its own, with the cause's within them, cannot be told from the cause's.
        lead = cause.lead if isinstance(cause, ExpectedError) else None
        if lead is None:
            break
        leads.append(lead)
    return describe_error(exc)


def call_hooks_of_idle_run(
    hooks: Sequence[RunHook],
    params: Mapping[str, Any],
    io_managers: Mapping[str, IOManager],
    log: Log | None = None,
) -> list[str]:
    """Tell ``hooks`` of a run that found nothing to materialize (a ``status:`` selection
    with everything fresh): a successful run with no asset, or a schedule on
    ``status:stale+`` would look stopped to what watches for its successes. Returns the
    warnings, as :func:`call_run_hooks` does."""
    return call_run_hooks(hooks, finished_run(RunReport(outcomes=[]), params, io_managers, log))
