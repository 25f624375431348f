"""Benchmark: the retail pipeline through the asset framework vs. the same SQL bare.

    poetry run python bench/run_benchmark.py [--rows 1067371] [--format csv] [--repeat 3]
                                             [--no-prefect] [--workdir DIR] [--json FILE]

1. Generates the synthetic set (default: the real dataset's 1,067,371 rows) and writes it
   as CSV or Parquet (not timed).
2. Starts ``prefect server start`` on a free loopback port (its own PREFECT_HOME in the
   work directory, analytics off); ``--no-prefect`` skips it.
3. **orchestrated** (a child process): a fresh embedded warehouse; the real graph
   (``load_definitions('assets')``) materialized through the resolver against that
   server: one Prefect task per asset, staging, Pandera validation in SQL, atomic
   publishing, asset checks, asset events. ``--no-prefect``: the same assets and checks
   in a plain loop instead.
4. **bare** (a child process): a fresh chdb directory, the same DDL, the same source file
   read by ClickHouse itself, every asset's own SELECT inserted straight into its table
   (see ``bench/bare.py``).
5. Prints per-asset seconds, totals, the ratio orchestrated / bare, peak RSS, CPU time and
   the orchestration overhead per asset; with ``--repeat N`` the pair runs N times and the
   best and the spread are printed.

Totals are the wall time of materializing every asset, once the warehouse is open and its
DDL applied (imports and set-up are printed apart). Peak RSS is ``ru_maxrss`` of each run's
own process, which holds the embedded engine; the Prefect server is a separate process and
not part of the pipeline (its peak is printed for information). Targets (DESIGN.md section
7): ratio <= 1.5, peak RSS < 2 GiB, orchestration overhead < 50 ms per asset.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from orchestration.concurrency import default_concurrency  # noqa: E402  (after the path)

FULL_SIZE = 1_067_371
CODE_LOCATION = "assets"
TARGET_RATIO = 1.5
TARGET_RSS_MIB = 2048
TARGET_OVERHEAD_MS = 50
DEFAULT_CONCURRENCY = default_concurrency()


def _usage() -> tuple[float, float]:
    """(CPU seconds so far, peak RSS MiB) of this process, engine threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


# --------------------------------------------------------------------------- children


def run_orchestrated(
    source: Path, warehouse: Path, prefect: bool, concurrency: int, clock: Any = None
) -> dict[str, Any]:
    """Every asset through the framework on a fresh embedded warehouse (child process);
    ``clock`` (a ``bench.metering.EngineClock``) to keep, else a new one."""
    started = time.perf_counter()
    from bench.metering import UNATTRIBUTED, EngineClock, MeteredWarehouse
    from orchestration.checks import evaluate_checks
    from orchestration.context import AssetContext
    from orchestration.definitions import load_definitions

    if prefect:
        # Prefect resolves these lazily on first use; importing is a one-off cost of the
        # process (printed as imports), not of the run.
        import prefect.assets
        import prefect.cache_policies
        import prefect.futures
        import prefect.runtime
        import prefect.states
        import prefect.task_runners

        from orchestration.resolver import materialize
    defs = load_definitions(CODE_LOCATION)
    graph = defs.graph()
    imports = time.perf_counter() - started

    clock = clock or EngineClock()
    warehouse_io = MeteredWarehouse(warehouse, clock)
    started = time.perf_counter()
    warehouse_io.setup(list(defs.ddl_paths))
    setup = time.perf_counter() - started
    clock.reset()
    params = {
        "source": str(source),
        "sales_dashboard_path": str(warehouse.with_name(warehouse.name + "-dashboard.html")),
    }

    cpu_before, _ = _usage()
    started = time.perf_counter()
    if prefect:
        report = materialize(
            graph, {"warehouse": warehouse_io}, params=params, concurrency=concurrency
        )
        if not report.ok:
            failed = "; ".join(f"{o.key}: {o.error}" for o in report.outcomes if o.error)
            raise SystemExit(f"orchestrated run failed ({report.summary()}): {failed}")
        task_seconds = {o.key: o.seconds for o in report.outcomes}
    else:
        load = datetime.now(UTC).replace(microsecond=0)
        task_seconds = {}
        for spec in graph:
            tick = time.perf_counter()
            context = AssetContext(
                spec=spec, io_manager=warehouse_io, load_datetime=load, params=params
            )
            warehouse_io.materialize(spec, context)
            blocking = [c for c in evaluate_checks(spec, warehouse_io) if c.blocking]
            if blocking:
                raise SystemExit(f"{spec.key}: {'; '.join(c.summary() for c in blocking)}")
            task_seconds[spec.key] = time.perf_counter() - tick
    finished = time.perf_counter()
    total = finished - started
    cpu_after, peak = _usage()
    # Before the first asset statement and after the last one: the run's fixed cost
    # (flow run creation, task submission; final state, flushing events and logs).
    startup = (clock.first_started or started) - started
    teardown = finished - (clock.last_finished or finished)
    fact_rows = warehouse_io.row_count("marts.Fact_Sales")
    warehouse_io.close()
    engine = {key: value for key, value in clock.seconds.items() if key != UNATTRIBUTED}
    return {
        "seconds": task_seconds,
        "engine_seconds": engine,
        "engine_busy": clock.busy(),
        "unattributed_engine_seconds": clock.seconds.get(UNATTRIBUTED, 0.0),
        "statements": sum(clock.statements.values()),
        "total": total,
        "startup": startup,
        "teardown": teardown,
        "imports": imports,
        "setup": setup,
        "cpu": cpu_after - cpu_before,
        "peak_rss_mib": peak,
        "fact_sales_rows": fact_rows,
    }


