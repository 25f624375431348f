"""The scheduled materialization: a module-level Prefect flow and its deployment.

A deployment needs a flow Prefect can import by path (``orchestration/deployment.py:
materialize_assets``), so a worker or ``pipeline serve`` can start runs without the CLI.
The flow loads the code location, opens the warehouse from the environment and runs
the resolver's flow body *inside this flow run*, so a scheduled run looks exactly like a
``pipeline materialize`` run in the UI: one task per asset, the lineage artifact, the
asset events. Selection, source and the source's text encoding are deployment
parameters; the warehouse address is not (it may hold a password, and parameters are
shown in the UI), it comes from ``WAREHOUSE_URL`` / ``CLICKHOUSE_*`` in the process that
runs the flow. Nor is a source URL with credentials or a token: ``pipeline serve`` hands
that to the runs as ``PIPELINE_SOURCE``, used when the run's ``source`` parameter is
empty. Nor is the source's timeout: it is the serving (or worker's) process's setting, as
for ``pipeline materialize``, whose runs do not show it either, and reaches the runs as
``PIPELINE_SOURCE_TIMEOUT``. Serving the deployment in ``pipeline serve``'s own process is
:mod:`orchestration.serving`'s job.
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
from orchestration.context import MIN_SOURCE_TIMEOUT, SOURCE_TIMEOUT_PARAM
from orchestration.definitions import load_definitions
from orchestration.interrupts import OutcomeLog
from orchestration.resolver import (
    DEFAULT_CONCURRENCY,
    build_flow,
    plan_or_refuse,
)
from orchestration.run_review import run_name_from_parameters
from orchestration.served_outage import end_if_api_lost, quiet_served_run_logs
from orchestration.served_stop import end_stopped_run
from orchestration.text_encoding import SOURCE_ENCODING_PARAM, codec_name

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

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
)
def materialize_assets(
    select: str | None = None, source: str | None = None, source_encoding: str | None = None
) -> Any:
    """Materialize ``select`` (Dagster selection syntax; all assets when empty).

    ``source`` is handed to ingest assets as ``context.params['source']`` (a path, a URL or
    ``synthetic[:ROWS[:SEED]]``); when it is empty, ``$PIPELINE_SOURCE`` is, if set.
    ``source_encoding`` (``latin-1`` for Kaggle's copy of Online Retail) is handed as
    ``context.params['source_encoding']``; when it is empty, the assets' own default
    applies (``$ONLINE_RETAIL_SOURCE_ENCODING``, else UTF-8). ``$PIPELINE_SOURCE_TIMEOUT``,
    if set, is handed as ``context.params['source_timeout']``. The run ends Failed at once
    on an encoding Python does not know or a timeout that is no number of seconds, and
    when any asset fails or is skipped.
    With ``select='status:stale+'`` only what changed runs; when nothing did, the run
    completes at once with the message "nothing to materialize". A deployment given no
    source reads the assets' default, as a plain ``pipeline materialize`` does: where that
    would load it into assets built from another source, the run ends Failed before any
    work, saying so (:mod:`orchestration.unchosen_source`).
    """
    from prefect.states import Completed, Failed

    source_encoding = (source_encoding or "").strip() or None
    if source_encoding is not None:
        # Typed in the UI's "Run with parameters", it was checked by nothing yet: a typo
        # is the run's one line, before the warehouse is opened.
        try:
            codec_name(source_encoding)
        except LookupError as error:
            return Failed(message=f"{SOURCE_ENCODING_PARAM}={source_encoding!r}: {error}")
    try:
        timeout = source_timeout()
    except ValueError as error:  # set by hand in a worker's environment
        return Failed(message=str(error))
    quiet_served_run_logs()
    # The run's own breaker, so that the run can tell, once it ends, whether it lost its API.
    outage = watching_this_flow_run()
    defs = load_definitions()
    graph = defs.graph()
    source = source or os.environ.get(SOURCE_ENV) or None
    params: dict[str, Any] = {"source": source} if source else {}
    if source_encoding is not None:
        params[SOURCE_ENCODING_PARAM] = source_encoding
    if timeout is not None:
        params[SOURCE_TIMEOUT_PARAM] = timeout
    with contextlib.ExitStack() as opened:
        # Planned on readers, as `pipeline materialize` plans: a refused selection leaves
        # the warehouse as it was (no new directory, no DDL applied to a server).
        readers = opened.enter_context(defs.read_io_managers())
        plan = plan_or_refuse(graph, readers, select or None, params)
        if not plan.selected:
            return Completed(message="nothing to materialize")
        io_managers = opened.enter_context(defs.open_io_managers())
        book = StateBook(graph, io_managers, params)
        outcomes = OutcomeLog()
        body, report = build_flow(
            plan,
            io_managers,
            params=params,
            book=book,
            outage=outage,
            on_progress=outcomes.record,
            on_flow_run=outcomes.flow_run_began,
            on_asset_start=outcomes.asset_began,
            stopping=outcomes.interrupted,
        )
        try:
            # The body, not the flow: its tasks, artifact and final state belong to this run.
            state = body.fn(select, source)
        except (KeyboardInterrupt, TerminationSignal) as stop:  # its runner stops it
            end_stopped_run(stop, io_managers, outcomes, plan)
    end_if_api_lost(outage, report())  # once the warehouse is closed
    return state


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
    """The deployment of :func:`materialize_assets` on a cron schedule.

    Without a work pool it is for ``serve`` (runs start in the serving process); with
    one, a worker of that pool picks the runs up (see ``prefect.yaml``).
    """
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    # Called outside an event loop, Prefect's sync/async helper returns the deployment.
    return materialize_assets.to_deployment(  # type: ignore[return-value]
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        parameters={"select": select, "source": source, SOURCE_ENCODING_PARAM: source_encoding},
        description=(
            f"Materialize {select or 'all assets'} on '{cron}' ({timezone}); "
            "one task per asset, lineage artifact per run."
        ),
        tags=["assets"],
        work_pool_name=work_pool_name,
        # Import by module name, so runs work wherever the package is installed (Docker).
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
