"""The contract between the resolver and the places assets live.

The framework only needs to know whether a table exists and how to materialize one
asset; everything about the engine (ClickHouse, chdb, an in-memory store in tests)
stays behind this interface.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

    from orchestration.asset import AssetSpec
    from orchestration.context import AssetContext
    from orchestration.errors import Place, RebuildRequired
    from orchestration.findings import Finding
    from orchestration.graph import AssetGraph
    from orchestration.history import MaterializationHistory


#: The key of :attr:`MaterializeResult.metadata` giving the rows the asset's body or SELECT
#: produced, staged before its checks (an insert-only load publishes only the new ones):
#: the rows an ingest asset read from its source, as its page says.
STAGED_ROWS = "staged_rows"


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


class OffendingRows(NamedTuple):
    """What an asset check found (:meth:`IOManager.offending_rows`): how many rows, a few
    of them, and, when asked for a tally, each value of it but ``''`` with how many of
    those rows give it, most first."""

    violations: int
    examples: list[dict[str, Any]]
    tally: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class EngineSelect:
    """What a Python asset returns to let the storage compute its rows itself.

    ``select`` is a SELECT the storage runs straight into staging - for example an ingest
    reading a file with ClickHouse's ``file()``, with no rows passing through Python.
    ``fallback`` returns what the asset would return otherwise (DataFrames, Arrow tables
    or an iterable of them). The storage uses the fallback when it cannot run the SELECT
    (``reads_local_files``: the SELECT reads this machine's files, which a remote server
    cannot), when the SELECT fails, and when it stages no rows. So a SELECT may decline
    anything it is unsure of by failing (``throwIf``), and leave reading it - or saying
    exactly what is wrong with it - to the Python code.
    """

    select: str
    fallback: Callable[[], Any]
    reads_local_files: bool = True
    #: The SELECT's output columns, if the asset knows them: the storage then inserts
    #: those columns, by name, without first asking the engine what the SELECT gives (a
    #: ``DESCRIBE`` of a ``file()`` read takes ~17 ms). A name the SELECT does not give
    #: fails the insert, and the fallback runs.
    columns: tuple[str, ...] = ()
    #: Called once the SELECT has filled staging, before its rows are checked or
    #: published: it raises when what the SELECT read outside the warehouse changed while
    #: it was read (another process wrote the file), whose rows may then mix two versions
    #: of it. The asset fails with that error, and no fallback runs: it would read the
    #: changed source.
    verify_read: Callable[[], None] | None = None


class SqlAnalysisError(ValueError):
    """A SQL body cannot be analysed: it does not parse, or names what nothing provides.

    When the analysis knows where in the SQL (a token it could not parse), ``line`` and
    ``col`` (1-based, in the SQL's own lines) let the error name that place in the file
    the SQL is written in (:func:`orchestration.asset_code.sql_place`); ``placed`` says
    the cause without it, for a line that names the file's place already: one token at
    two places, in two coordinates, would read as two places.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        col: int | None = None,
        placed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.placed = placed

    def said(self, *, placed: bool) -> str:
        """The cause, after a place in the file (``placed``) or alone."""
        return self.placed if placed and self.placed is not None else str(self)


@dataclass(frozen=True)
class TableReads:
    """What one SELECT reads, found by parsing it in the IO manager's SQL dialect.

    ``tables`` are ``database.table`` names; ``table_functions`` the names of table
    functions (``numbers``, ``url``, ...), which read no table an asset produces.
    """

    tables: tuple[str, ...] = ()
    table_functions: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextColumn:
    """A column of :class:`QueryText`: its name, its type as the storage names it
    (``Nullable(DateTime)``), and how a person reads its values, which decides how a
    table draws them: a ``number`` stands right, a ``fixed`` value (a date, a time, a
    boolean) is never folded, ``text`` (a string, a UUID, an array) may fold."""

    name: str
    type: str
    kind: Literal["number", "fixed", "text"] = "text"


@dataclass(frozen=True)
class QueryText:
    """A user's read statement's result as the storage itself prints each value
    (:meth:`IOManager.read_only_text`): text, or None for NULL."""

    columns: tuple[TextColumn, ...]
    rows: tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True)
