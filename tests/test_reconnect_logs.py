"""Prefect's polling loop and its observers' log: a lost API in one line, a bug in full.

Real Prefect loop (``critical_service_loop``, as the observers' module runs it), real
httpx requests: to a port nobody listens on (the API gone), and to a server that answers
500 (a bug on the server, whose traceback must still show). Real runner steps too
(Prefect's ``HookRunner``, as serve's runner runs a cancelled run's hooks): reading the
flow from a lost API, and a hook's own errors. The serve process that runs them through
an outage is tests/test_serve_outage.py's.
"""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prefect import Flow, flow
from prefect._internal import _observation_delivery
from prefect.client.schemas.objects import FlowRun
from prefect.flows import load_flow_from_flow_run
from prefect.runner import _scheduled_run_poller
from prefect.runner._hook_runner import HookRunner
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings
from prefect.states import Cancelling, State

from orchestration.debug_env import DEBUG_ENV
from orchestration.event_lines import CLIENT_LOGGER, WORKER_LOGGER
from orchestration.prefect_server import HOST, free_port
from orchestration.reconnect_logs import (
    OBSERVER_LOGGERS,
    RUNNER_LOGGERS,
    one_line_reconnect_warnings,
)
from orchestration.service_loop_lines import LOGGER
from tests.kept_records import KeptRecords

OBSERVER = OBSERVER_LOGGERS[0]
GAVE_UP = "Cancellation polling task failed."


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeptRecords]:
    """One-line reconnect warnings installed for this test only, and what the loop's and
    the observer's loggers log."""
    monkeypatch.setattr(
        _observation_delivery, "critical_service_loop", _observation_delivery.critical_service_loop
    )
    handler = KeptRecords()
    for name in (LOGGER, OBSERVER):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "filters", [])
        logger.addHandler(handler)
    one_line_reconnect_warnings()
    yield handler
    for name in (LOGGER, OBSERVER):
        logging.getLogger(name).removeHandler(handler)


def _give_up_polling(url: str) -> RuntimeError:
    """What Prefect's loop gives up with, polling ``url`` every 10 ms."""

    async def poll() -> None:
        async with httpx.AsyncClient() as client:
            (await client.get(url)).raise_for_status()

    loop = _observation_delivery.critical_service_loop
    with pytest.raises(RuntimeError) as gave_up:
        asyncio.run(loop(workload=poll, interval=0.01))
    return gave_up.value


def _log_giving_up(exc: BaseException, kept: KeptRecords) -> str:
    """The observer's ERROR as Prefect logs it when its polling gave up, as printed."""
    logging.getLogger(OBSERVER).error(GAVE_UP, exc_info=exc)
    return logging.Formatter().format(kept.records[-1])


