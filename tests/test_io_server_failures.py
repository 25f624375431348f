"""The server backend's failure handling, on loopback: one clear line, never the password.

No ClickHouse server is needed: a closed port, an unresolvable name and a tiny HTTP
server that answers 401 (and rudely echoes the credentials back) stand in for the ways a
production connection fails.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from io_managers import WarehouseConnectionError, warehouse_from_env
from tests.retail_support import http_port

PASSWORD = "Pa55-w0rd_that_must_never_leak"


def url(host: str, port: int) -> str:
    return f"clickhouse://etl:{quote(PASSWORD, safe='')}@{host}:{port}/?connect_timeout=5"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Rejecting(BaseHTTPRequestHandler):
    """Answers every request like ClickHouse does for a wrong password, and worse."""

    def _reject(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        credentials = self.headers.get("Authorization", "")
        body = (
            "Code: 516. DB::Exception: etl: Authentication failed: password is incorrect, "
            f"or there is no user with such name. Got {credentials} and {PASSWORD}. "
            "(AUTHENTICATION_FAILED)"
        ).encode()
        self.send_response(401)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reject

    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def rejecting_server() -> Iterator[int]:
    with http_port(Rejecting) as port:
        yield port


def connect_error(target: str, caplog) -> WarehouseConnectionError:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WarehouseConnectionError) as raised:
        warehouse_from_env(target)
    return raised.value


def assert_no_secret(error: BaseException, caplog) -> None:
    encoded = base64.b64encode(f"etl:{PASSWORD}".encode()).decode()
    shown = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        caplog.text,
    ]
    for text in shown:
        assert PASSWORD not in text
        assert quote(PASSWORD, safe="") not in text
        assert encoded not in text


def test_closed_port_names_host_port_and_refusal(caplog):
    port = free_port()

    error = connect_error(url("127.0.0.1", port), caplog)

    message = str(error)
    assert message.startswith(f"cannot connect to ClickHouse at 127.0.0.1:{port} as user 'etl'")
    assert "connection refused" in message
    assert "\n" not in message
    assert_no_secret(error, caplog)


def test_wrong_credentials_are_an_authentication_failure(rejecting_server, caplog):
    error = connect_error(url("127.0.0.1", rejecting_server), caplog)

    message = str(error)
    assert f"127.0.0.1:{rejecting_server}" in message
    assert "authentication failed" in message
    assert "\n" not in message
    assert_no_secret(error, caplog)


def test_unresolvable_host_is_a_dns_failure(caplog):
    error = connect_error(url("warehouse.invalid", 8123), caplog)

    assert "warehouse.invalid:8123" in str(error)
    assert "DNS failure" in str(error)
    assert_no_secret(error, caplog)


class NotClickHouse(BaseHTTPRequestHandler):
    """Another HTTP service on the port (the Prefect API, say): 405 and a JSON body, with
    the request's credentials echoed back for good measure."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {"detail": "Method Not Allowed", "seen": self.headers.get("Authorization", "")}
        ).encode()
        self.send_response(405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""


def test_another_http_service_on_the_port_is_said_to_be_not_clickhouse(caplog):
    with http_port(NotClickHouse) as port:
        error = connect_error(url("127.0.0.1", port), caplog)
    message = str(error)
    assert message.startswith(f"cannot connect to ClickHouse at 127.0.0.1:{port} as user 'etl'")
    assert "HTTP 405" in message
    assert "not ClickHouse's HTTP interface" in message
    assert "Method Not Allowed" not in message  # the service's own words are not ours to show
    assert "\n" not in message
    assert_no_secret(error, caplog)


class AuthProxy(NotClickHouse):
    """A proxy in front of ClickHouse that wants its own login: 401, no ClickHouse header."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer


def test_a_proxy_refusing_the_login_is_an_authentication_failure(caplog):
    with http_port(AuthProxy) as port:
        error = connect_error(url("127.0.0.1", port), caplog)
    assert "authentication failed (HTTP 401)" in str(error)
    assert_no_secret(error, caplog)


class EchoingError(BaseHTTPRequestHandler):
    """A debugging endpoint, or a proxy, that answers with ClickHouse's error header and
    the request echoed back: its line, its headers (``Authorization: Basic`` and the
    credentials in base64 among them) and its body. Nothing in its words says
    ``AUTHENTICATION_FAILED``, so no known cause fits."""

    def _answer(self) -> None:
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"Code: 516. DB::Exception: {self.requestline}\n{self.headers}".encode() + request
        self.send_response(500)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture
def echoing_server() -> Iterator[int]:
    with http_port(EchoingError) as port:
        yield port


def test_an_error_answer_echoing_the_request_shows_its_code_and_first_line_only(
    echoing_server, caplog
):
    # The driver's text was shown whole: "Received ClickHouse exception, code: 516, server
    # response: Code: 516. DB::Exception: POST /?query_id=... Authorization: Basic ...".
    error = connect_error(url("127.0.0.1", echoing_server), caplog)

    message = str(error)
    assert message.startswith(
        f"cannot connect to ClickHouse at 127.0.0.1:{echoing_server} as user 'etl': "
        "the server answered error code 516: POST /?"
    ), message
    assert "Authorization" not in message and "Received ClickHouse exception" not in message
    assert "\n" not in message
    assert_no_secret(error, caplog)


@contextlib.contextmanager
def listener(*, answer: bool, backlog: int = 16) -> Iterator[tuple[int, list[socket.socket]]]:
    """A port that accepts connections (``answer``: reads each request, then closes it
    unanswered; else holds it in silence), or with ``backlog`` 0 never accepts at all."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(backlog)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            if answer:
                connection.recv(65536)
                connection.close()
            else:
                held.append(connection)

    if backlog:
        threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1], held
    finally:
        server.close()
        for connection in held:
            connection.close()


