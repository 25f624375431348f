"""The metrics asset against a real Prometheus Pushgateway (Debian ``prometheus-pushgateway``).

The gateway runs on a free loopback port without persistence; what it serves on
``/metrics`` is compared with values the tests compute themselves from the quality tables.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

import assets
import assets.dashboard  # registers the dashboard asset, so the graph is complete
from assets.metrics import GAUGES, JOB, PUSHGATEWAY_ENV, WAREHOUSE_NAME_ENV, pipeline_metrics
from assets.pushgateway import Gauge, PushgatewayError, push
from assets.run_outcome import RUN_GAUGES
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from orchestration.resolver import materialize
from schemas.metrics import GAUGE_NAMES
from tests.pushgateway_support import (
    free_port,
    group_samples,
    group_values,
    pushgateway,
    scraped,
)
from tests.retail_seed import DATA_QUALITY, DATA_QUALITY_COLUMNS, SALES_SUMMARY, open_seeded
from tests.retail_support import http_port

__all__ = ["pushgateway"]  # the fixture, used by name

REPO = Path(__file__).resolve().parents[1]
METRICS_DDL = REPO / "ddl" / "metrics.sql"
GRAFANA_DASHBOARD = REPO / "deploy" / "grafana" / "online_retail_dashboard.json"
#: A day and two hours: a daily schedule's run is late beyond it (one missed run).
LATE_SECONDS = 26 * 3600


def gateway_gauges(url: str, **grouping: str) -> dict[str, float]:
    """The gauges of group ``job=online_retail`` and ``grouping`` as the gateway serves them."""
    return {
        name: value
        for name, value in group_values(url, job=JOB, **grouping).items()
        if name in GAUGES
    }


def b64(text: str) -> str:
    """A grouping label value as the Pushgateway's URL carries it when it holds ``/``."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def expected_gauges(warehouse: ClickHouseIOManager) -> dict[str, float]:
    """Each gauge computed here, independently of the asset's SQL, from the quality tables."""
    quality = warehouse.query_arrow(
        "SELECT * FROM quality.data_quality ORDER BY check_date DESC LIMIT 1"
    ).to_pylist()[0]
    sales = warehouse.query_arrow(
        "SELECT *, toUnixTimestamp(toDateTime(sales_date, 'UTC')) AS seconds "
        "FROM quality.sales_summary ORDER BY sales_date DESC LIMIT 1"
    ).to_pylist()[0]
    expected = {
        name: float(quality[name])
        for name in (
            "anomaly_unit_price_count",
            "anomaly_quantity_count",
            "missing_customer_id_ratio",
            "sale_line_count",
            "return_line_count",
            "adjustment_line_count",
            "latest_load_duplicate_row_count",
        )
    }
    expected.update(
        {
            f"latest_{stat}_total_amount": sales[f"{stat}_total_amount"]
            for stat in ("min", "max", "median", "avg")
        }
    )
    expected["latest_sales_volume"] = sales["volume"]
    expected["latest_sales_date_seconds"] = float(sales["seconds"])
    return expected


@pytest.fixture
def seeded(tmp_path):
    warehouse = open_seeded(tmp_path / "warehouse")
    yield warehouse
    warehouse.close()


def retail_graph() -> AssetGraph:
    """The whole pipeline, metrics and dashboard included (imported above)."""
    return load_definitions(assets.__name__).graph()


def run_metrics_directly(warehouse: ClickHouseIOManager, params: dict[str, str]) -> None:
    context = AssetContext(
        spec=pipeline_metrics,
        io_manager=warehouse,
        load_datetime=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        params=params,
        run_id="direct-run",
    )
    warehouse.materialize(pipeline_metrics, context)


