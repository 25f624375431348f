"""Findings of ``pipeline validate``: one disagreement each, printed as one line.

A framework type, because findings come from two sides: the graph (a read no asset
covers) and each IO manager's own schema check (a column whose type does not fit).

A finding may come from an exception (an asset's code failing in the ``--sample`` run):
then it keeps whether that failure was foreseen and its traceback, so ``validate`` shows
it the way every command shows an error (:mod:`orchestration.errors`): the line alone for
a foreseen one, a hint that ``--debug`` shows the traceback for any other, and the
traceback itself with ``--debug``.

An asset the ``--sample`` run could not validate (an asset upstream of it failed, or the
run never started) is a finding too, of check :data:`NOT_VALIDATED`: not a problem of its
own, but never left out silently, so the problems' absence there is not read as a pass.
``--json`` lists one per asset; the text output says them in one line.

An asset a graph problem sets aside (its SQL does not parse, it depends on no declared
asset, or it is downstream of one that does) is a finding of check :data:`NOT_CHECKED`,
alike: the other assets are checked, and these are said in one line and counted.

One cause that stops several assets (a schema module that does not import) is one finding
of them all (:func:`shared_cause`): its line names a few, ``--json`` all.

A finding whose words name a place in the user's code (``assets/marts.py:209: ...``)
keeps that place (:class:`~orchestration.errors.Place`) too, where the words were made,
so ``--json`` gives ``file``, ``line`` and ``col`` without a script parsing the sentence.
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from orchestration.errors import ExpectedError, Place, describe_error
from orchestration.user_code import UserCodeError


@dataclass(frozen=True)
class Finding:
    """One disagreement, printed as one line: where, which check, expected vs found."""

    check: str
    asset: str | None = None
    table: str | None = None
    column: str | None = None
    expected: str | None = None
    found: str = ""
    #: Where in the user's code the problem is, when ``found`` says it.
    place: Place | None = None
    #: False for a failure nobody foresaw (not an :class:`ExpectedError`): a bug, an engine
    #: failure. Neither this nor ``traceback`` is part of the line or of ``--json``.
    foreseen: bool = field(default=True, compare=False)
    #: The formatted traceback of the exception the finding reports, if it is one.
    traceback: str = field(default="", compare=False, repr=False)
    #: The assets a cause shared by several stops (then ``asset`` and ``table`` are None).
    assets: tuple[str, ...] = ()
    #: What ``found`` names itself, which the line does not name again: ``asset``,
    #: ``table`` and ``assets`` (a graph problem, worded as every command refuses it),
    #: ``column`` (an output lacking columns, which lists them).
    named_in_found: frozenset[str] = field(default=frozenset(), compare=False)
    #: ``found`` in full, when ``found`` leaves out a part a line does without (the
    #: engine's quote of the SELECT it compiled): ``--verbose``'s line, ``--json``'s
    #: ``found_full``. None: ``found`` is whole (as when they are equal).
    full_found: str | None = field(default=None, compare=False)

    @property
    def affected(self) -> tuple[str, ...]:
        """Every asset the finding stops: its ``assets``, else its ``asset`` if any."""
        return self.assets or ((self.asset,) if self.asset else ())

    @classmethod
    def from_error(
        cls,
        check: str,
        asset: str | None,
        table: str | None,
        exc: BaseException,
        cause: str | None = None,
        place: Place | None = None,
        full_cause: str | None = None,
    ) -> Finding:
        """A finding for an exception: its one-line cause (``cause``, which says
        ``place``, else the exception described, with the place of the user's code it
        names) and that in full (``full_cause`` with ``cause``), and what ``--debug``
        shows."""
        if cause is None and isinstance(exc, UserCodeError):
            place = exc.place
        return cls(
            check,
            asset,
            table,
            found=cause or describe_error(exc),
            place=place,
            full_found=full_cause if cause else describe_error(exc, full=True),
            foreseen=isinstance(exc, ExpectedError),
            traceback="".join(tb.format_exception(exc)),
        )

    def line(self, *, full: bool = False) -> str:
        """The finding as one line; ``full``: with what ``found`` leaves out."""
        named = self.named_in_found
        where = " ".join(
            f"{part} {value}"
            for part, value in (
                ("asset", self.asset),
                ("table", self.table),
                ("column", self.column),
            )
            if value and part not in named
        )
        found = self.found_in_full if full else self.found
        detail = f"expected {self.expected}, found {found}" if self.expected else found
        if self.assets and "assets" not in named:
            detail += f" (affects {count_assets(len(self.assets))}: {_a_few(self.assets)})"
        return f"[{self.check}] {where + ': ' if where else ''}{detail}"

    @property
    def found_in_full(self) -> str:
        """``found``, with what it leaves out if anything."""
        return self.full_found or self.found

    def as_dict(self) -> dict[str, Any]:
        """What ``--json`` gives: where, which check, expected vs found (no traceback);
        ``assets`` too for a finding of several."""
        place = self.place
        fields = {
            "check": self.check,
            "asset": self.asset,
            "table": self.table,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
            "found_full": self.found_in_full,
            "file": place.file if place else None,
            "line": place.line if place else None,
            "col": place.col if place else None,
        }
        return {**fields, "assets": list(self.assets)} if self.assets else fields


def shared_cause(findings: list[Finding]) -> Finding:
    """``findings`` (of one check, with the same ``found``: one cause) as one finding:
    the first alone, or one naming no asset of its own and every asset of theirs, so a
    syntax error in a module is one line, not one for each asset the module serves."""
    if len(findings) == 1:
        return findings[0]
    assets = tuple(key for finding in findings for key in finding.affected)
    return replace(findings[0], asset=None, table=None, assets=assets)


def _a_few(names: tuple[str, ...], shown: int = 3) -> str:
    """``a, b, c and 7 more``: a line stays short however many share a cause."""
    if len(names) <= shown + 1:  # "and 1 more" is no shorter than the name
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


#: The check of a finding that says the ``--sample`` run did not validate an asset.
NOT_VALIDATED = "not_validated"
_UPSTREAM_FAILED = "upstream failed: "
_NOT_STARTED = "sample run not started"


def upstream_failed(asset: str, table: str, failed: Iterable[str]) -> Finding:
    """``asset`` was not materialized in the sample run because ``failed`` (upstream of
    it) failed: its content is unknown, not valid."""
    return Finding(NOT_VALIDATED, asset, table, found=_UPSTREAM_FAILED + ", ".join(sorted(failed)))


def sample_not_started(assets: Iterable[tuple[str, str]]) -> list[Finding]:
    """Each ``(asset, table)`` is unvalidated: a problem of the whole code location (the
    graph, the DDL) stopped the sample run before any asset."""
    return [Finding(NOT_VALIDATED, asset, table, found=_NOT_STARTED) for asset, table in assets]


#: The check of a finding that says a graph problem kept an asset from being checked.
NOT_CHECKED = "not_checked"
_GRAPH_PROBLEM = "graph problem"
_UPSTREAM_GRAPH_PROBLEM = "upstream graph problem: "


def not_checked(asset: str, table: str | None, problems_at: tuple[str, ...]) -> Finding:
    """``asset`` was not checked: it has a graph problem (it is among ``problems_at``, the
    assets with one at or upstream of it), or is downstream of assets that have one."""
    if asset in problems_at:
        return Finding(NOT_CHECKED, asset, table, found=_GRAPH_PROBLEM)
    return Finding(
        NOT_CHECKED, asset, table, found=_UPSTREAM_GRAPH_PROBLEM + ", ".join(problems_at)
    )


def not_checked_line(findings: Iterable[Finding]) -> str:
    """The assets among ``findings`` a graph problem kept from being checked, in one line
    (``[graph] 9 assets not checked: graph problem in dim_product (and 8 assets
    downstream)``); ``""`` if there are none."""
    skipped = [finding for finding in findings if finding.check == NOT_CHECKED]
    if not skipped:
        return ""
    own = sorted(str(finding.asset) for finding in skipped if finding.found == _GRAPH_PROBLEM)
    line = f"[graph] {count_assets(len(skipped))} not checked: graph problem in {', '.join(own)}"
    if downstream := len(skipped) - len(own):
        line += f" (and {count_assets(downstream)} downstream)"
    return line


def is_problem(finding: Finding) -> bool:
    """Whether ``finding`` is a disagreement (not an asset left unchecked or unvalidated)."""
    return finding.check not in (NOT_VALIDATED, NOT_CHECKED)


def not_validated_line(findings: Iterable[Finding]) -> str:
    """The unvalidated assets among ``findings`` in one line, with every asset upstream
    of them that failed (``[sample] 25 assets not validated: upstream failed: a, b``);
    ``""`` if the sample run validated all it was asked to."""
    skipped = [finding for finding in findings if finding.check == NOT_VALIDATED]
    if not skipped:
        return ""
    failed = {
        name
        for finding in skipped
        if finding.found.startswith(_UPSTREAM_FAILED)
        for name in finding.found.removeprefix(_UPSTREAM_FAILED).split(", ")
    }
    causes = [_UPSTREAM_FAILED + ", ".join(sorted(failed))] if failed else []
    causes += sorted({f.found for f in skipped if not f.found.startswith(_UPSTREAM_FAILED)})
    return f"[sample] {count_assets(len(skipped))} not validated: {'; '.join(causes)}"


def count_assets(count: int) -> str:
    """``"1 asset"``, ``"25 assets"``."""
    return f"{count} asset{'' if count == 1 else 's'}"
