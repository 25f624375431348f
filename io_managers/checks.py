"""Asset checks on ClickHouse: a check's SELECT counted and sampled inside the engine.

A check selects its asset's offending rows, writing ``{table}`` for the asset's table;
the framework (:mod:`orchestration.checks`) decides what a count means, this module
only says how ClickHouse is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from io_managers.analysis_cache import cached
from io_managers.errors import CheckSQLError, WarehouseQueryError, without_quoted_query
from io_managers.sql import quote_table
from io_managers.sql_tokens import one_statement
from orchestration.errors import at
from orchestration.io_manager import OffendingRows

if TYPE_CHECKING:
    from io_managers.catalog import TableFacts
    from orchestration.checks import AssetCheck

Uncompiled = list[tuple["AssetCheck", WarehouseQueryError]]


def check_select(check_sql: str, table: str) -> str:
    """The check's one statement (comments around it and a trailing ``;`` dropped, so it
    can be wrapped in a count) with ``{table}`` replaced by the asset's quoted table."""
    return _check_select_on(check_sql, quote_table(table))


def _check_select_on(check_sql: str, quoted_table: str) -> str:
    """:func:`check_select` on a table named already quoted (a staging table).

    Plain replacement rather than ``str.format``: ClickHouse SQL uses braces itself
    (map literals, ``{name:Type}`` parameters), which ``format`` would misread.
    """
    try:
        select = one_statement(check_sql, "check SQL", keep=True).text
    except ValueError as exc:
        raise CheckSQLError(str(exc)) from None
    return select.replace("{table}", quoted_table)


def uncompiled_checks(
    describe: Callable[[str], object], checks: Sequence[AssetCheck], quoted_table: str
) -> Uncompiled:
    """Each of ``checks`` whose SQL does not compile on ``quoted_table`` (their ``{table}``),
    with the engine's reason, in declaration order; ``describe`` is a ``DESCRIBE`` of its
    argument (``(SELECT ...)``), which compiles a query and reads no row.

    ``pipeline validate`` asks it of the DDL's empty tables, a run of the staged table
    before publishing it: a check that cannot run would otherwise fail the asset only
    after its table was replaced. All the checks are compiled in one statement (a ``UNION
    ALL`` of them); each alone only when that fails, to say which. A storage that cannot
    be reached raises, as any read does.
    """
    failed: dict[int, WarehouseQueryError] = {}
    selects: dict[int, str] = {}
    for index, check in enumerate(checks):
        try:
            selects[index] = _check_select_on(check.sql, quoted_table)
        except CheckSQLError as exc:
            failed[index] = exc
    if selects:
        every = " UNION ALL ".join(f"SELECT 1 FROM (\n{s}\n)" for s in selects.values())
        try:
            describe(f"({every})")
        except WarehouseQueryError:
            for index, select in selects.items():
                try:
                    describe(f"({select})")
                except WarehouseQueryError as exc:
                    failed[index] = exc
    return [(checks[index], failed[index]) for index in sorted(failed)]


def compile_identity(engine_version: str, tables: Mapping[str, TableFacts | None]) -> Any:
    """Everything but their SQL that decides whether checks compile: the engine's version
    and each table they read (their own included) with its columns, their types as the
    engine spells them, and its engine with its clauses (``FINAL``, ``SAMPLE`` and
    ``PREWHERE`` depend on them); None (absent) for a table that is not there. None when
    the version is unknown: a verdict of another engine must not be taken for this one's.
    """
    if not engine_version:
        return None
    return [
        engine_version,
        [
            [table, None if facts is None else _structure(facts)]
            for table, facts in sorted(tables.items())
        ],
    ]


def _structure(facts: TableFacts) -> list[Any]:
    return [[[name, kind.text] for name, kind in facts.columns.items()], facts.engine_full]


class _DoNotCompile(Exception):
    """Raised out of :func:`io_managers.analysis_cache.cached`, so it keeps no failure."""

    def __init__(self, broken: Uncompiled) -> None:
        super().__init__(f"{len(broken)} check(s) do not compile")
        self.broken = broken


