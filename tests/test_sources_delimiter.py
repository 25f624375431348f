"""A CSV source whose fields are separated by ';', a tab or '|' instead of commas.

A spreadsheet in a European locale re-saves Online Retail with ';' between fields and a
decimal comma in prices (``2,55``); a TSV export uses tabs. The separator is recognised
from the header (the one that splits it into the known columns), and with ';' a decimal
comma in a number is read as a decimal point. Such files are read by the Python reader
(the warehouse's own CSV path keeps to comma files, whose speed is unchanged).
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from assets import DDL_PATHS
from assets.sources import SOURCE_ENCODING_ENV, SourceError, engine_read, read_source
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from tests.test_cli import failure_of
from tests.test_sources_encoding import pipeline

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
NUMBERS = ("Quantity", "Price")


def sample_rows() -> list[list[str]]:
    """The real sample: header, then its 99 rows, as text."""
    with REAL_SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def write_sample(
    path: Path,
    delimiter: str,
    *,
    decimal_comma: bool = False,
    rows: list[list[str]] | None = None,
    encoding: str = "utf-8",
    quote_all: bool = False,
) -> Path:
    """``rows`` (the real sample by default) as a spreadsheet would save them: fields
    separated by ``delimiter``, numbers with a decimal comma if ``decimal_comma``."""
    header, *data = rows or sample_rows()
    numbers = [header.index(name) for name in NUMBERS if name in header]
    with path.open("w", encoding=encoding, newline="") as handle:
        if quote_all:
            writer = csv.writer(handle, delimiter=delimiter, quoting=csv.QUOTE_ALL)
        else:
            writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        for row in data:
            if decimal_comma:
                row = [v.replace(".", ",") if i in numbers else v for i, v in enumerate(row)]
            writer.writerow(row)
    return path


def read_rows(path: Path, **options: str) -> list[dict[str, object]]:
    """The raw rows read from ``path``, without RECORD_SOURCE (which names the file)."""
    table = pa.concat_tables(read_source(str(path), **options))  # type: ignore[arg-type]
    return table.drop_columns(["RECORD_SOURCE"]).to_pylist()


@pytest.fixture
def comma(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "comma.csv", ",")


@pytest.fixture
def semicolon(tmp_path: Path) -> Path:
    """The user's file: ';' between fields, decimal commas (``2,55``)."""
    path = write_sample(tmp_path / "semi.csv", ";", decimal_comma=True)
    assert "536365;85123A;WHITE HANGING HEART T-LIGHT HOLDER;6;12/1/2010 08:26;2,55;" in (
        path.read_text()
    )
    return path


@pytest.fixture
def tab(tmp_path: Path) -> Path:
    return write_sample(tmp_path / "tab.tsv", "\t")


# ------------------------------------------------------------------ reading the rows


@pytest.mark.parametrize(
    ("delimiter", "decimal_comma", "quote_all"),
    [
        (";", True, False),
        (";", False, False),  # a ';' file may still write decimal points
        (";", True, True),  # LibreOffice may quote every field
        ("\t", False, False),
        ("|", False, False),
    ],
    ids=["semicolon", "semicolon, decimal points", "semicolon, all quoted", "tab", "pipe"],
)
def test_the_separator_is_recognised_from_the_header(
    tmp_path: Path, comma: Path, delimiter: str, decimal_comma: bool, quote_all: bool
) -> None:
    path = write_sample(
        tmp_path / "other.csv", delimiter, decimal_comma=decimal_comma, quote_all=quote_all
    )
    rows = read_rows(path)
    assert len(rows) == 99
    assert rows[0]["UnitPrice"] == 2.55
    assert rows[0]["Description"] == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert rows == read_rows(comma)


def test_a_latin1_semicolon_file_reads_when_its_encoding_is_named(
    tmp_path: Path, comma: Path
) -> None:
    """Both at once, as a French Excel saves it: ';', decimal commas and Windows-1252."""
    rows = sample_rows()
    rows[2][2] = "WHITE MÉTAL LANTERN £"
    path = write_sample(tmp_path / "fr.csv", ";", decimal_comma=True, rows=rows, encoding="cp1252")
    read = read_rows(path, encoding="cp1252")
    assert read[1]["Description"] == "WHITE MÉTAL LANTERN £"
    assert read[1]["UnitPrice"] == 3.39
    expected = read_rows(comma)
    expected[1]["Description"] = "WHITE MÉTAL LANTERN £"
    assert read == expected


