"""``pipeline serve`` outlives its Prefect server being down, in one line each way.

Real processes: a Prefect server the test owns on a port of its own, ``pipeline serve``
idle against it (``PREFECT_API_URL`` set); the server is stopped for longer than Prefect's
poll loop tolerates, then started again on the same port and database, as after a
restart. Prefect's client retries each request to a dead server five times, ~62 s, so
the poll loop gave up only after ~3.5 min; these tests have serve's client retry once
(``PREFECT_CLIENT_MAX_RETRIES=1``, ~2 s), so that with a poll a second it gives up in
seconds. Once, not never: a server just restarted answered the first request of serve's
fresh runner with a 503 (its database busy), which Prefect's client retries.

One test keeps Prefect's retries, so that serve does not notice a short outage, and
checks what must still work through one: a Cancel. The last two check a Cancel through an
outage serve notices, with a run in flight, and through a second outage as that run goes on.

Measured before the fix (no retries): 7 s after its server stopped serve printed "Failed
the last 3 attempts" and a traceback, and exited 1 with "error: All connection attempts
failed" (with Prefect's five retries: 287 s).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.prefect_api import api, ended
from tests.safety_location import SLOW_MARKER_ENV
from tests.serve_processes import STOPPED_EITHER_WAY, OwnServer, serve_in_background, stop_serve
from tests.test_local_server import SERVING, serve_env, served_deployment, serving
from tests.waiting import wait_for

#: Long enough for three failed polls a second apart, each retried once, with a margin.
DOWN_SECONDS = 12.0


def _env(tmp_path: Path, api_url: str) -> dict[str, str]:
    return {
        **serve_env(tmp_path / "prefect-home", PREFECT_API_URL=api_url),
        "PREFECT_CLIENT_MAX_RETRIES": "1",
    }


def _a_busy_run(api_url: str, marker: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deployment serve registered, and a run of it busy in its slow asset."""
    deployment = wait_for(lambda: _polled(api_url, "cancel"), 120, "serve to poll")
    busy = api(api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
    wait_for(marker.exists, 120, "the served run's slow asset to be busy")
    return deployment, busy


def _a_later_run_is_cancellable(
    api_url: str, deployment: dict[str, Any], marker: Path, log: Path
) -> None:
    """A run started now gets busy and is cancelled within the bound."""
    marker.unlink()
    later = api(api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
    wait_for(marker.exists, 120, "the next served run's slow asset to be busy")
    _cancel(api_url, later["id"])
    wait_for(
        lambda: _cancelled(api_url, later["id"]),
        CANCELLED_WITHIN_SECONDS,
        f"the later run to be cancelled:\n{log.read_text()}",
    )


def _polled(api_url: str, name: str) -> dict[str, Any] | None:
    """The served deployment, once serve's runner polls for its runs (the server marks it
    ready then): serve is serving, not still starting."""
    deployment = served_deployment(api_url, name)
    return deployment if deployment and deployment["status"] == "READY" else None


def _lost(api_url: str) -> str:
    return (
        f"the Prefect API at {api_url} does not answer (connection refused): "
        "waiting for it, serving again once it answers"
    )


def test_serve_waits_out_its_prefect_server_and_serves_again_once_it_is_back(
    tmp_path: Path,
) -> None:
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    back = f"the Prefect API at {api_url} answers again"
    env = _env(tmp_path, api_url)
    args = ("--name", "outage", "--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    with server.start() as first, serving(env, tmp_path, *args) as (out, err):

        def said() -> str:
            return out.read_text() + err.read_text()

        deployment = wait_for(lambda: _polled(api_url, "outage"), 60, "serve to poll")
        os.killpg(first.pid, signal.SIGTERM)
        first.process.wait(timeout=30)
        wait_for(lambda: "does not answer" in said() or "error:" in said(), 30, "a line")
        assert _lost(api_url) in said(), said()
        time.sleep(DOWN_SECONDS)
        assert "error:" not in said(), said()
        with server.start():
            wait_for(lambda: back in said(), 30, "serve to say its API answers again")
            run = api(api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
            state = wait_for(lambda: ended(api_url, run["id"]), 60, "the run after the restart")
            shown = said()
    assert state["type"] == "COMPLETED", (state, shown)
    lines = shown.splitlines()
    lost = [line for line in lines if "does not answer" in line]
    assert len(lost) == 1 and _lost(api_url) in lost[0], shown
    assert len([line for line in lines if back in line]) == 1, shown
    assert shown.count(SERVING) == 1, shown  # the one serve throughout
    assert "Traceback" not in shown and "Failed the last" not in shown, shown


@STOPPED_EITHER_WAY
def test_stopping_serve_while_it_waits_for_its_api_ends_it_at_once_in_one_line(
    tmp_path: Path, signum: signal.Signals, to_group: bool, code: int
) -> None:
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    log = tmp_path / "serve.log"
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'warehouse'}")
    args = ("--definitions", "tests.serve_location", *warehouse)
    with (
        server.start() as running,
        serve_in_background(_env(tmp_path, api_url), log, *args) as process,
    ):
        wait_for(lambda: _polled(api_url, "daily"), 60, "serve to poll")
        os.killpg(running.pid, signal.SIGTERM)
        running.process.wait(timeout=30)
        wait_for(lambda: _lost(api_url) in log.read_text(), 30, "serve to wait for its API")
        took = stop_serve(process, signum, to_group, timeout=30)
    said = log.read_text()
    assert process.returncode == code, said
    assert took < 5, f"took {took:.1f} s to stop\n{said}"
    assert "Traceback" not in said, said
    # It says why it ended, and what it left undone: the schedule it pauses on its way out
    # is still active on the server (before: it ended without a word).
    stopped = [line for line in said.splitlines() if "stopped without pausing" in line]
    assert len(stopped) == 1, said
    assert stopped[0].endswith(
        f"the Prefect API at {api_url} does not answer (connection refused): "
        "stopped without pausing the deployment's schedule"
    ), said


#: What Prefect's watch for cancels logs as it gives up (it polls while its event stream is
#: down, every ``PREFECT_RUNNER_POLL_FREQUENCY``, and gives up after three failed polls).
GAVE_UP = "Cancellation polling task failed"
#: httpx's error for a server that refuses connections, as a line about the outage names it.
REFUSED = "ConnectError: All connection attempts failed"
#: How soon a Cancel of a served run ends it: the runner signals its process, which marks
#: itself Cancelled.
CANCELLED_WITHIN_SECONDS = 45


def _cancel(api_url: str, flow_run_id: str) -> None:
    """Cancel the run as the UI's Cancel button does: its state set to Cancelling, for the
    runner serving it to act on."""
    api(api_url, f"/flow_runs/{flow_run_id}/set_state", {"state": {"type": "CANCELLING"}})


def _cancelled(api_url: str, flow_run_id: str) -> bool:
    return bool(api(api_url, f"/flow_runs/{flow_run_id}")["state_type"] == "CANCELLED")


def _serving_a_slow_asset(
    tmp_path: Path, env: dict[str, str]
) -> tuple[dict[str, str], tuple[str, ...], Path, Path]:
    """Serve's environment and arguments for tests.safety_location, whose slow asset makes
    ``marker`` and sleeps (a run in flight), and the file serve's output goes to."""
    source, marker, log = tmp_path / "n.csv", tmp_path / "busy", tmp_path / "serve.log"
    source.write_text("n,q\n1,10\n")
    args = (
        *("--definitions", "tests.safety_location", "--name", "cancel"),
        *("--source", str(source), "--warehouse", f"chdb://{tmp_path / 'warehouse'}"),
    )
    return {**env, SLOW_MARKER_ENV: str(marker)}, args, marker, log


def _in_flight_lines(api_url: str) -> tuple[str, str]:
    """What serve logs as it watches for cancels of the runs in flight its lost runner
    left, and as it serves again."""
    watching = (
        f"the Prefect API at {api_url} answers again: cancelling runs works again; "
        "serving again once the runs in flight end"
    )
    return watching, f"the Prefect API at {api_url} answers again: serving again"


def _cancelled_and_serving_again(
    api_url: str, deployment: dict[str, Any], busy: dict[str, Any], marker: Path, log: Path
) -> str:
    """Cancel the run in flight once the API is back: it ends Cancelled, serve serves
    again, and its fresh runner's runs are cancellable. Serve's log then, read while the
    server runs (stopping it ends the test, not serve, which would say it lost its API
    once more)."""
    _cancel(api_url, busy["id"])
    wait_for(
        lambda: _cancelled(api_url, busy["id"]),
        20,
        f"the run in flight to be cancelled:\n{log.read_text()}",
    )
    _, back = _in_flight_lines(api_url)
    wait_for(lambda: back in log.read_text(), 30, f"serve to serve again:\n{log.read_text()}")
    _a_later_run_is_cancellable(api_url, deployment, marker, log)
    return log.read_text()


def test_a_cancel_works_after_an_outage_shorter_than_serve_notices(tmp_path: Path) -> None:
    """Prefect's runner watches for cancels with an observer that, while a run is in flight
    and the API is down, gives up for good after three failed polls. Serve notices an outage
    only after its client's retries of its poll for runs (~60 s), so a shorter outage left it
    serving, blind to cancels: measured, a run cancelled after a 19 s outage stayed
    Cancelling for 90 s, until serve was restarted. Prefect's client retries as it does by
    default here, so that serve does not notice this outage."""
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    env, args, marker, log = _serving_a_slow_asset(
        tmp_path, serve_env(tmp_path / "prefect-home", PREFECT_API_URL=api_url)
    )
    with server.start() as first, serve_in_background(env, log, *args):
        deployment, busy = _a_busy_run(api_url, marker)
        os.killpg(first.pid, signal.SIGTERM)
        first.process.wait(timeout=30)
        wait_for(lambda: GAVE_UP in log.read_text(), 60, "Prefect's watch for cancels to give up")
        with server.start():
            # The run in flight through the outage, then a run started after it.
            _cancel(api_url, busy["id"])
            wait_for(
                lambda: _cancelled(api_url, busy["id"]),
                CANCELLED_WITHIN_SECONDS,
                f"the run in flight to be cancelled:\n{log.read_text()}",
            )
            _a_later_run_is_cancellable(api_url, deployment, marker, log)
    said = log.read_text()
    assert "serving again" not in said, said  # serve itself never noticed the outage
    lines = said.splitlines()
    gave_up = [line for line in lines if "cancelling runs waits" in line]
    assert len(gave_up) == 1, said
    assert gave_up[0].endswith(
        f"the Prefect API at {api_url} does not answer (connection refused): "
        "cancelling runs waits for it"
    ), said
    back = f"the Prefect API at {api_url} answers again: cancelling runs works again"
    assert len([line for line in lines if line.endswith(back)]) == 1, said
    # Prefect's own lines about the outage are one line each, naming the cause: before,
    # "Failed the last 3 attempts" with ~60 lines of httpx tracebacks on stdout, then the
    # watch's ERROR with the traceback of a RuntimeError naming no cause.
    assert "Traceback (most recent call last)" not in said, said
    prefects = [line for line in lines if GAVE_UP in line or "Failed the last" in line]
    assert len(prefects) >= 2, said
    assert all(line.endswith(f"({REFUSED})") for line in prefects), said


def test_a_cancel_works_while_serve_waits_for_a_run_in_flight_through_an_outage(
    tmp_path: Path,
) -> None:
    """An outage serve notices ends its runner, whose exit waits for the runs in flight to
    end before serve serves again. Measured before the fix: that exit had closed Prefect's
    watch for cancels, so a run cancelled once the API was back stayed Cancelling, its
    asset sleeping on (20 s here; 70 s with Prefect's default retries), and serve served
    again only once the run ended."""
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    env, args, marker, log = _serving_a_slow_asset(tmp_path, _env(tmp_path, api_url))
    watching, back = _in_flight_lines(api_url)
    with server.start() as first, serve_in_background(env, log, *args):
        deployment, busy = _a_busy_run(api_url, marker)
        os.killpg(first.pid, signal.SIGTERM)
        first.process.wait(timeout=30)
        wait_for(lambda: _lost(api_url) in log.read_text(), 30, "serve to notice the outage")
        with server.start():
            said = _cancelled_and_serving_again(api_url, deployment, busy, marker, log)
    lines = said.splitlines()
    # Serve says once that it lost the API; its watch for cancels, whose polls may give up
    # first on a busy machine, says so at most once too.
    assert len([line for line in lines if line.endswith("serving again once it answers")]) == 1
    assert len([line for line in lines if line.endswith("cancelling runs waits for it")]) <= 1
    watched = [n for n, line in enumerate(lines) if line.endswith(watching)]
    served = [n for n, line in enumerate(lines) if line.endswith(back)]
    assert len(watched) == 1 and len(served) == 1 and watched < served, said
    assert "Traceback" not in said, said
    # An event the run sent as its server stopped is one line, the events client's warning,
    # not that and the events worker's ERROR printing the event (tests/test_event_lines.py).
    assert "failed to process item" not in said, said


def test_a_cancel_works_after_a_second_outage_while_serve_waits_for_a_run_in_flight(
    tmp_path: Path,
) -> None:
    """The watch for cancels of the runs a lost runner left in flight gives up as any does
    (three failed polls) when the API goes away again while it waits for them. Measured
    before the fix: it was not started again, so a run cancelled once the API was back a
    second time stayed Cancelling, its asset sleeping on."""
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    env, args, marker, log = _serving_a_slow_asset(tmp_path, _env(tmp_path, api_url))
    watching, back = _in_flight_lines(api_url)

    def said_after_watching() -> str:
        said = log.read_text()
        return said[said.find(watching) :] if watching in said else ""

    with server.start() as first, serve_in_background(env, log, *args):
        deployment, busy = _a_busy_run(api_url, marker)
        os.killpg(first.pid, signal.SIGTERM)
        first.process.wait(timeout=30)
        wait_for(lambda: _lost(api_url) in log.read_text(), 30, "serve to notice the outage")
        with server.start() as second:
            wait_for(
                lambda: watching in log.read_text(),
                30,
                f"serve to watch for cancels of the run in flight:\n{log.read_text()}",
            )
            os.killpg(second.pid, signal.SIGTERM)
            second.process.wait(timeout=30)
            wait_for(
                lambda: GAVE_UP in said_after_watching(),
                60,
                f"the watch for cancels of the run in flight to give up:\n{log.read_text()}",
            )
        with server.start():
            said = _cancelled_and_serving_again(api_url, deployment, busy, marker, log)
    lines = said.splitlines()
    assert len([line for line in lines if line.endswith("serving again once it answers")]) == 1
    # The second outage, which serve's runner no longer polls through, is said once by the
    # watch for cancels; each return of the API once.
    after = said[said.find(watching) :].splitlines()
    gave_up = [line for line in after if line.endswith("cancelling runs waits for it")]
    assert len(gave_up) == 1, said
    assert gave_up[0].endswith(
        f"the Prefect API at {api_url} does not answer (connection refused): "
        "cancelling runs waits for it"
    ), said
    watched = [n for n, line in enumerate(lines) if line.endswith(watching)]
    served = [n for n, line in enumerate(lines) if line.endswith(back)]
    assert len(watched) == 2 and len(served) == 1 and watched[-1] < served[0], said
    assert "Traceback" not in said, said


def test_a_cancel_that_meets_its_api_gone_is_one_line_a_step(tmp_path: Path) -> None:
    """The server stopped as serve's runner cancels a run: the run is signalled and ends,
    then each of the runner's steps after it fails on the lost API - it reads the flow's
    on-cancellation hooks from the API, then sets the run's final state, checks it, and
    reports the run crashed. Measured before the fix: each said so with a traceback of
    ~60 lines of httpx and httpcore, four in all."""
    server = OwnServer.under(tmp_path)
    api_url = server.api_url
    env, args, marker, log = _serving_a_slow_asset(
        tmp_path,
        # Each step fails at its first refused request.
        {**_env(tmp_path, api_url), "PREFECT_CLIENT_MAX_RETRIES": "0"},
    )
    with server.start() as first, serve_in_background(env, log, *args):
        _, busy = _a_busy_run(api_url, marker)
        steps = (
            "Runner failed to retrieve flow to execute on_cancellation hooks for flow run "
            f"UUID('{busy['id']}').",
            f"Failed to persist Cancelled state for flow run '{busy['id']}'.",
            f"Failed to verify terminal cancellation state for flow run '{busy['id']}'.",
            f"Failed to update state of flow run '{busy['id']}'",
        )
        _cancel(api_url, busy["id"])
        # Killed as the run says it was signalled: the runner's steps wait for the run's
        # process to end, which takes it longer than a killed server takes to go.
        wait_for(lambda: "interrupted (SIGTERM)" in log.read_text(), 30, "a signal", 0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.process.wait(timeout=30)
        wait_for(
            lambda: all(step in log.read_text() for step in steps),
            60,
            f"the runner's steps after the run ended:\n{log.read_text()}",
        )
        said = log.read_text()
    lines = said.splitlines()
    for step in steps:
        said_so = [line for line in lines if step in line]
        assert len(said_so) == 1 and said_so[0].endswith(f"{step} ({REFUSED})"), said
    assert "Traceback" not in said, said
    # Nor Prefect's log shipper's "--- Error logging to API ---", its cause glued to the
    # front of the next line: the lines it could not ship are in this log already.
    assert "Error logging to API" not in said, said
