"""Read-only queries (``pipeline query``): the engine refuses writes; parsers explain why.

Safety rests on the engine, not on reading SQL text. A user's query runs on a ClickHouse
session with ``readonly = 1``: chdb opens a second connection to the warehouse directory
with that setting, a server gets it on the request. ClickHouse then refuses every write,
every settings change (so ``readonly`` cannot be lowered) and most table functions in a
``SELECT``. ``allow_external`` lowers the level to ``readonly = 2``, which still refuses
writes but lets table functions read: ``readonly = 1`` refuses ``file()`` and ``url()``
as tables (they need ``CREATE TEMPORARY TABLE``), the very reads the option is for. That
level lets a statement carry its own ``SETTINGS``, which is why no EXPLAIN of a write may
pass (step 2): building an INSERT's pipeline opens its file, truncated under
``engine_file_truncate_on_insert``.

``readonly`` does not cover everything, though. ``INTO OUTFILE`` is written by chdb's
client side, outside the session's settings, after any statement that has output
(``SELECT``, ``SHOW``, ``EXPLAIN``, ``DESCRIBE``). The scalar ``file()`` function reads
any local file (chdb, like ``clickhouse-local``, has no ``user_files_path`` fence),
``DESCRIBE`` of a table function infers its schema from the file, and ``EXPLAIN`` folds
constants, printing what ``file()`` read. So ClickHouse's own parser decides those:

1. **ClickHouse's parser** (``formatQuery``, on the read-only session) must find exactly
   one statement, and its canonical rendering is what runs. chdb executes every
   statement of a string, so text another parser reads as one statement (a heredoc
   ``$$...$$``, an odd comment) can never carry a second one into the engine.
2. **ClickHouse's parse tree** of that statement (``EXPLAIN AST``, which parses and runs
   nothing, :class:`ParseTree`) must have no ``INTO OUTFILE`` and be a read at its root
   (a ``SELECT``, ``SHOW``, ``DESCRIBE`` or ``EXPLAIN``, not ``PARALLEL WITH``); an
   ``EXPLAIN`` must explain a ``SELECT`` (:meth:`ParseTree.explained_other_than_a_select`).
3. **sqlglot's ClickHouse dialect** names what is not a read (``DROP``, ``INSERT``, ...)
   for the refusal, and says whether a statement is a query whose rows can be wrapped.
4. Unless ``allow_external``, the tree must show every function the statement calls and
   none may share its name with a table function outside :data:`LOCAL_TABLE_FUNCTIONS`
   (the engine's own list, ``system.table_functions``), which covers the scalar
   ``file()``. Where the tree cannot show a call, the statement is refused: a column
   list given as text (:data:`COLUMN_LIST_TABLE_FUNCTIONS`), ``APPLY`` and the
   ``WHERE``/``LIMIT`` of a ``SHOW`` (:func:`_unseen_calls`).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TypeVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from io_managers.errors import (
    QueryRejectedError,
    ReadOnlyQueryError,
    WarehouseQueryError,
    without_quoted_query,
)
from io_managers.query_names import ALLOWED, READ_COMMANDS, READ_WORDS, QueryNames
from io_managers.query_text import TEXT_FORMAT, TEXT_SETTINGS, query_text
from io_managers.select_syntax import syntax_error_in
from io_managers.sql import DIALECT, quote_string
from io_managers.transport import OutputSettings, SettingValue, Transport
from orchestration.errors import with_full_message
from orchestration.io_manager import QueryText

T = TypeVar("T")

#: ClickHouse's error codes of a statement the read-only session refuses (READONLY,
#: SETTING_CONSTRAINT_VIOLATION, READONLY_SETTING) and of one the warehouse's user has no
#: grant for (DATABASE_ACCESS_DENIED, PATH_ACCESS_DENIED, DICTIONARY_ACCESS_DENIED,
#: ACCESS_DENIED, RESOURCE_ACCESS_DENIED): refusals, as ``pipeline query`` says its own.
_READ_ONLY_CODES = frozenset({164, 452, 472})
_ACCESS_CODES = frozenset({291, 481, 482, 497, 673})

#: ClickHouse ``readonly`` levels: 1 refuses writes, settings changes and table functions;
#: 2 refuses writes but allows settings and table functions (``--allow-external``).
READ_ONLY = 1
READ_ONLY_WITH_EXTERNAL = 2
#: Table functions that read nothing outside the warehouse and whose arguments the parse
#: tree shows whole; any other one (file, url, s3, remote, mysql, executable, eval, ...)
#: needs ``allow_external``. ``format`` is here for the scalar ``format()``: its table
#: function is refused by ``readonly = 1`` itself.
LOCAL_TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries",
     "view", "merge", "format"}
)  # fmt: skip
#: Local table functions that take their columns as text (``'a UInt8, b String ALIAS
#: file(...)'``), which ClickHouse parses only as the query runs: a DEFAULT, MATERIALIZED
#: or ALIAS expression there is a call the parse tree never shows, and the text may be an
#: expression or a WITH alias. They need ``allow_external`` like a read outside.
COLUMN_LIST_TABLE_FUNCTIONS = frozenset({"generaterandom", "values", "null"})
#: The first word of ClickHouse's parse tree for a read statement (every SHOW is too).
_READ_ROOTS = frozenset({"SelectWithUnionQuery", "Explain", "DescribeQuery"})
#: How :func:`read_only_json` has ClickHouse render values, so that every JSON reader
#: (JSON.parse, Go, jq, Python) reads back what the warehouse holds, and one rule covers
#: a type wherever it stands (a column, an array's element, a tuple's field).
JSON_SETTINGS: dict[str, SettingValue] = {
    # NaN and +-inf as null: JSON has no such numbers, and its parsers refuse the words.
    "output_format_json_quote_denormals": 0,
    # (U)Int64, (U)Int128 and (U)Int256 as strings, every value of the type, as ClickHouse
    # did by default before 25.8: JavaScript and jq round integers past 2^53.
    "output_format_json_quote_64bit_integers": 1,
    # Decimals as strings with every digit of their scale ("12.5000"): a float rounds.
    "output_format_json_quote_decimals": 1,
    "output_format_decimal_trailing_zeros": 1,
    # Every DateTime and DateTime64 as ISO 8601 in UTC ("2026-12-06T11:34:56Z",
    # fractions kept), whatever its time zone; Date and Date32 stay "2026-12-06".
    "date_time_output_format": "iso",
    # Bytes that are not UTF-8 as U+FFFD: raw, they would make the document unreadable.
    "output_format_json_validate_utf8": 1,
    # "a/b", not "a\/b" (both mean the same).
    "output_format_json_escape_forward_slashes": 0,
}
#: How CSV is rendered: NULL as an empty field, as spreadsheets, pandas and most CSV
#: writers do, not ClickHouse's ``\N``, which no CSV reader takes for NULL (the project's
#: own ingest refused it as a value). ClickHouse quotes every string, so an empty string
#: stays ``""``.
CSV_SETTINGS: dict[str, SettingValue] = {"format_csv_null_representation": ""}


def _output_settings(fmt: str) -> OutputSettings:
    """The rendering settings of output format ``fmt``: :data:`CSV_SETTINGS` for CSV
    (``CSV``, ``CSVWithNames``, ...), the engine's defaults for any other."""
    return CSV_SETTINGS if fmt.upper().startswith("CSV") else None


