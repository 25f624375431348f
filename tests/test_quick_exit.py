"""A finished command ends without interpreter teardown, yet every exit handler runs first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from orchestration.quick_exit import HEARTBEAT_ENV, without_flow_heartbeats

REPO = Path(__file__).resolve().parents[1]

# A command that registers an exit handler (as Prefect does to deliver logs and events)
# and holds an object whose finalizer only interpreter teardown would run.
SCRIPT = textwrap.dedent(
    """
    import atexit, sys, weakref
    from orchestration.quick_exit import ends_without_teardown

    class Heap:
        pass

    heap = Heap()
    weakref.finalize(heap, print, "teardown ran", flush=True)

    @ends_without_teardown
    def main():
        atexit.register(print, "exit handler ran", flush=True)
        print("working", end="")  # left in stdout's buffer: must still arrive
        sys.exit(int(sys.argv[1]))

    main()
    """
)


def run(code: int, script: str = SCRIPT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, str(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_exit_handlers_run_buffers_flush_and_teardown_is_skipped():
    result = run(0)
    assert result.returncode == 0
    assert result.stdout == "workingexit handler ran\n"


def test_the_exit_code_is_kept():
    result = run(3)
    assert result.returncode == 3
    assert "exit handler ran" in result.stdout
    assert "teardown ran" not in result.stdout


def test_an_uncaught_exception_ends_the_ordinary_way():
    result = run(0, SCRIPT.replace("sys.exit(int(sys.argv[1]))", 'raise RuntimeError("boom")'))
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    assert "teardown ran" in result.stdout


def _heartbeat_seconds() -> int | None:
    from prefect.flow_engine import FlowRunEngine
    from prefect.flows import Flow

    return FlowRunEngine(flow=Flow(lambda: None)).heartbeat_seconds


def test_interactive_runs_send_no_heartbeats_unless_configured(monkeypatch):
    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    with without_flow_heartbeats():
        assert _heartbeat_seconds() is None
    assert _heartbeat_seconds() is not None  # outside, Prefect's default again
    monkeypatch.setenv(HEARTBEAT_ENV, "45")  # the user asked for heartbeats: theirs stand
    outside = _heartbeat_seconds()
    with without_flow_heartbeats():
        assert _heartbeat_seconds() == outside


def test_a_run_in_the_interruptible_worker_keeps_heartbeats_off(monkeypatch):
    from orchestration.interrupts import run_interruptibly

    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    with without_flow_heartbeats():
        assert run_interruptibly(_heartbeat_seconds, lambda signal: None) is None


def test_heartbeats_configured_in_the_profile_stand(monkeypatch):
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    with (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 45}),
        without_flow_heartbeats(),
    ):
        assert _heartbeat_seconds() == 45


def test_the_run_keeps_the_settings_it_started_with(monkeypatch):
    """Only heartbeats change: nothing is read again from the environment or the profile."""
    from prefect.settings import get_current_settings

    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    before = get_current_settings()
    monkeypatch.setenv(
        "PREFECT_LOGGING_LEVEL", "CRITICAL" if before.logging.level != "CRITICAL" else "DEBUG"
    )
    with without_flow_heartbeats():
        inside = get_current_settings()
        assert inside.logging.level == before.logging.level
        assert inside.model_dump(exclude={"flows"}) == before.model_dump(exclude={"flows"})
