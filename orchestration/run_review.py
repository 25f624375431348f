"""What a run leaves for a reviewer in the Prefect UI, besides its run graph.

* the flow run says what it materializes: named after the selection (``fact_sales+``,
  ``all assets``), with ``select``/``source`` parameters and tags for the selection;
* each asset's task logs its SQL (or Python body and source), rows, validation and
  checks, so a task-run page tells what happened without opening Raw JSON;
* each asset the run reached writes a version of its page (``asset-<key>``): materialized,
  failed, or skipped since an upstream failed (that page says why, and when the table
  last materialized; a failed one, at the run's end, the step to take next), with the
  asset's last attempts, read for all its pages in one query per history store as the
  run begins;
* the run's ``asset-lineage`` artifact links every asset row to its page of this run,
  and every page of the run links it back: it is created as the run begins and filled in
  at its end, with the rows each unselected upstream table held as the run began
  (counted then, in one statement per warehouse).

All of it goes through the run's circuit breaker (:mod:`orchestration.api_outage`): once
the Prefect API stopped answering, nothing more is sent, and the run goes on without it.

Tags go on the flow run only. A task tag makes Prefect's task engine acquire a
concurrency slot for it (two API calls per task, see ``bench/tag_cost.py``); the flow
run's tags cost one update per run.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from orchestration.artifacts import (
    LINEAGE_ARTIFACT_KEY,
    lineage_description,
    lineage_markdown,
    next_line,
    unfinished_lineage_markdown,
)
from orchestration.asset import AssetSpec
from orchestration.asset_page import (
    HISTORY_ROWS,
    AssetPage,
    EarlierAttempts,
    Materialization,
    PageLinks,
    UpstreamRead,
    cell,
    linked_page,
    python_location,
    run_warehouses,
    shown_warehouse,
    state_cell,
    with_links_updated,
    with_relinked,
    with_state,
)
from orchestration.column_impact import uses_by_column
from orchestration.column_lineage import NOT_DERIVED, BackgroundColumnLineage
from orchestration.context import AssetContext, full_refresh_of, run_logger
from orchestration.fingerprint import chosen_source, run_sources
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord
from orchestration.io_manager import IOManager
from orchestration.prefect_ui import (
    absolute,
    artifact_key_path,
    artifact_path,
    asset_page_key,
    flow_run_path,
)
from orchestration.redaction import shown_source
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport, rows_phrase
from orchestration.staleness import AssetState

if TYPE_CHECKING:
    from orchestration.api_outage import ApiOutage

log = logging.getLogger("pipeline.pages")

ALL_ASSETS = "all assets"
#: The key of an asset page's metadata that names its warehouse (:func:`shown_warehouse`).
WAREHOUSE = "warehouse"
#: The states of some assets as ``pipeline status`` would report them now (a run's
#: :meth:`~orchestration.recording.RunLedger.states_now`).
StatesNow = Callable[[Iterable[str]], Mapping[str, AssetState]]
_SQL_LOG_CHARS = 20_000
#: Page rewrites in flight at a run's end (:meth:`RunReview.finish`): 27 rewrites took
#: 0.26 s two at a time, 0.40 s one at a time, 0.34 s three at a time (medians of 10
#: rounds against a busy server, docs/benchmark.md session 33); the server answers its
#: database writes one at a time, so more in flight only queue there.
REWRITERS = 2
#: Flow runs the API returns at most per request (Prefect's default limit).
_RUNS_PER_REQUEST = 200


@dataclass(frozen=True)
class _RecordsRead:
    """What a run reads for its pages as it begins: each selected asset's records before
    it (for its History; absent: none), and the names of the flow runs those records and
    the builds its assets read name, by run id (a run the server no longer has: none)."""

    earlier: dict[str, EarlierAttempts] = field(default_factory=dict)
    run_names: Mapping[str, str] = field(default_factory=dict)


def run_name(selection: str | None) -> str:
    """A flow run's name: what it materializes."""
    return selection.strip() if selection and selection.strip() else ALL_ASSETS


def run_name_from_parameters() -> str:
    """``flow_run_name`` callable: the name from the run's ``select`` parameter."""
    from prefect.runtime import flow_run

    return run_name(flow_run.parameters.get("select"))


