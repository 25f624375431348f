"""A bad source fails with a SourceError that names the file/URL, row, column and cause.

A CSV file's row is named by its physical line, the header being line 1
(:mod:`assets.sources.places`; ``tests/test_sources_lines.py`` has the wrapped cases)."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assets.sources import SourceError, read_source, synthetic
from assets.sources.download import download
from assets.sources.places import Place
from tests.hand_written_zip import write_zip
from tests.retail_support import serve_directory, write_source

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
GOOD = "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"


def read_all(source: str | Path) -> None:
    list(read_source(str(source), chunk_rows=1_000))


def csv_file(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "source.csv"
    path.write_text(header + "".join(lines))
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv: file not found"):
        read_all(tmp_path / "nope.csv")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty\.csv: the file is empty"):
        read_all(path)


def test_header_without_rows_names_the_path_as_every_source_error_does(tmp_path: Path) -> None:
    """It named the file by its base name alone (``source.csv: ...``)."""
    path = csv_file(tmp_path)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == f"{path}: the source has a header but no rows"


def test_blank_lines_before_the_header_are_named_not_called_an_empty_file(tmp_path: Path) -> None:
    """A file that has a header and rows, below blank lines, was refused as one with "no
    header and no rows": the line says where the header is and that it must come first."""
    path = csv_file(tmp_path, GOOD, header="\n \n" + HEADER)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == (
        f"{path}, line 1: blank, but the header must be the first line "
        "(the first line that holds text is line 3)"
    )


def test_a_file_of_blank_lines_has_no_header(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"source\.csv: the file has no header and no rows"):
        read_all(csv_file(tmp_path, header="\n\n,,\n"))


def test_a_renamed_column_is_named_once_with_the_header_that_may_mean_it(tmp_path: Path) -> None:
    """It read "column 'Quantity': required column 'Quantity' (header 'Quantity') is
    missing; columns found: ..., 'Qty', ...": the name three times, and no word of the
    renamed column that stood for it."""
    header = "Invoice,StockCode,Description,Qty,InvoiceDate,Price,Customer ID,Country\n"
    path = csv_file(tmp_path, GOOD, header=header)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == (
        f"{path}, column 'Quantity': not in the header (did you mean 'Qty'?); the header "
        "has: 'Invoice', 'StockCode', 'Description', 'Qty', 'InvoiceDate', 'Price', "
        "'Customer ID', 'Country'"
    )
    assert error.value.column == "Quantity"


def test_a_missing_column_with_no_header_like_it_suggests_none(tmp_path: Path) -> None:
    header = "Invoice,StockCode,Description,InvoiceDate,Price,Customer ID,Country\n"
    path = csv_file(tmp_path, "1,2,3,12/1/2010 8:26,1,2,UK\n", header=header)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == (
        f"{path}, column 'Quantity': not in the header; the header has: 'Invoice', "
        "'StockCode', 'Description', 'InvoiceDate', 'Price', 'Customer ID', 'Country'"
    )


def test_several_missing_columns_are_listed_as_a_list(tmp_path: Path) -> None:
    """It read "column 'Description': required column 'Description' (header
    'Description') and 'Quantity' (header 'Quantity') and ... is missing"."""
    path = tmp_path / "two.csv"
    path.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,Country\n1,2,3,4,5,6\n")
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == (
        f"{path}: 2 required columns are not in the header: 'UnitPrice' (header "
        "'UnitPrice' or 'Price'), 'CustomerID' (header 'CustomerID' or 'Customer ID'); "
        "the header has: 'InvoiceNo', 'StockCode', 'Description', 'Quantity', "
        "'InvoiceDate', 'Country'"
    )
    assert error.value.column is None  # no one column is the cause


def test_non_numeric_quantity_names_row_and_value(tmp_path: Path) -> None:
    bad = "536366,22633,HAND WARMER,six,12/1/2010 8:28,1.85,17850,United Kingdom\n"
    with pytest.raises(
        SourceError, match=r"line 4, column 'Quantity': not a number: 'six'"
    ) as error:
        read_all(csv_file(tmp_path, GOOD, GOOD, bad))
    assert (error.value.row, error.value.value) == (3, "six")


