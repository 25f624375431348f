"""A tiny, hand-written retail warehouse for the checks, metrics and dashboard tests.

Tables come from the real DDL (``ddl/init.sql`` and ``ddl/metrics.sql``); rows are a few
lines whose every number is known, so tests can state expected values outright. The data
is consistent: every fact key resolves, hub keys are unique, ``sales_summary`` equals the
facts per day; each test then breaks exactly one thing.

chdb runs one warehouse directory per process: the caller closes what it opens.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from assets.sql import NIL_UUID, python_hash_key
from io_managers import ClickHouseIOManager
from orchestration.history import MaterializationRecord

REPO = Path(__file__).resolve().parents[1]
DDL = (REPO / "ddl" / "init.sql", REPO / "ddl" / "metrics.sql")

UK, FRANCE = python_hash_key("UNITED KINGDOM"), python_hash_key("FRANCE")
HEART, CAKESTAND, POSTAGE = (python_hash_key(code) for code in ("85123A", "22423", "POST"))
UNKNOWN, ALICE, BOB = (python_hash_key(customer) for customer in (0, 13085, 12583))
DEC1, DEC2, DEC3 = (
    python_hash_key(moment)
    for moment in ("2010-12-01 08:26:00", "2010-12-02 10:00:00", "2010-12-03 12:00:00")
)

#: (sale_id, invoice_no, product, customer, time, country, quantity, unit_price, total)
SALES = [
    ("s1", "536365", HEART, ALICE, DEC1, UK, 6, "2.55", "15.30"),
    ("s2", "536365", CAKESTAND, ALICE, DEC1, UK, 2, "12.75", "25.50"),
    ("s3", "536366", HEART, UNKNOWN, DEC2, FRANCE, 1, "2.55", "2.55"),
    ("s4", "536367", POSTAGE, ALICE, DEC2, UK, 1, "0", "0"),
    ("s5", "536368", CAKESTAND, BOB, DEC3, FRANCE, 1200, "10.95", "13140"),
    ("s6", "536369", HEART, BOB, DEC3, FRANCE, 3, "2.95", "8.85"),
]
RETURNS = [("r1", "536370", HEART, ALICE, DEC3, UK, -2, "2.55", "-5.10")]
#: An "Adjust bad debt" line: in the vault, in no fact table.
ADJUSTMENTS = [("a1", "A563185", POSTAGE, UNKNOWN, DEC3, UK, 1, "-11062.06", "-11062.06")]

#: sales_summary as the facts imply it (date, min, max, median, avg, volume).
SALES_SUMMARY = [
    ("2010-12-01", 15.30, 25.50, 20.40, 20.40, 40.80),
    ("2010-12-02", 0.0, 2.55, 1.275, 1.275, 2.55),
    ("2010-12-03", 8.85, 13140.0, 6574.425, 6574.425, 13148.85),
]
#: data_quality: an old check date (whose ratio breaks the warn limit) and the latest one.
DATA_QUALITY_COLUMNS = (
    "check_date",
    "missing_customer_id_ratio",
    "anomaly_unit_price_count",
    "anomaly_quantity_count",
    "sale_line_count",
    "return_line_count",
    "adjustment_line_count",
    "missing_customer_line_count",
    "latest_load_row_count",
    "latest_load_duplicate_row_count",
)
DATA_QUALITY = [
    ("2024-01-01", 0.5, 7, 3, 4, 0, 0, 2, 4, 0),
    ("2024-01-02", 1 / 6, 1, 1, 6, 1, 1, 1, 9, 1),
]
VAULT_TABLES = (
    "hub_invoice",
    "sat_invoice",
    "hub_product",
    "hub_customer",
    "hub_time",
    "hub_country",
    "link_invoice_product",
    "link_invoice_customer",
    "link_invoice_time",
    "link_invoice_country",
    "link_customer_country",
)


#: LOAD_DATETIME of the seeded vault lines.
LOADED = "2024-01-02 06:00:00"


def _uuid(name: str) -> str:
    return python_hash_key("line", name)


def _fact_values(rows: list[tuple]) -> str:
    return ", ".join(
        f"('{_uuid(sale)}', '{invoice}', '{product}', '{customer}', '{time}', '{country}', "
        f"{quantity}, {price}, {total})"
        for sale, invoice, product, customer, time, country, quantity, price, total in rows
    )


def _line_values(rows: list[tuple], status: str) -> tuple[str, str]:
    """hub_invoice and sat_invoice rows of fact-shaped ``rows`` (their line keys)."""
    hub, sat = [], []
    for line, invoice, *_, quantity, price, total in rows:
        key = _uuid(line)
        hub.append(f"('{key}', '{invoice}', '2010-12-03 12:00:00', '{LOADED}', 'seed')")
        sat.append(
            f"('{key}', '{python_hash_key(line)}', {quantity}, {price}, {total}, '{status}', "
            f"'2010-12-03 12:00:00', '{LOADED}', 'seed')"
        )
    return ", ".join(hub), ", ".join(sat)


def _vault_lines() -> list[str]:
    """The invoice hub and satellite holding exactly the facts' lines and the A line."""
    statements = []
    for rows, status in ((SALES + ADJUSTMENTS, "Normal"), (RETURNS, "Return")):
        hub, sat = _line_values(rows, status)
        statements += [
            f"INSERT INTO vault.hub_invoice VALUES {hub}",
            f"INSERT INTO vault.sat_invoice VALUES {sat}",
        ]
    return statements


