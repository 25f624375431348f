"""The resolver runs a selection as one Prefect flow whose tasks follow the asset graph.

Runs against a real (temporary) Prefect server and asserts what Prefect recorded.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pandas as pd
import pytest

from orchestration.asset import AssetSpec
from orchestration.graph import AssetGraph
from orchestration.resolver import MissingUpstreamError, materialize
from orchestration.text_encoding import SOURCE_ENCODING_PARAM
from orchestration.unbuilt_upstream import UnbuiltUpstreamError
from tests.memory_io import MemoryIOManager, RememberingIOManager
from tests.prefect_records import EVENT_WAIT, settled_task_runs
from tests.waiting import wait_for

pytestmark = pytest.mark.usefixtures("prefect_server")


def frame_body(rows: int = 3, sleep: float = 0.0, fail: str | None = None):
    def body(context):
        if sleep:
            time.sleep(sleep)
        if fail:
            raise RuntimeError(fail)
        return pd.DataFrame({"n": range(rows)})

    return body


def make_graph(*specs: tuple) -> AssetGraph:
    """Build a graph in a fresh database so Prefect asset keys never clash between tests."""
    database = f"t{uuid.uuid4().hex[:10]}"
    return AssetGraph(
        AssetSpec(
            key=key,
            table=f"{database}.{key}",
            body=body,
            kind="python",
            deps=deps,
            description=f"the {key} table",
            owners=("data-team",),
        )
        for key, deps, body in specs
    )


def diamond(**bodies) -> AssetGraph:
    """a -> (b, c) -> d, plus an independent e."""
    body = lambda k: bodies.get(k, frame_body())  # noqa: E731
    return make_graph(
        ("a", (), body("a")),
        ("b", ("a",), body("b")),
        ("c", ("a",), body("c")),
        ("d", ("b", "c"), body("d")),
        ("e", (), body("e")),
    )


def test_every_asset_materializes_after_its_upstream():
    io = MemoryIOManager()
    graph = diamond(b=frame_body(sleep=0.2))
    report = materialize(graph, {"warehouse": io})

    assert report.ok
    assert [o.key for o in report.outcomes] == ["a", "b", "c", "d", "e"]
    for spec in graph:
        for dep in spec.deps:
            assert io.intervals[dep][1] <= io.intervals[spec.key][0], (
                f"{spec.key} began before {dep} ended"
            )
    assert {o.key: o.rows for o in report.outcomes} == dict.fromkeys("abcde", 3)


def test_a_file_an_asset_says_it_wrote_is_in_its_outcome(tmp_path):
    """The run's last lines name what an asset wrote besides its table (the dashboard's
    page): the body says so on its context, the run's report carries it."""
    page = tmp_path / "page.html"

    def body(context):
        page.write_text("<html></html>")
        context.add_file("page", page)
        return pd.DataFrame({"n": [1]})

    report = materialize(
        make_graph(("a", (), body), ("b", (), frame_body())), {"warehouse": MemoryIOManager()}
    )
    assert report.ok
    assert {o.key: dict(o.files) for o in report.outcomes} == {"a": {"page": str(page)}, "b": {}}


def test_independent_assets_run_concurrently():
    io = MemoryIOManager()
    graph = make_graph(("left", (), frame_body(sleep=1.0)), ("right", (), frame_body(sleep=1.0)))
    report = materialize(graph, {"warehouse": io}, concurrency=2)

    assert report.ok
    (l_start, l_end), (r_start, r_end) = io.intervals["left"], io.intervals["right"]
    assert l_start < r_end and r_start < l_end, "the two branches did not overlap in time"


def test_an_asset_waiting_for_its_upstream_holds_no_thread():
    # With two threads, "waits" must not take the second one while "free" is ready.
    io = MemoryIOManager()
    graph = make_graph(
        ("slow", (), frame_body(sleep=1.0)),
        ("waits", ("slow",), frame_body()),
        ("free", (), frame_body()),
    )
    report = materialize(graph, {"warehouse": io}, concurrency=2)

    assert report.ok
    assert io.intervals["free"][0] < io.intervals["slow"][1], (
        "an independent, ready asset waited for a slow asset it does not depend on"
    )