def test_fractional_quantity(tmp_path: Path) -> None:
    bad = "536366,22633,HAND WARMER,2.5,12/1/2010 8:28,1.85,17850,United Kingdom\n"
    with pytest.raises(SourceError, match=r"line 3, column 'Quantity': not a whole number: '2.5'"):
        read_all(csv_file(tmp_path, GOOD, bad))


def test_the_smallest_int32_quantity_is_read_and_one_below_is_refused(tmp_path: Path) -> None:
    """raw.online_retails' Quantity is Int32: -2147483648 fits it, so the reader takes it;
    the error for a quantity beyond it states the column's true range."""
    low = "536366,22633,HAND WARMER,-2147483648,12/1/2010 8:28,0,17850,United Kingdom\n"
    read_all(csv_file(tmp_path, GOOD, low))
    below = low.replace("-2147483648", "-2147483649")
    with pytest.raises(SourceError) as error:
        read_all(csv_file(tmp_path, GOOD, below))
    assert str(error.value).endswith("Quantity must be between -2147483648 and 2147483647"), str(
        error.value
    )


def test_a_bad_value_says_how_many_rows_like_it_were_read_with_it(tmp_path: Path) -> None:
    """The count is of the rows read together with the bad one, which the error names, so
    a reader knows what "2 such rows" counted (not the whole file's)."""
    bad = GOOD.replace(",6,", ",six,")
    with pytest.raises(SourceError) as error:
        read_all(csv_file(tmp_path, GOOD, bad, GOOD, bad))
    assert "not a number: 'six' (2 such rows in lines 2-5); " in str(error.value)
    with pytest.raises(SourceError) as error:
        read_all(csv_file(tmp_path, GOOD, bad))
    assert "not a number: 'six' (1 such row in lines 2-3); " in str(error.value)


def test_unparseable_date_names_row_and_value(tmp_path: Path) -> None:
    bad = "536366,22633,HAND WARMER,6,13/45/2010 8:28,1.85,17850,United Kingdom\n"
    with pytest.raises(
        SourceError, match=r"line 3, column 'InvoiceDate': unparseable date '13/45/2010 8:28'"
    ):
        read_all(csv_file(tmp_path, GOOD, bad))


def test_garbage_date_in_iso_column(tmp_path: Path) -> None:
    bad = "536366,22633,HAND WARMER,6,yesterday,1.85,17850,United Kingdom\n"
    with pytest.raises(
        SourceError, match=r"line 3, column 'InvoiceDate': unparseable date 'yesterday'"
    ):
        read_all(csv_file(tmp_path, GOOD, bad))


def test_row_numbers_count_across_chunks(tmp_path: Path) -> None:
    bad = "536366,22633,HAND WARMER,6,12/1/2010 8:28,cheap,17850,United Kingdom\n"
    path = csv_file(tmp_path, *([GOOD] * 2_500), bad)
    with pytest.raises(SourceError, match=r"line 2502, column 'Price': not a number: 'cheap'"):
        read_all(path)


def assert_one_short_line(error: pytest.ExceptionInfo[SourceError]) -> None:
    message = str(error.value)
    assert "\n" not in message and "\r" not in message
    assert len(message) < 400, message


def test_row_with_an_extra_field_names_its_row(tmp_path: Path) -> None:
    extra = GOOD.rstrip("\n") + ",EXTRA\n"
    with pytest.raises(
        SourceError,
        match=r"source\.csv, line 8: malformed CSV: 9 fields where the header has 8: "
        r"'536365,85123A,WHITE HANGING HEART,.*,United Kingdom,EXTRA'$",
    ) as error:
        read_all(csv_file(tmp_path, *([GOOD] * 6), extra, GOOD))
    assert error.value.row == 7
    assert_one_short_line(error)


def test_row_with_a_missing_field_names_its_row(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=r"line 3: malformed CSV: 2 fields where the header has 8: '1,2'"
    ):
        read_all(csv_file(tmp_path, GOOD, "1,2\n", GOOD))