def run_bare_child(source: Path, warehouse: Path, original: bool = False) -> dict[str, Any]:
    """The same transformations as bare SQL on a fresh chdb directory (child process).

    ``original``: load and stage the original system's way instead (``bench/original.py``).
    """
    from bench.bare import run_bare
    from bench.original import run_original
    from orchestration.definitions import load_definitions

    defs = load_definitions(CODE_LOCATION)
    params = {
        "source": str(source),
        "sales_dashboard_path": str(warehouse.with_name(warehouse.name + "-dashboard.html")),
    }
    cpu_before, _ = _usage()
    run = run_original if original else run_bare
    result = run(defs.graph(), list(defs.ddl_paths), source, warehouse, params)
    cpu_after, peak = _usage()
    return {**result, "cpu": cpu_after - cpu_before, "peak_rss_mib": peak}


# --------------------------------------------------------------------------- parent


def _child(
    mode: str, source: Path, warehouse: Path, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--source", str(source)]
    command += ["--warehouse", str(warehouse), "--concurrency", str(args.concurrency)]
    if args.no_prefect:
        command.append("--no-prefect")
    log_path = warehouse.with_suffix(".log")
    with log_path.open("w") as log:
        result = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{mode} run failed (exit {result.returncode}); log tail:\n{tail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_source(workdir: Path, rows: int, seed: int, fmt: str) -> Path:
    from assets.sources import synthetic

    path = workdir / f"online_retail_synthetic_{rows}_{seed}.{fmt}"
    if not path.exists():
        frame = synthetic.generate(rows, seed)
        partial = path.with_suffix(".partial")
        if fmt == "csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        partial.rename(path)
    return path


def _child_environment(api_url: str | None, prefect_home: Path) -> dict[str, str]:
    from orchestration.prefect_server import client_environment

    if api_url is not None:
        env = client_environment(prefect_home, api_url)
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop("PUSHGATEWAY_URL", None)  # the metrics asset stores its gauges, pushes nothing
    # Python caches bytecode by default (and `make install` compiles the packages); a
    # shell that disables it would time compiling ~1,500 modules, not the pipeline.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _print_run_table(orchestrated: dict[str, Any], bare: dict[str, Any]) -> None:
    print(f"\n{'asset':28} {'task s':>8} {'engine s':>9} {'bare s':>8}")
    for key, seconds in orchestrated["seconds"].items():
        engine = orchestrated["engine_seconds"].get(key, 0.0)
        print(f"{key:28} {seconds:8.3f} {engine:9.3f} {bare['seconds'].get(key, 0.0):8.3f}")
    engine_total = sum(orchestrated["engine_seconds"].values())
    print(
        f"{'total':28} {orchestrated['total']:8.3f} {engine_total:9.3f} {bare['total']:8.3f}"
        "   (task/total: wall clock of the whole run; engine: statement seconds, summed)"
    )
    print(
        f"engine busy (at least one asset statement running): {orchestrated['engine_busy']:.3f} s;"
        " assets' statements run side by side, so their seconds overlap"
    )


def _summarise(runs: list[dict[str, Any]], prefect_peak: float | None, mode: str) -> dict:
    ratios = [run["orchestrated"]["total"] / run["bare"]["total"] for run in runs]
    cpu_ratios = [run["orchestrated"]["cpu"] / run["bare"]["cpu"] for run in runs]
    assets = len(runs[0]["orchestrated"]["seconds"])
    outside = [run["orchestrated"]["total"] - run["orchestrated"]["engine_busy"] for run in runs]
    fixed = [run["orchestrated"]["startup"] + run["orchestrated"]["teardown"] for run in runs]
    overheads = [seconds / assets * 1000 for seconds in outside]
    per_task = [
        (seconds - fix) / assets * 1000 for seconds, fix in zip(outside, fixed, strict=True)
    ]
    best = min(range(len(runs)), key=lambda i: runs[i]["orchestrated"]["total"])
    return {
        "mode": mode,
        "assets": assets,
        "repetitions": len(runs),
        "orchestrated_totals": [run["orchestrated"]["total"] for run in runs],
        "bare_totals": [run["bare"]["total"] for run in runs],
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "overhead_ms_per_asset": overheads,
        "fixed_run_seconds": fixed,
        "overhead_ms_per_asset_without_fixed": per_task,
        "best_ratio": min(ratios),
        "median_ratio": statistics.median(ratios),
        "ratio_of_best_totals": min(r["orchestrated"]["total"] for r in runs)
        / min(r["bare"]["total"] for r in runs),
        "peak_rss_mib": max(run["orchestrated"]["peak_rss_mib"] for run in runs),
        "bare_peak_rss_mib": max(run["bare"]["peak_rss_mib"] for run in runs),
        "prefect_server_peak_rss_mib": prefect_peak,
        "best_run": best,
    }


def _print_summary(summary: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    print("\nrun  orchestrated s  bare s  ratio  cpu ratio  overhead ms/asset  peak RSS MiB")
    for i, run in enumerate(runs):
        print(
            f"{i + 1:3}  {run['orchestrated']['total']:14.2f}  {run['bare']['total']:6.2f}"
            f"  {summary['ratios'][i]:5.2f}  {summary['cpu_ratios'][i]:9.2f}"
            f"  {summary['overhead_ms_per_asset'][i]:17.1f}"
            f"  {run['orchestrated']['peak_rss_mib']:12.0f}"
        )
    spread = max(summary["ratios"]) - min(summary["ratios"])
    print(
        f"\nratio orchestrated / bare: best {summary['best_ratio']:.2f}, median "
        f"{summary['median_ratio']:.2f}, spread {spread:.2f} (target <= {TARGET_RATIO})"
    )
    print(f"ratio of the best totals: {summary['ratio_of_best_totals']:.2f}")
    best = summary["best_run"]
    print(
        f"orchestration overhead per asset, (total - engine busy) / {summary['assets']} assets: "
        f"best {min(summary['overhead_ms_per_asset']):.1f} ms (target < {TARGET_OVERHEAD_MS} ms)"
    )
    print(
        f"  of which fixed per run (before the first / after the last asset statement): "
        f"{summary['fixed_run_seconds'][best]:.2f} s in run {best + 1}; the rest per asset: "
        f"best {min(summary['overhead_ms_per_asset_without_fixed']):.1f} ms"
    )
    print(
        f"peak RSS: orchestrated {summary['peak_rss_mib']:.0f} MiB, bare "
        f"{summary['bare_peak_rss_mib']:.0f} MiB (target < {TARGET_RSS_MIB} MiB)"
    )
    if summary["prefect_server_peak_rss_mib"] is not None:
        print(
            f"Prefect server (separate process, not the pipeline): peak RSS "
            f"{summary['prefect_server_peak_rss_mib']:.0f} MiB"
        )
    first = runs[0]["orchestrated"]
    print(
        f"not in the totals: imports {first['imports']:.2f} s, warehouse set-up (DDL) "
        f"{first['setup']:.2f} s; {first['statements']} engine statements per run"
    )
    rows = {run["orchestrated"]["fact_sales_rows"] for run in runs}
    rows |= {run["bare"]["fact_sales_rows"] for run in runs}
    print(f"Fact_Sales rows (every run, both sides): {', '.join(f'{n:,}' for n in sorted(rows))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=FULL_SIZE, help="synthetic rows")
    parser.add_argument("--seed", type=int, default=42, help="synthetic seed")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the pair this many times (0: no pairs)"
    )
    parser.add_argument(
        "--whole-repeat",
        type=int,
        default=1,
        help="run the whole-process rows this many times, interleaved; medians are printed",
    )
    parser.add_argument(
        "--no-prefect", action="store_true", help="a plain loop instead of the Prefect resolver"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"resolver thread pool size (default {DEFAULT_CONCURRENCY}, from the cores)",
    )
    parser.add_argument("--workdir", type=Path, help="work directory to use and keep")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument(
        "--no-staleness", action="store_true", help="skip the status:stale+ rows (staleness.py)"
    )
    parser.add_argument(
        "--no-whole-process",
        action="store_true",
        help="skip the whole-command rows (bench/whole_command.py)",
    )
    parser.add_argument(
        "--original-rows",
        type=int,
        default=100_000,
        help="rows for the original-approach comparison (0: skip it)",
    )
    parser.add_argument(
        "--threads",
        default="1,2,3,4",
        help="--concurrency values for the whole-command thread curve ('' to skip)",
    )
    parser.add_argument(
        "--child", choices=["orchestrated", "bare", "original"], help=argparse.SUPPRESS
    )
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "orchestrated":
        result = run_orchestrated(
            args.source, args.warehouse, not args.no_prefect, args.concurrency
        )
        print(json.dumps(result))
        return
    if args.child in ("bare", "original"):
        print(json.dumps(run_bare_child(args.source, args.warehouse, args.child == "original")))
        return

    if args.repeat < 0 or args.whole_repeat < 1:
        parser.error("--repeat must be at least 0 and --whole-repeat at least 1")
    if args.repeat == 0 and (args.no_prefect or args.no_whole_process):
        parser.error("--repeat 0 leaves only the whole-process rows: they need the Prefect server")
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="retail-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = write_source(workdir, args.rows, args.seed, args.format)
    mode = "plain loop (--no-prefect)" if args.no_prefect else "Prefect resolver + server"
    print(f"source: {source} ({args.rows:,} rows, {source.stat().st_size / 2**20:.0f} MiB)")
    print(f"mode: {mode}, concurrency {args.concurrency}, {os.cpu_count()} CPUs")

    runs: list[dict[str, Any]] = []
    prefect_peak = None
    try:
        with ExitStack() as stack:
            api_url = None
            prefect_home = workdir / "prefect-home"
            if not args.no_prefect:
                from orchestration.prefect_server import running_prefect_server

                server = stack.enter_context(running_prefect_server(prefect_home))
                api_url = server.api_url
                print(f"Prefect server: {api_url} (PREFECT_HOME {prefect_home})")
            env = _child_environment(api_url, prefect_home / "client")
            for repetition in range(1, args.repeat + 1):
                run_dir = workdir / f"run{repetition}"
                shutil.rmtree(run_dir, ignore_errors=True)
                run_dir.mkdir()
                orchestrated = _child("orchestrated", source, run_dir / "orchestrated", args, env)
                bare = _child("bare", source, run_dir / "bare", args, env)
                runs.append({"orchestrated": orchestrated, "bare": bare})
                print(
                    f"run {repetition}: orchestrated {orchestrated['total']:.2f} s, "
                    f"bare {bare['total']:.2f} s",
                    flush=True,
                )
                shutil.rmtree(run_dir / "orchestrated", ignore_errors=True)
                shutil.rmtree(run_dir / "bare", ignore_errors=True)
            staleness = None
            if not args.no_prefect and not args.no_staleness:
                from bench.staleness import run_staleness

                staleness = run_staleness(source, workdir / "staleness", env)
            whole = None
            if not args.no_prefect and not args.no_whole_process:
                from bench.whole_command import run_whole_process

                small = args.original_rows or None
                whole = run_whole_process(
                    source,
                    workdir / "whole",
                    env,
                    original_source=small and write_source(workdir, small, args.seed, "csv"),
                    thread_counts=tuple(int(n) for n in args.threads.split(",") if n.strip()),
                    repeat=args.whole_repeat,
                )
            if not args.no_prefect:
                prefect_peak = server.peak_rss_mib()
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    summary = _summarise(runs, prefect_peak, mode) if runs else None
    if summary is not None:
        best = runs[summary["best_run"]]
        print(f"\nper asset, run {summary['best_run'] + 1} (the fastest orchestrated run):")
        _print_run_table(best["orchestrated"], best["bare"])
        _print_summary(summary, runs)
    if staleness is not None:
        from bench.staleness import print_staleness

        print_staleness(staleness)
    if whole is not None:
        from bench.whole_command import print_whole_process

        print_whole_process(whole, DEFAULT_CONCURRENCY, os.cpu_count() or 1)
    if args.json:
        measured = {"summary": summary, "runs": runs, "staleness": staleness, "whole": whole}
        args.json.write_text(json.dumps(measured, indent=2))


if __name__ == "__main__":
    main()
