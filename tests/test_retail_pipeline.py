"""The Online Retail pipeline end to end on the embedded ClickHouse engine (chdb).

Every assertion compares the warehouse with an independent pandas computation of
DESIGN.md section 5's rules over the rows the test wrote (tests/retail_support.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets import DDL_PATHS
from assets.sources import SourceError, synthetic
from assets.sql import python_hash_key
from io_managers import ClickHouseIOManager
from io_managers.sql import quote_string
from io_managers.types import dtype_mismatch, nullability_mismatch
from orchestration.asset import AssetSpec
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.graph import AssetGraph
from tests.retail_support import (
    SCALE,
    Expected,
    expected_from,
    read_real_sample,
    serve_directory,
    utc,
    write_source,
)

REAL_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "online_retail_real_sample.csv"
FIRST_LOAD = utc(2024, 3, 1, 6, 0, 0)
SECOND_LOAD = utc(2024, 3, 2, 6, 0, 0)
DATABASES = ("quality", "marts", "vault", "raw")
FACTS = ("marts.Fact_Sales", "marts.Fact_Sale_Returns")
DIMENSIONS = {
    "product_key": "marts.Dim_Product",
    "customer_key": "marts.Dim_Customer",
    "time_key": "marts.Dim_Time",
    "country_key": "marts.Dim_Country",
}
VAULT_TABLES = (
    "vault.hub_invoice",
    "vault.hub_product",
    "vault.hub_customer",
    "vault.hub_time",
    "vault.hub_country",
    "vault.link_invoice_product",
    "vault.link_invoice_customer",
    "vault.link_invoice_time",
    "vault.link_invoice_country",
    "vault.link_customer_country",
    "vault.sat_invoice",
    "vault.sat_product",
    "vault.sat_time",
    "vault.sat_country",
    "vault.sat_invoice_status",
)


def retail_graph() -> AssetGraph:
    """The retail code location's graph: SQL assets' upstream read from their SQL."""
    return load_definitions("assets").graph()


GRAPH = retail_graph()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterable[ClickHouseIOManager]:
    manager = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("retail-warehouse"))
    yield manager
    manager.close()


@pytest.fixture
def io(warehouse: ClickHouseIOManager) -> ClickHouseIOManager:
    """The module's warehouse, emptied and set up from the DDL for this test."""
    for database in DATABASES:
        warehouse.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    warehouse.setup(DDL_PATHS)
    return warehouse


def run(
    io: ClickHouseIOManager,
    source: str | Path,
    load: datetime = FIRST_LOAD,
    selection: str | None = None,
) -> dict[str, int | None]:
    """Materialize the selection in dependency order; returns rows inserted per asset."""
    inserted: dict[str, int | None] = {}
    for spec in GRAPH.select(selection):
        context = AssetContext(
            spec=spec, io_manager=io, load_datetime=load, params={"source": str(source)}
        )
        inserted[spec.key] = io.materialize(spec, context).inserted_rows
    return inserted


def value(io: ClickHouseIOManager, sql: str) -> object:
    return io.query_arrow(sql).to_pylist()[0]["v"]


def frame(io: ClickHouseIOManager, sql: str) -> pd.DataFrame:
    return io.query_arrow(sql).to_pandas()


def money_units(io: ClickHouseIOManager, table: str) -> int:
    return int(value(io, f"SELECT toInt64(sum(total_amount) * {SCALE}) AS v FROM {table}"))


def fingerprint(io: ClickHouseIOManager, table: str) -> tuple[int, int]:
    """Row count and an order-independent hash of every row's content."""
    row = io.query_arrow(f"SELECT count() AS n, groupBitXor(cityHash64(*)) AS h FROM {table}")
    record = row.to_pylist()[0]
    return record["n"], record["h"]