def test_a_later_run_starts_the_asset_that_took_longest_last_time_first():
    io = RememberingIOManager()
    graph = make_graph(("quick", (), frame_body()), ("slow", (), frame_body(sleep=0.3)))
    assert materialize(graph, {"warehouse": io}, concurrency=1).ok
    assert io.calls == ["quick", "slow"]  # no history yet: plan order

    assert materialize(graph, {"warehouse": io}, concurrency=1).ok

    assert io.calls[2:] == ["slow", "quick"]


def test_failed_asset_skips_descendants_but_not_siblings():
    io = MemoryIOManager()
    graph = diamond(b=frame_body(fail="boom in b"))
    report = materialize(graph, {"warehouse": io})

    status = {o.key: o.status for o in report.outcomes}
    assert status == {
        "a": "materialized",
        "b": "failed",
        "c": "materialized",
        "d": "skipped",
        "e": "materialized",
    }
    outcomes = {o.key: o for o in report.outcomes}
    assert "boom in b" in outcomes["b"].error
    assert outcomes["d"].failed_upstream == ("b",)
    assert "d" not in io.calls
    assert not report.ok


def test_indirect_descendant_names_the_failed_ancestor_that_stopped_it():
    io = MemoryIOManager()
    report = materialize(diamond(a=frame_body(fail="boom in a")), {"warehouse": io})

    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["a"].status == "failed"
    for key in ("b", "c", "d"):  # b, c directly below a; d two levels down, via b and c
        assert outcomes[key].status == "skipped"
        assert outcomes[key].failed_upstream == ("a",), key
        assert outcomes[key].error == "upstream failed: a", key
    assert outcomes["e"].status == "materialized"
    assert io.calls.count("d") == 0


@pytest.mark.parametrize("slow", ["x", "y", "z"])
def test_an_asset_waits_for_every_upstream_not_only_the_first(slow: str):
    io = MemoryIOManager()
    graph = make_graph(
        *((key, (), frame_body(sleep=0.6 if key == slow else 0.0)) for key in "xyz"),
        ("sink", ("x", "y", "z"), frame_body()),
    )
    report = materialize(graph, {"warehouse": io}, concurrency=4)

    assert report.ok
    sink_started = io.intervals["sink"][0]
    for key in "xyz":
        assert io.intervals[key][1] <= sink_started, f"sink began before {key} ended"


def test_flow_run_ends_failed_when_an_asset_fails():
    from prefect import get_client

    report = materialize(diamond(c=frame_body(fail="bad c")), {"warehouse": MemoryIOManager()})
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(uuid.UUID(report.flow_run_id))
    assert flow_run.state.is_failed()
    assert "failed: c" in flow_run.state.message


def test_unselected_upstream_must_exist_before_any_work():
    io = MemoryIOManager()
    graph = diamond()
    with pytest.raises(MissingUpstreamError, match=r"b \(t\w+\.b\), c \(t\w+\.c\)"):
        materialize(graph, {"warehouse": io}, selection="key:d")
    assert io.calls == []


def test_unselected_upstream_no_run_ever_built_is_refused_before_any_work():
    """c's table exists (as a warehouse's DDL creates tables), but the history says no run
    built it: reading it would build d from whatever it holds. b was built: it is read."""
    io = RememberingIOManager()
    graph = diamond()
    assert materialize(graph, {"warehouse": io}, selection="+key:b").ok
    io.calls.clear()
    io.tables[graph["c"].table] = pd.DataFrame({"n": []})
    with pytest.raises(UnbuiltUpstreamError) as refused:
        materialize(graph, {"warehouse": io}, selection="key:d")
    assert io.calls == []
    assert refused.value.unbuilt == {"c": ("d",)}
    assert str(refused.value) == (
        "run this instead: pipeline materialize --select 'key:d or c'\n"
        "the selection 'key:d' reads an asset never materialized in this warehouse; "
        "'key:d or c' builds it too (or materialize it first): c"
    )
    assert str(refused.value.with_readers()).endswith(
        "\nthe selected assets that read it: c (read by d)"
    )