@dataclass(frozen=True)
class ReadStatement:
    """One statement accepted by :func:`ensure_read_only`."""

    sql: str
    #: A SELECT (or set operation): its result columns can be described and projected.
    is_query: bool
    #: It has a FORMAT or SETTINGS clause of its own, either of which may change how the
    #: engine renders the result (``format_csv_delimiter``, a header of another format).
    renders_itself: bool = False
    #: It has a FORMAT clause: only a caller that prints the engine's bytes can honour it.
    has_format: bool = False
    #: It ends in a SETTINGS clause of its own, a settings change ``readonly = 1``
    #: refuses (a subquery's it runs): it runs with ``allow_external`` only.
    has_settings: bool = False


def ensure_read_only(sql: str) -> ReadStatement:
    """The single read statement in ``sql``, or :class:`ReadOnlyQueryError` saying why not.

    sqlglot names the statement kind; an ``INTO OUTFILE`` is ClickHouse's parse tree's to
    find (:meth:`ParseTree.writes_a_file`), as sqlglot keeps ``SHOW`` and ``EXPLAIN`` as
    opaque text.
    """
    text = sql.strip()
    try:
        with _sqlglot_silent():
            statements = [s for s in sqlglot.parse(text, dialect=DIALECT) if s is not None]
    except SqlglotError as exc:
        word = _first_word(text)
        if word is not None and word not in READ_WORDS:
            # A write sqlglot cannot parse (``ALTER ... DELETE``, ``KILL QUERY``): its
            # parser's complaint would describe sqlglot, not the statement.
            raise _refused(_not_a_read(word)) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _refused(f"the query does not parse as one read statement ({first})") from None
    if not statements:
        raise _refused("the query is empty; pass one read statement")
    if len(statements) > 1:
        raise _refused(f"found {len(statements)} statements; pass exactly one read statement")
    statement = statements[0]
    if isinstance(statement, exp.Query | exp.Describe):
        is_query = isinstance(statement, exp.Query)
    elif isinstance(statement, exp.Command) and str(statement.this).upper() in READ_COMMANDS:
        is_query = False
    else:
        raise _refused(_not_a_read(_first_word(text) or statement.key.upper()))
    queries = list(statement.find_all(exp.Query))
    has_format = any(node.args.get("format") for node in queries)
    renders_itself = has_format or any(node.args.get("settings") for node in queries)
    has_settings = bool(statement.args.get("settings"))
    return ReadStatement(
        text.rstrip(";").strip(), is_query, renders_itself, has_format, has_settings
    )


