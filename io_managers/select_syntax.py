"""A syntax error in an asset's SELECT, placed in its author's own text.

The engine compiles a SQL asset's SELECT inside what the framework wraps around it
(``DESCRIBE ((...) SETTINGS ...)``, :mod:`io_managers.statements`), so its syntax error
counts positions and lines from the wrapper, quotes a ``SETTINGS`` clause the author
never wrote, and lists every token it could have taken there (~600 characters).
``pipeline validate`` and ``materialize`` wrap differently, so they even disagreed on
where the error is.

On such a failure only (a SELECT that compiles costs nothing more), the engine's own
parser is asked about the author's text alone, ``EXPLAIN AST <their text>``: a fixed
prefix on the first line, so its position, less the prefix, is an offset in their text,
from which the line and column are counted in their characters (the engine counts bytes).
The engine's message is read only for its parts (position, token, what it expected or
which bracket is unmatched), by its own fixed wording; the SQL is never parsed here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from io_managers.errors import WarehouseError, WarehouseQueryError

if TYPE_CHECKING:
    from io_managers.queries import WarehouseQueries

_EXPLAIN = "EXPLAIN AST "
#: How many of the engine's "Expected one of" alternatives are worth reading.
EXPECTED_SHOWN = 5
_FAILED_AT = re.compile(
    r"Syntax error(?: \([^)]*\))?: failed at position (\d+) \((.*?)\)"
    r"(?: \(line \d+, col \d+\))?: "
)
_BRACKET = re.compile(r"('.') at position (\d+)(?: \(line \d+, col \d+\))?")
_MAYBE = re.compile(r"Maybe you meant: (.+?)\. ")
_END_MARK = re.compile(r"\.?\s*(?:\(SYNTAX_ERROR\))?\s*$")


def compile_failure(queries: WarehouseQueries, text: str, error: WarehouseError) -> str:
    """Why ``text`` (an asset's SELECT as its body returned it) did not compile, given the
    engine's ``error`` about it inside the framework's wrapper: a syntax error as its line
    and column in ``text`` and the few words of the engine's message that matter; any
    other error (an unknown column, say) as the engine said it."""
    if not _FAILED_AT.search(str(error)):
        return str(error)
    try:
        queries.rows(_EXPLAIN + text)
    except WarehouseQueryError as alone:
        return syntax_error_in(text, str(alone), len(_EXPLAIN.encode())) or str(error)
    return _as_subquery(str(error))


def _as_subquery(message: str) -> str:
    """A syntax error only the wrapper causes (the text parses alone: a ``FORMAT`` clause,
    say, which a subquery cannot take): its token and what the engine expected, without
    the wrapper's positions or text, which would point the author at nothing they wrote."""
    found = _FAILED_AT.search(message)
    if found is None:
        return message
    why = _explanation("", message[found.end() :], 0)
    token = found.group(2)
    at = "the end" if token == "end of query" else repr(token)
    where = f"syntax error at {at}, where a run reads the SELECT as a subquery"
    return where + (f": {why}" if why else "")


def syntax_error_in(text: str, message: str, prefix_bytes: int = 0) -> str | None:
    """The engine's syntax error ``message`` about ``text`` (preceded by ``prefix_bytes``
    bytes of a statement the caller wrapped it in) in ``text``'s own coordinates, in one
    short line; None if ``message`` is not a syntax error the engine placed."""
    found = _FAILED_AT.search(message)
    if found is None:
        return None
    token = found.group(2)
    place = _place(text, int(found.group(1)) - prefix_bytes)
    if place is None:
        return None
    where = "at the end of the SELECT" if token == "end of query" else f"at {place}, at {token!r}"
    why = _explanation(text, message[found.end() :], prefix_bytes)
    return f"syntax error {where}" + (f": {why}" if why else "")


def _explanation(text: str, rest: str, prefix_bytes: int) -> str:
    """What the engine says after quoting the text: a bracket never closed, the keyword it
    guesses was meant, what it expected (the first few of its alternatives)."""
    parts = []
    unmatched = rest.rfind("Unmatched parentheses: ")
    if unmatched >= 0:
        said = _END_MARK.sub("", rest[unmatched:])

        def placed(bracket: re.Match[str]) -> str:
            place = _place(text, int(bracket.group(2)) - prefix_bytes)
            return f"{bracket.group(1)} at {place}" if place else bracket.group(0)

        parts.append(_BRACKET.sub(placed, said).replace("Unmatched", "unmatched", 1))
    maybe = _MAYBE.search(rest)
    if maybe:
        parts.append(f"maybe you meant {maybe.group(1)}")
    expected = rest.rfind("Expected ")
    if expected >= 0 and unmatched < 0:
        parts.append(_shortened_expected(rest[expected + len("Expected ") :]))
    return "; ".join(parts)


def _shortened_expected(said: str) -> str:
    """``one of: a, b, c, ...`` cut to its first few alternatives (the engine lists every
    token it could have taken, dozens of them, in an order of no help to a reader)."""
    cut = said.endswith("...")
    said = _END_MARK.sub("", said.removesuffix("..."))
    if not said.startswith("one of: "):
        return f"expected {said}"
    variants = said.removeprefix("one of: ").split(", ")
    if cut:
        variants = variants[:-1]  # the last one was cut short with the message
    shown = ", ".join(variants[:EXPECTED_SHOWN])
    more = ", ..." if cut or len(variants) > EXPECTED_SHOWN else ""
    return f"expected one of: {shown}{more}"


def _place(text: str, position: int) -> str | None:
    """``line L, col C`` of the engine's 1-based byte ``position`` in ``text`` (columns in
    characters, as an editor counts them); None if it falls outside ``text``."""
    encoded = text.encode()
    if not 1 <= position <= len(encoded) + 1:
        return None
    offset = len(encoded[: position - 1].decode(errors="ignore"))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, col {col}"