def assert_reconciles(io: ClickHouseIOManager, expected: Expected) -> None:
    """Facts, dimensions and quality tables equal the independent computation."""
    sales, returns = expected.sales, expected.returns

    # every fact key resolves in its dimension
    for fact in FACTS:
        for key, dimension in DIMENSIONS.items():
            orphans = value(
                io,
                f"SELECT count() AS v FROM {fact} AS f "
                f"LEFT ANTI JOIN {dimension} AS d ON d.{key} = f.{key}",
            )
            assert orphans == 0, f"{fact}.{key} has {orphans} keys missing from {dimension}"

    assert value(io, "SELECT count() AS v FROM marts.Fact_Sales") == len(sales)
    assert value(io, "SELECT count() AS v FROM marts.Fact_Sale_Returns") == len(returns)
    assert money_units(io, "marts.Fact_Sales") == int(sales["total_units"].sum())
    assert money_units(io, "marts.Fact_Sale_Returns") == int(returns["total_units"].sum())

    by_country = frame(
        io,
        f"SELECT c.country_name AS country, toInt64(sum(f.total_amount) * {SCALE}) AS units, "
        "count() AS n FROM marts.Fact_Sales AS f "
        "INNER JOIN marts.Dim_Country AS c ON c.country_key = f.country_key "
        "GROUP BY country ORDER BY country",
    ).set_index("country")
    want_country = sales.groupby("country").agg(
        units=("total_units", "sum"), n=("total_units", "size")
    )
    assert by_country["units"].to_dict() == want_country["units"].to_dict()
    assert by_country["n"].to_dict() == want_country["n"].to_dict()

    by_day = frame(
        io,
        f"SELECT t.date AS day, toInt64(sum(f.total_amount) * {SCALE}) AS units, count() AS n "
        "FROM marts.Fact_Sales AS f INNER JOIN marts.Dim_Time AS t ON t.time_key = f.time_key "
        "GROUP BY day ORDER BY day",
    ).set_index("day")
    want_day = sales.groupby("day").agg(units=("total_units", "sum"), n=("total_units", "size"))
    assert by_day["units"].to_dict() == want_day["units"].to_dict()
    assert by_day["n"].to_dict() == want_day["n"].to_dict()

    # quality
    unknown = sales["customer"] == 0
    anomalous = (sales["price_units"] <= 0) | (sales["quantity"] > 1000)
    assert value(io, "SELECT count() AS v FROM quality.anomaly_customer_invoices") == int(
        unknown.sum()
    )
    assert value(io, "SELECT count() AS v FROM quality.anomaly_invoice") == int(anomalous.sum())
    quality = frame(io, "SELECT * FROM quality.data_quality ORDER BY check_date DESC").iloc[0]
    assert quality["sale_line_count"] == len(sales)
    assert quality["return_line_count"] == len(returns)
    assert quality["adjustment_line_count"] == len(expected.adjustments)
    assert quality["missing_customer_line_count"] == int(unknown.sum())
    assert quality["missing_customer_id_ratio"] == pytest.approx(unknown.mean())
    assert quality["anomaly_unit_price_count"] == int((sales["price_units"] <= 0).sum())
    assert quality["anomaly_quantity_count"] == int((sales["quantity"] > 1000).sum())

    summary = frame(io, "SELECT * FROM quality.sales_summary ORDER BY sales_date")
    totals = sales.assign(total=sales["total_units"] / SCALE).groupby("day")["total"]
    want = pd.DataFrame(
        {
            "min_total_amount": totals.min(),
            "max_total_amount": totals.max(),
            "median_total_amount": totals.median(),
            "avg_total_amount": totals.mean(),
            "volume": totals.sum(),
        }
    )
    got = summary.set_index("sales_date")[list(want.columns)]
    assert list(got.index) == list(want.index)
    pd.testing.assert_frame_equal(got, want, check_names=False, rtol=1e-9)


# ------------------------------------------------------------------------ correctness


