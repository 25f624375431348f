"""Asset pages link to their neighbours' newest pages, across runs of part of the graph.

A run writes a page version for each asset it materializes; the newest page of an asset
it did not touch was written by an earlier run and linked to its neighbours' pages of
that run. After a ``b+`` run those are no longer the newest, so a reader following a link
from ``a`` would land on ``b``'s superseded page and read an old "last materialization"
as current.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pandas as pd
import pytest

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.graph import AssetGraph
from orchestration.prefect_ui import (
    artifact_key_path,
    artifact_path,
    asset_page_key,
    flow_run_path,
)
from orchestration.resolver import materialize
from orchestration.run_review import RunReview
from tests.memory_io import MemoryIOManager, RememberingIOManager

pytestmark = pytest.mark.usefixtures("prefect_server")


def _frame(context: Any) -> pd.DataFrame:
    if context.spec.key == context.params.get("fail"):
        raise RuntimeError("no rows today")
    return pd.DataFrame({"n": [1, 2]})


def _chain() -> tuple[AssetGraph, list[str]]:
    """a -> b -> c, with keys of their own (pages are keyed by asset key server-wide)."""
    tag = uuid.uuid4().hex[:8]
    keys = [f"a_{tag}", f"b_{tag}", f"c_{tag}"]
    specs = [
        AssetSpec(
            key=key, table=f"t{tag}.{key}", body=_frame, kind="python", deps=tuple(keys[i - 1 : i])
        )
        for i, key in enumerate(keys)
    ]
    return AssetGraph(specs), keys


def _newest_pages(client: Any, keys: list[str]) -> dict[str, Any]:
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    wanted = {asset_page_key(key): key for key in keys}
    collections = client.read_latest_artifacts(
        artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=list(wanted)))
    )
    return {wanted[c.key]: c for c in collections}


def test_a_page_the_run_did_not_rewrite_links_to_the_neighbours_it_did():
    from prefect import get_client

    graph, (a, b, c) = _chain()
    io = {"warehouse": MemoryIOManager()}
    assert materialize(graph, io).ok
    with get_client(sync_client=True) as client:
        first = _newest_pages(client, [a, b, c])
    relinking = materialize(graph, io, f"key:{b}+")
    assert relinking.ok

    with get_client(sync_client=True) as client:
        newest = _newest_pages(client, [a, b, c])
    assert newest[a].latest_id == first[a].latest_id  # a was not materialized again
    assert newest[b].latest_id != first[b].latest_id
    page_of_a = newest[a].data
    for neighbour in (b, c):
        assert f"[{neighbour}]({artifact_path(newest[neighbour].latest_id)})" in page_of_a
        assert artifact_path(first[neighbour].latest_id) not in page_of_a
    # Its diagram's box of b opens b's new page too, as b's link in the list does.
    assert f'click {b} "{artifact_path(newest[b].latest_id)}"' in page_of_a
    # Its links now open another run's pages: it says so at its top, naming that run.
    version_line, note = page_of_a.split("\n\n")[1:3]
    assert version_line.startswith("**This version:** run [all assets](")
    assert re.fullmatch(
        rf"Since this version, run \[key:{b}\+\]\({flow_run_path(str(relinking.flow_run_id))}\) "
        r"rebuilt 2 assets this page links to "
        r"\(\d{4}\u2011\d\d\u2011\d\d\xa0\d\d:\d\d:\d\d\xa0UTC\): "
        r"their links now open that run's pages\.",
        note,
    ), note
    for rebuilt in (b, c):  # written by that run: nothing of theirs was updated
        assert "Since this version, run" not in newest[rebuilt].data


def test_a_relink_by_a_run_that_rebuilt_nothing_counts_what_it_did():
    """``b+`` with ``b`` failing rebuilds nothing: ``a``'s page, relinked to that run's
    pages of ``b`` and ``c``, says what it did to them, not that it rebuilt them."""
    from prefect import get_client

    graph, (a, b, _) = _chain()
    io = {"warehouse": RememberingIOManager()}
    assert materialize(graph, io).ok
    assert not materialize(graph, io, f"key:{b}+", params={"fail": b}).ok
    with get_client(sync_client=True) as client:
        page_of_a = _newest_pages(client, [a])[a].data
    assert "wrote new pages of 2 assets this page links to (0 rebuilt, 1 failed, 1 skipped; " in (
        page_of_a
    )
    assert "rebuilt some" not in page_of_a


def _versions_read(markdown: str) -> list[str]:
    """The list of the versions of its direct upstream a page's attempt read."""
    return markdown.split("**Versions read**", 1)[1].split("\n\n", 2)[1].split("\n")


