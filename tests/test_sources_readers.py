"""Source readers: every format and both UCI layouts yield the same raw rows."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assets.sources import (
    DEFAULT_SOURCE,
    RAW_COLUMNS,
    SOURCE_ENV,
    describe_source,
    read_source,
    resolve_source,
    synthetic,
)
from orchestration.redaction import redact_url
from tests.retail_support import serve_directory, write_source

REAL_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "online_retail_real_sample.csv"


def load(source: str | Path, chunk_rows: int = 250_000) -> pd.DataFrame:
    tables = list(read_source(str(source), chunk_rows=chunk_rows))
    return pa.concat_tables(tables).to_pandas()


def comparable(raw: pd.DataFrame) -> pd.DataFrame:
    """Raw rows without provenance, for comparing two readers of the same rows."""
    return raw.drop(columns=["RECORD_SOURCE"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return synthetic.generate(1_200, seed=21)


def test_real_sample_reads_month_first_dates_and_raw_text() -> None:
    raw = load(REAL_SAMPLE)
    assert list(raw.columns) == list(RAW_COLUMNS)
    assert len(raw) == 99
    assert raw["InvoiceDate"].iloc[0] == "2010-12-01 08:26:00"
    assert set(raw["InvoiceDate"].str[:10]) == {"2010-12-01"}
    assert raw["Description"].tolist().count(" SET 2 TEA TOWELS I LOVE LONDON ") == 1
    assert raw["Description"].iloc[14] == "POPPY'S PLAYHOUSE BEDROOM "
    post = raw[raw["StockCode"] == "POST"].iloc[0]
    assert (post["Quantity"], post["UnitPrice"], post["CustomerID"]) == (3, 18.0, 12583)
    assert raw["TotalAmount"].iloc[0] == pytest.approx(6 * 2.55)
    assert set(raw["RECORD_SOURCE"]) == {"online_retail_real_sample.csv"}


@pytest.mark.parametrize(
    ("fmt", "layout"),
    [
        ("csv", "legacy"),
        ("parquet", "II"),
        ("parquet", "legacy"),
        ("xlsx", "II"),
        ("xlsx", "legacy"),
        ("zip", "II"),
    ],
)
def test_every_format_and_layout_reads_the_same_rows(
    rows: pd.DataFrame, tmp_path: Path, fmt: str, layout: str
) -> None:
    reference = load(write_source(rows, tmp_path / "ref", "csv", "II"))
    other = load(write_source(rows, tmp_path / "other", fmt, layout))
    pd.testing.assert_frame_equal(comparable(other), comparable(reference))


def test_generator_rows_survive_the_csv_round_trip(rows: pd.DataFrame, tmp_path: Path) -> None:
    raw = load(write_source(rows, tmp_path, "csv", "II"))
    assert raw["InvoiceNo"].tolist() == rows["Invoice"].tolist()
    assert raw["Description"].fillna("<NA>").tolist() == rows["Description"].fillna("<NA>").tolist()
    assert raw["Quantity"].tolist() == rows["Quantity"].tolist()
    assert (
        raw["InvoiceDate"].tolist() == rows["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    )
    customers = rows["Customer ID"].astype("Int64").astype("UInt64")
    assert raw["CustomerID"].astype("UInt64").equals(customers.rename("CustomerID"))


def test_csv_is_streamed_in_chunks_with_running_row_numbers(
    rows: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_source(rows, tmp_path, "csv", "II")
    tables = list(read_source(str(path), chunk_rows=500))
    assert [t.num_rows for t in tables] == [500, 500, 200]


def test_xlsx_reads_every_sheet_and_names_it(rows: pd.DataFrame, tmp_path: Path) -> None:
    raw = load(write_source(rows, tmp_path, "xlsx", "II"))
    assert len(raw) == len(rows)
    assert sorted(set(raw["RECORD_SOURCE"])) == [
        "retail_II.xlsx sheet 'Year 2009-2010'",
        "retail_II.xlsx sheet 'Year 2010-2011'",
    ]


def test_xlsx_reads_a_sheet_whose_rows_start_lower_down(rows: pd.DataFrame, tmp_path: Path) -> None:
    """A header below blank rows (row 3), or also further right (column C), is found: the
    sheet was taken for an empty one and its rows silently left out of the load."""
    sample = rows.iloc[:10]
    path = tmp_path / "offset.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        sample.to_excel(writer, sheet_name="A", index=False)
        sample.to_excel(writer, sheet_name="B", index=False, startrow=2)
        sample.to_excel(writer, sheet_name="C", index=False, startrow=1, startcol=2)
    raw = load(path)
    sheets = {origin: comparable(read) for origin, read in raw.groupby("RECORD_SOURCE")}
    assert list(sheets) == [f"offset.xlsx sheet '{name}'" for name in "ABC"]
    first, *others = sheets.values()
    for other in others:
        pd.testing.assert_frame_equal(other, first)


def test_xlsx_skips_a_blank_sheet(rows: pd.DataFrame, tmp_path: Path) -> None:
    """A sheet with nothing in it holds no rows to lose (a workbook's spare 'Sheet1')."""
    path = tmp_path / "spare.xlsx"
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Sheet1")
        rows.iloc[:10].to_excel(writer, sheet_name="Data", index=False)
    raw = load(path)
    assert len(raw) == 10
    assert set(raw["RECORD_SOURCE"]) == {"spare.xlsx sheet 'Data'"}


def test_xlsx_numbers_in_text_columns_keep_their_digits(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Invoice": [489434, "C489449"],
            "StockCode": [85048, "79323P"],
            "Description": ["X", None],
            "Quantity": [12, -1],
            "InvoiceDate": pd.to_datetime(["2009-12-01 00:00", "2009-12-01 10:33"]),
            "Price": [6.95, 2.55],
            "Customer ID": [13085.0, None],
            "Country": ["United Kingdom", "France"],
        }
    )
    path = tmp_path / "mixed.xlsx"
    frame.to_excel(path, index=False, engine="xlsxwriter")
    raw = load(path)
    assert raw["InvoiceNo"].tolist() == ["489434", "C489449"]
    assert raw["StockCode"].tolist() == ["85048", "79323P"]
    assert raw["InvoiceDate"].tolist() == ["2009-12-01 00:00:00", "2009-12-01 10:33:00"]
    assert raw["CustomerID"].tolist()[0] == 13085 and pd.isna(raw["CustomerID"].tolist()[1])


