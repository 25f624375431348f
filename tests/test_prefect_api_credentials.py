"""A Prefect API reached through a URL with credentials shows and stores none of them.

``PREFECT_API_URL=http://admin:PfS3cret@host/api`` is how a Prefect server behind a proxy
that asks for HTTP Basic auth is reached: Prefect's client sends the URL's user and
password in the ``Authorization`` header. Found by a review: every UI link the pipeline
made of that URL kept them, so the run printed ``Flow run:  http://admin:PfS3cret@...``
and ``Lineage:`` likewise, ``materialize --json`` carried them in ``urls``, and the run's
``Lineage of this run: ...`` line stored them in Prefect's logs, for everyone with access
to the UI.

Real processes on the session's Prefect server (which ignores the ``Authorization``
header: the run works either way).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orchestration.redaction import credential_forms
from tests.prefect_api import api
from tests.prefect_records import EVENT_WAIT
from tests.test_cli_materialize import materialize, server_env
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
