"""Benchmark rows for materializing only what changed (``status:stale+``).

    poetry run python bench/staleness.py [--rows 1067371]     # on its own
    (bench/run_benchmark.py runs it too, after the orchestrated/bare pairs)

In one child process, on a fresh embedded warehouse, through the resolver and a Prefect
server:

1. **full run**: every asset (the reference time);
2. **nothing changed**: ``materialize --select 'status:stale+'``: reads the history,
   hashes every asset's code, fingerprints the source, and runs nothing;
3. **one mart's SQL changed**: ``fact_sales``'s SELECT is wrapped (same rows, new code
   version); ``status:stale+`` must rerun exactly it and its descendants;
4. **source file changed**: the file's mtime moves (and the mart's SQL is back as it
   was); ``status:stale+`` must rerun everything downstream of ingest.

Times are in-process wall times of the ``materialize`` call (imports and warehouse
set-up excluded, as for the full run). The parent then times the whole command,
``pipeline materialize --select 'status:stale+'`` with nothing changed, as a user runs it
(interpreter start, imports, warehouse open included).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHANGED_MART = "fact_sales"
STALE_PLUS = "status:stale+"
TARGET_SHARE = 0.05


def _changed_sql(spec: Any) -> Any:
    """``spec`` with its SELECT wrapped: the same rows, a different code version."""
    original = spec.body

    def wrapped(context: Any) -> str:
        return f"SELECT * FROM (\n{original(context)}\n)"

    return dataclasses.replace(spec, body=wrapped)


def run_child(source: Path, warehouse: Path) -> dict[str, Any]:
    """The four runs on one warehouse (child process); returns their times and assets."""
    from io_managers import ClickHouseIOManager
    from orchestration.definitions import load_definitions
    from orchestration.graph import AssetGraph
    from orchestration.resolver import materialize

    defs = load_definitions("assets")
    graph = defs.graph()
    params = {
        "source": str(source),
        "sales_dashboard_path": str(warehouse.with_name(warehouse.name + "-dashboard.html")),
    }
    rows: dict[str, Any] = {}
    with ClickHouseIOManager.embedded(warehouse) as io:
        io.setup(list(defs.ddl_paths))

        def timed(name: str, run_graph: AssetGraph, selection: str | None) -> None:
            started = time.perf_counter()
            report = materialize(run_graph, {"warehouse": io}, selection, params=params)
            seconds = time.perf_counter() - started
            if not report.ok:
                failed = "; ".join(f"{o.key}: {o.error}" for o in report.outcomes if o.error)
                raise SystemExit(f"{name} failed: {failed}")
            rows[name] = {"seconds": seconds, "ran": [o.key for o in report.outcomes]}

        timed("full run", graph, None)
        timed("nothing changed", graph, STALE_PLUS)
        changed = AssetGraph(
            _changed_sql(spec) if spec.key == CHANGED_MART else spec for spec in graph
        )
        timed(f"{CHANGED_MART} SQL changed", changed, STALE_PLUS)
        expected_mart = {CHANGED_MART} | changed.dag.reachable(CHANGED_MART, upstream=False)
        rows[f"{CHANGED_MART} SQL changed"]["expected"] = sorted(expected_mart)
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        # Back on the real code: what the mart change left stale is rebuilt here too, and
        # the whole-command row afterwards finds nothing to do.
        timed("source file changed", graph, STALE_PLUS)
        rows["source file changed"]["expected"] = sorted(spec.key for spec in graph)
    return rows


def run_staleness(source: Path, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the child, then time the whole command with nothing changed; returns all rows."""
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "staleness-warehouse"
    command = [sys.executable, __file__, "--child", "--source", str(source)]
    command += ["--warehouse", str(warehouse)]
    log_path = workdir / "staleness.log"
    with log_path.open("w") as log:
        child = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    if child.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"staleness run failed (exit {child.returncode}); log tail:\n{tail}")
    rows = json.loads(child.stdout.strip().splitlines()[-1])
    started = time.perf_counter()
    cli = subprocess.run(
        [
            *(sys.executable, "-m", "orchestration", "materialize", "--select", STALE_PLUS),
            *("--source", str(source), "--warehouse", f"chdb://{warehouse}"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if cli.returncode != 0 or "nothing to materialize" not in cli.stdout:
        output = (cli.stdout + cli.stderr)[-3000:]
        raise SystemExit(f"pipeline materialize --select {STALE_PLUS!r} ran something:\n{output}")
    rows["nothing changed, whole command"] = {"seconds": seconds, "ran": []}
    return rows


def print_staleness(rows: dict[str, Any]) -> None:
    """The rows as a table: seconds, share of the full run, assets rerun, as expected?"""
    full = rows["full run"]["seconds"]
    print(f"\nmaterialize only what changed (--select '{STALE_PLUS}'):")
    print(f"{'case':<32} {'seconds':>8} {'of full':>8} {'assets':>7}  rerun as expected")
    for name, row in rows.items():
        share = row["seconds"] / full
        expected = row.get("expected")
        verdict = "-" if expected is None else ("yes" if sorted(row["ran"]) == expected else "NO")
        if name == "nothing changed":
            verdict = "yes" if not row["ran"] else "NO"
            verdict += f"; {share:.1%} of a full run (target < {TARGET_SHARE:.0%})"
        print(f"{name:<32} {row['seconds']:>8.2f} {share:>8.1%} {len(row['ran']):>7}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_067_371, help="synthetic rows")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.source, args.warehouse)))
        return
    from bench.run_benchmark import _child_environment, write_source
    from orchestration.prefect_server import running_prefect_server

    with tempfile.TemporaryDirectory(prefix="retail-staleness-") as scratch:
        workdir = Path(scratch)
        source = write_source(workdir, args.rows, 42, "csv")
        with running_prefect_server(workdir / "prefect-home") as server:
            env = _child_environment(server.api_url, workdir / "prefect-home" / "client")
            print_staleness(run_staleness(source, workdir, env))


if __name__ == "__main__":
    main()
