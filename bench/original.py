"""The original system's approach, reproduced: what the framework replaced.

The hand-wired flow the project replaces (DESIGN.md section 1) loaded the source with
pandas, built persistent staging in Python - every hub and link key hashed with SHA-256
row by row - and loaded the vault with ``INSERT ... SELECT ... WHERE key NOT IN (...)``.
This module does the same on one chdb session:

1. ``pandas.read_csv`` of the source, the raw layer's normalisation in pandas, the frame
   inserted into ``raw.online_retails``;
2. staging in a Python loop over the rows: cleaned, typed values and the ten hash keys
   (:func:`assets.sql.python_hash_key`, the same SHA-256 UUIDs as the SQL) per row, then
   the rows inserted into ``raw.psa_online_retails``;
3. every later asset exactly as ``bench/bare.py`` runs it: its own SELECT inserted, the
   vault with ``WHERE key NOT IN``, the report assets' own functions.

``run_benchmark.py`` runs it as a child process and times it from exec to exit, beside
``pipeline materialize`` timed the same way, at 100,000 rows by default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from assets.sql import python_hash_key
from bench.bare import INGEST_KEY, insert_frame, run_bare
from orchestration.graph import AssetGraph

STAGING_KEY = "psa_online_retails"
DEFAULT_ROWS = 100_000


def _text(value: Any) -> str | None:
    """A CSV cell as text, blanks as None (what the original's loader stored)."""
    if pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def load_raw(session: Any, source: Path) -> None:
    """pandas reads the file; the frame goes into ``raw.online_retails`` as it is."""
    frame = pd.read_csv(source, dtype={"Invoice": str, "StockCode": str})
    raw = pd.DataFrame(
        {
            "InvoiceNo": frame["Invoice"].str.strip(),
            "StockCode": frame["StockCode"].str.strip(),
            "Description": frame["Description"],
            "Quantity": frame["Quantity"].astype("Int32"),
            "InvoiceDate": pd.to_datetime(frame["InvoiceDate"], format="mixed").dt.strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "UnitPrice": frame["Price"].astype(float),
            "CustomerID": frame["Customer ID"].astype("UInt64"),
            "Country": frame["Country"],
            "TotalAmount": frame["Quantity"] * frame["Price"],
            "RECORD_SOURCE": source.name,
        }
    )
    insert_frame(session, "raw.online_retails", raw)


def stage_rows(session: Any, load: datetime) -> None:
    """Persistent staging, one Python iteration and ten SHA-256 keys per row."""
    raw = session.query("SELECT * FROM raw.online_retails", "DataFrame")
    rows = []
    for row in raw.itertuples(index=False):
        source_invoice = (_text(row.InvoiceNo) or "").upper()
        stock_code = (_text(row.StockCode) or "").upper()
        description = _text(row.Description)
        quantity = int(row.Quantity)
        invoice_date = datetime.strptime(row.InvoiceDate, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        unit_price = round(float(row.UnitPrice), 4)
        customer_id = 0 if _text(row.CustomerID) is None else int(row.CustomerID)
        country = _text(row.Country) or "Unspecified"
        invoice_key = python_hash_key(
            source_invoice,
            stock_code,
            description or "",
            quantity,
            invoice_date,
            unit_price,
            customer_id,
            country,
        )
        product_key = python_hash_key(stock_code)
        customer_key = python_hash_key(customer_id)
        time_key = python_hash_key(invoice_date)
        country_key = python_hash_key(country)
        returned = source_invoice.startswith("C")
        rows.append(
            {
                "hub_invoice_hash_key": invoice_key,
                "hub_product_hash_key": product_key,
                "hub_customer_hash_key": customer_key,
                "hub_time_hash_key": time_key,
                "hub_country_hash_key": country_key,
                "link_invoice_product_hash_key": python_hash_key(invoice_key, product_key),
                "link_invoice_customer_hash_key": python_hash_key(invoice_key, customer_key),
                "link_invoice_time_hash_key": python_hash_key(invoice_key, time_key),
                "link_invoice_country_hash_key": python_hash_key(invoice_key, country_key),
                "link_customer_country_hash_key": python_hash_key(customer_key, country_key),
                "InvoiceNo": source_invoice[1:] if returned else source_invoice,
                "StockCode": stock_code,
                "Description": description,
                "Quantity": quantity,
                "InvoiceDate": invoice_date,
                "UnitPrice": unit_price,
                "TotalAmount": round(quantity * unit_price, 4),
                "CustomerID": customer_id,
                "Country": country,
                "ReturnStatus": "Return" if returned or quantity < 0 else "Normal",
                "LOAD_DATETIME": load,
                "RECORD_SOURCE": row.RECORD_SOURCE,
            }
        )
    insert_frame(session, "raw.psa_online_retails", pd.DataFrame(rows))


def run_original(
    graph: AssetGraph, ddl_paths: list[Path], source: Path, warehouse: Path, params: dict
) -> dict[str, Any]:
    """Every asset the original way; seconds per asset and in total (like ``run_bare``)."""
    load = datetime.now(UTC).replace(microsecond=0)
    return run_bare(
        graph,
        ddl_paths,
        source,
        warehouse,
        params,
        replaced={
            INGEST_KEY: lambda session: load_raw(session, source),
            STAGING_KEY: lambda session: stage_rows(session, load),
        },
    )
