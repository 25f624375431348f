"""What a ClickHouse SELECT reads: its upstream tables, per output column its sources,
and every column it reads in any clause; and its normal form.

One parse with sqlglot's ClickHouse dialect serves these questions, so the asset graph
(which tables an asset reads), column lineage (which upstream columns each of its
columns is computed from) and impact analysis (which columns a SELECT or a check would
stop finding) can never disagree. The dialect is the warehouse's, so this
lives with the warehouse; the framework reaches it through ``IOManager.tables_read`` and
``IOManager.column_lineage`` and ``IOManager.columns_read``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope, traverse_scope
from sqlglot.schema import MappingSchema

from io_managers.sql import DIALECT
from orchestration.asset_code import line_and_col
from orchestration.io_manager import SqlAnalysisError, TableReads

#: Clauses that tune the engine or the output but never feed an output column.
_NON_LINEAGE_CLAUSES = ("settings", "format")
#: Functions that may read a table or a dictionary their arguments name, lower case: each
#: whose name starts so (``dictGet``, ``dictHas`` and the other dictionary functions,
#: ``joinGet``), and IN's function forms, whose set may be a table (``notIn(x, db.t)``).
_READERS_BY_NAME = ("dict", "joinget", "hascolumnintable")
_IN_FUNCTIONS = frozenset(
    f"{scope}{negation}{nulls}in"
    for scope in ("", "global")
    for negation in ("", "not")
    for nulls in ("", "null")
)


def parse_select(sql: str) -> exp.Query:
    """The one SELECT in ``sql`` as a sqlglot tree; :class:`SqlAnalysisError` otherwise."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except ParseError as exc:
        raise _parse_failure(sql, exc) from None
    except TokenError as exc:
        raise _token_failure(sql, exc) from None
    except SqlglotError as exc:
        raise SqlAnalysisError(f"SQL does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise SqlAnalysisError(f"expected one SELECT, found {len(statements)} statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise SqlAnalysisError(f"expected a SELECT, found {statement.key.upper()}")
    return statement


def _parse_failure(sql: str, exc: ParseError) -> SqlAnalysisError:
    """sqlglot's parse error about ``sql`` as its token (quoted), where that token begins
    in ``sql`` and what sqlglot says of it, from the error's fields. Its message gives the
    line and column of the token's last character and leaves the token to be found."""
    error = exc.errors[0] if exc.errors else {}
    token = error.get("highlight")
    if not isinstance(token, str) or not token.strip():
        return SqlAnalysisError(f"SQL does not parse: {_first_line(exc)}")
    # Its words about the token it got repeat the token, as sqlglot's repr of it.
    why = _in_sql_words(str(error.get("description") or "").partition(" but got <Token ")[0])
    why = f": {why}" if why else ""
    return _placed(sql, _token_start(sql, token, error.get("line"), error.get("col")), token, why)


def _in_sql_words(description: str) -> str:
    """sqlglot's ``Required keyword: 'expression' missing for <class '...core.Mod'>``
    as the SQL writes it: a reader wrote ``a %``, not a parse tree's class. An operator
    without its right side says ``'%' has no right-hand side`` (the operator as sqlglot's
    own generator prints it); another class is named by its SQL keyword."""
    lead, found, rest = description.partition(" missing for <class '")
    kind = getattr(exp, rest.partition("'>")[0].rsplit(".", 1)[-1], None) if found else None
    if not (isinstance(kind, type) and issubclass(kind, exp.Expression)):
        return description
    if issubclass(kind, exp.Binary) and lead.endswith("'expression'"):
        written = kind(this=exp.column("a"), expression=exp.column("b")).sql(dialect=DIALECT)
        if written.startswith("a ") and written.endswith(" b"):
            return f"{written[2:-2]!r} has no right-hand side"
    return f"{lead} missing for {kind.key.upper()}"


def _token_failure(sql: str, exc: TokenError) -> SqlAnalysisError:
    """sqlglot's tokenizer error about ``sql`` (a quote or a comment never closed) as a
    parse error is said: at the token it could not read, where that token starts.

    The error itself gives no such place: its ``start`` and ``end`` bound the text it
    quotes, 50 characters either side of where the tokenizer stopped (for an unclosed
    quote, the end of the SQL). The tokenizer knows it: the start of the token it was
    reading, kept in its state (``_core._start``, no public name) when it raised; so
    ``sql`` is tokenized once more, by a tokenizer of our own, and that offset read,
    checked to be a character of a token in ``sql``. Without it the error is unplaced.
    """
    tokenizer = Dialect.get_or_raise(DIALECT).tokenizer()
    try:
        tokenizer.tokenize(sql)
    except TokenError:
        start = getattr(getattr(tokenizer, "_core", None), "_start", None)
    else:  # it failed in the parser's tokenizer: say what that one said
        start = None
    if not isinstance(start, int) or not 0 <= start < len(sql) or sql[start].isspace():
        return SqlAnalysisError(f"SQL does not parse: {_first_line(exc)}")
    return _placed(sql, start, sql[start:].split(maxsplit=1)[0], ": unclosed quote or comment")


def _placed(sql: str, start: int | None, token: str, why: str) -> SqlAnalysisError:
    """``SQL does not parse at line L, col C, at 'token'`` and ``why`` (``: ...``), the
    token starting at offset ``start`` of ``sql`` (None: not found, so unplaced)."""
    placed = f"SQL does not parse at {token!r}{why}"
    if start is None:
        return SqlAnalysisError(placed)
    line, col = line_and_col(sql, start)
    return SqlAnalysisError(
        f"SQL does not parse at line {line}, col {col}, at {token!r}{why}",
        line=line,
        col=col,
        placed=placed,
    )


def _token_start(sql: str, token: str, line: object, col: object) -> int | None:
    """The offset in ``sql`` where ``token`` begins, given the 1-based line and column of
    its last character as sqlglot counts them; None when ``token`` is not there."""
    if not isinstance(line, int) or not isinstance(col, int) or line < 1:
        return None
    lines = sql.split("\n")
    if line > len(lines):
        return None
    end = sum(len(text) + 1 for text in lines[: line - 1]) + col
    start = end - len(token)
    return start if start >= 0 and sql[start:end] == token else None


@functools.lru_cache(maxsize=256)
def tables_read(sql: str) -> TableReads:
    """The tables and table functions a SELECT reads, each named once, sorted.

    Tables are ``database.table`` as written (ClickHouse names are case-sensitive), from
    every FROM, JOIN and subquery, including scalar and ``IN (SELECT ...)`` subqueries.
    Names of CTEs and aliases are not tables and are left out. Table functions
    (``numbers(10)``, ``url(...)``) are reported by function name in ``table_functions``:
    they read no table an asset could produce. A table without a database raises
    :class:`SqlAnalysisError`: which database it means depends on the session.

    Cached by the SQL's text: the graph, the code versions and the run's column lineage
    ask about the same SELECTs, and parsing is Python CPU the warehouse's work waits for.
    """
    return _tables_of(parse_select(sql))


@functools.lru_cache(maxsize=256)
def normalized_sql(sql: str) -> str:
    """The one SELECT in ``sql`` as the parser reads it, printed back: one space between
    tokens, no comments, keywords in upper case; identifiers and literals as written
    (ClickHouse names are case-sensitive). Two SELECTs that differ only in layout have
    the same normal form. :class:`SqlAnalysisError` when ``sql`` is no one SELECT.

    Cached by the SQL's text, as :func:`tables_read`: a run asks it of every check.
    """
    tree = parse_select(sql)
    try:
        return tree.sql(dialect=DIALECT, comments=False, unsupported_level=ErrorLevel.IGNORE)
    except SqlglotError as exc:
        raise SqlAnalysisError(f"SQL cannot be printed back: {_first_line(exc)}") from None


def compile_reads(sql: str) -> tuple[str, ...] | None:
    """Every table whose structure decides whether a SELECT compiles, sorted; None when
    some read is out of this analysis' sight, so the SELECT may depend on more.

    :func:`tables_read`'s tables, unless the SELECT also reads through a table function
    (``file()``, ``url()``: what they return is not in the catalog), a table as the set of
    ``x IN db.t``, or a function given a table's or a dictionary's name (``dictGet``,
    ``joinGet``): sqlglot sees none of those as a table.
    """
    tree = parse_select(sql)
    reads = _tables_of(tree)
    if reads.table_functions or any(_reads_out_of_sight(node) for node in tree.walk()):
        return None
    return reads.tables


def _reads_out_of_sight(node: exp.Expr) -> bool:
    if isinstance(node, exp.In):
        return node.args.get("field") is not None
    if not isinstance(node, exp.Func):
        return False
    name = _function_name(node).lower()
    return name.startswith(_READERS_BY_NAME) or name in _IN_FUNCTIONS


def _tables_of(tree: exp.Query) -> TableReads:
    tables: set[str] = set()
    functions: set[str] = set()
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue  # a CTE or a derived table: its own scope is visited too
            if not isinstance(source.this, exp.Identifier):
                functions.add(_function_name(source.this))
            elif not source.db:
                raise SqlAnalysisError(
                    f"table {source.name!r} has no database; write it as database.{source.name}"
                )
            else:
                tables.add(f"{source.db}.{source.name}")
    return TableReads(tables=tuple(sorted(tables)), table_functions=tuple(sorted(functions)))


def column_lineage(sql: str, columns_of: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """For each output column of a SELECT, the upstream columns its value is computed from.

    Contract (what the lineage display relies on):

    - keys are the SELECT's output column names, in output order (for ``UNION ALL``, the
      first branch's names; sources are merged over all branches by position);
    - each value is the sorted, distinct ``database.table.column`` names of upstream table
      columns the output column's expression reads, followed through CTEs, derived tables
      and aliases; ``*`` and unqualified columns are resolved with ``columns_of``;
    - a value is empty when no table column feeds the output: a literal, ``now()``,
      ``count()``, or a column of a table function;
    - ``columns_of`` maps every table the SELECT reads (``database.table``) to its column
      names; a table missing from it, a column no table has, or a ``*`` that cannot be
      expanded raises :class:`SqlAnalysisError` naming it, never a partial answer.

    Only what feeds the value counts: columns read by WHERE, JOIN ... ON, GROUP BY or
    ORDER BY alone are not sources of any output column.
    """
    tree = parse_select(sql)
    reads = _tables_of(tree)
    unknown = [table for table in reads.tables if table not in columns_of]
    if unknown:
        raise SqlAnalysisError(f"columns of {', '.join(unknown)} are not known")
    _drop_non_lineage_clauses(tree)
    schema = _schema(columns_of)
    try:
        qualified = qualify(
            tree, dialect=DIALECT, schema=schema, validate_qualify_columns=True, identify=False
        )
        # One scope serves every output column. The tree is ours: no copy; and the
        # per-node trimmed SELECTs (labels for sqlglot's HTML view) are never read here.
        scope = build_scope(qualified)
        nodes = lineage(
            None,
            qualified,
            schema=schema,
            dialect=DIALECT,
            scope=scope,
            copy=False,
            trim_selects=False,
        )
    except SqlglotError as exc:
        raise SqlAnalysisError(f"cannot resolve the SELECT's columns: {_first_line(exc)}") from None
    result: dict[str, tuple[str, ...]] = {}
    for name, node in nodes.items():
        if name == "*":
            raise SqlAnalysisError("a * in the SELECT cannot be expanded to columns")
        result[name] = tuple(sorted(_source_columns(node, columns_of)))
    return result


def columns_read(sql: str, columns_of: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Every ``database.table.column`` a SELECT reads, in any clause, sorted and distinct.

    Column lineage names what feeds each output value; a column read only by WHERE,
    JOIN ... ON or USING, GROUP BY, HAVING or ORDER BY feeds none, yet renaming it breaks
    the SELECT all the same. ``*`` reads every column of its tables. A ClickHouse scalar
    alias (``WITH (SELECT ...) AS name``) reads what its query reads; the name reads
    nothing. ``columns_of`` and the errors are :func:`column_lineage`'s.
    """
    tree = parse_select(sql)
    unknown = [table for table in _tables_of(tree).tables if table not in columns_of]
    if unknown:
        raise SqlAnalysisError(f"columns of {', '.join(unknown)} are not known")
    _drop_non_lineage_clauses(tree)
    queries: list[exp.Expr] = [tree, *_without_scalar_aliases(tree)]
    schema = _schema(columns_of)
    found: set[str] = set()
    try:
        for query in queries:
            qualified = qualify(
                query, dialect=DIALECT, schema=schema, validate_qualify_columns=True, identify=False
            )
            found.update(_columns_of_tables(qualified))
    except SqlglotError as exc:
        raise SqlAnalysisError(f"cannot resolve the SELECT's columns: {_first_line(exc)}") from None
    return tuple(sorted(found))


def _without_scalar_aliases(tree: exp.Query) -> list[exp.Expr]:
    """Take ``tree``'s ClickHouse scalar aliases (``WITH <expression> AS name``) out of it,
    each use of one becoming ``NULL``, and return the queries they named, to be read on
    their own: a standard resolver takes such a name for a column no table has."""
    with_ = tree.args.get("with_")
    scalars = [cte for cte in with_.expressions if cte.args.get("scalar")] if with_ else []
    if with_ is None or not scalars:
        return []
    names = {cte.alias for cte in scalars}
    for cte in scalars:
        cte.pop()
    if not with_.expressions:
        with_.pop()
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name in names:
            column.replace(exp.Null())
    return [query for cte in scalars for query in _outermost_queries(cte.this)]


def _outermost_queries(expression: exp.Expr) -> list[exp.Expr]:
    """The queries in ``expression`` that no other query of it holds."""
    return [
        query.unnest()
        for query in expression.find_all(exp.Query)
        if query.find_ancestor(exp.Query) is None
    ]


def _columns_of_tables(qualified: exp.Expr) -> set[str]:
    """The table columns each scope of a qualified query reads; a column of a CTE or a
    derived table is read, as a table's, inside that one's own scope."""
    found: set[str] = set()
    for scope in traverse_scope(qualified):
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                found.add(f"{source.db}.{source.name}.{column.name}")
    return found


def _drop_non_lineage_clauses(tree: exp.Query) -> None:
    """Remove SETTINGS, FORMAT and LIMIT ... BY, which choose rows or tune the engine.

    ClickHouse lets them name output aliases (``LIMIT 1 BY key, HASH_DIFF``) and parses
    ``SETTINGS name = value`` as comparisons; a resolver following standard SQL scoping
    would report those names as unknown columns, though they feed no output column.
    """
    for select in tree.find_all(exp.Select):
        for clause in _NON_LINEAGE_CLAUSES:
            select.set(clause, None)
        limit = select.args.get("limit")
        if isinstance(limit, exp.Limit) and limit.expressions:
            select.set("limit", None)


def _source_columns(node: Node, columns_of: Mapping[str, Sequence[str]]) -> set[str]:
    sources: set[str] = set()
    for step in node.walk():
        table = step.expression
        if not isinstance(table, exp.Table) or not isinstance(table.this, exp.Identifier):
            continue  # an intermediate expression, or a table function's column
        column = sqlglot.parse_one(step.name, into=exp.Column).name
        qualified = f"{table.db}.{table.name}"
        if column == "*" or column not in columns_of[qualified]:
            raise SqlAnalysisError(f"column {column!r} is not a column of {qualified}")
        sources.add(f"{qualified}.{column}")
    return sources


def _schema(columns_of: Mapping[str, Sequence[str]]) -> MappingSchema:
    """``columns_of`` as a sqlglot schema; column types do not matter for lineage."""
    schema = MappingSchema(dialect=DIALECT)
    for table, columns in columns_of.items():
        schema.add_table(table, dict.fromkeys(columns, "String"), dialect=DIALECT)
    return schema


def first_use(sql: str, name: str, *, function: bool = False) -> int | None:
    """The character offset in ``sql`` of its first use of ``name``, a column as the
    engine named one it could not resolve (``hub.Countree``: its parts as written, or
    ``Countri`` alone), or, with ``function``, a function the engine does not know; None
    when ``sql`` does not parse or uses no such name. For the line a compile error is at.
    """
    try:
        tree = parse_select(sql)
    except SqlAnalysisError:
        return None
    if function:
        found = [
            call.meta.get("start") for call in tree.find_all(exp.Anonymous) if call.name == name
        ]
    else:
        parts = name.split(".")
        found = [
            column.parts[0].meta.get("start")
            for column in tree.find_all(exp.Column)
            if [part.name for part in column.parts] == parts
        ]
    starts = [start for start in found if isinstance(start, int)]
    return min(starts) if starts else None


def _function_name(call: exp.Expr) -> str:
    if isinstance(call, exp.Anonymous):
        return str(call.this)
    return call.sql_name().lower() if isinstance(call, exp.Func) else call.key


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
