"""The run's circuit breaker trips on a Prefect API that does not answer, and only then.

Real servers: the session's Prefect server, and a loopback port nothing listens on.
"""

from __future__ import annotations

import time

import httpx
import pytest

from orchestration.api_outage import ApiOutage, PrefectApiLostError
from orchestration.prefect_server import free_port


def watched(api_url: str, outage: ApiOutage) -> httpx.Client:
    client = httpx.Client(base_url=f"{api_url}/")
    outage.watch(client)
    return client


def test_an_api_that_does_not_answer_trips_it_and_later_requests_are_not_sent() -> None:
    gone = f"http://127.0.0.1:{free_port()}/api"
    outage = ApiOutage(gone)
    client = watched(gone, outage)
    with pytest.raises(PrefectApiLostError) as lost:
        client.get("flows/filter")
    assert lost.value.cause == "connection refused"
    assert outage.tripped
    line = outage.message() or ""
    assert line.startswith(f"the Prefect API at {gone} stopped answering during the run")
    started = time.monotonic()
    assert outage.guard(client.get, "health") is None  # skipped: nothing sent
    assert time.monotonic() - started < 0.1


def test_a_transport_error_from_an_api_that_still_answers_does_not_trip_it(
    prefect_api_url: str,
) -> None:
    outage = ApiOutage(prefect_api_url)
    client = watched(prefect_api_url, outage)
    # A transport error of this request alone (as a keep-alive connection the server
    # closed as it was reused would be): Prefect's client retries it, as before.
    with pytest.raises(httpx.TimeoutException):
        client.post("flows/filter", json={}, timeout=1e-6)
    assert not outage.tripped
    assert outage.guard(client.get, "health").status_code == 200


def test_an_error_the_api_answers_with_is_raised_not_swallowed(prefect_api_url: str) -> None:
    outage = ApiOutage(prefect_api_url)
    client = watched(prefect_api_url, outage)

    def refused() -> None:
        client.get("flow_runs/not-a-uuid").raise_for_status()

    with pytest.raises(httpx.HTTPStatusError):
        outage.guard(refused)
    assert not outage.tripped