def test_real_sample_loads_month_first_dates_and_reconciles(io: ClickHouseIOManager) -> None:
    run(io, REAL_SAMPLE)
    stamps = frame(io, "SELECT InvoiceDate FROM raw.psa_online_retails ORDER BY InvoiceDate")
    assert str(stamps["InvoiceDate"].iloc[0]) == "2010-12-01 08:26:00+00:00"
    assert stamps["InvoiceDate"].dt.date.astype(str).unique().tolist() == ["2010-12-01"]
    assert value(io, "SELECT count() AS v FROM raw.online_retails") == 99
    # raw keeps descriptions as written; staging trims them
    assert (
        value(
            io,
            "SELECT countIf(Description = ' SET 2 TEA TOWELS I LOVE LONDON ') AS v "
            "FROM raw.online_retails",
        )
        == 1
    )
    assert (
        value(
            io,
            "SELECT countIf(Description = 'SET 2 TEA TOWELS I LOVE LONDON') AS v "
            "FROM raw.psa_online_retails",
        )
        == 1
    )
    assert_reconciles(io, expected_from(read_real_sample(REAL_SAMPLE)))


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [("csv", "II"), ("csv", "legacy"), ("parquet", "II"), ("xlsx", "legacy"), ("xlsx", "II")],
)
def test_synthetic_file_reconciles_with_pandas(
    io: ClickHouseIOManager, tmp_path: Path, fmt: str, layout: str
) -> None:
    rows = synthetic.generate(2_500, seed=11)
    path = write_source(rows, tmp_path, fmt, layout)
    run(io, path)
    expected = expected_from(rows)
    assert value(io, "SELECT count() AS v FROM raw.online_retails") == len(rows)
    assert len(expected.returns) > 0 and len(expected.adjustments) > 0
    assert (expected.sales["customer"] == 0).any()
    assert_reconciles(io, expected)