def read_only_text(
    transport: Transport, sql: str, *, allow_external: bool = False, max_rows: int | None = None
) -> QueryText:
    """Run a user's read query on a read-only session; every value as ClickHouse prints it
    (:mod:`io_managers.query_text`).

    ``max_rows`` makes the engine stop a query (a SELECT) after that many rows, so a
    result that is only looked at is not fetched whole: ``SELECT * FROM (query) LIMIT n``
    keeps the query's columns and the order its ORDER BY gives. Other statements (SHOW,
    DESCRIBE, EXPLAIN) cannot be a subquery and return all their rows.
    """
    level = READ_ONLY_WITH_EXTERNAL if allow_external else READ_ONLY
    statement = _accepted(transport, sql, level, allow_external)
    if statement.has_format:
        # The engine renders the rows in the table's own format, so the clause cannot
        # apply; wrapped for the row limit, it was ClickHouse's syntax error about a
        # wrapper the user never wrote.
        raise _own_format_refused()
    text = statement.sql
    if statement.is_query and max_rows is not None:
        text = f"SELECT * FROM ({text}) LIMIT {int(max_rows)}"
    rendered = _engine(
        lambda: transport.raw(text, TEXT_FORMAT, level, TEXT_SETTINGS),
        QueryNames(transport, sql, level),
    )
    return query_text(rendered)


def read_only_bytes(
    transport: Transport, sql: str, fmt: str, *, allow_external: bool = False
) -> bytes:
    """A user's read query rendered by ClickHouse in output format ``fmt`` (CSV with
    :data:`CSV_SETTINGS`)."""
    level = READ_ONLY_WITH_EXTERNAL if allow_external else READ_ONLY
    statement = _accepted(transport, sql, level, allow_external)
    settings = _output_settings(fmt)
    names = QueryNames(transport, sql, level)
    return _engine(lambda: transport.raw(statement.sql, fmt, level, settings), names)