def run_tags(plan: MaterializationPlan) -> list[str]:
    """Tags that let the Runs list filter by what a run materialized."""
    groups = sorted({spec.group for spec in plan.selected})
    return ["assets", f"select:{run_name(plan.selection)}", *(f"group:{g}" for g in groups)]


class RunReview:
    """Asset pages, task logs and page links of one run; safe to call from task threads."""

    def __init__(
        self,
        plan: MaterializationPlan,
        io_managers: Mapping[str, IOManager],
        params: Mapping[str, Any],
        outage: ApiOutage,
        states_now: StatesNow | None = None,
        history: Mapping[str, AssetHistory] | None = None,
    ) -> None:
        """``states_now`` re-assesses the assets outside the run whose pages it relinks;
        without it their pages keep the state they were written with. ``outage`` is the
        run's breaker, watching the client the run's engine shares with this: no page is
        sent once it tripped. ``history`` is every asset's as the run read it when it
        began: the lineage page says from it what each unselected upstream held (no
        query of its own)."""
        self.plan = plan
        self.outage = outage
        self.io_managers = io_managers
        #: Where each IO manager stores (:meth:`IOManager.location`): named on every page.
        self._locations = {name: io.location() for name, io in io_managers.items()}
        self.links = PageLinks()
        #: The newest pages before this run: those of assets it does not touch stay newest.
        self._pages_before: dict[str, UUID] = {}
        #: The flow run that wrote each of them, by asset key: a page of the build an asset
        #: reads is known without a request when it is its upstream's newest.
        self._page_runs: dict[str, str] = {}
        self._params = params
        self._states_now = states_now
        self._history = history or {}
        self._lock = threading.Lock()
        self._pages: dict[str, tuple[UUID, AssetPage, str]] = {}
        #: Each selected asset's records before this run, for its page's History, and the
        #: names of their runs and of those that built what the assets read, being read as
        #: the run begins (:meth:`_read_earlier`); an asset absent has no History.
        self._earlier: Future[_RecordsRead] | None = None
        #: The rows each unselected upstream table holds as the run begins, by asset key,
        #: being counted then (:meth:`_count_held`), for the lineage page.
        self._held: Future[dict[str, int]] | None = None
        self._columns = BackgroundColumnLineage()
        self._client: Any = None
        self._flow_run_id: str | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asset-pages")
        self._writes: list[Future[None]] = []
        #: Set when the review ends; an asset settling later (a run being stopped) gets no page.
        self._closed = False

    # --------------------------------------------------------------------- run level

    def __enter__(self) -> RunReview:
        """Start column lineage; tag the flow run and find the newest existing pages.

        Besides what it selected (:func:`run_tags`), the run is tagged with the warehouse it
        writes (``warehouse:chdb:///srv/warehouse``, shown as its pages show it): one server
        keeps the runs against every warehouse, named after their selection, and the Runs
        list tells them apart by this tag.

        One API client serves the whole run: Prefect's ``create_markdown_artifact`` builds
        a new client (and its TLS context) per call, 70 ms per page on a busy machine.

        The lineage page's first version is created here, before any asset starts, and
        the run's first log line names it (:meth:`_open_lineage`): one request (~10 ms)
        the first asset waits for. The tags and the newest pages are the page writer's
        first job: two round trips the first asset has no reason to wait for, and that
        come before any page.
        """
        from prefect import get_client
        from prefect.runtime import flow_run

        self._columns.start(self.plan.graph, self.plan.selected, self.io_managers, self._params)
        self._flow_run_id = flow_run.get_id()
        self._client = get_client(sync_client=True).__enter__()
        where = {f"warehouse:{w}" for w in self.warehouses()}
        tags = sorted(set(flow_run.tags) | set(run_tags(self.plan)) | where)
        # Run in the flow's context: the lineage page's "artifact created" event names the
        # flow run, and no task run.
        in_flow = _outside_any_task()
        self.outage.guard(in_flow.run, self._open_lineage)
        self._writes.append(
            self._writer.submit(self.outage.guard, in_flow.run, self._tag_run_and_find_pages, tags)
        )
        # Read beside the writer's first job, not after it: a run of a few small assets
        # waits at its end for the pages, which wait for both.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asset-history")
        self._earlier = reader.submit(self._read_earlier)
        self._held = reader.submit(self._count_held)
        reader.shutdown(wait=False)  # its one thread ends with the reads
        return self

    def _open_lineage(self) -> None:
        """Create the run's lineage page, filled in by :meth:`finish`, so that each page of
        the run links it as it is written, and log where it is: the lineage page is the
        run's map, and the flow run's Artifacts tab lists it among a page per asset, in no
        useful order, while its Logs tab, where a run opens, is the SQL of every asset.
        Logged before any asset starts, the line is the run's first after Prefect's own.

        Created at the end, its id came after every page: linking it then would have
        meant rewriting each page (a sink's page is otherwise sent once). This way a run
        sends one more request, here; its end sends a ``PATCH`` (~5 ms of server time) in
        place of the keyed ``POST`` (~13 ms). A run stopped before its end leaves the
        first version, which says so.
        """
        from prefect.client.schemas.actions import ArtifactCreate

        lineage = self._client.create_artifact(
            ArtifactCreate(
                key=LINEAGE_ARTIFACT_KEY,
                type="markdown",
                description=lineage_description(None),
                data=unfinished_lineage_markdown(self.plan),
                flow_run_id=UUID(self._flow_run_id) if self._flow_run_id else None,
            )
        )
        with self._lock:
            self.links.lineage = lineage.id
        _log_lineage(lineage.id)

    def _read_earlier(self) -> _RecordsRead:
        """Each selected asset's last records before this run, for its page's History:
        one query per history store for all of them (``LIMIT n BY asset_key``), then one
        request for the names of their flow runs and of the runs that built the tables
        the assets read (their pages name the version read); off the assets' path, before
        the first page. A store that cannot be read costs the pages their History, not
        the run (its assets' states were read from it already)."""
        records: dict[str, list[MaterializationRecord]] = {}
        for store, tables in self._stores().values():
            try:
                found = store.recent(tables, HISTORY_ROWS - 1, except_run=self._flow_run_id)
            except Exception as exc:  # a page's section is not worth the run
                log.warning("asset pages without History: %s", exc)
                continue
            if found is not None:
                records.update({key: found.get(key, []) for key in tables})
        runs = {r.run_id for found in records.values() for r in found if r.run_id}
        runs |= self._builds_read()
        names = (self.outage.guard(self._run_names, sorted(runs)) or {}) if runs else {}
        earlier = {key: EarlierAttempts(found, names) for key, found in records.items()}
        return _RecordsRead(earlier, names)

    def _builds_read(self) -> set[str]:
        """The flow runs whose builds the selected assets read, if not rebuilt: the
        materialization each upstream's table holds as the run begins."""
        deps = {dep for spec in self.plan.selected for dep in spec.deps}
        held = (self._history.get(dep, AssetHistory()).holding for dep in deps)
        return {record.run_id for record in held if record is not None and record.run_id}

    def _count_held(self) -> dict[str, int]:
        """The rows each unselected upstream table holds as the run begins, by asset key:
        its lineage page says what the run read, and the rows the table's build left are
        not that once rows were deleted or added outside the pipeline. One statement per
        IO manager for all its tables (:meth:`IOManager.row_counts`), none for a run
        without such upstream (a full run), off the assets' path. A count that fails costs
        the page its counts (it gives the builds' rows, saying so), not the run."""
        tables: dict[str, dict[str, str]] = {}
        for spec in self.plan.external:
            tables.setdefault(spec.io_manager, {})[spec.table] = spec.key
        held: dict[str, int] = {}
        for name, keys in tables.items():
            io_manager = self.io_managers.get(name)
            try:
                counted = io_manager.row_counts(keys) if io_manager is not None else {}
            except Exception as exc:  # a page's numbers are not worth the run
                log.warning("lineage page without the rows of the unselected upstream: %s", exc)
                continue
            held.update({keys[table]: rows for table, rows in counted.items() if table in keys})
        return held

    def _stores(self) -> dict[int, tuple[MaterializationHistory, dict[str, str]]]:
        """The history stores of the selected assets, each with its assets' tables by key."""
        stores: dict[int, tuple[MaterializationHistory, dict[str, str]]] = {}
        for spec in self.plan.selected:
            io_manager = self.io_managers.get(spec.io_manager)
            store = io_manager.history() if io_manager is not None else None
            if store is not None:
                stores.setdefault(id(store), (store, {}))[1][spec.key] = spec.table
        return stores

    def _run_names(self, run_ids: list[str]) -> dict[str, str]:
        """The names of the flow runs ``run_ids`` the server still has, by id."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        ids = [run_id for run_id in map(_uuid, run_ids) if run_id is not None]
        names: dict[str, str] = {}
        for start in range(0, len(ids), _RUNS_PER_REQUEST):
            chunk = ids[start : start + _RUNS_PER_REQUEST]
            runs = self._client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
            )
            names.update({str(run.id): run.name for run in runs})
        return names

    def _tag_run_and_find_pages(self, tags: list[str]) -> None:
        """Tag the run; take the newest page of each asset that was written against the
        warehouse this run writes that asset to (the ``warehouse`` of its metadata).

        The server keeps the pages of runs against every warehouse under the same keys. A
        newest page written against another one is not this warehouse's: the run's pages
        link that asset's version list instead, and its end leaves the page alone (its
        links and state are about the other warehouse). The newest pages come with their
        metadata, so telling costs no request; a page written before pages named their
        warehouse names none, and is left alone too.
        """
        from prefect.client.schemas.filters import (
            ArtifactCollectionFilter,
            ArtifactCollectionFilterKey,
        )

        keys = {asset_page_key(spec.key): spec.key for spec in self.plan.graph}
        self._client.update_flow_run(UUID(self._flow_run_id), tags=tags)
        latest = self._client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(
                key=ArtifactCollectionFilterKey(any_=list(keys))
            )
        )
        with self._lock:
            for collection in latest:
                key = keys[collection.key]
                here = shown_warehouse(self._location_of(self.plan.graph[key]))
                if (collection.metadata_ or {}).get(WAREHOUSE) == here:
                    self.links.versions[key] = collection.latest_id
                    if collection.flow_run_id:
                        self._page_runs[key] = str(collection.flow_run_id)
            self._pages_before = dict(self.links.versions)

    def warehouses(self) -> list[str]:
        """Where the run's tables are: its selected assets' and the upstream they read."""
        return run_warehouses(self.plan, self.io_managers)

    def _location_of(self, spec: AssetSpec) -> str | None:
        return self._locations.get(spec.io_manager)

    def finish(self, report: RunReport) -> UUID | None:
        """Rewrite the pages whose links changed; fill in the run's lineage artifact, whose
        id it returns (None once the API is gone: then neither is sent).

        A page is written when its asset finishes or is skipped, with its state (settled
        then: every upstream has finished), and links to the pages this run has written so
        far: its ancestors'. Its descendants' pages did not exist yet, so a page with
        descendants in this run is rewritten once all pages are written, to link their
        versions of this run; a page whose text is the same (a sink) is not sent again.
        So is the newest page of an asset outside the run that links a page this run
        superseded (see below). Each request waits on the server (~10 ms), after the last
        asset, two in flight at a time: that wait is what this run's review costs at its end.

        The rewrite is a plain ``PATCH``: Prefect's ``update_artifact`` also emits an
        ``artifact.updated`` event carrying the whole page, a second copy of every page
        (40% of a run's event bytes) for the server to receive and store. The lineage
        artifact, created as the run began (:meth:`_open_lineage`), is filled in the same
        way.
        """
        for job in self._writes:
            job.result()  # a page refused by the server fails the run, loudly
        # Rewriters send each rewrite while this thread renders the next: a request
        # waits on the server, rendering needs this process's CPU. Their order does not
        # matter (each is a page of its own), so :data:`REWRITERS` of them are in flight:
        # one at a time, a full run's 23 rewrites were the longest wait of its end. A
        # failed asset's page says the step the run's end names, under its error:
        # rewritten for it, if its links did not change (a failure with no descendant).
        rewriter = ThreadPoolExecutor(max_workers=REWRITERS, thread_name_prefix="page-rewrites")
        try:
            rewrites, lineage_page = self._send_rewrites(report, rewriter)
        except BaseException:
            rewriter.shutdown(wait=False, cancel_futures=True)  # as the writer's, in __exit__
            raise
        self._writer.shutdown(wait=True)
        rewriter.shutdown(wait=True)
        for job in rewrites:
            job.result()
        lineage = self.links.lineage  # None: the API was gone as the run began
        guard = self.outage.guard
        if lineage is None or guard(self._fill_lineage, lineage, lineage_page, report) is None:
            return None
        # Named again at the end of the Logs tab, where a reader of a finished run lands.
        _log_lineage(lineage)
        return lineage

    def _send_rewrites(
        self, report: RunReport, rewriter: ThreadPoolExecutor
    ) -> tuple[list[Future[Any]], str]:
        """Hand ``rewriter`` each page whose text changed; the lineage page's text."""
        guard = self.outage.guard
        step = next_line(self.plan, report)
        upstream = self._upstream_states()
        rewrites = [
            rewriter.submit(guard, self._rewrite_page, artifact_id, markdown)
            for artifact_id, page, written in self._pages.values()
            if (markdown := page.markdown(self.links, _step_of(page, step))) != written
        ]
        rewrites += [
            rewriter.submit(guard, self._rewrite_page, artifact_id, markdown)
            for artifact_id, markdown in guard(self._relinked_pages_outside_the_run, upstream) or []
        ]
        held = self._held.result() if self._held else {}
        sources = run_sources(self.plan.selected, self._params)
        return rewrites, lineage_markdown(
            self.plan, report, self.links, self._history, upstream, held, sources
        )

    def _upstream_states(self) -> dict[str, AssetState]:
        """The states of the unselected upstream as the run ends, for its lineage page: a
        selection reading a stale table builds on rows its code no longer makes. From the
        history the run keeps in memory; their code versions cost one DDL query per
        warehouse (none for a full run, which has no such upstream). A page's column is
        not worth the run: if they cannot be computed, the page has none."""
        if self._states_now is None or not self.plan.external:
            return {}
        try:
            return dict(self._states_now(spec.key for spec in self.plan.external))
        except Exception as exc:
            log.warning("lineage page without the states of the unselected upstream: %s", exc)
            return {}

    def _fill_lineage(self, lineage: UUID, markdown: str, report: RunReport) -> UUID:
        """The lineage page's final version, with the run's outcome as its description."""
        self._rewrite_page(lineage, markdown, lineage_description(report))
        return lineage

    def _relinked_pages_outside_the_run(
        self, upstream: Mapping[str, AssetState]
    ) -> list[tuple[UUID, str]]:
        """The newest pages of assets this run did not touch, relinked to its pages.

        Such a page was written by an earlier run and links its ancestors and descendants
        at their pages of that run; those this run rebuilt have a newer page now, and a
        reader following the old link would take a superseded "last materialization" for
        the current one. Each link to a rebuilt neighbour (to whichever of its versions the
        page links: with several warehouses, not always the newest on the server) is
        pointed at this run's page. Only the pages written against this run's warehouse
        are taken (see :meth:`_tag_run_and_find_pages`).
        Such a page says so under its version line, naming this run and when
        (:func:`with_links_updated`): clicking from it opens pages of another run than
        its own. Its state row is re-assessed when it reads an asset this run rebuilt,
        or restated when this run read its table and it was not fresh (``upstream``, the
        states of the unselected upstream as the run ended: see :meth:`_state_rows`); the
        rest of the page is kept as written (its own materialization has not changed).
        """
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

        graph = self.plan.graph
        rebuilt = set(self._pages)
        moved = {
            key: (self._pages_before.get(key), self._pages[key][0])
            for key in rebuilt
            if self._pages_before.get(key) != self._pages[key][0]
        }
        ancestors_of_moved = {key: graph.ancestors(key) for key in moved}
        stale: dict[UUID, tuple[str, list[str]]] = {}
        for key, page_id in self._pages_before.items():
            if key in rebuilt or key not in graph:
                continue
            own_ancestors = graph.ancestors(key)
            neighbours = [n for n in moved if n in own_ancestors or key in ancestors_of_moved[n]]
            if neighbours:
                stale[page_id] = (key, neighbours)
        if not stale:
            return []
        pages = self._client.read_artifacts(
            artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=list(stale))),
            limit=len(stale),
        )
        states = self._state_rows([key for key, _ in stale.values()], upstream)
        run, at = run_name(self.plan.selection), datetime.now(UTC)
        relinked = []
        for page in pages:
            markdown = written = str(page.data)
            key, neighbours = stale[page.id]
            for neighbour in neighbours:
                before, now = moved[neighbour]
                old = linked_page(markdown, neighbour) or (
                    artifact_path(before)
                    if before
                    else artifact_key_path(asset_page_key(neighbour))
                )
                markdown = with_relinked(markdown, neighbour, old, artifact_path(now))
            if markdown != written:
                reached = [self._pages[n][1].materialization.outcome for n in neighbours]
                markdown = with_links_updated(markdown, run, self._flow_run_id, at, reached)
            if key in states:
                markdown = with_state(markdown, states[key])
            if markdown != page.data:
                relinked.append((page.id, markdown))
        return relinked

    def _state_rows(
        self, outside: Iterable[str], upstream: Mapping[str, AssetState]
    ) -> dict[str, str]:
        """The state row, as of this run, of each asset outside it that reads one it
        rebuilt, or whose table it read while not fresh.

        Its state is judged on its own code, source and history, none of which the run
        touched, and on the latest materialization of each asset it reads: so only an
        asset reading one the run rebuilt can have changed state (typically turned stale:
        ``upstream materialized since``). The states come from the history the run keeps
        in memory (read once when it began), not from a query per asset; their code
        versions cost one DDL query per warehouse (30-45 ms in all for the 14 readers of
        ``psa_online_retails``, measured on a busy 2-core machine). A full run has none.

        An unselected upstream the run read is in ``upstream`` already, as the run ended
        (its lineage page says it): one its page calls ``fresh`` while its code changed
        since is restated (``stale (code changed ...) as of run ...``), at no cost.
        """
        if self._states_now is None:
            return {}
        graph = self.plan.graph
        rebuilt = {
            key
            for key, (_, page, _) in self._pages.items()
            if page.materialization.outcome.status != "skipped"  # its table is untouched
        }
        outside = list(outside)
        readers = [
            key for key in outside if rebuilt.intersection(graph[key].deps) and key not in upstream
        ]
        states = dict(self._states_now(readers)) if readers else {}
        states.update(
            {
                key: state
                for key, state in upstream.items()
                if key in outside
                and (state.state != "fresh" or rebuilt.intersection(graph[key].deps))
            }
        )
        if not states:
            return {}
        run = run_name(self.plan.selection)
        as_of = (
            f"as of run [{cell(run)}]({flow_run_path(self._flow_run_id)})"
            if self._flow_run_id
            else f"as of run {cell(run)}"
        )
        return {
            key: f"{state_cell(state.state, state.said())} {as_of}" for key, state in states.items()
        }

    def _rewrite_page(
        self, artifact_id: UUID, markdown: str, description: str | None = None
    ) -> None:
        """A page's new text (and ``description``, if given: else it keeps its own)."""
        from prefect.client.schemas.actions import ArtifactUpdate

        update = ArtifactUpdate(data=markdown, description=description)
        self._client.request(  # Prefect's client raises on an error status
            "PATCH",
            "/artifacts/{id}",
            path_params={"id": artifact_id},
            json=update.model_dump(mode="json", exclude_none=True),
        )

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._closed = True
        self._writer.shutdown(wait=False, cancel_futures=True)
        self._columns.stop()
        if self._client is not None:
            self._client.__exit__(*exc_info)
            self._client = None

    # --------------------------------------------------------------------- asset level

    def sql_of(self, spec: AssetSpec, context: AssetContext) -> str | None:
        """A SQL asset's SELECT for the log and the page.

        Rendering it here is a second call of the body, cheap and without side effects;
        should the body fail, the materialization fails on the same error and says so.
        """
        if spec.kind != "sql":
            return None
        try:
            return str(spec.body(context))
        except Exception as exc:
            return f"-- the SQL could not be rendered: {type(exc).__name__}: {exc}"

    def log_start(self, spec: AssetSpec, sql: str | None, params: Mapping[str, Any]) -> None:
        logger = run_logger()
        if sql is not None:
            text = sql if len(sql) <= _SQL_LOG_CHARS else sql[:_SQL_LOG_CHARS] + "\n-- (cut)"
            logger.info("%s -> %s, SQL:\n%s", spec.key, spec.table, text.strip())
        else:
            source = shown_source(params.get("source"))
            logger.info(
                "%s -> %s, Python: %s%s",
                spec.key,
                spec.table,
                python_location(spec),
                f"; source: {source}" if source else "",
            )

    def asset_finished(self, spec: AssetSpec, outcome: AssetOutcome, sql: str | None) -> None:
        """Log the outcome on the task run; hand its page to the page writer.

        Writing a page is an API call (tens of ms on a busy server) and may wait for the
        asset's column lineage: neither should hold up the assets downstream, so one
        writer thread writes the pages, in the order their assets finished.
        """
        from prefect.runtime import task_run

        _log_outcome(spec, outcome)
        finished = datetime.now(UTC)
        # Written in this task's context: the page's "artifact created" event takes its
        # related task run from the context it is sent in, not from the artifact.
        in_task = contextvars.copy_context()
        with self._lock:
            if self._closed:
                return  # the run was stopped (it is marked as a whole instead)
            job = self._writer.submit(
                self.outage.guard,
                in_task.run,
                self._write_page,
                spec,
                outcome,
                sql,
                task_run.get_id(),
                finished,
            )
            self._writes.append(job)

    def _write_page(
        self,
        spec: AssetSpec,
        outcome: AssetOutcome,
        sql: str | None,
        task_run_id: str | None,
        finished: datetime,
    ) -> None:
        from prefect.client.schemas.actions import ArtifactCreate

        lineage = self._columns.result(spec.key)
        warehouse = self._location_of(spec)
        columns = self._columns_of(spec)
        downstream = self._columns.downstream_of(spec.key)
        read = self._earlier.result() if self._earlier else _RecordsRead()
        page = AssetPage(
            spec=spec,
            graph=self.plan.graph,
            materialization=Materialization(
                outcome=outcome,
                flow_run_id=self._flow_run_id,
                run_name=run_name(self.plan.selection),
                finished=finished,
                warehouse=warehouse,
                source=chosen_source(spec.fingerprint, self._params),
            ),
            columns=columns,
            column_sources=lineage.columns if lineage else None,
            column_note=lineage.origin if lineage else NOT_DERIVED,
            column_ends=self._columns.ends(spec.key),
            column_uses=uses_by_column(downstream, spec.table, [name for name, _ in columns]),
            sql=sql,
            unpublished=self._unpublished(spec, outcome, sql),
            query_options=self.io_managers[spec.io_manager].read_only_options,
            earlier=read.earlier.get(spec.key),
            reads=self._upstream_reads(spec, outcome, read.run_names),
        )
        with self._lock:
            markdown = page.markdown(self.links)
        artifact = self._client.create_artifact(
            ArtifactCreate(
                key=page.key,
                type="markdown",
                description=page.description(),
                data=markdown,
                metadata_=({WAREHOUSE: shown} if (shown := shown_warehouse(warehouse)) else None),
                flow_run_id=UUID(self._flow_run_id) if self._flow_run_id else None,
                task_run_id=UUID(task_run_id) if task_run_id else None,
            )
        )
        with self._lock:
            self.links.versions[spec.key] = artifact.id
            self._pages[spec.key] = (artifact.id, page, markdown)

    def _upstream_reads(
        self, spec: AssetSpec, outcome: AssetOutcome, run_names: Mapping[str, str]
    ) -> list[UpstreamRead] | None:
        """The version of each direct upstream the attempt read, as its record names it,
        for those whose storage keeps a history (else no build is ever recorded); None if
        it read none (skipped)."""
        if outcome.upstream_read is None:
            return None
        return [
            self._read_of(dep, outcome.upstream_read.get(dep), run_names)
            for dep in spec.deps
            if self._keeps_history(dep)
        ]

    def _read_of(self, dep: str, read: str | None, run_names: Mapping[str, str]) -> UpstreamRead:
        """The materialization ``read`` of ``dep``: the one its table held as the run began
        (from the history read then), or else this run's (the run's only way to change
        what a table holds). Its page is the upstream's newest page found as the run began
        if that run wrote it: an older version would take a request per upstream, so the
        page says where it is instead."""
        if read is None:
            return UpstreamRead(dep)
        built = self._history.get(dep, AssetHistory()).holding
        if built is None or built.materialization_id != read:
            return UpstreamRead(dep, this_run=True)
        own_page = built.run_id is not None and self._page_runs.get(dep) == built.run_id
        page = self._pages_before.get(dep) if own_page else None
        return UpstreamRead(dep, built, run_names.get(built.run_id or ""), page)

    def _keeps_history(self, key: str) -> bool:
        io_manager = self.io_managers.get(self.plan.graph[key].io_manager)
        return io_manager is not None and io_manager.history() is not None

    def _unpublished(self, spec: AssetSpec, outcome: AssetOutcome, sql: str | None) -> str | None:
        """What a SQL asset's table would hold had its checks not stopped the publish, as
        its storage selects it again: the rows they found, which no table holds."""
        if sql is None or not outcome.checks_stopped_its_publish:
            return None
        io_manager = self.io_managers[spec.io_manager]
        return io_manager.unpublished_select(spec, sql, full_refresh=full_refresh_of(self._params))

    def _columns_of(self, spec: AssetSpec) -> list[tuple[str, str]]:
        """The table's columns and types from the warehouse, else from the schema."""
        try:
            return self.io_managers[spec.io_manager].describe(spec.table)
        except NotImplementedError:
            return _schema_columns(spec)


