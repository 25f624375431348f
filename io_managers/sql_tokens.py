"""Where the statements of SQL text begin and end, and which keyword leads each, as
sqlglot's ClickHouse tokenizer reads it.

DDL files and users' queries carry ``;``, ``--`` and quotes inside string literals,
quoted identifiers, heredocs (``$$...$$``) and nested comments; only a real tokenizer
tells them apart. sqlglot's is the one this package already parses with
(:mod:`io_managers.read_only`, :mod:`io_managers.sql_analysis`), so a statement is split
the way it is later understood. Importing sqlglot costs ~0.1 s, which a command that only
opens the warehouse (``status``, ``plan``) or evaluates checks should not pay for text it
read before: with ``keep=True`` (a DDL file, an asset check: the same text in every
command) the split is kept on disk (:mod:`io_managers.analysis_cache`). A query that
differs from run to run (an asset's SELECT carries the run's load time) is split anew.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from io_managers.analysis_cache import cached
from io_managers.sql import DIALECT

#: Leading keywords of a query whose result columns ``DESCRIBE (...)`` can report.
_QUERY_KEYWORDS = frozenset({"SELECT", "WITH"})


class Statement(NamedTuple):
    """One statement as written (no comments around it) and the keyword it starts with."""

    text: str
    #: Its first token past opening parentheses, upper-cased (``SELECT``, ``WITH``, ...).
    keyword: str

    @property
    def is_query(self) -> bool:
        """A ``SELECT`` or ``WITH ... SELECT``: ``DESCRIBE (...)`` reports its columns."""
        return self.keyword in _QUERY_KEYWORDS


def split_statements(sql: str, *, keep: bool = False) -> list[str]:
    """The statements of a script, each from its first token to its last: comments around
    a statement and empty statements are dropped, comments inside it kept as written.
    ``keep``: the split is kept on disk for the next command that reads the same text.

    Raises ValueError when the text has an unclosed quote or comment.
    """
    return [statement.text for statement in _read(sql, keep)]


def one_statement(sql: str, what: str = "statement", *, keep: bool = False) -> Statement:
    """The one statement in ``sql``; ValueError naming ``what`` if it has none or more."""
    try:
        statements = _read(sql, keep)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if not statements:
        raise ValueError(f"{what} is empty")
    if len(statements) > 1:
        raise ValueError(f"{what} must be a single statement, found {len(statements)}")
    return statements[0]


def is_select(sql: str) -> bool:
    """Whether ``sql`` starts with a query (``SELECT`` or ``WITH``, past comments and
    opening parentheses); False for text that cannot be read as SQL."""
    try:
        statements = _statements(sql)
    except ValueError:
        return False
    return bool(statements) and statements[0].is_query


def _read(sql: str, keep: bool) -> tuple[Statement, ...]:
    return _kept_statements(sql) if keep else _statements(sql)


@functools.lru_cache(maxsize=256)
def _kept_statements(sql: str) -> tuple[Statement, ...]:
    return cached(
        "sql_statements",
        sql,
        lambda: _statements(sql),
        encode=lambda statements: [list(statement) for statement in statements],
        decode=lambda kept: tuple(Statement(text, keyword) for text, keyword in kept),
    )


@functools.lru_cache(maxsize=256)
def _statements(sql: str) -> tuple[Statement, ...]:
    """Cached in memory: a query's text is read before it runs, and again after it ran
    (:meth:`io_managers.clickhouse.ClickHouseIOManager.query_arrow`)."""
    from sqlglot import tokenize
    from sqlglot.errors import TokenError
    from sqlglot.tokens import TokenType

    try:
        tokens = tokenize(sql, dialect=DIALECT)
    except TokenError as exc:
        # sqlglot says "Error tokenizing '<the text around the spot>'": keep the text.
        where = str(exc).removeprefix("Error tokenizing ")
        raise ValueError(f"unclosed quote or comment near {where}") from None
    statements: list[Statement] = []
    run: list[tuple[int, int, str]] = []  # (start, end inclusive, token type) of a statement
    for token in tokens:
        if token.token_type != TokenType.SEMICOLON:
            run.append((token.start, token.end, token.token_type.name))
            continue
        if run:
            statements.append(_statement(sql, run))
        run = []
    if run:
        statements.append(_statement(sql, run))
    return tuple(statements)


def _statement(sql: str, run: list[tuple[int, int, str]]) -> Statement:
    keyword = next((kind for _, _, kind in run if kind != "L_PAREN"), "")
    return Statement(sql[run[0][0] : run[-1][1] + 1], keyword)
