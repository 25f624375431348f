"""A local CSV source read inside ClickHouse yields exactly the Python reader's rows, or
declines (fails) so the Python reader decides: never different rows, never rows the
Python reader would refuse."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.sources import engine_read, read_source
from assets.sources.errors import SourceError
from assets.sources.normalize import RAW_COLUMNS
from io_managers import ClickHouseIOManager, MaterializationError, statements
from io_managers.errors import WarehouseQueryError
from io_managers.guarded_insert import guards
from orchestration.definitions import load_definitions
from tests.retail_support import materialize_raw

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLE = REPO / "tests" / "fixtures" / "online_retail_real_sample.csv"
II_HEADER = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
             "Customer ID", "Country"]  # fmt: skip
LEGACY_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                 "UnitPrice", "CustomerID", "Country"]  # fmt: skip
CLEAN_ROW = ["489434", "85048", "15CM CHRISTMAS GLASS BALL 20 LIGHTS", "12",
             "2009-12-01 07:45:00", "6.95", "13085.0", "United Kingdom"]  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """One embedded warehouse with the retail DDL (chdb opens one directory per process)."""
    warehouse = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("engine") / "warehouse")
    warehouse.setup(list(load_definitions("assets").ddl_paths))
    yield warehouse
    warehouse.close()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def python_rows(path: Path) -> list[dict]:
    return pa.concat_tables(read_source(str(path))).to_pylist()


def engine_rows(engine: ClickHouseIOManager, path: Path) -> list[dict]:
    select = engine_read(str(path))
    assert select is not None, "the engine should be offered this file"
    return engine.query_arrow(select).to_pylist()


def ordered(rows: list[dict]) -> list[tuple]:
    return sorted(tuple((k, repr(v)) for k, v in row.items()) for row in rows)


def assert_same_rows(engine: ClickHouseIOManager, path: Path) -> None:
    expected = python_rows(path)
    assert ordered(engine_rows(engine, path)) == ordered(expected)


def test_the_real_sample_reads_the_same_in_the_engine(engine, tmp_path):
    sample = shutil.copy(REAL_SAMPLE, tmp_path / "online_retail_real_sample.csv")
    rows = engine_rows(engine, Path(sample))
    assert len(rows) == 99
    assert rows[0]["InvoiceDate"] == "2010-12-01 08:26:00"  # month/day/year, as written
    assert_same_rows(engine, Path(sample))


def test_the_engines_select_gives_types_its_table_takes_as_they_are(engine):
    """The ingest declares its columns (``RAW_COLUMNS``), so its SELECT is inserted with
    no ``DESCRIBE`` and so with no guard against a value its column would change
    (:mod:`io_managers.stage`): each column it gives must go into ``raw.online_retails``
    with no value lost."""
    select = engine_read(str(REAL_SAMPLE))
    assert select is not None

    produced = engine.queries.columns(statements.described_select(select))

    table = engine.queries.columns("TABLE raw.online_retails")
    assert list(produced) == list(RAW_COLUMNS)
    assert guards(produced, table) == []


@pytest.mark.parametrize("header", [II_HEADER, LEGACY_HEADER], ids=["II", "legacy"])
def test_tricky_but_plain_values_read_the_same(engine, tmp_path, header):
    rows = [
        CLEAN_ROW,
        ["C489449", "22087", 'PAPER BUNTING "WHITE", LACE', "-12", "12/1/2010 8:26", "2.55",
         "", "  "],
        ["A563185", "B", "Adjust bad debt\nsecond line", "1", "12/1/2010 8:26:30",
         "-11062.06", "0", "Unspecified "],
        ["489436", "POST", "   ", "0", "2/29/2012 23:59", "0.001", "12583", ""],
        ["489437", "85123A", " Café ☕ set ", "24", "2011-12-09 12:50:00", "38970.0",
         "17303", "EIRE"],
        ["489438", "DOT", "NA", "3", "2010-01-31 00:00:00", "0", "12346.00", "\\N"],
        ["489439", "M", "", "1000000", "2010-06-30 10:00:00", "0.5", "", "Japan"],
        ["489440", "M", "x", "1", "01/05/2010 08:06", "0.5", "", "Japan"],
    ]  # fmt: skip
    assert_same_rows(engine, write_csv(tmp_path / "tricky.csv", header, rows))


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("InvoiceDate", "2010-12-01T08:26:00"),  # Python reads it; the engine declines
        ("InvoiceDate", "12/1/10 8:26"),
        ("InvoiceDate", "2/30/2010 8:26"),  # no such day
        ("InvoiceDate", "1999-12-31 23:59:59"),  # before the range staging accepts
        ("InvoiceDate", ""),
        ("Invoice", " 489434"),
        ("Invoice", "X489434"),
        ("StockCode", "85123A\t"),
        ("StockCode", ""),
        ("Price", "1e3"),
        ("Price", "nan"),
        ("Price", "999999.5"),
        ("Price", ""),
        ("Quantity", "1.0"),
        ("Quantity", "9999999999"),
        ("Customer ID", "-1"),
        ("Customer ID", "1.5"),
    ],
)
def test_anything_not_plain_is_left_to_python(engine, tmp_path, column, value):
    row = list(CLEAN_ROW)
    row[II_HEADER.index(column)] = value
    path = write_csv(tmp_path / "odd.csv", II_HEADER, [CLEAN_ROW, row])
    with pytest.raises(WarehouseQueryError):
        engine_rows(engine, path)


def test_invalid_utf8_is_left_to_python(engine, tmp_path):
    path = tmp_path / "latin1.csv"
    clean = ",".join(CLEAN_ROW) + "\n"
    # Far enough down that reading the header does not decode it.
    text = ",".join(II_HEADER) + "\n" + clean * 500 + clean.replace("GLASS", "GL\xc4SS")
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(WarehouseQueryError):
        engine_rows(engine, path)
    with pytest.raises(SourceError, match="not UTF-8"):
        python_rows(path)


def test_sources_the_engine_is_not_offered(tmp_path):
    glob_named = write_csv(tmp_path / "sales[2010].csv", II_HEADER, [CLEAN_ROW])
    missing_field = write_csv(tmp_path / "no_price.csv", II_HEADER[:5], [CLEAN_ROW[:5]])
    assert engine_read(str(glob_named)) is None  # file() would read [2010] as a glob
    assert engine_read(str(missing_field)) is None  # Python names the missing column
    assert engine_read(str(tmp_path / "absent.csv")) is None
    assert engine_read("synthetic:100") is None
    assert engine_read("https://example.invalid/online_retail.csv") is None


def engine_declines(engine: ClickHouseIOManager, path: Path) -> bool:
    """Whether the engine leaves ``path`` to Python: not offered it, or its SELECT fails."""
    select = engine_read(str(path))
    if select is None:
        return True
    try:
        engine.query_arrow(select)
    except WarehouseQueryError:
        return True
    return False


def _lines(*rows: list[str]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


_HEAD = _lines(II_HEADER, CLEAN_ROW, CLEAN_ROW, CLEAN_ROW)
_QUOTED = ",".join(CLEAN_ROW[:-1]) + ',"United Kingdom'
_STOCK = ",".join(CLEAN_ROW).replace(",85048,", ',"85048,')
_STOCK_CLOSED = ",".join(CLEAN_ROW).replace(",85048,", ',"85048",')


@pytest.mark.parametrize(
    "text",
    [
        _HEAD + _QUOTED + "\n" + _lines(CLEAN_ROW, CLEAN_ROW),
        _HEAD + _QUOTED + "\n",
        _HEAD + _QUOTED,
        _HEAD + _QUOTED + "\n" + ",".join(CLEAN_ROW[:-1]) + ',"Spain"\n',
        _HEAD + _STOCK + "\n" + _STOCK_CLOSED + "\n",
    ],
    ids=["mid-file", "last row", "no final line break", "closed by a later row", "StockCode"],
)
def test_a_runaway_quote_is_left_to_python(engine, tmp_path, text):
    """The CSV reader takes the rows after the quote as one value; the engine declines."""
    path = tmp_path / "runaway.csv"
    path.write_text(text)
    assert engine_declines(engine, path)
    with pytest.raises(SourceError, match=r"malformed CSV: .*a quote"):
        python_rows(path)


def test_a_runaway_quote_in_a_last_description_column_is_left_to_python(engine, tmp_path):
    header = [*II_HEADER[:2], *II_HEADER[3:], II_HEADER[2]]
    row = [*CLEAN_ROW[:2], *CLEAN_ROW[3:], CLEAN_ROW[2]]
    unclosed = ",".join(row[:-1]) + ',"GLASS BALL\n'
    text = _lines(header, row, row) + unclosed + _lines(row)
    path = tmp_path / "description_last.csv"
    path.write_text(text)
    assert engine_declines(engine, path)
    with pytest.raises(SourceError, match=r"line 4, column 'Description'.* never closed"):
        python_rows(path)


@pytest.mark.parametrize("end", ["\n", ""])
def test_quoted_and_wrapped_descriptions_stay_with_the_engine(engine, tmp_path, end):
    wrapped = list(CLEAN_ROW)
    wrapped[2] = "GLASS BALL,\nSECOND LINE"
    quoted = list(CLEAN_ROW)
    quoted[2] = 'PAPER "BUNTING", WHITE'
    path = write_csv(tmp_path / "wrapped.csv", II_HEADER, [CLEAN_ROW, wrapped, quoted])
    path.write_text(path.read_text().rstrip("\r\n") + end)
    assert not engine_declines(engine, path)
    assert_same_rows(engine, path)


# ------------------------------------------------- through the asset and the warehouse


@pytest.mark.parametrize("name", ["online_retail_real_sample.csv", "it's a sample (2010).csv"])
def test_the_ingest_asset_has_the_engine_read_a_plain_file(engine, tmp_path, caplog, name):
    sample = Path(shutil.copy(REAL_SAMPLE, tmp_path / name))
    with caplog.at_level(logging.INFO, logger="pipeline.asset"):
        materialize_raw(engine, sample)
    assert "computing it in Python" not in caplog.text
    stored = engine.query_arrow("SELECT * FROM raw.online_retails").to_pylist()
    assert ordered(stored) == ordered(python_rows(sample))


def test_a_file_the_engine_declines_is_read_by_python_all_the_same(engine, tmp_path, caplog):
    with_t = list(CLEAN_ROW)
    with_t[4] = "2010-01-05T08:26:00"
    path = write_csv(tmp_path / "iso_t.csv", II_HEADER, [CLEAN_ROW, with_t])
    with caplog.at_level(logging.INFO, logger="pipeline.asset"):
        materialize_raw(engine, path)
    assert "computing it in Python" in caplog.text
    stored = engine.query_arrow("SELECT InvoiceDate FROM raw.online_retails ORDER BY InvoiceDate")
    assert stored.column("InvoiceDate").to_pylist() == [
        "2009-12-01 07:45:00",
        "2010-01-05 08:26:00",
    ]


def test_a_bad_value_is_named_by_line_and_column_as_python_names_it(engine, tmp_path):
    impossible = list(CLEAN_ROW)
    impossible[4] = "2/30/2010 8:26"
    path = write_csv(tmp_path / "bad.csv", II_HEADER, [CLEAN_ROW, CLEAN_ROW, impossible])
    with pytest.raises((SourceError, MaterializationError)) as raised:
        materialize_raw(engine, path)
    message = str(raised.value)
    assert "line 4" in message and "InvoiceDate" in message and "impossible date" in message


# ------------------------------------------------------------------- property


_plain_digits = st.integers(min_value=0, max_value=10**6).map(str)
_field_values = {
    "Invoice": st.one_of(
        _plain_digits, _plain_digits.map(lambda v: "C" + v), st.sampled_from([" 1", "A1", "x"])
    ),
    "StockCode": st.one_of(
        st.sampled_from(["85123A", "POST", "M", " 22", "22 ", "\t1", "é1", ""]),
        st.text(min_size=0, max_size=4),
    ),
    "Description": st.text(min_size=0, max_size=12),
    "Quantity": st.one_of(
        st.integers(min_value=-(10**9), max_value=10**9).map(str),
        st.sampled_from(["1.0", " 3", "", "+2", "007", "1e2"]),
    ),
    "InvoiceDate": st.one_of(
        st.datetimes(
            min_value=dt.datetime(1998, 1, 1),
            max_value=dt.datetime(2101, 1, 1),
        ).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
        st.builds(
            lambda m, d, y, h, mi: f"{m}/{d}/{y} {h}:{mi:02d}",
            st.integers(0, 13),
            st.integers(0, 32),
            st.integers(1999, 2012),
            st.integers(0, 24),
            st.integers(0, 60),
        ),
        st.sampled_from(["2010-12-01", "2010-12-01T08:26:00", "12/1/10 8:26", ""]),
    ),
    "Price": st.one_of(
        st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["", ".5", "5.", "0x10", "1,5"]),
    ),
    "Customer ID": st.one_of(
        st.integers(min_value=0, max_value=10**16).map(str),
        st.integers(min_value=0, max_value=99999).map(lambda v: f"{v}.0"),
        st.sampled_from(["", "-1", "1.5", " 7"]),
    ),
    "Country": st.text(min_size=0, max_size=6),
}
_rows = st.lists(
    st.fixed_dictionaries(_field_values).map(lambda row: [row[name] for name in II_HEADER]),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_rows)
def test_the_engine_never_reads_what_python_reads_differently(engine, tmp_path, rows):
    path = write_csv(tmp_path / "generated.csv", II_HEADER, rows)
    try:
        read_by_engine = engine_rows(engine, path)
    except WarehouseQueryError:
        return  # declined: the Python reader decides, as it always did
    assert ordered(read_by_engine) == ordered(python_rows(path))