class KeptRows:
    """What rebuilding an insert-only table would lose: ``lost`` of the ``held`` rows it
    holds now. ``exact``: counted against what its SELECT yields now; else every row held,
    as what comes back is known only as the run rebuilds it."""

    lost: int
    held: int
    exact: bool = True


@dataclass(frozen=True)
class TableOutlook:
    """What the next run meets in an asset's table that exists, foreseen by a command that
    only reads (:meth:`IOManager.table_outlook`): ``status`` and ``plan`` show both."""

    #: What :meth:`IOManager.materialize` would refuse, phrased as foretold: the table no
    #: longer matches its definition (drifted from the DDL). None: it would not refuse.
    refusal: RebuildRequired | None = None
    #: What the run's set-up (its definitions' own changes, such as a DDL's ``ALTER TABLE
    #: ... ADD COLUMN IF NOT EXISTS``) changes in the table, in words
    #: (``adds column 'Priced' (UInt8)``). None: nothing.
    changes: str | None = None
    #: The rows the table holds now, counted as the storage looks at its tables anyway
    #: (a catalog's metadata: no statement per table). None: not counted so, or by an
    #: engine whose count changes with nothing written (merges folding or expiring rows),
    #: which cannot tell a change made outside the pipeline
    #: (:func:`orchestration.staleness.assess_asset`).
    rows: int | None = None