def uncompiled_checks_kept(
    describe: Callable[[str], object],
    checks: Sequence[AssetCheck],
    quoted_table: str,
    identity: Any,
) -> Uncompiled:
    """:func:`uncompiled_checks`, the verdict that they all compile kept on disk
    (:mod:`io_managers.analysis_cache`) under their SQL and ``identity``
    (:func:`compile_identity`, None: ask the engine every time).

    Compiling the checks of the shipped pipeline was ~230 ms of a warm 100,000-row run
    (docs/benchmark.md, "Session 32"), the same answer every run. Only a success is kept:
    checks that do not compile are compiled again on every run and reported as before.
    This module's source is part of every kept answer's name, so an edit to how checks
    are compiled asks anew.
    """
    if identity is None:
        return uncompiled_checks(describe, checks, quoted_table)

    def answer() -> bool:
        broken = uncompiled_checks(describe, checks, quoted_table)
        if broken:
            raise _DoNotCompile(broken)
        return True

    try:
        cached(
            "checks_compile",
            [[check.sql for check in checks], identity],
            answer,
            encode=lambda compiled: compiled,
            decode=_compiled,
        )
    except _DoNotCompile as failed:
        return failed.broken
    return []


def _compiled(kept: Any) -> bool:
    """A kept verdict; anything else is unreadable, and asked anew."""
    if kept is not True:
        raise ValueError(f"not a verdict: {kept!r}")
    return True


def does_not_compile(check: AssetCheck, error: Exception | str, *, full: bool = False) -> str:
    """Why ``check`` cannot run: the words of both ``pipeline validate`` and a run, so
    one mistake reads the same in each; each says them after where the check is declared
    (``check.place``). Up to the engine's quote of the query it compiled, as a SELECT's
    (``full``: with it)."""
    said = str(error) if full else without_quoted_query(str(error))
    return f"check {check.name!r} does not compile: {said}"


def does_not_compile_at(check: AssetCheck, error: Exception | str, *, full: bool = False) -> str:
    """:func:`does_not_compile` after where ``check`` is declared (``assets/checks.py:65:
    check 'x' does not compile: ...``), as ``pipeline validate`` and ``pipeline checks``
    say it and a failed run's line places it."""
    return at(check.place, does_not_compile(check, error, full=full))


def offending_rows(
    count_rows: Callable[[str], list[dict[str, Any]]],
    query_rows: Callable[[str], list[dict[str, Any]]],
    check_sql: str,
    table: str,
    examples: int,
    tally: str | None = None,
) -> OffendingRows:
    """How many rows the check selects, up to ``examples`` of them, and with ``tally``
    how many give each value of it (:func:`tally_select`); all only if there are any.

    The count is one UInt64, so ``count_rows`` may skip the text projection of Enum and
    UUID columns (and the ``DESCRIBE`` it takes) that ``query_rows`` applies to examples;
    the check was read as one statement already, so neither needs to split it again. The
    tally is asked only of a check that found rows: a check that holds costs what it did.
    """
    select = check_select(check_sql, table)
    counted = count_rows(f"SELECT count() AS violations FROM (\n{select}\n) AS offending")
    violations = int(counted[0]["violations"])
    if not violations:
        return OffendingRows(0, [])
    tallied = count_rows(tally_select(select, tally)) if tally else []
    return OffendingRows(
        violations,
        query_rows(f"SELECT * FROM (\n{select}\n) AS offending LIMIT {examples}"),
        tuple((str(row["value"]), int(row["rows"])) for row in tallied),
    )


def tally_select(select: str, tally: str) -> str:
    """Each value but ``''`` of the expression ``tally`` over the rows ``select`` finds,
    with how many rows give it, most first (then by value, so the order is stable)."""
    return (
        f"SELECT toString({tally}) AS value, count() AS rows FROM (\n{select}\n) AS offending "
        "GROUP BY value HAVING value != '' ORDER BY rows DESC, value"
    )
