"""Ctrl-C and SIGTERM end a real ``pipeline materialize`` within seconds, cleanly.

The signal goes to a real subprocess while one of its assets is busy (``slow`` sleeps
for minutes, the way a hanging download or a long statement would). The run must end
within seconds with 130 (SIGINT) or 143 (SIGTERM), say so in one line, print the partial
report (what was materialized, what was cancelled) and leave no half-published table and
no staging table behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from io_managers import ClickHouseIOManager
from orchestration.interrupts import OutcomeLog
from orchestration.io_manager import MaterializeResult
from orchestration.report_output import print_report, report_as_json
from orchestration.run_report import AssetOutcome, RunReport
from tests.prefect_api import api
from tests.safety_location import SLOW_MARKER_ENV
from tests.terminal import interrupted_on_a_terminal

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def prefect_api(prefect_server) -> str:
    """The session's Prefect server, so the subprocess does not start one of its own."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


@pytest.mark.parametrize(
    ("number", "code", "as_json"), [(signal.SIGTERM, 143, True), (signal.SIGINT, 130, False)]
)
def test_a_signal_ends_the_run_in_seconds_with_a_partial_report_and_nothing_half_published(
    tmp_path: Path, prefect_api: str, number: signal.Signals, code: int, as_json: bool
) -> None:
    prefect_ui = prefect_api.removesuffix("/api")
    source, marker, warehouse = tmp_path / "n.csv", tmp_path / "busy", tmp_path / "wh"
    source.write_text("n,q\n1,10\n2,20\n")
    env = {
        **os.environ,
        "WAREHOUSE_URL": f"chdb://{warehouse}",
        "PREFECT_API_URL": prefect_api,
        SLOW_MARKER_ENV: str(marker),
    }
    command = [sys.executable, "-m", "orchestration", "materialize",
               "--definitions", "tests.safety_location", "--source", str(source),
               *(["--json"] if as_json else [])]  # fmt: skip
    began = datetime.now(UTC).isoformat()
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), run.communicate(timeout=5)
        sent = time.monotonic()
        run.send_signal(number)
        stdout, stderr = run.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if run.poll() is None:
            run.kill()

    assert run.returncode == code, stderr
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"
    said, rerun = stderr.strip().splitlines()
    assert said == (
        f"interrupted ({number.name}): stopping; finished tables are kept, the others are "
        "left as they were"
    )
    assert rerun.startswith("Next: pipeline materialize --select "), rerun  # the undone
    # The Prefect UI says what happened, rather than show the run running forever.
    (flow_run,) = api(prefect_api, "/flow_runs/filter", {
        "flow_runs": {"start_time": {"after_": began}},
    })  # fmt: skip
    # The partial report names the run and the warehouse, as a whole run's report does:
    # a script (or a person) goes from it to the run's logs in Prefect.
    run_url = f"{prefect_ui}/v2/runs/flow-run/{flow_run['id']}"
    report = _interrupted_report(stdout, as_json)
    if as_json:
        document = json.loads(stdout)  # the whole of stdout
        assert (document["flow_run_id"], document["urls"], document["warehouses"]) == (
            flow_run["id"], {"flow_run": run_url}, [f"chdb://{warehouse}"],
        )  # fmt: skip
    else:
        assert f"Flow run id: {flow_run['id']}" in stdout
        assert f"Flow run:  {run_url}" in stdout.splitlines()
        assert f"Warehouse: chdb://{warehouse}" in stdout.splitlines()
        # The run is on a server that keeps it: its line says where, not how to get one.
        assert "point PREFECT_API_URL" not in stdout
    assert report["slow"] == ("cancelled", "interrupted")
    assert report["ingest"][0] == "materialized"
    assert flow_run["state_type"] == "CANCELLED", flow_run["state"]
    assert flow_run["state"]["message"].startswith(f"interrupted ({number.name}): "), flow_run
    task_runs = api(prefect_api, "/task_runs/filter", {
        "flow_runs": {"id": {"any_": [flow_run["id"]]}},
    })  # fmt: skip
    states = {task_run["name"]: task_run["state_type"] for task_run in task_runs}
    shown_as = {"cancelled": "CANCELLED", "materialized": "COMPLETED"}  # as the report says
    assert states == {key: shown_as[report[key][0]] for key in states}, states
    assert states["slow"] == "CANCELLED", states
    with ClickHouseIOManager.embedded(warehouse) as io:
        tables = io.query_arrow("SELECT name FROM system.tables WHERE database = 'safe'")
        assert sorted(tables.column("name").to_pylist()) == ["hub", "ingest", "report", "slow"]
        assert io.row_count("safe.slow") == 0  # never published
        # The assets still running when the signal came either finished publishing (the
        # whole table) or were cancelled before it (nothing): never half of it.
        for key in ("hub", "report"):
            status = report[key][0]
            expected = 2 if status == "materialized" else 0
            assert status in ("materialized", "cancelled"), report[key]
            assert io.row_count(f"safe.{key}") == expected, (key, status)


