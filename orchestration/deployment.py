"""The scheduled materialization: a module-level Prefect flow and its deployment.

A deployment needs a flow Prefect can import by path (``orchestration/deployment.py:
materialize_assets``), so a worker or ``pipeline serve`` can start runs without the CLI. The
flow loads the code location, opens the warehouse from the environment and runs the
resolver's flow body *inside this flow run*, so a scheduled run looks exactly like a
``pipeline materialize`` run in the UI: one task per asset, the lineage artifact, the asset
events, one run at a time (:func:`build_deployment`). Selection, source and the source's
text encoding are deployment parameters (text, empty for the default, each described in the
UI's Custom run form), named so in the run's messages (:mod:`orchestration.setting_names`);
the warehouse address is not (it may hold a password, and parameters are shown in the UI),
it comes from ``WAREHOUSE_URL`` / ``CLICKHOUSE_*`` in the process that runs the flow. Nor is
a source URL with credentials or a token: ``pipeline serve`` hands that to the runs as
``PIPELINE_SOURCE``, used when the run's ``source`` parameter is empty. Nor is the source's
timeout: it is the serving (or worker's) process's setting, as for ``pipeline materialize``,
whose runs do not show it either, and reaches the runs as ``PIPELINE_SOURCE_TIMEOUT``.
Serving the deployment in ``pipeline serve``'s own process is :mod:`orchestration.serving`'s
job.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from prefect import flow
from prefect.exceptions import TerminationSignal
from prefect.task_runners import ThreadPoolTaskRunner

from orchestration.api_outage import watching_this_flow_run
from orchestration.asset_state import StateBook
from orchestration.context import MIN_SOURCE_TIMEOUT, SOURCE_TIMEOUT_PARAM, run_logger
from orchestration.definitions import load_definitions
from orchestration.errors import ExpectedError
from orchestration.interrupts import OutcomeLog
from orchestration.resolver import (
    DEFAULT_CONCURRENCY,
    build_flow,
    plan_or_refuse,
)
from orchestration.run_hooks import call_hooks_of_idle_run
from orchestration.run_review import run_name_from_parameters
from orchestration.served_outage import end_if_api_lost, quiet_served_run_logs
from orchestration.served_stop import end_stopped_run
from orchestration.setting_names import as_parameters
from orchestration.text_encoding import SOURCE_ENCODING_PARAM, codec_name

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.states import State

#: Daily at midnight UTC, as the system this replaces ran.
DEFAULT_CRON = "0 0 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DEPLOYMENT_NAME = "daily"
#: Same flow name as ``pipeline materialize`` runs, so the UI lists every materialization together.
FLOW_NAME = "materialize-assets"
#: How prefect.yaml names the flow (``prefect deploy`` wants a file path).
ENTRYPOINT = "orchestration/deployment.py:materialize_assets"
#: The source of runs whose ``source`` parameter is empty (a secret-bearing URL).
SOURCE_ENV = "PIPELINE_SOURCE"
#: The runs' deadline for fetching their source, in seconds (``pipeline serve
#: --source-timeout``), handed to the assets as ``materialize --source-timeout`` is.
SOURCE_TIMEOUT_ENV = "PIPELINE_SOURCE_TIMEOUT"


@flow(
    name=FLOW_NAME,
    flow_run_name=run_name_from_parameters,
    # Prefect types task_runner invariantly; a thread pool runner is what it expects.
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_CONCURRENCY),  # type: ignore[arg-type]
    persist_result=False,
    description="Materialize the selected assets (all by default), one task per asset.",
    # Runs created before the parameters were text (a schedule's, a prefect.yaml
    # deployment not deployed again) hold null for an empty one: Prefect's check of them
    # against the signature would fail those runs, so the flow reads null as empty
    # itself. The server still checks each new run's parameters against the schema.
    validate_parameters=False,
)
def materialize_assets(select: str = "", source: str = "", source_encoding: str = "") -> Any:
    """Materialize the selected assets, one task per asset, in this flow run.

    Each parameter is text, empty for its default: the UI's Custom run form shows each in
    a text box under its description below (Prefect reads them into the parameter schema).
    ``source`` is handed to ingest assets as ``context.params['source']``;
    ``source_encoding`` as ``context.params['source_encoding']``. ``$PIPELINE_SOURCE_TIMEOUT``,
    if set, is handed as ``context.params['source_timeout']``. The run ends Failed when any
    asset fails or is skipped, and at once, in one ERROR line naming the parameter to change
    (:mod:`orchestration.setting_names`), on what makes it refused before any work: a
    selection that matches nothing, a source path to no file, an encoding Python does not
    know, a timeout that is no number of seconds, or the default source loaded into assets
    built from another (:mod:`orchestration.unchosen_source`). With
    ``select='status:stale+'`` only what changed runs; when nothing did, the run completes
    at once with the message "nothing to materialize". A run that gets to its end,
    "nothing to materialize" too, tells the code location's run hooks how it ended
    (:mod:`orchestration.run_hooks`).

    Args:
        select: Which assets to materialize, in Dagster selection syntax, such as
            fact_sales+ (it and what reads it), group:marts, or status:stale+ (what
            changed since it was built); empty: every asset.
        source: What the ingest assets read: a CSV or Excel file's path, a URL, or
            synthetic:ROWS:SEED (generated rows); empty: $PIPELINE_SOURCE of the process
            that runs the flow, else the assets' default source.
        source_encoding: The text encoding of a CSV source, such as latin-1 for Kaggle's
            copy of Online Retail; empty: $ONLINE_RETAIL_SOURCE_ENCODING of the process
            that runs the flow, else UTF-8.
    """
    with as_parameters():
        return _materialize(select or None, source or None, (source_encoding or "").strip())


def _materialize(select: str | None, source: str | None, source_encoding: str) -> Any:
    """The flow's body: checks what it was given, plans, opens the warehouse and runs the
    resolver's flow body in this flow run; a refusal is the run's one ERROR line."""
    from prefect.states import Completed

    try:
        params = _run_params(source, source_encoding)
        quiet_served_run_logs()
        # The run's own breaker, so that the run can tell, once it ends, whether it lost its API.
        outage = watching_this_flow_run()
        defs = load_definitions()
        graph = defs.graph()
        with contextlib.ExitStack() as opened:
            # Planned on readers, as `pipeline materialize` plans: a refused selection
            # leaves the warehouse as it was (no new directory, no DDL applied to a server).
            readers = opened.enter_context(defs.read_io_managers())
            plan = plan_or_refuse(graph, readers, select, params)
            if not plan.selected:  # a successful run of its schedule: its hooks hear of it
                call_hooks_of_idle_run(defs.run_hooks, params, readers, run_logger())
                return Completed(message="nothing to materialize")
            io_managers = opened.enter_context(defs.open_io_managers(warn=run_logger().warning))
            body, report = build_flow(
                plan,
                io_managers,
                params=params,
                book=StateBook(graph, io_managers, params),
                outage=outage,
                run_hooks=defs.run_hooks,
                **_outcome_hooks(outcomes := OutcomeLog()),
            )
            try:
                # The body, not the flow: its tasks, artifact and final state are this run's.
                state = body.fn(select, params.get("source"))
            except (KeyboardInterrupt, TerminationSignal) as stop:  # its runner stops it
                end_stopped_run(stop, io_managers, outcomes, plan)
    except ExpectedError as error:
        return _refused(str(error))
    end_if_api_lost(outage, report())  # once the warehouse is closed
    return state


def _run_params(source: str | None, source_encoding: str) -> dict[str, Any]:
    """What the assets get as ``context.params``: the source (the parameter, else
    ``$PIPELINE_SOURCE``), the encoding and the timeout, each only when given. Raises
    :class:`RunSettingError` on an encoding or a timeout that cannot be used, before the
    warehouse is opened."""
    params: dict[str, Any] = {}
    if chosen := source or os.environ.get(SOURCE_ENV):
        params["source"] = chosen
    if source_encoding:
        # Typed in the UI's Custom run, it was checked by nothing yet.
        try:
            codec_name(source_encoding)
        except LookupError as error:
            raise RunSettingError(f"{SOURCE_ENCODING_PARAM}={source_encoding!r}: {error}") from None
        params[SOURCE_ENCODING_PARAM] = source_encoding
    try:
        timeout = source_timeout()
    except ValueError as error:  # set by hand in a worker's environment
        raise RunSettingError(str(error)) from None
    if timeout is not None:
        params[SOURCE_TIMEOUT_PARAM] = timeout
    return params


def _outcome_hooks(outcomes: OutcomeLog) -> dict[str, Any]:
    """The resolver's hooks that record the run's outcomes, for a stop to report them."""
    return {
        "on_progress": outcomes.record,
        "on_flow_run": outcomes.flow_run_began,
        "on_asset_start": outcomes.asset_began,
        "stopping": outcomes.interrupted,
        "on_step": outcomes.steps_left,
    }


class RunSettingError(ExpectedError, ValueError):
    """A setting of the run (a parameter, the worker's environment) that cannot be used."""


def _refused(message: str) -> State[Any]:
    """The Failed state of a run refused before any work, its reason told once at ERROR.

    Prefect logs a flow run's final state at INFO (``Finished in state Failed(...)``), so
    the UI's Error filter showed nothing of such a run; and for a raised error, its class
    stood in front of the reason (``Flow run encountered an exception:
    AbsentSourceError: ...``)."""
    from prefect.states import Failed

    run_logger().error(message)
    return Failed(message=message)


def source_timeout() -> float | None:
    """The runs' source timeout from ``$PIPELINE_SOURCE_TIMEOUT`` (None when unset).
    ``pipeline serve`` checked the value it set, but a worker's environment may set it by
    hand: a value that is no number of seconds raises ``ValueError`` saying so in one line."""
    given = os.environ.get(SOURCE_TIMEOUT_ENV, "").strip()
    if not given:
        return None
    try:
        seconds = float(given)
    except ValueError:
        seconds = float("nan")
    if not seconds >= MIN_SOURCE_TIMEOUT:  # NaN too
        raise ValueError(
            f"{SOURCE_TIMEOUT_ENV}={given!r}: not a number of seconds of at least "
            f"{MIN_SOURCE_TIMEOUT}"
        )
    return seconds


def build_deployment(
    *,
    name: str = DEFAULT_DEPLOYMENT_NAME,
    cron: str = DEFAULT_CRON,
    timezone: str = DEFAULT_TIMEZONE,
    select: str | None = None,
    source: str | None = None,
    source_encoding: str | None = None,
    work_pool_name: str | None = None,
) -> RunnerDeployment:
    """The deployment of :func:`materialize_assets` on a cron schedule, one run at a time.

    Without a work pool it is for ``serve`` (runs start in the serving process); with
    one, a worker of that pool picks the runs up (see ``prefect.yaml``). Its concurrency
    limit of 1 holds across every process that runs it (two ``pipeline serve`` of one
    deployment, a worker beside): two materializations of one warehouse at once would
    write the same tables. A run that finds another running waits for it (Prefect's
    ENQUEUE: it is Scheduled again as ``AwaitingConcurrencySlot`` and retried), rather
    than be cancelled (CANCEL_NEW), which would drop a scheduled run behind a long one.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    # Called outside an event loop, Prefect's sync/async helper returns the deployment.
    return materialize_assets.to_deployment(  # type: ignore[return-value]
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        # Text, empty for the default, as the flow's parameters are (the UI's form).
        parameters={
            "select": select or "",
            "source": source or "",
            SOURCE_ENCODING_PARAM: source_encoding or "",
        },
        description=(
            f"Materialize {select or 'all assets'} on '{cron}' ({timezone}); "
            "one task per asset, lineage artifact per run."
        ),
        tags=["assets"],
        work_pool_name=work_pool_name,
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
        ),
        # Import by module name, so runs work wherever the package is installed (Docker).
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
