"""Run hooks: a code location's functions told how each run ended, from the run itself.

Like Dagster's run status sensors, a hook is how a run reports its outcome outside the
warehouse (the Online Retail pipeline pushes it to a Prometheus Pushgateway): it is told
of every run that gets to its end, a failed one too, and of a scheduled ``status:``
selection that finds nothing to do. A hook that fails is one warning line: the run's
result and exit code stay what its assets decided.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assets.pushgateway import PushgatewayError
from orchestration import deployment
from orchestration.errors import chain_in_words
from orchestration.run_hooks import FinishedRun, call_run_hooks
from orchestration.run_report import AssetOutcome, RunReport
from tests.hooked_location import FAILS_ENV, RUNS_FILE_ENV, recorded_runs

REPO = Path(__file__).resolve().parents[1]
LOCATION = "tests.hooked_location"


def cli_materialize(
    tmp_path: Path, api_url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "materialize", "--definitions", LOCATION,
         "--warehouse", f"chdb://{tmp_path / 'warehouse'}", *args],
        cwd=REPO,
        env={**os.environ, "PREFECT_API_URL": api_url,
             RUNS_FILE_ENV: str(tmp_path / "runs.jsonl"), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def assert_just_finished(run: dict) -> None:
    finished = datetime.fromisoformat(run["finished_at"])
    assert finished.tzinfo is not None and finished.utcoffset() == timedelta(0)
    assert datetime.now(UTC) - finished < timedelta(minutes=5)


def test_a_run_tells_its_hooks_how_it_ended_failed_or_not(prefect_api_url, tmp_path):
    failed = cli_materialize(tmp_path, prefect_api_url, "--source", "nope")
    succeeded = cli_materialize(tmp_path, prefect_api_url, "--source", "synthetic:5")

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert succeeded.returncode == 0, succeeded.stdout + succeeded.stderr
    runs = recorded_runs(tmp_path / "runs.jsonl")
    assert [(run["ok"], run["statuses"]) for run in runs] == [
        (False, {"numbers": "failed", "numbers_total": "skipped"}),
        (True, {"numbers": "materialized", "numbers_total": "materialized"}),
    ]
    assert {run["locations"]["warehouse"] for run in runs} == {f"chdb://{tmp_path}/warehouse"}
    for run in runs:
        assert_just_finished(run)


def test_a_hook_that_fails_is_one_warning_and_the_exit_code_stays_the_assets(
    prefect_api_url, tmp_path
):
    result = cli_materialize(
        tmp_path, prefect_api_url, "--source", "synthetic:5",
        **{FAILS_ENV: "cannot reach the Pushgateway at http://127.0.0.1:9/metrics/job/x"},
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Run report: 2 materialized" in result.stdout
    assert result.stderr.splitlines() == [
        "warning: run hook record_run failed, the run's result stands: cannot reach the "
        "Pushgateway at http://127.0.0.1:9/metrics/job/x"
    ]
    assert len(recorded_runs(tmp_path / "runs.jsonl")) == 1


def test_a_hooks_failure_is_an_assets_cause_only_if_it_was_raised_from_it(
    prefect_api_url, tmp_path
):
    """A hook's failure that merely ends with the words of a failed asset's error (here
    ``got 'nope'``, the end of ``numbers``' ValueError) is no failure of that cause: its
    own words were dropped for "the same cause as the failure of numbers", since the
    error's text was searched rather than the causes the asset failed of compared."""
    result = cli_materialize(
        tmp_path, prefect_api_url, "--source", "nope", **{FAILS_ENV: "got 'nope'"}
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "source must be synthetic:N, got 'nope'" in result.stderr
    warning = "warning: run hook record_run failed, the run's result stands: got 'nope'"
    assert warning in result.stderr.splitlines(), result.stderr


def test_json_output_lists_the_hooks_warnings(prefect_api_url, tmp_path):
    import json

    result = cli_materialize(
        tmp_path, prefect_api_url, "--source", "synthetic:5", "--json", **{FAILS_ENV: "down"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["warnings"] == ["run hook record_run failed, the run's result stands: down"]


def test_a_status_selection_with_nothing_to_do_is_a_run_its_hooks_hear_of(
    prefect_api_url, tmp_path
):
    """A schedule on ``status:stale+`` that finds everything fresh ran fine: a hook that
    keeps a last-success time must hear of it, or an alert says the pipeline stopped."""
    built = cli_materialize(tmp_path, prefect_api_url, "--source", "synthetic:5")
    again = cli_materialize(tmp_path, prefect_api_url, "--select", "status:stale+")

    assert built.returncode == 0 and again.returncode == 0, again.stdout + again.stderr
    runs = recorded_runs(tmp_path / "runs.jsonl")
    assert [(run["ok"], run["statuses"]) for run in runs][1:] == [(True, {})]


@pytest.mark.usefixtures("prefect_server")
def test_a_served_run_tells_its_hooks_and_keeps_its_state_when_one_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_DEFINITIONS", LOCATION)
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    monkeypatch.setenv(RUNS_FILE_ENV, str(tmp_path / "runs.jsonl"))
    failed = deployment.materialize_assets(source="nope", return_state=True)
    monkeypatch.setenv(FAILS_ENV, "the gateway is down")
    succeeded = deployment.materialize_assets(source="synthetic:5", return_state=True)
    select = "status:stale+"
    idle = deployment.materialize_assets(select=select, source="synthetic:5", return_state=True)

    assert failed.is_failed()
    assert succeeded.is_completed(), succeeded.message
    assert succeeded.message == "2 materialized"
    assert idle.is_completed() and idle.message == "nothing to materialize"
    runs = recorded_runs(tmp_path / "runs.jsonl")
    assert [(run["ok"], sorted(run["statuses"].values())) for run in runs] == [
        (False, ["failed", "skipped"]),
        (True, ["materialized", "materialized"]),
        (True, []),
    ]
    assert {run["locations"]["warehouse"] for run in runs} == {f"chdb://{tmp_path}/warehouse"}


GATEWAY_DOWN = "cannot reach the Pushgateway at http://127.0.0.1:9"


def _warning_of_a_hook_raising(error: Exception) -> str:
    """The warning of a run whose asset ``metrics`` failed of ``GATEWAY_DOWN`` (an
    :class:`ExpectedError`), and whose one hook raised ``error``."""
    down = PushgatewayError(GATEWAY_DOWN)
    asset_failure = PushgatewayError.after("asset 'metrics'", down)
    outcome = AssetOutcome(
        "metrics", "q.metrics", "failed", error=str(asset_failure),
        error_chain=chain_in_words(asset_failure),
    )  # fmt: skip
    run = FinishedRun(RunReport([outcome]), {}, datetime.now(UTC), {})

    def push(run: FinishedRun) -> None:
        raise error

    [warning] = call_run_hooks([push], run)
    return warning.removeprefix("run hook push failed, the run's result stands: ")


def test_a_hooks_failure_of_an_assets_cause_names_that_failure_after_its_own_words():
    """What each error before the cause adds is kept apart (``ExpectedError.after``), not
    cut off the message's end: two of them, then the asset's cause."""
    down = PushgatewayError(GATEWAY_DOWN)
    pushing = PushgatewayError.after("pushing 3 gauges", down)
    error = PushgatewayError.after("the run's outcome was not pushed", pushing)
    assert str(error) == f"the run's outcome was not pushed: pushing 3 gauges: {GATEWAY_DOWN}"
    assert _warning_of_a_hook_raising(error) == (
        "the run's outcome was not pushed: pushing 3 gauges: the same cause as the failure "
        "of metrics"
    )
    assert _warning_of_a_hook_raising(down) == "the same cause as the failure of metrics"


def test_a_hooks_error_worded_around_the_cause_by_hand_is_said_whole():
    """An error whose message holds its cause's words, but not said apart, is not taken
    apart: where its own words end is not known (they may follow the cause's)."""
    down = PushgatewayError(GATEWAY_DOWN)
    try:
        raise RuntimeError(f"push failed: {GATEWAY_DOWN}") from down
    except RuntimeError as exc:
        error = exc
    assert _warning_of_a_hook_raising(error) == f"RuntimeError: push failed: {GATEWAY_DOWN}"
