"""The marts are a function of the rows loaded, never of the order they were loaded in.

A backfill (an older file after a newer one), a second file that overlaps the first, or one
file split in two must leave the same marts as one fresh load of all the rows, while the
vault stays insert-only and a rerun adds nothing. Each test loads the same rows in several
orders into fresh embedded warehouses (chdb) and compares the marts row for row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from assets import DDL_PATHS
from io_managers import ClickHouseIOManager
from orchestration.definitions import load_definitions
from tests.retail_support import load_on_day, utc

GRAPH = load_definitions("assets").graph()
#: The facts and, through their ordering deps, every dimension and the vault below them.
SELECTION = "+key:fact_sales or +key:fact_sale_returns"
MARTS = (
    "marts.Dim_Product",
    "marts.Dim_Country",
    "marts.Dim_Customer",
    "marts.Fact_Sales",
    "marts.Fact_Sale_Returns",
)
FIRST_LOAD = utc(2024, 3, 1, 6, 0, 0)
HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"

Marts = dict[str, list[tuple[object, ...]]]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterable[ClickHouseIOManager]:
    manager = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("load-order-warehouse"))
    yield manager
    manager.close()


def empty(io: ClickHouseIOManager) -> None:
    """Every database dropped and set up again from the DDL: a fresh warehouse."""
    for database in ("quality", "marts", "vault", "raw"):
        io.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    io.setup(DDL_PATHS)


def load(io: ClickHouseIOManager, source: Path, number: int) -> dict[str, int | None]:
    """Load ``number`` of the selection from ``source`` (a day after the one before)."""
    return load_on_day(io, SELECTION, source, FIRST_LOAD, number)


def marts(io: ClickHouseIOManager) -> Marts:
    """Every mart's rows, sorted, so two warehouses compare row for row."""
    rows = {table: io.query_arrow(f"SELECT * FROM {table}").to_pylist() for table in MARTS}
    return {table: sorted(tuple(row.values()) for row in rows[table]) for table in MARTS}


def marts_after(io: ClickHouseIOManager, directory: Path, loads: Sequence[str]) -> Marts:
    """The marts of a fresh warehouse after loading each CSV body of ``loads`` in turn."""
    empty(io)
    directory.mkdir(parents=True, exist_ok=True)
    for number, rows in enumerate(loads):
        source = directory / f"load_{number}.csv"
        source.write_text(HEADER + rows, encoding="utf-8")
        load(io, source, number)
    return marts(io)


def assert_order_independent(
    io: ClickHouseIOManager, tmp_path: Path, first: str, second: str
) -> Marts:
    """Both load orders give the marts of one fresh load of both files; returns them."""
    rebuilt = marts_after(io, tmp_path / "together", [first + second])
    assert marts_after(io, tmp_path / "in_order", [first, second]) == rebuilt
    assert marts_after(io, tmp_path / "backfill", [second, first]) == rebuilt
    return rebuilt


def column(rows: Marts, table: str, index: int) -> list[object]:
    return [row[index] for row in rows[table]]


#: P1 sold as TEXT ONE on 12-10 and as TEXT TWO on 12-20; then a file with a TEXT TWO sale
#: on 12-05. TEXT TWO was first sold before TEXT ONE, so TEXT ONE is the latest-introduced.
TEXTS = """\
1,P1,TEXT ONE,1,2010-12-10 10:00:00,1.00,100,United Kingdom
1,P1,TEXT TWO,1,2010-12-20 10:00:00,1.00,100,United Kingdom
"""
EARLIER_SALE_OF_TEXT_TWO = "2,P1,TEXT TWO,1,2010-12-05 10:00:00,1.00,100,United Kingdom\n"


