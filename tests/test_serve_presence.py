"""Which other processes serve a deployment, as their heartbeat events say.

``pipeline serve`` says it serves a deployment in Prefect events (a heartbeat while it
polls, ``stopped`` when it stops); a serve about to pause the deployment's schedule on
its way out, or one starting, reads them to tell whether another process serves it. Here
the rule that reads them, on events as Prefect's API returns them; tests/test_serve_shared.py
runs two real ``pipeline serve`` processes.
"""

from __future__ import annotations

import datetime
from typing import Any

from prefect.events.schemas.events import ReceivedEvent

from orchestration.serve_presence import (
    HEARTBEAT,
    HEARTBEAT_SECONDS,
    STOPPED,
    ServingProcess,
    heartbeat_event,
    others_serving,
)

NOW = datetime.datetime(2026, 12, 7, 9, 30, tzinfo=datetime.UTC)
ME = ServingProcess("pipeline.serve.me", "pipeline serve, pid 1 on here")
OTHER = ServingProcess("pipeline.serve.other", "pipeline serve, pid 2 on there")


def said(process: ServingProcess, event: str, seconds_ago: float, **payload: Any) -> ReceivedEvent:
    """``event`` from ``process``, ``seconds_ago`` before :data:`NOW`, as the API returns it."""
    occurred = NOW - datetime.timedelta(seconds=seconds_ago)
    return ReceivedEvent(
        occurred=occurred,
        received=occurred,
        event=event,
        resource=process.resource(),
        payload={"every_seconds": HEARTBEAT_SECONDS, **payload},
    )


def test_another_process_heard_lately_serves_it():
    assert others_serving([said(OTHER, HEARTBEAT, 5), said(ME, HEARTBEAT, 1)], ME, NOW) == [
        OTHER.name
    ]


def test_this_process_is_never_another():
    assert others_serving([said(ME, HEARTBEAT, 1)], ME, NOW) == []


def test_a_process_whose_last_word_is_stopped_serves_it_no_more():
    """Its heartbeat came before (events arrive latest first, but need not)."""
    events = [said(OTHER, HEARTBEAT, 20), said(OTHER, STOPPED, 3), said(OTHER, HEARTBEAT, 50)]
    assert others_serving(events, ME, NOW) == []


def test_a_process_that_missed_two_heartbeats_is_gone():
    """A serve killed (SIGKILL, a machine lost) says nothing: its heartbeats stop. Two
    periods missed, and the time the server takes to store an event, and it is gone."""
    assert others_serving([said(OTHER, HEARTBEAT, 2 * HEARTBEAT_SECONDS + 30)], ME, NOW) == []
    assert others_serving([said(OTHER, HEARTBEAT, 2 * HEARTBEAT_SECONDS)], ME, NOW) == [OTHER.name]


def test_each_process_is_judged_by_the_period_it_beats_at():
    """A serve that polls less often than the heartbeat's period beats at its poll's."""
    slow = said(OTHER, HEARTBEAT, 200, every_seconds=120.0)
    assert others_serving([slow], ME, NOW) == [OTHER.name]


def test_a_heartbeat_names_the_process_and_relates_the_deployments():
    event = heartbeat_event(ME, ["6a3c0b0e-0000-4000-8000-000000000001"], every=30.0)
    assert event.event == HEARTBEAT
    assert (event.resource.id, event.resource.name) == (ME.resource_id, ME.name)
    assert [(r.id, r.role) for r in event.related] == [
        ("prefect.deployment.6a3c0b0e-0000-4000-8000-000000000001", "deployment")
    ]
    assert event.payload == {"every_seconds": 30.0}


def test_this_process_is_named_by_its_pid_and_host():
    import os
    import socket

    me = ServingProcess.for_this_process()
    assert me.name == f"pipeline serve, pid {os.getpid()} on {socket.gethostname()}"
    assert me.resource_id.startswith("pipeline.serve.")
    # One a serve: a serve started again is another process.
    assert ServingProcess.for_this_process().resource_id != me.resource_id
