"""Whole-process rows: ``pipeline materialize`` timed as a user waits for it.

The orchestrated/bare pairs of ``run_benchmark.py`` time the run from the resolver call to
its return. A user waits from exec to exit: interpreter start, imports, the warehouse
open and its DDL, the Prefect flow run, the report, shutdown. This module times exactly
that, as child processes against the benchmark's running Prefect server:

* **whole command**: the ``pipeline`` console script, ``materialize --json`` on a fresh
  warehouse; its JSON report gives the time inside the flow, so ``fixed cost`` = whole
  command - inside the flow. Twice: **cold** (``PIPELINE_WARM_START=off``, a process that
  imports everything) and **warm start** (a warm starter running, as the first command
  leaves one: :mod:`orchestration.warm_start`); a warm command's CPU and memory are its
  starter's child's, which ``wait4`` cannot see, so those two columns show ``-``;
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

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestration import warm_start

ROOT = Path(__file__).resolve().parents[1]
TARGET_WHOLE_RATIO = 1.5
TARGET_FIXED_SECONDS = 3.0
TARGET_SPEEDUP = 10.0
COLD, WARM = " (cold)", " (warm start)"


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


@contextlib.contextmanager
def warm_starter(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A warm starter for commands run with ``env``, listening before this yields the
    environment warm commands run with; stopped after."""
    directory = tempfile.mkdtemp(prefix="pw-")  # short: a socket's path has ~100 bytes
    warm_env = {**env, warm_start.MODE_ENV: "on", warm_start.DIR_ENV: directory}
    path = warm_start.socket_path(warm_env)
    process = warm_start.spawn_starter(warm_env)
    try:
        deadline = time.monotonic() + 120
        while not path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log = Path(directory) / warm_start.LOG_NAME
                raise SystemExit(f"the warm starter did not start (its log: {log})")
            time.sleep(0.1)
        yield warm_env
    finally:
        warm_start.stop_all(warm_env)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def whole_command(
    source: Path,
    workdir: Path,
    env: dict[str, str],
    concurrency: int | None = None,
    warm_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``pipeline materialize`` on a fresh warehouse, exec to exit; with its report's times.
    Cold, or with ``warm_env`` (from :func:`warm_starter`) started warm."""
    env = {**env, warm_start.MODE_ENV: "off"} if warm_env is None else warm_env
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

    def measure(row: str, result: dict[str, Any]) -> None:
        runs.setdefault(row, []).append(result)

    with warm_starter(env) as warm_env:
        for _ in range(repeat):
            measure("command", whole_command(source, workdir, env))
            measure("command_warm", whole_command(source, workdir, env, warm_env=warm_env))
            measure("bare", _child("bare", source, workdir, env))
            if original_source is not None:
                measure("small_command", whole_command(original_source, workdir, env))
                measure(
                    "small_command_warm",
                    whole_command(original_source, workdir, env, warm_env=warm_env),
                )
                measure("original", _child("original", original_source, workdir, env))
    rows: dict[str, Any] = {name: _median_run(measured) for name, measured in runs.items()}
    if original_source is not None:
        rows["original_source"] = original_source.name
    rows["threads"] = {
        str(count): whole_command(source, workdir, env, count) for count in thread_counts
    }
    return rows


def print_whole_process(rows: dict[str, Any], default_threads: int, cores: int) -> None:
    """The rows as the issue's table, then each target."""
    command, warm, bare = rows["command"], rows["command_warm"], rows["bare"]
    print("\nwhole process, exec to exit (a user's wait), against the running Prefect server")
    print("(the median run of each row when repeated):")
    print(f"{'run':<34} {'seconds':>8} {'in flow':>8} {'fixed':>7} {'CPU s':>7} {'peak MiB':>9}")

    def line(name: str, row: dict[str, Any]) -> None:
        inside = f"{row['inside_flow']:8.2f}" if "inside_flow" in row else f"{'-':>8}"
        fixed = f"{row['fixed']:7.2f}" if "fixed" in row else f"{'-':>7}"
        every = row.get("runs_seconds", [])
        runs = f"  (runs: {', '.join(f'{s:.2f}' for s in every)})" if len(every) > 1 else ""
        own = name.endswith(WARM)  # the client's own CPU and memory are not the run's
        cpu = f"{'-':>7}" if own else f"{row['cpu']:7.2f}"
        peak = f"{'-':>9}" if own else f"{row['peak_rss_mib']:9.0f}"
        print(f"{name:<34} {row['seconds']:8.2f} {inside} {fixed} {cpu} {peak}{runs}")

    line(f"pipeline materialize{COLD}", command)
    line(f"pipeline materialize{WARM}", warm)
    line("bare SQL, same work (process)", bare)
    statements = bare["statements_seconds"]
    print(
        f"bare SQL statements alone: {statements:.2f} s; whole command / bare SQL = cold"
        f" {command['seconds'] / statements:.2f}, warm {warm['seconds'] / statements:.2f}"
        f" (target <= {TARGET_WHOLE_RATIO}); / bare process = cold"
        f" {command['seconds'] / bare['seconds']:.2f}, warm {warm['seconds'] / bare['seconds']:.2f}"
    )
    print(
        f"fixed cost of the command (whole - inside the flow): cold {command['fixed']:.2f} s,"
        f" warm {warm['fixed']:.2f} s (target <= {TARGET_FIXED_SECONDS:.0f} s); peak RSS"
        f" {command['peak_rss_mib']:.0f} MiB"
    )
    if "original" in rows:
        small, small_warm, original = (
            rows["small_command"],
            rows["small_command_warm"],
            rows["original"],
        )
        print(f"\nthe original approach, on {rows['original_source']} (exec to exit):")
        line(f"pipeline materialize{COLD}", small)
        line(f"pipeline materialize{WARM}", small_warm)
        line("original (pandas, row-by-row SHA-256)", original)
        print(
            f"speed-up: cold {original['seconds'] / small['seconds']:.1f}x, warm"
            f" {original['seconds'] / small_warm['seconds']:.1f}x (target >="
            f" {TARGET_SPEEDUP:.0f}x); Fact_Sales rows, original: {original['fact_sales_rows']:,}"
        )
    if rows["threads"]:
        print(f"\nthreads (--concurrency), whole command; {cores} cores:")
        for count, row in rows["threads"].items():
            mark = "  <- default" if int(count) == default_threads else ""
            seconds, inside = row["seconds"], row["inside_flow"]
            print(f"  {count:>3} threads: {seconds:6.2f} s (in flow {inside:.2f}){mark}")
    print(f"default thread count: {default_threads} ({cores} cores)")
