"""A delivery carries whole invoices: what a later delivery of an invoice no longer holds is
retracted from the marts, while the insert-only vault keeps every version.

The data-analyst review loaded invoice 536365 twice, the second time with 85123A's quantity
corrected from 6 to 8: both versions stayed in Fact_Sales (one sale line too many, the
revenue 15.30 too high), and a line the second delivery dropped stayed in the facts for
good, while every check passed. Each test here loads real CSV files through the real
assets into a fresh embedded warehouse (chdb) and reads the marts, quality tables, vault
and checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from assets import DDL_PATHS
from io_managers import ClickHouseIOManager
from orchestration.checks import evaluate_checks
from orchestration.definitions import load_definitions
from tests.retail_support import load_on_day, utc

GRAPH = load_definitions("assets").graph()
#: The facts, what aggregates them (quality), and everything below them.
SELECTION = "+key:data_quality or +key:sales_summary"
FIRST_LOAD = utc(2024, 3, 1, 6, 0, 0)
HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"

#: Invoice 536365 (three lines), 536366 (one) and the cancellation C536379 (two lines).
FIRST = """\
536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536365,84406B,CREAM CUPID HEARTS,8,2010-12-01 08:26:00,2.75,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom
C536379,22556,PLASTERS IN TIN,-12,2010-12-01 09:41:00,1.65,14527,United Kingdom
"""
#: 536365 again: 85123A's quantity corrected to 8, 84406B gone; C536379 without 22556.
#: 536366 is not in this delivery, so it stays as it was.
CORRECTED = """\
536365,85123A,WHITE HANGING HEART,8,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom
"""
#: A delivery of new invoices only.
NEW_INVOICES = """\
536367,22745,POPPY'S PLAYHOUSE BEDROOM,6,2010-12-02 10:00:00,2.10,13047,United Kingdom
536368,22960,JAM MAKING SET WITH JARS,6,2010-12-02 10:05:00,4.25,13047,United Kingdom
"""

Lines = list[tuple[str, str, int, Decimal]]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterable[ClickHouseIOManager]:
    manager = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("retractions-warehouse"))
    yield manager
    manager.close()


def load(io: ClickHouseIOManager, source: Path, number: int) -> dict[str, int | None]:
    """Load ``number`` of the selection from ``source`` (a day after the one before)."""
    return load_on_day(io, SELECTION, source, FIRST_LOAD, number)


def loads(
    io: ClickHouseIOManager, directory: Path, bodies: Sequence[str]
) -> list[dict[str, int | None]]:
    """A fresh warehouse, then each CSV body of ``bodies`` loaded in turn."""
    for database in ("quality", "marts", "vault", "raw"):
        io.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    io.setup(DDL_PATHS)
    directory.mkdir(parents=True, exist_ok=True)
    inserted = []
    for number, body in enumerate(bodies):
        source = directory / f"load_{number}.csv"
        source.write_text(HEADER + body, encoding="utf-8")
        inserted.append(load(io, source, number))
    return inserted


def fact_lines(io: ClickHouseIOManager, table: str) -> Lines:
    """(invoice, stock code, quantity, total) of every row of a fact table, sorted."""
    rows = io.query_arrow(
        f"SELECT fact.invoice_no AS invoice, product.stock_code AS stock, "
        f"fact.quantity AS quantity, fact.total_amount AS total FROM {table} AS fact "
        "INNER JOIN marts.Dim_Product AS product USING (product_key)"
    ).to_pylist()
    return sorted((r["invoice"], r["stock"], r["quantity"], r["total"]) for r in rows)


def one(io: ClickHouseIOManager, sql: str) -> object:
    [row] = io.query_arrow(sql).to_pylist()
    [value] = row.values()
    return value


def failed_checks(io: ClickHouseIOManager) -> list[str]:
    """Every check of the facts and quality tables that does not pass, summarised."""
    keys = ("fact_sales", "fact_sale_returns", "data_quality", "sales_summary")
    results = [r for key in keys for r in evaluate_checks(GRAPH[key], io)]
    return [r.summary() for r in results if r.status != "passed"]


CURRENT_SALES: Lines = [
    ("536365", "71053", 6, Decimal("20.34")),
    ("536365", "85123A", 8, Decimal("20.4")),
    ("536366", "22633", 6, Decimal("11.1")),
]


def test_a_corrected_line_counts_once_with_its_new_value_and_a_dropped_line_not_at_all(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    loads(warehouse, tmp_path, [FIRST, CORRECTED])

    assert fact_lines(warehouse, "marts.Fact_Sales") == CURRENT_SALES
    assert fact_lines(warehouse, "marts.Fact_Sale_Returns") == [
        ("C536379", "D", -1, Decimal("-27.5")),
    ]
    latest = "FROM quality.data_quality FINAL ORDER BY check_date DESC LIMIT 1"
    assert one(warehouse, f"SELECT sale_line_count {latest}") == 3
    assert one(warehouse, f"SELECT return_line_count {latest}") == 1
    assert one(warehouse, "SELECT sum(volume) FROM quality.sales_summary") == pytest.approx(51.84)
    assert failed_checks(warehouse) == []


def test_the_vault_keeps_every_version_and_records_each_retraction(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    loads(warehouse, tmp_path, [FIRST, CORRECTED])

    # The first delivery's six lines and the corrected 85123A line: nothing deleted.
    assert one(warehouse, "SELECT count() FROM vault.hub_invoice") == 7
    assert one(warehouse, "SELECT count() FROM vault.sat_invoice") == 7
    retracted = warehouse.query_arrow(
        "SELECT sat.Quantity AS quantity, status.Retracted AS retracted, "
        "status.LOAD_DATETIME AS load_datetime, status.RECORD_SOURCE AS record_source "
        "FROM vault.sat_invoice_status AS status "
        "INNER JOIN vault.sat_invoice AS sat USING (hub_invoice_hash_key) ORDER BY quantity"
    ).to_pylist()
    assert [(row["quantity"], row["retracted"]) for row in retracted] == [(-12, 1), (6, 1), (8, 1)]
    assert {row["load_datetime"] for row in retracted} == {FIRST_LOAD + timedelta(days=1)}
    assert {row["record_source"] for row in retracted} == {"load_1.csv"}


def test_delivering_the_same_file_again_adds_and_retracts_nothing(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    [_, _, again] = loads(warehouse, tmp_path, [FIRST, CORRECTED, CORRECTED])

    vault_rows = {key: rows for key, rows in again.items() if GRAPH[key].group == "vault"}
    assert set(vault_rows.values()) == {0}
    assert "sat_invoice_status" in vault_rows
    assert fact_lines(warehouse, "marts.Fact_Sales") == CURRENT_SALES


def test_a_delivery_of_new_invoices_only_retracts_nothing(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    [_, _, new] = loads(warehouse, tmp_path, [FIRST, CORRECTED, NEW_INVOICES])

    assert new["sat_invoice_status"] == 0
    assert fact_lines(warehouse, "marts.Fact_Sales") == [
        *CURRENT_SALES[:2],
        ("536366", "22633", 6, Decimal("11.1")),
        ("536367", "22745", 6, Decimal("12.6")),
        ("536368", "22960", 6, Decimal("25.5")),
    ]
    assert failed_checks(warehouse) == []


def test_the_marts_are_those_of_one_load_of_the_current_lines(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    loads(warehouse, tmp_path / "in_turn", [FIRST, CORRECTED])
    in_turn = fact_lines(warehouse, "marts.Fact_Sales")
    # The current lines: the corrected delivery, and 536366 from the first.
    untouched = "".join(line + "\n" for line in FIRST.splitlines() if ",22633," in line)
    loads(warehouse, tmp_path / "at_once", [CORRECTED + untouched])
    assert fact_lines(warehouse, "marts.Fact_Sales") == in_turn


def test_delivering_an_earlier_version_again_brings_its_lines_back(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    [_, _, again] = loads(warehouse, tmp_path, [FIRST, CORRECTED, FIRST])

    # 84406B, the quantity-6 85123A and 22556 come back; the quantity-8 85123A goes.
    assert again["sat_invoice_status"] == 4
    assert again["hub_invoice"] == 0
    assert fact_lines(warehouse, "marts.Fact_Sales") == [
        ("536365", "71053", 6, Decimal("20.34")),
        ("536365", "84406B", 8, Decimal("22")),
        ("536365", "85123A", 6, Decimal("15.3")),
        ("536366", "22633", 6, Decimal("11.1")),
    ]
    assert len(fact_lines(warehouse, "marts.Fact_Sale_Returns")) == 2
    assert failed_checks(warehouse) == []
