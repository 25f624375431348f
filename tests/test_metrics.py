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
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import assets
import assets.dashboard  # registers the dashboard asset, so the graph is complete
from assets.metrics import GAUGES, JOB, PUSHGATEWAY_ENV, pipeline_metrics
from assets.pushgateway import Gauge, PushgatewayError, push
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from orchestration.resolver import materialize
from schemas.metrics import GAUGE_NAMES
from tests.retail_seed import DATA_QUALITY, DATA_QUALITY_COLUMNS, SALES_SUMMARY, open_seeded
from tests.retail_support import http_port

PUSHGATEWAY_BINARY = Path("/usr/bin/prometheus-pushgateway")
REPO = Path(__file__).resolve().parents[1]
METRICS_DDL = REPO / "ddl" / "metrics.sql"
GRAFANA_DASHBOARD = REPO / "deploy" / "grafana" / "online_retail_dashboard.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory) -> Iterator[str]:
    """A real Pushgateway on loopback for this module; in CI its absence is a failure."""
    if not PUSHGATEWAY_BINARY.exists():
        message = f"{PUSHGATEWAY_BINARY} missing: apt-get install prometheus-pushgateway"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            # An empty persistence file keeps it in memory: Debian's default file is
            # shared by every gateway on the machine, earlier runs' groups included.
            [
                str(PUSHGATEWAY_BINARY),
                f"--web.listen-address=127.0.0.1:{port}",
                "--persistence.file=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Pushgateway did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gateway_gauges(url: str, source: str) -> dict[str, float]:
    """The gauges of group ``job=online_retail, source=<source>`` as the gateway serves them."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("job") == JOB
        and sample.labels.get("source") == source
        and sample.name in GAUGES
    }


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

    pushed = gateway_gauges(pushgateway, "online_retail_II.xlsx")
    expected = expected_gauges(seeded)
    assert set(pushed) == set(GAUGE_NAMES)
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
        f"{pushgateway}/metrics/job/{JOB}/source/synthetic%3A100000%3A42"
    }


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
        assert "asset 'pipeline_metrics'" in error
        assert f"cannot reach the Pushgateway at http://127.0.0.1:{closed_port}/" in error
        assert "s3cret" not in error and "ops:" not in error
        for upstream in ("data_quality", "sales_summary", "fact_sales"):
            assert outcomes[upstream].rows, f"{upstream} was not published"
        assert warehouse.row_count("quality.pipeline_metrics") == 0
    finally:
        warehouse.close()


def test_a_label_with_slashes_reaches_the_gateway_intact(pushgateway):
    source = "https://example.com/data/online_retail_II.zip"
    push(pushgateway, JOB, {"source": source}, [Gauge("latest_sales_volume", 12.5)])
    assert gateway_gauges(pushgateway, source) == {"latest_sales_volume": 12.5}


def test_a_push_replaces_the_whole_group(pushgateway):
    grouping = {"source": "replace-test"}
    push(
        pushgateway,
        JOB,
        grouping,
        [Gauge("anomaly_quantity_count", 3), Gauge("anomaly_unit_price_count", 4)],
    )
    push(pushgateway, JOB, grouping, [Gauge("anomaly_quantity_count", 5)])
    assert gateway_gauges(pushgateway, "replace-test") == {"anomaly_quantity_count": 5.0}


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
        f"the Pushgateway at http://{echoing_service}/metrics/job/{JOB}/source/x "
        f"refused the push: {said} ("
    ), error
    for leaked in ("pgwpass", credentials[:12], "Authorization", "<html", "PUT /metrics"):
        assert leaked not in error
    assert "\n" not in error and len(error) < 300


def test_a_host_and_port_without_scheme_is_a_gateway_over_http(pushgateway):
    """``host:port`` is the form prometheus_client documents, so users write it."""
    host_port = pushgateway.removeprefix("http://")
    shown = push(host_port, JOB, {"source": "host-port"}, [Gauge("latest_sales_volume", 7.0)])
    assert shown.startswith(f"http://{host_port}/metrics/job/{JOB}")
    assert gateway_gauges(pushgateway, "host-port") == {"latest_sales_volume": 7.0}


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
    assert [name for name in GAUGE_NAMES if name not in expressions] == []
    assert all('job="online_retail"' in t["expr"] for t in targets)
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


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