def test_unselected_upstream_of_a_store_without_history_is_read_if_its_table_exists():
    """Nothing says a table of a store that keeps no history was not built some other way."""
    io = MemoryIOManager()
    graph = diamond()
    for key in "bc":
        io.tables[graph[key].table] = pd.DataFrame({"n": [1]})
    report = materialize(graph, {"warehouse": io}, selection="key:d")
    assert report.ok
    assert io.calls == ["d"]


def test_unselected_upstream_present_is_read_not_rebuilt():
    io = MemoryIOManager()
    graph = diamond()
    materialize(graph, {"warehouse": io})
    io.calls.clear()
    report = materialize(graph, {"warehouse": io}, selection="key:b+")
    assert [o.key for o in report.outcomes] == ["b", "d"]
    assert sorted(io.calls) == ["b", "d"]


def test_prefect_records_task_names_and_asset_dependencies():
    from prefect import get_client

    graph = diamond()
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    with get_client(sync_client=True) as client:  # recorded asynchronously: wait for all
        task_runs = settled_task_runs(client, uuid.UUID(report.flow_run_id), expected=5)
    by_id = {run.id: run.name for run in task_runs}
    assert sorted(by_id.values()) == ["a", "b", "c", "d", "e"]
    recorded = {
        run.name: sorted(by_id[inp.id] for inp in run.task_inputs.get("wait_for", []))
        for run in task_runs
    }
    assert recorded == {spec.key: sorted(spec.deps) for spec in graph}


def test_skipped_assets_task_runs_end_skipped_naming_the_failed_asset():
    """In the Prefect UI a skipped asset's task run is final and says which asset stopped
    it, as the run report does - not ``Pending``/``NotReady`` with a task run id for ever.
    ``b`` and ``c`` are directly below the failed ``a``; ``d`` is below them only."""
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    graph = diamond(a=frame_body(fail="boom in a"))
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    with get_client(sync_client=True) as client:
        task_runs = settled_task_runs(client, uuid.UUID(report.flow_run_id), expected=5)
    states = {run.name: (run.state.type, run.state.name, run.state.message) for run in task_runs}
    skipped = (StateType.CANCELLED, "Skipped", "upstream failed: a")
    assert {key: states[key] for key in "bcd"} == dict.fromkeys("bcd", skipped)
    assert states["a"][:2] == (StateType.FAILED, "Failed")
    assert states["e"][:2] == (StateType.COMPLETED, "Completed")
    # The run graph still draws every asset dependency, the skipped assets' too.
    by_id = {run.id: run.name for run in task_runs}
    recorded = {
        run.name: sorted(by_id[inp.id] for inp in run.task_inputs.get("wait_for", []))
        for run in task_runs
    }
    assert recorded == {spec.key: sorted(spec.deps) for spec in graph}
    # The run report is unchanged.
    outcomes = {o.key: (o.status, o.error) for o in report.outcomes}
    assert {key: outcomes[key] for key in "bcd"} == dict.fromkeys(
        "bcd", ("skipped", "upstream failed: a")
    )


def test_a_skipped_asset_emits_no_materialization_event():
    """A skipped asset was not materialized, not even unsuccessfully: no asset event.
    (A ``prefect.assets.materialize`` task emits one for a completed or failed state.)"""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    io = MemoryIOManager()
    graph = diamond(a=frame_body(fail="boom in a"))
    report = materialize(graph, {"warehouse": io})
    EventsWorker.drain_all(timeout=30, at_exit=False)
    by_uri = {io.asset_uri(graph[key].table): key for key in "abcde"}
    run = f"prefect.flow-run.{report.flow_run_id}"

    def events(name: EventNameFilter, resources: list[str]) -> list:
        event_filter = EventFilter(event=name, resource=EventResourceFilter(id=resources))
        return client.read_events(filter=event_filter, limit=50).events

    def asset_events() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for event in events(EventNameFilter(prefix=["prefect.asset.materialization."]), [*by_uri]):
            found.setdefault(by_uri[event.resource.id], []).append(event.event)
        return found

    with get_client(sync_client=True) as client:
        # Emitted after every task's events: once it is stored, theirs are too.
        failed = EventNameFilter(name=["prefect.flow-run.Failed"])
        wait_for(lambda: events(failed, [run]), EVENT_WAIT, "the flow run's Failed event")
        found = wait_for(
            lambda: (seen := asset_events()).keys() >= {"a", "e"} and seen,
            EVENT_WAIT,
            "the failed and the materialized asset's events",
        )
    assert found == {
        "a": ["prefect.asset.materialization.failed"],
        "e": ["prefect.asset.materialization.succeeded"],
    }


