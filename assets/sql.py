"""SQL building blocks shared by the retail assets, so every key is hashed one way.

Hash keys follow DESIGN.md section 5: each business-key part is trimmed and upper-cased,
the parts are joined with ``||`` (so ``1|23`` and ``12|3`` no longer collide), and the key
is the UUID made of the first 16 bytes of SHA-256 over that text. The UUID is built in
byte order, so it equals Python's ``uuid.UUID(bytes=sha256(text).digest()[:16])`` and
anyone can recompute a key outside ClickHouse (see :func:`python_hash_key`).

Trimming removes Unicode white space (a tab, a no-break space), as Python's
``str.strip()`` does, and happens once: staging cleans every text column with
:func:`trimmed`, and the keys hash those cleaned columns.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC

from io_managers.sql import quote_string
from orchestration.context import AssetContext

KEY_DELIMITER = "||"
#: Owner recorded on every retail asset.
OWNERS = ("data-engineering",)
#: Dim_Customer's unknown member has no country: it stands for many.
NIL_UUID = "00000000-0000-0000-0000-000000000000"


#: Unicode White_Space in RE2 syntax: exactly what Python's ``str.strip()`` and Arrow's
#: ``utf8_trim_whitespace`` remove (RE2's ``\s`` lacks the vertical tab, 1C-1F and 85).
#: Written short (``\v``, ``\pZ``) so the pattern fits an asset page's SQL block.
UNICODE_SPACE = r"[\s\v\x1C-\x1F\x85\pZ]"


def current_line(key: str, indent: int = 0) -> str:
    """True when the invoice line ``key`` is current: no later delivery of its invoice
    retracted it, as of the latest load.

    A line's status is its latest ``vault.sat_invoice_status`` row's (one without a row
    is current). The facts, their reconciliation check and the quality counts keep only
    current lines. Laid out over lines, ``indent`` the column the expression starts at.
    """
    pad = " " * indent
    return (
        f"{key} NOT IN (\n{pad}    SELECT hub_invoice_hash_key\n"
        f"{pad}    FROM vault.sat_invoice_status\n{pad}    GROUP BY hub_invoice_hash_key\n"
        f"{pad}    HAVING argMax(Retracted, LOAD_DATETIME) = 1\n{pad})"
    )


def plain_edges(text: str) -> str:
    """True when ``text`` starts and ends with printable, non-space ASCII: then trimming
    cannot change it and it is not blank (a cheap test; other values take a regex)."""
    first, last = f"ascii({text})", f"ascii(substring({text}, -1))"
    return f"({first} BETWEEN 33 AND 126 AND {last} BETWEEN 33 AND 126)"


def trimmed(text: str, indent: int = 0) -> str:
    """``text`` without leading or trailing Unicode white space (a tab, a no-break space).

    ClickHouse's ``trimBoth`` removes ASCII spaces only, so ``'United Kingdom\t'`` would
    be a second country. The regex runs only on values whose edges are not plain ASCII
    (``if`` evaluates its branches lazily), so the usual value costs two byte tests. Laid
    out over lines, ``indent`` the column of the lines after the first, and the pattern
    as two constant halves (``concat`` of literals is folded), so an asset page's SQL
    block (78 characters) shows it whole.
    """
    pad = " " * indent
    starts, ends = quote_string(f"^{UNICODE_SPACE}+|"), quote_string(f"{UNICODE_SPACE}+$")
    return (
        f"if(\n{pad}ascii({text}) BETWEEN 33 AND 126\n"
        f"{pad}AND ascii(substring({text}, -1))\n{pad}    BETWEEN 33 AND 126,\n"
        f"{pad}{text},\n{pad}replaceRegexpAll(\n{pad}    {text},\n"
        f"{pad}    concat({starts},\n{pad}           {ends}),\n{pad}    ''))"
    )


def normalized(part: str) -> str:
    """A business-key part as hashed: text, upper-cased.

    The part is one of staging's cleaned columns, already :func:`trimmed`: trimming it
    again here, for every part of every key, made staging 60% slower (0.7 s per million
    rows) and changed no key.
    """
    return f"upperUTF8(toString({part}))"


def hash_text(*parts: str, indent: int = 0) -> str:
    """UUID (SHA-256, first 16 bytes, byte order) of the given SQL text expressions joined.

    Laid out over lines, one part a line, so that an asset page's SQL block (78
    characters wide) shows all of it: the digest's bytes 1-8 reversed, then 9-16
    reversed. ``indent`` is the column the expression starts at in its query; the lines
    after the first are indented from there.
    """
    pad = " " * indent
    text = f"{pad}    " + f", '{KEY_DELIMITER}',\n{pad}    ".join(parts)
    digest, close = ("SHA256(concat(", "))") if len(parts) > 1 else ("SHA256(", ")")
    return (
        f"reinterpretAsUUID(concat(reverse(substring({digest}\n{text}\n"
        f"{pad}{close}, 1, 8)), reverse(substring({digest}\n{text}\n"
        f"{pad}{close}, 9, 8))))"
    )


def hash_key(*parts: str, indent: int = 0) -> str:
    """Hash key over business-key parts (SQL expressions of any type, text ones already
    trimmed), normalised first; laid out as :func:`hash_text` lays it out."""
    return hash_text(*(normalized(part) for part in parts), indent=indent)


def python_hash_key(*parts: object) -> str:
    """The key staging gives these source values, computed in Python, for tests and for
    people debugging a join: ``str.strip()`` removes the white space :func:`trimmed` does.
    """
    text = KEY_DELIMITER.join(str(part).strip().upper() for part in parts)
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16]))


def unknown_customer_key() -> str:
    """SQL literal of the unknown customer's key (CustomerID 0)."""
    return f"toUUID('{python_hash_key(0)}')"


def load_datetime(context: AssetContext) -> str:
    """The run's LOAD_DATETIME as a ``DateTime64(0, 'UTC')`` SQL literal.

    A naive datetime is taken to be UTC already.
    """
    value = context.load_datetime
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return f"toDateTime64('{value:%Y-%m-%d %H:%M:%S}', 0, 'UTC')"


def run_date(context: AssetContext) -> str:
    """The run's date (UTC) as a ``Date`` SQL literal."""
    value = context.load_datetime
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"toDate('{value:%Y-%m-%d}')"


def layer_tags(layer: str) -> dict[str, str]:
    """Tags every retail asset carries: its layer, and the pipeline it belongs to."""
    return {"layer": layer, "pipeline": "online_retail"}


__all__ = [
    "KEY_DELIMITER",
    "NIL_UUID",
    "OWNERS",
    "UNICODE_SPACE",
    "current_line",
    "hash_key",
    "hash_text",
    "layer_tags",
    "load_datetime",
    "plain_edges",
    "python_hash_key",
    "run_date",
    "trimmed",
    "unknown_customer_key",
]
