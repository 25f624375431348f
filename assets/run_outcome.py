"""The run's outcome on the Pushgateway: what an alert on a failed run, or on no successful
run for a day, reads.

``pipeline_metrics`` pushes what the data looks like, and only when it runs: a run that
failed upstream of it, or no run at all, left the last good gauges on the gateway looking
current. So the flow itself tells :func:`push_run_outcome` how each run ended, failed or
not (a run hook, :mod:`orchestration.run_hooks`), and with ``PUSHGATEWAY_URL`` set it
pushes :data:`RUN_GAUGES` to the group ``job="online_retail_run", warehouse=<the
warehouse>`` (:func:`assets.metrics.metrics_warehouse`, the gauges' warehouse name).

The push is a ``POST``: it replaces the metrics it names and keeps the others, so
``pipeline_last_success_timestamp_seconds``, pushed only by a successful run, stays
through failed ones (a ``PUT`` would wipe it; a group of its own would cost a second
request). A gateway that is down is the run's one warning line: its result stays what
its assets decided. ``pipeline validate --sample`` runs no flow, so it pushes no outcome.
"""

from __future__ import annotations

import os

from assets.metrics import JOB, metrics_warehouse, pipeline_metrics
from assets.pushgateway import PUSHGATEWAY_ENV, Gauge, PushgatewayError, push
from orchestration.run_hooks import FinishedRun

#: The job of the run-outcome group: the gauges' job keeps its ``PUT``, which replaces
#: its whole group, away from the last success kept here.
RUN_JOB = f"{JOB}_run"
#: Pushed only by a successful run, so it keeps its value through failed ones.
LAST_SUCCESS = "pipeline_last_success_timestamp_seconds"
#: Each metric of the group and its help text.
RUN_GAUGES = {
    "pipeline_run_success": "1 if every selected asset of the last run materialized, else 0.",
    "pipeline_run_finished_timestamp_seconds": "When the last run ended, as a Unix timestamp.",
    "pipeline_run_duration_seconds": "How long the last run took, in seconds.",
    "pipeline_assets_failed": "Assets the last run failed (their checks included).",
    "pipeline_assets_skipped": "Assets the last run skipped, an upstream asset having failed.",
    LAST_SUCCESS: "When the last successful run ended, as a Unix timestamp.",
}


def run_gauges(run: FinishedRun) -> list[Gauge]:
    """The run's outcome as gauges; the last success among them only if it succeeded."""
    report = run.report
    finished = run.finished_at.timestamp()
    values = {
        "pipeline_run_success": float(report.ok),
        "pipeline_run_finished_timestamp_seconds": finished,
        "pipeline_run_duration_seconds": report.seconds,
        "pipeline_assets_failed": float(len(report.by_status("failed"))),
        "pipeline_assets_skipped": float(len(report.by_status("skipped"))),
    }
    if report.ok:
        values[LAST_SUCCESS] = finished
    return [Gauge(name, value, RUN_GAUGES[name]) for name, value in values.items()]


def push_run_outcome(run: FinishedRun) -> None:
    """Push the run's outcome to ``PUSHGATEWAY_URL``'s gateway, if it is set.

    Raises :class:`PushgatewayError` saying the outcome was not pushed and why; the run
    hook machinery makes it a warning.
    """
    gateway = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if not gateway:
        run.log.info("%s is not set: the run's outcome is not pushed", PUSHGATEWAY_ENV)
        return
    try:
        warehouse = metrics_warehouse(run.locations.get(pipeline_metrics.io_manager))
        grouping = {"warehouse": warehouse}
        pushed_to = push(gateway, RUN_JOB, grouping, run_gauges(run), replace=False)
    except PushgatewayError as exc:
        raise PushgatewayError.after("the run's outcome was not pushed", exc) from exc
    run.log.info("pushed the run's outcome to %s", pushed_to)
