"""Downloads have deadlines, and every failure names the URL and what happened.

Each test starts its own HTTP server on loopback (a real socket, a real ``httpx`` client):
a server that trickles bytes, one that accepts and never answers, a redirect loop and a
web page served with status 200 where a data file was expected.
"""

from __future__ import annotations

import http.server
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assets.sources import SOURCE_TIMEOUT_ENV, SourceError, resolve_source_timeout
from assets.sources.download import download
from assets.sources.fingerprint import source_fingerprint


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        self.path = self.path.partition("?")[0]  # a token in the query changes nothing
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop-again" if self.path == "/loop" else "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/page":
            body = b"<!DOCTYPE html><html><body>Please log in to download</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/unlabelled-page":
            body = b"\n  <html><head><title>Not found</title></head></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/trickle.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                while not self.server.stopping.is_set():  # type: ignore[attr-defined]
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return
        elif self.path == "/close":  # a server that hangs up without a word
            self.close_connection = True
        elif self.path == "/stall.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"Invoice,")
            self.wfile.flush()
            self.server.stopping.wait(30)  # type: ignore[attr-defined]


@contextmanager
def loopback_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


@contextmanager
def silent_listener() -> Iterator[str]:
    """A socket that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_trickling_server_is_cut_off_at_the_source_timeout(tmp_path: Path) -> None:
    with loopback_server() as base:
        started = time.monotonic()
        with pytest.raises(SourceError) as error:
            download(f"{base}/trickle.csv?token=s3cr3t", tmp_path, timeout=1.5, stall=1.0)
        elapsed = time.monotonic() - started
    message = str(error.value)
    assert message.startswith(f"{base}/trickle.csv: ")
    assert "did not finish within 1.5 s" in message and "--source-timeout" in message
    assert "s3cr3t" not in message
    assert elapsed < 4, f"took {elapsed:.1f} s"


def test_a_server_that_stops_sending_trips_the_stall_limit(tmp_path: Path) -> None:
    with loopback_server() as base:
        started = time.monotonic()
        with pytest.raises(SourceError) as error:
            download(f"{base}/stall.csv", tmp_path, timeout=20, stall=1.0, backoff=())
        elapsed = time.monotonic() - started
    assert str(error.value).startswith(f"{base}/stall.csv: ")
    assert "stalled: no bytes for 1 s" in str(error.value)
    assert elapsed < 5, f"took {elapsed:.1f} s"


def test_a_server_that_never_answers_fails_within_the_deadline_naming_the_hang(
    tmp_path: Path,
) -> None:
    with silent_listener() as base:
        started = time.monotonic()
        with pytest.raises(SourceError) as error:
            download(f"{base}/data.zip", tmp_path, timeout=2.5, stall=1.0, backoff=(0.1, 0.1))
        elapsed = time.monotonic() - started
    message = str(error.value)
    assert message.startswith(f"{base}/data.zip: ")
    assert "no response" in message and "network unreachable" not in message
    assert elapsed < 5, f"took {elapsed:.1f} s"


def closed_address() -> str:
    """``127.0.0.1:PORT`` where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(
    ("host", "path", "cause"),
    [
        ("no-such-host.invalid", "/x.csv", "host name could not be resolved (DNS failure)"),
        ("bad host", "/x.csv", "host name could not be resolved (DNS failure)"),
        ("{loopback}", "/close", "the server closed the connection without answering"),
        ("{closed}", "/x.csv", "connection refused (is the server running and the port right?)"),
    ],
    ids=["dns", "space-in-host", "closed-unanswered", "refused"],
)
def test_a_failed_download_names_its_real_cause(
    tmp_path: Path, host: str, path: str, cause: str
) -> None:
    """Every failure to connect read "ConnectError (network unreachable or refused)", a
    server that hung up "RemoteProtocolError (network unreachable or refused)"."""
    with loopback_server() as loopback:
        host = host.format(loopback=loopback.removeprefix("http://"), closed=closed_address())
        with pytest.raises(SourceError) as error:
            download(f"http://etl:pw-K3@{host}{path}?token=t0k", tmp_path, backoff=(0.1,))
    assert str(error.value) == (
        f"http://{host}{path}: download failed after 2 attempt(s): {cause}; check the URL "
        "and the network, or download the file and pass its path"
    )