def test_a_wrapped_description_in_a_semicolon_file_is_held_to_the_grammar_and_read(
    tmp_path: Path,
) -> None:
    """A quoted Description with a line break (and a comma) calls for the strict CSV
    check, which must split at ';' too: the closing quote is followed by ';'."""
    rows = sample_rows()
    rows[3][2] = 'CREAM "CUPID", HEARTS\nCOAT HANGER'
    path = write_sample(tmp_path / "wrapped.csv", ";", decimal_comma=True, rows=rows)
    read = read_rows(path)
    assert len(read) == 99
    assert read[2]["Description"] == 'CREAM "CUPID", HEARTS\nCOAT HANGER'


# ------------------------------------------------------------------ what is refused


def semicolon_lines(tmp_path: Path, *changes: tuple[int, str, str]) -> Path:
    """The ';' file with ``(data row, column, text)`` written in place of some values."""
    path = write_sample(tmp_path / "semi.csv", ";", decimal_comma=True)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    for row, column, text in changes:
        rows[row][rows[0].index(column)] = text
    return write_sample(path, ";", rows=rows)


@pytest.mark.parametrize("value", ["2,5x", "1.234,56", "2,,5"])
def test_a_price_still_not_a_number_is_named_by_row_column_and_value(
    tmp_path: Path, value: str
) -> None:
    path = semicolon_lines(tmp_path, (5, "Price", value))
    with pytest.raises(SourceError) as raised:
        read_rows(path)
    assert str(raised.value) == (
        f"{path}, line 6, column 'Price': not a number: {value!r} (1 such row in lines "
        "2-100); fix the value or remove the row"
    )


def test_a_decimal_comma_in_a_quantity_is_no_whole_number(tmp_path: Path) -> None:
    path = semicolon_lines(tmp_path, (7, "Quantity", "6,5"))
    with pytest.raises(SourceError, match=r"line 8, column 'Quantity': not a whole number: '6,5'"):
        read_rows(path)


def test_a_tab_file_keeps_its_commas_for_what_they_are(tmp_path: Path) -> None:
    """Only ';' files are the decimal-comma convention: in a tab file from anywhere,
    ``1,234`` may as well be a thousand, so a comma in a number is refused, not guessed."""
    rows = sample_rows()
    rows[5][rows[0].index("Price")] = "2,55"
    path = write_sample(tmp_path / "tab.tsv", "\t", rows=rows)
    with pytest.raises(SourceError, match=r"line 6, column 'Price': not a number: '2,55'"):
        read_rows(path)


def test_a_row_with_too_many_fields_is_named_in_a_semicolon_file(tmp_path: Path) -> None:
    path = semicolon_lines(tmp_path, (4, "Country", "United Kingdom;extra"))
    text = path.read_text().replace('"United Kingdom;extra"', "United Kingdom;extra")
    path.write_text(text)
    with pytest.raises(SourceError) as raised:
        read_rows(path)
    assert str(raised.value).startswith(
        f"{path}, line 5: malformed CSV: 9 fields where the header has 8: '536365;84029G;"
    )


def test_a_runaway_quote_in_a_semicolon_file_is_named_by_row_and_column(
    tmp_path: Path,
) -> None:
    """A quote opened in line 3 closes in line 8's Description: the strict CSV check, which
    splits at ';' here, names where it opens and the later value it closes in."""
    path = write_sample(tmp_path / "runaway.csv", ";", decimal_comma=True)
    text = path.read_text().replace(";WHITE METAL LANTERN;", ';"WHITE METAL LANTERN;', 1)
    text = text.replace(";GLASS STAR FROSTED T-LIGHT HOLDER;", ';"GLASS STAR" FROSTED;', 1)
    path.write_text(text)
    with pytest.raises(SourceError) as raised:
        read_rows(path)
    assert str(raised.value) == (
        f"{path}, line 3, column 'Description': malformed CSV: the quote opened here "
        "closes inside a later value (line 8: '\"GLASS STAR\" FROSTED'), which would "
        "swallow the rows between"
    )