def read_only_stream(
    transport: Transport, sql: str, fmt: str, *, allow_external: bool = False
) -> Generator[bytes, None, None]:
    """:func:`read_only_bytes`, a block of rows at a time: the pieces joined are its bytes.

    5,000,000 rows of CSV held at once took 0.4 GB. A query in a row format (CSV, TSV,
    with names and types or not) is streamed without its header (chdb would repeat it
    before every block); the header is the engine's own for ``SELECT * FROM (query)
    LIMIT 0``, which reads no row, written once, ahead of the first block. Anything the
    engine must render whole stays whole, one piece: a statement that is not a SELECT
    (SHOW, DESCRIBE, EXPLAIN: a few rows), one with its own FORMAT or SETTINGS clause
    (which also change the header), another format.

    Nothing is yielded before the query has given its first block (or ended), so a query
    that fails at once prints nothing, with the engine's error about the query itself;
    one that fails later has printed its first rows. Closing the generator stops it.
    """
    level = READ_ONLY_WITH_EXTERNAL if allow_external else READ_ONLY
    statement = _accepted(transport, sql, level, allow_external)
    names = QueryNames(transport, sql, level)
    yield from _rendered(transport, statement, fmt, names, _output_settings(fmt))


def read_only_json(
    transport: Transport, sql: str, *, allow_external: bool = False
) -> Generator[bytes, None, None]:
    """A user's read query as one JSON list of objects, one row a line, in pieces.

    ClickHouse renders the rows (``JSONEachRow`` with :data:`JSON_SETTINGS`), streamed
    as :func:`read_only_stream` streams CSV; the pieces only gain the list's brackets
    and commas (:func:`_json_list`), so no row passes through Python objects (5,000,000
    rows as Python objects and one string took 3.2 GB). A FORMAT clause is refused as
    for the table: its rendering is not this list.
    """
    level = READ_ONLY_WITH_EXTERNAL if allow_external else READ_ONLY
    statement = _accepted(transport, sql, level, allow_external)
    if statement.has_format:
        raise _own_format_refused()
    names = QueryNames(transport, sql, level)
    yield from _json_list(_rendered(transport, statement, "JSONEachRow", names, JSON_SETTINGS))


def _rendered(
    transport: Transport,
    statement: ReadStatement,
    fmt: str,
    names: QueryNames,
    settings: OutputSettings = None,
) -> Generator[bytes, None, None]:
    """``statement`` (the user's ``names.sql``) rendered in ``fmt`` (see
    :func:`read_only_stream`)."""
    rows_fmt, header_fmt = _row_format(fmt)
    level = names.level
    if not statement.is_query or statement.renders_itself or rows_fmt is None:
        yield _engine(lambda: transport.raw(statement.sql, fmt, level, settings), names)
        return
    blocks = _engine_stream(transport.iter_raw(statement.sql, rows_fmt, level, settings), names)
    with contextlib.closing(blocks):
        first = next(blocks, b"")
        header = b""
        if header_fmt:
            empty = f"SELECT * FROM ({statement.sql}) LIMIT 0"
            header = _engine(lambda: transport.raw(empty, fmt, level, settings), names)
        yield header + first
        yield from blocks


