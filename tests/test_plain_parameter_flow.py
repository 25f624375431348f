"""A materialization's parameters are stored exactly as Prefect's own encoder would."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect.flows import Flow

from orchestration.plain_parameter_flow import PlainParameterFlow


def _body(select: str | None = None, source: object = None, day: object = None) -> None:
    """A flow body with the materialization's parameters, and one more."""


def test_json_scalars_are_stored_as_prefect_stores_them():
    parameters = {"select": "fact_sales+", "source": None}
    ours = PlainParameterFlow(_body).serialize_parameters(parameters)
    assert ours == Flow(_body).serialize_parameters(parameters) == parameters
    assert ours is not parameters  # a copy: Prefect keeps the caller's dict untouched


def test_other_values_still_go_through_prefects_encoder():
    parameters = {"select": None, "source": Path("/data/retail.csv"), "day": date(2011, 12, 9)}
    encoded = {"select": None, "source": "/data/retail.csv", "day": "2011-12-09"}
    assert Flow(_body).serialize_parameters(parameters) == encoded
    assert PlainParameterFlow(_body).serialize_parameters(parameters) == encoded
