"""Where the engine time of one orchestrated run goes, by kind of statement.

    poetry run python bench/engine_profile.py [--rows N] [--source FILE] [--workdir DIR] 2>/dev/null

Runs the whole pipeline once through the resolver, like ``run_benchmark.py``'s
orchestrated side (its own Prefect server, a fresh embedded warehouse; the run's logs go
to stderr), with the engine meter keeping every statement (``bench/metering.py``).
Prints:

- the run's wall time, the time before the first and after the last asset statement, the
  engine's busy time and its idle gaps (the largest, with the asset that ended each);
- engine seconds and statement counts by kind - the asset's own work (staging
  ``INSERT ... SELECT``, Arrow inserts) against what the framework adds around it
  (validation aggregates, asset checks, history writes, staging DDL, ``DESCRIBE``,
  publishing) - the table docs/benchmark.md quotes.

Each statement is timed on its own; statements of assets running side by side overlap,
so "busy" counts the wall time with at least one statement running and the kinds'
seconds add up to more. Seconds are load-sensitive, counts are not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.metering import UNATTRIBUTED, EngineClock, Statement  # noqa: E402
from bench.run_benchmark import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    run_orchestrated,
    write_source,
)
from orchestration.prefect_server import client_environment, running_prefect_server  # noqa: E402

#: (kind, test on the statement's upper-cased text), first match wins.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("history write", ("INSERT INTO _PIPELINE.",)),
    ("Arrow insert (Python asset)", ("(ARROW ROWS)",)),
    ("staging INSERT ... SELECT (the work)", ("INSERT INTO",)),
    ("validation aggregate", ("SELECT COUNT() AS __STAGED_ROWS",)),
    ("asset check", ("SELECT COUNT() AS VIOLATIONS",)),
    ("DESCRIBE", ("DESCRIBE",)),
    ("CREATE staging", ("CREATE TABLE",)),
    ("DROP staging", ("DROP TABLE",)),
    ("publish (EXCHANGE / ATTACH)", ("EXCHANGE TABLES", "ALTER TABLE")),
)


def kind_of(text: str) -> str:
    head = " ".join(text.split())[:200].upper()
    for kind, starts in KINDS:
        if head.startswith(starts):
            return kind
    return "other (catalog, reports' queries)"


def by_kind(statements: Iterable[Statement]) -> list[tuple[str, int, float]]:
    """(kind, statements, engine seconds), largest first."""
    seconds: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for statement in statements:
        kind = kind_of(statement.text)
        seconds[kind] += statement.finished - statement.started
        counts[kind] += 1
    return [(kind, counts[kind], seconds[kind]) for kind, _ in seconds.most_common()]


def idle_gaps(statements: list[Statement]) -> list[tuple[float, str]]:
    """(seconds the engine stood idle, asset whose statement ended before it)."""
    gaps = []
    ordered = sorted(statements, key=lambda s: s.started)
    busy_until, last = ordered[0].finished, ordered[0].asset
    for statement in ordered[1:]:
        if statement.started > busy_until:
            gaps.append((statement.started - busy_until, last))
        if statement.finished > busy_until:
            busy_until, last = statement.finished, statement.asset
    return sorted(gaps, reverse=True)


def _deliver_logs_and_events() -> None:
    """Send the run's queued logs and events while the server still runs (as a command's
    exit handlers do), so none is left to fail against a stopped server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic rows")
    parser.add_argument("--source", type=Path, help="a CSV source instead of synthetic rows")
    parser.add_argument("--workdir", type=Path, help="work directory to use and keep")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="engine-profile-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = args.source or write_source(workdir, args.rows, 42, "csv")
    warehouse = workdir / "warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)  # a first load, as the benchmark's
    clock = EngineClock(keep_statements=True)
    with running_prefect_server(workdir / "prefect-home") as server:
        # This process is the client, as run_benchmark.py's orchestrated child is.
        os.environ.update(client_environment(workdir / "prefect-home" / "client", server.api_url))
        result = run_orchestrated(source, warehouse, True, DEFAULT_CONCURRENCY, clock=clock)
        _deliver_logs_and_events()
    statements = [s for s in clock.log if s.asset != UNATTRIBUTED]
    busy = clock.busy()
    summed = sum(s.finished - s.started for s in statements)
    print(f"source: {source}")
    print(
        f"run {result['total']:.2f} s: before the first asset statement "
        f"{result['startup']:.2f} s, after the last {result['teardown']:.2f} s; "
        f"engine busy {busy:.2f} s ({summed:.2f} statement seconds: assets run side by"
        f" side) in {len(statements)} statements"
    )
    gaps = idle_gaps(statements)
    print(f"engine idle between statements: {sum(g for g, _ in gaps):.2f} s; largest:")
    for seconds, asset in gaps[:5]:
        print(f"  {seconds:6.3f} s after a statement of {asset}")
    print(f"\n{'kind':40} {'statements':>10} {'engine s':>9}")
    for kind, count, seconds in by_kind(statements):
        print(f"{kind:40} {count:10d} {seconds:9.3f}")


if __name__ == "__main__":
    main()
