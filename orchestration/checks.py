"""Asset checks: declarative data tests attached to an asset, as in Dagster.

A check is a SQL query that selects the *offending* rows (dbt style): no rows means the
check passed. ``{table}`` in the query stands for the asset's own table. Severity
``error`` fails the asset (so its descendants are skipped); ``warn`` is reported only.

A run evaluates them on what the asset's table will hold once published, before
publishing it, where its IO manager can (:meth:`IOManager.materialize`'s
``before_publish``): a failing error check then leaves the table as it was. Else they
read the published table, which then holds the rows that failed them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from orchestration.errors import AssetFailure, Place, describe_error, of_asset

if TYPE_CHECKING:
    from orchestration.asset import AssetSpec
    from orchestration.io_manager import IOManager

Severity = Literal["warn", "error"]
CheckStatus = Literal["passed", "warning", "failed", "error", "not_run"]


@dataclass(frozen=True)
class SourceReload:
    """How a check tells the rows only loading their source again repairs, and the load.

    A rebuild (:attr:`AssetCheck.rebuilds`) reloads from what staging holds now, the
    latest load; rows a killed run left half-loaded from an earlier source come back only
    with that source. ``source`` is an SQL expression over the check's offending rows
    (their columns by name; it may read other tables): the source (as ``--source`` names
    it) that row must be loaded from again, ``''`` when the rebuild repairs it. The
    storage counts the rows of each source (:meth:`IOManager.offending_rows`), so a
    failed check says which loads it needs and how many rows each, and its run's Next
    line loads the biggest with ``select``, the selection that loads a source and builds
    on it.
    """

    source: str
    select: str


@dataclass(frozen=True)
class AssetCheck:
    """One named check on an asset's table.

    ``rebuilds`` is a selection whose materialization repairs what the check finds, for a
    check whose rows are not the asset's to fix (its table disagrees with upstream tables
    a partial reload left short): a failed run's Next line offers that rebuild rather
    than "fix the rows", which a rerun of the same selection would find again.
    ``reloads`` says which of its rows only a load of their source again repairs
    (:class:`SourceReload`): the Next line then loads that source first.
    """

    name: str
    sql: str
    severity: Severity = "error"
    description: str = ""
    rebuilds: str | None = None
    reloads: SourceReload | None = None
    #: The file and line of the ``AssetCheck(...)`` call that declared it, taken as it is
    #: made: its SQL is often built by a helper (an f-string), so no parse of the asset's
    #: module finds it later. Kept raw; :attr:`place` words it only when an error says it.
    declared_in: tuple[str, int] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.severity not in ("warn", "error"):
            raise ValueError(f"check {self.name!r}: severity must be 'warn' or 'error'")
        if self.declared_in is None:  # a copy (dataclasses.replace) keeps the original's
            caller = sys._getframe(2)  # 0: here, 1: the dataclass's __init__
            object.__setattr__(self, "declared_in", (caller.f_code.co_filename, caller.f_lineno))

    @property
    def place(self) -> Place | None:
        """Where the check is declared, as an error line names it (``assets/checks.py:61``)."""
        return Place.at(*self.declared_in) if self.declared_in else None


#: How many offending rows a result keeps as examples (enough to see the pattern).
EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class AssetCheckResult:
    """The outcome of one check on one materialization of an asset.

    ``error`` is set when the check's SQL could not run at all; such a check counts as
    failed whatever its severity, because a broken check would otherwise hide a problem.
    ``not_run`` says why the check was not evaluated (its asset's table was never
    built): it did not pass, and fails whatever asks for it, as nothing was checked.
    """

    asset: str
    table: str
    name: str
    severity: Severity
    passed: bool
    violations: int | None
    examples: tuple[dict[str, Any], ...] = ()
    description: str = ""
    error: str | None = None
    not_run: str | None = None
    #: The sources its offending rows must be loaded from again (:class:`SourceReload`),
    #: each with how many of those rows came from it, most first.
    to_reload: tuple[tuple[str, int], ...] = ()

    @property
    def blocking(self) -> bool:
        """Whether this result fails the asset (so its descendants are skipped), or the
        ``pipeline checks`` command: a check that could not run or was not run does."""
        if self.error is not None or self.not_run is not None:
            return True
        return not self.passed and self.severity == "error"

    @property
    def status(self) -> CheckStatus:
        """``passed``, ``warning`` (a warn check found rows), ``failed``, ``error`` or
        ``not_run``."""
        if self.not_run is not None:
            return "not_run"
        if self.error is not None:
            return "error"
        if self.passed:
            return "passed"
        return "failed" if self.severity == "error" else "warning"

    def summary(self) -> str:
        """One line for reports: what failed, how many rows, and a first example."""
        if self.not_run is not None:
            return f"check {self.name!r} not run: {self.not_run}"
        if self.error is not None:
            return f"check {self.name!r} could not run: {self.error}"
        if self.passed:
            return f"check {self.name!r} passed"
        rows = f"{self.violations:,} offending row{'' if self.violations == 1 else 's'}"
        line = f"check {self.name!r} ({self.severity}): {rows}"
        if self.to_reload:
            line += f", of which {reload_phrase(self.to_reload)}"
        if self.examples:
            line += f", e.g. {format_example(self.examples[0])}"
        return line

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data for ``--json`` output and Prefect event metadata."""
        return {
            "asset": self.asset,
            "table": self.table,
            "check": self.name,
            "severity": self.severity,
            "status": self.status,
            "passed": self.passed,
            "violations": self.violations,
            "examples": [dict(row) for row in self.examples],
            "description": self.description,
            "error": self.error,
            "reason": self.not_run,
            "to_reload": [{"source": source, "rows": rows} for source, rows in self.to_reload],
        }