def _step_of(page: AssetPage, step: str | None) -> str | None:
    """The run's next step, for the page of an attempt that failed (or was cancelled): it
    names the command that builds what the run left undone, this asset among them."""
    status = page.materialization.outcome.status
    return step if status not in ("materialized", "skipped") else None


def _uuid(text: str) -> UUID | None:
    """``text`` as a flow run id; None if it is none (a record written outside Prefect)."""
    try:
        return UUID(text)
    except ValueError:
        return None


def _outside_any_task() -> contextvars.Context:
    """A copy of this context in which no task run is current, said explicitly.

    Prefect's event sender relates an event to the task run current where it was sent
    or, where none was ever set, to the one current where the sender was started: in a
    run, its first task's. The flow's thread never sets one, so the lineage artifact's
    "artifact created" event named the run's first task in the UI's event feed; an
    explicit None is taken as it is.
    """
    from prefect.context import TaskRunContext

    # Typed as never holding None, though TaskRunContext.get() reads None as "no task run".
    current = cast("contextvars.ContextVar[TaskRunContext | None]", TaskRunContext.__var__)
    context = contextvars.copy_context()
    context.run(current.set, None)
    return context


def _schema_columns(spec: AssetSpec) -> list[tuple[str, str]]:
    if spec.schema is None or not hasattr(spec.schema, "to_schema"):
        return []
    columns = spec.schema.to_schema().columns
    return [(name, str(column.dtype)) for name, column in columns.items()]


