"""The warehouse as a code location declares it: ``Definitions(io_managers=...)``.

The framework builds a code location's IO managers when it builds the asset graph, only
to ask which tables each SELECT reads. ``pipeline list`` must not start an embedded
engine, dial a server, or import the data stack (pandas, pyarrow: seconds) for that. So
the declared warehouse answers SQL analysis itself (:class:`ClickHouseDialect`) and opens the real
:class:`~io_managers.clickhouse.ClickHouseIOManager` the first time anything else is
asked of it, once, even when several threads ask at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from io_managers.config import WarehouseConfig, load_config
from io_managers.dialect import ClickHouseDialect
from orchestration.io_manager import (
    IOManager,
    KeptRows,
    MaterializeResult,
    OffendingRows,
    QueryText,
    TableOutlook,
)

#: Where the embedded engine keeps its databases' definitions, made with the first
#: database: a directory without it holds no table and no history (nothing was ever
#: materialized there), even if the directory exists.
EMBEDDED_LAYOUT = "metadata"

if TYPE_CHECKING:
    import pandas as pd

    from io_managers.clickhouse import ClickHouseIOManager
    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext
    from orchestration.history import MaterializationHistory


def warehouse_io_manager(location: str | None = None) -> DeclaredWarehouse:
    """The configured warehouse, opened on first use (the factory code locations declare).

    ``location`` overrides the configuration (the CLI's ``--warehouse``); see
    :func:`io_managers.config.load_config` for the forms and the environment fallbacks.
    """
    return DeclaredWarehouse(load_config(location))


class DeclaredWarehouse(ClickHouseDialect, IOManager):
    """Stands for ``ClickHouseIOManager.from_config(config)`` until storage is needed."""

    def __init__(self, config: WarehouseConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._opened: ClickHouseIOManager | None = None
        #: The DDL :meth:`declare` was given, handed to the warehouse when it opens.
        self._ddl_paths: Sequence[Path] = ()

    def __repr__(self) -> str:
        return f"DeclaredWarehouse({self.config.redacted_url})"

    def location(self) -> str | None:
        """The configured location as it may be shown (:attr:`WarehouseConfig.shown_url`)."""
        return self.config.shown_url

    def warehouse(self) -> ClickHouseIOManager:
        """The real IO manager, opened now if it is not yet."""
        with self._lock:
            if self._opened is None:
                from io_managers.clickhouse import ClickHouseIOManager  # the data stack

                self._opened = ClickHouseIOManager.from_config(self.config)
                self._opened.declare(self._ddl_paths)
            return self._opened

    def missing_storage(self) -> str | None:
        """``"no warehouse at PATH"`` when the embedded warehouse's directory holds none;
        a server is never missing (it is there or unreachable, which a read then says)."""
        if self.config.backend != "embedded" or self.config.path is None:
            return None
        with self._lock:
            if self._opened is not None:  # opened: set up by this process, or read
                return None
        if (self.config.path / EMBEDDED_LAYOUT).is_dir():
            return None
        return f"no warehouse at {self.config.path}"

    def reach(self) -> None:
        """Connect to a server now; an embedded warehouse is left unopened (chdb would
        hold its directory in this process, which only waits for the runs)."""
        if self.config.backend != "embedded":
            self.warehouse()

    def open_scratch(self, path: Path) -> ClickHouseIOManager:
        from io_managers.clickhouse import ClickHouseIOManager

        return ClickHouseIOManager.embedded(path)

    def declare(self, ddl_paths: Sequence[Path]) -> None:
        """Kept for the warehouse, which is not opened for it (a read may find none)."""
        with self._lock:
            self._ddl_paths = tuple(ddl_paths)
            opened = self._opened
        if opened is not None:
            opened.declare(ddl_paths)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, None
        if opened is not None:
            opened.close()

    # ----------------------------------------------------------- the real warehouse's

    def asset_uri(self, table: str) -> str:
        return self.warehouse().asset_uri(table)

    def setup(self, ddl_paths: Sequence[Path]) -> int:
        return self.warehouse().setup(ddl_paths)

    def hold_run_lock(
        self,
        *,
        flow_run_id: str | None = None,
        break_held: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> AbstractContextManager[None]:
        return self.warehouse().hold_run_lock(
            flow_run_id=flow_run_id, break_held=break_held, warn=warn
        )

    def stop_publishing(self, timeout: float) -> list[str]:
        with self._lock:
            opened = self._opened
        return opened.stop_publishing(timeout) if opened is not None else []

    def stop(self, timeout: float) -> list[str]:
        with self._lock:
            opened = self._opened
        return opened.stop(timeout) if opened is not None else []  # unopened: nothing ran

    def table_exists(self, table: str) -> bool:
        return self.warehouse().table_exists(table)

    def describe(self, table: str) -> list[tuple[str, str]]:
        return self.warehouse().describe(table)

    def describe_tables(self, tables: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        return self.warehouse().describe_tables(tables)

    def row_counts(self, tables: Collection[str]) -> dict[str, int]:
        return self.warehouse().row_counts(tables)

    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        return self.warehouse().materialize(spec, context, before_publish=before_publish)

    def unpublished_select(
        self, spec: AssetSpec, select: str, *, full_refresh: bool = False
    ) -> str | None:
        return self.warehouse().unpublished_select(spec, select, full_refresh=full_refresh)

    def query_arrow(self, sql: str) -> Any:
        return self.warehouse().query_arrow(sql)

    def query_df(self, sql: str) -> pd.DataFrame:
        """Asset bodies read their upstream through ``context.io_manager``, which is this
        object: the documented reads (docs/warehouse.md, "Reading") must work here too."""
        return self.warehouse().query_df(sql)

    def offending_rows(
        self, check_sql: str, table: str, examples: int, tally: str | None = None
    ) -> OffendingRows:
        return self.warehouse().offending_rows(check_sql, table, examples, tally)

    def uncompiled_checks(self, spec: AssetSpec) -> dict[str, str]:
        return self.warehouse().uncompiled_checks(spec)

    def read_only_text(
        self, sql: str, allow_external: bool = False, *, max_rows: int | None = None
    ) -> QueryText:
        return self.warehouse().read_only_text(sql, allow_external, max_rows=max_rows)

    def read_only_raw(self, sql: str, fmt: str, allow_external: bool = False) -> bytes:
        return self.warehouse().read_only_raw(sql, fmt, allow_external)

    def read_only_stream(
        self, sql: str, fmt: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        return self.warehouse().read_only_stream(sql, fmt, allow_external)

    def read_only_json(
        self, sql: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        return self.warehouse().read_only_json(sql, allow_external)

    def history(self) -> MaterializationHistory | None:
        return self.warehouse().history()

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        return self.warehouse().table_definitions(tables)

    def table_outlook(
        self, specs: Sequence[AssetSpec], params: Mapping[str, Any] | None = None
    ) -> dict[str, TableOutlook]:
        return self.warehouse().table_outlook(specs, params)

    def rows_a_rebuild_loses(
        self, table: str, unique_key: Sequence[str], select: str | None
    ) -> KeptRows:
        return self.warehouse().rows_a_rebuild_loses(table, unique_key, select)
