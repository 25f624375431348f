"""Metrics layer: the quality and sales gauges, stored per run and pushed to Prometheus.

The original system pushed these gauges to a Pushgateway and watched them in Grafana; the
names are kept so its dashboards carry over. Values are read in SQL from the quality
tables' latest rows (the latest check date, the latest sales date), so the gauges always
describe exactly what those tables say.

With ``PUSHGATEWAY_URL`` set, the gauges replace the group ``job="online_retail",
warehouse="<warehouse>"`` on that gateway, each labelled with the run's ``source``;
without it the asset still records them in ``quality.pipeline_metrics`` and logs that
nothing was pushed, as a sandboxed run (``pipeline validate --sample``) does whatever the
environment says. An unreachable gateway fails this asset only: everything upstream is
already published.

The group is the warehouse's (:func:`metrics_warehouse`), not the source's: the gauges
count what the warehouse's tables hold, every load kept (the vault is insert-only), so
two sources loaded into one warehouse measure the same; keyed by source, a run against a
scratch warehouse replaced production's gauges, and dated file names left one frozen
group per day on the gateway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assets.pushgateway import PUSHGATEWAY_ENV, Gauge, PushgatewayError, gateway_problem, push
from assets.sql import OWNERS, layer_tags
from orchestration.asset import asset
from orchestration.context import AssetContext
from orchestration.errors import AssetFailure

if TYPE_CHECKING:
    import pandas as pd

#: The Pushgateway job every gauge is pushed under (the original system's name).
JOB = "online_retail"
#: The setting that names the warehouse on the gateway, instead of its location: a
#: deployment name (``prod``) survives moving the warehouse to another path or server.
WAREHOUSE_NAME_ENV = "PIPELINE_METRICS_WAREHOUSE"


@dataclass(frozen=True)
class GaugeDefinition:
    """A gauge: the SQL expression over one quality table's latest row, and its meaning.

    ``reads`` is the column the expression reads, when the expression is not that column.
    """

    name: str
    expression: str
    help: str
    reads: str = ""


@dataclass(frozen=True)
class LatestRow:
    """A quality table and the column that orders its rows (the latest one is measured)."""

    table: str
    order_by: str
    gauges: tuple[GaugeDefinition, ...]


SOURCES = (
    LatestRow(
        "quality.data_quality",
        "check_date",
        (
            GaugeDefinition(
                "anomaly_unit_price_count",
                "anomaly_unit_price_count",
                "Sale lines with unit_price <= 0 (latest quality check).",
            ),
            GaugeDefinition(
                "anomaly_quantity_count",
                "anomaly_quantity_count",
                "Sale lines with quantity > 1000 (latest quality check).",
            ),
            GaugeDefinition(
                "missing_customer_id_ratio",
                "missing_customer_id_ratio",
                "Share of sale lines without a customer id (latest quality check).",
            ),
            GaugeDefinition("sale_line_count", "sale_line_count", "Sale lines in Fact_Sales."),
            GaugeDefinition(
                "return_line_count",
                "return_line_count",
                "Return (cancellation) lines in Fact_Sale_Returns.",
            ),
            GaugeDefinition(
                "adjustment_line_count",
                "adjustment_line_count",
                "'A' (adjust bad debt) lines, kept out of the facts.",
            ),
            GaugeDefinition(
                "latest_load_duplicate_row_count",
                "latest_load_duplicate_row_count",
                "Exact duplicate rows in the latest source load.",
            ),
        ),
    ),
    LatestRow(
        "quality.sales_summary",
        "sales_date",
        (
            GaugeDefinition(
                "latest_min_total_amount",
                "min_total_amount",
                "Smallest sale-line total on the latest sales date.",
            ),
            GaugeDefinition(
                "latest_max_total_amount",
                "max_total_amount",
                "Largest sale-line total on the latest sales date.",
            ),
            GaugeDefinition(
                "latest_median_total_amount",
                "median_total_amount",
                "Median sale-line total on the latest sales date.",
            ),
            GaugeDefinition(
                "latest_avg_total_amount",
                "avg_total_amount",
                "Mean sale-line total on the latest sales date.",
            ),
            GaugeDefinition(
                "latest_sales_volume",
                "volume",
                "Sum of sale-line totals on the latest sales date.",
            ),
            GaugeDefinition(
                "latest_sales_date_seconds",
                "toUnixTimestamp(toDateTime(sales_date, 'UTC'))",
                "The latest sales date (midnight UTC) as a Unix timestamp.",
                reads="sales_date",
            ),
        ),
    ),
)
#: In ``schemas.metrics.GAUGE_NAMES`` order (tests/test_metrics.py holds the two together).
GAUGES = {gauge.name: gauge for source in SOURCES for gauge in source.gauges}
#: Column lineage of ``pipeline_metrics`` (a Python asset states its own): each value is
#: one column of a quality table's latest row; the other columns describe the run.
METRICS_COLUMN_LINEAGE = {
    "value": sorted({f"{s.table}.{g.reads or g.expression}" for s in SOURCES for g in s.gauges}),
    **dict.fromkeys(("run_id", "measured_at", "source", "metric", "pushed_to"), ()),
}
#: The columns that pick each table's latest row and feed no value (``also_reads``).
METRICS_ALSO_READS = sorted(
    {f"{source.table}.{source.order_by}" for source in SOURCES}
    - set(METRICS_COLUMN_LINEAGE["value"])
)


def measure_sql() -> str:
    """One query: a ``(metric, value)`` row per gauge, from each table's latest row.

    ``final = 1`` because the quality tables are ReplacingMergeTree: a date may still have
    an unmerged older version (the setting leaves plain MergeTree tables as they are).
    The arrays are not named ``values``: sqlglot reads that as a keyword, and a query
    whose tables cannot be told is refused (:mod:`orchestration.asset_reads`).
    """
    parts = []
    for source in SOURCES:
        names = ", ".join(f"'{gauge.name}'" for gauge in source.gauges)
        values = ", ".join(f"toFloat64({gauge.expression})" for gauge in source.gauges)
        parts.append(
            f"SELECT metric, value FROM (\n"
            f"    SELECT [{names}] AS metrics, [{values}] AS gauge_values\n"
            f"    FROM {source.table} ORDER BY {source.order_by} DESC LIMIT 1\n"
            f"    SETTINGS final = 1\n"
            f") ARRAY JOIN metrics AS metric, gauge_values AS value"
        )
    return "\nUNION ALL\n".join(parts)


def measure(context: AssetContext) -> dict[str, float]:
    """Every gauge's value, in :data:`GAUGES` order; a missing one is an error."""
    table = context.io_manager.query_arrow(measure_sql())
    measured = dict(
        zip(table.column("metric").to_pylist(), table.column("value").to_pylist(), strict=True)
    )
    empty = [s.table for s in SOURCES if not any(g.name in measured for g in s.gauges)]
    if empty:
        raise AssetFailure.for_asset(
            context.spec.key,
            context.spec.table,
            f"{', '.join(empty)} has no rows, so there is nothing to measure; materialize "
            "the quality tables first",
        )
    return {name: float(measured[name]) for name in GAUGES}