def _log_lineage(lineage: UUID) -> None:
    """Name the run's lineage page on its Logs tab, whole (a click opens it)."""
    where = artifact_path(lineage)
    run_logger().info("Lineage of this run: %s", absolute(where) or where)


def materialized_line(spec: AssetSpec, outcome: AssetOutcome) -> str | None:
    """The task log's line for a materialized asset: the schema it passed, how long that
    took and which checks ran in Pandera rather than in ClickHouse (the slow way), then
    rows, table and seconds. None if nothing was materialized."""
    result = outcome.result
    if result is None:
        return None
    inserted = result.inserted_rows if result.inserted_rows is not None else result.rows
    validation = result.metadata.get("validation_seconds")
    in_pandera = result.metadata.get("checks_in_pandera") or []
    schema = getattr(spec.schema, "__name__", None)
    return "validation passed{}{}{}; {} in {}, {:,} inserted by this run, {:.2f} s".format(
        f" against {schema}" if schema else "",
        f" in {validation:.3f} s" if isinstance(validation, int | float) else "",
        f" ({len(in_pandera)} in Pandera, not in ClickHouse: {'; '.join(in_pandera)})"
        if in_pandera
        else "",
        rows_phrase(result.rows),
        spec.table,
        inserted,
        outcome.seconds,
    )


def _log_outcome(spec: AssetSpec, outcome: AssetOutcome) -> None:
    logger = run_logger()
    line = materialized_line(spec, outcome)
    if line is not None:
        logger.info("%s", line)
    for check in outcome.checks:
        level = logging.INFO if check.passed else logging.WARNING
        if check.blocking:
            level = logging.ERROR
        logger.log(level, "%s", check.summary())
    if outcome.status == "failed" and outcome.error:
        # In full: the Logs tab, and the terminal with --verbose, are where detail goes.
        logger.error("%s failed: %s", spec.key, outcome.error_in_full)
    elif outcome.status == "cancelled":
        logger.warning("%s cancelled (%s)", spec.key, outcome.error or "interrupted")
    elif outcome.status == "skipped":
        # Prefect's own "Finished in state Skipped(...)" names no asset on the Logs tab.
        logger.info("%s skipped: %s", spec.key, outcome.error or "upstream failed")
