"""Prefect API calls from tests, as any HTTP client makes them (no Prefect client)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

#: How often :func:`api` asks again after a 503, as Prefect's own client does.
API_RETRIES = 5


def api(api_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A Prefect API call as any HTTP client makes it: POST with ``body``, else GET.

    A 503 is asked again after a pause, as Prefect's client does: the server answers it
    while its SQLite database is busy (a served run writing, say), which is no failure
    of what a test checks (seen once in a full run: ``create_flow_run`` while a
    ``* * * * *`` schedule's run wrote)."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(API_RETRIES + 1):
        request = urllib.request.Request(
            f"{api_url}{path}", data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == API_RETRIES:
                raise
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable: the last attempt returned or raised")


def ended(api_url: str, flow_run_id: str) -> dict[str, Any] | None:
    """Flow run ``flow_run_id``'s state once it has ended (None while it has not)."""
    state = api(api_url, f"/flow_runs/{flow_run_id}")["state"]
    return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED") else None
