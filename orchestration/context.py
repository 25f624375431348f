"""What an asset body sees while it runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.io_manager import IOManager

#: A logger or the adapter Prefect gives a run (it adds the run's ids to each record).
Log = logging.Logger | logging.LoggerAdapter[logging.Logger]
#: Where ``context.log`` writes outside a Prefect run (a sample run of ``validate``).
ASSET_LOGGER = "pipeline.asset"


#: Run parameter asking IO managers to rebuild each selected table from its DDL and
#: reload it (``pipeline materialize --full-refresh``), instead of updating it.
FULL_REFRESH_PARAM = "full_refresh"
#: Run parameter confirming that such a rebuild may drop rows only an insert-only table
#: keeps (``--discard-history``); without it the run is refused before any work
#: (:mod:`orchestration.discarded_history`).
DISCARD_HISTORY_PARAM = "discard_history"
#: The command-line option that sets it.
DISCARD_HISTORY_OPTION = "--discard-history"
#: Run parameter bounding the fetch of the run's source, in seconds (``--source-timeout``).
SOURCE_TIMEOUT_PARAM = "source_timeout"
#: The command-line option that sets it.
SOURCE_TIMEOUT_OPTION = "--source-timeout"
#: The shortest such deadline: below it a value is a typo (``0``), not a deadline.
MIN_SOURCE_TIMEOUT = 0.001


@dataclass(frozen=True)
class AssetContext:
    """Run-wide facts handed to every asset body.

    ``load_datetime`` is fixed once per run so that every row a run writes (all vault
    rows in particular) carries the same ``LOAD_DATETIME``. ``params`` are the run's
    parameters (for example ``source`` for the ingest asset).

    ``sandbox`` is set for a scratch run (``pipeline validate --sample``): its rows are a
    sample, so an asset that writes outside the warehouse (a report file, a metrics push)
    writes into that directory or nowhere, whatever the parameters and the environment
    say. CI often sets those for every job, and a sample must never replace what a real
    run published.
    """

    spec: AssetSpec
    io_manager: IOManager
    load_datetime: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    log: Log = field(default_factory=lambda: logging.getLogger(ASSET_LOGGER))
    sandbox: Path | None = None
    #: Files the asset wrote besides its table (a report page, an export), by what each
    #: is: the run's last lines say where (``Dashboard: reports/...``), so nobody looks it
    #: up after a run. Filled by :meth:`add_file`.
    files: dict[str, Path] = field(default_factory=dict)

    def add_file(self, what: str, path: Path) -> None:
        """Say that the asset wrote ``path`` (``what``: ``dashboard``), for the run's
        report; the path is kept whole, as the working directory may be any."""
        self.files[what] = path.resolve()

    @property
    def full_refresh(self) -> bool:
        """Whether this run rebuilds the asset's table from its DDL (see FULL_REFRESH_PARAM)."""
        return full_refresh_of(self.params)


def run_logger() -> Log:
    """The logger of the task or flow run this thread is in: its lines are in that run's
    Logs tab (a plain logger's reach no run's logs)."""
    from prefect.logging import get_run_logger

    return get_run_logger()


def full_refresh_of(params: Mapping[str, Any]) -> bool:
    """Whether a run given ``params`` rebuilds each selected table (FULL_REFRESH_PARAM)."""
    return bool(params.get(FULL_REFRESH_PARAM))


def discard_history_of(params: Mapping[str, Any]) -> bool:
    """Whether a run given ``params`` may drop what only its insert-only tables keep
    (DISCARD_HISTORY_PARAM)."""
    return bool(params.get(DISCARD_HISTORY_PARAM))


#: The load time a SQL body is rendered with outside a run (analysis, code versions), so
#: the text does not change from one command to the next.
RENDER_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)


def render_sql(
    spec: AssetSpec, io_manager: IOManager, params: Mapping[str, Any] | None = None
) -> str:
    """A SQL asset's ``SELECT`` as a run would send it, but at :data:`RENDER_INSTANT`.

    Bodies take a context because their SQL embeds run values (the load time); the tables
    and columns they read do not depend on those values, so this text serves to analyse
    the SQL when the graph is built, long before any run.
    """
    context = AssetContext(
        spec=spec, io_manager=io_manager, load_datetime=RENDER_INSTANT, params=params or {}
    )
    return str(spec.body(context))