def test_a_server_that_never_answers_times_out_naming_send_receive_timeout(caplog):
    with listener(answer=False) as (port, _):
        started = time.monotonic()
        error = connect_error(
            f"clickhouse://etl:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/"
            "?connect_timeout=1&send_receive_timeout=1",
            caplog,
        )
        waited = time.monotonic() - started
    message = str(error)
    assert f"127.0.0.1:{port}" in message
    assert "no answer within send_receive_timeout=1 s" in message
    assert waited < 10
    assert_no_secret(error, caplog)


def test_a_port_that_never_accepts_times_out_naming_connect_timeout(caplog):
    with listener(answer=False, backlog=0) as (port, held):
        for _ in range(3):  # fill the accept queue: further connections wait unanswered
            filler = socket.socket()
            filler.settimeout(0.3)
            held.append(filler)
            with contextlib.suppress(OSError):
                filler.connect(("127.0.0.1", port))
        error = connect_error(
            f"clickhouse://etl:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/"
            "?connect_timeout=1&send_receive_timeout=30",
            caplog,
        )
    assert "no connection within connect_timeout=1 s" in str(error)
    assert_no_secret(error, caplog)


def test_a_server_that_closes_the_connection_unanswered_is_said_so(caplog):
    with listener(answer=True) as (port, _):
        error = connect_error(url("127.0.0.1", port), caplog)
    message = str(error)
    assert f"127.0.0.1:{port}" in message
    assert "closed the connection without answering" in message
    assert_no_secret(error, caplog)


def test_a_service_that_does_not_speak_http_is_said_so(caplog):
    # An SSH server, say: it greets with its banner, which is no HTTP status line.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def greet() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            connection.close()

    threading.Thread(target=greet, daemon=True).start()
    port = server.getsockname()[1]
    try:
        error = connect_error(url("127.0.0.1", port), caplog)
    finally:
        server.close()
    message = str(error)
    assert f"127.0.0.1:{port}" in message
    assert "does not answer in HTTP" in message
    assert_no_secret(error, caplog)