def check_pushgateway_url() -> None:
    """Refuse a ``PUSHGATEWAY_URL`` that cannot be read as a URL before a command runs
    anything (:attr:`Definitions.settings_checks`), in one line that repeats none of it.

    A password holding a raw ``/``, ``?`` or ``#`` was found only when the metrics asset
    pushed, at the end of the run, and httpx's words about it ("Invalid port:
    'Xk9f...'", part of the password) were stored with the run and shown by Prefect.
    """
    gateway = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    problem = gateway_problem(gateway) if gateway else None
    if problem is not None:
        raise PushgatewayError(problem)


def metrics_warehouse(location: str | None) -> str:
    """The warehouse's name in the pipeline's Pushgateway groups (their ``warehouse``
    label): ``$PIPELINE_METRICS_WAREHOUSE`` if set, else ``location`` as the run report
    shows it (``chdb:///srv/retail/warehouse``, ``clickhouse://ch.internal:8123/``: no
    user, password or options). Raises :class:`PushgatewayError` when there is neither."""
    named = os.environ.get(WAREHOUSE_NAME_ENV, "").strip()
    if named:
        return named
    if not location:
        raise PushgatewayError(
            f"the warehouse names no location to push its metrics under: set {WAREHOUSE_NAME_ENV}"
        )
    return location


