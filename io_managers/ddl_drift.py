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

A DDL file may change a table that exists, after its ``CREATE TABLE``: ``ALTER TABLE ...
ADD COLUMN IF NOT EXISTS`` (``ddl/init.sql`` adds ``vault.sat_product.Priced`` so),
``MODIFY COLUMN``, ``DROP COLUMN IF EXISTS``, ``RENAME COLUMN IF EXISTS``. Every run's
set-up applies them before anything is written, so a run holds the table to its DDL as
they left it. ``status`` and ``plan`` apply nothing: they foresee each ALTER's effect on
the columns the table has now (:func:`foreseen_drift`), so a column the run adds is no
drift, and they can say what the run will change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from io_managers.ddl import ddl_files, ddl_statements
from io_managers.ddl_analysis import ColumnChange, statement_facts
from io_managers.errors import InsertOnlyDriftError, TypeDriftError
from io_managers.sql import quote_string
from io_managers.transport import Transport
from io_managers.types import ClickHouseType
from orchestration.context import DISCARD_HISTORY_OPTION
from orchestration.errors import CHANGING_A_TABLE
from orchestration.rerun import materialize_command, run_options


@dataclass(frozen=True)
class DeclaredTable:
    """One ``CREATE TABLE`` of the DDL: its statement as written and its column types."""

    table: str
    statement: str
    #: Column -> type as ClickHouse spells it (see the module docstring).
    columns: dict[str, str]
    #: Where ``database.table`` sits in ``statement``.
    name_span: tuple[int, int]
    #: What the DDL's ALTERs of the table do to its columns at every set-up, in the
    #: order the set-up runs them, each type as ClickHouse spells it.
    changes: tuple[ColumnChange, ...] = ()

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
    params: Mapping[str, Any] | None = None,
    *,
    insert_only: bool = False,
    planned: bool = False,
) -> TypeDriftError:
    """The one-line refusal: table, every drifted column with both types, the way out:
    the full refresh, with the options of the run given ``params`` (its source, which
    the rebuild must read too) as its ``Next:`` line passes them on
    (:func:`~orchestration.rerun.materialize_command`).

    An insert-only table may hold keys its upstream no longer has (earlier loads), which
    its full refresh drops: its refusal says so, names the way that keeps them, and gives
    the full refresh with ``--discard-history``, without which it would be refused for
    that very loss (:mod:`orchestration.discarded_history`).
    ``planned``: the same refusal foretold by a command that runs nothing (``plan``).
    """
    drifted = "; ".join(item.describe() for item in drift)
    outcome = "a run would refuse it" if planned else "nothing was written"
    found = f"has drifted from its DDL, so {outcome}: {drifted}"
    discard = f" {DISCARD_HISTORY_OPTION}" if insert_only else ""
    # Where the refused command acted: a run's worker threads see its typed options too.
    rebuild = materialize_command(
        f" --full-refresh{discard} --select {key}", run_options(params or {})
    )
    error = (
        InsertOnlyDriftError.for_asset(
            key,
            table,
            f"{found}. It is insert-only: {rebuild} rebuilds it from what its upstream holds "
            f"now, losing the keys only it kept; to keep them, ALTER it to the DDL instead "
            f"({CHANGING_A_TABLE})",
        )
        if insert_only
        else TypeDriftError.for_asset(
            key, table, f"{found}. Rebuild it from the DDL with: {rebuild}"
        )
    )
    error.drifted = drifted
    return error


def declared_tables(
    transport: Transport,
    ddl_paths: Sequence[Path | str],
    only: Collection[str] | None = None,
) -> dict[str, DeclaredTable]:
    """Every ``CREATE TABLE`` in the DDL files (``only`` those of these tables), by
    ``database.table``, with what the DDL's ALTERs change of it, types canonical (one
    query; none when no table is declared)."""
    creates, alters = _read_ddl(ddl_paths)
    found = [table for table in creates if only is None or table.table in only]
    changes = {table.table: alters.get(table.table, []) for table in found}
    spelled = _canonical_types(
        transport,
        [kind for table in found for kind in table.columns.values()]
        + [change.to for altered in changes.values() for change in altered if _typed(change)],
    )
    return {
        table.table: DeclaredTable(
            table.table,
            table.statement,
            {name: spelled[kind] for name, kind in table.columns.items()},
            table.name_span,
            tuple(_spelled_change(change, spelled) for change in changes[table.table]),
        )
        for table in found
    }


