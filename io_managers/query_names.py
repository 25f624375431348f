"""A name in a user's query (``pipeline query``) that the warehouse does not know, said
in the warehouse's terms: a statement, a table, a column.

The engine's refusal is written for its own log. ``SELEC 1`` is an implicit SELECT of an
expression ``SELEC`` to it, so its syntax error points past the typo, at ``1``, and lists
the ~60 tokens it could have taken there; an unknown table is a sentence that guesses
from every database (``system.one``) and quotes the query back; an unknown column names
neither the tables it was looked for in nor, most often, a guess. So, on those refusals
only, the line is said here instead, and the engine's words stay whole for ``--verbose``:

* a statement whose first word (sqlglot's tokenizer finds it, past comments) is none of
  the engine's own keywords (``system.keywords``) is an unknown statement, with the read
  statements close to it;
* a table the query reads (sqlglot's parse names them) that ``system.tables`` does not
  hold is named, with the warehouse's tables close to it;
* a column is named with the tables the query reads and the columns of theirs
  (``system.columns``) close to it, when every source of the query is such a table.

Which refusal it is comes from the engine's error code, not its wording; only the unknown
column's name is read from the message (:func:`io_managers.select_syntax.unknown_column`).
When any of this cannot be told (sqlglot does not parse the query, the engine's lists
cannot be read), the engine's own sentence stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from io_managers.errors import WarehouseQueryError
from io_managers.select_syntax import unknown_column
from io_managers.sql import DIALECT, quote_string
from io_managers.transport import Transport
from orchestration.asset_code import line_and_col
from orchestration.errors import did_you_mean

#: What a read statement starts with: the only statements ``pipeline query`` runs.
ALLOWED = "SELECT, WITH, SHOW, DESCRIBE or EXPLAIN"
#: Statements sqlglot keeps as opaque commands that are reads.
READ_COMMANDS = frozenset({"SHOW", "EXPLAIN", "DESCRIBE", "DESC"})
#: First words of a read: a statement starting otherwise is refused as a write by name.
READ_WORDS = frozenset({"SELECT", "WITH", "FROM"}) | READ_COMMANDS
#: ClickHouse's error codes of the refusals said here.
UNKNOWN_IDENTIFIER = 47
UNKNOWN_TABLE = 60
SYNTAX_ERROR = 62
UNKNOWN_DATABASE = 81
#: The engine's own databases: a guess from them is noise unless the query reads one.
_SYSTEM_DATABASES = frozenset({"system", "INFORMATION_SCHEMA", "information_schema"})


@dataclass(frozen=True)
class QueryNames:
    """A user's query ``sql`` as run on ``transport``'s session at ``readonly = level``."""

    transport: Transport
    sql: str
    level: int

    def mistake(self, error: WarehouseQueryError) -> str | None:
        """The one line for the engine's refusal ``error`` of the query, when it is about
        a name the warehouse does not know; None to keep the engine's own words."""
        try:
            if error.code == SYNTAX_ERROR:
                return self._unknown_statement()
            if error.code in (UNKNOWN_TABLE, UNKNOWN_DATABASE):
                return self._unknown_table()
            if error.code == UNKNOWN_IDENTIFIER:
                return self._unknown_statement() or self._unknown_column(str(error))
        except (SqlglotError, WarehouseQueryError):
            return None  # the query or the engine's lists cannot be read: its words stand
        return None

    def _unknown_statement(self) -> str | None:
        """``unknown statement 'SELEC' at line 1, col 1: ...``, if the first word is none
        of the engine's keywords (an implicit SELECT of a name, to the engine)."""
        tokens = sqlglot.tokenize(self.sql, dialect=DIALECT)
        if not tokens or tokens[0].token_type is not TokenType.VAR:
            return None
        first = tokens[0]
        keywords = self.transport.query_arrow(
            "SELECT DISTINCT splitByChar(' ', keyword)[1] AS word FROM system.keywords",
            readonly=self.level,
        ).column(0)
        if first.text.upper() in set(keywords.to_pylist()):
            return None
        line, col = line_and_col(self.sql, first.start)
        return (
            f"unknown statement {first.text!r} at line {line}, col {col}: a read starts "
            f"with {ALLOWED}" + did_you_mean(first.text.upper(), sorted(READ_WORDS))
        )

    def _unknown_table(self) -> str | None:
        """``table shop.salez does not exist; did you mean shop.sales?`` for the first
        table the query reads that the warehouse does not hold."""
        tables = _tables(sqlglot.parse_one(self.sql, dialect=DIALECT))
        if not tables:
            return None
        rows = self.transport.query_arrow(
            "SELECT database, name, currentDatabase() AS current FROM system.tables",
            readonly=self.level,
        ).to_pylist()
        current = rows[0]["current"] if rows else "default"
        held = {(row["database"], row["name"]) for row in rows}
        for table in tables:
            database = table.db or current
            if (database, table.name) in held:
                continue
            if not table.db:
                where = f" in database {current}"
            elif all(database != held_database for held_database, _ in held):
                where = f" (there is no database {database})"
            else:
                where = ""
            known = sorted(
                f"{db}.{name}" for db, name in held if db not in _SYSTEM_DATABASES or db == database
            )
            written = _written(table)
            # The closest one: difflib finds shop.archive close to shop.salez too.
            return f"table {written} does not exist{where}" + did_you_mean(written, known, n=1)
        return None

    def _unknown_column(self, message: str) -> str | None:
        """``column s.contry is not in shop.sales; did you mean s.country?``: the tables
        the name was looked for in (those its qualifier names, else all the query reads)
        and their columns close to it. None unless the query reads tables only (a
        subquery's or a CTE's columns are not in ``system.columns``)."""
        name = unknown_column(message)
        tree = sqlglot.parse_one(self.sql, dialect=DIALECT)
        tables = _tables(tree)
        sources = list(tree.find_all(exp.Table, exp.Subquery, exp.CTE))
        if name is None or not tables or len(sources) > len(tables):
            return None
        qualifier, _, _ = name.rpartition(".")
        named = [t for t in tables if qualifier in (t.alias_or_name, _written(t))]
        scope = named if qualifier and named else tables
        pairs = ", ".join(
            f"({quote_string(t.db) if t.db else 'currentDatabase()'}, {quote_string(t.name)})"
            for t in scope
        )
        rows = self.transport.query_arrow(
            "SELECT database, table, name, currentDatabase() AS current FROM system.columns "
            f"WHERE (database, table) IN ({pairs})",
            readonly=self.level,
        ).to_pylist()
        prefix = f"{qualifier}." if qualifier else ""
        columns = sorted({prefix + row["name"] for row in rows})
        written = ", ".join(_written(t) for t in scope)
        where = f"is not in {written}" if len(scope) == 1 else f"is in none of {written}"
        return f"column {name} {where}" + did_you_mean(name, columns)


def _tables(tree: exp.Expr) -> list[exp.Table]:
    """The warehouse tables ``tree`` reads, in its order: not a table function, not a
    CTE's name."""
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return [
        table
        for table in tree.find_all(exp.Table)
        if isinstance(table.this, exp.Identifier) and (table.db or table.name not in ctes)
    ]


def _written(table: exp.Table) -> str:
    """The table's name as the query wrote it: ``shop.sales`` or ``sales``."""
    return f"{table.db}.{table.name}" if table.db else table.name