def test_uci_zip_over_http_reads_both_sheets_and_reconciles(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    rows = synthetic.generate(2_000, seed=5)
    path = write_source(rows, tmp_path / "site", "zip", "II")
    with serve_directory(path.parent) as base:
        run(io, f"{base}/{path.name}")
    sources = frame(io, "SELECT DISTINCT RECORD_SOURCE AS s FROM raw.online_retails ORDER BY s")
    assert sources["s"].tolist() == [
        f"{base}/{path.name}!online_retail_II.xlsx sheet 'Year 2009-2010'",
        f"{base}/{path.name}!online_retail_II.xlsx sheet 'Year 2010-2011'",
    ]
    assert_reconciles(io, expected_from(rows))


# ------------------------------------------------------------------------ idempotency


def test_rerun_on_same_source_adds_nothing(io: ClickHouseIOManager, tmp_path: Path) -> None:
    path = write_source(synthetic.generate(2_000, seed=3), tmp_path, "csv", "II")
    run(io, path, FIRST_LOAD)
    vault_before = {table: fingerprint(io, table) for table in VAULT_TABLES}
    marts_before = {table: fingerprint(io, table) for table in (*FACTS, *DIMENSIONS.values())}

    inserted = run(io, path, SECOND_LOAD)

    # The vault is insert-only and idempotent; pipeline_metrics keeps one row set per run.
    assert {key: n for key, n in inserted.items() if n and GRAPH[key].group == "vault"} == {}
    assert {table: fingerprint(io, table) for table in VAULT_TABLES} == vault_before
    assert {
        table: fingerprint(io, table) for table in (*FACTS, *DIMENSIONS.values())
    } == marts_before


def test_later_source_adds_only_new_keys_and_marts_reflect_both(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    rows = synthetic.generate(3_000, seed=8)
    # 20 % overlap, cut between invoices: a delivery carries whole invoices (a later
    # delivery of an invoice retracts the lines it lacks; tests/test_invoice_retractions.py)
    invoice, invoices = rows["Invoice"].factorize()
    first = rows[invoice < len(invoices) * 6 // 10]
    second = rows[invoice >= len(invoices) * 4 // 10]
    run(io, write_source(first, tmp_path / "a", "csv", "II"), FIRST_LOAD)
    lines_first = expected_from(first).lines

    inserted = run(io, write_source(second, tmp_path / "b", "csv", "II"), SECOND_LOAD)

    both = expected_from(first, second)
    assert inserted["hub_invoice"] == len(both.lines) - len(lines_first)
    assert value(io, "SELECT count() AS v FROM vault.hub_invoice") == len(both.lines)
    loads = frame(
        io,
        "SELECT toString(LOAD_DATETIME) AS load, count() AS n FROM vault.hub_invoice "
        "GROUP BY load ORDER BY load",
    )
    assert loads["n"].tolist() == [len(lines_first), len(both.lines) - len(lines_first)]
    products = set(both.lines["stock"])
    assert value(io, "SELECT count() AS v FROM vault.hub_product") == len(products)
    assert_reconciles(io, both)


def test_select_fact_sales_plus_rebuilds_only_its_descendants(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    run(io, write_source(synthetic.generate(1_500, seed=4), tmp_path, "csv", "II"))
    selected = [spec.key for spec in GRAPH.select("fact_sales+")]
    assert set(selected) == {
        "fact_sales",
        "anomaly_customer_invoices",
        "anomaly_invoice",
        "data_quality",
        "sales_summary",
        "pipeline_metrics",
        "sales_dashboard",
    }
    untouched = ("raw.online_retails", "vault.hub_invoice", "marts.Dim_Product")
    before = {table: fingerprint(io, table) for table in untouched}
    io.command("TRUNCATE TABLE quality.anomaly_invoice")

    run(io, "/nonexistent/never-read.csv", SECOND_LOAD, selection="fact_sales+")

    assert value(io, "SELECT count() AS v FROM quality.anomaly_invoice") > 0
    assert {table: fingerprint(io, table) for table in untouched} == before
    dates = frame(io, "SELECT toString(check_date) AS d FROM quality.data_quality ORDER BY d")
    assert dates["d"].tolist() == ["2024-03-01", "2024-03-02"]  # history kept, one per date


# --------------------------------------------------------------------- rules in detail


def test_sales_without_customer_stay_in_facts_under_the_unknown_member(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    rows = synthetic.generate(1_500, seed=9)
    run(io, write_source(rows, tmp_path, "csv", "II"))
    unknown = python_hash_key(0)
    member = frame(io, "SELECT * FROM marts.Dim_Customer WHERE customer_id = 0")
    assert member["customer_key"].tolist() == [unknown]
    assert member["country_key"].tolist() == ["00000000-0000-0000-0000-000000000000"]
    expected = expected_from(rows)
    anonymous_sales = int((expected.sales["customer"] == 0).sum())
    assert anonymous_sales > 0
    assert (
        value(
            io,
            f"SELECT count() AS v FROM marts.Fact_Sales WHERE customer_key = toUUID('{unknown}')",
        )
        == anonymous_sales
    )


def test_adjustments_are_in_the_vault_but_in_no_fact(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    rows = synthetic.generate(1_500, seed=2)
    run(io, write_source(rows, tmp_path, "csv", "II"))
    adjustments = expected_from(rows).adjustments
    assert len(adjustments) > 0
    assert value(
        io, "SELECT count() AS v FROM vault.hub_invoice WHERE startsWith(InvoiceNo, 'A')"
    ) == len(adjustments)
    for fact in FACTS:
        assert value(io, f"SELECT count() AS v FROM {fact} WHERE startsWith(invoice_no, 'A')") == 0


def test_hash_keys_are_delimited_sha256_uuids(io: ClickHouseIOManager) -> None:
    run(io, REAL_SAMPLE)
    staged = frame(
        io,
        "SELECT StockCode, CustomerID, Country, hub_product_hash_key, hub_customer_hash_key, "
        "hub_country_hash_key, link_customer_country_hash_key FROM raw.psa_online_retails",
    )
    for row in staged.itertuples(index=False):
        assert row.hub_product_hash_key == python_hash_key(row.StockCode)
        assert row.hub_customer_hash_key == python_hash_key(row.CustomerID)
        assert row.hub_country_hash_key == python_hash_key(row.Country)
        assert row.link_customer_country_hash_key == python_hash_key(
            row.hub_customer_hash_key, row.hub_country_hash_key
        )
    assert python_hash_key("1", "23") != python_hash_key("12", "3")


#: Every character Python's ``str.strip()`` removes: the tab, the no-break space, the
#: ideographic space and the rest of Unicode White_Space (plus the separators 1C-1F).
WHITE_SPACE = [chr(code) for code in range(0x110000) if chr(code).isspace()]
#: Latin text as sources write it, white space inside included (up to U+017F: ClickHouse's
#: newer Unicode upper-cases a few later letters, U+019B, that Python's leaves alone).
_CORE = st.text(
    st.sampled_from(WHITE_SPACE)
    | st.characters(min_codepoint=0x20, max_codepoint=0x17F, exclude_categories=("Cc",)),
    min_size=1,
    max_size=10,
).filter(lambda text: text.strip() == text)
_PAD = st.text(st.sampled_from(WHITE_SPACE), max_size=3)
#: A source value: text padded with any white space on either side.
PADDED = st.tuples(_PAD, _CORE, _PAD).map("".join)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(PADDED, PADDED, PADDED), min_size=1, max_size=4))
def test_staged_keys_equal_python_hash_key_of_the_source_values_whatever_white_space_pads_them(
    warehouse: ClickHouseIOManager, rows: list[tuple[str, str, str]]
) -> None:
    warehouse.setup(DDL_PATHS)
    warehouse.command("TRUNCATE TABLE raw.online_retails")
    values = ", ".join(
        f"('1', {quote_string(stock)}, {quote_string(text)}, 1, '2010-12-01 08:26:00', 1, 1, "
        f"{quote_string(country)}, 1, 'generated')"
        for stock, text, country in rows
    )
    warehouse.command(f"INSERT INTO raw.online_retails VALUES {values}")
    run(warehouse, "unused", selection="key:psa_online_retails")

    staged = warehouse.query_arrow(
        "SELECT StockCode, Description, Country, hub_product_hash_key, hub_country_hash_key "
        "FROM raw.psa_online_retails"
    ).to_pylist()
    expected = [
        {
            "StockCode": stock.strip().upper(),
            "Description": text.strip(),
            "Country": country.strip(),
            "hub_product_hash_key": python_hash_key(stock),
            "hub_country_hash_key": python_hash_key(country),
        }
        for stock, text, country in rows
    ]
    key = itemgetter("StockCode", "Description", "Country")
    assert sorted(staged, key=key) == sorted(expected, key=key)


HEADER_II = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
#: One line three times, its texts padded with a tab, no-break and ideographic spaces.
PADDED_LINES = (
    HEADER_II
    + "536365,85123A,WHITE HEART,6,12/1/2010 08:26,2.55,17850,United Kingdom\n"
    + '536366,85123A,WHITE HEART\t,6,12/1/2010 08:27,2.55,17850,"United Kingdom\t"\n'
    + "536367\u00a0,\u00a085123A,\u3000WHITE HEART\u00a0,6,12/1/2010 08:28,2.55,17850,"
    + "\u2003United Kingdom\u00a0\n"
)


def test_unicode_white_space_is_trimmed_from_every_text_like_a_space(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    (tmp_path / "padded.csv").write_text(PADDED_LINES, encoding="utf-8")
    run(io, tmp_path / "padded.csv")
    staged = frame(
        io,
        "SELECT InvoiceNo, StockCode, Description, Country, hub_country_hash_key "
        "FROM raw.psa_online_retails ORDER BY InvoiceNo",
    )
    assert staged["InvoiceNo"].tolist() == ["536365", "536366", "536367"]
    assert set(staged["StockCode"]) == {"85123A"}
    assert set(staged["Description"]) == {"WHITE HEART"}
    assert set(staged["Country"]) == {"United Kingdom"}
    assert set(staged["hub_country_hash_key"]) == {python_hash_key("United Kingdom\t")}
    assert frame(io, "SELECT country_name FROM marts.Dim_Country")["country_name"].tolist() == [
        "United Kingdom"
    ]
    assert frame(io, "SELECT description FROM marts.Dim_Product")["description"].tolist() == [
        "WHITE HEART"
    ]


#: Three source lines that differ only by description (2nd) or price (3rd).
KEYED_LINES = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 08:26,2.55,17850,United Kingdom
536365,85123A, red hanging heart t-light holder ,6,12/1/2010 08:26,2.55,17850,United Kingdom
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 08:26,2.65,17850,United Kingdom
"""
#: Written out, not recomputed with the code's own helper, so a changed delimiter,
#: normalisation or byte order fails here. Each is the UUID of the first 16 bytes of
#: SHA-256 over the text in the comment (trimmed, upper-cased parts joined by "||").
FIXED_KEYS = {
    # 536365||85123A||<DESCRIPTION>||6||2010-12-01 08:26:00||<PRICE>||17850||UNITED KINGDOM
    "hub_invoice_hash_key": [
        "331a2056-47c5-afc6-f2b7-b77bbb423e21",  # WHITE HANGING HEART T-LIGHT HOLDER, 2.55
        "fe664709-0603-5e4b-c237-74376068389b",  # RED HANGING HEART T-LIGHT HOLDER, 2.55
        "772a23c4-caff-550c-eef9-d135bd671b0a",  # WHITE HANGING HEART T-LIGHT HOLDER, 2.65
    ],
    "hub_product_hash_key": ["56271482-1209-e95d-3022-9901100b2395"] * 3,  # 85123A
    "hub_customer_hash_key": ["8072f657-9de3-2612-11c2-d30eb23619d2"] * 3,  # 17850
    "hub_time_hash_key": ["2f433bf2-d631-9a4b-19c7-3eac59b4ac2f"] * 3,  # 2010-12-01 08:26:00
    "hub_country_hash_key": ["5d6f696b-b2d8-6d93-47a3-e7d05f5cd996"] * 3,  # UNITED KINGDOM
    # 8072F657-9DE3-2612-11C2-D30EB23619D2||5D6F696B-B2D8-6D93-47A3-E7D05F5CD996
    "link_customer_country_hash_key": ["4503b45e-28fb-bd96-e2cd-02f5e42229d5"] * 3,
}


def test_hash_keys_equal_fixed_values_and_tell_lines_apart(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    source = tmp_path / "keyed.csv"
    source.write_text(KEYED_LINES)
    run(io, source, selection="key:raw_online_retails or key:psa_online_retails")

    staged = frame(
        io,
        f"SELECT {', '.join(FIXED_KEYS)} FROM raw.psa_online_retails "
        "ORDER BY UnitPrice, upperUTF8(Description) DESC",
    )
    for column, expected in FIXED_KEYS.items():
        assert [str(key) for key in staged[column]] == expected, column


#: One product under three texts: the old text sold again after the new one was introduced,
#: then (second load) a text first sold before both. 22139 never has a description.
DESCRIPTIONS_FIRST = (
    HEADER_II
    + """536365,22633,HAND WARMER UNION JACK,6,12/1/2010 08:26,1.85,17850,United Kingdom
536366,22633,HAND WARMER UNION JACK FLAG,6,12/2/2010 09:00,1.85,17850,United Kingdom
536367,22633,HAND WARMER UNION JACK ,6,12/3/2010 09:00,1.85,17850,United Kingdom
536368,22139,,56,12/3/2010 11:30,0,,United Kingdom
"""
)
DESCRIPTIONS_SECOND = (
    HEADER_II
    + """536300,22633,HAND WARMER (OLD NAME),6,11/30/2010 10:00,1.85,17850,United Kingdom
"""
)
#: Two texts of one product first sold at the same instant, in either row order.
DESCRIPTION_TIE = [
    "536365,22632,HAND WARMER RED POLKA DOT,6,12/1/2010 08:28,1.85,17850,United Kingdom\n",
    "536365,22632,HAND WARMER RED SPOT,6,12/1/2010 08:28,1.85,17850,United Kingdom\n",
]


def test_dim_product_takes_the_text_first_sold_latest_whatever_the_load_or_row_order(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    descriptions = "SELECT stock_code, description FROM marts.Dim_Product ORDER BY stock_code"
    (tmp_path / "first.csv").write_text(DESCRIPTIONS_FIRST)
    (tmp_path / "second.csv").write_text(DESCRIPTIONS_SECOND)
    run(io, tmp_path / "first.csv", FIRST_LOAD)
    want = [("22139", None), ("22633", "HAND WARMER UNION JACK FLAG")]
    assert [tuple(row) for row in frame(io, descriptions).to_numpy()] == want
    run(io, tmp_path / "second.csv", SECOND_LOAD)  # loaded later, but first sold earlier
    assert [tuple(row) for row in frame(io, descriptions).to_numpy()] == want

    chosen = []
    for name, rows in (("tie.csv", DESCRIPTION_TIE), ("tie_reversed.csv", DESCRIPTION_TIE[::-1])):
        for database in DATABASES:
            io.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        io.setup(DDL_PATHS)
        (tmp_path / name).write_text(HEADER_II + "".join(rows))
        run(io, tmp_path / name)
        chosen.append(value(io, "SELECT description AS v FROM marts.Dim_Product"))
    assert chosen[0] == chosen[1]


#: A stock correction after a sale, as the real file has them: price 0, no customer,
#: negative quantity and a warehouse note for a description. B (the bad-debt adjustments)
#: and 21134 have no priced line at all, so their only texts still name them.
STOCK_CORRECTION = (
    HEADER_II
    + """\
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 08:26,2.55,17850,United Kingdom
536901,85123A,damaged,-12,12/5/2010 15:20,0,,United Kingdom
536902,21134,check,-5,12/5/2010 15:21,0,,United Kingdom
A563185,B,Adjust bad debt,1,8/12/2011 14:50,-11062.06,,United Kingdom
"""
)


def test_a_zero_price_stock_note_does_not_rename_a_product_sold_under_its_name(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    (tmp_path / "correction.csv").write_text(STOCK_CORRECTION)
    run(io, tmp_path / "correction.csv")
    descriptions = "SELECT stock_code, description FROM marts.Dim_Product ORDER BY stock_code"
    assert [tuple(row) for row in frame(io, descriptions).to_numpy()] == [
        ("21134", "check"),
        ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER"),
        ("B", "Adjust bad debt"),
    ]


def test_exact_duplicates_enter_facts_once_and_are_counted(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    rows = synthetic.generate(2_000, seed=6)
    run(io, write_source(rows, tmp_path, "csv", "II"))
    expected = expected_from(rows)
    duplicates = len(rows) - len(expected.lines)
    assert duplicates >= 5
    quality = frame(io, "SELECT * FROM quality.data_quality").iloc[0]
    assert quality["latest_load_row_count"] == len(rows)
    assert quality["latest_load_duplicate_row_count"] == duplicates


# ------------------------------------------------------------------------ failures


def test_bad_source_fails_and_publishes_nothing(io: ClickHouseIOManager, tmp_path: Path) -> None:
    run(io, REAL_SAMPLE)
    before = fingerprint(io, "raw.online_retails")
    bad = tmp_path / "bad.csv"
    rows = synthetic.generate(600, seed=1)
    rows.to_csv(bad, index=False)
    lines = bad.read_text().splitlines()
    row = next(i for i in range(400, len(lines)) if '"' not in lines[i])  # plain CSV line
    parts = lines[row].split(",")
    lines[row] = ",".join([*parts[:3], "twelve", *parts[4:]])
    bad.write_text("\n".join(lines) + "\n")

    spec = GRAPH["raw_online_retails"]
    context = AssetContext(
        spec=spec, io_manager=io, load_datetime=SECOND_LOAD, params={"source": str(bad)}
    )
    with pytest.raises(
        SourceError, match=rf"line {row + 1}, column 'Quantity': not a number: 'twelve'"
    ):
        io.materialize(spec, context)

    assert fingerprint(io, "raw.online_retails") == before
    leftovers = value(
        io,
        "SELECT count() AS v FROM system.tables WHERE database = 'raw' AND name LIKE '\\_stg\\_%'",
    )
    assert leftovers == 0


# ------------------------------------------------------------------------ contracts


@pytest.mark.parametrize("spec", list(GRAPH), ids=lambda spec: spec.key)
def test_schema_matches_ddl_column_for_column(io: ClickHouseIOManager, spec: AssetSpec) -> None:
    described = io.describe(spec.table)
    schema = spec.schema.to_schema()
    assert list(schema.columns) == [name for name, _ in described]
    from io_managers.types import parse_type

    for name, text in described:
        column = schema.columns[name]
        ch_type = parse_type(text)
        assert dtype_mismatch(column.dtype, ch_type) is None, (spec.key, name)
        assert nullability_mismatch(column.nullable, ch_type) is None, (spec.key, name)


def test_every_asset_is_tagged_with_its_layer_and_documented() -> None:
    for spec in GRAPH:
        assert spec.tags["layer"] == spec.group
        assert spec.owners == ("data-engineering",)
        assert len(spec.description) > 30, spec.key
    assert {spec.key for spec in GRAPH} == {
        "raw_online_retails",
        "psa_online_retails",
        "hub_invoice",
        "hub_product",
        "hub_customer",
        "hub_time",
        "hub_country",
        "link_invoice_product",
        "link_invoice_customer",
        "link_invoice_time",
        "link_invoice_country",
        "link_customer_country",
        "sat_invoice",
        "sat_product",
        "sat_time",
        "sat_country",
        "sat_invoice_status",
        "dim_product",
        "dim_customer",
        "dim_time",
        "dim_country",
        "fact_sales",
        "fact_sale_returns",
        "anomaly_customer_invoices",
        "anomaly_invoice",
        "data_quality",
        "sales_summary",
        "pipeline_metrics",
        "sales_dashboard",
    }
