"""The baseline: the pipeline's transformations as bare ClickHouse SQL, no framework.

What a careful person would write by hand against one chdb session, statement by
statement, in the graph's order:

- ingest: ClickHouse parses the source file itself (``file()``; same file, same format as
  the orchestrated run) and applies the raw layer's normalisation in the same INSERT:
  trimmed invoice and stock code, blank text as NULL, dates read month/day/year or ISO
  and stored as ISO text, ``RECORD_SOURCE`` the file name;
- every SQL asset: its own ``SELECT`` (the very text the asset returns), inserted into its
  table; an insert-only vault table gets ``WHERE key NOT IN (SELECT key FROM table)``, the
  anti-join any incremental Data Vault load needs;
- the two report assets written in Python (dashboard, metrics): their own function, with
  queries answered by the bare session and the rows it returns inserted as they are.

Left out, because they are what the framework adds: staging tables, schema validation,
atomic publishing, asset checks, run tracking.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from io_managers.sql import quote_identifier
from io_managers.sql_tokens import split_statements
from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.graph import AssetGraph

INGEST_KEY = "raw_online_retails"
#: The source's columns as the generator writes them (UCI Online Retail II layout).
_CSV_STRUCTURE = (
    "Invoice String, StockCode String, Description Nullable(String), Quantity Int32, "
    "InvoiceDate String, Price Float64, `Customer ID` Nullable(Float64), "
    "Country Nullable(String)"
)


def ingest_sql(source: Path) -> str:
    """Source file -> ``raw.online_retails``, normalised like the Python reader does."""
    if source.suffix == ".parquet":
        reader = f"file('{source}', 'Parquet')"
        stamp = "toDateTime64(InvoiceDate, 0, 'UTC')"
    else:
        reader = f"file('{source}', 'CSVWithNames', '{_CSV_STRUCTURE}')"
        stamp = "parseDateTime64BestEffortUS(trimBoth(InvoiceDate), 0, 'UTC')"
    return f"""
INSERT INTO raw.online_retails
SELECT
    trimBoth(toString(Invoice)) AS InvoiceNo,
    trimBoth(toString(StockCode)) AS StockCode,
    if(empty(trimBoth(Description)), NULL, Description) AS Description,
    toInt32(Quantity) AS Quantity,
    formatDateTime({stamp}, '%Y-%m-%d %H:%i:%S') AS InvoiceDate,
    toFloat64(Price) AS UnitPrice,
    toUInt64(`Customer ID`) AS CustomerID,
    if(empty(trimBoth(Country)), NULL, Country) AS Country,
    Quantity * Price AS TotalAmount,
    '{source.name}' AS RECORD_SOURCE
FROM {reader}
"""


def insert_sql(spec: AssetSpec, select: str, columns: list[str]) -> str:
    """The hand-written load of one SQL asset."""
    listed = ", ".join(quote_identifier(name) for name in columns)
    if spec.write_mode == "insert_new":
        key = ", ".join(quote_identifier(name) for name in spec.unique_key)
        key_expr = f"({key})" if len(spec.unique_key) > 1 else key
        select = (
            f"SELECT * FROM ({select}) WHERE {key_expr} NOT IN (SELECT {key} FROM {spec.table})"
        )
    return f"INSERT INTO {spec.table} ({listed}) {select}"


class _BareQueries:
    """Answers a Python asset's queries straight from the session (no IO manager)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def query_arrow(self, sql: str) -> pa.Table:
        return self._session.query(sql, "ArrowTable")


def insert_frame(session: Any, table: str, frame: pd.DataFrame) -> None:
    data = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    columns = ", ".join(quote_identifier(name) for name in data.column_names)
    with session.send_insert(f"INSERT INTO {table} ({columns})", "ArrowStream") as inserter:
        inserter.append(sink.getvalue())
        inserter.finish()


class BareRun:
    """One chdb session with the DDL applied, ready to run any asset's transformation bare.

    ``replaced`` runs some assets another way (given the session): ``bench/original.py``
    loads and stages the original system's way, in pandas and Python. Calls are
    serialized, so a flow's task threads may share one run.
    """

    def __init__(
        self,
        graph: AssetGraph,
        ddl_paths: list[Path],
        source: Path,
        warehouse: Path,
        params: dict,
        replaced: Mapping[str, Callable[[Any], None]] | None = None,
    ) -> None:
        from chdb.session import Session

        self.graph = graph
        self._replaced = replaced or {}
        self._lock = threading.Lock()
        self.session = Session(str(warehouse))
        started = time.perf_counter()
        for path in ddl_paths:
            # Split as the pipeline splits its DDL (kept on disk after the first read).
            for statement in split_statements(path.read_text(), keep=True):
                self.session.query(statement)
        self.setup = time.perf_counter() - started
        load = datetime.now(UTC).replace(microsecond=0)
        queries = _BareQueries(self.session)
        self._contexts = {
            spec.key: AssetContext(
                spec=spec,
                io_manager=queries,  # type: ignore[arg-type]
                load_datetime=load,
                params=params,
                run_id="bare",
            )
            for spec in graph
        }
        # Statements are written before the clock starts: naming the columns (one DESCRIBE
        # each) keeps a reordered SELECT correct but is not part of the transformation.
        self._statements: dict[str, str] = {}
        for spec in graph:
            if spec.key in self._replaced:
                continue
            if spec.key == INGEST_KEY:
                self._statements[spec.key] = ingest_sql(source)
            elif spec.kind == "sql":
                select = spec.body(self._contexts[spec.key])
                described = self.session.query(f"DESCRIBE ({select})", "ArrowTable")
                names = described.column("name").to_pylist()
                self._statements[spec.key] = insert_sql(spec, select, names)

    def run_asset(self, key: str) -> float:
        """Materialize one asset bare; its seconds."""
        spec = self.graph[key]
        with self._lock:
            tick = time.perf_counter()
            if key in self._replaced:
                self._replaced[key](self.session)
            elif key in self._statements:
                self.session.query(self._statements[key])
            else:  # a Python report asset: its own function, its rows inserted as they are
                insert_frame(self.session, spec.table, spec.body(self._contexts[key]))
            return time.perf_counter() - tick

    def finish(self, seconds: dict[str, float], total: float) -> dict[str, Any]:
        """Close the session; the run's numbers (``Fact_Sales`` rows prove the same work)."""
        fact_rows = int(self.session.query("SELECT count() FROM marts.Fact_Sales", "CSV").bytes())
        self.session.close()
        return {
            "seconds": seconds,
            "total": total,
            "setup": self.setup,
            "fact_sales_rows": fact_rows,
        }


def run_bare(
    graph: AssetGraph,
    ddl_paths: list[Path],
    source: Path,
    warehouse: Path,
    params: dict,
) -> dict[str, Any]:
    """Run every asset's transformation bare, in the graph's order; seconds per asset and
    in total."""
    run = BareRun(graph, ddl_paths, source, warehouse, params)
    started = time.perf_counter()
    seconds = {spec.key: run.run_asset(spec.key) for spec in graph}
    return run.finish(seconds, time.perf_counter() - started)
