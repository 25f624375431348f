"""Impact analysis of a column: what downstream uses it, before it is changed or dropped.

:func:`downstream` follows a column from table to table the other way from
:func:`~orchestration.column_lineage.upstream_chain`, through the same lineage: each
column computed from it (``used_by``, and theirs in turn), the assets whose SQL reads it
without computing a column from it (``read_by``: a filter, a join, a grouping, which
break as surely when it is renamed), the asset checks whose SQL reads it (``checks``),
and the assets and checks reading its table whose use of it is not known (``untraced``:
a Python asset that declares no column lineage, SQL that cannot be analysed). ``pipeline
lineage --column C --downstream`` prints the tree (:func:`downstream_lines`); an asset
page shows each column's :func:`uses`, the same tree with each use once, nearest first.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestration.column_lineage import LOADS_A_SOURCE, AssetColumnLineage, check_column

#: What a column's text says when nothing downstream reads it.
UNUSED = "Used by no column, asset's SQL or check downstream: nothing reads it."
#: Indent of each step of the text tree, as ``pipeline lineage --column`` indents its chain.
_STEP = "    "


@dataclass(frozen=True, order=True)
class CheckRef:
    """An asset check, by its asset and name."""

    asset: str
    check: str

    def as_dict(self) -> dict[str, str]:
        return {"asset": self.asset, "check": self.check}

    def __str__(self) -> str:
        return f"{self.asset}.{self.check}"


@dataclass(frozen=True)
class Untraced:
    """An asset, or a check of one (``check``), that reads a column's table and may use the
    column: ``note`` says why which columns it reads is not known."""

    asset: str
    check: str | None
    note: str

    def as_dict(self) -> dict[str, str | None]:
        return {"asset": self.asset, "check": self.check, "note": self.note}


@dataclass(frozen=True)
class DownstreamNode:
    """One column, and what downstream uses it (see the module's docstring)."""

    column: str
    asset: str | None
    used_by: tuple[DownstreamNode, ...] = ()
    read_by: tuple[str, ...] = ()
    checks: tuple[CheckRef, ...] = ()
    untraced: tuple[Untraced, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The tree from here as plain data (``pipeline lineage --column C --downstream
        --format json``), each column computed from it nested alike."""
        return {
            "column": self.column,
            "asset": self.asset,
            "used_by": [node.as_dict() for node in self.used_by],
            "read_by": list(self.read_by),
            "checks": [check.as_dict() for check in self.checks],
            "untraced": [reader.as_dict() for reader in self.untraced],
        }


@dataclass
class _Readers:
    """Who reads each column, indexed once over every asset's lineage, in its order."""

    owner: dict[str, str] = field(default_factory=dict)
    computed: dict[str, list[str]] = field(default_factory=dict)
    read_by: dict[str, list[str]] = field(default_factory=dict)
    checks: dict[str, list[CheckRef]] = field(default_factory=dict)
    #: Assets without column lineage by the asset whose table they read; checks that
    #: cannot be analysed by the table they read.
    untraced_of_asset: dict[str, list[Untraced]] = field(default_factory=dict)
    untraced_of_table: dict[str, list[Untraced]] = field(default_factory=dict)

    @classmethod
    def index(cls, lineage: Iterable[AssetColumnLineage]) -> _Readers:
        readers = cls()
        for item in lineage:
            readers.owner[item.table] = item.key
            readers._add_columns(item)
            for check in item.checks:
                if check.columns is None:
                    untraced = Untraced(item.key, check.check, check.note)
                    for table in check.tables:
                        readers.untraced_of_table.setdefault(table, []).append(untraced)
                for column in check.columns or ():
                    readers.checks.setdefault(column, []).append(CheckRef(item.key, check.check))
        return readers

    def _add_columns(self, item: AssetColumnLineage) -> None:
        if item.columns is None:
            if item.origin != LOADS_A_SOURCE:  # which of its upstream's columns: unknown
                for dep in item.deps:
                    reader = Untraced(item.key, None, item.origin)
                    self.untraced_of_asset.setdefault(dep, []).append(reader)
            return
        fed: set[str] = set()
        for name, sources in item.columns.items():
            for source in sources:
                self.computed.setdefault(source, []).append(f"{item.table}.{name}")
            fed.update(sources)
        for column in item.reads or ():
            if column not in fed:
                self.read_by.setdefault(column, []).append(item.key)

    def node(self, column: str, path: frozenset[str]) -> DownstreamNode:
        """``column`` and what uses it; a column already on ``path`` is no use of it (an
        incremental load reads its own table's earlier rows)."""
        table = column.rpartition(".")[0]
        asset = self.owner.get(table)
        children = [c for c in dict.fromkeys(self.computed.get(column, ())) if c not in path]
        untraced = [
            *self.untraced_of_asset.get(asset or "", ()),
            *self.untraced_of_table.get(table, ()),
        ]
        return DownstreamNode(
            column,
            asset,
            tuple(self.node(child, path | {child}) for child in children),
            tuple(k for k in dict.fromkeys(self.read_by.get(column, ())) if k != asset),
            tuple(dict.fromkeys(self.checks.get(column, ()))),
            tuple(dict.fromkeys(untraced)),
        )


def downstream(lineage: Iterable[AssetColumnLineage], column: str) -> DownstreamNode:
    """``database.Table.column`` and everything downstream that uses it.

    ``lineage`` holds the asset writing it and every asset downstream of that. Raises
    KeyError naming the column when no asset has it, as :func:`upstream_chain` does.
    """
    items = list(lineage)
    check_column({item.table: item for item in items}, column)
    return _Readers.index(items).node(column, frozenset({column}))


@dataclass(frozen=True)
class Uses:
    """Everything downstream that uses one column, each once, nearest first: the columns
    computed from it (with their assets), the assets whose SQL reads it or them without
    computing a column, the checks reading it or them, and who may use them."""

    columns: tuple[tuple[str, str | None], ...] = ()
    read_by: tuple[str, ...] = ()
    checks: tuple[CheckRef, ...] = ()
    untraced: tuple[Untraced, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.columns or self.read_by or self.checks or self.untraced)

    @property
    def assets(self) -> tuple[str, ...]:
        """The assets of :attr:`columns`, each once."""
        return tuple(dict.fromkeys(asset for _, asset in self.columns if asset))


def uses(node: DownstreamNode) -> Uses:
    """``node``'s tree with each use once, nearest first (breadth first)."""
    order = list(_breadth_first(node))
    return Uses(
        tuple(dict.fromkeys((n.column, n.asset) for n in order[1:])),
        tuple(dict.fromkeys(k for n in order for k in n.read_by)),
        tuple(dict.fromkeys(c for n in order for c in n.checks)),
        tuple(dict.fromkeys(u for n in order for u in n.untraced)),
    )


def _breadth_first(node: DownstreamNode) -> Iterator[DownstreamNode]:
    level = [node]
    while level:
        yield from level
        level = [child for n in level for child in n.used_by]


def uses_by_column(
    lineage: Iterable[AssetColumnLineage], table: str, names: Iterable[str]
) -> dict[str, Uses]:
    """What uses each column ``names`` of ``table`` downstream, for its asset's page:
    :func:`downstream` from one index of ``lineage`` (the asset's and its descendants')."""
    readers = _Readers.index(lineage)
    return {
        name: uses(readers.node(column, frozenset({column})))
        for name in names
        if (column := f"{table}.{name}")
    }


def downstream_lines(node: DownstreamNode, width: int | None = None) -> list[str]:
    """The tree as text, a column a line, each step indented under the column it is
    computed from, then what uses the tree in all, in a sentence.

    Given a terminal's ``width``, a line that does not fit goes on under itself, broken
    between names, never inside one; without it (piped), a column is one line, for grep."""
    tree = _tree_lines(node, 0)
    summary = _summary(uses(node))
    if width is None:
        return [*tree, *([""] if len(tree) > 1 else []), summary]
    tree = [part for line in tree for part in _fitted(line, width)]
    return [*tree, *([""] if len(tree) > 1 else []), *_wrapped(summary, width)]


def _tree_lines(node: DownstreamNode, depth: int) -> list[str]:
    """``node``'s line, then, a step in, who reads it besides the columns computed from
    it (next to it, not under a long subtree), then those columns, each with its own."""
    inner = _STEP * (depth + 1)
    lines = [f"{_STEP * depth}{'-> ' if depth else ''}{node.column}{_asset(node.asset)}"]
    if node.checks:
        lines.append(f"{inner}read by check {', '.join(map(str, node.checks))}")
    if node.read_by:
        lines.append(f"{inner}read by the SQL of {', '.join(node.read_by)} (not into a column)")
    maybe = dict.fromkeys(_named(reader) for reader in node.untraced)
    lines += [f"{inner}maybe used by {name} (its use is not known)" for name in maybe]
    for child in node.used_by:
        lines += _tree_lines(child, depth + 1)
    return lines


def _asset(key: str | None) -> str:
    return f"  [{key}]" if key else ""


def _summary(used: Uses) -> str:
    """What uses the column in all, counted, and who may use it, and why that is not known."""
    if not used:
        return UNUSED
    said = []
    if used.columns:
        columns, assets = _count(len(used.columns), "column"), _count(len(used.assets), "asset")
        said.append(f"used by {columns} of {assets}")
    read = [_count(len(used.checks), "check")] if used.checks else []
    if used.read_by:
        read.insert(0, f"the SQL of {_count(len(used.read_by), 'asset')} (not into a column)")
    if read:
        said.append(f"read by {' and by '.join(read)}")
    if used.untraced:
        said.append(f"maybe used by {', '.join(f'{_named(u)} ({u.note})' for u in used.untraced)}")
    sentence = "; ".join(said) + "."
    return sentence[0].upper() + sentence[1:]


def _named(reader: Untraced) -> str:
    return f"{reader.asset}.{reader.check}" if reader.check else reader.asset


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fitted(line: str, width: int) -> list[str]:
    """A line of the tree within ``width``: broken between names, each further part
    indented a step more than the line."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    return _wrapped(line, width, indent + _STEP)


def _wrapped(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` broken at spaces within ``width``, never inside a name, which may be
    longer than a line."""
    return textwrap.wrap(
        text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