def test_materialization_events_carry_upstream_assets():
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    io = MemoryIOManager()
    graph = diamond()
    materialize(graph, {"warehouse": io})
    d_uri = io.asset_uri(graph["d"].table)
    event_filter = EventFilter(
        event=EventNameFilter(name=["prefect.asset.materialization.succeeded"]),
        resource=EventResourceFilter(id=[d_uri]),
    )
    deadline = time.monotonic() + 30
    events = []
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and not events:
            events = client.read_events(filter=event_filter, limit=50).events
            if not events:
                time.sleep(0.5)
    assert len(events) == 1, f"no materialization event for {d_uri}"
    event = events[0]
    related = {r.id for r in event.related if r.role == "asset"}
    assert related == {io.asset_uri(graph["b"].table), io.asset_uri(graph["c"].table)}
    assert event.resource.get("prefect.resource.name") == "d"
    assert event.payload["rows"] == 3


def test_a_run_sends_no_heartbeats_unless_configured(monkeypatch):
    """Prefect's flow engine joins its heartbeat thread, which sleeps in 1 s steps, when
    the run ends; a one-shot run has no use for heartbeats (nothing on a default server
    reads them), so none are sent and none are waited for."""
    from prefect import get_client
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventRelatedFilter,
        EventResourceFilter,
    )
    from prefect.events.worker import EventsWorker

    from orchestration.quick_exit import HEARTBEAT_ENV

    monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    report = materialize(make_graph(("only", (), frame_body())), {"warehouse": MemoryIOManager()})
    EventsWorker.drain_all(timeout=30, at_exit=False)  # the run's events reached the server

    run = f"prefect.flow-run.{report.flow_run_id}"

    def events(name: str, **about: Any) -> list:
        event_filter = EventFilter(event=EventNameFilter(name=[name]), **about)
        return client.read_events(filter=event_filter, limit=10).events

    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 30
        # Sent after the run's first heartbeat would have been, on the same stream.
        while not events(
            "prefect.asset.materialization.succeeded", related=EventRelatedFilter(id=[run])
        ):
            assert time.monotonic() < deadline, "the run's materialization event never arrived"
            time.sleep(0.5)
        heartbeats = events("prefect.flow-run.heartbeat", resource=EventResourceFilter(id=[run]))
        assert heartbeats == []


def test_a_runs_source_encoding_is_one_of_its_parameters_as_a_served_runs_is():
    """A reviewer of a run in the UI sees which encoding its source was read in, for a
    run of ``pipeline materialize`` as for a served one (whose deployment has the same
    three parameters); the asset reads it from its run parameters."""
    from prefect import get_client

    seen: list[str] = []

    def ingest(context):
        seen.append(context.params[SOURCE_ENCODING_PARAM])
        return pd.DataFrame({"n": [1]})

    graph = make_graph(("ingest", (), ingest))
    params = {"source": "data.csv", SOURCE_ENCODING_PARAM: "latin-1"}
    report = materialize(graph, {"warehouse": MemoryIOManager()}, params=params)
    assert seen == ["latin-1"]
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(uuid.UUID(report.flow_run_id)).parameters
    assert parameters == {"select": None, "source": "data.csv", SOURCE_ENCODING_PARAM: "latin-1"}


