"""Staging tables: where a materialization is computed before it is published.

Each materialization gets a private staging table, named so that this process's own can
be told from a dead run's: ``_stg_<table>_<run token>_<id>``. Staging is dropped
whatever happens; what a crashed run left behind is dropped by the next run of the same
asset (embedded: any staging this process did not create, since the directory has one
user; server: only staging older than :data:`STALE_STAGING_SECONDS`, since other runs
may be live).
"""

from __future__ import annotations

import logging
import uuid

from io_managers import statements
from io_managers.errors import WarehouseError
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

    def new_name(self, database: str, table_name: str) -> str:
        """A fresh quoted staging name for a table of ``database``."""
        name = statements.staging_name(table_name, self.run_token, uuid.uuid4().hex[:8])
        return f"{quote_identifier(database)}.{quote_identifier(name)}"

    def create(self, staging: str, target: str) -> None:
        """An empty staging table with ``target``'s exact structure."""
        self._transport.command(statements.create_like(staging, target))

    def drop_quietly(self, staging: str) -> None:
        """Drop a staging table; a failure is logged, never raised over the real outcome."""
        try:
            self._transport.command(statements.drop_table(staging))
        except WarehouseError as exc:
            log.warning("could not drop staging table %s: %s", staging, exc)

    def drop_own(self) -> None:
        """Drop every staging table this process created (an interrupted run's)."""
        rows = self._queries.rows(
            "SELECT database, name FROM system.tables WHERE match(name, "
            f"{quote_string(statements.staging_pattern_of_run(self.run_token))})"
        )
        for row in rows:
            self.drop_quietly(
                f"{quote_identifier(row['database'])}.{quote_identifier(row['name'])}"
            )

    def drop_abandoned(self, database: str, table_name: str) -> None:
        """Drop staging tables of ``database.table_name`` left by a run that died."""
        own = statements.staging_name(table_name, self.run_token, "")
        condition = (
            f"NOT startsWith(name, {quote_string(own)})"
            if self._transport.exclusive
            else f"metadata_modification_time < now() - {STALE_STAGING_SECONDS}"
        )
        rows = self._queries.rows(
            "SELECT name FROM system.tables "
            f"WHERE database = {quote_string(database)} "
            f"AND match(name, {quote_string(statements.staging_pattern(table_name))}) "
            f"AND {condition}"
        )
        for row in rows:
            name = f"{quote_identifier(database)}.{quote_identifier(row['name'])}"
            log.warning("dropping abandoned staging table %s", name)
            self.drop_quietly(name)