@pytest.mark.usefixtures("prefect_server")
def test_gateway_shows_each_gauge_with_the_value_of_the_quality_tables(
    seeded, pushgateway, monkeypatch
):
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    report = materialize(
        retail_graph(),
        {"warehouse": seeded},
        "pipeline_metrics",
        params={"source": "/data/online_retail_II.xlsx"},
    )
    assert report.ok, [o.error for o in report.outcomes]

    pushed = gateway_gauges(pushgateway, warehouse=str(seeded.location()))
    expected = expected_gauges(seeded)
    assert set(pushed) == set(GAUGE_NAMES)
    # The source the gauges were measured after rides along as a label of each.
    samples = group_samples(pushgateway, job=JOB, warehouse=str(seeded.location()))
    assert {labels["source"] for labels, _ in samples.values()} == {"online_retail_II.xlsx"}
    assert pushed == pytest.approx(expected, rel=1e-12)
    # The latest check date and sales date, not an older one (the seed has both).
    latest_quality = dict(zip(DATA_QUALITY_COLUMNS, DATA_QUALITY[-1], strict=True))
    assert pushed["missing_customer_id_ratio"] == pytest.approx(
        latest_quality["missing_customer_id_ratio"]
    )
    assert pushed["anomaly_unit_price_count"] == latest_quality["anomaly_unit_price_count"]
    assert pushed["latest_sales_volume"] == pytest.approx(SALES_SUMMARY[-1][-1])
    assert pushed["latest_median_total_amount"] == pytest.approx(SALES_SUMMARY[-1][3])


@pytest.mark.usefixtures("prefect_server")
def test_each_run_is_stored_with_where_it_was_pushed(seeded, pushgateway, monkeypatch):
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    graph = retail_graph()
    for _ in range(2):
        report = materialize(graph, {"warehouse": seeded}, "pipeline_metrics")
        assert report.ok, [o.error for o in report.outcomes]

    stored = seeded.query_arrow(
        "SELECT run_id, count() AS gauges, any(pushed_to) AS pushed_to, any(source) AS source "
        "FROM quality.pipeline_metrics GROUP BY run_id"
    ).to_pylist()
    assert len(stored) == 2, "one set of gauges per run, history kept"
    assert {row["gauges"] for row in stored} == {len(GAUGE_NAMES)}
    assert {row["source"] for row in stored} == {"synthetic:100000:42"}
    assert {row["pushed_to"] for row in stored} == {
        f"{pushgateway}/metrics/job/{JOB}/warehouse@base64/{b64(str(seeded.location()))}"
    }


def add_quality_check(warehouse: ClickHouseIOManager, check_date: str, sale_lines: int) -> None:
    """A later quality check, so this warehouse's gauges differ from the seed's."""
    latest = dict(zip(DATA_QUALITY_COLUMNS, DATA_QUALITY[-1], strict=True))
    latest.update(check_date=check_date, sale_line_count=sale_lines)
    values = ", ".join(f"'{v}'" if isinstance(v, str) else repr(v) for v in latest.values())
    warehouse.command(f"INSERT INTO quality.data_quality VALUES ({values})")


def measure_in_new_warehouse(directory: Path, sale_lines: int) -> str:
    """Seed a warehouse whose latest check counts ``sale_lines``, run the metrics asset
    on it with source ``online_retail_II.xlsx``; returns its name on the gateway. (One
    embedded warehouse open at a time: chdb runs one per process.)"""
    warehouse = open_seeded(directory)
    try:
        add_quality_check(warehouse, "2024-01-03", sale_lines)
        run_metrics_directly(warehouse, {"source": "online_retail_II.xlsx"})
        return str(warehouse.location())
    finally:
        warehouse.close()


def test_each_warehouse_keeps_its_own_gauges_on_the_gateway(tmp_path, pushgateway, monkeypatch):
    """Was: the group was keyed by source alone, so a run against another warehouse (a
    scratch one, a test one) given the same source replaced production's gauges."""
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    production = measure_in_new_warehouse(tmp_path / "production", 603506)
    scratch = measure_in_new_warehouse(tmp_path / "scratch", 19345)

    assert production == f"chdb://{tmp_path / 'production'}"
    assert gateway_gauges(pushgateway, warehouse=production)["sale_line_count"] == 603506
    assert gateway_gauges(pushgateway, warehouse=scratch)["sale_line_count"] == 19345


