"""The synthetic source: deterministic, shaped like UCI Online Retail II, quirks included."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from assets.sources import SourceError, read_source, synthetic


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return synthetic.generate(200_000, seed=42)


#: What :func:`synthetic.generate` gives for (2,000 rows, seed 3) under each version of
#: the generator: a sha256 prefix of its CSV.
_ROWS_OF_VERSION = {2: "04c1e40c4adcc1a5"}


def test_the_rows_a_seed_gives_change_only_with_the_generator_version() -> None:
    """The version is part of the source's fingerprint, so a warehouse built by an
    earlier generator is judged stale rather than fresh: a change of the rows must bump
    ``GENERATOR_VERSION`` (and add its digest here)."""
    frame = synthetic.generate(2_000, seed=3)
    digest = hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]
    assert _ROWS_OF_VERSION.get(synthetic.GENERATOR_VERSION) == digest, (
        f"the generator's rows changed ({digest}): bump synthetic.GENERATOR_VERSION"
    )


def test_same_rows_and_seed_give_the_same_frame() -> None:
    pd.testing.assert_frame_equal(synthetic.generate(5_000, 7), synthetic.generate(5_000, 7))
    assert not synthetic.generate(5_000, 7).equals(synthetic.generate(5_000, 8))


@pytest.mark.parametrize("rows", [1, 2, 17, 1_000, 33_333])
def test_exactly_the_requested_number_of_rows(rows: int) -> None:
    assert len(synthetic.generate(rows, 1)) == rows


def test_layout_and_types_match_the_uci_workbook(big: pd.DataFrame) -> None:
    assert list(big.columns) == [
        "Invoice",
        "StockCode",
        "Description",
        "Quantity",
        "InvoiceDate",
        "Price",
        "Customer ID",
        "Country",
    ]
    assert str(big["InvoiceDate"].dtype) == "datetime64[s]"
    assert big["Customer ID"].dtype == "float64"


def test_quirks_come_in_realistic_proportions(big: pd.DataFrame) -> None:
    invoice = big["Invoice"]
    cancelled = invoice.str.startswith("C")
    assert 0.012 < cancelled.mean() < 0.03
    assert (big.loc[cancelled, "Quantity"] < 0).all()
    assert 0.19 < big["Customer ID"].isna().mean() < 0.25
    assert 0.005 <= big.duplicated().mean() < 0.012
    adjustments = big[invoice.str.startswith("A")]
    assert 1 <= len(adjustments) <= 5
    assert (adjustments["Price"] < 0).all()
    assert set(adjustments["Description"]) == {"Adjust bad debt"}
    assert {"POST", "M", "D", "DOT", "BANK CHARGES"} <= set(big["StockCode"])
    assert 0.002 < (big["Price"] == 0).mean() < 0.01
    assert big["Description"].isna().any()
    assert 20 < (big["Quantity"] > 1000).sum() < 400
    descriptions = big["Description"].dropna()
    assert descriptions.str.endswith(" ").any() and descriptions.str.startswith(" ").any()
    assert descriptions.str.contains(",").any() and descriptions.str.contains('"').any()


def test_catalogue_and_calendar_match_the_real_set(big: pd.DataFrame) -> None:
    assert big["InvoiceDate"].min() >= pd.Timestamp("2009-12-01")
    assert big["InvoiceDate"].max() < pd.Timestamp("2011-12-10")
    assert big["InvoiceDate"].is_monotonic_increasing
    assert 3_500 <= big["StockCode"].nunique() <= 4_010
    assert 30 <= big["Country"].nunique() <= 40
    assert big["Customer ID"].dropna().between(12_346, 18_999).all()


def customers_in_several_countries(frame: pd.DataFrame) -> set[float]:
    """The customer ids of ``frame`` seen in more than one country."""
    countries = frame.dropna(subset=["Customer ID"]).groupby("Customer ID")["Country"].nunique()
    return set(countries[countries > 1].index)


def test_a_few_customers_buy_from_several_countries(big: pd.DataFrame) -> None:
    """As in the real set; Dim_Customer's one row per customer (not per customer and
    country) is only put to the test by them, in ``pipeline validate --sample`` too."""
    several = customers_in_several_countries(big)
    assert 0 < len(several) <= 0.02 * big["Customer ID"].nunique()
    assert customers_in_several_countries(synthetic.generate(5_000, 42))
    assert customers_in_several_countries(synthetic.generate(2_000, 42))


def test_full_size_has_about_5900_customers() -> None:
    full = synthetic.generate(synthetic.FULL_SIZE, seed=42)
    assert len(full) == 1_067_371
    assert 5_500 <= full["Customer ID"].nunique() <= 6_000
    assert 3_900 <= full["StockCode"].nunique() <= 4_010


def test_legacy_layout_writes_month_first_unpadded_dates() -> None:
    frame = synthetic.generate(50, 3)
    legacy = synthetic.to_legacy_layout(frame)
    assert list(legacy.columns[[0, 5, 6]]) == ["InvoiceNo", "UnitPrice", "CustomerID"]
    first = frame["InvoiceDate"].iloc[0]
    assert (
        legacy["InvoiceDate"].iloc[0]
        == f"{first.month}/{first.day}/{first.year} {first.hour}:{first:%M}"
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("synthetic", (100_000, 42)),
        ("synthetic:500", (500, 42)),
        ("synthetic:500:9", (500, 9)),
        ("synthetic:1_000", (1000, 42)),
    ],
)
def test_spec_parsing(spec: str, expected: tuple[int, int]) -> None:
    assert synthetic.parse_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["synthetic:many", "synthetic:0", "synthetic:5:x", "synthetic:1:2:3"]
)
def test_bad_spec_is_a_source_error(spec: str) -> None:
    with pytest.raises(SourceError, match="synthetic"):
        list(read_source(spec))


def test_synthetic_source_streams_raw_chunks() -> None:
    tables = list(read_source("synthetic:2500:4", chunk_rows=1_000))
    assert [t.num_rows for t in tables] == [1_000, 1_000, 500]
    assert set(tables[0].column("RECORD_SOURCE").to_pylist()) == {"synthetic:2500:4"}
