"""The run's outcome on a real Prometheus Pushgateway: what an alert on a failed run, or on
no successful run for a day, reads.

The pipeline's run hook (``assets.run_outcome``) pushes it from the flow at the run's
end, into the group ``job="online_retail_run", warehouse=<the warehouse>``, failed runs
too; the time of the last success stays there across failed runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import assets
import assets.dashboard  # registers the dashboard asset, so the graph is complete
from assets.metrics import JOB, PUSHGATEWAY_ENV
from assets.run_outcome import RUN_GAUGES, RUN_JOB
from io_managers import ClickHouseIOManager
from orchestration.definitions import load_definitions
from orchestration.resolver import materialize
from orchestration.run_report import RunReport
from schemas.metrics import GAUGE_NAMES
from tests.pushgateway_support import free_port, group_samples, group_values, pushgateway
from tests.retail_seed import open_seeded
from tests.terminal import screen

__all__ = ["pushgateway"]  # the fixture, used by name


@pytest.fixture
def seeded(tmp_path):
    warehouse = open_seeded(tmp_path / "warehouse")
    yield warehouse
    warehouse.close()


def run_with_hooks(warehouse: ClickHouseIOManager, selection: str) -> RunReport:
    """A run of ``selection`` as ``pipeline materialize`` makes it: with the code
    location's run hooks."""
    defs = load_definitions(assets.__name__)
    return materialize(
        defs.graph(),
        {"warehouse": warehouse},
        selection,
        params={"source": "online_retail_II.xlsx"},
        run_hooks=defs.run_hooks,
    )


def run_outcome(url: str, warehouse: ClickHouseIOManager) -> dict[str, float]:
    return group_values(url, job=RUN_JOB, warehouse=str(warehouse.location()))


@pytest.mark.usefixtures("prefect_server")
def test_a_run_pushes_its_outcome_and_a_failed_one_keeps_the_last_success(
    seeded, pushgateway, monkeypatch
):
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    before = time.time()
    succeeded = run_with_hooks(seeded, "pipeline_metrics")
    assert succeeded.ok and succeeded.warnings == [], succeeded
    first = run_outcome(pushgateway, seeded)

    assert set(first) == set(RUN_GAUGES)
    assert first["pipeline_run_success"] == 1
    assert first["pipeline_assets_failed"] == first["pipeline_assets_skipped"] == 0
    assert before <= first["pipeline_run_finished_timestamp_seconds"] <= time.time()
    assert (
        first["pipeline_last_success_timestamp_seconds"]
        == (first["pipeline_run_finished_timestamp_seconds"])
    )
    assert 0 < first["pipeline_run_duration_seconds"] < time.time() - before

    seeded.command("TRUNCATE TABLE quality.data_quality")  # nothing to measure: it fails
    failed = run_with_hooks(seeded, "pipeline_metrics")
    assert [o.status for o in failed.outcomes] == ["failed"] and failed.warnings == []
    assert failed.outcomes[0].error == (
        "asset 'pipeline_metrics' (table quality.pipeline_metrics): quality.data_quality has "
        "no rows, so there is nothing to measure; materialize the quality tables first"
    )
    second = run_outcome(pushgateway, seeded)

    assert second["pipeline_run_success"] == 0
    assert second["pipeline_assets_failed"] == 1
    assert (
        second["pipeline_run_finished_timestamp_seconds"]
        > (first["pipeline_run_finished_timestamp_seconds"])
    )
    assert (
        second["pipeline_last_success_timestamp_seconds"]
        == (first["pipeline_last_success_timestamp_seconds"])
    )


