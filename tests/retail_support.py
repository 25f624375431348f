"""Helpers for the retail tests: write sources in every format, compute expectations.

The expectations are computed with plain pandas from the rows the test wrote, following
DESIGN.md section 5's business rules directly, so they are independent of the SQL under
test.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from assets.sources import synthetic
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions

SCALE = 10_000  # Decimal(10, 4): money compared exactly as integer ten-thousandths


def write_source(frame: pd.DataFrame, directory: Path, fmt: str, layout: str) -> Path:
    """Write ``frame`` (generator layout) as ``fmt`` in ``layout`` ('II' or 'legacy')."""
    data = synthetic.to_legacy_layout(frame) if layout == "legacy" else frame
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path = directory / f"retail_{layout}.csv"
        data.to_csv(path, index=False)
    elif fmt == "parquet":
        path = directory / f"retail_{layout}.parquet"
        data.to_parquet(path, index=False)
    elif fmt == "xlsx":
        path = directory / f"retail_{layout}.xlsx"
        write_workbook(data, path)
    elif fmt == "zip":
        workbook = directory / "online_retail_II.xlsx"
        write_workbook(data, workbook)
        path = directory / "online_retail_ii.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(workbook, "online_retail_II.xlsx")
        workbook.unlink()
    else:
        raise ValueError(fmt)
    return path


def write_workbook(data: pd.DataFrame, path: Path) -> None:
    """The UCI workbook's shape: one sheet per year, split at 2010-12-01 (or half-way)."""
    dates = pd.to_datetime(data["InvoiceDate"], format="mixed")
    split = dates < pd.Timestamp("2010-12-01")
    if split.all() or not split.any():
        split = pd.Series(data.index < len(data) // 2, index=data.index)
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        data[split].to_excel(writer, sheet_name="Year 2009-2010", index=False)
        data[~split].to_excel(writer, sheet_name="Year 2010-2011", index=False)


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """An HTTP server on loopback serving ``directory``; yields its base URL."""
    with http_server(functools.partial(_QuietHandler, directory=str(directory))) as base:
        yield base


@contextlib.contextmanager
def http_port(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """A real HTTP server on loopback answering with ``handler``; yields its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def http_server(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """:func:`http_port`, yielding the server's base URL."""
    with http_port(handler) as port:
        yield f"http://127.0.0.1:{port}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


# ----------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    """What the marts and quality tables must hold for a set of source rows."""

    rows: int
    lines: pd.DataFrame  # distinct lines with columns invoice, kind, total, country, day...

    @property
    def sales(self) -> pd.DataFrame:
        return self.lines[self.lines["kind"] == "sale"]

    @property
    def returns(self) -> pd.DataFrame:
        return self.lines[self.lines["kind"] == "return"]

    @property
    def adjustments(self) -> pd.DataFrame:
        return self.lines[self.lines["kind"] == "adjustment"]


def expected_from(*frames: pd.DataFrame) -> Expected:
    """Business rules applied with pandas to generator-layout frames (loaded in order)."""
    frame = pd.concat(frames, ignore_index=True)
    invoice = frame["Invoice"].astype(str).str.strip().str.upper()
    description = frame["Description"].astype("string").str.strip()
    country = frame["Country"].astype("string").str.strip().fillna("Unspecified")
    price_units = (frame["Price"].astype(float) * SCALE).round().astype("int64")
    data = pd.DataFrame(
        {
            "invoice": invoice,
            "stock": frame["StockCode"].astype(str).str.strip().str.upper(),
            "description": description.str.upper().fillna(""),
            "quantity": frame["Quantity"].astype("int64"),
            "stamp": pd.to_datetime(frame["InvoiceDate"], format="mixed").dt.floor("s"),
            "price_units": price_units,
            "customer": frame["Customer ID"].fillna(0).astype("int64"),
            "country": country,
            "country_key": country.str.upper(),
        }
    )
    # Later loads of the same line are the same line: the union of all loads, deduplicated.
    lines = data.drop_duplicates(
        subset=[
            "invoice",
            "stock",
            "description",
            "quantity",
            "stamp",
            "price_units",
            "customer",
            "country_key",
        ]
    ).copy()
    adjustment = lines["invoice"].str.startswith("A")
    is_return = ~adjustment & (lines["invoice"].str.startswith("C") | (lines["quantity"] < 0))
    lines["kind"] = "sale"
    lines.loc[is_return, "kind"] = "return"
    lines.loc[adjustment, "kind"] = "adjustment"
    lines["total_units"] = lines["quantity"] * lines["price_units"]
    lines["day"] = lines["stamp"].dt.date
    return Expected(rows=len(frames[-1]), lines=lines)


def read_real_sample(path: Path) -> pd.DataFrame:
    """The 99-row real sample (tests/fixtures) in generator layout, parsed independently."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return pd.DataFrame(
        {
            "Invoice": frame["Invoice"],
            "StockCode": frame["StockCode"],
            "Description": frame["Description"].replace("", None),
            "Quantity": frame["Quantity"].astype("int64"),
            "InvoiceDate": pd.to_datetime(frame["InvoiceDate"], format="%m/%d/%Y %H:%M"),
            "Price": frame["Price"].astype(float),
            "Customer ID": pd.to_numeric(frame["Customer ID"].replace("", None)),
            "Country": frame["Country"],
        }
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def load_on_day(
    warehouse: ClickHouseIOManager, selection: str, source: Path, first: datetime, day: int
) -> dict[str, int | None]:
    """The shipped assets of ``selection`` materialized in order from ``source``, as the
    load of ``day`` days after ``first`` (each load a day after the one before, as a
    daily run loads); returns the rows each asset inserted (insert-only assets)."""
    inserted: dict[str, int | None] = {}
    for spec in load_definitions("assets").graph().select(selection):
        context = AssetContext(
            spec=spec,
            io_manager=warehouse,
            load_datetime=first + timedelta(days=day),
            params={"source": str(source)},
        )
        inserted[spec.key] = warehouse.materialize(spec, context).inserted_rows
    return inserted


def materialize_raw(warehouse: ClickHouseIOManager, source: Path) -> None:
    """``raw_online_retails`` materialized from ``source``, as a run does it."""
    spec = load_definitions("assets").graph()["raw_online_retails"]
    load = datetime.now(UTC).replace(microsecond=0)
    context = AssetContext(
        spec=spec, io_manager=warehouse, load_datetime=load, params={"source": str(source)}
    )
    warehouse.materialize(spec, context)
