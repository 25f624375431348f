"""A deterministic stand-in for UCI Online Retail II, so the pipeline runs offline.

Shaped like the real set, quirks included and in realistic proportions: ~2 % cancellation
lines (``C`` invoices, negative quantity), ~22 % lines without a customer (ids read as
floats like ``13085.0``), a few ``A`` "Adjust bad debt" invoices with negative prices,
non-product codes (POST, M, D, DOT, BANK CHARGES), zero prices (some without description),
0.5 % exact duplicate lines, occasional quantities above 1000, descriptions with commas,
quotes and leading/trailing spaces; dates 2009-12-01 .. 2011-12-09, ~4,000 products,
~5,900 customers, ~40 countries, and a few customers who later buy from a second country
(at least one in any sample with a returning customer, so that ``validate --sample``
catches a dimension grouped by customer and country). Everything is numpy over whole
columns: the full size (1,067,371 rows) builds in a couple of seconds. Same (rows, seed)
-> same frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.synthetic_source import synthetic_parts

#: Which rows a (rows, seed) gives: part of the source's fingerprint, so that tables built
#: by an earlier generator are stale, not fresh. Bump it with any change of the rows
#: (tests/test_sources_synthetic.py pins each version's). 2: customers who buy abroad.
GENERATOR_VERSION = 2

#: Size of the real UCI Online Retail II set.
FULL_SIZE = 1_067_371
DEFAULT_SEED = 42
DEFAULT_ROWS = 100_000

_FIRST_DAY = np.datetime64("2009-12-01")
_LAST_DAY = np.datetime64("2011-12-09")
_FIRST_INVOICE = 489_434
_LINES_PER_INVOICE = 20
#: Share of the returning customers who also buy from a second country (:func:`_abroad`).
_ABROAD_SHARE = 0.01
#: The seed's second number of the stream :func:`_abroad` draws from.
_ABROAD_STREAM = 1

COUNTRIES = (
    "United Kingdom",
    "EIRE",
    "Germany",
    "France",
    "Netherlands",
    "Spain",
    "Switzerland",
    "Belgium",
    "Portugal",
    "Australia",
    "Channel Islands",
    "Italy",
    "Norway",
    "Sweden",
    "Cyprus",
    "Finland",
    "Austria",
    "Denmark",
    "Greece",
    "Japan",
    "Poland",
    "Unspecified",
    "USA",
    "Israel",
    "Singapore",
    "Iceland",
    "Canada",
    "Malta",
    "United Arab Emirates",
    "Lithuania",
    "RSA",
    "Bahrain",
    "Korea",
    "Brazil",
    "Lebanon",
    "Thailand",
    "Nigeria",
    "Czech Republic",
    "West Indies",
    "Saudi Arabia",
)
_ADJECTIVES = np.array(
    [
        "WHITE",
        "RED",
        "PINK",
        "BLUE",
        "GREEN",
        "VINTAGE",
        "RETRO",
        "JUMBO",
        "SMALL",
        "LARGE",
        "REGENCY",
        "PAISLEY",
        "POLKADOT",
        "RETROSPOT",
        "HEART",
        "STAR",
        "WOODEN",
        "GLASS",
        "CERAMIC",
        "METAL",
        "KNITTED",
        "FELTCRAFT",
        "SPACEBOY",
        "DOLLY GIRL",
        "ANTIQUE",
    ]
)
_NOUNS = np.array(
    [
        "T-LIGHT HOLDER",
        "LANTERN",
        "COAT HANGER",
        "HOT WATER BOTTLE",
        "NESTING BOXES",
        "LUNCH BOX",
        "LUNCH BAG",
        "CAKE CASES",
        "TEA TOWELS",
        "MUG",
        "DOORMAT",
        "ALARM CLOCK",
        "PHOTO FRAME",
        "CUSHION COVER",
        "SHOPPING BAG",
        "PAPER PLATES",
        "NAPKINS",
        "BUNTING",
        "CANDLE",
        "TRINKET BOX",
        "BIRD ORNAMENT",
        "JIGSAW",
        "PAINT SET",
        "CUTLERY SET",
        "WALL CLOCK",
        "SIGN",
        "CHALKBOARD",
        "TEACUP AND SAUCER",
        "BAKING SET",
        "DOORSTOP",
    ]
)
_QUANTITIES = np.array([1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 100, 144])
_QUANTITY_WEIGHTS = np.array([24, 12, 6, 6, 10, 3, 5, 14, 2, 2, 6, 1, 2, 3, 1, 1, 1, 1], float)
# Non-product codes: (StockCode, Description, typical price), about 0.4 % of lines.
_SPECIALS = (
    ("POST", "POSTAGE", 18.0),
    ("M", "Manual", 2.55),
    ("D", "Discount", 13.79),
    ("DOT", "DOTCOM POSTAGE", 11.17),
    ("BANK CHARGES", "Bank Charges", 15.0),
)


def _catalogue(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stock codes, descriptions (with the real set's punctuation quirks) and prices."""
    numbers = rng.choice(np.arange(10_002, 90_000), size=size, replace=False).astype(str)
    suffixes = np.where(
        rng.random(size) < 0.15, rng.choice(np.array(list("ABCDEFGLNPRSW")), size=size), ""
    )
    codes = np.char.add(numbers, suffixes)
    adjective = rng.choice(_ADJECTIVES, size=size)
    noun = rng.choice(_NOUNS, size=size)
    descriptions = np.char.add(np.char.add(adjective, " "), noun)
    quirk = rng.random(size)
    descriptions = np.where(quirk < 0.02, np.char.add("SET OF 3, ", descriptions), descriptions)
    descriptions = np.where(
        (quirk >= 0.02) & (quirk < 0.04),
        np.char.add(np.char.add('"', descriptions), '" DESIGN'),
        descriptions,
    )
    descriptions = np.where(
        (quirk >= 0.04) & (quirk < 0.06), np.char.add(descriptions, " 50'S"), descriptions
    )
    descriptions = np.where(
        (quirk >= 0.06) & (quirk < 0.16), np.char.add(descriptions, " "), descriptions
    )
    descriptions = np.where(
        (quirk >= 0.16) & (quirk < 0.17), np.char.add(" ", descriptions), descriptions
    )
    prices = np.round(np.clip(rng.lognormal(mean=1.0, sigma=0.75, size=size), 0.1, 60.0), 2)
    return codes.astype(object), descriptions.astype(object), prices