def test_each_page_says_which_version_of_its_upstream_its_attempt_read(monkeypatch):
    """What was ``b`` built from? Its record names the materialization of ``a`` it read;
    its page says it: this run's, or the one an earlier run built, linking that version's
    page when it is the newest page the run found (no request of its own), else that run.
    The names of those runs come with the History's, in one request per run."""
    from prefect import get_client

    asked: list[list[str]] = []
    names = RunReview._run_names

    def counted(self: RunReview, run_ids: list[str]) -> dict[str, str]:
        asked.append(run_ids)
        return names(self, run_ids)

    monkeypatch.setattr(RunReview, "_run_names", counted)
    graph, (a, b, c) = _chain()
    io = {"warehouse": RememberingIOManager()}
    full = materialize(graph, io)
    assert full.ok
    with get_client(sync_client=True) as client:
        first = _newest_pages(client, [a])[a]
    assert materialize(graph, io, f"key:{b}+").ok
    with get_client(sync_client=True) as client:
        newest = _newest_pages(client, [b, c])
    full_run = flow_run_path(str(full.flow_run_id))
    (read_a,) = _versions_read(newest[b].data)
    assert re.fullmatch(
        rf"- \[{a}\]\({re.escape(artifact_path(first.latest_id))}\?tab=Artifact\): built "
        rf"\d{{4}}\u2011\d\d\u2011\d\d\xa0\d\d:\d\d:\d\d\xa0UTC by run \[all "
        rf"assets\]\({full_run}\)",
        read_a,
    ), read_a
    assert _versions_read(newest[c].data) == [
        f"- [{b}]({artifact_path(newest[b].latest_id)}?tab=Artifact): this run"
    ]
    # The full run read no earlier build; this one asked once for the name of the run
    # that built what it read.
    assert asked == [[str(full.flow_run_id)]]

    # a fails: its newest page is that failure's, not the version b reads.
    assert not materialize(graph, io, f"key:{a}", params={"fail": a}).ok
    assert materialize(graph, io, f"key:{b}").ok
    with get_client(sync_client=True) as client:
        (read_a,) = _versions_read(_newest_pages(client, [b])[b].data)
    assert read_a.startswith(f"- {a}: built ")
    assert read_a.endswith(
        f" by run [all assets]({full_run}) (its page: in that run's Artifacts tab)"
    )


def test_a_relinked_page_states_what_status_says_after_the_run():
    """Rebuilding ``a`` alone makes ``b`` stale; ``c`` reads ``b``, unchanged, so status
    calls it fresh (a stale asset does not make its descendants stale). Both pages are
    relinked to ``a``'s new page; each must state what ``pipeline status`` says now, not
    the "fresh" they were written with."""
    from prefect import get_client

    graph, (a, b, c) = _chain()
    io = {"warehouse": RememberingIOManager()}
    assert materialize(graph, io).ok
    assert materialize(graph, io, f"key:{a}").ok

    status = StateBook(graph, io).states
    assert (status[b].state, status[c].state) == ("stale", "fresh")
    with get_client(sync_client=True) as client:
        newest = _newest_pages(client, [a, b, c])
    assert f"| state | stale (upstream materialized since: {a})" in newest[b].data
    assert "| state after this run | fresh |" in newest[c].data  # as written: still true
    for key in (b, c):
        assert f"[{a}]({artifact_path(newest[a].latest_id)})" in newest[key].data


class WarehouseAt(RememberingIOManager):
    """A warehouse with a location of its own, as ``--warehouse`` gives a run."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self._location = location

    def location(self) -> str:
        return self._location


def _lineage_of(client: Any, flow_run_id: Any) -> str:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    (lineage,) = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            key=ArtifactFilterKey(any_=["asset-lineage"]),
        )
    )
    return str(lineage.data)


def test_a_run_relinks_and_restates_only_the_pages_of_its_own_warehouse():
    """Runs against two warehouses write versions of the same pages on one server. A run
    of ``a`` alone against ``here`` must leave the newest pages of ``b`` and ``c``, written
    against ``there``, as they were: in ``there`` nothing changed, so they are not stale
    and ``a``'s page of ``here`` is not theirs. Its own page says where it wrote and links
    ``b``'s version list rather than another warehouse's page; a run of ``a`` against
    ``there`` relinks and restates them as before."""
    from prefect import get_client

    graph, (a, b, c) = _chain()
    here, there = WarehouseAt("chdb:///srv/here"), WarehouseAt("chdb:///srv/there")
    assert materialize(graph, {"warehouse": here}).ok
    assert materialize(graph, {"warehouse": there}).ok
    with get_client(sync_client=True) as client:
        before = _newest_pages(client, [a, b, c])
    report = materialize(graph, {"warehouse": here}, f"key:{a}")
    assert report.ok
    with get_client(sync_client=True) as client:
        after = _newest_pages(client, [a, b, c])
        lineage = _lineage_of(client, report.flow_run_id)

    for key in (b, c):
        assert after[key].data == before[key].data
    assert "| state after this run | fresh |" in after[b].data
    assert "| warehouse | `chdb:///srv/here` |" in after[a].data
    assert f"[{b}]({artifact_key_path(asset_page_key(b))})" in after[a].data
    assert artifact_path(before[b].latest_id) not in after[a].data
    assert "\n\nWarehouse: `chdb:///srv/here`.\n\n" in lineage

    assert materialize(graph, {"warehouse": there}, f"key:{a}").ok
    with get_client(sync_client=True) as client:
        again = _newest_pages(client, [a, b, c])
    assert f"| state | stale (upstream materialized since: {a})" in again[b].data
    assert f"[{a}]({artifact_path(again[a].latest_id)})" in again[b].data


def test_each_version_of_a_page_says_which_warehouse_it_describes():
    """Prefect keeps every version of ``asset-<key>``, whichever warehouse a run wrote: the
    list of versions interleaved ``chdb:///tmp/a`` and ``chdb:///tmp/b`` with lines that
    did not say which was which. The key stays the asset's (links depend on it)."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    graph, (a, _, _) = _chain()
    server = "clickhouse://etl:s3cret@ch.internal:8123/?secure=false"
    for location in ("chdb:///tmp/a", server, "chdb:///tmp/a"):
        assert materialize(graph, {"warehouse": WarehouseAt(location)}, f"key:{a}").ok
    with get_client(sync_client=True) as client:
        versions = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[asset_page_key(a)]))
        )
    table = graph[a].table
    assert sorted(str(version.description) for version in versions) == [
        f"materialized, 2 rows: {table} in chdb:///tmp/a",
        f"materialized, 2 rows: {table} in chdb:///tmp/a",
        f"materialized, 2 rows: {table} in clickhouse://ch.internal:8123/",
    ]