def test_uci_zip_download_over_loopback(rows: pd.DataFrame, tmp_path: Path) -> None:
    path = write_source(rows, tmp_path / "site", "zip", "II")
    with serve_directory(path.parent) as base:
        raw = load(f"{base}/{path.name}?token=secret")
    assert len(raw) == len(rows)
    assert all("secret" not in source for source in raw["RECORD_SOURCE"].unique())
    assert raw["RECORD_SOURCE"].iloc[0].startswith(f"{base}/{path.name}!online_retail_II.xlsx")


def test_zip_with_a_csv_member_is_read(rows: pd.DataFrame, tmp_path: Path) -> None:
    csv_path = write_source(rows, tmp_path, "csv", "legacy")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(csv_path, "data/retail.csv")
        bundle.writestr("__MACOSX/data/._retail.csv", b"junk")
    assert len(load(archive)) == len(rows)


def test_zip_with_a_tsv_member_is_read(rows: pd.DataFrame, tmp_path: Path) -> None:
    """A ``.tsv`` member is a CSV with tabs, as a ``.tsv`` file on disk is read."""
    tsv_path = tmp_path / "retail.tsv"
    rows.to_csv(tsv_path, sep="\t", index=False)
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(tsv_path, "retail.tsv")
        bundle.writestr("README.txt", "notes, not rows")
    assert len(load(tsv_path)) == len(rows)
    raw = load(archive)
    assert len(raw) == len(rows)
    assert set(raw["RECORD_SOURCE"]) == {"bundle.zip!retail.tsv"}


def test_iso_dates_with_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "iso.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        '536365,85123A,"CAKE STAND, ""VINTAGE""",6,2010-12-01T08:26:00+01:00,2.55,,EIRE\n'
        "536366,22633,HAND WARMER,6,2010-12-01 08:28,1.85,13085.0,EIRE\n"
    )
    raw = load(path)
    assert raw["InvoiceDate"].tolist() == ["2010-12-01 07:26:00", "2010-12-01 08:28:00"]
    assert raw["Description"].iloc[0] == 'CAKE STAND, "VINTAGE"'
    assert raw["CustomerID"].iloc[1] == 13085


def test_source_choice_param_then_env_then_synthetic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    assert resolve_source({}) == DEFAULT_SOURCE == "synthetic:100000"
    monkeypatch.setenv(SOURCE_ENV, "https://example.org/data.zip")
    assert resolve_source({}) == "https://example.org/data.zip"
    assert resolve_source({"source": "local.csv"}) == "local.csv"


def test_urls_are_named_without_credentials_or_query() -> None:
    url = "https://user:pa55word@data.example.org:8443/retail/online.zip?sig=abc#frag"
    assert redact_url(url) == "https://data.example.org:8443/retail/online.zip"
    assert describe_source(url) == "https://data.example.org:8443/retail/online.zip"
    assert describe_source("synthetic:500") == "synthetic:500:42"


def test_a_file_whose_name_begins_with_synthetic_is_a_file_not_the_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``synthetic`` and ``synthetic:...`` name the generator (the command line checks
    those), so ``--source synthetic_orders.csv`` reads the file it names."""
    monkeypatch.chdir(tmp_path)
    source = Path("synthetic_orders.csv")
    source.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,UK\n"
    )

    assert describe_source("synthetic_orders.csv") == "synthetic_orders.csv"
    assert len(load("synthetic_orders.csv")) == 1