def test_a_header_that_fits_no_separator_says_which_it_seems_to_use(tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0][rows[0].index("Price")] = "Cost"
    path = write_sample(tmp_path / "semi.csv", ";", decimal_comma=True, rows=rows)
    with pytest.raises(SourceError) as raised:
        read_rows(path)
    assert str(raised.value) == (
        f"{path}, column 'UnitPrice': not in the header (header 'UnitPrice' or 'Price'); "
        "the header seems to separate its fields with ';', which gives the columns: "
        "'Invoice', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'Cost', "
        "'Customer ID', 'Country'"
    )
    tabbed = write_sample(tmp_path / "tab.tsv", "\t", rows=rows)
    with pytest.raises(SourceError, match=r"separate its fields with tabs, which gives the"):
        read_rows(tabbed)


def test_a_comma_header_missing_a_column_is_refused_as_before(tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0][rows[0].index("Price")] = "Cost"
    path = write_sample(tmp_path / "comma.csv", ",", rows=rows)
    with pytest.raises(SourceError) as raised:
        read_rows(path)
    assert str(raised.value) == (
        f"{path}, column 'UnitPrice': not in the header (header 'UnitPrice' or 'Price'); "
        "the header has: 'Invoice', 'StockCode', 'Description', 'Quantity', "
        "'InvoiceDate', 'Cost', 'Customer ID', 'Country'"
    )


# ------------------------------------------------------------- into the warehouse


def test_only_a_comma_file_is_read_by_the_warehouse_itself(
    comma: Path, semicolon: Path, tab: Path
) -> None:
    """ClickHouse's file() path stays with comma files: the others are read in Python,
    which alone knows the decimal comma (see assets.sources.engine_csv)."""
    assert engine_read(str(comma)) is not None
    assert engine_read(str(semicolon)) is None
    assert engine_read(str(tab)) is None


def loaded(warehouse: ClickHouseIOManager, source: Path) -> tuple[list, list]:
    """Every asset materialized from ``source``: the raw rows (less RECORD_SOURCE) and
    Fact_Sales' totals."""
    params = {"source": str(source)}
    for spec in load_definitions("assets").graph().select(None):
        context = AssetContext(spec, warehouse, datetime(2024, 3, 1, tzinfo=UTC), params)
        warehouse.materialize(spec, context)
    raw = warehouse.query_arrow(
        "SELECT * EXCEPT RECORD_SOURCE FROM raw.online_retails ORDER BY ALL"
    ).to_pylist()
    sales = warehouse.query_arrow(
        "SELECT count() AS lines, sum(quantity) AS quantity, toString(sum(total_amount)) AS "
        "total FROM marts.Fact_Sales"
    ).to_pylist()
    return raw, sales


def test_semicolon_and_tab_files_land_in_the_warehouse_as_the_comma_original(
    tmp_path: Path, comma: Path, semicolon: Path, tab: Path
) -> None:
    warehouse = ClickHouseIOManager.embedded(tmp_path / "warehouse")
    try:
        warehouse.setup(DDL_PATHS)
        original = loaded(warehouse, comma)
        from_semicolon = loaded(warehouse, semicolon)
        from_tab = loaded(warehouse, tab)
    finally:
        warehouse.close()
    raw, sales = original
    assert len(raw) == 99 and sales[0]["lines"] > 0
    assert from_semicolon == original
    assert from_tab == original


# ------------------------------------------------------------- the command line


def test_the_cli_materializes_a_semicolon_file_and_names_a_header_it_cannot_fit(
    tmp_path: Path, semicolon: Path, prefect_api_url: str
) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    env.pop(SOURCE_ENCODING_ENV, None)
    warehouse = ("--warehouse", f"chdb://{tmp_path / 'wh'}")
    read = pipeline(
        "materialize", "--select", "raw_online_retails", "--source", str(semicolon),
        *warehouse, env=env,
    )  # fmt: skip
    assert read.returncode == 0, read.stdout + read.stderr

    rows = sample_rows()
    rows[0][rows[0].index("Customer ID")] = "Client"
    renamed = write_sample(tmp_path / "renamed.csv", ";", decimal_comma=True, rows=rows)
    refused = pipeline(
        "materialize", "--select", "raw_online_retails", "--source", str(renamed),
        *warehouse, env=env,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = (
        f"{renamed}, column 'CustomerID': not in the header (header "
        "'CustomerID' or 'Customer ID'); the header seems "
        "to separate its fields with ';', which gives the columns: 'Invoice', 'StockCode', "
        "'Description', 'Quantity', 'InvoiceDate', 'Price', 'Client', 'Country'"
    )
    assert failure_of(refused.stderr, "raw_online_retails") == said
    assert "Traceback" not in refused.stdout + refused.stderr
