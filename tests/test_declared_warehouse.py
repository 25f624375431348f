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
