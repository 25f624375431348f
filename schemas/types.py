"""Column types shared by the retail schemas, spelled once so every model agrees.

Each alias is the pandas/pandera dtype that a ClickHouse column type arrives as through
Arrow; IO managers compare a staging table's ``DESCRIBE`` against these:

================================  ============================================
ClickHouse                        pandera dtype (alias here)
================================  ============================================
String, LowCardinality(String)    ``str``
Enum8(...)                        ``str`` plus an ``isin`` check on the labels
UUID                              ``str`` (``UUID`` alias; canonical 8-4-4-4-12 text)
DateTime64(0, 'UTC')              ``datetime64[s, UTC]`` (``DateTimeUTC``)
Date                              pandera ``Date`` (``datetime.date`` values)
Decimal(10, 4)                    pandera ``Decimal(10, 4)`` (``Money``)
Int32 / UInt8 / UInt16 / UInt64   numpy ``int32`` / ``uint8`` / ``uint16`` / ``uint64``
Nullable(Int32) / Nullable(UInt64)  pandas ``Int32`` / ``UInt64`` (masked, with NA)
Float64                           ``float64``
================================  ============================================

UUIDs are text rather than Python ``uuid.UUID`` objects because that is what ClickHouse
prints and Arrow can carry without a Python object per value.
"""

from __future__ import annotations

import decimal
from typing import Annotated

import pandas as pd
from pandera.engines import pandas_engine

UUID = str
DateTimeUTC = Annotated[pd.DatetimeTZDtype, "s", "UTC"]
Money = Annotated[pandas_engine.Decimal, 10, 4, decimal.ROUND_HALF_EVEN]

#: ``Decimal(10, 4)`` holds at most this in absolute value.
MONEY_LIMIT = 999_999.9999
#: A return line is one whose invoice started with C or whose quantity is negative.
RETURN_STATUSES = ("Normal", "Return")
#: Invoice numbers after staging: upper-cased, C = cancellation, A = bad-debt adjustment.
INVOICE_PATTERN = r"^[AC]?[0-9]+$"
#: Invoice numbers as the source writes them.
SOURCE_INVOICE_PATTERN = r"^[CcAa]?[0-9]+$"
#: The first and last possible invoice timestamps accepted (the set covers 2009-12..2011-12;
#: later sources may extend it, so the bound is generous but catches 1970 and 2099 mistakes).
EARLIEST_INVOICE_DATE = pd.Timestamp("2000-01-01", tz="UTC")
LATEST_INVOICE_DATE = pd.Timestamp("2100-01-01", tz="UTC")
