"""An asset's SELECT inserted so that no value is lost silently on the way into its table.

``INSERT ... SELECT`` converts each output column to its table column's type without a
word: an Int32 300 into Int8 is 44, a Float64 2.7 into Int32 is 2, an Int32 -1 into
UInt32 is 4294967295, a Decimal(12, 4) 1.2345 into Decimal(12, 2) is 1.23, a
DateTime64(6) into DateTime64(3) loses its microseconds. Refusing such a *type* stopped
valid runs (an Int32 whose values all fit Int8 is fine), so a run refuses a *value*: each
output column whose conversion :func:`~io_managers.type_fit.silent_loss` names is
guarded in the INSERT's own SELECT. An integer or float one is wrapped in ClickHouse's
``accurateCast(column, 'Type')``, which converts each value that fits as the INSERT would
and fails the statement at the first that does not. ``accurateCast`` cuts a Decimal's
scale and a DateTime64's sub-seconds as the INSERT does, so such a column is compared
with itself cut to the digits its column keeps (``trunc`` of a Decimal, the ticks of a
DateTime64), and ``throwIf`` fails the statement at the first that differs; the column
goes in as it is. The engine decides, row by row, in the same statement; nothing reaches
the published table (the run fails while staging). A NULL into a plain column needs no
guard: the INSERT refuses it by itself (``insert_null_as_default = 0``).

Only a column of another type than its table's is looked at, in Python, from the
``DESCRIBE`` the run reads anyway: a SELECT of its table's types (the shipped pipeline)
is inserted as it is written, with no statement more.

The engine's refusal names a type, not the column. So when the INSERT is refused, one
query (:func:`first_refused`) runs the SELECT again up to the first row one of these
columns refuses, and the run's error names that column, its types and the value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from io_managers.errors import WarehouseQueryError
from io_managers.queries import WarehouseQueries
from io_managers.sql import quote_identifier, quote_string
from io_managers.statements import SELECT_SETTINGS
from io_managers.type_fit import kept_digits, silent_loss
from io_managers.types import ClickHouseType
from orchestration.errors import Place

#: How the message a guard's ``throwIf`` fails the INSERT with begins: a value of the
#: column it names would lose digits after the point.
_CUT = "the INSERT would cut a value of column"
#: The engine's error codes when a guard of an INSERT refuses a value: accurateCast's
#: (``CANNOT_CONVERT_TYPE``), a cut one's ``throwIf`` (``FUNCTION_THROW_IF_VALUE_IS_NON_ZERO``)
#: and the INSERT's own for a NULL into a plain column
#: (``CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN``). Told by code, not by words another
#: version may change or a long message may lose.
_REFUSED_CODES = frozenset({70, 349, 395})


@dataclass(frozen=True)
class Guard:
    """An output column whose INSERT into its table column refuses some values."""

    name: str
    produced: ClickHouseType
    column: ClickHouseType
    #: What the INSERT would do to a value unguarded (``Int32 values wrap in Int8``);
    #: None: the column is not guarded, only its NULLs are refused.
    loss: str | None
    #: The digits after the point the column keeps of a value
    #: (:func:`~io_managers.type_fit.kept_digits`), which ``accurateCast`` would cut as
    #: the INSERT does: the value is compared with itself cut. None: ``accurateCast``.
    digits: int | None = None

    @property
    def cast(self) -> str:
        """The table column's type as ``accurateCast`` takes it: a LowCardinality one is
        not cast to (the INSERT makes it of its base type without loss)."""
        base = self.column.name
        return f"Nullable({base})" if self.column.nullable else base

    def wrapped(self) -> str:
        """The column as the INSERT takes it: a cut one as it is, once ``throwIf`` (0, or
        the statement fails) found no digit of it cut."""
        name = quote_identifier(self.name)
        if self.loss is None:
            return name
        if self.digits is not None:
            message = quote_string(f"{_CUT} {self.name}: {self.loss}")
            return f"if(throwIf({self._cut(self.digits)}, {message}), {name}, {name})"
        return f"accurateCast({name}, {quote_string(self.cast)})"

    def refuses(self) -> str:
        """A condition true for a value of the column that its INSERT refuses."""
        name = quote_identifier(self.name)
        if self.loss is None:
            return f"isNull({name})"
        if self.digits is not None:
            # A NULL's cut is NULL: refused here only where the INSERT refuses it.
            cut = self._cut(self.digits)
            return cut if self.column.nullable else f"(isNull({name}) OR {cut})"
        refused = f"isNull(accurateCastOrNull({name}, {quote_string(self.column.name)}))"
        return f"({refused} AND isNotNull({name}))" if self.column.nullable else refused

    def _cut(self, digits: int) -> str:
        """A condition true for a value with a digit other than 0 beyond ``digits`` after
        the point (NULL for a NULL): a Decimal unequal to itself truncated to them,
        a DateTime64 whose ticks (units of its last digit) are no multiple of the unit of
        the last digit kept. Neither overflows, as a CAST into the column could (the INSERT
        reports that itself); nor does a DateTime64 beyond a DateTime's range count as
        cut."""
        name = quote_identifier(self.name)
        if self.produced.decimal_precision_scale is not None:
            return f"{name} != trunc({name}, {digits})"
        step = 10 ** (self.produced.fraction_digits - digits)
        return f"reinterpretAsInt64({name}) % {step} != 0"


def guards(
    produced: Mapping[str, ClickHouseType], columns: Mapping[str, ClickHouseType]
) -> list[Guard]:
    """The output columns of types ``produced`` whose INSERT into ``columns`` refuses
    some values: those :func:`~io_managers.type_fit.silent_loss` names (guarded), and
    Nullable ones into a plain column. Empty when each output is of its column's type."""
    found = []
    for name, made in produced.items():
        column = columns.get(name)
        if column is None or column == made:
            continue
        loss = silent_loss(made, column)
        if loss or (made.nullable and not column.nullable):
            found.append(Guard(name, made, column, loss, kept_digits(made, column)))
    return found