#: When Ctrl-C comes, in seconds after the launcher took it: through the imports of the
#: command line (0.2-0.7 s) to the run, whose own stop prints its line.
_EARLY_DELAYS = [round(0.05 * step, 2) for step in range(16)]


def test_ctrl_c_while_a_command_starts_ends_it_at_once_without_a_traceback(
    tmp_path: Path, prefect_api: str
) -> None:
    """Ctrl-C in the first ~0.7 s of a cold command, while it imported its command line,
    printed a 23-52 line traceback ending in ``KeyboardInterrupt``; from then on it was
    silent. From the launcher's start on it now ends with 130, with no traceback:
    silently before the run, with the run's own stop line once one runs."""
    env = {
        **os.environ,
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
        "PREFECT_API_URL": prefect_api,
        SLOW_MARKER_ENV: str(tmp_path / "busy"),
    }
    source = tmp_path / "n.csv"
    source.write_text("n,q\n1,10\n")
    command = ("materialize", "--definitions", "tests.safety_location", "--source", str(source))
    for delay in _EARLY_DELAYS:
        code, said = interrupted_on_a_terminal(env, command, after=delay)
        assert code == 130, (delay, code, said)
        assert "Traceback" not in said and "KeyboardInterrupt" not in said, (delay, said)
        assert not said.strip() or said.lstrip().startswith("interrupted (SIGINT)"), (delay, said)


def test_ctrl_c_on_a_terminal_names_the_cancelled_in_one_line_under_the_table(
    tmp_path: Path, prefect_api: str
) -> None:
    """Under a table whose status column says ``cancelled``, the ``error:`` block listed
    every cancelled asset again as ``<key>  interrupted`` (28 lines for the retail
    pipeline); then the box kept a row each and a line counted them again. They are one
    line that names them, as the skipped are (``27 assets skipped (...): ...``)."""
    marker = tmp_path / "busy"
    env = {
        **os.environ,
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
        "PREFECT_API_URL": prefect_api,
        SLOW_MARKER_ENV: str(marker),
    }
    source = tmp_path / "n.csv"
    source.write_text("n,q\n1,10\n")
    command = ("materialize", "--definitions", "tests.safety_location", "--source", str(source))

    code, said = interrupted_on_a_terminal(env, command, when=marker)

    assert code == 130, said
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", said).splitlines()]
    assert not any(re.search(r"│ cancelled +│$", line) for line in lines), said  # no rows
    (folded,) = [line for line in lines if re.match(r"\d+ assets? cancelled \(", line)]
    assert re.fullmatch(r"\d+ assets? cancelled \(interrupted\): \w+(, \w+)*", folded), said
    assert not any(
        line.split()[-1:] == ["interrupted"] and len(line.split()) == 2 for line in lines
    ), said
    assert not any(line.startswith("error:") for line in lines), said  # nothing failed


def _run_env(tmp_path: Path, prefect_api: str, **extra: str) -> dict[str, str]:
    """A ``pipeline`` process's environment: its own warehouse, the session's server."""
    return {
        **os.environ,
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
        "PREFECT_API_URL": prefect_api,
        **extra,
    }


def _materialize(tmp_path: Path, definitions: str) -> tuple[str, ...]:
    source = tmp_path / "n.csv"
    source.write_text("n,q\n1,10\n2,20\n")
    return ("materialize", "--definitions", definitions, "--source", str(source))