class AssetCheckError(AssetFailure, RuntimeError):
    """Error-severity checks (or checks that could not run) failed on a materialization.

    Raised before its publish, it stops it (:meth:`IOManager.materialize`'s
    ``before_publish``); after it (an IO manager that cannot check before), the table
    holds the rows they failed. Either way the asset counts as failed, so nothing
    downstream builds on it.
    """

    def __init__(self, asset: str, table: str, failures: Sequence[AssetCheckResult]) -> None:
        self.asset = asset
        self.table = table
        self.failures = tuple(failures)
        cause = "failed its checks: " + "; ".join(result.summary() for result in self.failures)
        # Built from its results, not by AssetError.for_asset: the same lead and cause.
        super().__init__(of_asset(asset, table) + cause, cause=cause)


def failures_in_brief(failures: Sequence[AssetCheckResult]) -> str:
    """``4 error-severity checks failed: a (97,356 rows), b (97,356)``, then each check
    that could not run (or was not run) as :meth:`AssetCheckResult.summary` says it: a
    page's line for what failed. The error's own line gives each check an example row
    too, which on a page took ~11 lines of UUIDs for four checks above a Checks table
    that shows the same examples; a check that could not run keeps its error (its SQL is
    what to fix, and no table shows it)."""
    found = [check for check in failures if check.status == "failed"]
    said = []
    if found:
        counts = []
        for at, check in enumerate(found):
            found_rows = check.violations or 0
            noun = " row" if found_rows == 1 else " rows"
            rows = f"{found_rows:,}{noun if at == 0 else ''}"
            reload = f", of which {reload_phrase(check.to_reload)}" if check.to_reload else ""
            counts.append(f"{check.name} ({rows}{reload})")
        checks = "check" if len(found) == 1 else "checks"
        said.append(f"{len(found)} error-severity {checks} failed: {', '.join(counts)}")
    said += [check.summary() for check in failures if check.status != "failed"]
    return "; ".join(said)


