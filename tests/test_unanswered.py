"""A Prefect API that does not answer is worded the same whoever finds out: the check
before a run (urllib) and the run's circuit breaker (httpx through Prefect's client).

Real failures on loopback: a port nothing listens on, a port that accepts and never
answers, and a host name that cannot resolve (``.invalid`` is reserved for that).
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from orchestration.api_outage import ApiOutage, PrefectApiLostError
from orchestration.prefect_server import free_port
from orchestration.prefect_setup import PrefectApiUnreachableError, check_configured_api
from orchestration.unanswered import cause_in_words


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield listening.getsockname()[1]


def urllib_failure(url: str) -> BaseException:
    with pytest.raises(OSError) as failed:
        urllib.request.urlopen(url, timeout=0.5)
    return failed.value


def breaker_cause(api: str) -> str:
    """The cause the run's breaker records for ``api``."""
    outage = ApiOutage(api)
    client = httpx.Client(base_url=f"{api}/", timeout=0.5)
    outage.watch(client)
    with pytest.raises(PrefectApiLostError) as lost:
        client.get("flows/filter")
    return lost.value.cause


def test_a_refused_connection_reads_the_same_both_ways() -> None:
    api = f"http://127.0.0.1:{free_port()}/api"
    assert cause_in_words(urllib_failure(f"{api}/health")) == "connection refused"
    assert breaker_cause(api) == "connection refused"


def test_an_unknown_host_reads_the_same_both_ways() -> None:
    api = "http://prefect.invalid:4200/api"
    assert cause_in_words(urllib_failure(f"{api}/health")) == "unknown host"
    assert breaker_cause(api) == "unknown host"


def test_a_silent_server_reads_as_no_answer_and_names_the_wait_when_known(
    silent_port: int,
) -> None:
    api = f"http://127.0.0.1:{silent_port}/api"
    assert cause_in_words(urllib_failure(f"{api}/health"), 0.5) == "no answer within 0.5 s"
    assert breaker_cause(api) == "no answer in time"


def test_the_check_before_a_run_says_why_in_those_words() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api = "http://prefect.invalid:4200/api"
    with (
        temporary_settings({PREFECT_API_URL: api}),
        pytest.raises(PrefectApiUnreachableError) as refused,
    ):
        check_configured_api(timeout=0.5)
    assert str(refused.value) == (
        f"the Prefect API at {api} (PREFECT_API_URL) does not answer (unknown host): "
        "start that server, or unset PREFECT_API_URL to run on the local one"
    )
