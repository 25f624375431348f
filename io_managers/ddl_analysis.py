"""What the warehouse set-up and the drift check read from a DDL statement.

Every command that opens the warehouse applies the code location's DDL
(:mod:`io_managers.ddl`) and reads the tables it declares (:mod:`io_managers.ddl_drift`):
which object each ``CREATE ... IF NOT EXISTS`` makes, whether it can be created beside
others, each ``CREATE TABLE``'s name and column types, and the columns each ``ALTER
TABLE`` adds, retypes, drops or renames (what the set-up does to a table that exists,
which ``status`` and ``plan`` foresee without applying it). sqlglot's ClickHouse parser
reads them: 17 ms for this project's 32 statements, plus importing sqlglot (~65 ms) in a
command that would not otherwise need it (``status``, ``plan``), on the single thread
that runs before anything else. The DDL rarely changes, so the facts of each statement
are kept in :mod:`io_managers.analysis_cache`, named by the statement's text: a command
whose DDL was read before neither parses it nor imports sqlglot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from io_managers.analysis_cache import cached
from io_managers.sql import DIALECT

if TYPE_CHECKING:
    from sqlglot import exp


#: What the catalog holds: ``("database", name)`` and ``("table", "db.name")`` (views too).
CatalogObject = tuple[str, str]

#: Engines whose tables read and write their own files only (besides the MergeTree family).
_LOCAL_ENGINES = frozenset({"Log", "TinyLog", "StripeLog", "Memory"})


@dataclass(frozen=True)
class DeclaredColumns:
    """A ``CREATE TABLE db.t (columns ...)``: its name, its columns, where its name is."""

    table: str
    #: Column -> type as sqlglot writes it in ClickHouse's dialect, in DDL order.
    columns: dict[str, str]
    #: Where ``database.table`` sits in the statement (start, end exclusive).
    name_span: tuple[int, int]


#: What an ALTER does to one column: ``add``, ``modify`` (its type), ``drop``, ``rename``.
ColumnAction = Literal["add", "modify", "drop", "rename"]


@dataclass(frozen=True)
class ColumnChange:
    """One column action of an ``ALTER TABLE``, as the set-up applies it to a table."""

    action: ColumnAction
    column: str
    #: ``add`` and ``modify``: the type (as sqlglot writes it); ``rename``: the new name.
    to: str = ""


@dataclass(frozen=True)
class AlteredColumns:
    """An ``ALTER TABLE db.t``'s column actions, in the statement's order."""

    table: str
    changes: tuple[ColumnChange, ...]


@dataclass(frozen=True)
class StatementFacts:
    """One DDL statement, as the set-up and the drift check need it."""

    #: The object a ``CREATE DATABASE|TABLE|VIEW IF NOT EXISTS`` makes; None for any
    #: other statement (including a CREATE of a table whose database is not named).
    created: CatalogObject | None = None
    #: ``CREATE TABLE db.t (columns) ENGINE = <local engine>``: it needs nothing but its
    #: database, so it can be created beside others like it.
    self_contained: bool = False
    #: A ``CREATE TABLE`` with its own column list (not ``AS other``), else None.
    declares: DeclaredColumns | None = None
    #: An ``ALTER TABLE db.t`` that changes columns, else None (any other ALTER too:
    #: ``DELETE``, a ``MODIFY`` sqlglot does not parse; neither is foreseen).
    alters: AlteredColumns | None = None
    #: Whether sqlglot parsed the statement: one it cannot may still create a table, so
    #: what the DDL creates cannot be told from its text.
    parsed: bool = True


@functools.lru_cache(maxsize=1024)
def statement_facts(statement: str) -> StatementFacts:
    """The facts of one statement, kept on disk; a statement sqlglot cannot parse has
    none (it is run as written and not compared)."""
    return cached(
        "ddl_statement_v2",  # v2: with ``parsed``
        statement,
        lambda: _read(statement),
        encode=_encode,
        decode=_decode,
    )


def _read(statement: str) -> StatementFacts:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(statement, dialect=DIALECT)
    except SqlglotError:
        return StatementFacts(parsed=False)
    if isinstance(tree, exp.Alter):
        return StatementFacts(alters=_altered_columns(tree))
    if not isinstance(tree, exp.Create):
        return StatementFacts()
    created = _created_if_missing(tree)
    return StatementFacts(
        created=created,
        self_contained=created is not None and _self_contained(tree),
        declares=_declared_columns(tree),
    )


def _created_if_missing(tree: exp.Create) -> CatalogObject | None:
    from sqlglot import exp

    if not tree.args.get("exists") or tree.args.get("replace"):
        return None
    kind = str(tree.kind).upper()
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if not isinstance(target, exp.Table) or not target.name:
        return None
    if kind in ("SCHEMA", "DATABASE"):
        return ("database", target.name)
    if kind in ("TABLE", "VIEW") and target.db:
        return ("table", f"{target.db}.{target.name}")
    return None


def _self_contained(tree: exp.Create) -> bool:
    from sqlglot import exp

    if str(tree.kind).upper() != "TABLE" or tree.expression is not None:
        return False
    engine = tree.find(exp.EngineProperty)
    if not isinstance(tree.this, exp.Schema) or engine is None:
        return False
    return engine.this.name in _LOCAL_ENGINES or engine.this.name.endswith("MergeTree")


def _declared_columns(tree: exp.Create) -> DeclaredColumns | None:
    from sqlglot import exp

    if str(tree.kind).upper() != "TABLE":
        return None
    schema = tree.this
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table):
        return None  # CREATE TABLE ... AS other: its columns are not declared here
    table = schema.this
    if not table.db:
        return None
    start = (table.args["db"].meta or {}).get("start")
    end = (table.args["this"].meta or {}).get("end")
    if start is None or end is None:
        return None
    columns = {
        column.name: column.args["kind"].sql(dialect=DIALECT)
        for column in schema.expressions
        if isinstance(column, exp.ColumnDef) and column.args.get("kind") is not None
    }
    return DeclaredColumns(f"{table.db}.{table.name}", columns, (start, end + 1))


def _altered_columns(tree: exp.Alter) -> AlteredColumns | None:
    """The column actions of an ``ALTER TABLE db.t``; None when it names no database or
    has none (with ``IF [NOT] EXISTS`` or without: the set-up runs it either way)."""
    from sqlglot import exp

    table = tree.this
    if str(tree.args.get("kind")).upper() != "TABLE" or not isinstance(table, exp.Table):
        return None
    if not table.db:
        return None
    changes = tuple(
        change for action in tree.args.get("actions") or [] for change in _column_changes(action)
    )
    return AlteredColumns(f"{table.db}.{table.name}", changes) if changes else None


def _column_changes(action: exp.Expression) -> list[ColumnChange]:
    """What one action of an ALTER does to columns: ``ADD COLUMN`` (a column definition),
    ``MODIFY COLUMN c Type``, ``DROP COLUMN``, ``RENAME COLUMN``; nothing for the rest."""
    from sqlglot import exp

    if isinstance(action, exp.ColumnDef) and action.args.get("kind") is not None:
        return [ColumnChange("add", action.name, action.args["kind"].sql(dialect=DIALECT))]
    if isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
        return [ColumnChange("modify", action.name, action.args["dtype"].sql(dialect=DIALECT))]
    if isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
        return [ColumnChange("drop", column.name) for column in action.args.get("tables") or []]
    if isinstance(action, exp.RenameColumn):
        return [ColumnChange("rename", action.this.name, action.args["to"].name)]
    return []


def column_offset(statement: str, column: str) -> int | None:
    """Where the definition of ``column`` starts in ``statement``, a ``CREATE TABLE``
    with its own column list (its name's first character, as sqlglot's parser read it);
    None when it declares no such column. Asked only when a finding names the column's
    line, so it is not kept."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(statement, dialect=DIALECT)
    except SqlglotError:
        return None
    schema = tree.this if isinstance(tree, exp.Create) else None
    if not isinstance(schema, exp.Schema):
        return None
    for definition in schema.expressions:
        if isinstance(definition, exp.ColumnDef) and definition.name == column:
            start = (definition.this.meta or {}).get("start")
            return start if isinstance(start, int) else None
    return None


def _encode(facts: StatementFacts) -> dict[str, Any]:
    declares, alters = facts.declares, facts.alters
    return {
        "created": list(facts.created) if facts.created else None,
        "self_contained": facts.self_contained,
        # Pairs, not an object: the columns' order is part of the answer.
        "declares": None
        if declares is None
        else [
            declares.table,
            [list(pair) for pair in declares.columns.items()],
            list(declares.name_span),
        ],
        "alters": None
        if alters is None
        else [alters.table, [[c.action, c.column, c.to] for c in alters.changes]],
        "parsed": facts.parsed,
    }


def _decode(kept: dict[str, Any]) -> StatementFacts:
    created, declares, alters = kept["created"], kept["declares"], kept["alters"]
    return StatementFacts(
        created=(created[0], created[1]) if created else None,
        self_contained=bool(kept["self_contained"]),
        declares=None
        if declares is None
        else DeclaredColumns(
            declares[0],
            {name: kind for name, kind in declares[1]},
            (declares[2][0], declares[2][1]),
        ),
        alters=None
        if alters is None
        else AlteredColumns(
            alters[0], tuple(ColumnChange(action, column, to) for action, column, to in alters[1])
        ),
        parsed=bool(kept["parsed"]),
    )