def test_a_source_url_reaches_the_asset_whole_and_the_run_without_its_secrets():
    """A download link often carries a token: the asset reads the real URL, while the
    run's parameters and task logs (stored by Prefect, shown in its UI) name it only by
    scheme, host and path."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    secret_url = "https://bob:hunter2@data.example/retail.csv?X-Amz-Signature=abc123"
    seen: list[str] = []

    def ingest(context):
        seen.append(context.params["source"])
        return pd.DataFrame({"n": [1]})

    graph = make_graph(("ingest", (), ingest))
    report = materialize(graph, {"warehouse": MemoryIOManager()}, params={"source": secret_url})
    assert seen == [secret_url]
    flow_run_id = uuid.UUID(report.flow_run_id)
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(flow_run_id).parameters

        def started_line() -> str | None:
            lines = [log.message for log in client.read_logs(log_filter=log_filter, limit=200)]
            return next((line for line in lines if line.startswith("ingest -> ")), None)

        logged = wait_for(started_line, EVENT_WAIT, "the ingest task's first log line")
    assert parameters["source"] == "https://data.example/retail.csv"
    assert logged.endswith("; source: https://data.example/retail.csv")
    for secret in ("bob", "hunter2", "X-Amz-Signature", "abc123"):
        assert secret not in f"{parameters} {logged}"


def test_the_runs_log_names_its_lineage_page_first_and_last():
    """The lineage artifact is one card among a page per asset on the run's Artifacts tab,
    in no useful order; the Logs tab, where a reader of a run looks first, names it: in
    the run's first line after Prefect's own, above thousands of pixels of SQL, and again
    at the end, where a reader of a finished run scrolled to."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    def frame(context: Any) -> pd.DataFrame:
        return pd.DataFrame({"n": [1]})

    graph = make_graph(("ingest", (), frame), ("totals", ("ingest",), frame))
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    flow_run_id = uuid.UUID(report.flow_run_id)
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
    with get_client(sync_client=True) as client:

        def every_line() -> list[str] | None:
            logs = client.read_logs(log_filter=log_filter, limit=200, sort=LogSort.TIMESTAMP_ASC)
            lines = [log.message for log in logs]
            finished = sum(line.startswith("Finished in state") for line in lines)
            return lines if finished == len(report.outcomes) + 1 else None  # tasks' and flow's

        lines = wait_for(every_line, EVENT_WAIT, "the run's last log line")
    ours = [line for line in lines if not line.startswith("Beginning flow run")]
    url = f"/artifacts/artifact/{report.lineage_artifact_id}"
    assert ours[0].startswith("Lineage of this run: ") and ours[0].endswith(url), lines
    assert ours[-2].startswith("Lineage of this run: ") and ours[-2].endswith(url), lines
    assert sum(line.startswith("Lineage of this run") for line in lines) == 2


def test_a_foreseen_failure_is_logged_without_a_traceback_an_unforeseen_one_with_it():
    """An asset failing its checks, or on a bad source, says why in its own words; the
    run's Logs tab repeated it with the framework's traceback (four times, one a stack of
    resolver frames), which reads as a crash. A bug keeps its traceback there."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from orchestration.errors import ExpectedError

    class BadInput(ExpectedError, ValueError):
        pass

    def foreseen(context):
        raise BadInput("row 3: amount 'x' is not a number")

    def bug(context):
        raise KeyError("oops")

    graph = make_graph(("foreseen", (), foreseen), ("bug", (), bug))
    report = materialize(graph, {"warehouse": MemoryIOManager()})
    assert {o.key: o.status for o in report.outcomes} == {"foreseen": "failed", "bug": "failed"}
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(report.flow_run_id)]))
    with get_client(sync_client=True) as client:

        def both_finished() -> list[str] | None:
            lines = [log.message for log in client.read_logs(log_filter=log_filter, limit=200)]
            done = [line for line in lines if line.startswith("Finished in state Failed")]
            return lines if len(done) >= 2 else None

        lines = wait_for(both_finished, EVENT_WAIT, "both tasks' final log lines")
    about_foreseen = [line for line in lines if "amount 'x'" in line]
    assert about_foreseen and not any("Traceback" in line for line in about_foreseen), lines
    assert any("Traceback" in line and "KeyError" in line for line in lines), lines
