"""Marking an interrupted run Cancelled never holds up the interrupt: a Prefect API that
does not answer is given up within the bound, and the reason comes back in a few words.

(That an interrupted ``pipeline materialize`` is shown Cancelled, its unfinished task runs
too, is tested on a real run in tests/test_interrupts.py.)
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from orchestration.cancelled_run import mark_cancelled
from orchestration.prefect_server import free_port


@pytest.fixture
def silent_api() -> Iterator[str]:
    """An API address that accepts connections and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/api"


def timed_mark(api: str, timeout: float) -> tuple[str | None, float]:
    started = time.monotonic()
    with temporary_settings({PREFECT_API_URL: api}):
        why_not = mark_cancelled(str(uuid.uuid4()), "interrupted (SIGINT): test", {}, timeout)
    return why_not, time.monotonic() - started


def test_an_api_that_refuses_is_given_up_at_once_and_named() -> None:
    why_not, seconds = timed_mark(f"http://127.0.0.1:{free_port()}/api", timeout=10)
    assert why_not == "connection refused"
    assert seconds < 5  # the breaker's probe, not Prefect's minute of retries


def test_an_api_that_never_answers_is_given_up_at_the_bound(silent_api: str) -> None:
    why_not, seconds = timed_mark(silent_api, timeout=1)
    assert why_not == "no answer within 1 s"
    assert seconds < 2


def test_an_unknown_flow_run_is_refused_by_the_api_and_says_so(prefect_api_url: str) -> None:
    why_not, _ = timed_mark(prefect_api_url, timeout=10)
    assert why_not == "the API answered HTTP 404"


def test_a_task_run_the_server_records_late_is_still_marked_as_the_report_has_it(
    prefect_api_url: str,
) -> None:
    """Task runs reach the server as events it records when it gets to them: on a busy
    machine an asset that published as the run stopped may not be there yet when the run
    is marked. Missed, it stayed Running until the server's clean-up of cancelled runs
    made it Cancelled, though its table was published (seen in CI); one stopped before
    publishing stayed Running until then."""
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    @flow(name="interrupted")
    def interrupted() -> None: ...

    @task
    def asset() -> None: ...

    with (
        temporary_settings({PREFECT_API_URL: prefect_api_url}),
        get_client(sync_client=True) as client,
    ):
        flow_run = client.create_flow_run(interrupted, state=Running())

        def record(key: str) -> uuid.UUID:
            return client.create_task_run(
                asset, flow_run.id, dynamic_key=key, name=key, state=Running()
            ).id

        stopped = record("slow")
        late: dict[str, uuid.UUID] = {}

        def record_late() -> None:
            late.update(hub=record("hub"), report=record("report"))

        recording = threading.Timer(0.7, record_late)
        recording.start()
        why_not = mark_cancelled(
            str(flow_run.id),
            "interrupted (SIGTERM): 1 materialized, 2 cancelled",
            {"hub": "materialized", "report": "cancelled", "slow": "cancelled"},
            began={"hub", "report", "slow"},
        )
        recording.join()
        assert why_not is None
        states = {
            key: client.read_task_run(run_id).state.type.value
            for key, run_id in {"slow": stopped, **late}.items()
        }
    # hub published as the run stopped; report began but was stopped before publishing.
    assert states == {"hub": "COMPLETED", "report": "CANCELLED", "slow": "CANCELLED"}