def _plain_lines(said: str) -> list[str]:
    return [line.strip() for line in re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", said).splitlines()]


def _flow_runs_since(prefect_api: str, began: str) -> list[dict]:
    return api(prefect_api, "/flow_runs/filter", {"flow_runs": {"start_time": {"after_": began}}})


@pytest.mark.parametrize("mode", ["chained", "wrapped"])
def test_ctrl_c_that_a_library_wraps_in_an_error_of_its_own_ends_the_command_with_130(
    tmp_path: Path, prefect_api: str, mode: str
) -> None:
    """Ctrl-C inside Prefect's settings serializer came out as ``PydanticSerializationError``
    ("Error calling function `_ser_model`: KeyboardInterrupt"): the command printed that
    as its error and exited 1. Nested serializers (Prefect's) leave the interrupt out of
    the error's chain (``wrapped``); it is the interrupt all the same: 130, nothing said."""
    marker = tmp_path / "serializing"
    env = _run_env(tmp_path, prefect_api, LOST_CTRL_C_MARKER=str(marker), LOST_CTRL_C_MODE=mode)

    code, said = interrupted_on_a_terminal(
        env, _materialize(tmp_path, "tests.lost_ctrl_c_location"), when=marker
    )

    assert (code, said.strip()) == (130, ""), said


@pytest.mark.parametrize("mode", ["caught", "finalizer"])
def test_ctrl_c_that_a_library_loses_still_ends_the_command_before_its_run(
    tmp_path: Path, prefect_api: str, mode: str
) -> None:
    """A library that catches the error wrapping Ctrl-C and carries on (Prefect's profile
    validation), or a finalizer the interrupt is raised in (Python prints it and goes
    on), lost it: the command went on to run every asset, as if no Ctrl-C had come (with
    a busy asset, for minutes). The run does not start: 130, nothing said."""
    marker = tmp_path / "serializing"
    env = _run_env(tmp_path, prefect_api, LOST_CTRL_C_MARKER=str(marker), LOST_CTRL_C_MODE=mode)
    began = datetime.now(UTC).isoformat()

    code, said = interrupted_on_a_terminal(
        env, _materialize(tmp_path, "tests.lost_ctrl_c_location"), when=marker
    )

    assert (code, said.strip()) == (130, ""), said
    assert _flow_runs_since(prefect_api, began) == []


def test_ctrl_c_once_every_asset_finished_reports_what_of_the_run_it_cut(
    tmp_path: Path, prefect_api: str
) -> None:
    """Ctrl-C while the run called its hooks, every table done, printed a report of four
    materialized assets, said "the others are left as they were" and exited 130, and
    Prefect showed the run Cancelled with "4 materialized": nothing said that the hooks
    (a metrics push, an alert) never heard of the run."""
    marker = tmp_path / "pushing"
    env = _run_env(tmp_path, prefect_api, LATE_HOOK_MARKER=str(marker))
    began = datetime.now(UTC).isoformat()

    code, said = interrupted_on_a_terminal(
        env, _materialize(tmp_path, "tests.late_stop_location"), when=marker
    )

    assert code == 130, said
    lines = _plain_lines(said)
    stopping = "interrupted (SIGINT): every asset has finished; the run stops before its last steps"
    assert stopping in lines, said
    assert "Run report: 4 materialized" in lines, said
    assert "interrupted once all 4 assets had finished; not done: the run hooks" in lines, said
    assert "the others are left as they were" not in said
    (flow_run,) = _flow_runs_since(prefect_api, began)
    assert flow_run["state_type"] == "CANCELLED", flow_run["state"]
    assert flow_run["state"]["message"] == (
        "interrupted (SIGINT) once all 4 assets had finished: 4 materialized; "
        "not done: the run hooks"
    )
    task_runs = api(prefect_api, "/task_runs/filter", {
        "flow_runs": {"id": {"any_": [flow_run["id"]]}},
    })  # fmt: skip
    assert {task_run["state_type"] for task_run in task_runs} == {"COMPLETED"}, task_runs


def test_ctrl_c_once_every_asset_finished_or_was_skipped_does_not_call_the_skipped_finished(
    tmp_path: Path, prefect_api: str
) -> None:
    """An ingest that failed (a duplicate ``n``) skips the three assets reading it; Ctrl-C
    while the run hooks hung then said "once all 4 assets had finished", on the terminal
    and in Prefect's Cancelled state: three of them never ran."""
    marker = tmp_path / "pushing"
    env = _run_env(tmp_path, prefect_api, LATE_HOOK_MARKER=str(marker))
    command = _materialize(tmp_path, "tests.late_stop_location")
    (tmp_path / "n.csv").write_text("n,q\n1,10\n1,20\n")  # n is unique: the ingest fails
    began = datetime.now(UTC).isoformat()

    code, said = interrupted_on_a_terminal(env, command, when=marker)

    assert code == 130, said
    lines = _plain_lines(said)
    stopping = (
        "interrupted (SIGINT): every asset has finished or been skipped; the run stops "
        "before its last steps"
    )
    assert stopping in lines, said
    assert "Run report: 0 materialized, 1 failed, 3 skipped" in lines, said
    cut = "interrupted once all 4 assets had finished or been skipped; not done: the run hooks"
    assert cut in lines, said
    (flow_run,) = _flow_runs_since(prefect_api, began)
    assert flow_run["state_type"] == "CANCELLED", flow_run["state"]
    assert flow_run["state"]["message"] == (
        "interrupted (SIGINT) once all 4 assets had finished or been skipped: "
        "0 materialized, 1 failed, 3 skipped; not done: the run hooks"
    )


def test_ctrl_c_once_the_run_ended_stops_nothing_and_its_report_is_whole(
    tmp_path: Path, prefect_api: str
) -> None:
    """Ctrl-C while the command closed the warehouse, its run ended, Completed in Prefect,
    ended it with 130 and printed no report at all; in the instants before, the handler
    marked the Completed run Cancelled. The run stands: its whole report, its own exit
    code, one line that the signal came too late to stop anything."""
    marker = tmp_path / "closing"
    env = _run_env(tmp_path, prefect_api, LATE_CLOSE_MARKER=str(marker))
    began = datetime.now(UTC).isoformat()

    code, said = interrupted_on_a_terminal(
        env, _materialize(tmp_path, "tests.late_stop_location"), when=marker
    )

    assert code == 0, said
    lines = _plain_lines(said)
    assert "Run report: 4 materialized" in lines, said
    assert any(line.startswith("Next: ") for line in lines), said
    assert "interrupted (SIGINT) once the run had ended: nothing was stopped" in lines, said
    (flow_run,) = _flow_runs_since(prefect_api, began)
    assert flow_run["state_type"] == "COMPLETED", flow_run["state"]


def test_a_second_ctrl_c_during_the_clean_stop_stops_at_once_and_keeps_the_truth(
    tmp_path: Path, prefect_api: str
) -> None:
    """A second Ctrl-C while the first one's clean stop was under way ended the command
    with 130 and nothing more said: the flow run stayed Running in Prefect, and the next
    run on the embedded warehouse marked it Crashed, "killed, or out of memory". It now
    says in one line that it stops at once and what it skips, marks the run Cancelled as
    stopped by a second Ctrl-C, and a third Ctrl-C meanwhile prints no traceback."""
    slow, stopping = tmp_path / "busy", tmp_path / "stopping"
    env = _run_env(
        tmp_path, prefect_api, SAFE_SLOW_MARKER=str(slow), SLOW_STOP_MARKER=str(stopping)
    )
    command = [sys.executable, "-m", "orchestration",
               *_materialize(tmp_path, "tests.slow_stop_location")]  # fmt: skip
    began = datetime.now(UTC).isoformat()
    run = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for marker in (slow, stopping):  # busy, then its clean stop under way
            deadline = time.monotonic() + 180
            while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), run.communicate(timeout=5)
            if marker is slow:
                run.send_signal(signal.SIGINT)
        sent = time.monotonic()
        run.send_signal(signal.SIGINT)
        time.sleep(0.05)
        run.send_signal(signal.SIGINT)  # an impatient third
        stdout, stderr = run.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if run.poll() is None:
            run.kill()

    assert run.returncode == 130, stderr
    assert elapsed < 3, f"took {elapsed:.1f} s to stop"
    assert stderr.strip().splitlines() == [
        "interrupted (SIGINT): stopping; finished tables are kept, the others are left as "
        "they were",
        "interrupted again (SIGINT): stopping at once, without the report; a publish in "
        "flight is let finish (pipeline status tells what each table holds)",
    ], stderr
    assert stdout == ""
    (flow_run,) = _flow_runs_since(prefect_api, began)
    assert flow_run["state_type"] == "CANCELLED", flow_run["state"]
    assert flow_run["state"]["message"].startswith(
        "interrupted again (SIGINT): stopped at once, without its report; "
    ), flow_run["state"]
    task_runs = api(prefect_api, "/task_runs/filter", {
        "flow_runs": {"id": {"any_": [flow_run["id"]]}},
    })  # fmt: skip
    assert {t["name"]: t["state_type"] for t in task_runs}["slow"] == "CANCELLED", task_runs

    # The next run, on the same embedded warehouse, does not call it killed.
    env.pop("SAFE_SLOW_MARKER")

    def pipeline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestration", *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=180)  # fmt: skip

    status = pipeline("status", "--json", "--definitions", "tests.safety_location")
    assert "last run did not finish (interrupted" in status.stdout, status
    after = pipeline(*_materialize(tmp_path, "tests.safety_location"))
    assert after.returncode == 0, after.stderr
    (again,) = [r for r in _flow_runs_since(prefect_api, began) if r["id"] == flow_run["id"]]
    assert again["state_type"] == "CANCELLED", again["state"]