def test_a_warehouse_whose_source_changes_keeps_one_group(seeded, pushgateway, monkeypatch):
    """Dated file names: a group per source left every earlier day's gauges on the gateway,
    frozen, for Prometheus to scrape as if current."""
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    run_metrics_directly(seeded, {"source": "/data/sales-2024-01-01.csv"})
    run_metrics_directly(seeded, {"source": "/data/sales-2024-01-02.csv"})

    ours = [s for s in scraped(pushgateway) if s[1].get("warehouse") == seeded.location()]
    assert {labels.get("source") for name, labels, _ in ours if name in GAUGES} == {
        "sales-2024-01-02.csv"
    }
    assert not [s for s in scraped(pushgateway) if s[1].get("source") == "sales-2024-01-01.csv"]


def test_the_warehouse_can_be_named_for_the_gateway(seeded, pushgateway, monkeypatch):
    """A deployment name survives moving the warehouse (a new path or server)."""
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    monkeypatch.setenv(WAREHOUSE_NAME_ENV, " prod ")
    run_metrics_directly(seeded, {"source": "synthetic:10"})

    assert gateway_gauges(pushgateway, warehouse="prod") == pytest.approx(expected_gauges(seeded))
    pushed_to = seeded.query_arrow("SELECT DISTINCT pushed_to FROM quality.pipeline_metrics")
    assert pushed_to.column("pushed_to").to_pylist() == [
        f"{pushgateway}/metrics/job/{JOB}/warehouse/prod"
    ]


def test_without_pushgateway_url_gauges_are_stored_and_nothing_is_pushed(
    seeded, monkeypatch, caplog
):
    monkeypatch.delenv(PUSHGATEWAY_ENV, raising=False)
    caplog.set_level(logging.INFO, logger="pipeline.asset")
    run_metrics_directly(seeded, {"source": "synthetic:10"})

    rows = seeded.query_arrow(
        "SELECT metric, value, pushed_to FROM quality.pipeline_metrics ORDER BY metric"
    ).to_pylist()
    assert sorted(row["metric"] for row in rows) == sorted(GAUGE_NAMES)
    assert {row["pushed_to"] for row in rows} == {""}
    values = {row["metric"]: row["value"] for row in rows}
    assert values == pytest.approx(expected_gauges(seeded))
    assert f"{PUSHGATEWAY_ENV} is not set" in caplog.text and "nothing pushed" in caplog.text


@pytest.mark.usefixtures("prefect_server")
def test_unreachable_gateway_fails_the_metrics_asset_and_upstream_stays_published(
    tmp_path, monkeypatch
):
    closed_port = free_port()
    monkeypatch.setenv(PUSHGATEWAY_ENV, f"http://ops:s3cret@127.0.0.1:{closed_port}")
    warehouse = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    try:
        warehouse.setup([*assets.DDL_PATHS, METRICS_DDL])
        report = materialize(
            retail_graph(),
            {"warehouse": warehouse},
            params={
                "source": "synthetic:2000:3",
                "sales_dashboard_path": str(tmp_path / "dashboard.html"),
            },
        )
        outcomes = {o.key: o for o in report.outcomes}
        failed = {k for k, o in outcomes.items() if o.status != "materialized"}
        assert failed == {"pipeline_metrics"}
        error = outcomes["pipeline_metrics"].error
        # The URL as set, not the group's (``.../metrics/job/...``), which no one wrote,
        # after the lead every asset's failure has.
        assert error.startswith(
            "asset 'pipeline_metrics' (table quality.pipeline_metrics): cannot reach the "
            f"Pushgateway at http://127.0.0.1:{closed_port}: "
        ), error
        assert "s3cret" not in error and "ops:" not in error
        for upstream in ("data_quality", "sales_summary", "fact_sales"):
            assert outcomes[upstream].rows, f"{upstream} was not published"
        assert warehouse.row_count("quality.pipeline_metrics") == 0
    finally:
        warehouse.close()