def test_a_text_sold_earlier_in_a_later_file_counts_from_that_earlier_sale(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    rebuilt = assert_order_independent(warehouse, tmp_path, TEXTS, EARLIER_SALE_OF_TEXT_TWO)
    assert column(rebuilt, "marts.Dim_Product", 2) == ["TEXT ONE"]


def test_loading_both_files_again_adds_nothing_to_the_vault(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    marts_after(warehouse, tmp_path, [TEXTS, EARLIER_SALE_OF_TEXT_TWO])
    later_sale = "3,P1,TEXT TWO,1,2010-12-25 10:00:00,1.00,100,United Kingdom\n"
    (tmp_path / "later.csv").write_text(HEADER + later_sale)
    again = [
        load(warehouse, tmp_path / "load_1.csv", 2),
        load(warehouse, tmp_path / "load_0.csv", 3),
        load(warehouse, tmp_path / "later.csv", 4),
    ]
    added = {key: rows for run in again for key, rows in run.items() if rows}
    assert {key: rows for key, rows in added.items() if GRAPH[key].group == "vault"} == {
        # the later file's one new line (and invoice); TEXT TWO's later sale is no version
        "hub_invoice": 1,
        "link_invoice_product": 1,
        "link_invoice_customer": 1,
        "link_invoice_time": 1,
        "link_invoice_country": 1,
        "hub_time": 1,
        "sat_invoice": 1,
        "sat_time": 1,
        "sat_country": 1,
    }


#: 85123A sold under its name in 2010; a later file holds only a zero-price stock
#: correction of it, whose description is a warehouse note.
NAMED_SALE = "1,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
LATER_STOCK_NOTE = "9,85123A,damaged,-12,2011-12-05 15:20:00,0,,United Kingdom\n"


def test_a_stock_note_in_a_file_of_its_own_does_not_rename_a_product(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    rebuilt = assert_order_independent(warehouse, tmp_path, NAMED_SALE, LATER_STOCK_NOTE)
    assert column(rebuilt, "marts.Dim_Product", 2) == ["WHITE HANGING HEART"]


#: Three invoices to "United Kingdom" and one to "France"; then one stray upper-case
#: invoice to each. A country is named as most of its invoices spell it; France's tie goes
#: to the spelling that sorts first.
SPELLINGS = """\
10,P1,TEXT ONE,1,2010-12-10 10:00:00,1.00,100,United Kingdom
11,P1,TEXT ONE,1,2010-12-11 10:00:00,1.00,100,United Kingdom
11,P2,TEXT TWO,1,2010-12-11 10:00:00,1.00,100,United Kingdom
12,P1,TEXT ONE,1,2010-12-12 10:00:00,1.00,100,United Kingdom
13,P1,TEXT ONE,1,2010-12-12 11:00:00,1.00,200,France
"""
STRAY_SPELLINGS = """\
14,P1,TEXT ONE,1,2010-12-01 10:00:00,1.00,101,UNITED KINGDOM
15,P1,TEXT ONE,1,2010-12-13 10:00:00,1.00,200,FRANCE
15,P2,TEXT TWO,1,2010-12-13 10:00:00,1.00,200,FRANCE
"""


def test_a_country_is_named_as_most_of_its_invoices_spell_it_whatever_the_load_order(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    rebuilt = assert_order_independent(warehouse, tmp_path, SPELLINGS, STRAY_SPELLINGS)
    assert sorted(column(rebuilt, "marts.Dim_Country", 1)) == ["FRANCE", "United Kingdom"]


def test_a_sat_product_from_before_priced_gains_it_on_setup_and_its_rows_stay_names(
    warehouse: ClickHouseIOManager, tmp_path: Path
) -> None:
    marts_after(warehouse, tmp_path, [NAMED_SALE])
    # The table as the code before ``Priced`` left it: same rows, no such column.
    warehouse.command(
        "CREATE TABLE vault.sat_product_before (hub_product_hash_key UUID, HASH_DIFF UUID, "
        "Description Nullable(String), EFFECTIVE_FROM DateTime64(0, 'UTC'), "
        "LOAD_DATETIME DateTime64(0, 'UTC'), RECORD_SOURCE String) "
        "ENGINE = ReplacingMergeTree(LOAD_DATETIME) "
        "ORDER BY (hub_product_hash_key, EFFECTIVE_FROM, HASH_DIFF)"
    )
    warehouse.command(
        "INSERT INTO vault.sat_product_before SELECT * EXCEPT Priced FROM vault.sat_product"
    )
    warehouse.command("DROP TABLE vault.sat_product SYNC")
    warehouse.command("RENAME TABLE vault.sat_product_before TO vault.sat_product")

    warehouse.setup(DDL_PATHS)

    columns = [name for name, _ in warehouse.describe("vault.sat_product")]
    assert columns[2:4] == ["Description", "Priced"]
    priced = warehouse.query_arrow("SELECT Priced FROM vault.sat_product").to_pylist()
    assert priced == [{"Priced": 1}]
    (tmp_path / "note.csv").write_text(HEADER + LATER_STOCK_NOTE)
    load(warehouse, tmp_path / "note.csv", 1)
    assert column(marts(warehouse), "marts.Dim_Product", 2) == ["WHITE HANGING HEART"]