def seed(warehouse: ClickHouseIOManager) -> None:
    """Create every retail table and fill the consistent example rows."""
    warehouse.setup(DDL)
    statements = [
        f"INSERT INTO marts.Dim_Country VALUES ('{UK}', 'United Kingdom'), ('{FRANCE}', 'France')",
        f"INSERT INTO marts.Dim_Product VALUES ('{HEART}', '85123A', "
        f"'WHITE HANGING HEART T-LIGHT HOLDER', 1), ('{CAKESTAND}', '22423', "
        f"'REGENCY CAKESTAND 3 TIER', 1), ('{POSTAGE}', 'POST', 'POSTAGE', 0)",
        f"INSERT INTO marts.Dim_Customer VALUES ('{UNKNOWN}', 0, '{NIL_UUID}'), "
        f"('{ALICE}', 13085, '{UK}'), ('{BOB}', 12583, '{FRANCE}')",
        f"INSERT INTO marts.Dim_Time VALUES ('{DEC1}', '2010-12-01', 2010, 12, 3), "
        f"('{DEC2}', '2010-12-02', 2010, 12, 4), ('{DEC3}', '2010-12-03', 2010, 12, 5)",
        f"INSERT INTO marts.Fact_Sales VALUES {_fact_values(SALES)}",
        f"INSERT INTO marts.Fact_Sale_Returns VALUES {_fact_values(RETURNS)}",
        "INSERT INTO quality.sales_summary VALUES "
        + ", ".join(f"('{d}', {a}, {b}, {c}, {e}, {v})" for d, a, b, c, e, v in SALES_SUMMARY),
        "INSERT INTO quality.data_quality VALUES "
        + ", ".join(
            "(" + ", ".join(f"'{v}'" if isinstance(v, str) else repr(v) for v in row) + ")"
            for row in DATA_QUALITY
        ),
    ]
    # The invoice lines reconcile with the facts; other vault rows only need unique keys.
    statements += _vault_lines()
    statements += [
        f"INSERT INTO vault.{table} SELECT * FROM generateRandom() LIMIT 3"
        for table in VAULT_TABLES
        if table not in ("hub_invoice", "sat_invoice")
    ]
    for statement in statements:
        warehouse.command(statement)
    _record_as_materialized(warehouse)


def _record_as_materialized(warehouse: ClickHouseIOManager) -> None:
    """Record the seeded tables in the history as a run that built them would, so a run
    of one asset reads them (a run refuses upstream never materialized in its warehouse)."""
    now = dt.datetime.now(dt.UTC)
    seeded = {
        "dim_country": "marts.Dim_Country",
        "dim_product": "marts.Dim_Product",
        "dim_customer": "marts.Dim_Customer",
        "dim_time": "marts.Dim_Time",
        "fact_sales": "marts.Fact_Sales",
        "fact_sale_returns": "marts.Fact_Sale_Returns",
        "sales_summary": "quality.sales_summary",
        "data_quality": "quality.data_quality",
        **{key: f"vault.{key}" for key in VAULT_TABLES},
    }
    warehouse.history().record_all(
        [
            MaterializationRecord(
                uuid.uuid4().hex,
                key,
                table,
                "seed",
                now,
                "materialized",
                rows=warehouse.row_count(table),
                ended=now,
            )
            for key, table in seeded.items()
        ]
    )


def open_seeded(directory: Path) -> ClickHouseIOManager:
    """A new embedded warehouse in ``directory`` with the example rows."""
    warehouse = ClickHouseIOManager.embedded(directory)
    try:
        seed(warehouse)
    except BaseException:
        warehouse.close()
        raise
    return warehouse
