"""The contract between the resolver and the places assets live.

The framework only needs to know whether a table exists and how to materialize one
asset; everything about the engine (ClickHouse, chdb, an in-memory store in tests)
stays behind this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext


@dataclass(frozen=True)
class MaterializeResult:
    """What one materialization produced, reported back to the run report and Prefect."""

    table: str
    rows: int
    seconds: float
    bytes: int | None = None
    columns: tuple[str, ...] = ()
    inserted_rows: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class IOManager(ABC):
    """Stores assets. Implementations must be safe to call from several threads."""

    #: Host part of Prefect asset keys: ``embedded`` for chdb, the server host otherwise.
    authority: str = "embedded"

    def asset_uri(self, table: str) -> str:
        """Prefect asset key of ``database.Table``: ``clickhouse://<authority>/<db>/<table>``."""
        database, name = table.split(".", 1)
        return f"clickhouse://{self.authority}/{database}/{name}"

    def setup(self, ddl_paths: Sequence[Path]) -> None:  # noqa: B027 - optional hook
        """Create the databases and tables a code location declares; the default needs none."""

    @abstractmethod
    def table_exists(self, table: str) -> bool:
        """Whether ``database.Table`` exists, so unselected upstream can be checked up front."""

    @abstractmethod
    def materialize(self, spec: AssetSpec, context: AssetContext) -> MaterializeResult:
        """Compute, validate and atomically publish ``spec``; raise on any failure."""

    def query_arrow(self, sql: str) -> Any:
        """Run a read query and return its result as a ``pyarrow.Table``.

        Optional: asset checks and assets that read other tables need it; a backend
        that cannot run SQL says so here instead of failing somewhere less obvious.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot run SQL queries (query_arrow), so asset checks "
            "and SQL reads are unavailable on it; use a warehouse IO manager"
        )

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default holds none."""
