"""An asset whose table its DDL does not create is refused before a run starts.

``pipeline validate`` says it (``[ddl] ... table is not created by the DDL``), but a run
on a warehouse that still held the table (its ``CREATE TABLE`` deleted from the DDL)
published into it, and ``status`` said only "code changed"; on a fresh warehouse the run
failed midway, after its upstream ran. So ``materialize`` and ``plan`` refuse such an
asset before anything runs (:func:`ddl_refusal`, called with the other refusals) and
``status`` says it beside the asset, in validate's words (:func:`not_created_by_ddl`).

Which tables the DDL creates is the IO manager's answer (``IOManager.declared_tables``,
the one validate checks the DDL's tables against the assets with): read from the DDL's
text, its facts kept on disk, never by applying it. An IO manager that reads no tables
from it (storage without definitions, or DDL that cannot be read, which its set-up then
reports) foresees nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from orchestration.asset import AssetSpec
from orchestration.asset_code import at, declaration_place
from orchestration.errors import ExpectedError, of_asset, shown_path
from orchestration.graph import AssetGraph
from orchestration.io_manager import IOManager

#: What validate finds, and materialize refuses, of an asset whose table the DDL lacks.
NOT_CREATED = "table is not created by the DDL"


def not_created_by_ddl(spec: AssetSpec) -> str:
    """:data:`NOT_CREATED`, after where ``spec`` is declared (which asset; where to add
    it is the DDL): validate's finding, and the cause of the refusal."""
    return at(declaration_place(spec), NOT_CREATED)


class TableNotInDdlError(ExpectedError):
    """Selected assets whose tables the code location's DDL does not create."""

    def __init__(self, specs: Sequence[AssetSpec], ddl: str) -> None:
        self.keys = tuple(spec.key for spec in specs)
        super().__init__(
            "; ".join(
                f"{of_asset(spec.key, spec.table)}{not_created_by_ddl(spec)} ({ddl}): "
                "add its CREATE TABLE there"
                for spec in specs
            )
        )


def tables_not_in_ddl(
    graph: AssetGraph, io_managers: Mapping[str, IOManager], specs: Iterable[AssetSpec]
) -> list[AssetSpec]:
    """Those of ``specs`` whose table the DDL of ``graph`` does not create, as their IO
    manager reads it; none when the graph names no DDL."""
    if not graph.ddl_paths:
        return []
    declared: dict[str, Mapping[str, object]] = {}
    missing = []
    for spec in specs:
        io_manager = io_managers.get(spec.io_manager)
        if io_manager is None:
            continue
        if spec.io_manager not in declared:
            declared[spec.io_manager] = io_manager.declared_tables(graph.ddl_paths)
        tables = declared[spec.io_manager]
        if tables and spec.table not in tables:
            missing.append(spec)
    return missing


def ddl_refusal(
    graph: AssetGraph, io_managers: Mapping[str, IOManager], specs: Iterable[AssetSpec]
) -> TableNotInDdlError | None:
    """What a run of ``specs`` is refused for when the DDL lacks some of their tables."""
    missing = tables_not_in_ddl(graph, io_managers, specs)
    if not missing:
        return None
    return TableNotInDdlError(missing, ", ".join(shown_path(path) for path in graph.ddl_paths))