def test_a_label_with_slashes_reaches_the_gateway_intact(pushgateway):
    source = "https://example.com/data/online_retail_II.zip"
    push(pushgateway, JOB, {"source": source}, [Gauge("latest_sales_volume", 12.5)])
    assert gateway_gauges(pushgateway, source=source) == {"latest_sales_volume": 12.5}


def test_a_gauges_own_labels_reach_the_gateway_escaped_and_intact(pushgateway):
    source = 'C:\\sales\\"daily"\n2024.csv'
    push(pushgateway, JOB, {"warehouse": "labels-test"},
         [Gauge("latest_sales_volume", 3.0, labels={"source": source})])  # fmt: skip
    labels, value = group_samples(pushgateway, job=JOB, warehouse="labels-test")[
        "latest_sales_volume"
    ]
    assert (labels["source"], value) == (source, 3.0)


def test_a_post_replaces_only_the_metrics_it_pushes(pushgateway):
    """What keeps a last-success time across failed runs in the run's group."""
    grouping = {"warehouse": "post-test"}
    push(pushgateway, JOB, grouping, [Gauge("a_gauge", 1), Gauge("kept_gauge", 2)])
    push(pushgateway, JOB, grouping, [Gauge("a_gauge", 3)], replace=False)
    assert group_values(pushgateway, job=JOB, warehouse="post-test") == {
        "a_gauge": 3.0,
        "kept_gauge": 2.0,
    }


def test_a_push_replaces_the_whole_group(pushgateway):
    grouping = {"source": "replace-test"}
    push(
        pushgateway,
        JOB,
        grouping,
        [Gauge("anomaly_quantity_count", 3), Gauge("anomaly_unit_price_count", 4)],
    )
    push(pushgateway, JOB, grouping, [Gauge("anomaly_quantity_count", 5)])
    assert gateway_gauges(pushgateway, source="replace-test") == {"anomaly_quantity_count": 5.0}


def test_a_gateway_refusing_the_push_is_a_clear_error(pushgateway):
    with pytest.raises(PushgatewayError, match=r"refused the push: HTTP 404"):
        push(f"{pushgateway}/not-a-gateway", JOB, {"source": "x"}, [Gauge("g", 1.0)])


class _EchoingHandler(BaseHTTPRequestHandler):
    """A service that is not a Pushgateway: it refuses every push with ``answer`` (status,
    reason phrase, content type, body), built from the request it got, as some proxies and
    debugging endpoints answer."""

    answer: tuple[int, str | None, str, str] = (400, None, "text/plain", "{request}")

    def do_PUT(self) -> None:
        status, reason, content_type, template = self.answer
        request = f"{self.command} {self.path} {self.request_version}\n{self.headers}"
        body = template.format(request=request).encode()
        auth = self.headers.get("Authorization", "")
        self.send_response(status, reason.format(auth=auth) if reason else None)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echoing_service() -> Iterator[str]:
    """``host:port`` of a loopback HTTP service that answers a push with the request."""
    with http_port(_EchoingHandler) as port:
        yield f"127.0.0.1:{port}"
    _EchoingHandler.answer = (400, None, "text/plain", "{request}")


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ((400, None, "text/plain", "{request}"), "HTTP 400 Bad Request"),
        ((403, "Refused {auth}", "text/plain", ""), "HTTP 403 Forbidden"),
        (
            (501, None, "text/html", "<html><body><h1>501</h1><pre>{request}</pre>" + "x" * 5000),
            "HTTP 501 Not Implemented",
        ),
    ],
    ids=["echoed-request", "echoed-in-reason", "html-page"],
)
def test_a_refused_push_says_the_status_never_what_the_service_answered(
    echoing_service, answer, said
):
    """The answer may echo the request, its ``Authorization`` header (the credentials in
    base64) included; the error reaches the run report, Prefect and the warehouse."""
    _EchoingHandler.answer = answer
    credentials = base64.b64encode(b"pg:pgwpass-K3").decode()
    with pytest.raises(PushgatewayError) as refused:
        push(f"http://pg:pgwpass-K3@{echoing_service}/", JOB, {"source": "x"}, [Gauge("g", 1.0)])
    error = str(refused.value)
    assert error.startswith(
        f"the Pushgateway at http://{echoing_service} refused the push: {said} ("
    ), error
    for leaked in ("pgwpass", credentials[:12], "Authorization", "<html", "PUT /metrics"):
        assert leaked not in error
    assert "\n" not in error and len(error) < 300


