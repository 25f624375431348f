"""Keys a SELECT makes unique by itself, proven from its parse tree.

Validation counts duplicates with ``count(x) - uniqExact(x)``, a hash set of every key of
the staged table: on a million-row vault link that is most of the validation's time. A
SELECT whose outermost clause is ``GROUP BY k``, ``DISTINCT`` or ``LIMIT 1 BY k`` returns
each ``k`` once by construction, so that count can only be zero and is not run.

The proof reads sqlglot's ClickHouse parse tree, never the text, and says nothing
(validation then counts as before) whenever any part of the query could break it:
a ``UNION``, ``arrayJoin`` in the select list (it multiplies rows after grouping),
``WITH TOTALS``/``ROLLUP``/``CUBE``/``GROUPING SETS``, ``ORDER BY ... WITH FILL``, a
``SETTINGS`` clause, a key that is not an output column, ``*`` or ``COLUMNS(...)``
(names unknown), duplicate or unnamed outputs, or a query sqlglot cannot parse. The
caller also holds each key column to the table's type (:func:`proven_unique_keys`): a
cast on insert (Int64 into Int8) could make distinct values equal.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from io_managers.sql_analysis import parse_select
from io_managers.types import ClickHouseType
from orchestration.io_manager import SqlAnalysisError


def unique_output_keys(select: str) -> tuple[frozenset[str], ...]:
    """Sets of output column names on which the rows of ``select`` are unique."""
    try:
        query = parse_select(select)
    except SqlAnalysisError:
        return ()
    if not isinstance(query, exp.Select):
        return ()  # a UNION: each branch may repeat the other's rows
    outputs = _outputs(query)
    if outputs is None or query.args.get("settings") or _has_fill(query):
        return ()
    group = query.args.get("group")
    if group is not None and any(v for k, v in group.args.items() if k != "expressions"):
        return ()  # WITH TOTALS, ROLLUP, CUBE, GROUPING SETS, ALL: rows beyond the groups
    keys: list[frozenset[str]] = []
    if group is not None:
        named = _grouped_outputs(group, outputs)
        if named:
            keys.append(named)
    distinct = query.args.get("distinct")
    if isinstance(distinct, exp.Distinct) and distinct.args.get("on") is None:
        keys.append(frozenset(name for name, _ in outputs))
    limited_by = _limit_one_by(query)
    if limited_by:
        named = _matched(limited_by, outputs)
        if named:
            keys.append(named)
    return tuple(keys)


def proven_unique_keys(
    select: str,
    produced: Mapping[str, ClickHouseType],
    target: Mapping[str, ClickHouseType],
) -> tuple[frozenset[str], ...]:
    """:func:`unique_output_keys` whose columns reach the table unchanged: the SELECT's
    type (``DESCRIBE``, the engine's own answer) is the column's exact type, and not a
    float (``0.0``/``-0.0`` and NaNs group differently from how they count)."""

    def kept(name: str) -> bool:
        made, held = produced.get(name), target.get(name)
        return (
            made is not None and held is not None and made.text == held.text and not made.is_float
        )

    return tuple(key for key in unique_output_keys(select) if all(map(kept, key)))


def _outputs(query: exp.Select) -> list[tuple[str, exp.Expression]] | None:
    """``(output name, expression)`` per select item; None when the list is not plain."""
    outputs: list[tuple[str, exp.Expression]] = []
    for item in query.expressions:
        if item.unalias().is_star or item.find(exp.Columns, exp.Explode, exp.Unnest):
            return None  # names unknown here (*, t.*, COLUMNS(...)), or rows multiplied
        if any(f.name.lower() == "arrayjoin" for f in item.find_all(exp.Anonymous)):
            return None
        name = item.alias_or_name
        if not name:
            return None
        outputs.append((name, item.unalias()))
    names = [name for name, _ in outputs]
    return outputs if len(set(names)) == len(names) else None


def _grouped_outputs(
    group: exp.Group, outputs: list[tuple[str, exp.Expression]]
) -> frozenset[str] | None:
    if not group.expressions or any(
        isinstance(grouped, exp.Literal) for grouped in group.expressions
    ):
        return None  # positional (GROUP BY 1): not worth proving
    return _matched(group.expressions, outputs)


def _matched(
    expressions: list[exp.Expression], outputs: list[tuple[str, exp.Expression]]
) -> frozenset[str] | None:
    """The output names ``expressions`` (of GROUP BY or LIMIT BY) are, or None if one of
    them is not an output.

    A bare name is the output of that name, as ClickHouse resolves it: a SELECT's
    aliases take precedence over the columns it reads (``prefer_column_name_to_alias =
    0``, which :data:`io_managers.statements.SELECT_SETTINGS` pins). Anything else must
    be projected exactly as written.
    """
    names: set[str] = set()
    for wanted in expressions:
        found = []
        if isinstance(wanted, exp.Column) and not wanted.table:
            found = [name for name, _ in outputs if name == wanted.name]
        if not found:  # no output of that name: the column itself, projected
            found = [name for name, expression in outputs if expression == wanted]
        if not found:
            return None
        names.add(found[0])
    return frozenset(names)


def _limit_one_by(query: exp.Select) -> list[exp.Expression]:
    """The BY list of ``LIMIT 1 BY ...`` (no offset); empty for any other LIMIT."""
    limit = query.args.get("limit")
    if not isinstance(limit, exp.Limit) or query.args.get("offset") is not None:
        return []
    count = limit.expression
    return list(limit.expressions) if isinstance(count, exp.Literal) and count.this == "1" else []


def _has_fill(query: exp.Select) -> bool:
    order = query.args.get("order")
    return order is not None and any(o.args.get("with_fill") for o in order.expressions)