def test_a_refused_connection_is_no_deadline_when_no_time_is_left_for_a_retry(
    tmp_path: Path,
) -> None:
    """With --source-timeout 3 a refused port read "did not finish within 3 s ... raise
    --source-timeout" after 1.9 s: the retry that did not fit was no wait that ran out."""
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        download(f"http://{closed_address()}/x.csv", tmp_path, timeout=3)
    message = str(error.value)
    assert "download failed after 3 attempt(s): connection refused" in message, message
    assert "did not finish" not in message and "--source-timeout" not in message
    assert time.monotonic() - started < 3


def test_a_deadline_shorter_than_the_stall_limit_is_the_wait_the_line_names(
    tmp_path: Path,
) -> None:
    """With --source-timeout 1.5 the wait for bytes ends at the deadline, not after the
    stall limit: the line said "did not finish within 1.5 s (last problem: stalled: no
    bytes for 30 s ...)" or "download failed after 1 attempt(s): stalled: no bytes for
    30 s", a wait that never happened."""
    with silent_listener() as base, pytest.raises(SourceError) as error:
        download(f"{base}/data.zip", tmp_path, timeout=1.5, stall=30.0, backoff=())
    message = str(error.value)
    assert "did not finish within 1.5 s (last problem: no bytes before the deadline" in message
    assert "30 s" not in message


def test_the_fingerprint_of_a_url_keeps_to_the_source_timeout_too() -> None:
    """Before the download, the run asks the URL for its validators (to tell whether the
    source changed): that request waited its own 5 s whatever --source-timeout said."""
    with silent_listener() as base:
        started = time.monotonic()
        found = source_fingerprint({"source": f"{base}/data.zip", "source_timeout": 0.5})
        elapsed = time.monotonic() - started
    assert found.startswith("unavailable") and "Timeout" in found
    assert elapsed < 2.5, f"took {elapsed:.1f} s"


def test_a_redirect_loop_names_the_url(tmp_path: Path) -> None:
    with loopback_server() as base, pytest.raises(SourceError) as error:
        download(f"{base}/loop", tmp_path, timeout=10, stall=5)
    message = str(error.value)
    assert message.startswith(f"{base}/loop: redirect loop")
    assert "TooManyRedirects" not in message


@pytest.mark.parametrize("path", ["/page", "/unlabelled-page"])
def test_an_html_page_served_with_200_is_not_taken_for_data(tmp_path: Path, path: str) -> None:
    with loopback_server() as base, pytest.raises(SourceError) as error:
        download(f"{base}{path}", tmp_path, timeout=10, stall=5)
    message = str(error.value)
    assert message.startswith(f"{base}{path}: the server sent an HTML page")
    assert "Empty CSV" not in message


def test_source_timeout_comes_from_the_run_then_the_environment_then_600(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SOURCE_TIMEOUT_ENV, raising=False)
    assert resolve_source_timeout({}) == 600
    monkeypatch.setenv(SOURCE_TIMEOUT_ENV, "90")
    assert resolve_source_timeout({}) == 90
    assert resolve_source_timeout({"source_timeout": 5}) == 5
    monkeypatch.setenv(SOURCE_TIMEOUT_ENV, "soon")
    with pytest.raises(SourceError, match=rf"{SOURCE_TIMEOUT_ENV}=.soon.: .*positive number"):
        resolve_source_timeout({})