def _json_list(lines: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """``JSONEachRow`` text as one JSON list: ``[``, its lines joined by ``,``, ``]``.

    Each row is one line (a line break inside a string is escaped), so every line break
    but the last separates two rows. The pieces may split the text anywhere (a server's
    stream does); a piece's final line break is held until more rows follow, so the list
    never ends in a comma. Nothing is written before the first row or the end.
    """
    started = held = False
    with contextlib.closing(lines):  # closing the list stops the query
        for piece in lines:
            if not piece:
                continue
            opening = b",\n" if held else b"" if started else b"[\n"
            yield opening + piece.removesuffix(b"\n").replace(b"\n", b",\n")
            started, held = True, piece.endswith(b"\n")
    yield b"\n]\n" if started else b"[]\n"


#: Row formats whose blocks, rendered one by one and joined, are the whole rendering.
_ROW_FORMATS = frozenset({"CSV", "TSV", "TabSeparated", "JSONEachRow"})
#: A header a row format may carry (``CSVWithNames``), longest first.
_HEADER_SUFFIXES = ("WithNamesAndTypes", "WithNames")


def _row_format(fmt: str) -> tuple[str | None, str]:
    """``fmt`` as (its rows' format, its header): ``CSVWithNames`` is ("CSV", "WithNames");
    (None, "") if it is not a row format a stream can render block by block."""
    for suffix in _HEADER_SUFFIXES:
        if fmt.endswith(suffix) and fmt.removesuffix(suffix) in _ROW_FORMATS:
            return fmt.removesuffix(suffix), suffix
    return (fmt, "") if fmt in _ROW_FORMATS else (None, "")


def _accepted(transport: Transport, sql: str, level: int, allow_external: bool) -> ReadStatement:
    """The statement ``sql`` if it is one read that writes no file and, unless
    ``allow_external``, reads nothing outside the warehouse (see the module's steps)."""
    canonical = _canonical(transport, sql, level)
    tree = ParseTree.of(transport, canonical, level)
    if tree.writes_a_file():
        raise _refused(
            "INTO OUTFILE writes a file, which the read-only session does not prevent; "
            "only reads are allowed and nothing was written"
        )
    statement = ensure_read_only(canonical)
    if not tree.is_read():
        raise _refused(
            f"ClickHouse's parser reads this as {_statements((tree.root,))}, not as one "
            f"read statement; only {ALLOWED} are allowed and nothing was changed"
        )
    explained = tree.explained_other_than_a_select()
    if explained is not None:
        raise _refused(f"EXPLAIN explains only a SELECT here, {_explained(explained)}")
    if not allow_external:
        unseen = _unseen_calls(transport, canonical, tree, level)
        if unseen:
            raise _refused(unseen)
    return statement


def _canonical(transport: Transport, sql: str, level: int) -> str:
    """ClickHouse's canonical rendering of ``sql``, which must be one statement."""
    try:
        canonical = transport.query_arrow(
            f"SELECT formatQuery({quote_string(sql)}) AS statement", readonly=level
        )
    except WarehouseQueryError as exc:
        if "Multi-statements are not allowed" in str(exc):
            raise _refused(
                "ClickHouse's parser found more than one statement; pass exactly one read statement"
            ) from None
        if "Empty query" in str(exc):
            raise _refused("the query is empty; pass one read statement") from None
        raise _syntax_rejected(QueryNames(transport, sql, level), exc) from exc
    return str(canonical.column(0)[0].as_py())


def _syntax_rejected(names: QueryNames, exc: WarehouseQueryError) -> QueryRejectedError:
    """The engine's refusal ``exc`` to parse the user's query ``names.sql`` (whose
    positions count in that text itself) in one line: an unknown statement
    (:mod:`io_managers.query_names`), or a syntax error at its line and column with the
    first few of the ~60 tokens the engine lists as expected there; the whole message is
    the error's ``full_message`` (``--verbose``)."""
    message = _without_wrapper(str(exc))
    brief = (
        names.mistake(exc)
        or syntax_error_in(names.sql, message, statement="query")
        or without_quoted_query(message)
    )
    return with_full_message(QueryRejectedError(brief), message)


@dataclass(frozen=True)
class ParseTree:
    """ClickHouse's parse tree of one statement as ``EXPLAIN AST`` prints it (it parses and
    runs nothing): a node a line, ``<kind> <detail>``, a space of indent per level.

    A name or alias holding a line break prints as more than one line, so a line may only
    look like a node; such a line can add a refusal, never hide a node, as each real node
    starts a line of its own at its own depth. The root has no alias.
    """

    lines: tuple[str, ...]

    @classmethod
    def of(cls, transport: Transport, sql: str, level: int) -> ParseTree:
        """The tree of ``sql`` (one canonical statement): an ``INTO OUTFILE`` in it is
        parsed as the statement's, so ``EXPLAIN AST`` writes no file either."""
        tree = _engine(
            lambda: transport.query_arrow(f"EXPLAIN AST {sql}", readonly=level),
            QueryNames(transport, sql, level),
        )
        return cls(tuple(str(line) for line in tree.column(0).to_pylist()))

    def nodes(self) -> Iterator[tuple[int, str, str]]:
        """Each line as (depth, kind, detail): ``(4, "Function", "file (children 1)")``."""
        for line in self.lines:
            text = line.lstrip(" ")
            kind, _, detail = text.partition(" ")
            yield len(line) - len(text), kind, detail

    @property
    def root(self) -> str:
        """The statement's kind: ``SelectWithUnionQuery``, ``ShowTables``, ``Explain``, ..."""
        return self.lines[0].partition(" ")[0] if self.lines else ""

    def is_read(self) -> bool:
        """A SELECT (UNION, INTERSECT, ... included), EXPLAIN, DESCRIBE or any SHOW; not
        ``PARALLEL WITH``, which runs several statements, nor a write."""
        return self.root in _READ_ROOTS or self.is_show()

    def explained_other_than_a_select(self) -> tuple[str, ...] | None:
        """The kinds of statement an ``EXPLAIN`` explains if they are not one SELECT
        (``("InsertQuery",)``, ``("DropQuery",)``, ``()`` for ``EXPLAIN CURRENT
        TRANSACTION``), else None.

        The root's kind says ``Explain`` whatever it explains, and ClickHouse counts it as
        a read, yet ``EXPLAIN PIPELINE INSERT INTO FUNCTION file(...)`` creates or
        truncates that file as it builds the pipeline. So each ``EXPLAIN`` in the chain
        (``EXPLAIN AST EXPLAIN ...``) must have exactly one statement under it, apart from
        its own settings (``Set``), ending in a SELECT; and an ``InsertQuery`` anywhere is
        refused. A line that only looks like a node (see the class) can add a refusal only.
        """
        if any(kind == "InsertQuery" for _, kind, _ in self.nodes()):
            return ("InsertQuery",)
        if self.root != "Explain":
            return None
        depth, kind = 0, self.root
        while kind == "Explain":
            depth += 1
            level = [k for d, k, _ in self.nodes() if d == depth]
            # A ``Set`` beside a statement is the EXPLAIN's own settings; alone, a SET.
            under = [k for k in level if k != "Set"] or level
            if len(under) != 1:
                return tuple(under)
            kind = under[0]
        return None if kind == "SelectWithUnionQuery" else (kind,)

    def is_show(self) -> bool:
        """Any SHOW: ``ShowTables``, ``ShowColumns``, ``SHOW USERS query``, ..."""
        return self.root.lower().startswith("show")

    def writes_a_file(self) -> bool:
        """Whether the statement has ``INTO OUTFILE``: the parser hangs its file name (and
        a ``COMPRESSION`` name) under the statement itself as a string literal, where a
        read statement has none otherwise (its clauses hang a level deeper, or are kept
        out of the tree)."""
        return any(
            depth == 1 and kind == "Literal" and detail.startswith("'")
            for depth, kind, detail in self.nodes()
        )

    def functions(self) -> dict[str, str]:
        """Every function called, by lower-case name, as written: ``{"file": "file"}``."""
        return {
            name.lower(): name
            for _, kind, detail in self.nodes()
            if kind == "Function" and (name := detail.split(" ", 1)[0])
        }

    def applies_a_function_by_name(self) -> bool:
        """Whether a column transformer ``APPLY(f)`` (or ``APPLY(x -> f(x))``) is used:
        the tree shows the transformer but not what it calls."""
        return any(kind == "ColumnsApplyTransformer" for _, kind, _ in self.nodes())


def _unseen_calls(transport: Transport, sql: str, tree: ParseTree, level: int) -> str:
    """Why ``sql`` may read outside the warehouse unseen (the refusal), or "" if it cannot.

    A call of a function named like a table function outside :data:`LOCAL_TABLE_FUNCTIONS`
    may (``file()`` scalar or table, ``url()``, ...). So may what the tree cannot show: a
    column list given as text, ``APPLY``, and a ``SHOW``'s ``WHERE`` and ``LIMIT``, which
    ``EXPLAIN AST`` leaves out. For a ``SHOW`` ClickHouse's lexer decides instead
    (``normalizeQuery`` turns every literal into ``?``): every call has a bracket after
    its name, so a ``SHOW`` with no bracket outside its literals calls nothing.
    """
    reason = _table_function_calls(transport, tree, level)
    if reason:
        return reason
    if tree.applies_a_function_by_name():
        return (
            "APPLY calls a function ClickHouse's parse tree does not show, so it cannot be "
            f"checked: call the function on the columns by name, or {_RUN_IT}"
        )
    if tree.is_show() and "(" in _lexed(transport, sql, level):
        return (
            "SHOW with a bracket (a call in its WHERE or LIMIT) cannot be checked, as "
            "ClickHouse's parse tree leaves those clauses out: SELECT from system.tables "
            f"or system.columns instead, or {_RUN_IT}"
        )
    return ""


def _table_function_calls(transport: Transport, tree: ParseTree, level: int) -> str:
    """The refusal of calls named like a table function that reaches outside the
    warehouse or takes its columns as text (:data:`COLUMN_LIST_TABLE_FUNCTIONS`), or ""."""
    called = tree.functions()
    if not called:
        return ""
    table_functions = transport.query_arrow(
        "SELECT lower(name) AS name FROM system.table_functions", readonly=level
    ).column(0)
    outside = (called.keys() & set(table_functions.to_pylist())) - LOCAL_TABLE_FUNCTIONS
    external = sorted(outside - COLUMN_LIST_TABLE_FUNCTIONS)
    if external:
        reach = "reaches" if len(external) == 1 else "reach"
        return (
            f"{_calls(called, external)} {reach} files or the network; pass "
            "--allow-external to let this query read them"
        )
    as_text = sorted(outside & COLUMN_LIST_TABLE_FUNCTIONS)
    if as_text:
        its = "its" if len(as_text) == 1 else "their"
        return (
            f"{_calls(called, as_text)} can take {its} columns as text, which ClickHouse "
            "parses only as the query runs: a DEFAULT or ALIAS there could read a file "
            f"unchecked; {_RUN_IT}"
        )
    return ""


_RUN_IT = "pass --allow-external to let this query run it"


def _calls(called: dict[str, str], names: list[str]) -> str:
    return ", ".join(f"{called[name]}(...)" for name in names)


def _lexed(transport: Transport, sql: str, level: int) -> str:
    """``sql`` as ClickHouse's lexer reads it, each literal replaced by ``?``."""
    lexed = transport.query_arrow(
        f"SELECT normalizeQuery({quote_string(sql)}) AS lexed", readonly=level
    )
    return str(lexed.column(0)[0].as_py())


_WRAPPER_START = "In scope SELECT formatQuery('"
_WRAPPER_END = "') AS statement."


def _without_wrapper(message: str) -> str:
    r"""ClickHouse's error about ``SELECT formatQuery('<query>')`` as one about the query.

    Its positions (and line, col) already count in the query's own text; only the tail
    ``In scope SELECT formatQuery('...') AS statement.`` names the wrapper, so it goes.
    The query is quoted there with ``'`` escaped as ``\'``: the last ``formatQuery('``
    is the wrapper's, and its first unescaped ``'`` ends the query.
    """
    start = message.rfind(_WRAPPER_START)
    if start < 0:
        return message
    end = start + len(_WRAPPER_START)
    while end < len(message) and message[end] != "'":
        end += 2 if message[end] == "\\" else 1
    if not message.startswith(_WRAPPER_END, end):
        return message
    return message[:start].rstrip(": ") + message[end + len(_WRAPPER_END) :]


def _engine(run: Callable[[], T], names: QueryNames) -> T:
    """Run on the read-only session; the engine's READONLY refusal reads as a refusal,
    any other as the engine's verdict on the user's statement (``names``)."""
    try:
        return run()
    except WarehouseQueryError as exc:
        raise _rejection(exc, names) from None


def _engine_stream(blocks: Iterator[bytes], names: QueryNames) -> Generator[bytes, None, None]:
    """:func:`_engine` for a stream: its refusal may come with its first block."""
    try:
        yield from blocks
    except WarehouseQueryError as exc:
        raise _rejection(exc, names) from None


def _rejection(
    exc: WarehouseQueryError, names: QueryNames
) -> ReadOnlyQueryError | QueryRejectedError:
    """The engine's refusal of the user's statement, theirs to fix: a refusal of the
    read-only session or of the user's grants (told by its code) as ours, saying why; a
    name the warehouse does not know in the warehouse's terms
    (:mod:`io_managers.query_names`); any other with the engine's own message."""
    # Said without the engine's quote of the statement it ran: the user's own query, or
    # the command's wrapper of it (``SELECT * FROM (...) LIMIT 1001``).
    message = str(exc)
    if exc.code in _READ_ONLY_CODES:
        # At READ_ONLY the engine refuses settings changes and the table functions it does
        # not list as read-only (format() too, which reads only the text it is given).
        lifted = (
            "settings and table functions such as format() need --allow-external; "
            if names.level == READ_ONLY
            else ""
        )
        return _refused(
            "the warehouse serves queries on a read-only session and ClickHouse would not "
            f"run this: {message} ({lifted}writes are never allowed)"
        )
    if exc.code in _ACCESS_CODES:
        said = without_quoted_query(message)
        return _refused(f"the warehouse's user may not run this, ClickHouse says: {said}")
    brief = names.mistake(exc) or without_quoted_query(message)
    return with_full_message(QueryRejectedError(brief), message)


@contextlib.contextmanager
def _sqlglot_silent() -> Iterator[None]:
    """sqlglot keeps ``SHOW`` and ``EXPLAIN`` as opaque commands, as this module expects
    (their first word decides), and would warn about it on the user's terminal."""
    sqlglot_log = logging.getLogger("sqlglot")
    was_disabled, sqlglot_log.disabled = sqlglot_log.disabled, True
    try:
        yield
    finally:
        sqlglot_log.disabled = was_disabled


def _first_word(text: str) -> str | None:
    """The statement's first word as written (``INSERT`` for ``INSERT ... WITH``), past
    comments; None if it starts with something else (``(``) or does not tokenize."""
    try:
        tokens = sqlglot.tokenize(text, dialect=DIALECT)
    except SqlglotError:
        return None
    word = tokens[0].text.upper() if tokens else ""
    return word if word.isidentifier() else None


#: Parse tree kinds whose words are not their class name's.
_KIND_WORDS = {"SelectWithUnionQuery": "SELECT"}


def _statement_words(kind: str) -> str:
    """A parse tree kind in the words a user types: ``DropQuery`` is ``DROP``,
    ``KillQueryQuery`` ``KILL QUERY``, ``ShowTables`` ``SHOW TABLES``, ``SYSTEM`` (of
    ``SYSTEM query``) ``SYSTEM``: the class name's words, less a last ``Query``."""
    if kind in _KIND_WORDS:
        return _KIND_WORDS[kind]
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\b|$)|[A-Z][a-z]+|[a-z]+", kind)
    if len(words) > 1 and words[-1] == "Query":
        words.pop()
    return " ".join(words).upper()


