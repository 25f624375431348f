"""``pipeline serve``: run the materialization on a schedule (daily 00:00 UTC by default).

Registers a Prefect deployment of ``orchestration/deployment.py:materialize_assets``
with a cron schedule and serves it from this process until interrupted. It finds its
Prefect API as ``pipeline materialize`` does (``PREFECT_API_URL``, else the local
background server, started if need be), so the deployment and its runs are on the server
whose UI shows the materializations and their lineage, and they outlive this process.
Selection, source and the source's encoding become the deployment's parameters (editable
per run in the UI); the warehouse and the code location are passed to the runs through
the environment, so a password in the warehouse URL never becomes a visible parameter.
So is ``--source-timeout``: as for ``pipeline materialize``, whose runs do not show it
either, it is a setting of the process (the network it downloads over), not of the run.
For production, deploy the same flow to a work pool with ``prefect.yaml`` instead (see
docs/lineage.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from orchestration.cli_options import (
    SOURCE_DEFAULT,
    SOURCE_FORMS,
    DefinitionsOption,
    SelectOption,
    SourceEncodingOption,
    WarehouseOption,
    connect_to_prefect,
    debug_on,
    load_defs,
    source_option,
    source_timeout_option,
)
from orchestration.debug_env import DEBUG_ENV
from orchestration.definitions import DEFINITIONS_ENV, Definitions
from orchestration.local_server import MODE_ENV, TEMPORARY
from orchestration.missing_storage import missing_storage
from orchestration.output import echo
from orchestration.prefect_setup import configure_prefect

# Kept here, not imported from orchestration.deployment, so `pipeline --help` stays fast:
# that module imports Prefect. tests/test_deployment.py checks the two agree.
DEFAULT_CRON = "0 0 * * *"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DEPLOYMENT_NAME = "daily"
WAREHOUSE_ENV = "WAREHOUSE_URL"
CRON_FIELDS = "five fields: minute hour day-of-month month day-of-week, e.g. '0 0 * * *'"


def deployment_source(source: str | None) -> str | None:
    """The deployment's ``source`` parameter: ``source``, unless it is a URL with
    credentials or a query string (a token), which the Prefect UI would show to anyone
    who can open it; that one reaches the runs through ``PIPELINE_SOURCE`` instead."""
    from orchestration.deployment import SOURCE_ENV
    from orchestration.redaction import shown_source

    shown = shown_source(source)
    if source is None or shown == source:
        return source
    os.environ[SOURCE_ENV] = source
    typer.echo(
        f"the source {shown} carries credentials or a query string: the runs read it from "
        f"this process's environment ({SOURCE_ENV}), not from a deployment parameter",
        err=True,
    )
    return None


def _iana_time_zone(value: str) -> str:
    """The ``--timezone`` value, checked now against the list Prefect checks it against
    (``zoneinfo.available_timezones``): Prefect's own refusal is a multi-line pydantic
    report, printed only after the deployment is half built."""
    from zoneinfo import available_timezones

    if value not in available_timezones():
        raise typer.BadParameter(
            f"{value!r} is not an IANA time zone (such as UTC or Europe/London)"
        )
    return value


def _cron_expression(value: str) -> str:
    """The ``--cron`` value, checked now by the check Prefect's cron schedule runs on it
    (so the command line accepts exactly what Prefect does: six fields, ``@daily``):
    Prefect's own refusal came once the warehouse was reached and the API contacted, as
    an unforeseen error."""
    # Prefect reads its settings when first imported: they are chosen before (serve's).
    configure_prefect(verbose=True)
    from prefect._internal.schemas.validators import validate_cron_string

    try:
        return validate_cron_string(value)
    except ValueError as error:
        fault = cron_fault(value)
        why = f": {fault}" if fault else ""
        raise typer.BadParameter(
            f"{value!r} is not a cron expression{why} ({CRON_FIELDS})"
        ) from error


#: Each field of a cron expression, in order, and the values it takes (croniter's: a
#: sixth field is the second, a seventh the year).
CRON_FIELD_VALUES = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
    ("second", "0-59"),
    ("year", "1970-2099"),
)


def cron_fault(value: str) -> str | None:
    """Which part of ``value`` the schedule's cron parser refuses (None: it cannot tell):
    Prefect says only "Invalid cron string", and a reader was left to find which of five
    fields was wrong. Each field is asked of the same parser (Prefect's croniter) alone,
    the others ``*``."""
    from prefect._vendor.croniter import croniter

    fields = value.split()
    if any(field.casefold() in ("r", "h") for field in fields):
        return "random (R) and hashed (H) fields are not supported"
    if value.startswith("@"):
        return "not a nickname it takes (such as @hourly, @daily, @weekly)"
    if not 5 <= len(fields) <= len(CRON_FIELD_VALUES):
        return f"it has {len(fields)} field{'' if len(fields) == 1 else 's'}"
    for index, field in enumerate(fields):
        alone = ["*"] * len(fields)
        alone[index] = field
        if not croniter.is_valid(" ".join(alone)):
            name, values = CRON_FIELD_VALUES[index]
            return f"its {name}, {field!r}, is not one ({values})"
    return None


def _run_parameters(source: str | None, source_encoding: str | None) -> dict[str, Any]:
    """What each served run's assets get as ``context.params`` of the source, as
    ``materialize`` passes it: only what was given."""
    from orchestration.text_encoding import SOURCE_ENCODING_PARAM

    params: dict[str, Any] = {"source": source} if source else {}
    if source_encoding is not None:
        params[SOURCE_ENCODING_PARAM] = source_encoding
    return params


def _reach_warehouse(
    defs: Definitions, warehouse: str | None, select: str | None, params: Mapping[str, Any]
) -> list[str]:
    """Reach the warehouse the runs will use now, so a wrong host, port or password fails
    this command instead of the first scheduled run hours later; and refuse now what every
    run with ``params`` would be refused for, loading the default source into assets built
    from another (:mod:`orchestration.unchosen_source`). Returns what is missing of it (a
    new embedded warehouse, which the first run creates; a typo otherwise), for a line
    once the rest has been checked."""
    from orchestration.asset_state import StateBook
    from orchestration.resolver import plan_materialization
    from orchestration.unchosen_source import unchosen_source_error

    with defs.read_io_managers(warehouse) as readers:
        for io_manager in readers.values():
            io_manager.reach()
        missing = missing_storage(readers)
        if not missing:  # a new warehouse holds nothing built from any source
            graph = defs.graph()
            book = StateBook(graph, readers, dict(params))
            refused = unchosen_source_error(plan_materialization(graph, select, book), book)
            if refused is not None:
                raise refused
        return missing


def serve(
    ctx: typer.Context,
    select: SelectOption = None,
    source: Annotated[
        str | None,
        source_option(f"Source data for ingest assets ({SOURCE_FORMS}); {SOURCE_DEFAULT}."),
    ] = None,
    source_timeout: Annotated[
        float | None,
        source_timeout_option(
            "its runs inherit it from this process (no deployment parameter: the UI's "
            "custom run cannot change it)"
        ),
    ] = None,
    source_encoding: SourceEncodingOption = None,
    cron: Annotated[
        str,
        typer.Option(
            metavar="CRON",
            help=f"When to run, as a cron expression ({CRON_FIELDS}).",
            callback=_cron_expression,
        ),
    ] = DEFAULT_CRON,
    timezone: Annotated[
        str,
        typer.Option(
            metavar="TZ",
            help="IANA time zone the cron expression is read in.",
            callback=_iana_time_zone,
        ),
    ] = DEFAULT_TIMEZONE,
    name: Annotated[
        str, typer.Option(metavar="NAME", help="Deployment name.")
    ] = DEFAULT_DEPLOYMENT_NAME,
    warehouse: WarehouseOption = None,
    definitions: DefinitionsOption = None,
) -> None:
    """Serve the full materialization (or --select) as a scheduled Prefect deployment."""
    # Prefect set up as for materialize, before it is imported (no telemetry, a patient
    # temporary server), except that its console logs stay: they are the served runs' log.
    configure_prefect(verbose=True)
    defs = load_defs(definitions)
    defs.check_settings()  # the runs' processes read them as this one does
    # A bad selection fails now, not at midnight. States are only known when a run starts,
    # so status: matches nothing here (which is no error) while syntax and names are checked.
    defs.graph().select(select, dict)
    missing = _reach_warehouse(defs, warehouse, select, _run_parameters(source, source_encoding))
    # Runs start in child processes that read these, never the deployment parameters.
    if definitions:
        os.environ[DEFINITIONS_ENV] = definitions
    if warehouse:
        os.environ[WAREHOUSE_ENV] = warehouse

    from orchestration.deployment import SOURCE_TIMEOUT_ENV, build_deployment
    from orchestration.interrupts import EXIT_CODES
    from orchestration.prefect_setup import check_configured_api
    from orchestration.prefect_ui import absolute, deployments_path
    from orchestration.reconnect_logs import one_line_reconnect_warnings
    from orchestration.serving import serve as serve_deployment
    from orchestration.temporary_server import temporary_server_owned

    if source_timeout is not None:  # as materialize's: not shown as a run parameter
        os.environ[SOURCE_TIMEOUT_ENV] = str(source_timeout)
    if debug_on(ctx):  # Prefect's tracebacks of it, here and in the runs
        os.environ[DEBUG_ENV] = "1"  # a run's process inherits it (orchestration.debug_env)
    else:  # a server restart, or an outage, is a line or two in the log, not tracebacks
        one_line_reconnect_warnings(runner=True)
        # Nor Prefect's log shipper's "--- Error logging to API ---" for each batch of
        # this process's lines it could not send, its cause glued to the next line: the
        # lines are in this log, and the outage is said in one (as materialize and the
        # served runs have it, orchestration.prefect_setup.configure_prefect).
        logging.raiseExceptions = False

    check_configured_api()
    connect_to_prefect()
    for storage in missing:  # said once nothing else stops the command: not beside an error
        typer.echo(
            f"{storage} yet: the first run creates it (check --warehouse if it should exist)",
            err=True,
        )
    deployments = absolute(deployments_path())
    if deployments is None:  # PIPELINE_PREFECT_SERVER=temporary: the user chose Prefect's own way
        typer.echo(
            f"warning: {MODE_ENV}={TEMPORARY}, so the schedule is served through a temporary "
            "Prefect server that stops with this command, with no UI (and each run starts one "
            "more); unset it to serve on the local server",
            err=True,
        )
    deployment = build_deployment(
        name=name,
        cron=cron,
        timezone=timezone,
        select=select,
        source=deployment_source(source),
        source_encoding=source_encoding,
    )
    where = f", UI {deployments}" if deployments else ""
    # The temporary server, if any, is started here and stopped with this command however
    # it ends: left to Prefect, a Ctrl+C or SIGTERM while it starts left it running.
    with temporary_server_owned():
        echo(
            f"Serving deployment '{deployment.flow_name}/{name}' on '{cron}' ({timezone}){where}"
            f"{' (its Run button starts a run now)' if deployments else ''}; Ctrl+C stops it."
        )
        stopped_by = serve_deployment(deployment)
    if stopped_by is not None:  # 130 or 143, as shells and supervisors expect
        raise typer.Exit(EXIT_CODES[stopped_by])
