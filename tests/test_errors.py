"""How a failure reads depends on its type: this project's explanations stand alone,
anything else keeps the class name that says what kind of failure it is."""

from __future__ import annotations

import pyarrow as pa
import pytest

from assets.sources import SourceError
from assets.sources.places import Place
from io_managers import ClickHouseIOManager, MaterializationError, WarehouseQueryError
from orchestration.errors import ExpectedError, describe_error
from orchestration.selection import EmptySelectionError


def test_the_projects_own_explanation_is_shown_without_its_class() -> None:
    place = Place(row=4, unit="line", first=5, last=5)
    error = SourceError("not a number: 'abc'", source="bad.csv", place=place, column="Quantity")
    assert describe_error(error) == "bad.csv, line 5, column 'Quantity': not a number: 'abc'"
    assert describe_error(MaterializationError("asset 'a' (table t.a): its SELECT failed"))
    assert describe_error(EmptySelectionError("nope")) == "asset selection 'nope' matches no asset"


def test_a_library_error_keeps_its_class_which_is_part_of_the_meaning() -> None:
    with pytest.raises(pa.ArrowInvalid) as arrow:
        pa.array(["x"]).cast(pa.int64())
    assert describe_error(arrow.value).startswith("ArrowInvalid: Failed to parse string: 'x'")
    # A KeyError's message is only the key: without the class it says nothing.
    assert describe_error(KeyError("customer_id")) == "KeyError: 'customer_id'"
    assert describe_error(RuntimeError()) == "RuntimeError"


def test_the_engines_refusal_of_the_projects_sql_keeps_its_class(tmp_path) -> None:
    with ClickHouseIOManager.embedded(tmp_path / "wh") as io, pytest.raises(Exception) as engine:
        io.query_arrow("SELECT no_such_column FROM system.one")
    assert isinstance(engine.value, WarehouseQueryError)
    assert not isinstance(engine.value, ExpectedError)
    assert describe_error(engine.value).startswith("WarehouseQueryError: ")


def test_a_syntax_error_keeps_the_engines_keyword_guess_and_few_of_its_alternatives() -> None:
    """Newer engines name the keyword a typo most likely meant (ClickHouse's parseQuery.cpp
    wording); it is the most useful word of the message, so it stays."""
    from io_managers.select_syntax import syntax_error_in

    message = (
        "Syntax error: failed at position 15 (FORM): FORM t. Maybe you meant: FROM. "
        "Expected one of: token, Comma, FROM, PREWHERE, WHERE, GROUP BY, WITH. (SYNTAX_ERROR)"
    )
    assert syntax_error_in("SELECT 1 AS a FORM t", message) == (
        "syntax error at line 1, col 15, at 'FORM': maybe you meant FROM; "
        "expected one of: token, Comma, FROM, PREWHERE, WHERE, ..."
    )
