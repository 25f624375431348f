"""The retail SQL assets' SELECTs, and their checks' SQL, as their asset pages show them.

The page's SQL block does not wrap a line longer than the UI's code column
(:data:`orchestration.asset_page.SQL_WIDTH`): the rest of it is out of sight at the
column's edge, so a reviewer reading ``INNER JOIN ... ON ...`` does not see what it joins
on. A failed check's SQL is shown the same way, as the command that lists its rows.
Pure rendering: what the browser makes of a page is tests/test_lineage_ui.py's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from io_managers import ClickHouseIOManager
from orchestration.asset import AssetSpec
from orchestration.asset_page import SQL_WIDTH, AssetPage, Materialization, PageLinks
from orchestration.checks import AssetCheckResult
from orchestration.context import AssetContext
from orchestration.definitions import load_definitions
from orchestration.run_report import AssetOutcome

GRAPH = load_definitions("assets").graph()
SQL_ASSETS = [spec for spec in GRAPH if spec.kind == "sql"]
CHECKED = [(spec, check.name) for spec in GRAPH for check in spec.checks]
#: A run's load time: the SQL embeds it (LOAD_DATETIME, the run date) at a fixed width.
LOADED = datetime(2026, 12, 6, 19, 15, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterable[ClickHouseIOManager]:
    manager = ClickHouseIOManager.embedded(tmp_path_factory.mktemp("sql-width-warehouse"))
    yield manager
    manager.close()


def page_sql(spec: AssetSpec, io: ClickHouseIOManager) -> list[str]:
    """The lines of the SQL block on ``spec``'s page, rendered as a run renders it
    (``RunReview.sql_of``: the body called with the run's context)."""
    context = AssetContext(
        spec=spec, io_manager=io, load_datetime=LOADED, params={"source": "synthetic:100"}
    )
    outcome = AssetOutcome(spec.key, spec.table, "materialized", 0.1)
    page = AssetPage(
        spec=spec,
        graph=GRAPH,
        materialization=Materialization(outcome, None, "all", LOADED),
        sql=str(spec.body(context)),
    )
    lines = page.markdown(PageLinks()).split("\n")
    start = next(at for at in range(lines.index("## SQL"), len(lines)) if lines[at][:1] == "`")
    fence = lines[start].removesuffix("sql")
    assert fence.strip("`") == "", lines[start]
    return lines[start + 1 : lines.index(fence, start + 1)]


def test_the_retail_location_has_sql_assets() -> None:
    assert {"psa_online_retails", "sat_invoice", "fact_sales"} <= {s.key for s in SQL_ASSETS}


@pytest.mark.parametrize("spec", SQL_ASSETS, ids=lambda spec: spec.key)
def test_no_line_of_an_assets_sql_is_wider_than_its_page_shows(
    spec: AssetSpec, warehouse: ClickHouseIOManager
) -> None:
    lines = page_sql(spec, warehouse)
    assert lines, f"{spec.key}: its page shows no SQL"
    wide = [f"  {len(line)}: {line}" for line in lines if len(line) > SQL_WIDTH]
    if wide:
        pytest.fail(
            f"{spec.key}: {len(wide)} line(s) of its SQL longer than the {SQL_WIDTH} "
            "characters its page's SQL block shows (lay the SQL out on more lines):\n"
            + "\n".join(wide)
        )


def _wide(lines: list[str]) -> list[str]:
    return [f"  {len(line)}: {line}" for line in lines if len(line) > SQL_WIDTH]


@pytest.mark.parametrize(
    ("spec", "check"), CHECKED, ids=[f"{spec.key}.{check}" for spec, check in CHECKED]
)
def test_no_line_of_a_failed_checks_sql_is_wider_than_its_page_shows(
    spec: AssetSpec, check: str
) -> None:
    """Each retail check as its asset's page shows it when it fails: the command that
    lists its rows, every line of it in sight."""
    failed = AssetCheckResult(spec.key, spec.table, check, "error", False, 1)
    outcome = AssetOutcome(spec.key, spec.table, "failed", 0.1, error="failed", checks=(failed,))
    page = AssetPage(spec, GRAPH, Materialization(outcome, None, "all", LOADED))
    lines = page.markdown(PageLinks()).split("\n")
    start = lines.index("```sh") + 1
    block = lines[start : lines.index("```", start)]
    assert any("{table}" not in line and spec.table in line for line in block), block
    wide = _wide(block)
    if wide:
        pytest.fail(
            f"{spec.key}.{check}: {len(wide)} line(s) of its SQL longer than the "
            f"{SQL_WIDTH} characters its page shows (lay the SQL out on more lines):\n"
            + "\n".join(wide)
        )
