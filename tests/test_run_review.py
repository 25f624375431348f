"""What a run writes for review while it runs, against a real (temporary) Prefect server.

An asset's page is complete when its asset finishes (its state included), and the run
sends a page again at its end only when its links changed: each request after the last
asset is time the user waits for.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from orchestration.artifacts import LINEAGE_ARTIFACT_KEY
from orchestration.prefect_ui import asset_page_key
from orchestration.resolver import materialize
from tests.lineage_markdown import artifact_rows
from tests.memory_io import MemoryIOManager, RememberingIOManager
from tests.test_resolver import make_graph

pytestmark = pytest.mark.usefixtures("prefect_server")


def _pages(flow_run_id: str, key: str | None = None) -> list[Any]:
    """The run's artifacts (``key``'s only, if given), read from the server."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(flow_run_id)]),
        key=ArtifactFilterKey(any_=[asset_page_key(key)]) if key else None,
    )
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=artifact_filter)


def _frame(context: Any) -> pd.DataFrame:
    return pd.DataFrame({"n": [1, 2]})


def test_a_page_shows_its_state_as_soon_as_its_asset_finished():
    """A reviewer watching a run sees a finished asset's state on its page at once; the
    downstream asset reads the page from the server while the run is still going."""
    seen: dict[str, str] = {}

    def downstream(context: Any) -> pd.DataFrame:
        deadline = time.monotonic() + 30
        while not (pages := _pages(context.run_id, "upstream")):
            assert time.monotonic() < deadline, "the upstream page was never written"
            time.sleep(0.2)
        seen["upstream"] = pages[0].data
        return _frame(context)

    graph = make_graph(("upstream", (), _frame), ("downstream", ("upstream",), downstream))
    report = materialize(graph, {"warehouse": MemoryIOManager()})

    assert report.ok
    assert "| state after this run | fresh |" in seen["upstream"]
    assert "| code version |" in seen["upstream"]
    assert "## History" not in seen["upstream"]  # its storage keeps no history


def test_only_pages_whose_links_changed_are_sent_again_at_the_end():
    """``first`` feeds ``second``: its page, written before ``second``'s existed, is
    rewritten at the end to link that page. ``second`` links no page written after its
    own: it stays as first written, though the run ends well after it."""

    def slow(context: Any) -> pd.DataFrame:
        time.sleep(1.5)  # the run ends well after the other pages were written
        return _frame(context)

    graph = make_graph(("first", (), _frame), ("second", ("first",), _frame), ("slow", (), slow))
    report = materialize(graph, {"warehouse": MemoryIOManager()}, concurrency=3)

    assert report.ok
    pages = {page.key: page for page in _pages(str(report.flow_run_id))}
    first, second = pages[asset_page_key("first")], pages[asset_page_key("second")]
    assert f"[second](/v2/artifacts/artifact/{second.id})" in first.data
    assert (first.updated - first.created).total_seconds() > 1.0  # rewritten at the end
    assert (second.updated - second.created).total_seconds() < 0.5


