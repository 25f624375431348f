"""What every ClickHouse IO manager answers without touching storage.

Which tables a SELECT reads, its column lineage, every column it reads, its normal form,
and ``pipeline validate``'s schema check (which runs in a throwaway embedded warehouse)
need no connection, so the opened :class:`~io_managers.clickhouse.ClickHouseIOManager`
and the declared, not yet opened :class:`~io_managers.declared.DeclaredWarehouse` share
them from here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from io_managers.analysis_cache import cached

if TYPE_CHECKING:
    from io_managers.clickhouse import ClickHouseIOManager
    from orchestration.errors import Place
    from orchestration.findings import Finding
    from orchestration.graph import AssetGraph
    from orchestration.io_manager import TableReads


class ClickHouseDialect(ABC):
    """The storage-free part of the IO manager interface, in ClickHouse's terms.

    Imports are deferred: sqlglot (~0.3 s) loads with the first analysis not answered
    from :mod:`io_managers.analysis_cache`, and the data stack only for a schema check,
    not with every command.
    """

    def tables_read(self, sql: str) -> TableReads:
        from orchestration.io_manager import TableReads

        def answer() -> TableReads:
            from io_managers import sql_analysis

            return sql_analysis.tables_read(sql)

        return cached(
            "tables_read",
            sql,
            answer,
            encode=lambda reads: [list(reads.tables), list(reads.table_functions)],
            decode=lambda kept: TableReads(tables=tuple(kept[0]), table_functions=tuple(kept[1])),
        )

    def compile_reads(self, sql: str) -> tuple[str, ...] | None:
        """The tables whose structure decides whether ``sql`` compiles; None when it may
        read more than analysis sees (:func:`io_managers.sql_analysis.compile_reads`)."""

        def answer() -> tuple[str, ...] | None:
            from io_managers import sql_analysis

            return sql_analysis.compile_reads(sql)

        return cached(
            "compile_reads",
            sql,
            answer,
            encode=lambda tables: None if tables is None else list(tables),
            decode=lambda kept: None if kept is None else tuple(kept),
        )

    def normalized_sql(self, sql: str) -> str:
        """``sql``'s SELECT without its layout (:func:`io_managers.sql_analysis.normalized_sql`)."""

        def answer() -> str:
            from io_managers import sql_analysis

            return sql_analysis.normalized_sql(sql)

        return cached("normalized_sql", sql, answer, encode=str, decode=str)

    def read_only_options(self, sql: str) -> tuple[str, ...]:
        """``--allow-external`` for a read that carries its own ``SETTINGS`` (the default
        ``readonly = 1`` session refuses them, :mod:`io_managers.read_only`); none for
        any other, or for text that is no one read (``pipeline query`` says why)."""
        from io_managers.errors import ReadOnlyQueryError
        from io_managers.read_only import ensure_read_only

        try:
            statement = ensure_read_only(sql)
        except ReadOnlyQueryError:
            return ()
        return ("--allow-external",) if statement.has_settings else ()

    def column_lineage(
        self, sql: str, columns_of: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[str, ...]]:
        def answer() -> dict[str, tuple[str, ...]]:
            from io_managers import sql_analysis

            return sql_analysis.column_lineage(sql, columns_of)

        return cached(
            "column_lineage",
            [sql, [[table, list(columns)] for table, columns in columns_of.items()]],
            answer,
            # A list of pairs: the output columns' order is part of the answer.
            encode=lambda lineage: [[name, list(sources)] for name, sources in lineage.items()],
            decode=lambda kept: {name: tuple(sources) for name, sources in kept},
        )

    def columns_read(self, sql: str, columns_of: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        def answer() -> tuple[str, ...]:
            from io_managers import sql_analysis

            return sql_analysis.columns_read(sql, columns_of)

        return cached(
            "columns_read",
            [sql, [[table, list(columns)] for table, columns in columns_of.items()]],
            answer,
            encode=list,
            decode=tuple,
        )

    def check_definitions(
        self,
        graph: AssetGraph,
        ddl_paths: Sequence[Path],
        sample_params: Mapping[str, Any] | None = None,
    ) -> list[Finding]:
        """Schemas vs DDL vs SQL in a throwaway embedded warehouse (see
        :mod:`io_managers.schema_check`); no IO manager's own storage is touched."""
        from io_managers.schema_check import validate_definitions

        return validate_definitions(
            graph, ddl_paths, self.open_scratch, sample_params=sample_params
        )

    def declared_tables(self, ddl_paths: Sequence[Path]) -> Mapping[str, Place]:
        """Each table the DDL declares with its own columns, read by sqlglot, not run. A
        DDL file that cannot be read declares none here: the check that applies the DDL
        (:meth:`check_definitions`) says why."""
        from io_managers.ddl import declared_tables
        from io_managers.errors import DdlFileError

        try:
            return declared_tables(ddl_paths)
        except (DdlFileError, OSError, UnicodeDecodeError):
            return {}

    @abstractmethod
    def open_scratch(self, path: Path) -> ClickHouseIOManager:
        """An empty embedded warehouse in ``path``, for checks that must not touch ours."""