def test_a_host_and_port_without_scheme_is_a_gateway_over_http(pushgateway):
    """``host:port`` is the form prometheus_client documents, so users write it."""
    host_port = pushgateway.removeprefix("http://")
    shown = push(host_port, JOB, {"source": "host-port"}, [Gauge("latest_sales_volume", 7.0)])
    assert shown.startswith(f"http://{host_port}/metrics/job/{JOB}")
    assert gateway_gauges(pushgateway, source="host-port") == {"latest_sales_volume": 7.0}


def test_pushgateway_url_must_be_http():
    with pytest.raises(PushgatewayError, match=r"must be host:port or an http\(s\) URL") as bad:
        push("ftp://u:pw@h/?token=abc", JOB, {}, [Gauge("g", 1.0)])
    # Named without its credentials or query string (a token).
    assert "got 'ftp://h/'" in str(bad.value)


def test_grafana_dashboard_charts_every_gauge_from_a_chosen_prometheus():
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    targets = [t for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert targets, "the dashboard has panels with queries"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    expressions = " ".join(t["expr"] for t in targets)
    charted = [*GAUGE_NAMES, *RUN_GAUGES]
    assert [name for name in charted if name not in expressions] == []
    for target in targets:  # every query reads the pipeline's groups of the chosen warehouses
        assert re.search(rf'job="{JOB}(_run)?", warehouse=~"\$warehouse"', target["expr"]), target
    assert variables["warehouse"]["multi"] is True
    assert "warehouse)" in variables["warehouse"]["definition"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_grafana_turns_red_when_no_run_succeeded_for_26_hours():
    """Was: "a growing line means runs stopped", with no threshold, and the stat panels
    showed week-old gauges in green."""
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    ages = [
        panel
        for panel in dashboard["panels"]
        if any("time() - " in t["expr"] for t in panel.get("targets", []))
    ]
    measured = {
        t["expr"].split("time() - ", 1)[1].split("{")[0] for p in ages for t in p["targets"]
    }
    assert measured == {"pipeline_last_success_timestamp_seconds", "push_time_seconds"}
    for panel in ages:
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps == [{"color": "green", "value": None}, {"color": "red", "value": LATE_SECONDS}]
        assert panel["fieldConfig"]["defaults"]["unit"] == "s"
        if panel["type"] == "timeseries":  # the threshold drawn on the chart
            assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    outcome = next(p for p in dashboard["panels"] if "pipeline_run_success" in str(p))
    mappings = outcome["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert (mappings["0"]["color"], mappings["1"]["color"]) == ("red", "green")


def test_the_schema_allows_exactly_the_measured_gauges_in_order():
    # The asset module does not import its schema (listing assets stays free of pandera),
    # so this is where the two lists are held together.
    assert tuple(GAUGES) == GAUGE_NAMES


# ------------------------------------------------------------- found by the security review

#: The review's PUSHGATEWAY_URLs: a password holding ``/``, ``?`` or ``#`` ends the host
#: part early, and httpx said "Invalid port: 'Xk9fQ2mZpL7w'", stored with the run.
UNREADABLE_GATEWAYS = {
    "slash": "http://pguser:Xk9fQ2mZpL7w/AbC@127.0.0.1:19998",
    "question mark": "http://pguser:Xk9fQ2mZpL7w?AbC@127.0.0.1:19998",
    "hash": "http://pguser:Xk9fQ2mZpL7w#AbC@127.0.0.1:19998",
    "no scheme": "pguser:Xk9fQ2mZpL7w/AbC@127.0.0.1:19998",
}
#: The one line each is refused with, repeating none of it.
UNREADABLE_GATEWAY_LINE = (
    "PUSHGATEWAY_URL's password (or user) holds a reserved character: percent-encode ? as "
    "%3F, # as %23, / as %2F, @ as %40 (an @ in the path or query string too)"
)


def assert_no_secret(text: str) -> None:
    for part in ("Xk9fQ2mZpL7w", "AbC", "pguser"):
        assert part not in text, text


@pytest.mark.parametrize(
    "gateway", list(UNREADABLE_GATEWAYS.values()), ids=list(UNREADABLE_GATEWAYS)
)
def test_a_push_to_a_url_it_cannot_read_is_refused_without_repeating_it(gateway: str) -> None:
    with pytest.raises(PushgatewayError) as refused:
        push(gateway, JOB, {"source": "x"}, [Gauge("g", 1.0)])
    assert str(refused.value) == UNREADABLE_GATEWAY_LINE
    assert_no_secret(str(refused.value))


@pytest.mark.parametrize("command", ["materialize", "serve"])
def test_a_pushgateway_url_it_cannot_read_fails_the_command_before_any_work(
    command: str, tmp_path: Path
) -> None:
    """Was: the run went ahead, and the metrics asset's error (in the report, in
    ``_pipeline.materializations`` for later ``status``, in Prefect's logs and states)
    named part of the password."""
    env = {**os.environ, PUSHGATEWAY_ENV: UNREADABLE_GATEWAYS["slash"]}
    result = subprocess.run(
        [sys.executable, "-m", "orchestration", command, "--select", "pipeline_metrics",
         "--warehouse", f"chdb://{tmp_path / 'warehouse'}",
         *(["--json"] if command == "materialize" else [])],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"error: {UNREADABLE_GATEWAY_LINE}"]
    assert_no_secret(result.stdout + result.stderr)
    assert not (tmp_path / "warehouse").exists()


class _AuthRecorder(BaseHTTPRequestHandler):
    """A gateway that accepts every push and keeps the ``Authorization`` header it got."""

    received: list[str] = []

    def do_PUT(self) -> None:
        self.received.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_percent_encoded_credentials_are_sent_as_the_user_wrote_them_decoded() -> None:
    """A password holding ``/`` is written ``%2F``, as the refusal says: it was sent as
    ``Ab%2FCd``, so such a password could not be used at all."""
    _AuthRecorder.received = []
    with http_port(_AuthRecorder) as port:
        push(f"http://pg%40ops:Ab%2FCd%3F%23@127.0.0.1:{port}", JOB, {"source": "x"},
             [Gauge("g", 1.0)])  # fmt: skip
    assert _AuthRecorder.received == ["Basic " + base64.b64encode(b"pg@ops:Ab/Cd?#").decode()]


def test_a_url_httpx_refuses_is_a_pushgateway_error_without_httpxs_words() -> None:
    """httpx's ``InvalidURL`` is no ``HTTPError``: it escaped as an unexpected error
    whose text (a port, a character) comes from the URL."""
    with pytest.raises(PushgatewayError) as refused:
        push("http://pguser:Xk9fQ2mZpL7w@127.0.0.1:9/pre\x01fix", JOB, {"source": "x"},
             [Gauge("g", 1.0)])  # fmt: skip
    message = str(refused.value)
    assert message.startswith("the Pushgateway URL http://127.0.0.1:9/pre"), message
    assert "InvalidURL" in message and "position" not in message
    assert_no_secret(message)