def _statements(kinds: tuple[str, ...]) -> str:
    """``("DropQuery",)`` as "a DROP statement", ``("AlterQuery",)`` "an ALTER statement"."""
    phrases = []
    for kind in kinds:
        words = _statement_words(kind)
        article = "an" if words.startswith(tuple("AEIOU")) else "a"
        phrases.append(f"{article} {words} statement")
    return " and ".join(phrases)


def _explained(kinds: tuple[str, ...]) -> str:
    """The end of the refusal of an ``EXPLAIN`` of ``kinds``, not of one SELECT; an
    INSERT's says why even explaining it is not a read."""
    if not kinds:
        return "and this one explains no statement; nothing was changed"
    why = ""
    if "InsertQuery" in kinds:
        why = " (explaining an INSERT builds it, which can create or truncate the file it writes)"
    return f"not {_statements(kinds)}{why}; nothing was changed"


def _not_a_read(word: str) -> str:
    return f"{word} is not a read statement; only {ALLOWED} are allowed and nothing was changed"


def _own_format_refused() -> ReadOnlyQueryError:
    return _refused(
        "the query has its own FORMAT clause, but --format table and json print the "
        "rows themselves; drop the clause, or pass --format csv to print the engine's "
        "rendering as it is"
    )


def _refused(reason: str) -> ReadOnlyQueryError:
    return ReadOnlyQueryError(f"refused: {reason}")
