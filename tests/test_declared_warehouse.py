"""The warehouse an asset body is handed (``context.io_manager``) reads as documented.

A code location declares ``warehouse_io_manager``; what a Python asset's context holds is
that declared warehouse, not a ``ClickHouseIOManager``. docs/warehouse.md ("Reading")
lists ``query_df`` beside ``query_arrow``, so an asset reading its upstream with either
must work on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from io_managers import warehouse_io_manager

QUERY = "SELECT toUInt32(7) AS n, 'seven' AS label"


@pytest.fixture(params=["embedded", "server"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "server":
        return str(request.getfixturevalue("clickhouse_test_url"))
    return f"chdb://{tmp_path / 'wh'}"


def test_query_df_gives_a_dataframe_with_the_warehouse_dtypes(location: str):
    warehouse = warehouse_io_manager(location)
    try:
        frame = warehouse.query_df(QUERY)
    finally:
        warehouse.close()
    assert frame.to_dict("list") == {"n": [7], "label": ["seven"]}
    assert str(frame["n"].dtype) == "uint32"


def test_query_df_and_query_arrow_agree(location: str):
    warehouse = warehouse_io_manager(location)
    try:
        assert warehouse.query_df(QUERY).equals(warehouse.query_arrow(QUERY).to_pandas())
    finally:
        warehouse.close()


def test_the_declared_warehouse_hands_on_every_question_the_warehouse_answers():
    """The declared warehouse answers the IOManager defaults itself for any method it does
    not hand on, silently: ``row_counts`` left out, a CLI run's lineage page counted no
    table (the default counts none) where the library call on ``ClickHouseIOManager``
    counted them all. Every IOManager method the warehouse implements is handed on."""
    from io_managers import ClickHouseIOManager, DeclaredWarehouse
    from orchestration.io_manager import IOManager

    answered = {
        name
        for name, member in vars(IOManager).items()
        if callable(member)
        and not name.startswith("_")
        and getattr(ClickHouseIOManager, name) is not member
    }
    assert answered, "the warehouse implements no IOManager method"
    left_to_defaults = sorted(
        name for name in answered if getattr(DeclaredWarehouse, name) is vars(IOManager)[name]
    )
    assert left_to_defaults == []
