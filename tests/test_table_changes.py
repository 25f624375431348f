"""What a user meets when the DDL of an asset's table changes.

A table whose DDL changed is refused as drifted until ``--full-refresh`` rebuilds it;
the run report's last line said to rerun the same selection, refused the same way.

The audit changed a column's type in the DDL only (``String`` -> ``LowCardinality(String)``):
``pipeline status`` said every asset was fresh and ``materialize --select 'status:stale+'``
had "nothing to materialize", while a plain run refused the table as drifted. After the
refusal's own advice (``--full-refresh``) the asset was then reported stale, "code
changed", and rebuilt once more for nothing. The code version hashed the table's DDL as
the engine held it, which only a full refresh changes, instead of the DDL the code
declares.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from orchestration.asset import AssetSpec
from orchestration.asset_state import StateBook
from orchestration.checks import AssetCheck
from orchestration.context import FULL_REFRESH_PARAM
from orchestration.definitions import Definitions
from orchestration.graph import AssetGraph
from orchestration.report_output import print_report
from orchestration.resolver import materialize
from orchestration.run_report import AssetOutcome, MaterializationPlan, RunReport
from tests.history_location import defs as history_defs

ORIGINAL_DDL = Path(__file__).parent / "fixtures" / "history_location.sql"
SELECTION = "not stalls"


def _location(ddl: Path) -> Definitions:
    """The history test location, its DDL in a file the test may edit."""
    return Definitions(
        assets=history_defs.assets, ddl_paths=[ddl], io_managers=history_defs.io_managers
    )


def _run(defs: Definitions, url: str, params: dict, selection: str = SELECTION) -> None:
    with defs.open_io_managers(url) as io_managers:
        report = materialize(defs.graph(), io_managers, selection, params=params)
    assert report.ok, [outcome.error for outcome in report.outcomes]


def _states(defs: Definitions, url: str, params: dict) -> dict[str, tuple[str, list[str]]]:
    """What ``pipeline status`` says: the warehouse opened for reading only."""
    with defs.read_io_managers(url) as io_managers:
        book = StateBook(defs.graph(), io_managers, params)
        return {key: (s.state, [r.kind for r in s.reasons]) for key, s in book.states.items()}


def test_a_ddl_change_makes_its_asset_stale_and_a_full_refresh_makes_it_fresh(
    tmp_path: Path, prefect_server
) -> None:
    ddl = tmp_path / "location.sql"
    ddl.write_text(ORIGINAL_DDL.read_text())
    defs = _location(ddl)
    url = f"chdb://{tmp_path / 'wh'}"
    source = tmp_path / "numbers.csv"
    source.write_text("n\n1\n2\n3\n")
    params = {"source": str(source)}
    _run(defs, url, params)
    assert _states(defs, url, params)["doubled"] == ("fresh", [])

    # The type of one column changes in the DDL only: its asset's code changed.
    ddl.write_text(ddl.read_text().replace("hist.doubled (n Int64)", "hist.doubled (n Int128)", 1))
    changed = _states(defs, url, params)
    assert changed["doubled"] == ("stale", ["code_changed"])
    assert changed["total"] == ("fresh", [])  # its own definition did not change

    # The way back the drift refusal names: rebuilt from the DDL, the asset is fresh.
    _run(defs, url, {**params, FULL_REFRESH_PARAM: True}, "doubled")
    rebuilt = _states(defs, url, params)
    assert rebuilt["doubled"] == ("fresh", [])
    assert rebuilt["total"] == ("stale", ["upstream_materialized"])


def _next_line(outcomes: list[AssetOutcome], **refresh: bool) -> str:
    graph = AssetGraph(
        [
            AssetSpec(key="dim", table="m.dim", body=lambda context: "SELECT 1", kind="sql"),
            AssetSpec(key="other", table="m.other", body=lambda context: "SELECT 1", kind="sql"),
            AssetSpec(
                key="fact",
                table="m.fact",
                body=lambda context: "SELECT 1",
                kind="sql",
                deps=("dim", "other"),
            ),
        ]
    )
    plan = MaterializationPlan(graph, list(graph), [], "*", **refresh)
    console = Console(width=1000)
    with console.capture() as captured:
        print_report(RunReport(outcomes=outcomes), console, plan)
    return captured.get().strip().splitlines()[-1]


def test_after_a_drift_refusal_the_next_step_is_the_full_refresh_then_the_rerun() -> None:
    """The last line said to rerun the same selection (refused the same way) and to add
    --verbose for a traceback that says nothing the refusal did not."""
    refused = AssetOutcome(  # as the resolver records a RebuildRequired, an ExpectedError
        "dim", "m.dim", "failed", error="drifted", foreseen=True, needs_full_refresh=True
    )
    built = AssetOutcome("other", "m.other", "materialized")
    held_back = AssetOutcome("fact", "m.fact", "skipped", failed_upstream=("dim",))

    line = _next_line([refused, built, held_back])
    assert line.startswith(
        "Next: pipeline materialize --full-refresh --select 'dim' rebuilds the table that "
        "drifted from its DDL, then pipeline materialize --select 'dim+' reruns the failed "
        "asset and the 1 skipped"
    )
    assert "--verbose" not in line
    # Another failure beside it still offers its traceback.
    broken = AssetOutcome("other", "m.other", "failed", error="KeyError: 'x'")
    line = _next_line([refused, broken, held_back])
    assert line.startswith("Next: pipeline materialize --full-refresh --select 'dim' rebuilds")
    assert "; add --verbose for the traceback" in line


def test_the_full_refresh_an_insert_only_table_needs_says_what_it_loses() -> None:
    """The upgrade audit followed this line on a drifted vault satellite and lost the rows
    of products only an earlier load had brought: the line names that loss and the way
    that keeps them, and its command confirms the loss (``--discard-history``), without
    which that full refresh is refused for it."""
    refused = AssetOutcome(
        "dim", "m.dim", "failed", error="drifted", needs_full_refresh=True, rebuild_loses_rows=True
    )
    held_back = AssetOutcome("fact", "m.fact", "skipped", failed_upstream=("dim",))

    line = _next_line([refused, held_back])
    assert line.startswith(
        "Next: pipeline materialize --full-refresh --discard-history --select 'dim' rebuilds "
        "the table that drifted from its DDL from what its upstream holds now (insert-only "
        "dim loses the keys only it kept; to keep them, ALTER it to the DDL instead: "
        "docs/warehouse.md#changing-a-table), then pipeline materialize --select 'dim+'"
    )
    plain = AssetOutcome("dim", "m.dim", "failed", error="drifted", needs_full_refresh=True)
    line = _next_line([plain, held_back])
    assert "loses" not in line and "--discard-history" not in line


def test_the_rerun_of_a_confirmed_full_refresh_confirms_it_too() -> None:
    """Without --discard-history the rerun of what a confirmed full refresh left undone
    would be refused for the very rows the user agreed to lose."""
    failed = AssetOutcome("dim", "m.dim", "failed", error="KeyError: 'x'")
    held_back = AssetOutcome("fact", "m.fact", "skipped", failed_upstream=("dim",))

    line = _next_line([failed, held_back], full_refresh=True, discard_history=True)

    assert line.startswith(
        "Next: pipeline materialize --full-refresh --discard-history --select 'dim+' "
    )
    assert "--discard-history" not in _next_line([failed, held_back], full_refresh=True)


def test_validate_names_an_asset_check_that_reads_a_table_no_asset_produces() -> None:
    """A renamed table leaves the old one behind in the warehouse: a check still reading
    it judged the new table against stale rows and passed, and validate said nothing."""
    from orchestration.commands.validate import find_problems
    from tests.checks_location import defs as checks_defs

    renamed = AssetCheck(
        "sensor_is_known",
        "SELECT * FROM {table} WHERE sensor NOT IN (SELECT sensor FROM chk.old_readings)",
    )
    assets = [
        replace(spec, checks=(*spec.checks, renamed)) if spec.key == "summary" else spec
        for spec in checks_defs.assets
    ]
    defs = Definitions(
        assets=assets, ddl_paths=checks_defs.ddl_paths, io_managers=checks_defs.io_managers
    )

    # (The location's assets declare no schemas: those findings are not this test's.)
    findings = [f for f in find_problems(defs, None) if f.check == "reads"]

    assert [(f.asset, f.table) for f in findings] == [("summary", "chk.old_readings")]
    # Placed at the check's AssetCheck(...), as every other finding names its place.
    assert findings[0].place == renamed.place is not None
    assert (
        findings[0]
        .line()
        .startswith(
            f"[reads] asset summary table chk.old_readings: {renamed.place}: its check "
            "'sensor_is_known' reads this table, which no asset produces"
        )
    )
    # Declared external, it is read on purpose.
    external = Definitions(
        assets=assets,
        ddl_paths=checks_defs.ddl_paths,
        io_managers=checks_defs.io_managers,
        external_tables=["chk.old_readings"],
    )
    assert [f for f in find_problems(external, None) if f.check == "reads"] == []
