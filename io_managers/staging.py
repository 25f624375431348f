"""Staging tables: where a materialization is computed before it is published.

Each materialization gets a private staging table, named so that this process's own can
be told from a dead run's: ``_stg_<table>_<run token>_<id>``. Staging is dropped
whatever happens; what a crashed run left behind is dropped by the next run (embedded:
any staging this process did not create, all of it at the first materialization, since
the directory has one user and no other process can leave more; server: a table's
staging older than :data:`STALE_STAGING_SECONDS`, when that table is materialized, since
other runs may be live).
"""

from __future__ import annotations

import logging
import threading
import uuid

from io_managers import statements
from io_managers.errors import MaterializationError, WarehouseError
from io_managers.queries import WarehouseQueries
from io_managers.sql import quote_identifier, quote_string
from io_managers.transport import Transport

log = logging.getLogger("pipeline.warehouse")

#: A staging table this old on a shared server belongs to a run that died.
STALE_STAGING_SECONDS = 6 * 3600


class StagingTables:
    """Creates, names and drops the staging tables of one process."""

    def __init__(self, transport: Transport, queries: WarehouseQueries) -> None:
        self._transport = transport
        self._queries = queries
        self.run_token = uuid.uuid4().hex[:8]
        self._swept_all = False
        self._sweep_lock = threading.Lock()
        #: Set by the interrupt's sweep: a staging table created after it would outlive
        #: the process. Creating holds the lock, so the sweep also sees one in flight.
        self._closed = False
        self._create_lock = threading.Lock()

    def new_name(self, database: str, table_name: str) -> str:
        """A fresh quoted staging name for a table of ``database``."""
        name = statements.staging_name(table_name, self.run_token, uuid.uuid4().hex[:8])
        return f"{quote_identifier(database)}.{quote_identifier(name)}"

    def create(self, staging: str, target: str) -> None:
        """An empty staging table with ``target``'s exact structure; refused once the
        run was interrupted (:meth:`drop_own`)."""
        with self._create_lock:
            if self._closed:
                raise MaterializationError(
                    f"interrupted: no staging table for {target} is created any more"
                )
            self._transport.command(statements.create_like(staging, target))

    def create_view(self, view: str, select: str) -> None:
        """A view of ``select``, named as staging is (:meth:`new_name`): it is dropped as
        staging is, and swept as the staging a dead run left; refused once the run was
        interrupted, as :meth:`create` is."""
        with self._create_lock:
            if self._closed:
                raise MaterializationError(f"interrupted: no view {view} is created any more")
            self._transport.command(statements.create_view(view, select))

    def drop_quietly(self, staging: str) -> None:
        """Drop a staging table; a failure is logged, never raised over the real outcome."""
        try:
            self._transport.command(statements.drop_table(staging))
        except WarehouseError as exc:
            log.warning("could not drop staging table %s: %s", staging, exc)

    def drop_own(self) -> None:
        """Drop every staging table this process created (an interrupted run's), and
        create none from now on."""
        with self._create_lock:
            self._closed = True
        rows = self._queries.rows(
            "SELECT database, name FROM system.tables WHERE match(name, "
            f"{quote_string(statements.staging_pattern_of_run(self.run_token))})"
        )
        for row in rows:
            self.drop_quietly(
                f"{quote_identifier(row['database'])}.{quote_identifier(row['name'])}"
            )

    def drop_abandoned(self, database: str, table_name: str) -> None:
        """Drop staging tables of ``database.table_name`` left by a run that died.

        Embedded, every dead run's staging goes at the first call, in one query: no
        other process can create more while this one holds the directory.
        """
        if self._transport.exclusive:
            with self._sweep_lock:
                if not self._swept_all:
                    self._drop_listed(
                        "SELECT database, name FROM system.tables WHERE "
                        f"match(name, {quote_string(statements.any_staging_pattern())}) "
                        f"AND NOT match(name, "
                        f"{quote_string(statements.staging_pattern_of_run(self.run_token))})"
                    )
                    self._swept_all = True
            return
        self._drop_listed(
            "SELECT database, name FROM system.tables "
            f"WHERE database = {quote_string(database)} "
            f"AND match(name, {quote_string(statements.staging_pattern(table_name))}) "
            f"AND metadata_modification_time < now() - {STALE_STAGING_SECONDS}"
        )

    def _drop_listed(self, sql: str) -> None:
        for row in self._queries.rows(sql):
            name = f"{quote_identifier(row['database'])}.{quote_identifier(row['name'])}"
            log.warning("dropping abandoned staging table %s", name)
            self.drop_quietly(name)
