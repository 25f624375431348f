"""Whole-process rows: ``pipeline materialize`` timed as a user waits for it.

The orchestrated/bare pairs of ``run_benchmark.py`` time the run from the resolver call to
its return. A user waits from exec to exit: interpreter start, imports, the warehouse
open and its DDL, the Prefect flow run, the report, shutdown. This module times exactly
that, as child processes against the benchmark's running Prefect server:

* **whole command**: the ``pipeline`` console script, ``materialize --json`` on a fresh
  warehouse; its JSON report gives the time inside the flow, so ``fixed cost`` = whole
  command - inside the flow;
* **bare SQL, same work**: ``bench/bare.py`` in its own process, exec to exit as well, and
  its statements' own total (the ratio's denominator, as in the pairs);
* **original approach** (``bench/original.py``): pandas ingest, row-by-row SHA-256
  staging in Python, ``INSERT ... WHERE key NOT IN``; exec to exit;
* **threads**: the whole command at several ``--concurrency`` values, the curve the
  resolver's default thread count (:func:`orchestration.concurrency.default_concurrency`)
  is chosen from.

Peak RSS is each child's own high-water mark (``wait4``), engine included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_WHOLE_RATIO = 1.5
TARGET_FIXED_SECONDS = 3.0
TARGET_SPEEDUP = 10.0


def timed_process(command: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``command``; wall seconds from exec to exit, CPU seconds, peak RSS, stdout."""
    started = time.perf_counter()
    with log.open("w") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        stdout = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{command[1:4]} failed (exit {process.returncode}):\n{tail}")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def _pipeline_script() -> list[str]:
    """The console script a user runs (``python -m orchestration`` if not installed)."""
    script = Path(sys.executable).with_name("pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration"]


def whole_command(
    source: Path, workdir: Path, env: dict[str, str], concurrency: int | None = None
) -> dict[str, Any]:
    """``pipeline materialize`` on a fresh warehouse, exec to exit; with its report's times."""
    warehouse = workdir / "whole-command-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    command = [*_pipeline_script(), "materialize", "--json", "--source", str(source)]
    command += ["--warehouse", f"chdb://{warehouse}"]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    run_env = {**env, "SALES_DASHBOARD_PATH": str(workdir / "whole-command-dashboard.html")}
    result = timed_process(command, run_env, workdir / "whole-command.log")
    report = json.loads(result.pop("stdout"))
    if not report["ok"]:
        raise SystemExit(f"pipeline materialize failed: {report}")
    shutil.rmtree(warehouse, ignore_errors=True)
    return {
        **result,
        "inside_flow": report["seconds"],
        "fixed": result["seconds"] - report["seconds"],
        "assets": len(report["assets"]),
    }


def _child(mode: str, source: Path, workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """``run_benchmark.py --child bare|original`` in its own process, exec to exit."""
    warehouse = workdir / f"{mode}-warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    command = [sys.executable, str(ROOT / "bench" / "run_benchmark.py"), "--child", mode]
    command += ["--source", str(source), "--warehouse", str(warehouse)]
    result = timed_process(command, env, workdir / f"{mode}.log")
    inner = json.loads(result.pop("stdout").strip().splitlines()[-1])
    shutil.rmtree(warehouse, ignore_errors=True)
    return {
        **result,
        "statements_seconds": inner["total"],
        "fact_sales_rows": inner["fact_sales_rows"],
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median whole time, all runs' seconds beside it (``runs_seconds``)."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return {**ordered[(len(ordered) - 1) // 2], "runs_seconds": [r["seconds"] for r in runs]}


def run_whole_process(
    source: Path,
    workdir: Path,
    env: dict[str, str],
    *,
    original_source: Path | None = None,
    thread_counts: tuple[int, ...] = (),
    repeat: int = 1,
) -> dict[str, Any]:
    """Every whole-process row: command vs bare side by side, original, thread curve.

    With ``repeat`` > 1 the rows run that many times, interleaved (command, bare, small
    command, original, then again), so a burst of load hits both sides; each row reports
    its median run and every run's seconds.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(repeat):
        runs.setdefault("command", []).append(whole_command(source, workdir, env))
        runs.setdefault("bare", []).append(_child("bare", source, workdir, env))
        if original_source is not None:
            runs.setdefault("small_command", []).append(
                whole_command(original_source, workdir, env)
            )
            runs.setdefault("original", []).append(
                _child("original", original_source, workdir, env)
            )
    rows: dict[str, Any] = {name: _median_run(measured) for name, measured in runs.items()}
    if original_source is not None:
        rows["original_source"] = original_source.name
    rows["threads"] = {
        str(count): whole_command(source, workdir, env, count) for count in thread_counts
    }
    return rows


def print_whole_process(rows: dict[str, Any], default_threads: int, cores: int) -> None:
    """The rows as the issue's table, then each target."""
    command, bare = rows["command"], rows["bare"]
    print("\nwhole process, exec to exit (a user's wait), against the running Prefect server")
    print("(the median run of each row when repeated):")
    print(f"{'run':<34} {'seconds':>8} {'in flow':>8} {'fixed':>7} {'CPU s':>7} {'peak MiB':>9}")

    def line(name: str, row: dict[str, Any]) -> None:
        inside = f"{row['inside_flow']:8.2f}" if "inside_flow" in row else f"{'-':>8}"
        fixed = f"{row['fixed']:7.2f}" if "fixed" in row else f"{'-':>7}"
        every = row.get("runs_seconds", [])
        runs = f"  (runs: {', '.join(f'{s:.2f}' for s in every)})" if len(every) > 1 else ""
        print(
            f"{name:<34} {row['seconds']:8.2f} {inside} {fixed} {row['cpu']:7.2f}"
            f" {row['peak_rss_mib']:9.0f}{runs}"
        )

    line("pipeline materialize", command)
    line("bare SQL, same work (process)", bare)
    ratio = command["seconds"] / bare["statements_seconds"]
    print(
        f"bare SQL statements alone: {bare['statements_seconds']:.2f} s; whole command / bare SQL"
        f" = {ratio:.2f} (target <= {TARGET_WHOLE_RATIO}); / bare process ="
        f" {command['seconds'] / bare['seconds']:.2f}"
    )
    print(
        f"fixed cost of the command (whole - inside the flow): {command['fixed']:.2f} s"
        f" (target <= {TARGET_FIXED_SECONDS:.0f} s); peak RSS {command['peak_rss_mib']:.0f} MiB"
    )
    if "original" in rows:
        small, original = rows["small_command"], rows["original"]
        print(f"\nthe original approach, on {rows['original_source']} (exec to exit):")
        line("pipeline materialize", small)
        line("original (pandas, row-by-row SHA-256)", original)
        print(
            f"speed-up: {original['seconds'] / small['seconds']:.1f}x"
            f" (target >= {TARGET_SPEEDUP:.0f}x); Fact_Sales rows, original:"
            f" {original['fact_sales_rows']:,}"
        )
    if rows["threads"]:
        print(f"\nthreads (--concurrency), whole command; {cores} cores:")
        for count, row in rows["threads"].items():
            mark = "  <- default" if int(count) == default_threads else ""
            seconds, inside = row["seconds"], row["inside_flow"]
            print(f"  {count:>3} threads: {seconds:6.2f} s (in flow {inside:.2f}){mark}")
    print(f"default thread count: {default_threads} ({cores} cores)")