def test_the_cli_option_bounds_the_download_of_a_real_run(tmp_path: Path, prefect_server) -> None:
    """``pipeline materialize --source-timeout 2`` against a server that never answers."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
           "PREFECT_API_URL": str(PREFECT_API_URL.value())}  # fmt: skip
    with silent_listener() as base:
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "orchestration", "materialize", "--select",
             "raw_online_retails", "--source", f"{base}/online_retail_II.zip",
             "--source-timeout", "2"],
            cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{base}/online_retail_II.zip: did not finish within 2 s" in run.stderr
    assert elapsed < 60, f"took {elapsed:.1f} s"


def test_the_serve_option_bounds_the_download_of_a_served_run(
    tmp_path: Path, prefect_api_url: str
) -> None:
    """``pipeline serve --source-timeout 2``: a run the deployment starts, in a process of
    Prefect's own, gives up on a server that never answers after 2 s, not the default
    600. The timeout is serve's setting, inherited by its runs (not a deployment
    parameter, as it is no run parameter of ``pipeline materialize`` either)."""
    import os

    from tests.prefect_api import api, ended
    from tests.serve_processes import serve_in_background
    from tests.test_local_server import serve_env, served_deployment
    from tests.waiting import wait_for

    env = serve_env(tmp_path / "prefect-home", PREFECT_API_URL=prefect_api_url)
    env.pop(SOURCE_TIMEOUT_ENV, None)
    env.pop("PIPELINE_SOURCE_TIMEOUT", None)
    log = tmp_path / "serve.log"
    with silent_listener() as base:
        args = ("--definitions", "assets", "--select", "raw_online_retails",
                "--source", f"{base}/online_retail_II.zip", "--source-timeout", "2",
                "--name", "source-timeout", "--warehouse", f"chdb://{tmp_path / 'wh'}")  # fmt: skip
        with serve_in_background(env, log, *args) as process:
            deployment = wait_for(
                lambda: (
                    served_deployment(prefect_api_url, "source-timeout")
                    or process.poll() is not None
                ),
                300,
                "the deployment",
            )
            assert process.poll() is None, log.read_text()
            run = api(prefect_api_url, f"/deployments/{deployment['id']}/create_flow_run", {})
            state = wait_for(lambda: ended(prefect_api_url, run["id"]), 120, "the served run")
            os.kill(process.pid, signal.SIGINT)  # as Ctrl+C: serve ends cleanly
            process.wait(timeout=60)
    said = log.read_text()
    assert deployment["parameters"] == {
        "select": "raw_online_retails",
        "source": f"{base}/online_retail_II.zip",
        "source_encoding": "",
    }
    assert state["type"] == "FAILED", (state, said)
    assert f"{base}/online_retail_II.zip: did not finish within 2 s" in said, said
    # Said once, in the asset's line: not again by Prefect's engines with tracebacks.
    assert "Traceback" not in said, said
    flow_run = api(prefect_api_url, f"/flow_runs/{run['id']}")
    assert flow_run["total_run_time"] < 60, (flow_run["total_run_time"], said)


def test_library_debug_logs_of_a_run_never_show_the_sources_secrets(
    tmp_path: Path, prefect_server
) -> None:
    """With Prefect's root logger at DEBUG, httpx logged every request with its full URL
    (``HTTP Request: GET http://user:tok3n-B7@...?token=...``) on the console."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}",
           "PREFECT_API_URL": str(PREFECT_API_URL.value()),
           "PREFECT_LOGGING_ROOT_LEVEL": "DEBUG"}  # fmt: skip
    with loopback_server() as base:
        source = base.replace("http://", "http://user:tok3n-B7@") + "/page?token=t0k3n-Q5"
        run = subprocess.run(
            [sys.executable, "-m", "orchestration", "materialize", "--verbose", "--select",
             "raw_online_retails", "--source", source, "--source-timeout", "5"],
            cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    said = run.stdout + run.stderr
    assert run.returncode == 1, said
    assert f"{base}/page: the server sent an HTML page" in run.stderr, said
    assert "DEBUG" in said, "the root logger was not lowered: nothing was tested"
    assert "tok3n-B7" not in said and "t0k3n-Q5" not in said


def test_request_lines_asked_for_by_name_name_each_url_without_its_secrets(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A logging configuration that sets the ``httpx`` logger's level asks for its lines:
    they come, each URL named as errors name it."""
    caplog.set_level(logging.INFO, logger="httpx")
    with loopback_server() as base, pytest.raises(SourceError):
        download(base.replace("http://", "http://user:tok3n-B7@") + "/page?token=t0k3n-Q5",
                 tmp_path, timeout=10, stall=5)  # fmt: skip
    assert f'HTTP Request: GET {base}/page "HTTP/1.1 200 OK"' in caplog.text
    assert "tok3n-B7" not in caplog.text and "t0k3n-Q5" not in caplog.text
