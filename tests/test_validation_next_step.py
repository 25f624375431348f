"""A SQL asset whose own SELECT made rows its schema refuses: one stderr line, and a Next
line that says to fix the SELECT (or the schema) before the rerun.

The review's scenario: ``dim_country``'s SELECT read ``vault.hub_country`` twice (``UNION
ALL``), so its rows repeated. The run failed validation in two stderr lines, and its Next
line only reran the asset, which failed the same way: its upstream was as valid as before.

Real engines: embedded ClickHouse (chdb) and the session's Prefect server.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandera.pandas as pa
import pytest
from pandera.typing import Series

from io_managers import ClickHouseIOManager
from orchestration.definitions import Definitions
from orchestration.resolver import materialize, plan_materialization
from orchestration.run_report import MaterializationPlan, RunReport
from tests.checked_dimension_location import defs as LOCATION
from tests.test_edited_checks import _step, _terminal

pytestmark = pytest.mark.usefixtures("prefect_server")


class Customers(pa.DataFrameModel):
    """Unique keys of at most 2: the edited SELECT repeats each, and adds key 3."""

    customer_key: Series[pa.UInt64] = pa.Field(unique=True, le=2)


def _repeated(context) -> str:
    return (
        "SELECT customer_key FROM cdl.customers UNION ALL "
        "SELECT customer_key + 1 AS customer_key FROM cdl.customers"
    )


def _location(*, edited: bool, schema_on: str = "dim_customer") -> Definitions:
    assets = []
    for spec in LOCATION.assets:
        if spec.key == schema_on:
            spec = replace(spec, schema=Customers)
        if spec.key == "dim_customer" and edited:
            spec = replace(spec, body=_repeated)
        assets.append(spec)
    return replace(LOCATION, assets=assets)


def _run(warehouse_dir: Path, location: Definitions) -> tuple[MaterializationPlan, RunReport]:
    graph = location.graph()
    with ClickHouseIOManager.embedded(warehouse_dir) as warehouse:
        warehouse.setup(location.ddl_paths)
        plan = plan_materialization(graph, None)
        return plan, materialize(graph, {"warehouse": warehouse}, None, plan=plan)


def _errors(plan: MaterializationPlan, report: RunReport) -> list[str]:
    return [line for line in _terminal(plan, report).splitlines() if line.startswith("error")]


RERUN = "pipeline materialize --select 'dim_customer+' reruns the failed asset and the 2 skipped"


def test_a_select_edited_into_invalid_rows_is_one_line_and_next_says_fix_the_select(tmp_path):
    warehouse_dir = tmp_path / "warehouse"
    _, passing = _run(warehouse_dir, _location(edited=False))
    assert passing.ok

    plan, report = _run(warehouse_dir, _location(edited=True))
    (failed,) = report.by_status("failed")
    assert failed.key == "dim_customer"
    # One line, naming the first failing check and counting the others; the whole list
    # is the error in full (--verbose, the asset's page).
    (line,) = _errors(plan, report)
    assert line.startswith(
        "error: asset 'dim_customer' (table cdl.dim_customer): failed validation: "
        "column 'customer_key': "
    ), line
    assert line.endswith("(and 1 more check) (nothing published)") or line.endswith(
        "(and 1 more check)"
    ), line
    assert "\n" not in (failed.error or "")
    assert failed.full_error is not None and failed.full_error.count("\n  - ") == 1

    change = failed.code_change
    assert change is not None
    assert _step(plan, report) == (
        f"dim_customer's code changed since it last materialized ({change.versions}): "
        f"fix its SELECT (or the schema), then {RERUN}"
    )


def test_a_select_that_never_made_valid_rows_is_still_what_next_says_to_fix(tmp_path):
    """No build to compare with: the SELECT made the rows from upstream that passed its
    own validation, so the same run fails the same way until it (or the schema) changes."""
    plan, report = _run(tmp_path / "warehouse", _location(edited=True))
    (failed,) = report.by_status("failed")
    assert failed.key == "dim_customer" and failed.code_change is None
    assert _step(plan, report) == (
        f"dim_customer's SELECT made rows its schema refuses: fix its SELECT (or the "
        f"schema), then {RERUN}"
    )


def test_a_python_asset_whose_rows_fail_its_schema_is_rerun_as_before(tmp_path):
    """An ingest's rows are its source's: its own line says what to fix there."""
    plan, report = _run(tmp_path / "warehouse", _location(edited=False, schema_on="orders"))
    (failed,) = report.by_status("failed")
    assert failed.key == "orders"
    assert _step(plan, report).startswith("pipeline materialize --select 'orders+' reruns")
