"""The tables a code location's DDL declares, and how a published table drifted from them.

``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is, so a column narrowed
by hand (``Int32`` -> ``Int8``) survives every setup; staging tables copy the target's
structure, validation says the narrower type "fits" the schema, and ``INSERT ... SELECT``
wraps 300 into 44. So before anything is written, the target's physical column types
are compared with the DDL's, exactly.

sqlglot's ClickHouse dialect finds each ``CREATE TABLE``, its name and its columns; the
engine itself spells each declared type the way ``DESCRIBE`` does
(``toTypeName(defaultValueOfTypeName(type))``: ``DATE`` -> ``Date``, ``Decimal32(2)``
-> ``Decimal(9, 2)``), so only real differences count. The statement is kept as
written: a full refresh creates its new table from it with only the name changed (cut
at the name's position in the text), never from a regenerated statement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from io_managers.ddl import ddl_files, ddl_statements
from io_managers.ddl_analysis import statement_facts
from io_managers.errors import InsertOnlyDriftError, TypeDriftError
from io_managers.sql import quote_string
from io_managers.transport import Transport
from io_managers.types import ClickHouseType
from orchestration.context import DISCARD_HISTORY_OPTION
from orchestration.errors import CHANGING_A_TABLE
from orchestration.typed_options import carried


@dataclass(frozen=True)
class DeclaredTable:
    """One ``CREATE TABLE`` of the DDL: its statement as written and its column types."""

    table: str
    statement: str
    #: Column -> type as ClickHouse spells it (see the module docstring).
    columns: dict[str, str]
    #: Where ``database.table`` sits in ``statement``.
    name_span: tuple[int, int]

    def create_named(self, quoted_name: str) -> str:
        """The DDL's own statement, creating ``quoted_name`` instead of the table."""
        start, end = self.name_span
        return self.statement[:start] + quoted_name + self.statement[end:]


@dataclass(frozen=True)
class Drift:
    """One column whose physical type differs from the DDL (``None``: not there)."""

    column: str
    declared: str | None
    actual: str | None

    def describe(self) -> str:
        column = f"column {self.column!r}"
        if self.actual is None:
            return f"{column} is missing in the warehouse ({self.declared} in the DDL)"
        if self.declared is None:
            return f"{column} ({self.actual}) is in the warehouse but not in the DDL"
        return (
            f"column {self.column!r} is {self.actual} in the warehouse but {self.declared} "
            "in the DDL"
        )


def drift_error(
    key: str,
    table: str,
    drift: Sequence[Drift],
    *,
    insert_only: bool = False,
    planned: bool = False,
) -> TypeDriftError:
    """The one-line refusal: table, every drifted column with both types, the way out.

    An insert-only table may hold keys its upstream no longer has (earlier loads), which
    its full refresh drops: its refusal says so, names the way that keeps them, and gives
    the full refresh with ``--discard-history``, without which it would be refused for
    that very loss (:mod:`orchestration.discarded_history`).
    ``planned``: the same refusal foretold by a command that runs nothing (``plan``).
    """
    drifted = "; ".join(item.describe() for item in drift)
    outcome = "a run would refuse it" if planned else "nothing was written"
    found = f"asset {key!r} (table {table}) has drifted from its DDL, so {outcome}: {drifted}"
    discard = f" {DISCARD_HISTORY_OPTION}" if insert_only else ""
    # Where the refused command acted: a run's worker threads see its typed options too.
    rebuild = carried(f"pipeline materialize --full-refresh{discard} --select {key}")
    error = (
        InsertOnlyDriftError(
            f"{found}. It is insert-only: {rebuild} rebuilds it from what its upstream holds "
            f"now, losing the keys only it kept; to keep them, ALTER it to the DDL instead "
            f"({CHANGING_A_TABLE})"
        )
        if insert_only
        else TypeDriftError(f"{found}. Rebuild it from the DDL with: {rebuild}")
    )
    error.drifted = drifted
    return error


def declared_tables(
    transport: Transport,
    ddl_paths: Sequence[Path | str],
    only: Collection[str] | None = None,
) -> dict[str, DeclaredTable]:
    """Every ``CREATE TABLE`` in the DDL files (``only`` those of these tables), by
    ``database.table``, types canonical (one query; none when no table is declared)."""
    found = [
        table
        for path in ddl_files(ddl_paths)
        for table in _creates(ddl_statements(path))
        if only is None or table.table in only
    ]
    spelled = _canonical_types(transport, [t for table in found for t in table.columns.values()])
    return {
        table.table: DeclaredTable(
            table.table,
            table.statement,
            {name: spelled[kind] for name, kind in table.columns.items()},
            table.name_span,
        )
        for table in found
    }


def declared_statements(ddl_paths: Sequence[Path | str]) -> dict[str, str]:
    """Every ``CREATE TABLE`` statement of the DDL files as written, by ``database.table``.

    What an asset's code version hashes as its table's definition: the code's, so an
    edited DDL makes the asset stale before any run, and a full refresh, which builds
    the table from this very statement, leaves it fresh. Needs no warehouse.
    """
    return {
        table.table: table.statement
        for path in ddl_files(ddl_paths)
        for table in _creates(ddl_statements(path))
    }


def type_drift(declared: DeclaredTable, actual: Mapping[str, ClickHouseType]) -> list[Drift]:
    """Columns whose types differ, in DDL order, then columns the DDL does not know."""
    drift = [
        Drift(name, kind, _spelled(actual[name].text) if name in actual else None)
        for name, kind in declared.columns.items()
        if name not in actual or _spelled(actual[name].text) != kind
    ]
    drift += [
        Drift(name, None, _spelled(kind.text))
        for name, kind in actual.items()
        if name not in declared.columns
    ]
    return drift


def _creates(statements: Iterable[str]) -> Iterable[DeclaredTable]:
    for statement in statements:
        # None: not a CREATE TABLE with its own columns that sqlglot understands; not compared.
        declares = statement_facts(statement).declares
        if declares is not None:
            yield DeclaredTable(declares.table, statement, declares.columns, declares.name_span)


def _canonical_types(transport: Transport, kinds: Sequence[str]) -> dict[str, str]:
    """Each type as the engine spells it, in one query."""
    unique = sorted(set(kinds))
    if not unique:
        return {}
    selected = ", ".join(
        f"toTypeName(defaultValueOfTypeName({quote_string(kind)})) AS t{number}"
        for number, kind in enumerate(unique)
    )
    row = transport.query_arrow(f"SELECT {selected}").to_pylist()[0]
    return {kind: _spelled(row[f"t{number}"]) for number, kind in enumerate(unique)}


def _spelled(kind: str) -> str:
    """One spelling per type: ClickHouse breaks long Tuple types over lines."""
    return " ".join(kind.split()).replace("( ", "(")