def _abroad(seed: int, customer: np.ndarray, country: np.ndarray, n_countries: int) -> np.ndarray:
    """``country`` (each invoice's) with a few returning customers buying from a second
    country from one of their invoices on, as some do in the real set.

    ``customer`` is each invoice's customer (-1: none), invoices in time order. About
    :data:`_ABROAD_SHARE` of the customers with two invoices or more, and at least one of
    them, so that even a small sample has such a customer. Drawn from a stream of its own,
    so every other value is the same as before such customers were generated.
    """
    rng = np.random.default_rng([seed, _ABROAD_STREAM])
    known = np.flatnonzero(customer >= 0)
    order = known[np.argsort(customer[known], kind="stable")]  # by customer, then time
    owner = customer[order]
    counts = np.bincount(owner)
    starts = np.cumsum(counts) - counts  # where each customer's invoices begin in order
    returning = np.flatnonzero(counts >= 2)
    if not len(returning):
        return country
    size = max(1, round(len(returning) * _ABROAD_SHARE))
    movers = rng.choice(returning, size=size, replace=False)
    first_abroad = rng.integers(1, counts[movers])  # their second invoice at the earliest
    home = country[order[starts[movers]]]
    second = (home + rng.integers(1, n_countries, size)) % n_countries  # any other one
    mover_of = np.full(len(counts), -1)
    mover_of[movers] = np.arange(size)
    mover = mover_of[owner]
    rank = np.arange(len(order)) - starts[owner]
    abroad = (mover >= 0) & (rank >= first_abroad[mover])
    moved = country.copy()
    moved[order[abroad]] = second[mover[abroad]]
    return moved