def test_unclosed_quote_names_the_row_it_opens_in_on_one_line(tmp_path: Path) -> None:
    unclosed = '536365,22752,"SET 7 BABUSHKA NESTING BOXES,2,12/1/2010 8:26,7.65,17850,UK\n'
    with pytest.raises(
        SourceError,
        match=r"source\.csv, line 7: malformed CSV: 3 fields where the header has 8; "
        r"a quote \(\"\) opened in this row is never closed: "
        r"'536365,22752,\"SET 7 BABUSHKA NESTING BOXES,.*\\n536365,85123A,.*'…$",
    ) as error:
        read_all(csv_file(tmp_path, *([GOOD] * 5), unclosed, *([GOOD] * 100)))
    assert error.value.row == 6
    assert_one_short_line(error)


@pytest.mark.parametrize("end", ["\n", ""])
def test_unclosed_quote_in_the_last_row(tmp_path: Path, end: str) -> None:
    unclosed = '536378,21977,"PACK OF 60 CAKE CASES,24,12/1/2010 9:37,0.55,14688,UK' + end
    with pytest.raises(
        SourceError,
        match=r"line 5: malformed CSV: 3 fields where the header has 8; "
        r"a quote \(\"\) opened in this row is never closed: '536378,21977,",
    ) as error:
        read_all(csv_file(tmp_path, GOOD, GOOD, GOOD, unclosed))
    assert_one_short_line(error)


def test_a_quoted_value_running_over_lines_is_pointed_out(tmp_path: Path) -> None:
    """A quote closed rows later: the row's field count is off and it spans lines."""
    opens = '536365,22752,"SET 7 BABUSHKA,2,12/1/2010 8:26,7.65,17850,UK\n'
    closes = '536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,17850,"UK"\n'
    with pytest.raises(
        SourceError,
        match=r"line 3: malformed CSV: 3 fields where the header has 8; "
        r"the row runs over 3 lines, so a quoted value may lack its closing quote: ",
    ) as error:
        read_all(csv_file(tmp_path, GOOD, opens, GOOD, closes, GOOD))
    assert_one_short_line(error)


def test_a_malformed_row_is_named_by_its_line_across_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines, not rows: quoted line breaks and blank lines before the bad row push it
    down, however many blocks Arrow reads the file in; the error keeps its data row."""
    from assets.sources import files

    monkeypatch.setattr(files, "_CSV_BLOCK_BYTES", 4096)
    wrapped = '536365,85123A,"WHITE\nHANGING\r\nHEART",6,12/1/2010 8:26,2.55,17850,UK\n'
    lines = [GOOD, wrapped, "\n"] * 1_000 + [GOOD.rstrip("\n") + ",EXTRA\n"]
    with pytest.raises(SourceError, match=r"line 5002: malformed CSV: 9 fields") as error:
        read_all(csv_file(tmp_path, *lines))
    assert error.value.row == 2001


def test_empty_required_value(tmp_path: Path) -> None:
    bad = "536366,,HAND WARMER,6,12/1/2010 8:28,1.85,17850,United Kingdom\n"
    with pytest.raises(SourceError, match=r"line 3, column 'StockCode': empty value"):
        read_all(csv_file(tmp_path, GOOD, bad))


def test_an_empty_value_is_said_without_python_none(tmp_path: Path) -> None:
    """A cell with nothing in it read "empty value None": Python's word for no value, not
    the user's. Nothing is quoted then; a cell of only spaces still shows them."""
    bad = "536366,85123A,HAND WARMER,6,12/1/2010 8:28,,17850,United Kingdom\n"
    path = csv_file(tmp_path, GOOD, bad)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value) == (
        f"{path}, line 3, column 'Price': empty value (1 such row in lines 2-3); "
        "every line needs an invoice, stock code, quantity, date and price"
    )
    with pytest.raises(SourceError, match=r"'StockCode': empty value '  ' \(1 such row"):
        read_all(csv_file(tmp_path, GOOD, bad.replace(",85123A,", ",  ,")))
    # A spreadsheet's empty cell (calamine reads it as '') reads the same.
    frame = synthetic.generate(40, 2)
    frame["Price"] = frame["Price"].astype(object)
    frame.loc[30, "Price"] = None
    sheet = tmp_path / "empty.xlsx"
    frame.to_excel(sheet, index=False, sheet_name="Year 2010-2011", engine="xlsxwriter")
    with pytest.raises(SourceError, match=r"row 32, column 'Price': empty value \(1 such"):
        read_all(sheet)


