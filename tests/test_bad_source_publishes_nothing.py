"""Nothing is published from a bad source: ingest refuses what staging would refuse.

The design choice (docs/safety.md): *validate at ingest*. Staging
(``raw.psa_online_retails``) is the only asset that converts source values; everything
after it reads typed, checked columns. So the reader checks, vectorised and naming file,
row, column and value, everything in the source that staging's types and schema could
refuse: empty required values, numbers, whole numbers, Int32/UInt64 ranges, impossible
dates, the date range, prices and line totals within ``Decimal(10, 4)``. A source that
passes ingest therefore stages cleanly; one that fails it publishes nothing.

The property test below generates adversarial rows and holds the pipeline to exactly
that: either ingest refuses (and ``raw.online_retails`` is untouched), or ingest *and*
staging both succeed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from assets import DDL_PATHS
from assets.sources import SourceError
from io_managers import ClickHouseIOManager
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
GOOD_LINES = [
    "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n",
    "536366,22633,HAND WARMER,6,12/1/2010 8:28,1.85,,France\n",
    "C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom\n",
]
LOAD = dt.datetime(2024, 3, 1, 6, 0, tzinfo=dt.UTC)
GRAPH = load_definitions("assets").graph()


@pytest.fixture(scope="module")
def io(tmp_path_factory: pytest.TempPathFactory) -> Iterable[ClickHouseIOManager]:
    """A warehouse holding one good load in raw and staging."""
    warehouse = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("bad-source-warehouse"))
    warehouse.setup(DDL_PATHS)
    good = tmp_path_factory.mktemp("good") / "good.csv"
    good.write_text(HEADER + "".join(GOOD_LINES))
    materialize(warehouse, "raw_online_retails", good)
    materialize(warehouse, "psa_online_retails", good)
    yield warehouse
    warehouse.close()


def materialize(io: ClickHouseIOManager, key: str, source: Path) -> None:
    spec = GRAPH[key]
    context = AssetContext(
        spec=spec, io_manager=io, load_datetime=LOAD, params={"source": str(source)}
    )
    io.materialize(spec, context)


def fingerprint(io: ClickHouseIOManager, table: str) -> tuple[int, int]:
    row = io.query_arrow(f"SELECT count() AS n, groupBitXor(cityHash64(*)) AS h FROM {table}")
    record = row.to_pylist()[0]
    return record["n"], record["h"]


def test_a_date_staging_cannot_hold_publishes_nothing(
    io: ClickHouseIOManager, tmp_path: Path
) -> None:
    before = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "".join(GOOD_LINES) + GOOD_LINES[0].replace("12/1/2010", "1/1/1899"))

    with pytest.raises(
        SourceError, match=r"bad\.csv, line 5, column 'InvoiceDate': date out of range '1/1/1899"
    ):
        materialize(io, "raw_online_retails", bad)

    after = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    assert after == before


@pytest.mark.parametrize(
    ("broken", "cause"),
    [
        (GOOD_LINES[0].rstrip("\n") + ",EXTRA\n", "9 fields where the header has 8: '536365,"),
        (
            GOOD_LINES[0].replace("WHITE", '"WHITE'),
            '3 fields where the header has 8; a quote \\(\\"\\) opened in this row is never closed',
        ),
    ],
    ids=["extra field", "unclosed quote"],
)
def test_a_malformed_row_is_named_on_one_line_and_publishes_nothing(
    io: ClickHouseIOManager,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    broken: str,
    cause: str,
) -> None:
    """The engine's file() read fails first; the Python reader then names the row's line."""
    before = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "".join(GOOD_LINES) + broken + "".join(GOOD_LINES))

    with (
        caplog.at_level(logging.INFO, logger="pipeline.asset"),
        pytest.raises(SourceError, match=rf"bad\.csv, line 5: malformed CSV: {cause}") as error,
    ):
        materialize(io, "raw_online_retails", bad)

    assert "the engine did not compute raw_online_retails itself" in caplog.text

    assert "\n" not in str(error.value)
    after = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    assert after == before


@pytest.mark.parametrize(
    "lines",
    [
        [*GOOD_LINES, GOOD_LINES[1].replace(",France", ',"France'), *GOOD_LINES * 30],
        [*GOOD_LINES, GOOD_LINES[1].replace(",France", ',"France')],
        [*GOOD_LINES, GOOD_LINES[1].replace(",France", ',"France').rstrip("\n")],
    ],
    ids=["mid-file", "last row", "no final line break"],
)
def test_an_unclosed_quote_in_the_last_field_publishes_nothing(
    io: ClickHouseIOManager, tmp_path: Path, caplog: pytest.LogCaptureFixture, lines: list[str]
) -> None:
    """The CSV parsers read the rest of the file as one Country value and raise nothing:
    the engine declines such a value, the Python reader names where the quote opened."""
    before = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "".join(lines))

    with (
        caplog.at_level(logging.INFO, logger="pipeline.asset"),
        pytest.raises(
            SourceError,
            match=r"bad\.csv, line 5, column 'Country': malformed CSV: "
            r"a quote \(\"\) opened in this value is never closed",
        ) as error,
    ):
        materialize(io, "raw_online_retails", bad)

    if lines[-1].endswith("\n"):  # else the engine is not even offered the file
        assert "the engine did not compute raw_online_retails itself" in caplog.text
    assert "\n" not in str(error.value)
    after = fingerprint(io, "raw.online_retails"), fingerprint(io, "raw.psa_online_retails")
    assert after == before


# ------------------------------------------------------------------ property: ingest decides

_dates = st.datetimes(min_value=dt.datetime(1850, 1, 1), max_value=dt.datetime(2250, 12, 31))
_text = st.text(st.characters(codec="utf-8", exclude_characters='\r\n",\x00'), max_size=12)
#: Per source column: plausible values, then values meant to break something downstream.
_PLAUSIBLE = (
    st.sampled_from(["536365", "C536379", "A506401", "c12", " 536370 "]),
    st.sampled_from(["85123A", "POST", "d", "22633 "]),
    _text,
    st.integers(-(10**4), 10**4).map(str),
    st.datetimes(dt.datetime(2009, 12, 1), dt.datetime(2011, 12, 31)).map(
        lambda d: f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}"
    ),
    st.decimals(-1000, 1000, places=3).map(str),
    st.one_of(st.just(""), st.integers(0, 99999).map(str), st.just("13085.0")),
    st.one_of(_text, st.sampled_from(["United Kingdom", "EIRE", " "])),
)
_ADVERSARIAL = (
    st.sampled_from(["X1", "", "C", "A-1", "1.5", "536365C"]),
    st.sampled_from(["", " ", "\t"]),
    st.text(max_size=200).map(lambda t: t.replace('"', '""')).map(lambda t: f'"{t}"'),
    st.one_of(
        st.integers(-(2**40), 2**40).map(str),
        st.sampled_from(["2.5", "nan", "inf", "1e3", "-0", "six", "2147483648"]),
    ),
    st.one_of(
        _dates.map(lambda d: f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}"),
        _dates.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
        st.builds(
            lambda year, month, day: f"{month}/{day}/{year} 10:00",
            st.integers(1990, 2120),
            st.integers(1, 12),
            st.integers(28, 31),
        ),
        st.sampled_from(["2010-12-01T08:26:00+05:00", "yesterday", "12/1/10 8:26"]),
    ),
    st.one_of(
        st.floats(-1e7, 1e7, allow_nan=False).map(lambda f: f"{f:.6f}"),
        st.sampled_from(["0.00005", "999999.9999", "999999.99995", "499999.99995", "nan"]),
    ),
    st.one_of(st.integers(-5, 2**64 + 5).map(str), st.sampled_from(["-1", "1.5", "abc"])),
    st.sampled_from(["", "   ", "\u00a0"]),
)


@st.composite
def _row(draw: st.DrawFn) -> str:
    """A plausible line with at most one column replaced by an adversarial value."""
    values = [draw(field) for field in _PLAUSIBLE]
    broken = draw(st.integers(0, len(values)))  # len(values): nothing broken
    if broken < len(values):
        values[broken] = draw(_ADVERSARIAL[broken])
    return ",".join(values) + "\n"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(_row(), min_size=1, max_size=3))
def test_a_source_either_fails_at_ingest_or_stages_cleanly(
    io: ClickHouseIOManager, tmp_path: Path, rows: list[str]
) -> None:
    source = tmp_path / "generated.csv"
    source.write_text(HEADER + "".join(rows))
    before = fingerprint(io, "raw.online_retails")
    try:
        materialize(io, "raw_online_retails", source)
    except SourceError as refused:
        event(f"refused at ingest: column {refused.column}")
        assert fingerprint(io, "raw.online_retails") == before
        return
    event("ingested")
    materialize(io, "psa_online_retails", source)  # must not raise: ingest let it through
