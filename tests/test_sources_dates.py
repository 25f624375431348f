"""Invoice dates that cannot be stored as written are refused at ingest, naming the row.

Arrow's ``strptime`` (like C's) rolls an impossible day into the next month, so
``2/30/2010`` would become 2010-03-02 without a word; and a date outside the staging
range would pass ingest only to fail later in ``raw.psa_online_retails`` with no file
or row to point at. Both are refused where the file and row are still known.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.sources import SourceError, read_source

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
GOOD = "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"


def source_with(tmp_path: Path, date: str, *, price: str = "1.85", quantity: str = "6") -> Path:
    path = tmp_path / "source.csv"
    bad = f"536366,22633,HAND WARMER,{quantity},{date},{price},17850,United Kingdom\n"
    path.write_text(HEADER + GOOD + GOOD + bad)
    return path


def read_all(path: Path) -> list:
    return list(read_source(str(path), chunk_rows=1_000))


@pytest.mark.parametrize(
    "date",
    [
        "2/30/2010 10:00",  # month/day/year: February has no 30th
        "4/31/2011 10:00",  # April has 30 days
        "2/29/2011 10:00",  # 2011 is no leap year
        "2011-02-29 10:00:00",  # ISO, not a leap year
        "2011-04-31 10:00",  # ISO without seconds
        "2011-06-31",  # ISO date only
    ],
)
def test_impossible_dates_are_refused_naming_file_row_column_and_value(
    tmp_path: Path, date: str
) -> None:
    with pytest.raises(SourceError) as error:
        read_all(source_with(tmp_path, date))
    assert str(error.value).startswith(
        f"{tmp_path / 'source.csv'}, line 4, column 'InvoiceDate': impossible date {date!r}"
    )
    assert (error.value.row, error.value.column, error.value.value) == (3, "InvoiceDate", date)


def test_leap_days_and_month_ends_that_exist_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    lines = [
        f"53636{i},22633,HAND WARMER,6,{date},1.85,17850,United Kingdom\n"
        for i, date in enumerate(["2/29/2012 10:00", "4/30/2011 23:59", "2012-02-29 00:00:00"])
    ]
    path.write_text(HEADER + "".join(lines))
    (table,) = read_all(path)
    assert table.column("InvoiceDate").to_pylist() == [
        "2012-02-29 10:00:00",
        "2011-04-30 23:59:00",
        "2012-02-29 00:00:00",
    ]


@pytest.mark.parametrize("date", ["1/1/1999 10:00", "1899-12-31 23:59:59", "3/1/2100 00:00"])
def test_dates_outside_the_staging_range_are_refused_at_ingest(tmp_path: Path, date: str) -> None:
    with pytest.raises(
        SourceError,
        match=rf"line 4, column 'InvoiceDate': date out of range '{date}'.*2000-01-01.*2100-01-01",
    ):
        read_all(source_with(tmp_path, date))


def test_a_price_staging_cannot_hold_is_refused_at_ingest(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"line 4, column 'Price': out of range: '1234567.5'"):
        read_all(source_with(tmp_path, "12/1/2010 8:26", price="1234567.5"))


def test_a_line_total_staging_cannot_hold_is_refused_at_ingest(tmp_path: Path) -> None:
    # Each value fits, their product (the line's TotalAmount) does not fit Decimal(10, 4).
    with pytest.raises(
        SourceError, match=r"line 4, column 'Price': line total out of range at price '500000'"
    ):
        read_all(source_with(tmp_path, "12/1/2010 8:26", price="500000", quantity="3"))


def test_two_digit_years_are_read_month_first_in_this_century(tmp_path: Path) -> None:
    # "%Y" takes "10" for the year 10, so a two-digit year used to be refused as out of range.
    path = tmp_path / "source.csv"
    lines = [
        f"53636{i},22633,HAND WARMER,6,{date},1.85,17850,United Kingdom\n"
        for i, date in enumerate(
            ["12/1/10 8:26", "1/12/11 09:05", "12/9/2011 12:50", "12/1/10", "12/1/10 8:26:30"]
        )
    ]
    path.write_text(HEADER + "".join(lines))
    (table,) = read_all(path)
    assert table.column("InvoiceDate").to_pylist() == [
        "2010-12-01 08:26:00",
        "2011-01-12 09:05:00",
        "2011-12-09 12:50:00",
        "2010-12-01 00:00:00",
        "2010-12-01 08:26:30",
    ]


def test_an_impossible_day_with_a_two_digit_year_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=r"line 4, column 'InvoiceDate': impossible date '2/30/10"
    ):
        read_all(source_with(tmp_path, "2/30/10 10:00"))