def test_a_lost_api_is_one_line_from_the_loop_and_one_from_the_observer_naming_the_cause(
    kept: KeptRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = _give_up_polling(f"http://{HOST}:{free_port()}/api/health")
    observer = _log_giving_up(exc, kept)

    assert capsys.readouterr().out == ""  # Prefect printed the loop's ~60 lines here
    said = [logging.Formatter().format(record) for record in kept.records]
    assert said == [
        "Failed the last 3 attempts. Please check your environment and configuration. "
        "(ConnectError: All connection attempts failed)",
        f"{GAVE_UP} (ConnectError: All connection attempts failed)",
    ]
    assert observer == said[-1]
    assert isinstance(exc.__cause__, httpx.ConnectError)  # not swallowed: it is the cause


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(500)

    def log_message(self, *args: object) -> None:
        """No request log on stderr: the test reads what Prefect prints, not the server."""


def test_a_server_error_keeps_its_traceback_in_the_loop_and_in_the_observers_error(
    kept: KeptRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    server = http.server.ThreadingHTTPServer((HOST, 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exc = _give_up_polling(f"http://{HOST}:{server.server_port}/api/health")
    finally:
        server.shutdown()
        server.server_close()
    observer = _log_giving_up(exc, kept)

    printed = capsys.readouterr().out
    assert printed.startswith("\nFailed the last 3 attempts."), printed
    assert "Traceback (most recent call last)" in printed
    assert "httpx.HTTPStatusError: Server error '500 Internal Server Error'" in printed
    assert [r.getMessage() for r in kept.records] == [GAVE_UP]
    assert "Traceback (most recent call last)" in observer
    assert "HTTPStatusError" in observer  # what it gave up on, as its cause


@pytest.mark.parametrize(("debug", "one_line"), [("", True), ("0", True), ("1", False)])
def test_a_served_run_keeps_prefects_tracebacks_when_serve_was_asked_for_debug(
    debug: str, one_line: bool
) -> None:
    # A served run is a process of Prefect's own: `pipeline --debug serve` reaches it only
    # through the environment it inherits. A fresh interpreter: installing is for good.
    probe = (
        "import logging\n"
        "from prefect._internal import _observation_delivery as delivery\n"
        "from orchestration.reconnect_logs import OBSERVER_LOGGERS\n"
        "from orchestration.served_outage import quiet_served_run_logs\n"
        "quiet_served_run_logs()\n"
        "print(sum(bool(logging.getLogger(n).filters) for n in OBSERVER_LOGGERS),\n"
        "      hasattr(delivery.critical_service_loop, '_one_line_when_connection_lost'))\n"
    )
    env = {**os.environ, DEBUG_ENV: debug}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    expected = f"{len(OBSERVER_LOGGERS)} True" if one_line else "0 False"
    assert done.stdout.split("\n")[0] == expected


@pytest.fixture
def runner_kept(monkeypatch: pytest.MonkeyPatch) -> KeptRecords:
    """One-line reconnect warnings as serve installs them, its runner's too, for this test
    only; what the runner's loggers log, to this test alone (not to Prefect's console, nor
    its log shipper)."""
    for module in (_observation_delivery, _scheduled_run_poller):
        monkeypatch.setattr(module, "critical_service_loop", module.critical_service_loop)
    for name in (*OBSERVER_LOGGERS, CLIENT_LOGGER, WORKER_LOGGER):
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    handler = KeptRecords()
    for name in RUNNER_LOGGERS:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "filters", [])
        monkeypatch.setattr(logger, "handlers", [handler])
        monkeypatch.setattr(logger, "propagate", False)
    one_line_reconnect_warnings(runner=True)
    return handler


def _cancelled_run_hooks(resolve_flow: Any) -> None:
    """Prefect's runner running a cancelled run's hooks, its flow read by ``resolve_flow``."""
    run = FlowRun(flow_id=uuid4(), deployment_id=uuid4(), name="cancelled-run")
    hooks = HookRunner(resolve_flow=resolve_flow)
    asyncio.run(hooks.run_cancellation_hooks(run, Cancelling()))


def _said(kept: KeptRecords) -> list[str]:
    return [logging.Formatter().format(record) for record in kept.records]


def test_the_runner_says_in_one_line_that_a_lost_api_kept_it_from_a_runs_hooks(
    runner_kept: KeptRecords, tmp_path: Path
) -> None:
    async def resolve(run: FlowRun) -> Flow[Any, Any]:  # as serve's runner reads the flow
        return await load_flow_from_flow_run(run, storage_base_path=str(tmp_path))

    gone = f"http://{HOST}:{free_port()}/api"
    with temporary_settings({PREFECT_API_URL: gone, PREFECT_CLIENT_MAX_RETRIES: 0}):
        _cancelled_run_hooks(resolve)

    [said] = _said(runner_kept)
    assert said.startswith("Runner failed to retrieve flow to execute on_cancellation hooks")
    assert said.endswith(". (ConnectError: All connection attempts failed)"), said


def _resolving_to(hook: Any) -> Any:
    """A flow resolver, as the runner's, that finds a flow with ``hook`` on cancellation."""

    @flow(on_cancellation=[hook])
    def cancelled() -> None:
        """The flow of the cancelled run."""

    async def resolve(run: FlowRun) -> Flow[Any, Any]:
        return cancelled

    return resolve


async def _reads_a_missing_file(flow: Any, flow_run: FlowRun, state: State) -> None:
    """A hook with a bug: an ``OSError`` of its own, no connection's."""
    Path("/nonexistent/hook-input").read_text()


async def _calls_a_lost_server(flow: Any, flow_run: FlowRun, state: State) -> None:
    async with httpx.AsyncClient() as client:
        await client.get(f"http://{HOST}:{free_port()}/notify")


def test_a_hooks_own_error_keeps_its_traceback_its_lost_connection_is_one_line(
    runner_kept: KeptRecords,
) -> None:
    _cancelled_run_hooks(_resolving_to(_reads_a_missing_file))
    _cancelled_run_hooks(_resolving_to(_calls_a_lost_server))

    failed = [s for s in _said(runner_kept) if "An error was encountered while running hook" in s]
    assert len(failed) == 2, _said(runner_kept)
    bug, lost = failed
    assert "'_reads_a_missing_file'" in bug
    assert "Traceback (most recent call last)" in bug  # where the hook broke
    assert "FileNotFoundError: [Errno 2] No such file or directory" in bug
    assert lost.endswith("'_calls_a_lost_server' (ConnectError: All connection attempts failed)")
    assert "Traceback" not in lost
