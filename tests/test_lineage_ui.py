"""Lineage review in the Prefect UI, checked against a real ``prefect server start``.

A reviewer must answer "what feeds this table, what does it feed, how did its last
materialization go?" from the UI alone. One retail-shaped run of 31 selected assets (one
of them failing, so failed and skipped assets show) is materialized against the server;
the tests read back what Prefect recorded: task runs and their ``wait_for`` edges, the
run's name, parameters, tags and task logs, the lineage artifact, the asset pages
(``asset-<key>``) and the asset events. The scheduled deployment (``pipeline serve`` and
``prefect.yaml`` on a work pool) is exercised against the same server.

Last, ``pipeline materialize`` runs the shipped pipeline as a user runs it, and one headless
chromium opens the URLs it printed at 1600x1000: diagrams drawn, every label at least
10 CSS px, links followed from the run's lineage to an asset page and on upstream
(screenshots in ``reports/ui-screenshots``, or ``docs/img`` with ``UPDATE_DOCS_SCREENSHOTS=1``).
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from orchestration.artifacts import LINEAGE_ARTIFACT_KEY, edges_in, mermaid_blocks
from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from orchestration.prefect_server import PrefectServer, running_prefect_server
from orchestration.prefect_ui import asset_page_key
from orchestration.resolver import MaterializationPlan, RunReport, materialize, plan_materialization
from orchestration.ui_lineage import focused_diagrams, layer_diagrams
from tests.lineage_location import defs as lineage_defs
from tests.lineage_markdown import artifact_rows, mermaid_classes, rendered
from tests.memory_io import MemoryIOManager
from tests.prefect_records import EVENT_WAIT
from tests.prefect_records import settled_task_runs as _task_runs
from tests.server_logs import frozen_start_up_objects
from tests.ui_browser import colour_pixels, launched_browser, new_page
from tests.waiting import wait_for as _wait_for

REPO = Path(__file__).resolve().parents[1]
# Tracked docs images are refreshed on request only, so a test run never dirties the tree:
#   UPDATE_DOCS_SCREENSHOTS=1 pytest tests/test_lineage_ui.py -k ui_
SCREENSHOTS = (
    REPO / "docs" / "img"
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"
    else REPO / "reports" / "ui-screenshots"
)
SELECTION = "key:psa_online_retails+"
FAILING = "link_customer_country"
_LOCATION_LINES = (REPO / "tests" / "lineage_location.py").read_text().splitlines()
RAISED_AT = next(n for n, line in enumerate(_LOCATION_LINES, 1) if "raise RuntimeError(" in line)
#: What FAILING's body raises, after the line of the asset's code that raised it.
FAILING_ERROR = (
    f"tests/lineage_location.py:{RAISED_AT}: RuntimeError: {FAILING} cannot be built: "
    "source rows | contain <bad> values"
)
#: The smallest lineage label a reviewer can read at 1600x1000 without zooming.
MIN_LABEL_PX = 10.0
#: The window the UI is checked in (px), the size reviewers look at it.
WINDOW_WIDTH, WINDOW_HEIGHT = 1600, 1000
#: What a diagram must leave of the window for its heading above it, both in view.
HEADING_PX = 100
#: How many windows tall the shipped pipeline's pages of fact_sales and of its raw asset
#: may be at 1600x1000, their long sections closed (8 and 6 when they were open).
FACT_SALES_SCREENS, RAW_SCREENS = 6.0, 4.0
#: How many windows down fact_sales's Columns heading may start: on its second window (on
#: its fifth, when History, the lineage's legend, diagrams and list came first).
COLUMNS_WITHIN = 2.0
PIPELINE = (sys.executable, "-m", "orchestration")
LOCATION = ("--definitions", "tests.lineage_location")
SERVED = ("--definitions", "tests.serve_location")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One real server with the UI for the session (a start costs 10-20 s)."""
    with running_prefect_server(tmp_path_factory.mktemp("prefect-ui-server")) as server:
        yield server


def _drain_prefect_workers() -> None:
    """Flush and stop Prefect's background event and log senders.

    They are process-wide singletons that keep the API address they started with; left
    running, events (hence task runs, which Prefect 3 records from events) of a later
    test would go to this server instead of the one that test points at, or vice versa.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30, at_exit=False)
    EventsWorker.drain_all(timeout=30, at_exit=False)


@contextlib.contextmanager
def pointed_at(server: PrefectServer) -> Iterator[None]:
    """Client settings for this server only, restored afterwards (never leaked to others)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    _drain_prefect_workers()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield
    finally:
        # Flushes to this server still: a sender keeps the address it started with.
        _drain_prefect_workers()


@pytest.fixture
def client(ui_server: PrefectServer) -> Iterator[Any]:
    from prefect import get_client

    with pointed_at(ui_server), get_client(sync_client=True) as prefect_client:
        yield prefect_client


@dataclass(frozen=True)
class LineageRun:
    graph: AssetGraph
    plan: MaterializationPlan
    report: RunReport
    io: MemoryIOManager

    @property
    def flow_run_id(self) -> uuid.UUID:
        assert self.report.flow_run_id
        return uuid.UUID(self.report.flow_run_id)

    def uri(self, key: str) -> str:
        return self.io.asset_uri(self.graph[key].table)

    def status(self, key: str) -> str:
        return next(o.status for o in self.report.outcomes if o.key == key)

    def task_runs(self, client: Any) -> list[Any]:
        return _task_runs(client, self.flow_run_id, expected=len(self.plan.selected))

    def expected_task_edges(self) -> set[tuple[str, str]]:
        """Asset dependencies among the selected assets: what the run graph must draw."""
        chosen = self.plan.selected_keys
        return {(dep, s.key) for s in self.plan.selected for dep in s.deps if dep in chosen}

    def expected_lineage_edges(self) -> set[tuple[str, str]]:
        """Every dependency of a selected asset, unselected upstream included."""
        return {(dep, s.key) for s in self.plan.selected for dep in s.deps}


@pytest.fixture(scope="module")
def lineage_run(ui_server: PrefectServer) -> LineageRun:
    graph = lineage_defs.graph()
    io = MemoryIOManager()
    # The unselected upstream must exist: it is read as it is, not rebuilt.
    io.tables[graph["raw_online_retails"].table] = pd.DataFrame({"n": [1], "label": ["x"]})
    with pointed_at(ui_server):
        report = materialize(graph, {"warehouse": io}, SELECTION, params={"fail": FAILING})
    run = LineageRun(graph, plan_materialization(graph, SELECTION), report, io)
    assert len(run.plan.selected) >= 30, "the readability check needs a 30+ node graph"
    assert [spec.key for spec in run.plan.external] == ["raw_online_retails"]
    return run


def test_the_ui_server_batches_task_run_states(ui_server: PrefectServer) -> None:
    # As the benchmark's: the server records a run's task-run states in batches.
    with urllib.request.urlopen(f"{ui_server.api_url}/admin/settings", timeout=30) as answer:
        recorder = json.loads(answer.read())["server"]["services"]["task_run_recorder"]
    assert (recorder["batch_size"], recorder["flush_interval"]) == (100, 1.0)


def test_the_ui_server_keeps_its_start_up_heap_out_of_the_collector(
    ui_server: PrefectServer,
) -> None:
    # As every server this project starts (orchestration/server_process.py).
    assert frozen_start_up_objects(ui_server.log_path.read_text()) > 100_000


def _lineage_artifacts(client: Any, flow_run_id: uuid.UUID) -> list[Any]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    return client.read_artifacts(
        artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    )


