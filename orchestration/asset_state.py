"""What holds now, gathered once per command: code versions, fingerprints, history.

:class:`StateBook` asks each IO manager for its tables' definitions and its materialization
history, computes every asset's code version and source fingerprint for the run's
parameters, and hands them to the pure rules in :mod:`orchestration.staleness`. It is
lazy and caches: a selection without ``status:`` and a backend without history cost
nothing more than the version hashing the run records anyway.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.code_version import code_version
from orchestration.errors import RebuildRequired
from orchestration.fingerprint import unavailable
from orchestration.graph import AssetGraph
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord
from orchestration.io_manager import IOManager, TableOutlook
from orchestration.staleness import AssetState, StateName, assess


class StateBook:
    """Current code versions, fingerprints, history and states of one graph's assets.

    Assets whose IO manager the command was not given are left out (no state).
    """

    def __init__(
        self,
        graph: AssetGraph,
        io_managers: Mapping[str, IOManager],
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.graph = graph
        self.io_managers = io_managers
        self.params = dict(params or {})
        self._fingerprints: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._versions: dict[str, str] = {}
        self._versions_lock = threading.Lock()
        self._prefetch: Future[dict[str, str]] | None = None
        #: What :meth:`_outlooks_of` was told of each asset asked (None: nothing).
        self._outlooks: dict[str, TableOutlook | None] = {}

    def io_manager(self, spec: AssetSpec) -> IOManager:
        return self.io_managers[spec.io_manager]

    def _specs_by_io_manager(self) -> dict[str, list[AssetSpec]]:
        grouped: dict[str, list[AssetSpec]] = {}
        for spec in self.graph:
            if spec.io_manager in self.io_managers:
                grouped.setdefault(spec.io_manager, []).append(spec)
        return grouped

    @property
    def code_versions(self) -> dict[str, str]:
        """Every asset's code version (what ``status`` and ``status:`` selections need);
        :meth:`code_versions_of` keeps them, so this computes each once."""
        return self.code_versions_of(spec.key for spec in self.graph)

    def prefetch_code_versions(self, keys: Iterable[str]) -> None:
        """Start computing the code versions of ``keys`` on a side thread.

        A run records them when its first asset starts: 0.2 s on the critical path of a
        busy machine. Started before the flow run is created, the work overlaps Prefect's
        API round trips instead. A failure is raised by the :meth:`code_versions_of`
        call that first needs the versions, as if it had computed them itself.
        """
        wanted = list(keys)
        prefetch: Future[dict[str, str]] = Future()

        def compute() -> None:
            try:
                prefetch.set_result(self._computed_versions(wanted))
            except BaseException as exc:  # handed to the caller that needs the versions
                prefetch.set_exception(exc)

        self._prefetch = prefetch
        threading.Thread(target=compute, name="code-versions", daemon=True).start()

    def code_versions_of(self, keys: Iterable[str]) -> dict[str, str]:
        """The code versions of ``keys``, each computed once, the missing ones together.

        A version renders the asset's SQL, builds its Pandera schema and reads its DDL
        (0.1 s of CPU for the shipped 27 assets): a run needs its selected assets' only.
        """
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.result()  # waits for it; raises what it raised
        return self._computed_versions(keys)

    def _computed_versions(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = [self.graph[key] for key in dict.fromkeys(keys)]
        with self._versions_lock:
            missing: dict[str, list[AssetSpec]] = {}
            for spec in wanted:
                if spec.key not in self._versions and spec.io_manager in self.io_managers:
                    missing.setdefault(spec.io_manager, []).append(spec)
            for specs in missing.values():
                io_manager = self.io_manager(specs[0])
                ddl = io_manager.table_definitions([spec.table for spec in specs])
                for spec in specs:
                    self._versions[spec.key] = code_version(
                        spec, io_manager, self.params, ddl.get(spec.table)
                    )
            return {
                spec.key: self._versions[spec.key] for spec in wanted if spec.key in self._versions
            }

    def fingerprint_of(self, spec: AssetSpec) -> str | None:
        """The source fingerprint of one asset (taken once), so a run that does not select
        the ingest asset never asks its source (a URL costs a request)."""
        if spec.fingerprint is None:
            return None
        with self._lock:
            if spec.key not in self._fingerprints:
                try:
                    found = spec.fingerprint(self.params)
                except Exception as exc:
                    # The run reports the source's real error; its text may echo a URL
                    # with a token, so the fingerprint (stored, printed) names the class.
                    found = unavailable(f"{type(exc).__name__} from the fingerprint")
                self._fingerprints[spec.key] = found
            return self._fingerprints[spec.key]

    @functools.cached_property
    def fingerprints(self) -> dict[str, str | None]:
        """Source fingerprints of every asset that declares one, for this run's parameters."""
        return {
            spec.key: self.fingerprint_of(spec)
            for specs in self._specs_by_io_manager().values()
            for spec in specs
            if spec.fingerprint is not None
        }

    def drift_of(self, keys: Iterable[str]) -> dict[str, RebuildRequired]:
        """Each of ``keys`` whose table drifted from its DDL -> the refusal a run would meet.

        Apart from the states: a table changed by hand drifts without a code change, and
        a ``status:`` selection must not cost every run this look at the tables."""
        outlooks = self._outlooks_of(keys)
        return {key: refusal for key, o in outlooks.items() if (refusal := o.refusal)}

    def setup_changes_of(self, keys: Iterable[str]) -> dict[str, str]:
        """Each of ``keys`` whose table the next run's set-up changes -> what it changes."""
        outlooks = self._outlooks_of(keys)
        return {key: changes for key, o in outlooks.items() if (changes := o.changes)}

    def held_rows_of(self, keys: Iterable[str]) -> dict[str, int]:
        """The rows each of ``keys``' tables holds now, of those whose latest attempt the
        history tells the rows of (what a count is compared with: ``changed_outside``),
        as each IO manager counts them in its look at its tables
        (:attr:`TableOutlook.rows`). That look is taken for every asset at once, as
        ``status`` and ``plan`` then ask :meth:`drift_of` of them all: one look for both."""
        history = self.history
        told = [key for key in keys if history.get(key, AssetHistory()).table_rows is not None]
        if not told:
            return {}
        outlooks = self._outlooks_of(spec.key for spec in self.graph)
        return {
            key: rows for key in told if (o := outlooks.get(key)) and (rows := o.rows) is not None
        }

    def _outlooks_of(self, keys: Iterable[str]) -> dict[str, TableOutlook]:
        """:meth:`IOManager.table_outlook` of ``keys`` (those it foresees anything of),
        kept: each asset asked once, each IO manager once for all its assets still
        unknown, so :meth:`drift_of` and :meth:`setup_changes_of` of the same assets cost
        one look at their tables."""
        missing: dict[str, list[AssetSpec]] = {}
        wanted = [self.graph[key] for key in dict.fromkeys(keys)]
        for spec in wanted:
            if spec.key not in self._outlooks and spec.io_manager in self.io_managers:
                missing.setdefault(spec.io_manager, []).append(spec)
        for specs in missing.values():
            found = self.io_manager(specs[0]).table_outlook(specs, self.params)
            self._outlooks.update({spec.key: found.get(spec.key) for spec in specs})
        return {spec.key: outlook for spec in wanted if (outlook := self._outlooks.get(spec.key))}

    def history_of(self, spec: AssetSpec) -> MaterializationHistory | None:
        return self.io_manager(spec).history()

    @functools.cached_property
    def _recorded(self) -> tuple[dict[str, AssetHistory], frozenset[str]]:
        """Latest attempt and success of every asset, read once from each store, and the
        assets whose IO manager keeps a history at all. Each asset is asked by key and
        table: a record of its key for another table is not its history."""
        found: dict[str, AssetHistory] = {}
        kept: set[str] = set()
        for specs in self._specs_by_io_manager().values():
            store = self.history_of(specs[0])
            if store is not None:
                kept.update(spec.key for spec in specs)
                found.update(store.latest({spec.key: spec.table for spec in specs}))
        return found, frozenset(kept)

    @property
    def history(self) -> dict[str, AssetHistory]:
        """Latest attempt and success of every asset, read once from each store."""
        return self._recorded[0]

    def unfinished_attempts(self) -> list[MaterializationRecord]:
        """Latest attempts still ``started`` in a store one process at a time may open,
        which this process holds: each was left by a run going on in this process, or by
        one whose process ended mid-run (:mod:`orchestration.crashed_run`). Read from the
        history the states are judged on: no more requests."""
        return [
            attempt
            for key, history in self.history.items()
            if (attempt := history.last_attempt) is not None
            and attempt.status == "started"
            and (store := self.history_of(self.graph[key])) is not None
            and store.one_process_at_a_time
        ]

    @property
    def with_history(self) -> frozenset[str]:
        """Assets whose IO manager keeps a materialization history: only theirs has a state
        that outlives the run that built them."""
        return self._recorded[1]

    @property
    def never_published(self) -> frozenset[str]:
        """Assets whose table no materialization in this warehouse ever published, read
        from the history alone (no code version, no source asked).

        They are state ``missing``, less any whose first run published its table and then
        failed its checks. An asset whose IO manager keeps no history is never in it:
        nothing says its table was not built some other way.
        """
        found, kept = self._recorded
        return frozenset(key for key in kept if not found.get(key, AssetHistory()).published)

    @functools.cached_property
    def states(self) -> dict[str, AssetState]:
        versions = self.code_versions
        held = self.held_rows_of(versions)
        return assess(self.graph, versions, self.fingerprints, self.history, held)

    def state_names(self) -> dict[str, StateName]:
        """Each asset's state name: what ``status:`` selections match."""
        return {key: state.state for key, state in self.states.items()}
