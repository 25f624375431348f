"""A bad row of a CSV file is named by its physical line (the header is line 1), whatever
went wrong in it: a person opens the file in an editor at that line. Spreadsheets are
named by the sheet's row numbers, Parquet by its rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.csv as pa_csv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.sources import SourceError, read_source, synthetic
from assets.sources.places import CsvLines

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
GOOD = "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
WRAPPED = '536365,85123A,"WHITE\nHANGING\r\nHEART",6,12/1/2010 8:26,2.55,17850,UK\n'
SIX = GOOD.replace(",6,", ",six,")


def read_all(source: Path) -> None:
    list(read_source(str(source), chunk_rows=1_000))


def message_of(path: Path) -> str:
    with pytest.raises(SourceError) as error:
        read_all(path)
    return str(error.value)


def test_a_bad_value_and_a_bad_byte_in_one_row_are_named_at_one_line(tmp_path: Path) -> None:
    """The SRE finding: row 100's bad value read 'row 100', a bad byte in it 'line 101'."""
    rows = [GOOD] * 120
    path = tmp_path / "source.csv"
    path.write_text(HEADER + "".join([*rows[:99], SIX, *rows[100:]]))
    assert f"{path}, line 101, column 'Quantity': not a number: 'six' " in message_of(path)
    path.write_bytes((HEADER + "".join(rows[:99])).encode() + b"\xff" + GOOD.encode())
    assert f"{path}: not UTF-8 text (byte 0xff on line 101, " in message_of(path)


def test_lines_count_a_wrapped_description_and_blank_lines(tmp_path: Path) -> None:
    """A quoted line break and a blank line push every later row down a line: the line
    named is the one an editor shows, not data row + 1."""
    path = tmp_path / "source.csv"
    path.write_text(HEADER + GOOD + WRAPPED + "\n" + SIX)
    assert message_of(path).startswith(
        f"{path}, line 7, column 'Quantity': not a number: 'six' (1 such row in lines 2-7); "
    )


def test_a_row_that_spans_lines_is_named_by_all_of_them(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    path.write_text(HEADER + GOOD + WRAPPED.replace(",6,", ",six,") + GOOD)
    assert message_of(path).startswith(
        f"{path}, lines 3-5, column 'Quantity': not a number: 'six' (1 such row in lines 2-6); "
    )


def test_the_lines_of_a_later_chunk_are_counted_from_the_files_start(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    path.write_text(HEADER + WRAPPED + GOOD * 1_500 + SIX)
    assert message_of(path).startswith(
        f"{path}, line 1505, column 'Quantity': not a number: 'six' "
        "(1 such row in lines 1,004-1,505); "
    )


def test_a_row_of_the_wrong_width_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    path.write_text(HEADER + WRAPPED + "\n" + GOOD.rstrip("\n") + ",EXTRA\n")
    assert message_of(path).startswith(
        f"{path}, line 6: malformed CSV: 9 fields where the header has 8: "
    )


def test_a_quote_closed_in_a_later_row_names_the_lines_of_both(tmp_path: Path) -> None:
    """The strict CSV check: the row the quote opens in and the line it closes on."""
    opens = '536365,22752,"SET 7 BABUSHKA,2,12/1/2010 8:26,7.65,17850,UK\n'
    closes = '536366,21730,"GLASS STAR" FROSTED,6,12/1/2010 8:28,4.25,17850,UK\n'
    path = tmp_path / "source.csv"
    path.write_text(HEADER + WRAPPED + opens + GOOD + closes)
    assert message_of(path).startswith(
        f"{path}, line 5, column 'Description': malformed CSV: the quote opened here "
        "closes inside a later value (line 7: "
    )


def test_a_row_beyond_the_line_count_is_named_as_a_data_row(tmp_path: Path) -> None:
    """A value longer than Python's CSV field limit, which Arrow reads, stops the count
    of lines: the error then names the data row, saying so, rather than guess a line."""
    long = GOOD.replace("WHITE HANGING HEART", "X" * (csv.field_size_limit() + 1))
    path = tmp_path / "source.csv"
    path.write_text(HEADER + long + GOOD + SIX)
    assert message_of(path).startswith(
        f"{path}, data row 3, column 'Quantity': not a number: 'six' "
        "(1 such row in data rows 1-3); "
    )


def test_a_sheet_names_the_row_a_spreadsheet_shows(tmp_path: Path) -> None:
    """The header is the sheet's row 1, so data row 31 is row 32 in Excel."""
    frame = synthetic.generate(40, 2)
    frame["Quantity"] = frame["Quantity"].astype(object)
    frame.loc[30, "Quantity"] = "lots"
    path = tmp_path / "bad.xlsx"
    frame.to_excel(path, index=False, sheet_name="S", engine="xlsxwriter")
    assert message_of(path).startswith(
        f"{path} sheet 'S', row 32, column 'Quantity': not a number: 'lots' "
        "(1 such row in rows 2-41); "
    )


def test_a_sheet_below_blank_rows_names_the_row_a_spreadsheet_shows(tmp_path: Path) -> None:
    """Two blank rows above the header make it row 3, so data row 31 is row 34."""
    frame = synthetic.generate(40, 2)
    frame["Quantity"] = frame["Quantity"].astype(object)
    frame.loc[30, "Quantity"] = "lots"
    path = tmp_path / "bad.xlsx"
    frame.to_excel(path, index=False, sheet_name="S", startrow=2, engine="xlsxwriter")
    assert message_of(path).startswith(
        f"{path} sheet 'S', row 34, column 'Quantity': not a number: 'lots' "
        "(1 such row in rows 4-43); "
    )


def test_parquet_names_its_rows_from_one(tmp_path: Path) -> None:
    frame = synthetic.generate(40, 2)
    frame["Quantity"] = frame["Quantity"].astype(str)
    frame.loc[30, "Quantity"] = "lots"
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    assert message_of(path).startswith(
        f"{path}, row 31, column 'Quantity': not a number: 'lots' (1 such row in rows 1-40); "
    )


_VALUE = st.text(st.sampled_from('ab ,"\n\r'), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.lists(_VALUE, min_size=2, max_size=2), st.integers(0, 2)), min_size=1
    ),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    last_end=st.booleans(),
)
def test_the_lines_found_are_the_lines_written(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[list[str], int]],
    end: str,
    last_end: bool,
) -> None:
    """Rows quoted as any writer quotes them, with line breaks of every kind inside values
    and blank lines between rows, the last line ended or not: each row is found on the
    lines it was written on, and Arrow, whose row numbers are turned into lines, counts
    the same rows."""
    text, line, written = f"a,b{end}", 2, {}
    for number, (values, blanks) in enumerate(rows, 1):
        text += end * blanks
        line += blanks
        record = ",".join('"' + value.replace('"', '""') + '"' for value in values) + end
        breaks = record.count("\n") + record.count("\r") - record.count("\r\n")
        written[number] = (line, line + breaks - 1)
        text += record
        line += breaks
    path = tmp_path_factory.mktemp("lines") / "rows.csv"
    path.write_bytes((text if last_end else text.removesuffix(end)).encode())
    places = CsvLines(path, "utf-8-sig", ",").places(written)
    assert {row: place.lines for row, place in places.items()} == written
    arrow = pa_csv.read_csv(path, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
    assert arrow.num_rows == len(rows)


def test_a_file_of_one_row_names_its_one_line_not_a_span(tmp_path: Path) -> None:
    """``lines 2-2`` read like a typo for a range; one line is ``line 2``."""
    path = tmp_path / "source.csv"
    path.write_text(HEADER + SIX)
    assert "(1 such row in line 2); " in message_of(path)