@pytest.mark.usefixtures("prefect_server")
def test_the_outcome_is_the_warehouses_apart_from_its_gauges(seeded, pushgateway, monkeypatch):
    """Its own group: the gauges' ``PUT`` (every run of ``pipeline_metrics``) would wipe
    the last success, and a run that fails before ``pipeline_metrics`` pushes no gauges."""
    monkeypatch.setenv(PUSHGATEWAY_ENV, pushgateway)
    run_with_hooks(seeded, "pipeline_metrics")

    warehouse = str(seeded.location())
    samples = group_samples(pushgateway, job=RUN_JOB, warehouse=warehouse)
    assert set(samples) == set(RUN_GAUGES)
    assert {tuple(sorted(labels.items())) for labels, _ in samples.values()} == {
        (("instance", ""), ("job", RUN_JOB), ("warehouse", warehouse))
    }
    assert set(group_values(pushgateway, job=JOB, warehouse=warehouse)) == set(GAUGE_NAMES)


@pytest.mark.usefixtures("prefect_server")
def test_a_gateway_that_is_down_leaves_the_run_as_its_assets_decided(seeded, monkeypatch):
    """The run's report gets one warning line; its success (and exit code) is the
    assets'. ``sales_summary`` pushes nothing itself, so only the hook meets the gateway."""
    closed_port = free_port()
    monkeypatch.setenv(PUSHGATEWAY_ENV, f"http://ops:s3cret@127.0.0.1:{closed_port}")
    report = run_with_hooks(seeded, "sales_summary")

    assert report.ok, report
    [warning] = report.warnings
    assert warning.startswith(
        "run hook push_run_outcome failed, the run's result stands: the run's outcome was "
        f"not pushed: cannot reach the Pushgateway at http://127.0.0.1:{closed_port}: "
    ), warning
    assert "s3cret" not in warning and "ops:" not in warning and "\n" not in warning


@pytest.mark.usefixtures("prefect_server")
def test_without_pushgateway_url_the_outcome_goes_nowhere_and_says_nothing(
    seeded, pushgateway, monkeypatch
):
    monkeypatch.delenv(PUSHGATEWAY_ENV, raising=False)
    report = run_with_hooks(seeded, "sales_summary")
    assert report.ok and report.warnings == []
    assert run_outcome(pushgateway, seeded) == {}


def test_an_unreachable_gateway_is_said_once_before_the_reports_last_lines(
    tmp_path: Path, prefect_api_url: str
) -> None:
    """Was: ``pipeline_metrics``' cause under the table, then after the final ``Next:``
    line the hook's ``warning: ... the run's outcome was not pushed:`` and the same cause
    again, each naming the gateway by a group's path (``.../metrics/job/online_retail/
    warehouse@base64/Y2hk...``) rather than the URL the user set."""
    gateway = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PIPELINE_DEFINITIONS": "assets",
        "PIPELINE_WARM_START": "off",
        "PREFECT_API_URL": prefect_api_url,
        "WAREHOUSE_URL": f"chdb://{tmp_path}/wh",
        "SALES_DASHBOARD_PATH": str(tmp_path / "dashboard.html"),
        PUSHGATEWAY_ENV: gateway,
    }
    code, lines = screen(env, "materialize", "--source", "synthetic:200", columns=250)

    assert code == 1, "\n".join(lines)
    assert not any("/metrics/" in line for line in lines), "\n".join(lines)
    # The progress bar's last frame is cleared on the report's first line.
    report = lines[next(i for i, line in enumerate(lines) if "Run report:" in line) :]
    cause = (
        f"cannot reach the Pushgateway at {gateway}: ConnectError: [Errno 111] Connection "
        "refused (check PUSHGATEWAY_URL, or unset it to skip pushing)"
    )
    # The lead names the asset once; its cause follows without naming it again.
    assert [line.strip() for line in report if cause in line] == [
        f"error: asset 'pipeline_metrics' (table quality.pipeline_metrics): {cause}"
    ], "\n".join(report)
    warning = (
        "warning: run hook push_run_outcome failed, the run's result stands: the run's "
        "outcome was not pushed: the same cause as the failure of pipeline_metrics"
    )
    last = next(i for i, line in enumerate(report) if line.startswith("Total "))
    assert report[last - 1] == warning, "\n".join(report)
    assert report[-1].startswith("Next: pipeline materialize --select 'pipeline_metrics+'")
