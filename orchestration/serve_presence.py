"""Which processes serve a deployment, so that one stopping does not pause it under another.

Prefect's runner pauses its deployments' schedules when it stops, so that a schedule
nobody serves does not pile up late runs. Two ``pipeline serve`` processes of one
deployment (a second started by mistake, a restart overlapping the old process) did not
know of each other: Ctrl+C on one paused the deployment under the other, which ran on,
looking healthy under its supervisor, and never ran a run again (the API showed it paused
with no scheduled run). Nor did the second say, as it started, that the first served it.

Prefect records no poller of a deployment: its ``last_polled`` is the time anyone last
polled it, set by a background task of the server after answering the poll, under one key
per deployment, so no process can tell its own polls from another's from it. So each serve
says that it serves, in Prefect events related to the deployment: ``pipeline.serve.heartbeat``
every :data:`HEARTBEAT_SECONDS` (or every poll, if it polls less often) while it serves, and
``pipeline.serve.stopped`` as it stops, the event's resource naming the process (``pipeline
serve, pid 4242 on etl-1``). A process serves the deployment while its last event is a
heartbeat no older than two of its periods and the time the server takes to store an
event (:func:`others_serving`): a process killed (SIGKILL, a lost machine) says nothing,
and is taken for gone once its heartbeats stop. The times compared are the sending
process's clock and the reading one's, which Prefect's scheduling assumes agree too.

The events are in the Prefect UI's Event Feed, and an automation on them can alert when a
deployment's heartbeats stop.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.events.schemas.events import Event, Resource

HEARTBEAT = "pipeline.serve.heartbeat"
STOPPED = "pipeline.serve.stopped"
#: How often a serve says it serves (Prefect's workers send their heartbeat as often).
HEARTBEAT_SECONDS = 30.0
#: How long the server may take to store an event before it can be read back: twice
#: Prefect's event persister's flush interval (5 s).
STORE_SECONDS = 10.0
#: How far back the events are read: well past any heartbeat still counted.
LOOKBACK = datetime.timedelta(minutes=15)
#: How many serving processes' last events are read (the most the API returns at once).
READ_LIMIT = 50
#: The resource id of every serving process begins so.
RESOURCE_PREFIX = "pipeline.serve."


@dataclass(frozen=True)
class ServingProcess:
    """A ``pipeline serve`` process as its events name it: a resource id of its own (a
    restart is another process) and the words a log line names it by."""

    resource_id: str
    name: str

    @classmethod
    def for_this_process(cls) -> ServingProcess:
        """A new identity for this process, which serves from now on."""
        return cls(
            f"{RESOURCE_PREFIX}{uuid.uuid4()}",
            f"pipeline serve, pid {os.getpid()} on {socket.gethostname()}",
        )

    def resource(self) -> Resource:
        from prefect.events.schemas.events import Resource

        return Resource(
            {"prefect.resource.id": self.resource_id, "prefect.resource.name": self.name}
        )


def heartbeat_event(process: ServingProcess, deployment_ids: Iterable[str], every: float) -> Event:
    """The event by which ``process`` says it serves these deployments, and will say so
    again within ``every`` seconds."""
    return _event(HEARTBEAT, process, deployment_ids, {"every_seconds": every})


def stopped_event(process: ServingProcess, deployment_ids: Iterable[str]) -> Event:
    """The event by which ``process`` says it serves these deployments no more."""
    return _event(STOPPED, process, deployment_ids, {})


def _event(
    name: str, process: ServingProcess, deployment_ids: Iterable[str], payload: dict[str, float]
) -> Event:
    from prefect.events.schemas.events import Event, RelatedResource

    related = [
        RelatedResource(
            {
                "prefect.resource.id": f"prefect.deployment.{id_}",
                "prefect.resource.role": "deployment",
            }
        )
        for id_ in deployment_ids
    ]
    return Event(event=name, resource=process.resource(), related=related, payload=payload)


def others_serving(
    events: Iterable[Event], me: ServingProcess, now: datetime.datetime
) -> list[str]:
    """The names of the processes other than ``me`` that serve, as ``events`` (serve
    events of one deployment, in any order) say at ``now``: those whose last event is a
    heartbeat recent enough."""
    last: dict[str, Event] = {}
    for event in events:
        known = last.get(event.resource.id)
        if known is None or event.occurred > known.occurred:
            last[event.resource.id] = event
    return [
        event.resource.name or id_
        for id_, event in last.items()
        if id_ != me.resource_id and event.event == HEARTBEAT and _recent(event, now)
    ]


def already_serving_line(label: str, others: list[str]) -> str:
    """The warning of a serve starting on deployment ``label`` that ``others`` serve."""
    return (
        f"{_who(others)} already {_serve(others)} deployment '{label}' ({', '.join(others)}): "
        "each run goes to one of you, one at a time, and runs with this one's parameters "
        "and schedule (the last serve to start sets them); give this one another --name "
        "to serve it apart"
    )


def still_serving_line(label: str, others: list[str]) -> str:
    """What a serve stopping says instead of pausing deployment ``label``, which
    ``others`` serve."""
    return (
        f"{_who(others)} still {_serve(others)} deployment '{label}' ({', '.join(others)}): "
        "its schedule stays active"
    )


def _who(others: list[str]) -> str:
    return "another process" if len(others) == 1 else f"{len(others)} other processes"


def _serve(others: list[str]) -> str:
    return "serves" if len(others) == 1 else "serve"


def _recent(heartbeat: Event, now: datetime.datetime) -> bool:
    every = float(heartbeat.payload.get("every_seconds", HEARTBEAT_SECONDS))
    return now - heartbeat.occurred <= datetime.timedelta(seconds=2 * every + STORE_SECONDS)


@dataclass
class Presence:
    """What one serve says of itself, and reads of others, for the deployments it serves."""

    me: ServingProcess
    #: Seconds between its heartbeats (at least its runner's poll interval).
    every: float = HEARTBEAT_SECONDS
    _last_beat: float | None = field(default=None, init=False)

    def beat(self, deployment_ids: list[str]) -> None:
        """Say it serves them, unless it said so less than a period ago."""
        if self._last_beat is not None and time.monotonic() - self._last_beat < self.every:
            return
        self._last_beat = time.monotonic()
        _emit(heartbeat_event(self.me, deployment_ids, self.every))

    def stopped(self, deployment_ids: list[str]) -> None:
        """Say it serves them no more."""
        _emit(stopped_event(self.me, deployment_ids))

    async def others(self, client: PrefectClient, deployment_ids: list[str]) -> list[str]:
        """The other processes serving any of these deployments now, by name (the last
        event of each serve, as the server has them)."""
        from prefect.events.filters import (
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventRelatedFilter,
            EventResourceFilter,
        )

        now = datetime.datetime.now(datetime.UTC)
        # Until later than now too: another machine's clock may be ahead.
        occurred = {"since": now - LOOKBACK, "until": now + LOOKBACK}
        page = await client.read_events(
            filter=EventFilter(
                occurred=EventOccurredFilter.model_validate(occurred),
                event=EventNameFilter(name=[HEARTBEAT, STOPPED]),
                resource=EventResourceFilter(id_prefix=[RESOURCE_PREFIX], distinct=True),
                related=EventRelatedFilter(
                    id=[f"prefect.deployment.{id_}" for id_ in deployment_ids]
                ),
            ),
            limit=READ_LIMIT,
        )
        return others_serving(page.events, self.me, now)


def _emit(event: Event) -> None:
    """Send ``event`` in the background, as Prefect sends its own (a server that does not
    answer costs the serve nothing: its events worker gives up on it)."""
    from prefect.events.utilities import emit_event

    emit_event(
        event=event.event,
        resource=dict(event.resource.root),
        related=[dict(r.root) for r in event.related],
        payload=event.payload,
    )