def test_the_lineage_card_in_artifact_lists_starts_with_the_outcome():
    """Prefect's artifact cards cut a description at ~40 characters: the run's outcome
    comes first, so a failed run's card says so."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    def broken(context: Any) -> pd.DataFrame:
        raise ValueError("no rows today")

    graph = make_graph(("broken", (), broken), ("after", ("broken",), _frame))
    report = materialize(graph, {"warehouse": MemoryIOManager()})

    assert not report.ok
    run_filter = ArtifactFilterFlowRunId(any_=[uuid.UUID(str(report.flow_run_id))])
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=run_filter))
    (lineage,) = [a for a in artifacts if a.key == LINEAGE_ARTIFACT_KEY]
    assert lineage.description == "0 materialized, 1 failed, 1 skipped: this run's asset lineage"


def _raw(context: Any) -> pd.DataFrame:
    if context.params.get("fail"):
        raise RuntimeError("line 3, column 'Quantity': not a number: 'six'")
    return _frame(context)


def test_a_failed_attempts_page_says_when_its_table_was_last_materialized():
    """A reviewer of a failed run looks first for what the table holds now and since when:
    its page names this run's attempt as such, and the last success (finished, rows, run),
    or that there was none."""
    graph = make_graph(("raw", (), _raw), ("staged", ("raw",), _frame))
    io = RememberingIOManager()
    never = materialize(graph, {"warehouse": io}, params={"fail": True})
    (page,) = _pages(str(never.flow_run_id), "raw")
    assert "## This run: failed\n" in page.data
    assert (
        "Last successful materialization: none, never materialized in this warehouse.\n"
    ) in page.data

    first = materialize(graph, {"warehouse": io})
    assert first.ok
    failed = materialize(graph, {"warehouse": io}, params={"fail": True})
    (page,) = _pages(str(failed.flow_run_id), "raw")
    (success,) = [
        r for r in io.history().records.values()
        if r.asset_key == "raw" and r.status == "materialized"
    ]  # fmt: skip
    assert success.run_id == first.flow_run_id and success.ended is not None
    assert "## This run: failed\n" in page.data
    assert "| unchanged |" not in page.data
    assert " | 2 | - | " in page.data  # rows in table: what the last success left
    assert (
        f"Last successful materialization: finished "
        f"{success.ended:%Y\u2011%m\u2011%d\xa0%H:%M:%S}\xa0UTC, "
        f"2 rows left in the table, by [its flow run](/v2/runs/flow-run/{first.flow_run_id}).\n"
    ) in page.data


def test_a_skipped_asset_gets_a_page_of_this_run_that_says_why():
    """A reviewer of a failed run follows its links to an asset the failure held back: they
    land on that asset's page of this run, which says it was skipped, because of which
    failed upstream, and when the table last materialized; not on the last run's page,
    whose "This run: materialized" read as this run's doing."""
    graph = make_graph(
        ("raw", (), _raw), ("staged", ("raw",), _frame), ("mart", ("staged",), _frame)
    )
    io = RememberingIOManager()
    first = materialize(graph, {"warehouse": io})
    failed = materialize(graph, {"warehouse": io}, params={"fail": True})
    assert [o.status for o in failed.outcomes] == ["failed", "skipped", "skipped"]

    run = str(failed.flow_run_id)
    (raw,), (staged,), (mart,) = (_pages(run, key) for key in ("raw", "staged", "mart"))
    assert "## This run: skipped\n" in staged.data
    assert staged.description == f"skipped: {graph['staged'].table}"
    assert staged.task_run_id is not None  # on the skipped task run's Artifacts tab too
    assert (
        f"Skipped: upstream [raw](/v2/artifacts/artifact/{raw.id}) failed in this run, "
        "so this run left the table as it was.\n"
    ) in staged.data
    assert f"by [its flow run](/v2/runs/flow-run/{first.flow_run_id}).\n" in staged.data
    # Every link of the run to a skipped asset leads to its page of this run.
    assert f"[staged](/v2/artifacts/artifact/{staged.id})" in raw.data
    assert f"[mart](/v2/artifacts/artifact/{mart.id})" in staged.data
    (lineage,) = [p for p in _pages(run) if p.key == LINEAGE_ARTIFACT_KEY]
    rows = artifact_rows(lineage.data)
    assert rows["staged"][0] == f"/v2/artifacts/artifact/{staged.id}"
    assert rows["mart"][0] == f"/v2/artifacts/artifact/{mart.id}"


class _LocatedIOManager(MemoryIOManager):
    """Memory tables that say where they are, as a warehouse's IO manager does."""

    def location(self) -> str | None:
        return "chdb:///srv/warehouse"


def test_the_run_is_tagged_with_its_warehouse():
    """One Prefect server keeps the runs against every warehouse, all named after their
    selection: the Runs list tells them apart, and filters them, by this tag."""
    from prefect import get_client

    graph = make_graph(("only", (), _frame))
    report = materialize(graph, {"warehouse": _LocatedIOManager()})

    assert report.ok
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(uuid.UUID(str(report.flow_run_id)))
    assert "warehouse:chdb:///srv/warehouse" in flow_run.tags


