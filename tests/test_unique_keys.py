"""An insert-only asset's key is stated once, in its schema, and checked once."""

from __future__ import annotations

import pandera.pandas as pa
import pytest
from pandera.typing import Series

from io_managers.types import parse_type
from io_managers.validation import plan_validation
from orchestration.asset import AssetDefinitionError, AssetSpec
from schemas.vault import HubCustomer, SatTime


class NoKey(pa.DataFrameModel):
    n: Series[int]


def insert_only(schema, **kwargs) -> AssetSpec:
    return AssetSpec(
        key="k",
        table="db.k",
        body=lambda context: None,
        kind="sql",
        schema=schema,
        write_mode="insert_new",
        **kwargs,
    )


def test_the_key_is_the_first_column_the_schema_marks_unique():
    assert insert_only(HubCustomer).unique_key == ("hub_customer_hash_key",)


def test_a_schema_level_unique_set_is_a_composite_key():
    assert insert_only(SatTime).unique_key == ("hub_time_hash_key", "HASH_DIFF")


def test_a_schema_given_by_reference_is_read_only_when_the_key_is_needed():
    spec = insert_only("schemas.vault:HubCustomer")
    assert isinstance(spec.__dict__["_schema"], str)
    assert spec.unique_key == ("hub_customer_hash_key",)


def test_a_declared_unique_key_wins_over_the_schema():
    assert insert_only(HubCustomer, unique_key=["CustomerID"]).unique_key == ("CustomerID",)


def test_a_schema_without_a_unique_column_says_how_to_give_the_key():
    spec = insert_only(NoKey)
    with pytest.raises(AssetDefinitionError, match="mark the key unique in its schema"):
        spec.unique_key  # noqa: B018 - the key is read from the schema on first use


def test_a_key_both_unique_in_the_schema_and_published_by_is_counted_once():
    columns = {name: parse_type(kind) for name, kind in HUB_CUSTOMER_DDL.items()}
    plan = plan_validation(HubCustomer, columns, unique_key=("hub_customer_hash_key",))
    counted = [check.duplicates_of for check in plan.checks if check.duplicates_of]
    assert counted.count(("hub_customer_hash_key",)) == 1
    assert counted.count(("CustomerID",)) == 1


HUB_CUSTOMER_DDL = {
    "hub_customer_hash_key": "UUID",
    "CustomerID": "UInt64",
    "LOAD_DATETIME": "DateTime64(0, 'UTC')",
    "RECORD_SOURCE": "String",
}
