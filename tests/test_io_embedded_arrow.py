"""The embedded transport reads chdb's Arrow results itself (chdb's own conversion
imports pandas only to check it is there): the table must be what the engine returned,
and must outlive the engine's result buffer."""

from __future__ import annotations

import gc

import pyarrow as pa
import pytest

from io_managers.transport import EmbeddedTransport


@pytest.fixture
def transport(tmp_path):
    opened = EmbeddedTransport(tmp_path / "warehouse")
    yield opened
    opened.close()


def test_a_select_comes_back_with_its_values_and_types(transport):
    table = transport.query_arrow(
        "SELECT number AS n, toNullable(toInt32(number)) AS maybe, toString(number) AS s "
        "FROM numbers(3)"
    )

    assert table.column_names == ["n", "maybe", "s"]
    assert table.schema.field("n").type == pa.uint64()
    assert table.schema.field("maybe").type == pa.int32()
    assert table.schema.field("maybe").nullable
    assert table.to_pylist() == [
        {"n": 0, "maybe": 0, "s": "0"},
        {"n": 1, "maybe": 1, "s": "1"},
        {"n": 2, "maybe": 2, "s": "2"},
    ]


def test_a_statement_without_a_result_is_an_empty_table(transport):
    table = transport.query_arrow("CREATE TABLE t (x UInt8) ENGINE = Memory")

    assert table.num_rows == 0
    assert table.num_columns == 0


def test_the_table_outlives_the_engine_result_it_was_read_from(transport):
    table = transport.query_arrow("SELECT repeat('x', 1000) AS s FROM numbers(10000)")
    gc.collect()
    transport.query_arrow("SELECT repeat('y', 1000) AS s FROM numbers(10000)")  # reuse memory

    assert table.column("s").to_pylist() == ["x" * 1000] * 10000