def test_every_page_of_a_run_links_the_runs_lineage(tmp_path):
    """An asset page leads back to its run's lineage page, which the flow run's Artifacts
    tab lists among a page per asset: a page written as its asset finished links it too
    (``summary``, a sink, is not sent again at the end), and the run has one lineage page,
    its final one."""
    from io_managers import ClickHouseIOManager
    from tests.checks_location import defs

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(defs.ddl_paths)
        report = materialize(defs.graph(), {"warehouse": warehouse}, "readings+")

    assert report.ok
    artifacts = {page.key: page for page in _pages(str(report.flow_run_id))}
    assert sorted(artifacts) == ["asset-lineage", "asset-readings", "asset-summary"]
    lineage = artifacts[LINEAGE_ARTIFACT_KEY]
    assert str(lineage.id) == report.lineage_artifact_id
    assert lineage.description == "2 materialized: this run's asset lineage"
    assert artifact_rows(lineage.data)["summary"][0] == (
        f"/v2/artifacts/artifact/{artifacts['asset-summary'].id}"
    )
    link = f"([its lineage](/v2/artifacts/artifact/{lineage.id}))"
    for key in ("asset-readings", "asset-summary"):
        assert link in artifacts[key].data.split("\n\n")[1], key  # under the title
    summary = artifacts["asset-summary"]
    assert (summary.updated - summary.created).total_seconds() < 0.5  # not sent again


def test_a_selection_runs_lineage_says_what_each_unselected_upstream_held(tmp_path):
    """``summary`` alone reads ``readings`` as it is: its row in the lineage table gives
    the rows the table held and the run that built it (linked, with its time), from the
    history the run read as it began, where it gave ``-`` in every column."""
    from io_managers import ClickHouseIOManager
    from orchestration.prefect_ui import flow_run_path
    from tests.checks_location import defs

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(defs.ddl_paths)
        built = materialize(defs.graph(), {"warehouse": warehouse}, "readings")
        report = materialize(defs.graph(), {"warehouse": warehouse}, "summary")

    assert built.ok and report.ok
    (lineage,) = [p for p in _pages(str(report.flow_run_id)) if p.key == LINEAGE_ARTIFACT_KEY]
    readings = artifact_rows(lineage.data)["readings"]
    assert readings[1:3] == ["chk.readings", "2"]
    built_at = re.fullmatch(
        rf"\[(.+)\]\({re.escape(flow_run_path(str(built.flow_run_id)))}\)", readings[3]
    )
    assert built_at, readings[3]
    (page,) = _pages(str(built.flow_run_id), "readings")
    assert f"**This version:** run [readings]({flow_run_path(str(built.flow_run_id))})" in page.data
    shown = built_at.group(1).replace("\u2011", "-")  # the date's non-breaking hyphens
    assert abs((datetime.fromisoformat(shown + "+00:00") - page.created).seconds) < 5


def test_a_selection_runs_page_names_the_raw_columns_of_its_unselected_ancestors(tmp_path):
    """``mart`` alone: its ancestors are not in the run, yet its page gives each column
    the raw columns its chain ends in, two assets up, or says in words where the chain
    stops (at a Python asset that declares no column lineage)."""
    from io_managers import ClickHouseIOManager
    from tests.chain_location import defs

    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(defs.ddl_paths)
        everything = materialize(defs.graph(), {"warehouse": warehouse})
        alone = materialize(defs.graph(), {"warehouse": warehouse}, "mart")

    assert everything.ok and alone.ok
    (raw,) = _pages(str(everything.flow_run_id), "raw")
    for run in (everything, alone):
        (page,) = _pages(str(run.flow_run_id), "mart")
        rows = {line.split(" | ")[0]: line for line in page.data.splitlines()}
        assert rows["| total_amount"].endswith(
            f"| [chain.raw](/v2/artifacts/artifact/{raw.id}): Quantity, UnitPrice |"
        ), rows["| total_amount"]
        assert "| unknown past [chain.notes.note](/v2/artifacts/artifact/" in rows["| note"]
        assert rows["| note"].endswith(
            "(not derived: a Python asset that declares no column lineage) |"
        ), rows["| note"]


