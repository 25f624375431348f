"""What run tags cost: tags on the flow run only (what we ship) vs tags on every task.

    poetry run python bench/tag_cost.py [--rows 20000] [--repeat 3]

Prefect's task engine acquires a concurrency slot for every tag a task run carries
(``concurrency(names=[f"tag:{tag}" ...])`` around each task: an API call to acquire and
one to release, whether or not a limit exists). Tags on the flow run only are one API
call per run. This materializes the shipped pipeline on a small synthetic source (so
orchestration, not data, dominates) against a real ``prefect server start``, alternating:

* ``flow-run tags``: as shipped: the run is tagged, its tasks are not;
* ``task tags``: the same run inside ``prefect.tags(...)`` with the same tags, which
  Prefect hands to every task run too.

It prints the median wall time of each and the difference per task, and what the
review pages cost inside those runs: tagging the run and finding the neighbours' pages
(``RunReview.__enter__``), writing each asset's page (on the page writer thread, off the
tasks' path), and rewriting the pages once the run is known (``RunReview.finish``).
Timings on a shared machine are noisy; the repeat alternates the two variants.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import os

    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from prefect import tags
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from orchestration.definitions import load_definitions
    from orchestration.prefect_server import running_prefect_server
    from orchestration.resolver import materialize, plan_materialization
    from orchestration.run_review import RunReview, run_tags

    spent = _time_methods(RunReview, ("__enter__", "_write_page", "finish"))

    defs = load_definitions("assets")
    graph = defs.graph()
    params = {"source": f"synthetic:{args.rows}"}
    task_tags = run_tags(plan_materialization(graph, None))
    times: dict[str, list[float]] = {"flow-run tags": [], "task tags": []}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with (
            running_prefect_server(home / "prefect") as server,
            temporary_settings({PREFECT_API_URL: server.api_url}),
            defs.open_io_managers(f"chdb://{home / 'warehouse'}") as io_managers,
        ):
            materialize(graph, io_managers, None, params=params)  # warm-up
            spent.update(dict.fromkeys(spent, 0.0))  # count the measured runs only
            for _ in range(args.repeat):
                for variant in times:
                    started = time.perf_counter()
                    if variant == "task tags":
                        with tags(*task_tags):
                            report = materialize(graph, io_managers, None, params=params)
                    else:
                        report = materialize(graph, io_managers, None, params=params)
                    times[variant].append(time.perf_counter() - started)
                    if not report.ok:
                        raise SystemExit(f"{variant}: the run failed: {report.summary()}")
            _drain_prefect_senders()  # before the server stops, or they log connection errors
    medians = {variant: statistics.median(values) for variant, values in times.items()}
    tasks = len(graph)
    print(f"{tasks} assets, {args.rows:,} rows, {len(task_tags)} tags, {args.repeat} runs each")
    for variant, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"{variant:>14}: median {medians[variant]:.2f} s  ({runs})")
    extra = medians["task tags"] - medians["flow-run tags"]
    print(f"task tags cost {extra:+.2f} s per run, {1000 * extra / tasks:+.0f} ms per task")
    runs = 2 * args.repeat
    for name, seconds in spent.items():
        print(f"RunReview.{name}: {seconds / runs:.3f} s per run (summed over task threads)")


def _time_methods(cls: type, names: tuple[str, ...]) -> dict[str, float]:
    """Wrap ``cls``'s methods to add up the seconds spent in each (thread-safe enough:
    float additions under the GIL, for a benchmark's totals)."""
    import functools

    spent = dict.fromkeys(names, 0.0)
    for name in names:
        method = getattr(cls, name)

        @functools.wraps(method)
        def timed(*args, __method=method, __name=name, **kwargs):
            started = time.perf_counter()
            try:
                return __method(*args, **kwargs)
            finally:
                spent[__name] += time.perf_counter() - started

        setattr(cls, name, timed)
    return spent


def _drain_prefect_senders() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


if __name__ == "__main__":
    main()