def test_clickhouse_environment_variables_get_the_same_treatment(monkeypatch, caplog):
    port = free_port()
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("CLICKHOUSE_HOST", "127.0.0.1")
    monkeypatch.setenv("CLICKHOUSE_PORT", str(port))
    monkeypatch.setenv("CLICKHOUSE_USER", "etl")
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", PASSWORD)

    error = connect_error(None, caplog)

    assert f"127.0.0.1:{port}" in str(error)
    assert_no_secret(error, caplog)


# ------------------------------------------------------------ the commands, as users run them

REPO = Path(__file__).resolve().parents[1]


def pipeline(*args: str, warehouse: str) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS --warehouse WAREHOUSE`` as a user runs it (the shipped code location)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("WAREHOUSE_URL", "CLICKHOUSE_HOST")}
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, "--warehouse", warehouse],
        cwd=REPO,
        env={**clean, "PIPELINE_WARM_START": "off"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def with_password(server_url: str, password: str) -> str:
    """``server_url`` (a reachable server) logging in with ``password`` instead."""
    parts = urlsplit(server_url)
    user = parts.username or "default"
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def test_no_command_prints_the_credentials_an_error_answer_echoes(echoing_server):
    """Status, checks, materialize (plain, --json, --verbose) and query, with the server
    named by WAREHOUSE_URL or by the CLICKHOUSE_* variables: one line, exit 1, and neither
    the password nor the Authorization header's base64 of ``user:password``."""
    server = url("127.0.0.1", echoing_server)
    by_variables = {
        "CLICKHOUSE_HOST": "127.0.0.1",
        "CLICKHOUSE_PORT": str(echoing_server),
        "CLICKHOUSE_USER": "etl",
        "CLICKHOUSE_PASSWORD": PASSWORD,
    }
    runs = [
        (("status", "--json"), by_variables),
        (("status",), {"WAREHOUSE_URL": server}),
        (("checks",), {"WAREHOUSE_URL": server}),
        (("materialize",), {"WAREHOUSE_URL": server}),
        (("materialize", "--json"), {"WAREHOUSE_URL": server}),
        (("materialize", "--verbose"), {"WAREHOUSE_URL": server}),
        (("query", "SELECT 1"), {"WAREHOUSE_URL": server}),
    ]
    encoded = base64.b64encode(f"etl:{PASSWORD}".encode()).decode()
    for args, env in runs:
        result = pipeline_with(*args, env=env)
        shown = result.stdout + result.stderr
        assert result.returncode == 1, (args, shown)
        assert "error code 516" in shown, (args, shown)
        assert encoded not in shown and PASSWORD not in shown, (args, shown)
        assert "Authorization" not in shown, (args, shown)


def pipeline_with(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS`` as a user runs it, the warehouse named by ``env`` only."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_URL", "CLICKHOUSE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args],
        cwd=REPO,
        env={**clean, "PIPELINE_WARM_START": "off", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [("lineage", "--format", "json"), ("lineage", "--column", "marts.Fact_Sales.total_amount")],
    ids=["json", "column"],
)
def test_column_lineage_of_an_unreachable_server_is_one_line_and_exit_1(
    clickhouse_test_url: str, args: tuple[str, ...]
):
    # Column lineage reads the tables' columns from the warehouse: a server that cannot be
    # reached answers nothing, so it is the command's one error line, not "not derived:
    # WarehouseConnectionError: ..." on every asset and exit 0.
    closed = url("127.0.0.1", free_port())
    refused = with_password(clickhouse_test_url, PASSWORD)
    for target, cause in ((closed, "connection refused"), (refused, "authentication failed")):
        result = pipeline(*args, warehouse=target)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        host_port = f"{urlsplit(target).hostname}:{urlsplit(target).port}"
        assert line.startswith(f"error: cannot connect to ClickHouse at {host_port} as user "), line
        assert cause in line
        assert PASSWORD not in line and quote(PASSWORD, safe="") not in line