def _lineage_markdown(client: Any, flow_run_id: uuid.UUID) -> str:
    artifacts = [
        a for a in _lineage_artifacts(client, flow_run_id) if a.key == LINEAGE_ARTIFACT_KEY
    ]
    assert len(artifacts) == 1, f"expected one {LINEAGE_ARTIFACT_KEY} artifact, got {artifacts}"
    return artifacts[0].data


def _materialization_events(client: Any, run: LineageRun, expected: int) -> list[Any]:
    """The run's materialization events; they arrive asynchronously, so poll for them."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    event_filter = EventFilter(
        event=EventNameFilter(prefix=["prefect.asset.materialization."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{run.flow_run_id}"]),
    )
    deadline = time.monotonic() + EVENT_WAIT
    while True:
        page = client.read_events(filter=event_filter, limit=50)  # the API's page maximum
        events = list(page.events)
        while page.next_page:
            page = client.read_events_page(page.next_page)
            events += page.events
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


# --------------------------------------------------------------------------- run graph


def test_task_runs_are_named_by_their_asset_keys(lineage_run: LineageRun, client: Any):
    names = [run.name for run in lineage_run.task_runs(client)]
    assert sorted(names) == sorted(lineage_run.plan.selected_keys)


def test_run_graph_edges_are_exactly_the_asset_dependencies(lineage_run: LineageRun, client):
    from prefect.client.schemas.objects import TaskRunResult

    task_runs = lineage_run.task_runs(client)
    name_of = {run.id: run.name for run in task_runs}
    recorded = set()
    for run in task_runs:
        for input_name, inputs in run.task_inputs.items():
            if input_name == "__parents__":
                continue
            for upstream in inputs:
                if isinstance(upstream, TaskRunResult):
                    recorded.add((name_of[upstream.id], run.name))
    expected = lineage_run.expected_task_edges()
    assert recorded - expected == set(), "edges the asset graph does not have"
    assert expected - recorded == set(), "asset dependencies missing from the run graph"


def test_failed_asset_fails_its_task_and_its_descendants_never_run(lineage_run, client):
    states = {run.name: run for run in lineage_run.task_runs(client)}
    assert states[FAILING].state.is_failed()
    skipped = [o.key for o in lineage_run.report.by_status("skipped")]
    assert sorted(skipped) == ["anomaly_customer_invoices", "dim_customer"]
    for key in skipped:
        assert key not in lineage_run.io.calls, f"{key} ran although {FAILING} failed"
        # Its task run only settles it (Prefect gives that a start time): final, named.
        state = states[key].state
        assert (state.type.value, state.name) == ("CANCELLED", "Skipped"), key
        assert state.message == f"upstream failed: {FAILING}", key
    assert states["fact_sales"].state.is_completed()


# --------------------------------------------------------------------------- artifact


def test_one_lineage_artifact_names_every_asset_and_edge(lineage_run: LineageRun, client):
    markdown = _lineage_markdown(client, lineage_run.flow_run_id)
    diagrams = mermaid_blocks(markdown)
    drawn = {key for d in diagrams for key in re.findall(r"^\s+(\w+)\[", d, re.M)}
    assert drawn == {spec.key for spec in lineage_run.plan.selected + lineage_run.plan.external}
    edges = set().union(*(edges_in(d) for d in diagrams))
    assert edges == lineage_run.expected_lineage_edges()
    assert ("raw_online_retails", "psa_online_retails") in edges
    assert "raw_online_retails --> psa_online_retails" in markdown  # read, if unselected
    for group in ("raw", "vault", "marts", "quality", "metrics"):
        assert re.search(rf"^### {group}( \(1 of \d\))?$", markdown, re.M), group


def test_lineage_artifact_colours_nodes_by_outcome(lineage_run: LineageRun, client):
    diagrams = mermaid_blocks(_lineage_markdown(client, lineage_run.flow_run_id))
    classes = mermaid_classes(diagrams)
    assert classes["failed"] == {FAILING}
    assert classes["skipped"] == {"dim_customer", "anomaly_customer_invoices"}
    assert classes["not_selected"] == {"raw_online_retails"}
    assert len(classes["materialized"]) == len(lineage_run.plan.selected) - 3


def test_lineage_artifact_table_has_each_assets_outcome(lineage_run: LineageRun, client):
    rows = artifact_rows(_lineage_markdown(client, lineage_run.flow_run_id))
    assert set(rows) == lineage_run.plan.selected_keys | {"raw_online_retails"}
    assert rows["fact_sales"][1:3] == [lineage_run.graph["fact_sales"].table, "10"]
    assert rows["fact_sales"][5] == "materialized"
    failed = rows[FAILING]
    assert failed[5] == "failed"
    # The cell gives the cause's first words, not the place in the code it was raised at;
    # the failures list gives it whole, escaped so it cannot break the page or inject HTML.
    assert failed[6].startswith(f"{FAILING} cannot be built"), failed[6]
    markdown = _lineage_markdown(client, lineage_run.flow_run_id)
    assert "source rows \\| contain \\<bad\\> values" in markdown
    assert rows["dim_customer"][5:] == ["skipped", f"upstream failed: {FAILING}"]
    assert rows["raw_online_retails"][1] == lineage_run.graph["raw_online_retails"].table


def test_lineage_artifact_links_each_asset_to_this_runs_page(lineage_run: LineageRun, client):
    rows = artifact_rows(_lineage_markdown(client, lineage_run.flow_run_id))
    pages = _asset_pages(client, lineage_run.flow_run_id)
    # A skipped asset's too: its page of this run says skipped, not an earlier run's page.
    for key in lineage_run.plan.selected_keys:
        assert rows[key][0] == f"/v2/artifacts/artifact/{pages[key].id}", key


def test_pipeline_lineage_mermaid_is_the_artifact_graph(lineage_run: LineageRun, client):
    printed = subprocess.run(
        [*PIPELINE, "lineage", "--format", "mermaid", "--select", SELECTION, *LOCATION],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    diagrams = mermaid_blocks(_lineage_markdown(client, lineage_run.flow_run_id))
    # The same nodes and edges, split into one diagram per layer in the artifact.
    assert set().union(*(edges_in(d) for d in diagrams)) == edges_in(printed)
    nodes = {key for d in diagrams for key in re.findall(r"^\s+(\w+)\[", d, re.M)}
    assert nodes == set(re.findall(r"^\s+(\w+)\[", printed, re.M))


# --------------------------------------------------------------------------- run identity


def _skipped(run: LineageRun) -> set[str]:
    return {o.key for o in run.report.by_status("skipped")}


def test_flow_run_is_named_after_its_selection_with_parameters_and_tags(
    lineage_run: LineageRun, client
):
    flow_run = client.read_flow_run(lineage_run.flow_run_id)
    assert flow_run.name == SELECTION
    assert flow_run.parameters == {"select": SELECTION, "source": None, "source_encoding": None}
    assert {"assets", f"select:{SELECTION}", "group:vault", "group:metrics"} <= set(flow_run.tags)


def test_task_runs_carry_no_tags(lineage_run: LineageRun, client):
    # A task tag costs a concurrency-slot request per task; the flow run holds the tags.
    assert all(run.tags == [] for run in lineage_run.task_runs(client))


def _task_logs(client: Any, run: LineageRun) -> dict[str, str]:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    names = {task.id: task.name for task in run.task_runs(client)}

    def read() -> dict[str, str] | None:
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.flow_run_id])),
            limit=200,
        )
        by_task: dict[str, str] = {}
        for log in logs:
            if log.task_run_id in names:
                by_task[names[log.task_run_id]] = by_task.get(names[log.task_run_id], "")
                by_task[names[log.task_run_id]] += log.message + "\n"
        return by_task if "validation passed" in by_task.get("fact_sales", "") else None

    return _wait_for(read, EVENT_WAIT, "the task runs' logs")


def test_each_task_logs_its_body_rows_validation_and_outcome(lineage_run: LineageRun, client):
    logs = _task_logs(client, lineage_run)
    fact = logs["fact_sales"]
    assert "fact_sales -> marts.Fact_Sales, Python: tests.lineage_location" in fact
    assert "validation passed against FrameSchema" in fact
    assert "10 rows in marts.Fact_Sales, 10 inserted by this run" in fact
    assert f"{FAILING} failed: {FAILING_ERROR}" in logs[FAILING]


# --------------------------------------------------------------------------- asset pages


def _asset_pages(client: Any, flow_run_id: uuid.UUID) -> dict[str, Any]:
    """This run's asset page versions by asset key."""
    pages = {}
    for artifact in _lineage_artifacts(client, flow_run_id):
        if artifact.key and artifact.key.startswith("asset-") and artifact.key != "asset-lineage":
            pages[artifact.key.removeprefix("asset-").replace("-", "_")] = artifact
    return pages