def declared_statements(ddl_paths: Sequence[Path | str]) -> dict[str, str]:
    """Every ``CREATE TABLE`` statement of the DDL files as written, by ``database.table``.

    What an asset's code version hashes as its table's definition: the code's, so an
    edited DDL makes the asset stale before any run, and a full refresh, which builds
    the table from this very statement, leaves it fresh. Needs no warehouse.
    """
    return {table.table: table.statement for table in _read_ddl(ddl_paths)[0]}


def type_drift(declared: DeclaredTable, actual: Mapping[str, ClickHouseType]) -> list[Drift]:
    """Columns whose types differ, in DDL order, then columns the DDL does not know."""
    return _drift(declared, _spelled_columns(actual))


def foreseen_drift(
    declared: DeclaredTable, actual: Mapping[str, ClickHouseType]
) -> tuple[list[Drift], list[ColumnChange]]:
    """:func:`type_drift` of the table as the next set-up leaves it, and the changes of
    the DDL's ALTERs that take effect on it, in order (none on a table set up already).

    Foreseen, not applied: what a command that only reads (``status``, ``plan``) needs
    to say what a run would refuse. A change takes effect where the engine makes it: an
    ADD of a column the table lacks, a MODIFY to another type, a DROP or RENAME of a
    column it has (a RENAME onto a name it has fails in the engine, and is left out).
    """
    columns = _spelled_columns(actual)
    applied = []
    for change in declared.changes:
        if _takes_effect(change, columns):
            _apply(change, columns)
            applied.append(change)
    return _drift(declared, columns), applied


def described_changes(changes: Sequence[ColumnChange]) -> str:
    """``adds column 'Priced' (UInt8), drops column 'note'``: what a set-up changes."""
    said = {
        "add": "adds column {column!r} ({to})",
        "modify": "changes column {column!r} to {to}",
        "drop": "drops column {column!r}",
        "rename": "renames column {column!r} to {to!r}",
    }
    return ", ".join(
        said[change.action].format(column=change.column, to=change.to) for change in changes
    )


def _drift(declared: DeclaredTable, actual: Mapping[str, str]) -> list[Drift]:
    drift = [
        Drift(name, kind, actual.get(name))
        for name, kind in declared.columns.items()
        if actual.get(name) != kind
    ]
    drift += [
        Drift(name, None, kind) for name, kind in actual.items() if name not in declared.columns
    ]
    return drift


def _spelled_columns(actual: Mapping[str, ClickHouseType]) -> dict[str, str]:
    return {name: _spelled(kind.text) for name, kind in actual.items()}


def _takes_effect(change: ColumnChange, columns: Mapping[str, str]) -> bool:
    present = change.column in columns
    if change.action == "add":
        return not present
    if change.action == "modify":
        return present and columns[change.column] != change.to
    if change.action == "rename":
        return present and change.to not in columns
    return present  # drop


def _apply(change: ColumnChange, columns: dict[str, str]) -> None:
    if change.action == "drop":
        del columns[change.column]
    elif change.action == "rename":
        columns[change.to] = columns.pop(change.column)
    else:  # add, modify
        columns[change.column] = change.to


def _typed(change: ColumnChange) -> bool:
    """Whether ``change.to`` is a type (not a new name)."""
    return change.action in ("add", "modify")


def _spelled_change(change: ColumnChange, spelled: Mapping[str, str]) -> ColumnChange:
    return dataclasses.replace(change, to=spelled[change.to]) if _typed(change) else change


def _read_ddl(
    ddl_paths: Sequence[Path | str],
) -> tuple[list[DeclaredTable], dict[str, list[ColumnChange]]]:
    """The DDL's ``CREATE TABLE``s (types as sqlglot writes them) and its ALTERs' column
    changes by table, in the order the set-up runs them. A statement sqlglot does not
    understand is neither compared nor foreseen."""
    creates: list[DeclaredTable] = []
    alters: dict[str, list[ColumnChange]] = {}
    for path in ddl_files(ddl_paths):
        for statement in ddl_statements(path):
            facts = statement_facts(statement)
            if (declares := facts.declares) is not None:
                creates.append(
                    DeclaredTable(declares.table, statement, declares.columns, declares.name_span)
                )
            if facts.alters is not None:
                alters.setdefault(facts.alters.table, []).extend(facts.alters.changes)
    return creates, alters


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
