"""A Prefect API reached through a URL with credentials shows and stores none of them.

``PREFECT_API_URL=http://admin:PfS3cret@host/api`` is how a Prefect server behind a proxy
that asks for HTTP Basic auth is reached: Prefect's client sends the URL's user and
password in the ``Authorization`` header. Found by a review: every UI link the pipeline
made of that URL kept them, so the run printed ``Flow run:  http://admin:PfS3cret@...``
and ``Lineage:`` likewise, ``materialize --json`` carried them in ``urls``, and the run's
``Lineage of this run: ...`` line stored them in Prefect's logs, for everyone with access
to the UI. And such a URL that did not answer was refused only once the flow run began,
after the warehouse was created, in other words than the same URL without credentials.

Real processes on the session's Prefect server (which ignores the ``Authorization``
header: the run works either way), real loopback HTTP servers for what the probe sends.
"""

from __future__ import annotations

import base64
import http.server
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import pytest

from orchestration.prefect_server import free_port
from orchestration.redaction import credential_forms
from tests.prefect_api import api
from tests.prefect_records import EVENT_WAIT
from tests.retail_support import http_server
from tests.test_cli_materialize import check_api, materialize, server_env
from tests.waiting import wait_for

USER, PASSWORD = "admin", "PfS3cret"


def with_credentials(url: str) -> str:
    """``url`` with ``USER:PASSWORD@`` in front of its host."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{USER}:{PASSWORD}@{parts.netloc}"))


def secrets_in(text: str) -> list[str]:
    """Each form of the password (as typed, percent-encoded, the Basic header's base64)
    that ``text`` holds."""
    return [form for form in credential_forms(USER, PASSWORD) if form in text]


def run_logs(api_url: str, flow_run_id: str) -> list[str]:
    """The messages Prefect stored for the run, once its lineage line is among them."""

    def stored() -> list[str] | None:
        logs = api(api_url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}})
        messages = [log["message"] for log in logs]
        return messages if any("Lineage of this run" in m for m in messages) else None

    found: list[str] = wait_for(stored, EVENT_WAIT, f"the logs of flow run {flow_run_id}")
    return found


def run_artifacts(api_url: str, flow_run_id: str) -> list[dict[str, Any]]:
    """Every artifact the run wrote (its asset pages and its lineage), as the API has them."""
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}
    artifacts: list[dict[str, Any]] = api(api_url, "/artifacts/filter", body)
    return artifacts


def assert_stored_without_credentials(api_url: str, flow_run_id: str, ui: str) -> None:
    """The run's logs and artifacts hold no form of the password, and its lineage line
    links the UI without it."""
    messages = run_logs(api_url, flow_run_id)
    assert secrets_in("\n".join(messages)) == []
    assert any(m.startswith(f"Lineage of this run: {ui}/v2/artifacts/artifact/") for m in messages)
    artifacts = run_artifacts(api_url, flow_run_id)
    assert len(artifacts) > 1  # the asset pages and the run's lineage
    assert secrets_in(json.dumps(artifacts)) == []


def test_a_run_through_a_url_with_credentials_links_the_ui_without_them(
    prefect_api_url: str, tmp_path: Path
) -> None:
    """The terminal (with Prefect's own log lines, ``--verbose``), ``--json``, and what
    the run stores in Prefect: the UI's links there name host and port only."""
    env = server_env(with_credentials(prefect_api_url))
    ui = prefect_api_url.removesuffix("/api")

    shown = materialize("--source", "synthetic:200", "--verbose", env=env, tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert secrets_in(shown.stdout + shown.stderr) == []
    links = dict(line.split(":", 1) for line in shown.stdout.splitlines() if "/v2/" in line)
    flow_run = links["Flow run"].strip()
    assert flow_run.startswith(f"{ui}/v2/runs/flow-run/")
    assert links["Lineage"].strip().startswith(f"{ui}/v2/artifacts/artifact/")
    assert_stored_without_credentials(prefect_api_url, flow_run.rsplit("/", 1)[1], ui)

    as_json = materialize("--source", "synthetic:200", "--json", env=env, tmp_path=tmp_path)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    assert secrets_in(as_json.stdout + as_json.stderr) == []
    report = json.loads(as_json.stdout)
    assert report["urls"]["flow_run"] == f"{ui}/v2/runs/flow-run/{report['flow_run_id']}"
    assert report["urls"]["lineage"].startswith(f"{ui}/v2/artifacts/artifact/")
    assert_stored_without_credentials(prefect_api_url, report["flow_run_id"], ui)


def test_a_url_with_credentials_that_does_not_answer_is_refused_as_one_without(
    tmp_path: Path,
) -> None:
    """Was refused only as the flow run began, the warehouse created, and with other
    advice (``start it (pipeline server start, for the local server)``): a URL with
    credentials was not probed before the run, as urllib cannot send them."""
    plain = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    result = materialize(env=server_env(with_credentials(plain)), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: the Prefect API at {plain} (PREFECT_API_URL) does not answer (connection "
        "refused): start that server, or unset PREFECT_API_URL to run on the local one"
    ]
    assert not (tmp_path / "warehouse").exists()


def test_a_servers_address_with_credentials_is_told_its_api_without_them(
    prefect_api_url: str,
) -> None:
    """The address without ``/api`` answers 404 at ``/health``: the line suggests the API
    of that server with the password as a placeholder, as a printed command has it."""
    root = prefect_api_url.removesuffix("/api")
    host = urlsplit(root).netloc
    assert check_api(with_credentials(root)) == (
        f"no Prefect API answers at {root} (PREFECT_API_URL: its /health is 404 Not Found): "
        f"set PREFECT_API_URL=http://{USER}:PASSWORD@{host}/api, the API of the server there"
    )


class _Recording(http.server.BaseHTTPRequestHandler):
    """Notes each request's path and ``Authorization`` header; answers 200, or redirects
    to :attr:`redirect_to` when set."""

    seen: ClassVar[list[tuple[str, str | None]]]
    redirect_to: ClassVar[str | None] = None

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", f"{self.redirect_to}{self.path}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def recording(redirect_to: str | None = None) -> type[_Recording]:
    """A handler class of its own, with its own list of requests seen."""
    return type("Recording", (_Recording,), {"seen": [], "redirect_to": redirect_to})


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, type[_Recording]]]:
    """Another server (another port: another origin), which notes what reaches it."""
    handler = recording()
    with http_server(handler) as base:
        yield base, handler


def test_the_probe_sends_the_credentials_as_prefects_client_does(
    elsewhere: tuple[str, type[_Recording]],
) -> None:
    """As Basic auth (percent-decoded, as httpx decodes them), never in the request's
    URL; and not on to where a redirect points, which urllib would do with a header
    added the usual way."""
    encoded = "Pf%2FS3cret"  # a password holding "/" is written percent-encoded
    basic = "Basic " + base64.b64encode(b"admin:Pf/S3cret").decode()
    here = recording()
    with http_server(here) as base:
        parts = urlsplit(base)
        url = urlunsplit(parts._replace(netloc=f"admin:{encoded}@{parts.netloc}", path="/api"))
        assert check_api(url) is None
    assert here.seen == [("/api/health", basic)]

    target, reached = elsewhere
    redirecting = recording(redirect_to=target)
    with http_server(redirecting) as base:
        assert check_api(with_credentials(f"{base}/api")) is None
    assert redirecting.seen[0][1] is not None
    assert reached.seen == [("/api/health", None)]