def _history_rows(markdown: str) -> tuple[str, list[list[str]]]:
    """A page's History section: its "Since ..." line, and its table's rows as cells."""
    since, _, _header, _rule, *rows = (
        markdown.split("## History\n\n", 1)[1].split("\n\n## ", 1)[0].split("\n")
    )
    return since, [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_each_page_lists_its_assets_last_attempts_read_in_one_query_per_run(tmp_path, monkeypatch):
    """The versions of a page tell apart only by time: each page lists its asset's last
    attempts, newest first (this version's marked), each linking its run by name, and
    says what changed since the previous one. The run reads them for all its pages in one
    query as it begins, not one per page."""
    from io_managers import ClickHouseIOManager
    from io_managers.history import ClickHouseHistory
    from orchestration.prefect_ui import flow_run_path
    from tests.checks_location import defs

    asked: list[list[str]] = []
    recent = ClickHouseHistory.recent

    def counted(self: ClickHouseHistory, tables: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(sorted(tables))
        return recent(self, tables, *args, **kwargs)

    monkeypatch.setattr(ClickHouseHistory, "recent", counted)
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        warehouse.setup(defs.ddl_paths)
        first = materialize(defs.graph(), {"warehouse": warehouse}, "readings+")
        monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")  # readings fails its checks
        failed = materialize(defs.graph(), {"warehouse": warehouse}, "readings+")
        monkeypatch.delenv("CHK_READINGS_TOO_HIGH")
        last = materialize(defs.graph(), {"warehouse": warehouse}, "readings+")

    assert (first.ok, failed.ok, last.ok) == (True, False, True)
    assert asked == [["readings", "summary"]] * 3
    since, rows = _history_rows(_pages(str(last.flow_run_id), "readings")[0].data)
    assert since.startswith("Since the previous materialization (")
    # Its checks stopped the failed run's publish: it left the table as it was.
    assert since.endswith("\xa0UTC, failed): code version unchanged; rows unchanged (2).")
    runs = [f"[readings+]({flow_run_path(str(r.flow_run_id))})" for r in (last, failed, first)]
    assert [row[0] for row in rows] == [f"**{runs[0]}** (this version)", *runs[1:]]
    assert [row[2] for row in rows] == ["**materialized**", "✗ failed", "materialized"]
    assert [row[3] for row in rows] == ["**2**", "unchanged", "2"]
    # The failed run skipped summary: its page of that run says so, after its success.
    since, rows = _history_rows(_pages(str(failed.flow_run_id), "summary")[0].data)
    assert since.endswith("\xa0UTC, materialized): code version unchanged; table left as it was.")
    assert [row[2:4] for row in rows] == [["**skipped**", "**unchanged**"], ["materialized", "1"]]


def test_the_ingest_assets_page_names_the_source_the_run_read_and_its_rows(tmp_path, monkeypatch):
    """A run given no ``--source`` reads ``$ONLINE_RETAIL_DATA_URL`` (else the default
    generator): the raw asset's page said nothing of it. It names the source the run
    read, what chose it, and the rows read; the PSA, which reads no source, names none."""
    from orchestration.definitions import load_definitions

    monkeypatch.setenv("ONLINE_RETAIL_DATA_URL", "synthetic:40")
    defs = load_definitions("assets")
    with defs.open_io_managers(f"chdb://{tmp_path / 'warehouse'}") as io_managers:
        selection = "key:raw_online_retails or key:psa_online_retails"
        report = materialize(defs.graph(), io_managers, selection, params={})
    assert report.ok, report.outcomes
    (raw,) = _pages(str(report.flow_run_id), "raw_online_retails")
    this_run = raw.data.split("## This run: materialized", 1)[1].split("\n## ", 1)[0]
    assert "\nSource: `synthetic:40` (from `$ONLINE_RETAIL_DATA_URL`); 40 rows read.\n" in this_run
    (staged,) = _pages(str(report.flow_run_id), "psa_online_retails")
    assert "Source:" not in staged.data
