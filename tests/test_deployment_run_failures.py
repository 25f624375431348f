"""A deployment run refused before any work says why in one ERROR line, in its own terms.

A served run given a selection that matches nothing, or a source path to no file, ended
Failed with ``Flow run encountered an exception: AbsentSourceError: ...`` as its message,
and its log told it only in Prefect's INFO line ``Finished in state Failed(...)``: the UI's
Error filter showed nothing. Its hint named the command line's option
(``check the path given by --source``, ``Pass --source ...``), which nobody typed: the
run took its source as the deployment's ``source`` parameter, and that is what to change.

The flow is run here as a deployment runs it (its function, in a flow run on a real
Prefect server), and its logs are read back from that server, as the UI reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assets.sources import SOURCE_ENCODING_ENV, SOURCE_ENV
from orchestration import deployment
from tests.test_sources_encoding import sample_lines, write

INFO, ERROR = 20, 40


def error_lines(state: Any) -> list[str]:
    """The ERROR (and worse) lines of ``state``'s flow run, as the server has them."""
    return run_lines(state, ERROR)


def run_lines(state: Any, level: int) -> list[str]:
    """The lines of ``state``'s flow run at ``level`` or worse, as the server has them."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # the run's lines are shipped in the background
    run = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[run]), level=LogFilterLevel(ge_=level)
            )
        )
    return [log.message for log in logs]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a served run of the shipped pipeline has; its warehouse's path."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "assets")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    for name in (SOURCE_ENV, SOURCE_ENCODING_ENV, deployment.SOURCE_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "warehouse"


@pytest.mark.usefixtures("prefect_server", "served")
def test_a_selection_that_matches_nothing_fails_the_run_in_one_error_line():
    state = deployment.materialize_assets(select="key:nope", return_state=True)

    assert state.is_failed()
    said = "asset selection 'key:nope' matches no asset: there is no asset named 'nope'"
    assert state.message == said
    assert error_lines(state) == [said]


@pytest.mark.usefixtures("prefect_server")
def test_a_source_path_to_no_file_names_the_source_parameter(served: Path, tmp_path: Path):
    missing = tmp_path / "no-such.csv"

    state = deployment.materialize_assets(
        select="raw_online_retails", source=str(missing), return_state=True
    )

    assert state.is_failed()
    said = f"{missing}: file not found; check the path given by the source parameter"
    assert state.message == said
    assert error_lines(state) == [said]
    assert not served.exists(), "a refused run creates no warehouse"


@pytest.mark.usefixtures("prefect_server")
def test_a_run_given_no_source_over_a_file_names_the_parameter_to_set(served: Path, tmp_path):
    """As ``pipeline materialize`` refuses it (tests/test_unchosen_source.py), in the
    deployment's terms: its ``source`` parameter, as Prefect shows parameters."""
    source = write(tmp_path / "data.csv", sample_lines(), "utf-8")
    select = "raw_online_retails"
    built = deployment.materialize_assets(select=select, source=str(source), return_state=True)
    assert built.is_completed(), built.message

    state = deployment.materialize_assets(select=select, return_state=True)

    assert state.is_failed()
    said = (
        f"raw_online_retails was built from {source}; this run would read "
        "synthetic:100000:42 (the default: no source parameter given). "
        f"Pass source='{source}' to keep it, or source='synthetic:100000:42' to load "
        "that instead"
    )
    assert state.message == said
    assert error_lines(state) == [said]


@pytest.mark.usefixtures("prefect_server", "served")
def test_a_run_given_an_unknown_encoding_says_so_at_error_too():
    state = deployment.materialize_assets(
        source="synthetic:5", source_encoding="klingon", return_state=True
    )

    assert state.is_failed()
    assert error_lines(state) == [state.message]


@pytest.mark.usefixtures("prefect_server", "served")
def test_a_failed_runs_state_says_each_failed_assets_cause_and_its_log_the_next_step(
    tmp_path: Path,
):
    """The run page's first screen shows the state's message: it said only "failed:
    raw_online_retails", the cause three tabs away, and the log never said what to do."""
    lines = sample_lines()
    lines[2] = lines[2].replace(",6,", ",six,", 1)
    source = write(tmp_path / "bad.csv", lines, "utf-8")

    state = deployment.materialize_assets(
        select="raw_online_retails", source=str(source), return_state=True
    )

    assert state.is_failed()
    summary, _, cause = (state.message or "").partition("; failed: raw_online_retails (")
    assert summary == "0 materialized, 1 failed"
    assert cause.startswith(f"{source}, line 3, column 'Quantity': not a number: 'six'"), cause
    nexts = [line for line in run_lines(state, INFO) if line.startswith("Next: ")]
    assert nexts == [
        "Next: pipeline materialize --select 'raw_online_retails' (and your other options) "
        "reruns the failed asset."
    ]
