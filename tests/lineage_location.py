"""A retail-shaped code location of 32 Python assets in five layers, for lineage tests.

The Online Retail pipeline's keys and tables (raw -> vault -> marts -> quality), plus one
asset per metric gauge so the graph passes 30 nodes: the lineage pictures are checked at
the size users see. The bodies are tiny in-memory frames: these tests are about what
Prefect records and the UI draws, not about data.
An asset named in ``context.params['fail']`` raises, to show failed and skipped assets.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions


class FrameSchema(pa.DataFrameModel):
    """The columns every asset here produces."""

    n: int
    label: str


def _body(key: str):
    def body(context) -> pd.DataFrame:
        if context.params.get("fail") == key:
            raise RuntimeError(f"{key} cannot be built: source rows | contain <bad> values")
        rows = len(key)  # differs per asset, so the report's row counts are checkable
        return pd.DataFrame({"n": range(rows), "label": [key] * rows})

    return body


def _spec(key: str, group: str, deps: tuple[str, ...] = (), table: str | None = None):
    return AssetSpec(
        key=key,
        table=table or f"{group}.{key}",
        body=_body(key),
        kind="python",
        deps=deps,
        group=group,
        schema=FrameSchema,
        description=f"The {key.replace('_', ' ')} table.",
        owners=("team:data-platform",),
        tags={"layer": group},
    )


HUBS = ("hub_invoice", "hub_product", "hub_customer", "hub_time", "hub_country")
LINKS = {
    "link_invoice_product": ("hub_invoice", "hub_product"),
    "link_invoice_customer": ("hub_invoice", "hub_customer"),
    "link_invoice_time": ("hub_invoice", "hub_time"),
    "link_invoice_country": ("hub_invoice", "hub_country"),
    "link_customer_country": ("hub_customer", "hub_country"),
}
SATELLITES = {"sat_invoice": "hub_invoice", "sat_product": "hub_product", "sat_time": "hub_time"}
FACT_DEPS = ("sat_invoice", *(k for k in LINKS if k.startswith("link_invoice")))
METRICS = {
    "anomaly_unit_price_count": ("data_quality",),
    "anomaly_quantity_count": ("data_quality",),
    "missing_customer_id_ratio": ("data_quality",),
    "latest_min_total_amount": ("sales_summary",),
    "latest_max_total_amount": ("sales_summary",),
    "latest_avg_total_amount": ("sales_summary",),
    "latest_sales_volume": ("sales_summary",),
}


def _assets() -> list[AssetSpec]:
    specs = [
        _spec("raw_online_retails", "raw", table="raw.online_retails"),
        _spec("psa_online_retails", "raw", ("raw_online_retails",)),
    ]
    specs += [_spec(hub, "vault", ("psa_online_retails",)) for hub in HUBS]
    specs += [_spec(link, "vault", deps) for link, deps in LINKS.items()]
    specs += [_spec(sat, "vault", (hub,)) for sat, hub in SATELLITES.items()]
    specs += [
        _spec("dim_product", "marts", ("hub_product", "sat_product"), "marts.Dim_Product"),
        _spec(
            "dim_customer", "marts", ("hub_customer", "link_customer_country"), "marts.Dim_Customer"
        ),
        _spec("dim_time", "marts", ("hub_time", "sat_time"), "marts.Dim_Time"),
        _spec("dim_country", "marts", ("hub_country",), "marts.Dim_Country"),
        _spec("fact_sales", "marts", FACT_DEPS, "marts.Fact_Sales"),
        _spec("fact_sale_returns", "marts", FACT_DEPS, "marts.Fact_Sale_Returns"),
        _spec("anomaly_customer_invoices", "quality", ("fact_sales", "dim_customer")),
        _spec("anomaly_invoice", "quality", ("fact_sales",)),
        _spec("data_quality", "quality", ("fact_sales", "anomaly_invoice")),
        _spec("sales_summary", "quality", ("fact_sales",)),
    ]
    specs += [_spec(m, "metrics", deps, f"quality.{m}") for m, deps in METRICS.items()]
    return specs


defs = Definitions(assets=_assets(), io_managers={"warehouse": warehouse_io_manager})