def test_invoice_that_is_not_an_invoice_number(tmp_path: Path) -> None:
    bad = "X-12,22633,HAND WARMER,6,12/1/2010 8:28,1.85,17850,United Kingdom\n"
    with pytest.raises(SourceError, match=r"line 3, column 'Invoice': not an invoice number"):
        read_all(csv_file(tmp_path, GOOD, bad))


def test_corrupt_zip(tmp_path: Path) -> None:
    path = tmp_path / "online_retail_II.zip"
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(SourceError, match=r"online_retail_II\.zip: corrupt zip"):
        read_all(path)


def test_truncated_zip(tmp_path: Path) -> None:
    path = write_source(synthetic.generate(300, 1), tmp_path, "zip", "II")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="corrupt zip"):
        read_all(path)


def test_zip_without_data_files(tmp_path: Path) -> None:
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.txt", "nothing here")
    with pytest.raises(
        SourceError, match=r"holds no \.xlsx, \.csv, \.tsv or \.parquet file.*README"
    ):
        read_all(path)


def test_an_encrypted_zip_member_is_named_with_the_fix(tmp_path: Path) -> None:
    """zipfile's own words were ``RuntimeError: File <ZipInfo filename='good.csv'
    compress_type=deflate ...> is encrypted, password required for extraction``: a crash
    to read, not naming the archive."""
    path = tmp_path / "enc.zip"
    data = (HEADER + GOOD).encode()
    write_zip(path, "good.csv", data, password=b"s3cret")
    assert zipfile.ZipFile(path).read("good.csv", pwd=b"s3cret") == data  # really encrypted

    with pytest.raises(SourceError) as raised:
        read_all(path)

    assert str(raised.value) == (
        f"{path}!good.csv: encrypted zip member (password-protected); the pipeline reads "
        "no passwords, so decrypt it first (extract it, or zip it again without -P)"
    )


def test_a_zip_member_compressed_by_a_method_python_cannot_extract_is_named(
    tmp_path: Path,
) -> None:
    """Deflate64 (method 9), which Windows' Explorer writes for archives over 2 GB, was
    ``NotImplementedError: That compression method is not supported``."""
    path = tmp_path / "big.zip"
    write_zip(path, "retail.csv", (HEADER + GOOD).encode(), method=9)

    with pytest.raises(SourceError) as raised:
        read_all(path)

    assert str(raised.value) == (
        f"{path}!retail.csv: zip member compressed with method 9 (deflate64), which the "
        "reader cannot extract; zip it again with deflate (zip's default), or extract it"
    )


def test_a_zip_member_whose_compressed_bytes_are_corrupt_is_named(tmp_path: Path) -> None:
    """zlib's error was all the run said: ``error: Error -3 while decompressing data``."""
    path = tmp_path / "broken.zip"
    write_zip(path, "retail.csv", (HEADER + GOOD).encode(), method=8, stored=b"\xff" * 64)

    with pytest.raises(SourceError) as raised:
        read_all(path)

    assert str(raised.value) == (
        f"{path}!retail.csv: corrupt zip member: Error -3 while decompressing data: "
        "invalid block type"
    )


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "online_retail_II.xlsx"
    path.write_bytes(b"PK\x03\x04 definitely not a workbook")
    with pytest.raises(SourceError, match=r"online_retail_II\.xlsx: corrupt xlsx"):
        read_all(path)


def test_xlsx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("Invoice,StockCode\n1,2\n")
    with pytest.raises(SourceError, match="corrupt xlsx: the file is not an Excel workbook"):
        read_all(path)


@pytest.mark.parametrize(
    ("startrow", "count", "first"),
    [(1, 10, 2), (0, 1, 1)],
    ids=["rows-below-a-blank-row", "one-row"],
)
def test_a_sheet_with_rows_but_no_header_names_it(
    tmp_path: Path, startrow: int, count: int, first: int
) -> None:
    """Rows without a header, even one row (which was taken for a header alone), are an
    error naming the sheet and the row read as its header, not a sheet skipped as empty
    while the workbook's other sheets load."""
    frame = synthetic.generate(10, 1)
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        frame.to_excel(writer, sheet_name="A", index=False)
        frame.iloc[:count].to_excel(
            writer, sheet_name="B", index=False, header=False, startrow=startrow
        )
    with pytest.raises(SourceError) as raised:
        read_all(path)
    message = str(raised.value)
    assert message.startswith(f"{path} sheet 'B': 8 required columns are not in the header: ")
    assert (
        f"; its header, row {first} (the sheet's first row that is not blank), holds: " in message
    )


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(SourceError, match="corrupt parquet"):
        read_all(path)