def _interrupted_report(stdout: str, as_json: bool) -> dict[str, tuple[str, str | None]]:
    """Each asset's status and error, as the partial report on ``stdout`` gives them."""
    if as_json:
        return {a["key"]: (a["status"], a["error"]) for a in json.loads(stdout)["assets"]}
    lines = stdout.splitlines()
    header = next(at for at, line in enumerate(lines) if line.split()[:2] == ["asset", "rows"])
    rows = (line.split() for line in lines[header + 1 :])
    said = {words[0]: (words[3], None) for words in rows if len(words) == 4}
    for folded in lines:  # "2 assets cancelled (interrupted): slow, report"
        if match := re.fullmatch(r"\d+ assets? (\w+) \((.+)\): (.+)", folded):
            said.update({key: (match[1], match[2]) for key in match[3].split(", ")})
    return said


def test_the_publish_gate_lets_the_publish_in_flight_finish_and_refuses_new_ones() -> None:
    from io_managers import MaterializationError
    from io_managers.publish_gate import PublishGate

    gate, entered, release = PublishGate(), threading.Event(), threading.Event()

    def publish() -> None:
        with gate.publishing("hub", "safe.hub"):
            entered.set()
            release.wait(5)

    worker = threading.Thread(target=publish)
    worker.start()
    entered.wait(5)
    assert gate.close(0.1) is False  # still publishing
    release.set()
    assert gate.close(5) is True
    worker.join()
    assert gate.published == ["hub"]
    refused = pytest.raises(MaterializationError, match="interrupted before publishing")
    with refused, gate.publishing("report", "safe.report"):
        pass