def guarded_select(select: str, produced: Sequence[str], found: Sequence[Guard]) -> str:
    """``select`` as its INSERT runs it: unchanged when no column is guarded, else its
    columns in order (the INSERT takes them by position), each guarded one wrapped."""
    wrapped = {guard.name: guard.wrapped() for guard in found if guard.loss}
    if not wrapped:
        return select
    columns = ", ".join(wrapped.get(name, quote_identifier(name)) for name in produced)
    return f"SELECT {columns} FROM (\n{select}\n)"


def first_refused(
    queries: WarehouseQueries, select: str, found: Sequence[Guard], refusal: WarehouseQueryError
) -> tuple[Guard, str | None] | None:
    """The column of ``found`` and the value (None: a NULL) the INSERT of ``select``
    refused, read by running ``select`` again up to the first such row; None when the
    INSERT's ``refusal`` is not a refused conversion, or the row is not found again (a
    SELECT that gives other rows each time), and the engine's error is all there is."""
    if not found or refusal.code not in _REFUSED_CODES:
        return None
    refused = [guard.refuses() for guard in found]
    first = ", ".join(f"{condition}, {number}" for number, condition in enumerate(refused))
    value = ", ".join(
        f"{condition}, toString({quote_identifier(guard.name)})"
        for condition, guard in zip(refused, found, strict=True)
    )
    probe = (
        f"SELECT multiIf({first}, -1) AS guard, multiIf({value}, NULL) AS value "
        f"FROM (\n{select}\n) WHERE {' OR '.join(refused)} LIMIT 1 SETTINGS {SELECT_SETTINGS}"
    )
    try:
        rows = queries.rows(probe)
    except WarehouseQueryError:
        return None
    if not rows:
        return None
    return found[int(rows[0]["guard"])], rows[0]["value"]


@dataclass(frozen=True)
class Output:
    """What gave the values a run refused, in the words of its error
    (:func:`refused_value`)."""

    #: Whose type a value was of: the ``SELECT``'s Int32.
    noun: str
    #: Who refused it, and how.
    refusal: str
    #: The way out in the asset's code, besides widening the column.
    cast: str


#: A SQL asset's SELECT, whose INSERT the engine refused (:func:`first_refused`).
SELECT_OUTPUT = Output("SELECT", "ClickHouse refused the INSERT", "CAST it in the SELECT")


def refused_value(
    guard: Guard,
    value: str | None,
    declared: Place | None,
    code: Place | None,
    output: Output,
) -> str:
    """Why ``value`` (None: a NULL) of ``guard``'s column was refused, and the two ways
    out: the column declared at ``declared``, or the ``output`` made at ``code``."""
    column = f"the table's {guard.column.text}"
    made = f"the {output.noun}'s {guard.produced.text}"
    if value is None:
        said = f"a NULL of {made} does not fit {column}, which holds no NULL"
        ways = ("make the column Nullable", f"or replace the NULL in the {output.noun}")
    else:
        said = f"the value {value} of {made} does not fit {column} ({guard.loss})"
        ways = ("widen the column", f"or {output.cast}")
    return (
        f"column {guard.name}: {said}, so {output.refusal}; "
        f"{_at(ways[0], declared)} {_at(ways[1], code)}"
    )


def _at(text: str, place: Place | None) -> str:
    return f"{text} ({place})" if place else text
