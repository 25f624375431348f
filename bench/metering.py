"""Where an orchestrated run's time goes: inside the engine, or around it.

The benchmark needs two numbers per asset that the framework does not report: how long
the engine itself worked for it (every statement of its staging, validation, publishing
and checks), and how long the whole task took. The difference, summed, is the cost of
orchestration: Prefect task runs and events, the IO manager's Python, thread hand-offs.

Nothing here changes what the run does. :class:`MeteredTransport` wraps the real
transport and times each call; :class:`MeteredWarehouse` is the real IO manager that
additionally records which asset the calling thread is materializing, so a statement
is charged to the right asset even with the resolver's thread pool. Statements of
assets running side by side run at once (each call has its own connection), so each is
timed on its own and their times may overlap: an asset's engine seconds are how long its
own statements took, not a share of one engine.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from io_managers import ClickHouseIOManager
from io_managers.transport import EmbeddedTransport, Transport
from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.io_manager import MaterializeResult

T = TypeVar("T")
UNATTRIBUTED = "(setup)"


@dataclass(frozen=True)
class Statement:
    """One statement as the engine ran it (kept when the clock is asked to)."""

    asset: str
    started: float
    finished: float
    text: str


class EngineClock:
    """Engine seconds per asset, charged to the asset the calling thread works on.

    ``keep_statements`` also keeps every statement's text and times
    (``bench/engine_profile.py`` sums them by kind).
    """

    def __init__(self, keep_statements: bool = False) -> None:
        self._current = threading.local()
        self._lock = threading.Lock()
        self.keep_statements = keep_statements
        self.log: list[Statement] = []
        self.seconds: dict[str, float] = defaultdict(float)
        self.statements: dict[str, int] = defaultdict(int)
        #: perf_counter() when the first asset statement started / the last one ended.
        self.first_started: float | None = None
        self.last_finished: float | None = None
        #: (started, finished) of every asset statement, for :meth:`busy`.
        self._intervals: list[tuple[float, float]] = []

    def working_on(self, key: str) -> None:
        """From now on, this thread's statements belong to asset ``key``."""
        self._current.key = key

    def charge(self, started: float, finished: float, text: str = "") -> None:
        """Record one statement that held the engine from ``started`` to ``finished``."""
        key = getattr(self._current, "key", UNATTRIBUTED)
        with self._lock:
            if self.keep_statements:
                self.log.append(Statement(key, started, finished, text))
            self.seconds[key] += finished - started
            self.statements[key] += 1
            if key != UNATTRIBUTED:
                self._intervals.append((started, finished))
                if self.first_started is None:
                    self.first_started = started
                self.last_finished = finished

    def reset(self) -> None:
        """Forget everything measured so far (the warehouse set-up, say)."""
        with self._lock:
            self.seconds.clear()
            self.statements.clear()
            self.log.clear()
            self._intervals.clear()
            self.first_started = self.last_finished = None

    def total(self) -> float:
        """Statement seconds of every asset, summed (statements may overlap)."""
        return sum(self.seconds.values())

    def busy(self) -> float:
        """Seconds in which at least one asset statement was running: the wall time the
        engine worked for the assets, each overlap counted once."""
        with self._lock:
            intervals = sorted(self._intervals)
        return busy_seconds(intervals)


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of sorted ``(started, finished)`` intervals."""
    covered, until = 0.0, float("-inf")
    for started, finished in intervals:
        if finished > until:
            covered += finished - max(started, until)
            until = finished
    return covered


class MeteredTransport:
    """A transport that times every call it passes on (see the module docstring)."""

    def __init__(self, inner: Transport, clock: EngineClock) -> None:
        self._inner = inner
        self._clock = clock
        self.authority = inner.authority
        self.exclusive = inner.exclusive
        self.reads_local_files = inner.reads_local_files
        self.shared = inner.shared
        self.engine_version = inner.engine_version

    def _timed(self, call: Callable[..., T], text: str, *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self._clock.charge(started, time.perf_counter(), text)

    def command(self, sql: str) -> None:
        self._timed(self._inner.command, sql, sql)

    def write(self, sql: str) -> int | None:
        return self._timed(self._inner.write, sql, sql)

    def query_arrow(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._inner.query_arrow, sql, sql, *args, **kwargs)

    def iter_arrow(self, sql: str, batch_rows: int) -> Iterator[Any]:
        # The statement runs until the stream ends, so that whole time is engine time.
        started = time.perf_counter()
        try:
            yield from self._inner.iter_arrow(sql, batch_rows)
        finally:
            self._clock.charge(started, time.perf_counter(), sql)

    def insert_arrow(self, table: str, data: Any, settings: Any) -> None:
        text = f"(Arrow rows) INSERT INTO {table}"
        self._timed(self._inner.insert_arrow, text, table, data, settings)

    def raw(self, sql: str, fmt: str) -> bytes:
        return self._timed(self._inner.raw, sql, sql, fmt)

    def close(self) -> None:
        self._inner.close()


class MeteredWarehouse(ClickHouseIOManager):
    """The embedded warehouse IO manager, charging engine time to the asset at hand.

    Asset checks run on the same thread, within their asset's materialization (before
    it publishes), so their statements are charged to that asset too.
    """

    def __init__(self, path: Path, clock: EngineClock) -> None:
        transport = MeteredTransport(EmbeddedTransport(Path(path)), clock)
        super().__init__(transport, description=f"chdb://{Path(path).resolve()}")
        self.clock = clock

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        self.clock.working_on(spec.key)
        return super().materialize(spec, context, before_publish=before_publish)
