"""Storage that does not exist yet, as the commands that only read see it.

Opening an IO manager's storage may create it (the embedded warehouse makes its
directory), and its ``setup`` applies the DDL. A command that only reads must do
neither: a mistyped ``--warehouse`` would silently become a new, empty warehouse, and a
read would write to disk. So :meth:`Definitions.read_io_managers` hands such commands a
:class:`MissingStorage` in place of an IO manager whose storage is missing
(:meth:`IOManager.missing_storage`). It reads as what it is - no tables and no history,
so ``status`` and ``plan`` can still say every asset is missing before the first run -
and anything that needs the storage itself (a query, a check, a table's columns) raises
:class:`StorageMissingError` instead of touching it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.errors import ExpectedError, Place
from orchestration.history import AssetHistory, MaterializationHistory, MaterializationRecord
from orchestration.io_manager import (
    IOManager,
    KeptRows,
    MaterializeResult,
    OffendingRows,
    QueryText,
    TableOutlook,
    TableReads,
)

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext
    from orchestration.findings import Finding
    from orchestration.graph import AssetGraph

#: What a reader is told after the storage's own words ("no warehouse at PATH").
NOTHING_THERE = "nothing has been materialized there; check --warehouse"


class StorageMissingError(ExpectedError, LookupError):
    """A command that only reads needs storage that does not exist; nothing was created."""


def missing_error(missing: str) -> StorageMissingError:
    """The one line a read of missing storage fails with."""
    return StorageMissingError(f"{missing} ({NOTHING_THERE})")


class _NoHistory(MaterializationHistory):
    """The history of storage that does not exist: nothing was ever recorded there."""

    def __init__(self, missing: str) -> None:
        self._missing = missing

    def record(self, record: MaterializationRecord) -> None:
        raise missing_error(self._missing)

    def latest(self, tables: Mapping[str, str]) -> dict[str, AssetHistory]:
        return {}


class MissingStorage(IOManager):
    """Stands, in a command that only reads, for an IO manager whose storage is missing.

    It holds no table and no history; SQL analysis, which needs no storage, is the IO
    manager's own. Everything else raises :class:`StorageMissingError`.
    """

    def __init__(self, io_manager: IOManager, missing: str) -> None:
        self.io_manager = io_manager
        #: The storage's own words: ``"no warehouse at /srv/wh"``.
        self.missing = missing

    def __repr__(self) -> str:
        return f"MissingStorage({self.io_manager!r}: {self.missing})"

    def _refuse(self) -> StorageMissingError:
        return missing_error(self.missing)

    # ----------------------------------------------------------- empty, as it is

    def table_exists(self, table: str) -> bool:
        return False

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        return {}

    def history(self) -> MaterializationHistory:
        return _NoHistory(self.missing)

    def table_outlook(
        self, specs: Sequence[AssetSpec], params: Mapping[str, Any] | None = None
    ) -> dict[str, TableOutlook]:
        return {}  # no table, so none that drifted or that a set-up changes

    def rows_a_rebuild_loses(
        self, table: str, unique_key: Sequence[str], select: str | None
    ) -> KeptRows:
        return KeptRows(lost=0, held=0)  # no table, so nothing kept

    def missing_storage(self) -> str:
        return self.missing

    def close(self) -> None:
        self.io_manager.close()

    # ----------------------------------------------------------- no storage needed

    def declare(self, ddl_paths: Sequence[Path]) -> None:
        self.io_manager.declare(ddl_paths)

    def tables_read(self, sql: str) -> TableReads:
        return self.io_manager.tables_read(sql)

    def column_lineage(
        self, sql: str, columns_of: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[str, ...]]:
        return self.io_manager.column_lineage(sql, columns_of)

    def location(self) -> str | None:
        return self.io_manager.location()

    def declared_tables(self, ddl_paths: Sequence[Path]) -> Mapping[str, Place]:
        return self.io_manager.declared_tables(ddl_paths)

    def check_definitions(
        self,
        graph: AssetGraph,
        ddl_paths: Sequence[Path],
        sample_params: Mapping[str, Any] | None = None,
    ) -> list[Finding]:
        return self.io_manager.check_definitions(graph, ddl_paths, sample_params)

    # ----------------------------------------------------------- the storage itself

    def asset_uri(self, table: str) -> str:
        raise self._refuse()

    def setup(self, ddl_paths: Sequence[Path]) -> int | None:
        raise self._refuse()

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        raise self._refuse()

    def describe(self, table: str) -> list[tuple[str, str]]:
        raise self._refuse()

    def query_arrow(self, sql: str) -> Any:
        raise self._refuse()

    def query_df(self, sql: str) -> pd.DataFrame:
        raise self._refuse()

    def offending_rows(
        self, check_sql: str, table: str, examples: int, tally: str | None = None
    ) -> OffendingRows:
        raise self._refuse()

    def read_only_text(
        self, sql: str, allow_external: bool = False, *, max_rows: int | None = None
    ) -> QueryText:
        raise self._refuse()

    def read_only_raw(self, sql: str, fmt: str, allow_external: bool = False) -> bytes:
        raise self._refuse()

    def read_only_json(
        self, sql: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        raise self._refuse()


def for_reading(io_manager: IOManager) -> IOManager:
    """``io_manager`` itself when its storage exists, else a :class:`MissingStorage`."""
    missing = io_manager.missing_storage()
    return io_manager if missing is None else MissingStorage(io_manager, missing)


def missing_storage(io_managers: Mapping[str, IOManager]) -> list[str]:
    """What is missing of the storage of ``io_managers``, one phrase per IO manager."""
    return [
        missing
        for io_manager in io_managers.values()
        if (missing := io_manager.missing_storage()) is not None
    ]


def require_storage(io_managers: Mapping[str, IOManager]) -> None:
    """Raise :class:`StorageMissingError` unless all the storage exists: for a command
    whose every answer comes from it (``checks``, column lineage)."""
    missing = missing_storage(io_managers)
    if missing:
        raise missing_error("; ".join(missing))