class IOManager(ABC):
    """Stores assets. Implementations must be safe to call from several threads."""

    @abstractmethod
    def asset_uri(self, table: str) -> str:
        """The Prefect asset key of ``database.Table``: a URI naming this storage and table."""

    def location(self) -> str | None:
        """Where this storage is, as its location is given (``chdb:///abs/path``,
        ``clickhouse://host:8123/``) and safe to show anyone: no user, password or query
        string. Asset pages and the run's lineage name it, since one Prefect server keeps
        the pages of runs against every warehouse; a run relinks only the pages written
        against its own. Names without opening anything; the default, for storage with no
        place of its own to name, is None."""
        return None

    def setup(self, ddl_paths: Sequence[Path]) -> int | None:
        """Create the databases and tables a code location declares (returning how many
        statements ran, where the storage counts them); the default needs none.

        Also what :meth:`declare` is told: the definitions set up are the code's."""
        return None

    def hold_run_lock(
        self,
        *,
        flow_run_id: str | None = None,
        break_held: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> contextlib.AbstractContextManager[None]:
        """Keep every other run from writing this storage while this one does: entered by
        every command that writes, before :meth:`setup`, and left however it ends (an
        interrupt's :meth:`stop` too). Raises an :class:`~orchestration.errors.ExpectedError`
        naming the run that holds it; ``flow_run_id`` names this run to others,
        ``break_held`` takes a lock its holder left (a person said it is gone);
        ``warn`` is told, in one line, of a lock taken from another run (else it is
        logged). The
        default, for storage no other process can write, holds nothing."""
        return contextlib.nullcontext()

    def declare(self, ddl_paths: Sequence[Path]) -> None:  # noqa: B027 - optional hook
        """The code location's DDL, not applied: a command that only reads (``status``,
        ``plan``) versions each asset by the definition the code gives its table, as a
        run does after :meth:`setup`. Touches no storage; the default has no use for it."""

    def reach(self) -> None:  # noqa: B027 - optional hook
        """Connect to remote storage now (and close nothing: the IO manager's ``close``
        does), so a command whose work comes later (``serve``) reports a wrong address or
        password at once, not at the first scheduled run. Raises as a first read would.
        Local storage is not opened for it: the default does nothing."""

    def missing_storage(self) -> str | None:
        """What is missing, in the storage's own words (``"no warehouse at /srv/wh"``),
        when its storage does not exist yet; None when it does.

        Only ``setup`` creates storage: a command that only reads asks this first and
        leaves missing storage alone, so a mistyped location is reported rather than made
        into a new, empty store. Answers without creating or connecting to anything; the
        default, for storage with no place of its own to be missing from (a server one
        connects to), is None.
        """
        return None

    @abstractmethod
    def table_exists(self, table: str) -> bool:
        """Whether ``database.Table`` exists, so unselected upstream can be checked up front."""

    @abstractmethod
    def materialize(
        self,
        spec: AssetSpec,
        context: AssetContext,
        *,
        before_publish: Callable[[str], None] | None = None,
    ) -> MaterializeResult:
        """Compute, validate and atomically publish ``spec``; raise on any failure.

        ``before_publish`` gates the publish on the asset's checks: a storage that can
        calls it once, after validating and before publishing, with the name of a table
        (as a check's ``{table}`` takes it) that holds exactly what ``spec``'s table will
        hold once published; it raises to stop the publish, which then leaves the table
        as it was, as any failure does. A storage that cannot ignores it: its caller
        sees it was never called, and checks the published table instead.
        """

    def unpublished_select(
        self, spec: AssetSpec, select: str, *, full_refresh: bool = False
    ) -> str | None:
        """What ``spec``'s table would hold had a run published ``select``'s rows (its SQL
        body, rendered), as one read-only SELECT a check's ``{table}`` can be replaced
        by: what :meth:`materialize` hands ``before_publish``, selected again. A page
        whose checks stopped the publish offers it, as the rows they found are in no
        table. ``full_refresh``: the run rebuilt the table from ``select`` alone. None:
        this storage cannot say it (it never checks before publishing).
        """
        return None

    def describe(self, table: str) -> list[tuple[str, str]]:
        """Column names and engine types of ``database.Table``, in table order.

        Optional: asset pages list a table's columns from here, and column lineage
        resolves ``*`` and unqualified names against the tables a SELECT reads.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot describe tables")

    def describe_tables(self, tables: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """:meth:`describe` of those of ``tables`` this storage gives at once: a server
        answers for all in one round trip, not one a table. A table left out (missing, or
        by default every one) is asked of :meth:`describe` when it is needed."""
        return {}

    def row_counts(self, tables: Collection[str]) -> dict[str, int]:
        """The rows each of ``tables`` holds now, counted by the storage in one request: a
        run's lineage page says what the unselected tables it read held as it began. A
        table left out is not counted (the default counts none): the page then gives the
        rows its build left, and says so. Raises as a read would."""
        return {}

    def query_arrow(self, sql: str) -> Any:
        """Run a read query and return its result as a ``pyarrow.Table``.

        Optional: asset checks and assets that read other tables need it; a backend
        that cannot run SQL says so here instead of failing somewhere less obvious.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot run SQL queries (query_arrow), so asset checks "
            "and SQL reads are unavailable on it; use a warehouse IO manager"
        )

    def query_df(self, sql: str) -> pd.DataFrame:
        """Run a read query and return its result as a ``pandas.DataFrame``.

        What a Python asset's body reads its upstream with (``context.io_manager``,
        README "Declaring assets"), so it is declared here, on the interface bodies are
        typed against. Optional, as :meth:`query_arrow` is; a storage gives its own
        dtypes (the warehouse's: docs/warehouse.md, "Reading").
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot run SQL queries (query_df), so assets that "
            "read other tables are unavailable on it; use a warehouse IO manager"
        )

    def offending_rows(
        self, check_sql: str, table: str, examples: int, tally: str | None = None
    ) -> OffendingRows:
        """Run an asset check: ``check_sql`` selects the offending rows of ``table``
        (written ``{table}`` in it). Returns how many rows it selects and up to
        ``examples`` of them, as plain dicts; with ``tally`` (an SQL expression over
        those rows), also how many rows give each of its values but ``''``, counted by
        the storage, most first.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot run SQL checks (offending_rows), so asset "
            "checks are unavailable on it; use a warehouse IO manager"
        )

    def uncompiled_checks(self, spec: AssetSpec) -> dict[str, str]:
        """Each check of ``spec`` whose SQL does not compile on its table, by name, with
        why in the words a run refuses it (where the check is declared first):
        ``pipeline checks`` reports it so, not as a count that failed in the engine's
        words alone. The default, for storage that cannot tell before running: none."""
        return {}

    def read_only_text(
        self, sql: str, allow_external: bool = False, *, max_rows: int | None = None
    ) -> QueryText:
        """Run a user's read statement (``pipeline query``'s table) and return each value
        as the storage prints it: people read it, so a date-time reads as a date-time,
        not as the number a client library holds it in.

        The storage must refuse anything that is not a read, whatever the text says;
        ``allow_external`` lets reads reach files and the network. ``max_rows`` asks a
        query (a SELECT) for at most that many rows; other statements return all theirs.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot run queries (read_only_text)")

    def read_only_raw(self, sql: str, fmt: str, allow_external: bool = False) -> bytes:
        """A user's read statement rendered by the storage itself in output format ``fmt``."""
        raise NotImplementedError(f"{type(self).__name__} cannot run queries (read_only_raw)")

    def read_only_stream(
        self, sql: str, fmt: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """:meth:`read_only_raw` in pieces, joined its bytes, so a large result is printed
        as it comes instead of held (``pipeline query --format csv``); closing the
        generator stops the statement. A storage that cannot stream gives one piece."""
        yield self.read_only_raw(sql, fmt, allow_external)

    def read_only_json(
        self, sql: str, allow_external: bool = False
    ) -> Generator[bytes, None, None]:
        """A user's read statement as one JSON list of objects, in pieces (``pipeline
        query --format json``); closing the generator stops the statement. Values must
        read back in any JSON parser as stored: no NaN, integers past 2^53 and decimals
        as strings, instants as ISO 8601 (docs/warehouse.md says how the warehouse does it)."""
        raise NotImplementedError(f"{type(self).__name__} cannot run queries (read_only_json)")

    def tables_read(self, sql: str) -> TableReads:
        """The tables a SQL asset's SELECT reads, parsed in this IO manager's dialect.

        The asset graph takes a SQL asset's upstream assets from here. A backend that
        runs no SQL has no dialect, and says so.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot analyse SQL (tables_read)")

    def read_only_options(self, sql: str) -> tuple[str, ...]:
        """The options ``pipeline query`` needs to run ``sql`` (a read this storage's
        read-only session refuses without them), for a command a page offers to paste.
        Default: none."""
        return ()

    def normalized_sql(self, sql: str) -> str:
        """A SELECT's normal form in this IO manager's dialect: its text as the parser
        reads it, printed back, so that whitespace, line breaks, comments and keyword case
        do not change it and any other difference does. :class:`SqlAnalysisError` when
        ``sql`` is no one SELECT. A check's version hashes it
        (:mod:`orchestration.check_versions`).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot analyse SQL (normalized_sql)")

    def column_lineage(
        self, sql: str, columns_of: Mapping[str, Sequence[str]]
    ) -> dict[str, tuple[str, ...]]:
        """Each output column of a SELECT -> the ``database.table.column`` it is computed from.

        ``columns_of`` gives the columns of every table the SELECT reads, so ``*`` and
        unqualified names resolve. Implementations follow the contract of
        :func:`io_managers.sql_analysis.column_lineage`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot analyse SQL (column_lineage)")

    def columns_read(self, sql: str, columns_of: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
        """Every ``database.table.column`` a SELECT reads, in any clause: its column
        lineage's sources and those only its filters, joins and groupings read, which
        break it too when renamed. Implementations follow the contract of
        :func:`io_managers.sql_analysis.columns_read`.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot analyse SQL (columns_read)")

    def check_definitions(
        self,
        graph: AssetGraph,
        ddl_paths: Sequence[Path],
        sample_params: Mapping[str, Any] | None = None,
    ) -> list[Finding]:
        """``pipeline validate`` for the assets this IO manager stores: do their schemas,
        storage definitions (DDL) and SQL agree? Runs on scratch storage, never on the
        real one; ``sample_params`` adds a sample run that validates real content. Hand
        them to the assets' contexts as given: validate's summary says from them whether
        an asset read the sample's source (a copy reads them all).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot check definitions")

    def declared_tables(self, ddl_paths: Sequence[Path]) -> Mapping[str, Place]:
        """Each table ``ddl_paths`` (its storage definitions) declare, with where:
        ``pipeline validate`` reports one that no asset produces. The default, for
        storage without definitions, reads none."""
        return {}

    def history(self) -> MaterializationHistory | None:
        """Where this backend keeps materialization history; ``None``: it keeps none, so its
        assets are always ``missing`` and every run rebuilds them."""
        return None

    def table_outlook(
        self, specs: Sequence[AssetSpec], params: Mapping[str, Any] | None = None
    ) -> Mapping[str, TableOutlook]:
        """What the next run would refuse of ``specs``, what its set-up changes in their
        tables and the rows they hold, by asset key; an asset with none of these (or no
        table yet) is left out. ``params``: the next run's, which a refusal's way out
        passes on (its source), as the run's own refusal would.

        ``plan`` and ``status`` ask it once per command for all the IO manager's assets,
        so they must read only and create nothing, and the storage should look at the
        tables once for both answers (a server: one catalog read). The default, for
        storage without definitions, foresees nothing."""
        return {}

    def rows_a_rebuild_loses(
        self, table: str, unique_key: Sequence[str], select: str | None
    ) -> KeptRows | None:
        """How many rows of ``table`` (insert-only on ``unique_key``) a full refresh would
        not bring back: those whose key ``select``, the asset's SELECT over its upstream as
        it is now, does not yield; every row it holds when ``select`` is None (an upstream
        is rebuilt first, or the body is no SQL). Reads only, so ``plan`` may ask it. The
        default, for storage that cannot count, says None, and such a full refresh is
        refused as if every row were lost: a store (or a wrapper of one) that forgot to
        answer must not let the rows go unasked."""
        return None

    def table_definitions(self, tables: Sequence[str]) -> dict[str, str]:
        """The definition (DDL) of each given table: the one the code declares (given to
        :meth:`setup` or :meth:`declare`), else the storage's own for a table it holds.

        It is part of the asset's code version, so an edited table definition makes the
        asset stale at once, and the full refresh that rebuilds the table from it leaves
        the asset fresh; the default knows none."""
        return {}

    def stop_publishing(self, timeout: float) -> Sequence[str]:
        """Start no publish from now on and wait at most ``timeout`` seconds for those in
        flight (a second Ctrl-C stops at once, but not in the middle of a publish). Returns
        the keys of the assets it published (whole) in this run, as :meth:`stop` does."""
        return ()

    def stop(self, timeout: float) -> Sequence[str]:
        """The run was interrupted: start no publish, let one in flight finish, drop this
        run's unpublished work, all within ``timeout`` seconds. Returns the keys of the assets
        it published (whole) in this run; the default publishes nothing it could stop."""
        return ()

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the default holds none."""


#: How a code location declares an IO manager (``Definitions(io_managers={name: factory})``):
#: called with a location that overrides the IO manager's own configuration (the CLI's
#: ``--warehouse``), or None. Building must not connect: the graph builds IO managers to
#: ask which tables a SELECT reads, and never uses their storage.
IOManagerFactory = Callable[[str | None], IOManager]