def evaluate_check(
    spec: AssetSpec, check: AssetCheck, io_manager: IOManager, table: str | None = None
) -> AssetCheckResult:
    """Run one check on ``table`` (default: the asset's own): count the offending rows,
    and fetch a few when there are any. The result names the asset's table either way."""
    base = _result_of(spec, check)
    tally = check.reloads.source if check.reloads else None
    try:
        found = io_manager.offending_rows(check.sql, table or spec.table, EXAMPLE_ROWS, tally)
        examples = tuple(_json_ready(row) for row in found.examples)
    except NotImplementedError:
        raise  # the IO manager cannot run SQL at all: a set-up error, not a check result
    except Exception as exc:
        # Recorded, not swallowed: the result is blocking and its text names the cause.
        return AssetCheckResult(**base, passed=False, violations=None, error=describe_error(exc))
    return AssetCheckResult(
        **base,
        passed=found.violations == 0,
        violations=found.violations,
        examples=examples,
        to_reload=found.tally,
    )


def _result_of(spec: AssetSpec, check: AssetCheck) -> dict[str, Any]:
    """What every result of ``check`` says of it, whatever its outcome."""
    return {
        "asset": spec.key,
        "table": spec.table,
        "name": check.name,
        "severity": check.severity,
        "description": check.description,
    }


def evaluate_checks(
    spec: AssetSpec, io_manager: IOManager, table: str | None = None, *, compile_first: bool = False
) -> list[AssetCheckResult]:
    """Every check of ``spec`` against its table as it is now in the warehouse, or
    against ``table``, which holds what its table will hold once published.

    Each check is evaluated even when an earlier one failed, so a report shows them all.
    An asset without checks never touches the IO manager's query interface.
    ``compile_first``: the checks that do not compile on its table
    (:meth:`IOManager.uncompiled_checks`) are not run, their error said as a run says it
    (a run compiled them before it evaluates them on ``table``).
    """
    uncompiled = io_manager.uncompiled_checks(spec) if compile_first and spec.checks else {}
    return [
        AssetCheckResult(
            **_result_of(spec, check), passed=False, violations=None, error=uncompiled[check.name]
        )
        if check.name in uncompiled
        else evaluate_check(spec, check, io_manager, table)
        for check in spec.checks
    ]


def not_run_checks(spec: AssetSpec, reason: str) -> list[AssetCheckResult]:
    """Every check of ``spec`` as not evaluated, for ``reason`` (its table was never
    built, so an empty table created from the DDL would pass them all)."""
    return [
        AssetCheckResult(
            asset=spec.key,
            table=spec.table,
            name=check.name,
            severity=check.severity,
            passed=False,
            violations=None,
            description=check.description,
            not_run=reason,
        )
        for check in spec.checks
    ]


def _json_ready(row: Mapping[str, Any]) -> dict[str, Any]:
    """An example row with every value JSON-serializable (dates, decimals become text)."""
    ready: dict[str, Any] = {}
    for column, value in row.items():
        if value is None or isinstance(value, (bool, int, str)):
            ready[column] = value
        elif isinstance(value, float):
            ready[column] = value if math.isfinite(value) else str(value)
        elif isinstance(value, (bytes, bytearray)):
            ready[column] = value.hex()
        else:
            ready[column] = str(value)
    return ready


#: How many sources a failed check's line names before counting the rest.
SOURCES_NAMED = 3


def reload_phrase(to_reload: Sequence[tuple[str, int]]) -> str:
    """``900 need a.csv loaded again, 12 b.csv (and 2 more sources)``: the rows of each
    source a check found that must be loaded again, the biggest first."""
    (first, rows), *others = to_reload
    named = [f"{rows:,} need {first} loaded again"]
    named += [f"{rows:,} {source}" for source, rows in others[: SOURCES_NAMED - 1]]
    more = len(others) - (SOURCES_NAMED - 1)
    rest = f" (and {more} more source{'s' if more > 1 else ''})" if more > 0 else ""
    return ", ".join(named) + rest


def format_example(row: Mapping[str, Any]) -> str:
    """An example row as ``{column=value, ...}``, bounded for one report line."""
    text = ", ".join(f"{column}={value!r}" for column, value in row.items())
    return "{" + (text if len(text) <= 200 else text[:197] + "...") + "}"