def _published_while_stopping() -> tuple[OutcomeLog, list[tuple[str, str]]]:
    """A run interrupted while ``hub`` was publishing and ``slow`` was busy."""
    log = OutcomeLog()
    log.interrupt()
    return log, [("hub", "safe.hub"), ("slow", "safe.slow")]


def _plain_lines_of(report: RunReport) -> list[str]:
    out = StringIO()
    print_report(report, Console(file=out, width=300, soft_wrap=True))
    return out.getvalue().splitlines()


def _plain_report(report: RunReport) -> dict[str, str]:
    return {line.split()[0]: line for line in _plain_lines_of(report) if line.strip()}


def test_an_asset_published_while_stopping_is_reported_as_its_worker_records_it() -> None:
    # Its worker still counts, checks and records it after the publish the stop let
    # finish: the partial report waits (bounded) for that instead of guessing.
    log, selected = _published_while_stopping()
    result = MaterializeResult(table="safe.hub", rows=2, seconds=0.4)
    recorded = AssetOutcome(
        key="hub", table="safe.hub", status="materialized", seconds=0.45, result=result
    )
    threading.Timer(0.3, log.record, args=(recorded,)).start()

    assert log.wait_for(["hub"], timeout=5) is True
    report = log.partial_report(selected, published=["hub"])

    assert report.outcomes[0] is recorded
    assert _plain_report(report)["hub"].split()[:4] == ["hub", "2", "0.45", "materialized"]


def test_an_asset_published_too_late_to_be_recorded_says_so_not_zero_seconds() -> None:
    log, selected = _published_while_stopping()

    assert log.wait_for(["hub"], timeout=0.2) is False
    report = log.partial_report(selected, published=["hub"])

    printed = _plain_report(report)
    row = printed["hub"]
    assert row.split() == ["hub", "unknown", "unknown", "materialized"], row
    said = (
        "1 asset materialized (published as the run stopped, before its rows, checks and "
        "history were recorded (pipeline status calls it stale)): hub"
    )
    assert said in _plain_lines_of(report), printed
    (hub,) = [asset for asset in report_as_json(report)["assets"] if asset["key"] == "hub"]
    assert (hub["status"], hub["rows"], hub["seconds"], hub["recorded"]) == (
        "materialized", None, None, False,
    )  # fmt: skip


def test_an_asset_published_while_stopping_whose_check_fails_is_failed_not_cancelled() -> None:
    # Its table was published: "cancelled, interrupted" would say it was left as it was.
    log, selected = _published_while_stopping()
    result = MaterializeResult(table="safe.hub", rows=2, seconds=0.4)
    log.record(
        AssetOutcome(
            key="hub", table="safe.hub", status="failed", result=result, error="check failed"
        )
    )

    (hub, _) = log.partial_report(selected, published=["hub"]).outcomes
    assert (hub.status, hub.error) == ("failed", "check failed")