def test_http_404_fails_at_once(tmp_path: Path) -> None:
    with (
        serve_directory(tmp_path) as base,
        pytest.raises(SourceError, match=r"/missing\.zip: HTTP 404"),
    ):
        download(f"{base}/missing.zip", tmp_path, backoff=(5.0, 5.0))


def test_unreachable_url_is_retried_then_fails_without_secrets(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://admin:hunter2@127.0.0.1:{port}/online_retail_II.zip?key=s3cr3t"
    with pytest.raises(SourceError) as error:
        download(url, tmp_path, backoff=(0.01, 0.01))
    message = str(error.value)
    assert "after 3 attempt(s): connection refused" in message
    assert f"http://127.0.0.1:{port}/online_retail_II.zip" in message
    assert "hunter2" not in message and "s3cr3t" not in message and "admin" not in message


def test_bad_values_in_xlsx_name_the_sheet(tmp_path: Path) -> None:
    """Data row 31 is the sheet's row 32, as a spreadsheet numbers it (header row 1)."""
    frame = synthetic.generate(40, 2)
    frame["Quantity"] = frame["Quantity"].astype(object)
    frame.loc[30, "Quantity"] = "lots"
    path = tmp_path / "bad.xlsx"
    frame.to_excel(path, index=False, sheet_name="Year 2010-2011", engine="xlsxwriter")
    with pytest.raises(
        SourceError, match=r"bad\.xlsx sheet 'Year 2010-2011', row 32, column 'Quantity'"
    ):
        read_all(path)


def test_parquet_with_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "partial.parquet"
    synthetic.generate(20, 1).drop(columns=["Country"]).to_parquet(path)
    with pytest.raises(SourceError, match="column 'Country': not in the header"):
        read_all(path)


def test_a_bad_value_names_its_column_as_the_file_writes_it(tmp_path: Path) -> None:
    """A 2009-2010 layout file has 'Customer ID', not 'CustomerID': the error named the
    raw field, a header the file does not have, so grepping the file found nothing."""
    bad = "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,17850.5,United Kingdom\n"
    path = csv_file(tmp_path, GOOD, GOOD, GOOD, GOOD, bad)
    with pytest.raises(SourceError) as error:
        read_all(path)
    assert str(error.value).startswith(
        f"{path}, line 6, column 'Customer ID': not a whole number: '17850.5'"
    ), str(error.value)
    assert error.value.column == "Customer ID"


def test_a_parquet_bad_value_names_its_column_as_the_file_writes_it(tmp_path: Path) -> None:
    """A Parquet file's 'Price' was reported as 'UnitPrice'."""
    frame = synthetic.generate(20, 1)
    frame.loc[3, "Price"] = 1_234_567.5
    path = tmp_path / "prices.parquet"
    frame.to_parquet(path)
    with pytest.raises(SourceError, match=r"row 4, column 'Price': out of range: 1234567\.5") as e:
        read_all(path)
    assert "; Price and Quantity x Price must lie within" in str(e.value)


def test_error_carries_structured_fields() -> None:
    place = Place(row=6, unit="line", first=7, last=7)
    error = SourceError("cause", source="file.csv", place=place, column="Quantity", value="x")
    assert str(error) == "file.csv, line 7, column 'Quantity': cause"
    assert (error.row, error.place, error.column, error.value) == (6, place, "Quantity", "x")
    assert isinstance(error, Exception) and not isinstance(error, pd.errors.ParserError)


@pytest.mark.parametrize("customer", ["18446744073709551615", "18446744073709550592"])
def test_customer_id_beyond_exact_integers_is_refused(tmp_path: Path, customer: str) -> None:
    """Found by the bad-source property test: ids near 2**64 crashed Arrow's cast, and ids
    above 2**53 would be stored rounded, since they pass through float64."""
    bad = f"536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,{customer},United Kingdom\n"
    with pytest.raises(
        SourceError, match=rf"line 3, column 'Customer ID': out of range: '{customer}'"
    ):
        read_all(csv_file(tmp_path, GOOD, bad))


# ------------------------------------------- a quote opened in a field that cannot wrap
# With the right number of fields a runaway quote raises nothing in the CSV parser: the
# value it opens swallows the rows after it. Only Description ever holds a line break.

QUOTED_COUNTRY = GOOD.replace(",United Kingdom", ',"United Kingdom')


@pytest.mark.parametrize(
    "lines",
    [
        [GOOD] * 5 + [QUOTED_COUNTRY] + [GOOD] * 100,
        [GOOD] * 5 + [QUOTED_COUNTRY],  # the last row: the file ends in a line break
        [GOOD] * 5 + [QUOTED_COUNTRY.rstrip("\n")],  # ... in the quoted value itself
        [GOOD] * 5 + [line.replace("\n", "\r\n") for line in (QUOTED_COUNTRY, GOOD)],
    ],
    ids=["mid-file", "last row", "last row, no final line break", "CRLF"],
)
def test_an_unclosed_quote_in_the_last_field_names_its_row_and_column(
    tmp_path: Path, lines: list[str]
) -> None:
    with pytest.raises(
        SourceError,
        match=r"source\.csv, line 7, column 'Country': malformed CSV: a quote \(\"\) opened "
        r"in this value is never closed",
    ) as error:
        read_all(csv_file(tmp_path, *lines))
    assert (error.value.row, error.value.column) == (6, "Country")
    assert_one_short_line(error)


def test_an_unclosed_quote_is_found_in_a_later_chunk(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"line 2502, column 'Country': .* never closed"):
        read_all(csv_file(tmp_path, *([GOOD] * 2500), QUOTED_COUNTRY, *([GOOD] * 10)))


def test_a_quote_closed_by_a_later_rows_quote_is_named(tmp_path: Path) -> None:
    """The opening quote pairs with one meant for a later row: still rows swallowed."""
    spain = GOOD.replace("United Kingdom", '"Spain"')
    stock = GOOD.replace("85123A", '"85123A')
    closes = GOOD.replace("85123A", '"22633"')
    invoice = GOOD.replace("536365", '"536365')  # named as the header writes it
    invoice_closes = GOOD.replace("536365", '"536366"')
    for lines, column in [
        ([GOOD, QUOTED_COUNTRY, GOOD, GOOD, spain, GOOD], "Country"),
        ([GOOD, stock, GOOD, GOOD, closes, GOOD], "StockCode"),
        ([GOOD, invoice, GOOD, GOOD, invoice_closes, GOOD], "Invoice"),
    ]:
        with pytest.raises(
            SourceError,
            match=rf"line 3, column '{column}': malformed CSV: a line break, which only "
            r"Description may hold: a quote \(\"\) opened in this value runs over 4 lines",
        ) as error:
            read_all(csv_file(tmp_path, *lines))
        assert_one_short_line(error)


def test_a_description_may_still_wrap(tmp_path: Path) -> None:
    wrapped = '536365,85123A,"WHITE\nHANGING\r\nHEART",6,12/1/2010 8:26,2.55,17850,UK\n'
    rows = pa.concat_tables(read_source(str(csv_file(tmp_path, GOOD, wrapped, GOOD))))
    assert rows.column("Description").to_pylist()[1] == "WHITE\nHANGING\r\nHEART"


def test_an_unclosed_quote_in_a_last_description_column(tmp_path: Path) -> None:
    """Description last in the header: it may wrap, but not run to the end of the file."""
    header = "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID,Country,Description\n"
    good = "536365,85123A,6,12/1/2010 8:26,2.55,17850,United Kingdom,WHITE HEART\n"
    unclosed = good.replace(",WHITE", ',"WHITE')
    with pytest.raises(
        SourceError,
        match=r"line 4, column 'Description': malformed CSV: a quote \(\"\) opened in this "
        r"value is never closed",
    ) as error:
        read_all(csv_file(tmp_path, good, good, unclosed, good, good, header=header))
    assert_one_short_line(error)


# ------------------------------------ a quote that closes inside a later row's value
# A quote opened in a Description and never closed on its line pairs with the next quote
# in the file, which a lenient reader takes as the closing one whatever follows it: the
# rows between become part of one Description. The CSV grammar forbids that (a closing
# quote is followed by the delimiter, a line end or the end of the file), so once a
# Description wraps the file is held to it.

OPENS = GOOD.replace("WHITE HANGING HEART", '"WHITE METAL LANTERN')
GLASS_STAR = GOOD.replace("WHITE HANGING HEART", '"GLASS STAR" FROSTED T-LIGHT HOLDER')
WRAPPED = '536365,85123A,"WHITE\nHANGING\r\nHEART",6,12/1/2010 8:26,2.55,17850,UK\n'


def test_a_quote_that_closes_inside_a_later_value_names_where_it_opens(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError,
        match=r"^.*source\.csv, line 3, column 'Description': malformed CSV: the quote opened "
        r"here closes inside a later value \(line 6: '\"GLASS STAR\" FROSTED T-LIGHT "
        r"HOLDER'\), which would swallow the rows between$",
    ) as error:
        read_all(csv_file(tmp_path, GOOD, OPENS, GOOD, GOOD, GLASS_STAR, GOOD))
    assert (error.value.row, error.value.column) == (2, "Description")
    assert_one_short_line(error)


def test_a_runaway_quote_is_named_by_its_lines_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines, not rows: wrapped values and blank lines before it push it down, however
    many blocks and chunks the file is read in; the error keeps its data row."""
    from assets.sources import files

    monkeypatch.setattr(files, "_CSV_BLOCK_BYTES", 4096)
    lines = [GOOD, WRAPPED, "\n"] * 1_000 + [OPENS, GOOD, "\n", GLASS_STAR, GOOD]
    with pytest.raises(
        SourceError,
        match=r"line 5002, column 'Description': .* closes inside a later value \(line 5005:",
    ) as error:
        read_all(csv_file(tmp_path, *lines))
    assert error.value.row == 2001


def test_a_runaway_quote_longer_than_any_value_is_named(tmp_path: Path) -> None:
    """Closed thousands of rows later: the strict reader gives up on the value's length
    first, and that is named at the row the quote opens in all the same."""
    lines = [GOOD, OPENS, *[GOOD] * 2_000, GLASS_STAR, GOOD]
    with pytest.raises(
        SourceError,
        match=r"source\.csv, line 3, column 'Description': malformed CSV: the quote opened "
        r"here is still open \d+ lines later \(over 131072 characters\), so it would "
        r"swallow the rows after it$",
    ) as error:
        read_all(csv_file(tmp_path, *lines))
    assert_one_short_line(error)


def test_text_after_a_closing_quote_is_named_once_a_description_wraps(tmp_path: Path) -> None:
    """The grammar is the whole file's: a value quoted only in part is refused too (the
    engine's CSV reader refuses it as well; readers disagree on what it means)."""
    with pytest.raises(
        SourceError,
        match=r"source\.csv, line 7, column 'Description': malformed CSV: text after the "
        r"closing quote of a quoted value: '\"GLASS STAR\" FROSTED T-LIGHT HOLDER'",
    ) as error:
        read_all(csv_file(tmp_path, GOOD, WRAPPED, GOOD, GLASS_STAR, GOOD))
    assert (error.value.row, error.value.column) == (4, "Description")
    assert_one_short_line(error)


def test_wrapped_values_with_quotes_inside_still_load(tmp_path: Path) -> None:
    """Quotes doubled inside quoted values, delimiters and line breaks in them: all
    within the grammar, so the strict check passes and every row loads as written."""
    frame = GOOD.replace("WHITE HANGING HEART", '"12"" FRAME,\n""GLASS STAR"" WHITE"')
    country = GOOD.replace("United Kingdom", '"United ""K"""')
    lines = [GOOD, frame, WRAPPED, country, "\r\n", GOOD.replace("\n", "\r\n")]
    rows = pa.concat_tables(read_source(str(csv_file(tmp_path, *lines)), chunk_rows=2))
    assert rows.num_rows == 5
    assert rows.column("Description").to_pylist()[1:3] == [
        '12" FRAME,\n"GLASS STAR" WHITE',
        "WHITE\nHANGING\r\nHEART",
    ]
    assert rows.column("Country").to_pylist()[3] == 'United "K"'