def test_every_asset_the_run_reached_writes_a_version_of_its_asset_page(lineage_run, client):
    pages = _asset_pages(client, lineage_run.flow_run_id)
    assert set(pages) == lineage_run.plan.selected_keys
    assert _skipped(lineage_run) == {"dim_customer", "anomaly_customer_invoices"}
    skipped = pages["dim_customer"]
    assert skipped.description == f"skipped: {lineage_run.graph['dim_customer'].table}"
    assert skipped.task_run_id is not None
    assert "## This run: skipped" in skipped.data
    failed_link = f"[{FAILING}](/v2/artifacts/artifact/{pages[FAILING].id})"
    assert f"Skipped: upstream {failed_link} failed in this run" in skipped.data
    assert pages["fact_sales"].key == "asset-fact-sales"
    assert pages["fact_sales"].task_run_id is not None  # shown on the asset's task run too
    failed = pages[FAILING].data
    assert "## This run: failed" in failed
    # Its IO manager keeps no history: no run of it outlives the run, as status says.
    assert "Last successful materialization: none, never materialized in this warehouse." in failed
    shown = html.escape(FAILING_ERROR, quote=False)
    assert f"<p><strong>Failed:</strong> {shown}</p>" in rendered(failed)  # whole, once


def test_asset_pages_link_to_their_neighbours_pages_of_this_run(lineage_run, client):
    pages = _asset_pages(client, lineage_run.flow_run_id)
    fact = pages["fact_sales"].data
    for neighbour in ("sat_invoice", "anomaly_invoice", "data_quality"):
        assert f"[{neighbour}](/v2/artifacts/artifact/{pages[neighbour].id})" in fact
    run_link = f"[{SELECTION}](/v2/runs/flow-run/{lineage_run.flow_run_id})"
    assert run_link in fact


def _artifact_events(client: Any, flow_run_id: uuid.UUID) -> tuple[list[Any], dict[str, Any]]:
    """Every event about the run's artifacts (once all arrived), and its pages by key."""
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    pages = _asset_pages(client, flow_run_id)
    lineage = next(
        a for a in _lineage_artifacts(client, flow_run_id)
        if a.key == LINEAGE_ARTIFACT_KEY
    )  # fmt: skip
    artifact_ids = [f"prefect.artifact.{a.id}" for a in (lineage, *pages.values())]
    event_filter = EventFilter(
        event=EventNameFilter(prefix=["prefect.artifact."]),
        resource=EventResourceFilter(id=artifact_ids),
    )

    def all_created() -> list[Any] | None:
        page = client.read_events(filter=event_filter, limit=50)
        events = list(page.events)
        while page.next_page:
            page = client.read_events_page(page.next_page)
            events += page.events
        created = {e.resource.id for e in events if e.event == "prefect.artifact.created"}
        # the lineage artifact is created first (its pages link it): wait for every one
        return events if created >= set(artifact_ids) else None

    return _wait_for(all_created, EVENT_WAIT, "the run's artifact events"), pages


def test_pages_finished_at_the_end_of_the_run_are_not_sent_again_as_events(lineage_run, client):
    """The end-of-run rewrite of a page's links is not echoed as an event
    carrying the whole page again (Prefect's update_artifact sends one: a second copy of
    every page through the event stream, stored by the server)."""
    events, pages = _artifact_events(client, lineage_run.flow_run_id)
    assert {e.event for e in events} == {"prefect.artifact.created"}
    assert "| state after this run |" in pages["fact_sales"].data  # settled when it finished


# --------------------------------------------------------------------------- asset events


def test_each_materialized_asset_has_one_event_with_its_upstream_and_metadata(
    lineage_run: LineageRun, client
):
    materialized = [o for o in lineage_run.report.outcomes if o.status == "materialized"]
    events = _materialization_events(client, lineage_run, expected=len(materialized) + 1)
    succeeded = [e for e in events if e.event == "prefect.asset.materialization.succeeded"]
    by_uri: dict[str, list[Any]] = {}
    for event in succeeded:
        by_uri.setdefault(event.resource.id, []).append(event)
    assert sorted(by_uri) == sorted(lineage_run.uri(o.key) for o in materialized)
    for outcome in materialized:
        spec = lineage_run.graph[outcome.key]
        (event,) = by_uri[lineage_run.uri(spec.key)]
        related = {r.id for r in event.related if r.role == "asset"}
        assert related == {lineage_run.uri(dep) for dep in spec.deps}, spec.key
        assert event.resource.get("prefect.resource.name") == spec.key
        assert event.resource.get("prefect.asset.description") == spec.description
        assert event.resource.get("prefect.asset.owners") == '["team:data-platform"]'
        payload = event.payload
        assert payload["table"] == spec.table
        assert payload["rows"] == len(spec.key)
        assert payload["columns"] == ["n", "label"]
        assert payload["schema"] == "FrameSchema"
        assert payload["seconds"] >= 0


def test_failed_materialization_is_an_event_naming_the_error(lineage_run: LineageRun, client):
    materialized = lineage_run.report.by_status("materialized")
    events = _materialization_events(client, lineage_run, expected=len(materialized) + 1)
    failed = [e for e in events if e.event == "prefect.asset.materialization.failed"]
    assert [e.resource.id for e in failed] == [lineage_run.uri(FAILING)]
    (event,) = failed
    assert {r.id for r in event.related if r.role == "asset"} == {
        lineage_run.uri(dep) for dep in lineage_run.graph[FAILING].deps
    }
    assert event.payload["table"] == lineage_run.graph[FAILING].table
    assert "cannot be built" in event.payload["error"]
    skipped = {lineage_run.uri(o.key) for o in lineage_run.report.by_status("skipped")}
    assert not skipped & {e.resource.id for e in events}, "skipped assets never materialized"


# --------------------------------------------------------------------------- schedule


def _final_flow_run(client: Any, flow_run_id: uuid.UUID, timeout: float) -> Any:
    def final():
        run = client.read_flow_run(flow_run_id)
        return run if run.state and run.state.is_final() else None

    return _wait_for(final, timeout, f"flow run {flow_run_id} to finish")


def _subprocess_env(server: PrefectServer, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=server.api_url,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONPATH=str(REPO),
        WAREHOUSE_URL=f"chdb://{tmp_path / 'warehouse'}",
    )
    return env


