"""Benchmark: the retail pipeline through the asset framework vs. the same SQL bare.

    python bench/run_benchmark.py [--rows 1067371] [--seed 42] [--prefect] [--keep DIR]

1. Generates the synthetic set (default: the real dataset's 1,067,371 rows) and writes it
   as CSV (not timed).
2. **orchestrated**: a fresh embedded warehouse; every asset materialized from that CSV
   through the IO manager (staging, validation, atomic publish); with ``--prefect``
   through the Prefect resolver (one task per asset; point ``PREFECT_API_URL`` at a
   running server, otherwise Prefect starts a temporary one, whose start-up is timed).
3. **bare**: a fresh chdb directory; the same DDL; the CSV loaded with one
   ``INSERT ... SELECT FROM file()``; then every asset's SELECT run as a plain
   ``INSERT INTO <table> <SELECT>`` in the same order - no staging, no validation, no
   orchestration.

Each run happens in its own child process, so the peak RSS printed is that run's alone.
Prints per-asset seconds, totals, the ratio orchestrated / bare and peak RSS.
Targets (DESIGN.md section 7): ratio <= 1.5, peak RSS < 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from orchestration.graph import AssetGraph

LOAD = datetime(2024, 1, 1, tzinfo=UTC)
_CSV_COLUMNS = (
    "Invoice String, StockCode String, Description Nullable(String), Quantity Int32, "
    "InvoiceDate String, Price Float64, `Customer ID` Nullable(Float64), "
    "Country Nullable(String)"
)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _retail_graph() -> AssetGraph:
    import assets  # noqa: F401 - registers the retail assets
    from orchestration.asset import registered_assets
    from orchestration.graph import AssetGraph

    return AssetGraph(s for s in registered_assets() if s.body.__module__.startswith("assets."))


def run_orchestrated(source: str, warehouse: Path, prefect: bool) -> dict:
    """Every asset through the IO manager (and optionally Prefect); seconds per asset."""
    import assets
    from io_managers import ClickHouseIOManager
    from orchestration.context import AssetContext

    started = time.perf_counter()
    graph = _retail_graph()
    io = ClickHouseIOManager.embedded(warehouse)
    io.setup(assets.DDL_PATHS)
    seconds: dict[str, float] = {}
    if prefect:
        from orchestration.resolver import materialize

        report = materialize(graph, {"warehouse": io}, params={"source": source})
        if not report.ok:
            raise SystemExit(f"orchestrated run failed: {report.summary()}")
        seconds = {o.key: round(o.seconds, 3) for o in report.outcomes}
    else:
        for spec in graph:
            context = AssetContext(
                spec=spec, io_manager=io, load_datetime=LOAD, params={"source": source}
            )
            tick = time.perf_counter()
            io.materialize(spec, context)
            seconds[spec.key] = round(time.perf_counter() - tick, 3)
    rows = io.row_count("marts.Fact_Sales")
    io.close()
    return {
        "seconds": seconds,
        "total": round(time.perf_counter() - started, 3),
        "fact_sales_rows": rows,
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def run_bare(source: str, warehouse: Path) -> dict:
    """The same transformations as plain SQL on a bare chdb session."""
    from chdb.session import Session

    import assets
    from io_managers.sql import split_statements
    from orchestration.context import AssetContext

    started = time.perf_counter()
    graph = _retail_graph()
    session = Session(str(warehouse))
    for path in assets.DDL_PATHS:
        for statement in split_statements(path.read_text()):
            session.query(statement)
    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    session.query(
        "INSERT INTO raw.online_retails SELECT Invoice, StockCode, Description, Quantity, "
        "formatDateTime(parseDateTime64BestEffortUS(InvoiceDate, 0, 'UTC'), "
        "'%Y-%m-%d %H:%i:%S'), Price, toUInt64(`Customer ID`), Country, Quantity * Price, "
        f"'bench' FROM file('{source}', 'CSVWithNames', '{_CSV_COLUMNS}')"
    )
    seconds["raw_online_retails"] = round(time.perf_counter() - tick, 3)
    for spec in graph:
        if spec.kind != "sql":
            continue
        context = AssetContext(spec=spec, io_manager=None, load_datetime=LOAD)  # type: ignore[arg-type]
        tick = time.perf_counter()
        if spec.write_mode == "replace":
            session.query(f"TRUNCATE TABLE {spec.table}")
        session.query(f"INSERT INTO {spec.table} {spec.body(context)}")
        seconds[spec.key] = round(time.perf_counter() - tick, 3)
    rows = int(session.query("SELECT count() FROM marts.Fact_Sales", "CSV").bytes())
    session.close()
    return {
        "seconds": seconds,
        "total": round(time.perf_counter() - started, 3),
        "fact_sales_rows": rows,
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def _child(mode: str, source: str, workdir: Path, prefect: bool) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--source",
        source,
        "--keep",
        str(workdir),
    ]
    if prefect:
        command.append("--prefect")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_067_371)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prefect", action="store_true", help="run through the Prefect resolver")
    parser.add_argument("--keep", type=Path, help="work directory to use (and keep)")
    parser.add_argument("--child", choices=["orchestrated", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        run = (
            run_orchestrated(args.source, args.keep / "orchestrated", args.prefect)
            if args.child == "orchestrated"
            else run_bare(args.source, args.keep / "bare")
        )
        print(json.dumps(run))
        return

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="retail-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    from assets.sources import synthetic

    source = workdir / f"online_retail_synthetic_{args.rows}.csv"
    if not source.exists():
        synthetic.generate(args.rows, args.seed).to_csv(source, index=False)
    print(f"source: {source} ({args.rows:,} rows)")

    orchestrated = _child("orchestrated", str(source), workdir, args.prefect)
    bare = _child("bare", str(source), workdir, False)
    print(f"\n{'asset':30} {'orchestrated s':>15} {'bare SQL s':>11}")
    for key, seconds in orchestrated["seconds"].items():
        print(f"{key:30} {seconds:15.2f} {bare['seconds'].get(key, float('nan')):11.2f}")
    ratio = orchestrated["total"] / bare["total"]
    print(f"\n{'total':30} {orchestrated['total']:15.2f} {bare['total']:11.2f}")
    print(f"ratio orchestrated / bare: {ratio:.2f} (target <= 1.5)")
    print(
        f"peak RSS: orchestrated {orchestrated['peak_rss_mib']:.0f} MiB, "
        f"bare {bare['peak_rss_mib']:.0f} MiB (target < 2048 MiB)"
    )
    print(f"Fact_Sales rows: {orchestrated['fact_sales_rows']:,} / {bare['fact_sales_rows']:,}")


if __name__ == "__main__":
    main()
