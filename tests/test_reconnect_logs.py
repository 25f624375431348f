"""Prefect's polling loop and its observers' log: a lost API in one line, a bug in full.

Real Prefect loop (``critical_service_loop``, as the observers' module runs it), real
httpx requests: to a port nobody listens on (the API gone), and to a server that answers
500 (a bug on the server, whose traceback must still show). The serve process that runs
them through an outage is tests/test_serve_outage.py's.
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

import httpx
import pytest
from prefect._internal import _observation_delivery

from orchestration.debug_env import DEBUG_ENV
from orchestration.prefect_server import HOST, free_port
from orchestration.reconnect_logs import OBSERVER_LOGGERS, one_line_reconnect_warnings
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