def _stop(process: subprocess.Popen[str]) -> str:
    """Interrupt like Ctrl+C, then make sure it is gone; returns its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.stdout.read() if process.stdout else ""


def _assert_deployment_run_materialized(client: Any, flow_run: Any, rows: int) -> None:
    assert flow_run.state.is_completed(), flow_run.state
    names = sorted(run.name for run in _task_runs(client, flow_run.id, expected=2))
    assert names == ["numbers", "numbers_total"]  # one task per asset, in this run
    keys = sorted(a.key for a in _lineage_artifacts(client, flow_run.id))
    assert keys == sorted(["asset-numbers", "asset-numbers-total", LINEAGE_ARTIFACT_KEY])
    (row,) = [
        r
        for k, r in artifact_rows(_lineage_markdown(client, flow_run.id)).items()
        if k == "numbers"
    ]
    assert row[1:3] == ["served.numbers", f"{rows:,}"]
    assert flow_run.name == "all assets" and flow_run.parameters["source"] is not None


def test_pipeline_serve_schedules_daily_and_runs_with_its_parameters(
    ui_server: PrefectServer, client, tmp_path: Path
):
    process = subprocess.Popen(
        [*PIPELINE, "serve", "--name", "serve-test", "--source", "synthetic:6", *SERVED],
        cwd=REPO,
        env=_subprocess_env(ui_server, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deployment = _wait_for(
            lambda: _deployment_or_none(client, "materialize-assets/serve-test"),
            90,
            "pipeline serve to register its deployment",
        )
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 0 * * *", "UTC")
        assert schedule.active
        assert deployment.parameters == {
            "select": "",
            "source": "synthetic:6",
            "source_encoding": "",
        }
        assert deployment.entrypoint == "orchestration.deployment.materialize_assets"

        flow_run = client.create_flow_run_from_deployment(deployment.id)
        finished = _final_flow_run(client, flow_run.id, timeout=120)
        _assert_deployment_run_materialized(client, finished, rows=6)
    finally:
        output = _stop(process)
    assert "serve-test" in output


def _deployment_or_none(client: Any, name: str) -> Any:
    from prefect.exceptions import ObjectNotFound

    try:
        return client.read_deployment_by_name(name)
    except ObjectNotFound:
        return None


def test_prefect_yaml_deploys_to_a_work_pool_whose_worker_runs_it(
    ui_server: PrefectServer, client, tmp_path: Path
):
    from prefect.client.schemas.actions import WorkPoolCreate

    client.create_work_pool(WorkPoolCreate(name="retail-process", type="process"))
    env = {**_subprocess_env(ui_server, tmp_path), "PWD": str(REPO)}
    deploy = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--name", "daily"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    deployment = client.read_deployment_by_name("materialize-assets/daily")
    assert deployment.work_pool_name == "retail-process"
    assert deployment.global_concurrency_limit.limit == 1  # runs never overlap
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 0 * * *", "UTC")
    assert deployment.parameters == {"select": "", "source": "", "source_encoding": ""}
    assert deployment.concurrency_options.collision_strategy == "ENQUEUE"  # they queue
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]

    flow_run = client.create_flow_run_from_deployment(
        deployment.id, parameters={"source": "synthetic:4"}
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", "retail-process"],
        cwd=tmp_path,
        env={**env, "PIPELINE_DEFINITIONS": "tests.serve_location"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        finished = _final_flow_run(client, flow_run.id, timeout=150)
        _assert_deployment_run_materialized(client, finished, rows=4)
    finally:
        _stop(worker)


# --------------------------------------------------------------------------- the UI itself
#
# The shipped pipeline, materialized by `pipeline materialize` as a user runs it, opened at
# the URLs it printed, in one browser for the module, at 1600x1000 (the docs' screenshots).
# Last in the module: no Prefect client is used while the browser's event loop runs.


@dataclass(frozen=True)
class ShippedRun:
    """A `pipeline materialize` of the shipped pipeline against the UI server."""

    output: str
    flow_run_url: str
    lineage_url: str
    selected: tuple[str, ...]
    env: dict[str, str]


@pytest.fixture(scope="module")
def shipped_run(
    ui_server: PrefectServer, lineage_run: LineageRun, tmp_path_factory: pytest.TempPathFactory
) -> ShippedRun:
    """``lineage_run`` writes pages under the same keys against another storage (memory):
    made first, whatever tests are selected, so the shipped run's pages are the newest and
    its later runs relink them (a run relinks only its own warehouse's pages)."""
    home = tmp_path_factory.mktemp("shipped-run")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=ui_server.api_url,
        PREFECT_HOME=str(home / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        WAREHOUSE_URL=f"chdb://{home / 'warehouse'}",
    )
    env.pop("PUSHGATEWAY_URL", None)
    result = subprocess.run(
        [*PIPELINE, "materialize", "--source", "synthetic:3000"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    urls = dict(re.findall(r"^(Flow run|Lineage):\s+(\S+)$", result.stdout, re.M))
    assert set(urls) == {"Flow run", "Lineage"}, result.stdout
    selected = tuple(spec.key for spec in load_definitions("assets").graph())
    return ShippedRun(result.stdout, urls["Flow run"], urls["Lineage"], selected, env)


def test_each_pages_created_event_names_its_own_task_run(shipped_run: ShippedRun, client):
    """The UI's event feed shows an event's related task run: a page written by the
    run's page-writer thread must name its asset's task run, not whichever task's
    context that thread first saw."""
    flow_run_id = uuid.UUID(shipped_run.flow_run_url.rsplit("/", 1)[-1])
    events, pages = _artifact_events(client, flow_run_id)
    page_by_artifact = {f"prefect.artifact.{page.id}": page for page in pages.values()}
    checked = 0
    for event in events:
        page = page_by_artifact.get(event.resource.id)
        if page is None:
            continue  # the run's lineage artifact belongs to the flow run alone
        task_runs = {r.id for r in event.related if r.role == "task-run"}
        assert task_runs == {f"prefect.task-run.{page.task_run_id}"}, page.key
        checked += 1
    assert checked == len(pages)


def test_the_lineage_artifacts_created_event_names_no_task_run(shipped_run: ShippedRun, client):
    """The run's lineage artifact belongs to the flow run: its event in the UI's feed must
    not name a task run (it named the run's first task, raw_online_retails)."""
    flow_run_id = uuid.UUID(shipped_run.flow_run_url.rsplit("/", 1)[-1])
    events, _ = _artifact_events(client, flow_run_id)
    (lineage,) = [
        e for e in events if e.resource.get("prefect.resource.name") == LINEAGE_ARTIFACT_KEY
    ]
    assert {r.id for r in lineage.related if r.role == "flow-run"} == {
        f"prefect.flow-run.{flow_run_id}"
    }
    assert [r.id for r in lineage.related if r.role == "task-run"] == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_browser() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = new_page(browser, width=WINDOW_WIDTH, height=WINDOW_HEIGHT)
    yield page
    page.context.close()


_DIAGRAMS_JS = """
() => [...document.querySelectorAll('svg[id^="mermaid"]')].map(svg => {
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('g.node')].map(node => {
    const label = node.querySelector('.nodeLabel') || node.querySelector('text');
    return {
      id: node.id,
      cls: node.getAttribute('class') || '',
      text: (label && label.textContent) || '',
      px: parseFloat(getComputedStyle(label).fontSize) * scale,
      height: label.getBoundingClientRect().height,
    };
  });
})
"""


_ALL_DRAWN_JS = """
n => {
  const svgs = [...document.querySelectorAll('svg[id^="mermaid"]')];
  const drawn = s => s.viewBox.baseVal.width > 0 && s.querySelector('g.node');
  return svgs.length === n && svgs.every(drawn);
}
"""


def _rendered_diagrams(page: Any, expected: int) -> list[dict[str, dict[str, Any]]]:
    """Each rendered Mermaid diagram's nodes by asset key, once exactly ``expected`` are drawn.

    A label's rendered size is its computed font size times the diagram's scale (the UI
    shrinks a diagram wider than its column as a whole). The page re-renders its diagrams
    while it settles (after a navigation, on the theme), so the answer is taken when two
    readings half a second apart agree.
    """

    def settled() -> list[Any] | None:
        page.wait_for_function(_ALL_DRAWN_JS, arg=expected)
        first = page.evaluate(_DIAGRAMS_JS)
        page.wait_for_timeout(500)
        again = page.evaluate(_DIAGRAMS_JS)
        return first if first == again and len(first) == expected else None

    rendered = _wait_for(settled, 60, f"{expected} settled diagrams", interval=0)
    assert page.get_by_text("Failed to render mermaid diagram").count() == 0
    diagrams = []
    for nodes in rendered:
        by_key = {}
        for node in nodes:
            match = re.search(r"flowchart-(\w+?)-\d+$", node["id"])
            if match:
                by_key[match.group(1)] = node
        diagrams.append(by_key)
    return diagrams


def _assert_readable(diagrams: list[dict[str, dict[str, Any]]]) -> None:
    sizes = {key: node["px"] for nodes in diagrams for key, node in nodes.items()}
    small = {key: round(px, 1) for key, px in sizes.items() if px < MIN_LABEL_PX}
    assert not small, f"labels rendered under {MIN_LABEL_PX} CSS px at 1600x1000: {small}"
    assert all(node["height"] > 0 for nodes in diagrams for node in nodes.values())


_EDGES_JS = """
() => [...document.querySelectorAll('svg[id^="mermaid"]')].map(svg => ({
  height: svg.getBoundingClientRect().height,
  edges: [...svg.querySelectorAll('path[data-edge]')].map(path => {
    const style = getComputedStyle(path);
    return {id: path.getAttribute('data-id'), stroke: style.stroke, dashes: style.strokeDasharray};
  }),
}))
"""


def _assert_edges_stand_out_and_fit(page: Any, graph: AssetGraph) -> None:
    """Every ordering-only edge is drawn dotted, in a colour no read is drawn in, and every
    diagram fits the window: the UI's Mermaid drew 7 of the marts' 8 dotted ordering edges
    solid and grey (a crossing line's dash array, ``0 0 620.9 2``, replaced the dots), so
    fact_sales seemed to read the dimensions, in a diagram 946 px tall."""
    ordering = re.compile(
        "|".join(
            rf"L_{dep}_{key}_\d+" for key in graph.specs for dep in graph.upstream_of(key).ordering
        )
    )
    diagrams = page.evaluate(_EDGES_JS)
    strokes: dict[bool, set[str]] = {True: set(), False: set()}
    for edge in (edge for diagram in diagrams for edge in diagram["edges"]):
        order = bool(ordering.fullmatch(edge["id"]))
        dotted = len(edge["dashes"].split(",")) > 4  # a solid line: gap, dash, gap, end
        assert dotted == order, edge
        strokes[order].add(edge["stroke"])
    assert strokes[True], "no ordering-only edge drawn"
    assert len(strokes[True]) == 1 and not strokes[True] & strokes[False], strokes
    heights = [round(diagram["height"]) for diagram in diagrams]
    assert max(heights) <= WINDOW_HEIGHT - HEADING_PX, f"taller than the window: {heights}"


def _row_link(page: Any, key: str) -> Any:
    """``key``'s link in a table row: a diagram's box links the same page, under the same
    name once the UI drew it (a ``click`` line)."""
    return page.get_by_role("row").get_by_role("link", name=key, exact=True)


def _screenshot(page: Any, name: str, scroll_to: str | None = None) -> None:
    """What a reviewer sees in the 1600x1000 window, optionally scrolled to a heading."""
    if scroll_to:
        heading = page.get_by_role("heading", name=scroll_to, exact=True).first
        heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name)


def test_ui_lineage_url_printed_by_the_cli_shows_readable_diagrams(shipped_run, page):
    assert "/v2/artifacts/artifact/" in shipped_run.lineage_url
    page.goto(shipped_run.lineage_url)
    graph = load_definitions("assets").graph()
    diagrams = _rendered_diagrams(page, len(layer_diagrams(graph, shipped_run.selected)))
    drawn = {key for nodes in diagrams for key in nodes}
    assert drawn == set(shipped_run.selected)
    _assert_readable(diagrams)
    _assert_edges_stand_out_and_fit(page, graph)
    page.get_by_role("columnheader", name="inserted").wait_for()
    for key in shipped_run.selected:  # every row links to the asset's page
        href = _row_link(page, key).get_attribute("href")
        assert href and href.startswith("/v2/artifacts/artifact/"), key
    _screenshot(page, "lineage-artifact.png", scroll_to="marts (2 of 2)")


def test_ui_asset_page_links_through_to_upstream_pages(shipped_run, page):
    graph = load_definitions("assets").graph()
    page.goto(shipped_run.lineage_url)
    _row_link(page, "fact_sales").click()
    page.get_by_role("heading", name="fact_sales", exact=True).wait_for()
    assert page.url != shipped_run.lineage_url
    assert page.get_by_text("asset-fact-sales").count() > 0
    diagrams = _rendered_diagrams(page, len(focused_diagrams(graph, "fact_sales")))
    direct = set(graph["fact_sales"].deps) | set(graph.dag.successors("fact_sales"))
    # The assets further away are counted in one box per side, listed under the diagram;
    # its 11 inputs take two diagrams of at most 10 a column, each drawing fact_sales.
    drawn = {key for nodes in diagrams for key in nodes}
    assert drawn == direct | {"fact_sales", "0_more_upstream", "0_more_downstream"}
    assert all("focus" in nodes["fact_sales"]["cls"].split() for nodes in diagrams)
    _assert_readable(diagrams)
    _assert_edges_stand_out_and_fit(page, graph)
    for text in ("This run: materialized", "total_amount", "SELECT"):
        assert page.get_by_text(text).count() > 0, text
    # Columns with the warehouse's types and the upstream columns they are computed from.
    assert page.get_by_text("vault.sat_invoice.TotalAmount", exact=True).count() > 0
    assert page.get_by_text("Decimal(10, 4)", exact=True).count() > 0
    _screenshot(page, "asset-page.png")
    _screenshot(page, "asset-page-lineage.png", scroll_to="Lineage")

    page.get_by_role("link", name="sat_invoice", exact=True).first.click()
    page.get_by_role("heading", name="sat_invoice", exact=True).wait_for()
    assert page.get_by_text("asset-sat-invoice").count() > 0
    page.get_by_role("link", name="fact_sales", exact=True).first.wait_for()  # its downstream


def test_ui_a_columns_source_links_to_the_page_that_carries_its_chain_on(shipped_run, page):
    """Where does ``marts.Fact_Sales.total_amount`` come from, down to the raw columns:
    each source column is a click to the page whose Columns section goes one step further."""
    page.goto(shipped_run.lineage_url)
    _row_link(page, "fact_sales").click()
    page.get_by_role("heading", name="fact_sales", exact=True).wait_for()
    chain = [
        ("vault.sat_invoice.TotalAmount", "sat_invoice"),
        ("raw.psa_online_retails.TotalAmount", "psa_online_retails"),
        ("raw.online_retails.Quantity", "raw_online_retails"),
    ]
    for column, key in chain:
        page.get_by_role("link", name=column, exact=True).first.click()
        page.get_by_role("heading", name=key, exact=True).wait_for()
        assert "/v2/artifacts/artifact/" in page.url, (column, page.url)


def test_ui_a_staging_columns_page_says_which_mart_columns_use_it(shipped_run, page):
    """Before renaming the PSA's Quantity, its page names the vault and mart columns
    computed from it, and a click on one opens the page of the mart that holds it."""
    page.goto(shipped_run.lineage_url)
    _row_link(page, "psa_online_retails").click()
    page.get_by_role("heading", name="psa_online_retails", exact=True).wait_for()
    page.get_by_role("heading", name="Used downstream", exact=True).wait_for()
    # Behind a click, which says how many of the columns are used.
    section = page.locator("summary", has_text=re.compile(r"^What uses \d+ of its \d+ columns"))
    section.first.click()
    quantity = page.get_by_role("cell", name="Quantity", exact=True)
    satellite = page.get_by_role("link", name="vault.sat_invoice.Quantity", exact=True)
    row = page.get_by_role("row").filter(has=quantity).filter(has=satellite)  # not Columns'
    row.wait_for()  # one row, or it raises
    # Capped: the rest is behind "and N more", which a click opens (it named none of them).
    more = row.locator("details").first
    hidden = more.get_by_role("link").first
    assert re.fullmatch(r"and \d+ more", more.locator("summary").inner_text())
    assert not hidden.is_visible()
    more.locator("summary").click()
    hidden.wait_for(state="visible")
    _screenshot(page, "asset-page-used-downstream.png", scroll_to="Used downstream")
    row.get_by_role("link", name="marts.Fact_Sales.quantity", exact=True).click()
    page.get_by_role("heading", name="fact_sales", exact=True).wait_for()
    assert "/v2/artifacts/artifact/" in page.url


#: How far the page is scrolled (the document scrolls, under the UI's fixed side bar).
_SCROLLED_JS = "() => document.scrollingElement.scrollTop"


def test_ui_a_check_of_the_page_it_is_on_jumps_to_its_row(shipped_run, page):
    """In fact_sales's *Used downstream*, its own checks linked the page's own version: a
    click reloaded the page at its top. The UI follows an anchor on the page it shows (not
    on one it navigates to: tested, it stays at the top): the click scrolls the check's row
    of the Checks table into view, the page as it was."""
    page.goto(shipped_run.lineage_url)
    _row_link(page, "fact_sales").click()
    page.get_by_role("heading", name="fact_sales", exact=True).wait_for()
    page.locator("summary", has_text=re.compile(r"^What uses ")).first.click()
    link = page.get_by_role("link", name=re.compile(r"^fact_sales\.\w+$")).first
    check = link.inner_text().removeprefix("fact_sales.")
    anchor = page.locator(f"#check-{check}")  # its id, as the page wrote it
    link.scroll_into_view_if_needed()
    before, address = page.evaluate(_SCROLLED_JS), page.url
    assert not _in_view(anchor)
    link.click()
    _wait_for(lambda: _in_view(anchor), 10, f"the row of {check} in view")
    assert page.evaluate(_SCROLLED_JS) < before
    assert page.url.split("#")[0] == address.split("#")[0]
    assert page.url.endswith(f"#check-{check}")
    _screenshot(page, "asset-page-check-row.png")


def _in_view(locator: Any) -> bool:
    """Whether ``locator``'s element (an anchor) starts inside the window: scrolled to, its
    top is at 0 give or take a fraction of a pixel (-0.05)."""
    box = locator.bounding_box()
    return bool(box) and -1 < box["y"] < WINDOW_HEIGHT


#: The height of the page's scrolled content (the UI scrolls an element, not the document).
_CONTENT_HEIGHT_JS = (
    "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))"
)


def _screens(page: Any) -> float:
    """How many windows tall the page is, once its diagrams are drawn."""
    return page.evaluate(_CONTENT_HEIGHT_JS) / WINDOW_HEIGHT


def test_ui_an_asset_pages_long_sections_open_on_a_click(shipped_run, page):
    """fact_sales's page was ~8 windows tall at 1600x1000, the raw asset's 6: its SQL and
    what uses each column are a click away, each behind a line saying what it holds."""
    graph = load_definitions("assets").graph()
    page.goto(shipped_run.lineage_url)
    _row_link(page, "fact_sales").click()
    page.get_by_role("heading", name="fact_sales", exact=True).wait_for()
    _rendered_diagrams(page, len(focused_diagrams(graph, "fact_sales")))
    assert _screens(page) <= FACT_SALES_SCREENS, f"{_screens(page):.1f} windows tall"
    columns = page.get_by_role("heading", name="Columns", exact=True).bounding_box()
    assert columns and columns["y"] <= COLUMNS_WITHIN * WINDOW_HEIGHT, columns
    sql = page.locator("pre", has_text="FROM vault.sat_invoice")
    assert not sql.is_visible()
    summary = page.locator("summary", has_text="The SELECT that builds marts.Fact_Sales (")
    summary.click()
    sql.wait_for(state="visible")

    page.get_by_role("link", name="raw_online_retails", exact=True).first.click()
    page.get_by_role("heading", name="raw_online_retails", exact=True).wait_for()
    _rendered_diagrams(page, len(focused_diagrams(graph, "raw_online_retails")))
    assert _screens(page) <= RAW_SCREENS, f"{_screens(page):.1f} windows tall"
    main = page.locator("main").inner_text()
    assert main.count("a Python asset that loads a source") == 1
    _screenshot(page, "raw-asset-page.png")


def _page_id(server: PrefectServer, run: LineageRun, key: str) -> str:
    """The id of ``key``'s page written by ``run``, read over plain HTTP."""
    return _artifact_id(server, run, asset_page_key(key))


def _artifact_id(server: PrefectServer, run: LineageRun, artifact_key: str) -> str:
    """The id of the artifact ``artifact_key`` written by ``run``, read over plain HTTP.

    Not with the Prefect client: while Playwright's event loop runs in this thread,
    Prefect's sync client cannot drain its background senders.
    """
    query = {
        "artifacts": {
            "flow_run_id": {"any_": [str(run.flow_run_id)]},
            "key": {"any_": [artifact_key]},
        }
    }
    request = urllib.request.Request(
        f"{server.api_url}/artifacts/filter",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        (artifact,) = json.load(response)
    return artifact["id"]


def test_ui_failed_assets_page_shows_its_error_once_and_the_step_to_take(
    lineage_run: LineageRun, ui_server, page
):
    page.goto(f"{ui_server.ui_url}/artifacts/artifact/{_page_id(ui_server, lineage_run, FAILING)}")
    page.get_by_role("heading", name="This run: failed").wait_for()
    page.get_by_text("never materialized in this warehouse", exact=False).first.wait_for()
    errors = page.locator("p", has_text=f"{FAILING} cannot be built")
    errors.first.wait_for()
    # Under the title, before the table's facts: a reader opens the page for the reason.
    assert errors.inner_text() == f"Failed: {FAILING_ERROR}"  # one, or it raises
    assert errors.evaluate("e => e.getBoundingClientRect().bottom") < 1000  # the first screen
    # Once: it was under the title, in an Error section and in the state row; the state
    # row refers to it now. (Prefect's side panel beside the page gives the run's state
    # message, which names each failed asset's cause: that is Prefect's, not the page's.)
    shown = page.get_by_test_id("markdown-display").inner_text()
    assert shown.count(f"{FAILING} cannot be built") == 1
    state = page.get_by_role("row").filter(has=page.get_by_text("state after this run"))
    assert "last run failed: see the error under the title" in state.inner_text()
    # One paragraph, as written, wrapped by the page between words: no line break put in
    # at a fixed column (a code block's), nothing behind a horizontal scroll bar.
    width, visible = errors.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width <= visible, "the error runs on behind a horizontal scroll bar"
    assert page.locator("pre", has_text=f"{FAILING} cannot be built").count() == 0
    # The step the run's lineage page and terminal name, right under it.
    step = page.locator("p", has_text="Next: pipeline materialize --select ")
    assert step.inner_text().startswith(f"Next: pipeline materialize --select '{FAILING}+'")
    assert step.evaluate("e => e.getBoundingClientRect().bottom") < 1000
    _screenshot(page, "failed-asset-page.png")


#: How many lines of text an element's content takes.
_LINES_JS = """
e => {
  const style = getComputedStyle(e);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
  const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  return (e.getBoundingClientRect().height - padding) / line;
}
"""


def test_ui_a_failed_runs_table_gives_each_error_in_a_few_lines(
    lineage_run: LineageRun, ui_server, page
):
    """The lineage table's error column is ~150 px wide at 1600x1000: a compile error
    wrapped there to 16 lines. Its cell gives the error's start; the list of failures
    above the diagrams gives it whole."""
    lineage = _artifact_id(ui_server, lineage_run, LINEAGE_ARTIFACT_KEY)
    page.goto(f"{ui_server.ui_url}/artifacts/artifact/{lineage}")
    page.get_by_role("columnheader", name="error").wait_for()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=FAILING, exact=True))
    cell = row.get_by_role("cell").last
    lines = cell.evaluate(_LINES_JS)
    for _ in range(20):  # NaN: the UI drew the table again between finding and measuring
        if math.isfinite(lines):
            break
        page.wait_for_timeout(250)
        lines = cell.evaluate(_LINES_JS)
    assert lines < 3.5, f"the error wraps to {lines:.1f} lines: {cell.inner_text()!r}"
    whole = page.locator("li", has_text=f"{FAILING}:")
    assert FAILING_ERROR in whole.inner_text()
    cell.scroll_into_view_if_needed()
    _screenshot(page, "lineage-failed-table.png")


def test_ui_flow_run_url_printed_by_the_cli_is_named_and_draws_the_run_graph(shipped_run, page):
    page.goto(shipped_run.flow_run_url)
    page.get_by_text("all assets", exact=True).first.wait_for()
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible")
    # Lay the graph out by dependency (not by time), the way a lineage reviewer reads it.
    page.locator("button:has(svg.lucide-cog)").last.click()
    page.locator("#dependency_nearest-parent").check()
    page.keyboard.press("Escape")
    page.wait_for_timeout(2500)  # the WebGL graph animates into its new layout
    colours = colour_pixels(page, canvas.screenshot())
    assert colours["green"] > 200, f"no completed task nodes drawn: {colours}"
    _screenshot(page, "flow-run-graph.png")

    page.get_by_role("tab", name="Artifacts").click()
    page.get_by_text(LINEAGE_ARTIFACT_KEY, exact=True).first.click()
    page.wait_for_url(re.compile(r".*/artifacts/artifact/.*"))
    graph = load_definitions("assets").graph()
    diagrams = _rendered_diagrams(page, len(layer_diagrams(graph, shipped_run.selected)))
    assert {key for nodes in diagrams for key in nodes} == set(shipped_run.selected)


def test_ui_failed_task_is_drawn_red_in_the_run_graph(lineage_run: LineageRun, ui_server, page):
    page.goto(f"{ui_server.ui_url}/runs/flow-run/{lineage_run.flow_run_id}")
    canvas = page.locator("canvas").first
    canvas.wait_for(state="visible")
    page.wait_for_timeout(2500)
    colours = colour_pixels(page, canvas.screenshot())
    assert colours["red"] > 20, f"the failed task is not drawn in red: {colours}"
    page.get_by_role("tab", name="Task Runs").click()
    page.get_by_text(f"{len(lineage_run.plan.selected)} Task runs", exact=True).first.wait_for()


def _click_box(page: Any, key: str) -> None:
    """Click ``key``'s box in the page's Mermaid diagrams, then wait for its page."""
    page.locator(f'svg[id^="mermaid"] g.node[id*="-flowchart-{key}-"]').first.click()
    page.get_by_role("heading", name=key, exact=True).wait_for()
    assert "/v2/artifacts/artifact/" in page.url, page.url


def test_ui_a_box_in_a_diagram_opens_that_assets_page(shipped_run, page):
    """The run's lineage said each asset links to its page, but its boxes opened nothing:
    the linked names were in the table ~8 screens down. The UI's Mermaid (security level
    ``strict``) follows a ``click`` link: a box opens the asset's page of this run, and on
    that page a neighbour's box opens the neighbour's."""
    graph = load_definitions("assets").graph()
    page.goto(shipped_run.lineage_url)
    _rendered_diagrams(page, len(layer_diagrams(graph, shipped_run.selected)))
    _click_box(page, "fact_sales")
    assert page.get_by_text("asset-fact-sales").count() > 0
    _rendered_diagrams(page, len(focused_diagrams(graph, "fact_sales")))
    _click_box(page, "sat_invoice")
    assert page.get_by_text("asset-sat-invoice").count() > 0


def test_ui_an_asset_with_many_readers_draws_diagrams_that_each_fit_the_window(shipped_run, page):
    """The PSA's 14 readers in one column drew 1,092 px: at most 10 a column, in as many
    diagrams as that takes, each fits the 1600x1000 window with its heading."""
    graph = load_definitions("assets").graph()
    page.goto(shipped_run.lineage_url)
    page.get_by_role("link", name="psa_online_retails", exact=True).first.click()
    page.get_by_role("heading", name="psa_online_retails", exact=True).wait_for()
    diagrams = _rendered_diagrams(page, len(focused_diagrams(graph, "psa_online_retails")))
    drawn = {key for nodes in diagrams for key in nodes}
    assert drawn >= set(graph.dag.successors("psa_online_retails"))
    _assert_readable(diagrams)
    heights = [round(d["height"]) for d in page.evaluate(_EDGES_JS)]
    assert max(heights) <= WINDOW_HEIGHT - HEADING_PX, f"taller than the window: {heights}"
    _screenshot(page, "asset-page-many-readers.png", scroll_to="Lineage")


def test_ui_the_ingest_assets_page_names_the_source_it_read(shipped_run, page):
    page.goto(shipped_run.lineage_url)
    page.get_by_role("link", name="raw_online_retails", exact=True).first.click()
    page.get_by_role("heading", name="raw_online_retails", exact=True).wait_for()
    said = page.locator("p", has_text="Source:").first.inner_text()
    assert said == "Source: synthetic:3000 (given by --source); 3,000 rows read."


#: The selection run of the module's last tests: the PSA alone, after the shipped run.
PSA_ONLY = "key:psa_online_retails"


def _later_run(shipped_run: ShippedRun, selection: str) -> dict[str, str]:
    """The URLs ``pipeline materialize --select selection`` printed, run after the shipped
    run on its warehouse and server."""
    result = subprocess.run(
        [*PIPELINE, "materialize", "--source", "synthetic:3000", "--select", selection],
        cwd=REPO,
        env=shipped_run.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    urls = dict(re.findall(r"^(Flow run|Lineage):\s+(\S+)$", result.stdout, re.M))
    assert set(urls) == {"Flow run", "Lineage"}, result.stdout
    return urls


@pytest.fixture(scope="module")
def psa_run(shipped_run: ShippedRun) -> dict[str, str]:
    """The URLs ``pipeline materialize --select key:psa_online_retails`` printed, run after
    the shipped run: it reads raw_online_retails as it is, and relinks the pages of the
    shipped run. Used by the module's last tests only: it changes the pages."""
    return _later_run(shipped_run, PSA_ONLY)


def test_ui_a_relinked_page_says_its_asset_turned_stale(psa_run: dict[str, str], page):
    """Rebuilding ``psa_online_retails`` alone leaves ``hub_invoice`` stale (``pipeline
    status`` says so): its newest page, written fresh by the full run and relinked by this
    one, must say stale too. Followed as a reviewer would: from this run's lineage to the
    rebuilt asset's page, then downstream. Last in the module: it changes the pages."""
    selection, urls = PSA_ONLY, psa_run
    page.goto(urls["Lineage"])
    page.get_by_role("link", name="psa_online_retails", exact=True).first.click()
    page.get_by_role("heading", name="psa_online_retails", exact=True).wait_for()
    page.get_by_role("link", name="hub_invoice", exact=True).first.click()
    page.get_by_role("heading", name="hub_invoice", exact=True).wait_for()
    state = page.get_by_role("row").filter(has=page.get_by_role("cell", name="state", exact=True))
    assert state.inner_text().split(maxsplit=1) == [
        "state",
        f"stale (upstream materialized since: psa_online_retails) as of run {selection}",
    ]
    run = state.get_by_role("link", name=selection, exact=True)
    assert urls["Flow run"].endswith(run.get_attribute("href") or "-")
    _screenshot(page, "relinked-asset-page.png")


def test_ui_a_selections_unselected_upstream_open_on_a_click_each_time_on_one_line(
    psa_run: dict[str, str], page
):
    """A selection's lineage page lists the unselected upstream it read behind a click;
    each build time, a link in a narrow column, wrapped between date and clock. Then the
    PSA's page of that run says which version of the raw table it read: the full run's."""
    page.goto(psa_run["Lineage"])
    summary = page.locator("summary", has_text="The 1 unselected upstream table this run read")
    summary.click()
    row = page.get_by_role("row").filter(
        has=page.get_by_role("link", name="raw_online_retails", exact=True)
    )
    built = row.get_by_role("cell").nth(3)
    built.wait_for()
    lines = built.evaluate(_LINES_JS)
    assert lines < 1.5, f"the build time wraps to {lines:.1f} lines: {built.inner_text()!r}"
    _screenshot(page, "lineage-not-selected.png")

    page.get_by_role("link", name="psa_online_retails", exact=True).first.click()
    page.get_by_role("heading", name="psa_online_retails", exact=True).wait_for()
    read = page.locator("li", has_text="raw_online_retails: built ")
    assert re.fullmatch(
        r"raw_online_retails: built \d{4}\u2011\d\d\u2011\d\d\s\d\d:\d\d:\d\d\sUTC by run all "
        r"assets",
        read.inner_text(),
    ), read.inner_text()
    read.get_by_role("link", name="raw_online_retails", exact=True).click()
    page.get_by_role("heading", name="raw_online_retails", exact=True).wait_for()
    page.get_by_role("heading", name="This run: materialized").wait_for()


#: A rerun's selection, as the ``Next:`` line of a run whose check failed gives it: its
#: flow run is named so, and in a page's run cells the name wrapped to three lines.
LONG_SELECTION = "dim_customer or dim_product or dim_time or dim_country"


@pytest.fixture(scope="module")
def long_named_run(shipped_run: ShippedRun) -> dict[str, str]:
    """The URLs ``pipeline materialize --select LONG_SELECTION`` printed, run after the
    shipped run: it writes newer versions of the dimensions' pages. Used by the module's
    last tests only: it changes the pages."""
    return _later_run(shipped_run, LONG_SELECTION)


def test_ui_an_older_version_says_whose_it_is_and_opens_the_newer_ones(
    shipped_run: ShippedRun, long_named_run: dict[str, str], page
):
    """An older version of a page, opened from its run's lineage after a later run wrote a
    newer one, looked like the newest (its ``state after this run: fresh`` read as the
    state now): under its title it says whose it is, that it is as of then, and opens
    Prefect's list of the versions (a V2 route), headed by the newest one's outcome."""
    page.goto(shipped_run.lineage_url)
    _row_link(page, "dim_time").click()
    page.get_by_role("heading", name="dim_time", exact=True).wait_for()
    line = page.locator("p", has_text="This version: run all assets at ")
    assert "what it says is as of then. Newer versions:" in line.inner_text()
    assert line.evaluate("e => e.getBoundingClientRect().bottom") < WINDOW_HEIGHT / 2
    _screenshot(page, "asset-page-older-version.png")
    line.get_by_role("link", name="all versions of asset-dim-time", exact=True).click()
    page.wait_for_url(re.compile(r".*/v2/artifacts/key/asset-dim-time$"))
    page.get_by_role("heading", name=re.compile(r"^materialized, [\d,]+ rows: marts\.")).wait_for()
    newest = page.locator('[data-testid^="timeline-card-"]').first
    newest.get_by_role("link", name=LONG_SELECTION, exact=True).wait_for()
    _screenshot(page, "asset-page-versions.png")


#: How many lines an element's text takes: the distinct tops of its boxes (a table
#: cell is as tall as its row, which another cell's lines make taller).
_TEXT_LINES_JS = """
e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const tops = [...range.getClientRects()].map(box => box.top).sort((a, b) => a - b);
  return tops.filter((top, i) => i === 0 || top - tops[i - 1] > 4).length;
}
"""


def test_ui_a_pages_run_and_time_cells_take_one_line_each(long_named_run: dict[str, str], page):
    """In the This run and History tables a long run name wrapped to three lines, and the
    time at its date's hyphen (``2026-12-`` over ``07 19:12:33``): the name is cut in the
    cell (whole in the link's title, in the version line and in the run it opens), the
    date does not break. The History's run column (~250 px at 1600x1000) holds the cut
    name on one line; This run's, of six columns (~190 px), on two at most."""
    page.goto(long_named_run["Lineage"])
    _row_link(page, "dim_time").click()
    page.get_by_role("heading", name="History", exact=True).wait_for()
    name = re.compile(r"^dim_customer or .*…$")
    rows = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    rows.nth(1).wait_for()
    this_run, history = rows.all()  # This run's row, and the History's of this version
    for row, most in ((this_run, 2), (history, 1)):
        run = row.get_by_role("link", name=name)
        assert run.get_attribute("title") == LONG_SELECTION
        lines = run.evaluate(_TEXT_LINES_JS)
        assert lines <= most, f"the run's name wraps to {lines} lines: {run.inner_text()!r}"
        time = row.get_by_role("cell").nth(1)
        lines = time.evaluate(_TEXT_LINES_JS)
        assert lines == 1, f"the time wraps to {lines} lines: {time.inner_text()!r}"
    times = page.get_by_role("cell", name=re.compile(r"^\d{4}\u2011\d\d\u2011\d\d\s")).all()
    assert len(times) >= 3  # This run's, and the History's of each run
    for time in times:
        assert time.evaluate(_TEXT_LINES_JS) == 1, time.inner_text()
    _screenshot(page, "asset-page-history.png", scroll_to="History")
