"""Code versions change with what defines an asset's output, and only with that."""

from __future__ import annotations

import dataclasses

import pandera.pandas as pa

from orchestration.asset import AssetSpec
from orchestration.code_version import code_version
from tests.memory_io import MemoryIOManager

IO = MemoryIOManager()


class Narrow(pa.DataFrameModel):
    n: int = pa.Field(ge=0)


class Wider(pa.DataFrameModel):
    n: int = pa.Field(ge=-1)


def sql_spec(select: str = "SELECT 1 AS n", **changes) -> AssetSpec:
    spec = AssetSpec(key="a", table="db.a", body=lambda context: select, kind="sql", schema=Narrow)
    return dataclasses.replace(spec, **changes)


def stamped(context) -> str:
    return f"SELECT 1 AS n, toDateTime('{context.load_datetime:%Y-%m-%d %H:%M:%S}') AS loaded"


def test_same_definition_same_version():
    assert code_version(sql_spec(), IO) == code_version(sql_spec(), IO)
    assert len(code_version(sql_spec(), IO)) == 16


def test_changed_sql_changes_the_version():
    assert code_version(sql_spec("SELECT 2 AS n"), IO) != code_version(sql_spec(), IO)


def test_the_runs_load_time_is_left_out():
    # The body reads context.load_datetime; rendering pins it, so two runs agree.
    spec = dataclasses.replace(sql_spec(), body=stamped)
    assert code_version(spec, IO) == code_version(dataclasses.replace(spec), IO)


def test_schema_checks_are_part_of_the_version():
    assert code_version(sql_spec(schema=Wider), IO) != code_version(sql_spec(), IO)


def test_write_mode_is_part_of_the_version():
    insert_only = sql_spec(write_mode="insert_new", unique_key=("n",))
    assert code_version(insert_only, IO) != code_version(sql_spec(), IO)


def test_table_ddl_is_part_of_the_version():
    first = code_version(sql_spec(), IO, table_ddl="CREATE TABLE db.a (n UInt8)")
    second = code_version(sql_spec(), IO, table_ddl="CREATE TABLE db.a (n UInt16)")
    assert first != second


def test_python_body_source_is_the_version():
    def one(context):
        return 1

    def two(context):
        return 2

    base = sql_spec(kind="python", body=one)
    assert code_version(base, IO) != code_version(dataclasses.replace(base, body=two), IO)


def test_declared_code_version_replaces_the_body():
    def one(context):
        return 1

    def two(context):
        return 2

    first = sql_spec(kind="python", body=one, code_version="7")
    assert code_version(first, IO) == code_version(dataclasses.replace(first, body=two), IO)
    assert code_version(first, IO) != code_version(dataclasses.replace(first, code_version="8"), IO)


def test_sql_that_cannot_render_has_a_version_of_its_own():
    def broken(context):
        raise KeyError("partition")

    assert code_version(sql_spec(body=broken), IO) != code_version(sql_spec(), IO)
