"""An event that Prefect could not send once its API went away is one line, not a dump.

Real processes: a Prefect server the test owns, and fresh interpreters that send Prefect
events as a served run's process does (its asset pages' ``prefect.artifact.created``, its
task runs' states), with the run's log filters installed (``quiet_served_run_logs``, as
:mod:`orchestration.deployment` installs them; ``PIPELINE_DEBUG`` as ``pipeline --debug
serve`` hands it on). Each sends an event while the server runs, then one more once the
server is stopped.

Measured before the fix (Prefect 3.9.1), ~7 s after the server stopped: the events
client's warning, one line naming the cause ("Unable to connect to 'ws://…/api/events/in'
… Reason: [Errno 111] Connect call failed …"), then the same failure again as the events
worker's ERROR, printing the whole event ("Service 'EventsWorker' failed to process item
Event(occurred=…, resource=…, related=[…], payload=…)", ~1,000 characters for a run's
event) and naming no cause. Seen in serve's log (tests/test_serve_outage.py) when a
served run sent an event as its server stopped.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.events import Event, Resource

from orchestration.debug_env import DEBUG_ENV
from orchestration.event_lines import CLIENT_LOGGER, WORKER_LOGGER, one_line_event_failures
from tests.kept_records import KeptRecords
from tests.prefect_api import api
from tests.serve_processes import REPO, OwnServer
from tests.test_local_server import newcomer_env
from tests.waiting import wait_for

#: A process sending events as a served run's does: one while its API answers, one more
#: once the test says (a line on stdin) that the API is gone; then it waits for Prefect's
#: events worker to be done with them, as a run's process does at its end.
PROBE = """\
import sys

import prefect.main  # noqa: F401 - Prefect's logging, as in a run's process
from prefect.events import emit_event
from prefect.events.worker import EventsWorker

from orchestration.served_outage import quiet_served_run_logs

quiet_served_run_logs()
name, resource = sys.argv[1], {"prefect.resource.id": "pipeline.test"}
emit_event(event=f"{name}.before", resource=resource)
sys.stdin.readline()
emit_event(event=f"{name}.during", resource=resource)
EventsWorker.drain_all(timeout=120)
"""
#: How Prefect's events worker reports an event it could not send.
FAILED_ITEM = "failed to process item"
#: The start of the events client's warning, and its reason for a server that is gone.
UNABLE = "Unable to connect to 'ws://"
REFUSED = "Connect call failed"


def _arrived(api_url: str, names: list[str]) -> bool:
    """Whether the server has stored an event of each name (the senders are connected)."""
    found = api(api_url, "/events/filter", {"filter": {"event": {"name": names}}})
    return {event["event"] for event in found["events"]} == set(names)


def test_an_event_sent_once_the_api_is_gone_is_one_line_naming_the_cause_dumped_only_with_debug(
    tmp_path: Path,
) -> None:
    server = OwnServer.under(tmp_path)
    senders = {"pipeline.test.quiet": "", "pipeline.test.debug": "1"}
    processes: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    with server.start() as running:
        try:
            for name, debug in senders.items():
                env = newcomer_env(
                    tmp_path / "prefect-home", PREFECT_API_URL=server.api_url, **{DEBUG_ENV: debug}
                )
                err = tmp_path / f"{name}.err"
                with err.open("w") as stderr:
                    process = subprocess.Popen(
                        [sys.executable, "-c", PROBE, name],
                        cwd=REPO,
                        env=env,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                        text=True,
                    )
                processes[name] = (process, err)
            wait_for(
                lambda: _arrived(server.api_url, [f"{name}.before" for name in senders]),
                60,
                "the first events to reach the server",
            )
            os.killpg(running.pid, signal.SIGTERM)
            assert running.process is not None
            running.process.wait(timeout=30)
            for process, _ in processes.values():
                assert process.stdin is not None
                process.stdin.write("gone\n")
                process.stdin.close()
            for process, _ in processes.values():
                process.wait(timeout=120)
        finally:
            for process, _ in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
    quiet, debug = (processes[name][1].read_text() for name in senders)

    # One line for the event, naming the cause: the client's warning. No dump of the event.
    lines = [line for line in quiet.splitlines() if "events/in" in line or "Event(" in line]
    assert len(lines) == 1, quiet
    assert UNABLE in lines[0] and REFUSED in lines[0], quiet
    assert FAILED_ITEM not in quiet and "Event(" not in quiet, quiet
    # With --debug, Prefect says it all, as it does.
    assert UNABLE in debug, debug
    assert f"{FAILED_ITEM} Event(" in debug and "pipeline.test.debug.during" in debug, debug


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeptRecords]:
    """The worker's one-line failures installed for this test only, and what its logger
    logs."""
    handler = KeptRecords()
    for name in (CLIENT_LOGGER, WORKER_LOGGER):
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    logger = logging.getLogger(WORKER_LOGGER)
    logger.addHandler(handler)
    one_line_event_failures()
    yield handler
    logger.removeHandler(handler)


def _worker_fails(event: Event, error: Exception) -> None:
    """The worker's ERROR for ``event``, as Prefect logs it: while handling ``error``,
    without it (the traceback only with Prefect's debug logging)."""
    try:
        raise error
    except Exception:
        logging.getLogger(WORKER_LOGGER).error(
            "Service %r failed to process item %r", "EventsWorker", event
        )


def _event() -> Event:
    resource = Resource.model_validate({"prefect.resource.id": "prefect.artifact.1"})
    return Event(event="prefect.artifact.created", resource=resource)


def test_a_worker_failure_that_is_no_lost_connection_keeps_the_event(kept: KeptRecords) -> None:
    event = _event()
    _worker_fails(event, ValueError("a bug"))
    [record] = kept.records
    assert record.getMessage() == f"Service 'EventsWorker' failed to process item {event!r}"


def test_a_lost_connection_the_events_client_did_not_report_is_one_line_with_its_cause(
    kept: KeptRecords,
) -> None:
    # The worker's own requests for the run's related resources go over HTTP: a lost API
    # fails them without the events client's warning.
    _worker_fails(_event(), httpx.ConnectError("All connection attempts failed"))
    [record] = kept.records
    assert record.getMessage() == (
        "Service 'EventsWorker' failed to process event 'prefect.artifact.created' "
        "(ConnectError: All connection attempts failed)"
    )