def generate(rows: int, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """``rows`` source lines in the Online Retail II layout (``Invoice`` .. ``Country``).

    ``InvoiceDate`` is ``datetime64[s]`` and ``Customer ID`` float with NaN for missing,
    which is how the real workbook reads.
    """
    if rows < 1:
        raise ValueError("a synthetic source needs at least one row")
    rng = np.random.default_rng(seed)
    adjustments = min(rows, max(1, round(rows * 6 / FULL_SIZE)))
    duplicates = round((rows - adjustments) * 0.005)
    base = rows - adjustments - duplicates

    # Catalogue, customers and countries.
    n_products = 4_000 if rows >= 20_000 else max(10, rows // 5)
    codes, descriptions, prices = _catalogue(rng, n_products)
    popularity = 1.0 / (np.arange(n_products) + 10.0) ** 0.9
    popularity /= popularity.sum()
    countries = np.array(COUNTRIES, dtype=object)
    country_weights = np.full(len(countries), 0.10 / (len(countries) - 1))
    country_weights[0] = 0.90
    n_customers = 6_400 if rows >= 20_000 else max(5, rows // 10)
    customer_ids = rng.choice(np.arange(12_346, 19_000), size=n_customers, replace=False)
    home_country = rng.choice(len(countries), size=n_customers, p=country_weights)
    customer_weights = rng.pareto(1.2, size=n_customers) + 1.0
    customer_weights /= customer_weights.sum()

    # Invoices, numbered in time order, on business hours.
    n_invoices = max(1, base // _LINES_PER_INVOICE)
    days = int((_LAST_DAY - _FIRST_DAY) / np.timedelta64(1, "D")) + 1
    minutes = rng.integers(0, days, n_invoices) * 1440 + rng.integers(7 * 60, 20 * 60, n_invoices)
    minutes.sort()
    invoice_time = _FIRST_DAY.astype("datetime64[s]") + minutes.astype("timedelta64[m]")
    cancelled = rng.random(n_invoices) < 0.02
    invoice_no = (np.arange(n_invoices) + _FIRST_INVOICE).astype(str).astype(object)
    invoice_no[cancelled] = "C" + invoice_no[cancelled]
    customer_of_invoice = rng.choice(n_customers, size=n_invoices, p=customer_weights)
    anonymous = rng.random(n_invoices) < 0.22
    invoice_customer = np.where(anonymous, np.nan, customer_ids[customer_of_invoice].astype(float))
    invoice_country = np.where(
        anonymous,
        rng.choice(len(countries), size=n_invoices, p=country_weights),
        home_country[customer_of_invoice],
    )
    invoice_country = _abroad(
        seed, np.where(anonymous, -1, customer_of_invoice), invoice_country, len(countries)
    )

    # Lines.
    invoice = np.sort(rng.integers(0, n_invoices, base))
    product = rng.choice(n_products, size=base, p=popularity)
    stock = codes[product]
    text = descriptions[product].copy()
    price = prices[product].copy()
    quantity = rng.choice(_QUANTITIES, size=base, p=_QUANTITY_WEIGHTS / _QUANTITY_WEIGHTS.sum())
    bulk = rng.random(base) < 0.0005
    quantity[bulk] = rng.integers(1_001, 12_000, int(bulk.sum()))
    special = rng.random(base) < 0.004
    which = rng.integers(0, len(_SPECIALS), int(special.sum()))
    stock[special] = np.array([s[0] for s in _SPECIALS], dtype=object)[which]
    text[special] = np.array([s[1] for s in _SPECIALS], dtype=object)[which]
    price[special] = np.array([s[2] for s in _SPECIALS])[which]
    quantity[special] = 1
    free = rng.random(base) < 0.005
    price[free] = 0.0
    text[free & (rng.random(base) < 0.5)] = None
    line_cancelled = cancelled[invoice]
    quantity = np.where(line_cancelled, -quantity, quantity)

    lines = pd.DataFrame(
        {
            "Invoice": invoice_no[invoice],
            "StockCode": stock,
            "Description": text,
            "Quantity": quantity.astype("int64"),
            "InvoiceDate": invoice_time[invoice],
            "Price": price,
            "Customer ID": invoice_customer[invoice],
            "Country": countries[invoice_country[invoice]],
        }
    )

    # Exact duplicates sit right after their original, as in the real file.
    order = np.sort(np.concatenate([np.arange(base), rng.choice(base, duplicates, replace=False)]))
    lines = lines.take(order)

    adjust_time = _FIRST_DAY.astype("datetime64[s]") + (
        rng.integers(0, days, adjustments) * 1440 + 14 * 60
    ).astype("timedelta64[m]")
    adjust = pd.DataFrame(
        {
            "Invoice": np.char.add("A", (np.arange(adjustments) + 563_185).astype(str)).astype(
                object
            ),
            "StockCode": "B",
            "Description": "Adjust bad debt",
            "Quantity": np.ones(adjustments, dtype="int64"),
            "InvoiceDate": adjust_time,
            "Price": -np.round(rng.uniform(1_000, 60_000, adjustments), 2),
            "Customer ID": np.nan,
            "Country": "United Kingdom",
        }
    )
    frame = pd.concat([lines, adjust], ignore_index=True)
    frame = frame.sort_values("InvoiceDate", kind="stable", ignore_index=True)
    frame["InvoiceDate"] = frame["InvoiceDate"].astype("datetime64[s]")
    return frame


def to_legacy_layout(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows as the older UCI file writes them: ``InvoiceNo``/``UnitPrice``/
    ``CustomerID`` and month/day/year dates without zero padding (``12/1/2010 8:26``)."""
    stamps = pd.to_datetime(frame["InvoiceDate"])
    dates = (
        stamps.dt.month.astype(str)
        + "/"
        + stamps.dt.day.astype(str)
        + "/"
        + stamps.dt.year.astype(str)
        + " "
        + stamps.dt.hour.astype(str)
        + ":"
        + stamps.dt.strftime("%M")
    )
    return frame.rename(
        columns={"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}
    ).assign(InvoiceDate=dates)


def parse_spec(spec: str) -> tuple[int, int]:
    """``synthetic[:ROWS[:SEED]]`` -> (rows, seed); defaults 100,000 rows, seed 42. Raises
    ``ValueError`` in the words the command line refuses ``--source`` with: one parser,
    :mod:`orchestration.synthetic_source`."""
    rows, seed = synthetic_parts(spec)
    return (DEFAULT_ROWS if rows is None else rows, DEFAULT_SEED if seed is None else seed)