def push_gauges(context: AssetContext, gauges: list[Gauge]) -> str:
    """Replace the warehouse's group on the Pushgateway ``PUSHGATEWAY_URL`` names; returns
    the group's URL (redacted), or ``""`` when nothing was pushed, which is logged with why.

    A sandboxed run (``pipeline validate --sample``) never pushes: its gauges measure a
    sample, and would replace the production group of the same job. A gateway that cannot
    be reached or refuses the push fails the asset, in the gateway's words after the lead
    every asset's failure has (:class:`~orchestration.errors.AssetFailure`).
    """
    if context.sandbox is not None:
        why = "a sandboxed run (pipeline validate --sample) pushes nothing"
        gateway = ""
    else:
        why = f"{PUSHGATEWAY_ENV} is not set"
        gateway = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if not gateway:
        context.log.info(
            "%s: %d gauges stored in %s, nothing pushed", why, len(gauges), context.spec.table
        )
        return ""
    try:
        warehouse = metrics_warehouse(context.io_manager.location())
        pushed_to = push(gateway, JOB, {"warehouse": warehouse}, gauges)
    except PushgatewayError as exc:
        raise AssetFailure.for_asset(context.spec.key, context.spec.table, str(exc)) from exc
    context.log.info("pushed %d gauges to %s", len(gauges), pushed_to)
    return pushed_to


@asset(
    table="quality.pipeline_metrics",
    deps=["data_quality", "sales_summary"],
    group="metrics",
    schema="schemas.metrics:PipelineMetrics",
    tags={**layer_tags("metrics"), "role": "metrics"},
    owners=OWNERS,
    write_mode="insert_new",
    latest_by="measured_at",  # every run's gauges are kept: the latest run's, first
    column_lineage=METRICS_COLUMN_LINEAGE,
    also_reads=METRICS_ALSO_READS,
)
def pipeline_metrics(context: AssetContext) -> pd.DataFrame:
    """The quality and sales gauges of this run, pushed to the Pushgateway when one is set.

    One row per gauge and run. ``PUSHGATEWAY_URL`` (e.g. ``http://localhost:9091``) names
    the gateway; the group is ``job="online_retail", warehouse=<the warehouse>``, and each
    gauge carries the run's ``source`` as a label.
    """
    import pandas as pd

    from assets.sources import describe_source, resolve_source

    values = measure(context)
    source = describe_source(resolve_source(context.params))
    # Built in every run, the sandboxed one too, so a gauge Prometheus would refuse fails it.
    labels = {"source": source}
    gauges = [Gauge(name, value, GAUGES[name].help, labels) for name, value in values.items()]
    pushed_to = push_gauges(context, gauges)
    run_id = context.run_id or f"local-{context.load_datetime:%Y%m%dT%H%M%S}"
    measured_at = pd.Timestamp(context.load_datetime)
    if measured_at.tzinfo is None:  # a naive load time is UTC already (see AssetContext)
        measured_at = measured_at.tz_localize("UTC")
    return pd.DataFrame(
        {
            "run_id": run_id,
            "measured_at": pd.Series([measured_at] * len(values), dtype="datetime64[s, UTC]"),
            "source": source,
            "metric": list(values),
            "value": list(values.values()),
            "pushed_to": pushed_to,
        }
    )
