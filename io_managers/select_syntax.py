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
which bracket is unmatched), by its own fixed wording.

A name the engine does not know (a misspelt column, a function) has no position in its
message, only the name: where the author's text first uses it is found by sqlglot's
parse of the text (:func:`io_managers.sql_analysis.first_use`), never by searching it.
The line and column found let the error name the line of the asset's source file that
holds it (:func:`orchestration.asset_code.select_place`), not the body's ``return``.

Any other refusal (a name it does not know, a type that does not fit) ends, after the
engine's sentence about it and its guess, with its quote of the whole SELECT it was
compiling (``... Maybe you meant: ['sat.Quantity']. In scope SELECT hub.hub_invoice_hash_key
AS sale_id, ...``: ~600 characters for the facts'), which the place in the file points to
already. A line says the sentence and stops there (:func:`without_quoted_query`); the
whole message is kept beside it, for ``--verbose``, ``--json`` and the asset page. The
engine gives a refusal as an error code and a text, nothing more (chdb's exception, the
server's ``X-ClickHouse-Exception-Code`` header and body), and the code says what went
wrong, not where its quote starts: so the quote is found by the engine's fixed words for
it, in one place (:func:`io_managers.errors.without_quoted_query`), which also cuts the
engine's refusal of a query a Python body sends (:class:`~io_managers.errors.WarehouseQueryError`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from io_managers.errors import WarehouseError, WarehouseQueryError, without_quoted_query
from orchestration.asset_code import line_and_col

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
#: The engine's words for a column it cannot resolve (qualified as written, or not).
_UNKNOWN_COLUMN = re.compile(
    r"Identifier '([^']+)' cannot be resolved"
    r"|Unknown expression (?:or function )?identifier `([^`]+)`"
)
_UNKNOWN_FUNCTION = re.compile(r"Function with name `([^`]+)` does not exist")


@dataclass(frozen=True)
class CompileFailure:
    """Why an asset's SELECT did not compile, and where in its author's text (1-based line
    and column) when the engine's message says: a syntax error's position, a name it does
    not know.

    ``why`` names that place in the text itself (``syntax error at line 5, col 6, at
    'vault'``); ``why_placed``, when given, leaves it out, for a line that begins with
    the place in the source file already (``assets/marts.py:238:6:``): two positions of
    one token, in two coordinates, read as two places."""

    why: str
    line: int | None = None
    col: int | None = None
    why_placed: str | None = None
    #: The engine's whole message, when ``why`` leaves out its quote of the SELECT.
    engine: str | None = None

    def said(self, *, placed: bool, full: bool = False) -> str:
        """The words, after a place in the file (``placed``) or alone; ``full``: with the
        engine's quote of the SELECT, if it gave one."""
        if full and self.engine is not None:
            return self.engine
        return self.why_placed if placed and self.why_placed is not None else self.why


def compile_failure(queries: WarehouseQueries, text: str, error: WarehouseError) -> CompileFailure:
    """Why ``text`` (an asset's SELECT as its body returned it) did not compile, given the
    engine's ``error`` about it inside the framework's wrapper: a syntax error at its line
    and column in ``text`` and the few words of the engine's message that matter; any
    other error as the engine said it, at the first use of the name it could not resolve,
    when it names one."""
    if not _FAILED_AT.search(str(error)):
        return _unknown_name(text, str(error))
    try:
        queries.rows(_EXPLAIN + text)
    except WarehouseQueryError as alone:
        failure = syntax_failure(text, str(alone), len(_EXPLAIN.encode()))
        return failure or CompileFailure(str(error))
    return CompileFailure(_as_subquery(str(error)))


def _unknown_name(text: str, message: str) -> CompileFailure:
    """The engine's ``message`` about ``text``, placed at the first use of the column or
    function it says it does not know (unplaced when it names none, or none is found)."""
    from io_managers.sql_analysis import first_use  # sqlglot only for such a failure

    column = unknown_column(message)
    function = _UNKNOWN_FUNCTION.search(message)
    offset = None
    if column is not None:
        offset = first_use(text, column)
    elif function is not None:
        offset = first_use(text, function.group(1), function=True)
    line, col = line_and_col(text, offset) if offset is not None else (None, None)
    why = without_quoted_query(message)
    return CompileFailure(why, line, col, engine=message if why != message else None)


def unknown_column(message: str) -> str | None:
    """The column the engine's ``message`` says it cannot resolve, as the query wrote it
    (``s.contry``, ``nosuch``); None if it names none."""
    found = _UNKNOWN_COLUMN.search(message)
    return (found.group(1) or found.group(2)) if found else None


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


def syntax_error_in(
    text: str, message: str, prefix_bytes: int = 0, *, statement: str = "SELECT"
) -> str | None:
    """The engine's syntax error ``message`` about ``text`` (preceded by ``prefix_bytes``
    bytes of a statement the caller wrapped it in) in ``text``'s own coordinates, in one
    short line; None if ``message`` is not a syntax error the engine placed.
    ``statement``: what ``text`` is called where the error is at its end."""
    failure = syntax_failure(text, message, prefix_bytes, statement=statement)
    return failure.why if failure is not None else None


def syntax_failure(
    text: str, message: str, prefix_bytes: int = 0, *, statement: str = "SELECT"
) -> CompileFailure | None:
    """:func:`syntax_error_in`, with the line and column it is at in ``text``."""
    found = _FAILED_AT.search(message)
    if found is None:
        return None
    token = found.group(2)
    position = _position(text, int(found.group(1)) - prefix_bytes)
    if position is None:
        return None
    line, col = position
    at_end = token == "end of query"
    end = f"at the end of the {statement}"
    where = end if at_end else f"at line {line}, col {col}, at {token!r}"
    placed = end if at_end else f"at {token!r}"
    rest = message[found.end() :]
    why = _explanation(text, rest, prefix_bytes)
    # A bracket's place stays in the SELECT's coordinates: said so beside a file's place.
    why_placed = _explanation(text, rest, prefix_bytes, of_the_select=True)
    return CompileFailure(
        f"syntax error {where}" + (f": {why}" if why else ""),
        line,
        col,
        f"syntax error {placed}" + (f": {why_placed}" if why_placed else ""),
    )


def _explanation(text: str, rest: str, prefix_bytes: int, *, of_the_select: bool = False) -> str:
    """What the engine says after quoting the text: a bracket never closed (at its line
    and column in ``text``, ``of_the_select`` when another place is said before), the
    keyword it guesses was meant, what it expected (the first few of its alternatives)."""
    parts = []
    unmatched = rest.rfind("Unmatched parentheses: ")
    if unmatched >= 0:
        said = _END_MARK.sub("", rest[unmatched:])

        def placed(bracket: re.Match[str]) -> str:
            place = _place(text, int(bracket.group(2)) - prefix_bytes)
            if place is None:
                return bracket.group(0)
            return f"{bracket.group(1)} at {place}" + (" of the SELECT" if of_the_select else "")

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
    """``line L, col C`` of the engine's 1-based byte ``position`` in ``text``; None if
    it falls outside ``text``."""
    found = _position(text, position)
    return f"line {found[0]}, col {found[1]}" if found else None


def _position(text: str, position: int) -> tuple[int, int] | None:
    """The line and column of the engine's 1-based byte ``position`` in ``text`` (columns
    in characters, as an editor counts them); None if it falls outside ``text``."""
    encoded = text.encode()
    if not 1 <= position <= len(encoded) + 1:
        return None
    return line_and_col(text, len(encoded[: position - 1].decode(errors="ignore")))
