"""What ``pipeline status`` and the asset pages say of a table whose checks failed, and
of what reads it.

The warehouse checks the staged rows before publishing them: a failed check leaves the
table as it was, and the words must say so. A storage that cannot
(:class:`~tests.io_helpers.PublishFirstIOManager`) publishes first: its table then holds
the failed attempt's rows, and its state's words must not deny them ("never
materialized" beside "The table holds this run's 2 rows"), nor leave its reader "fresh"
without a word about them. Real engines: embedded ClickHouse (chdb), a temporary Prefect
server and the ``pipeline`` command in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from io_managers import ClickHouseIOManager
from orchestration.prefect_ui import flow_run_path
from orchestration.resolver import materialize
from orchestration.run_report import RunReport
from tests.checks_location import defs as CHECKS_LOCATION
from tests.checks_location import run_pipeline
from tests.io_helpers import PublishFirstIOManager
from tests.lineage_markdown import rendered
from tests.test_gated_check_query import page_written_by

REPO = Path(__file__).resolve().parents[1]
#: The first line of readings' error when its values reach 250 (tests/checks_location.py),
#: and its cause, as status gives it beside the asset's name (without the asset's lead).
CHECKS_CAUSE = (
    "failed its checks: check 'values_below_100' (error): 1 offending row, e.g. "
    "{sensor='b', value=250}"
)
CHECKS_FAILED = f"asset 'readings' (table chk.readings): {CHECKS_CAUSE}"
NOTE = "upstream readings holds rows that failed their checks"
BUILT_FROM = "built from rows of upstream readings that failed their checks"

pytestmark = pytest.mark.usefixtures("prefect_server")


def _materialize(
    warehouse_dir: Path,
    selection: str,
    warehouse_class: type[ClickHouseIOManager] = ClickHouseIOManager,
) -> RunReport:
    with warehouse_class.embedded(warehouse_dir) as warehouse:
        warehouse.setup(CHECKS_LOCATION.ddl_paths)
        return materialize(CHECKS_LOCATION.graph(), {"warehouse": warehouse}, selection)


def _status(
    warehouse_dir: Path, *args: str, command: str = "status"
) -> subprocess.CompletedProcess[str]:
    # Wide enough that no "why" is wrapped: each asset is one line.
    result = run_pipeline(command, warehouse_dir, *args, columns=400)
    assert result.returncode == 0, result.stderr
    return result


def _states(warehouse_dir: Path) -> dict[str, dict[str, Any]]:
    return {s["key"]: s for s in json.loads(_status(warehouse_dir, "--json").stdout)}


def _why(warehouse_dir: Path) -> dict[str, str]:
    """Each asset's "why" as ``pipeline status`` prints it."""
    _title, header, *rows = _status(warehouse_dir).stdout.splitlines()
    at = header.index("why")
    return {row.split()[0]: row[at:].strip() for row in rows if not row.startswith("Next:")}


def _page(report: RunReport, key: str) -> str:
    """The page (``asset-<key>``) a run wrote, or last rewrote, of ``key``."""
    return page_written_by(str(report.flow_run_id), key)


def _state_row(markdown: str) -> str:
    (row,) = [line for line in markdown.splitlines() if line.startswith("| state after ")]
    return row


def test_a_first_run_whose_checks_failed_published_nothing_and_is_missing(tmp_path, monkeypatch):
    warehouse_dir = tmp_path / "warehouse"
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    report = _materialize(warehouse_dir, "readings+")
    assert [o.status for o in report.outcomes] == ["failed", "skipped"]

    readings = _states(warehouse_dir)["readings"]
    assert readings["state"] == "missing"
    assert readings["reasons"] == [
        {"kind": "never_materialized", "detail": "never materialized"},
        {"kind": "last_run_failed", "detail": f"last run failed: {CHECKS_CAUSE}"},
    ]
    page = _page(report, "readings")
    assert "published, then" not in page
    assert "Nothing was published." in page
    assert page.count("values_below_100 (1 row)") == 1
    assert page.count("{sensor='b', value=250}") == 1


def test_a_first_run_that_failed_its_checks_is_missing_without_denying_its_rows(
    tmp_path, monkeypatch
):
    """The fallback: a storage that published the rows its checks then failed."""
    warehouse_dir = tmp_path / "warehouse"
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    report = _materialize(warehouse_dir, "readings+", PublishFirstIOManager)
    assert [o.status for o in report.outcomes] == ["failed", "skipped"]

    readings = _states(warehouse_dir)["readings"]
    assert readings["state"] == "missing"
    assert readings["reasons"] == [
        {"kind": "never_materialized", "detail": "no successful materialization"},
        {
            "kind": "last_run_failed",
            "detail": "last run failed after publishing 2 rows, which the table holds: "
            + CHECKS_CAUSE,
        },
    ]
    said = (
        "no successful materialization; last run failed after publishing 2 rows, which the "
        f"table holds: {CHECKS_CAUSE}"
    )
    assert _why(warehouse_dir)["readings"] == said
    page = _page(report, "readings")
    assert "The table holds this run's 2 rows: published, then its checks failed." in page
    # The page gives the error under its title, once: the state row refers to it.
    own = said.replace(CHECKS_CAUSE, "see the error under the title")
    assert _state_row(page) == f"| state after this run | missing ({own}) |"
    # Under the title, the failed check and its rows; its example, in the Checks table.
    assert CHECKS_FAILED not in page
    assert page.count("values_below_100 (1 row)") == 1
    assert page.count("{sensor='b', value=250}") == 1
    assert "never materialized" not in page


def test_a_table_whose_checks_failed_after_a_success_keeps_it_and_its_reader_is_fresh(
    tmp_path, monkeypatch
):
    """After a success, a run's checks failed on readings' staged rows: readings is stale
    (its last run failed), its table holds the success's rows, and summary, built from
    them, is fresh with nothing to say about rows that failed (no table holds them)."""
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "readings+").ok
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    failed = _materialize(warehouse_dir, "readings+")
    assert [o.status for o in failed.outcomes] == ["failed", "skipped"]

    states = _states(warehouse_dir)
    assert states["readings"]["state"] == "stale"
    assert [r["detail"] for r in states["readings"]["reasons"]] == [
        f"last run failed: {CHECKS_CAUSE}"
    ]
    assert (states["summary"]["state"], states["summary"]["reasons"]) == ("fresh", [])
    assert states["summary"]["upstream_failed_checks"] == []
    assert _state_row(_page(failed, "summary")) == "| state after this run | fresh |"
    page = _page(failed, "readings")
    assert "published, then" not in page
    assert " | 2 | - | " in page, "the run table: the rows left in the table, none inserted"


def test_a_table_that_failed_its_checks_after_a_success_and_its_fresh_reader(tmp_path, monkeypatch):
    """The fallback: after a success, a run published readings' rows and failed its
    checks: readings is stale, its table holds that run's rows (not the success's);
    summary, built from the success, stays fresh (the failure is no materialization)
    with a word about it, on its page too."""
    warehouse_dir = tmp_path / "warehouse"
    first = _materialize(warehouse_dir, "readings+", PublishFirstIOManager)
    assert first.ok
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    failed = _materialize(warehouse_dir, "readings+", PublishFirstIOManager)
    assert [o.status for o in failed.outcomes] == ["failed", "skipped"]

    states = _states(warehouse_dir)
    assert states["readings"]["state"] == "stale"
    assert [r["detail"] for r in states["readings"]["reasons"]] == [
        "last run failed after publishing 2 rows, which the table holds instead of the last "
        f"success's: {CHECKS_CAUSE}"
    ]
    assert states["readings"]["upstream_failed_checks"] == []
    assert (states["summary"]["state"], states["summary"]["reasons"]) == ("fresh", [])
    assert states["summary"]["upstream_failed_checks"] == ["readings"]
    assert _why(warehouse_dir)["summary"] == NOTE
    # A plan of it says so too: it would build on the rows that failed.
    plan = json.loads(
        _status(warehouse_dir, "--select", "summary", "--json", command="plan").stdout
    )
    assert [step["why"] for step in plan["run"]] == [f"selected (fresh); {NOTE}"]
    # Summary's page of the failed run, which skipped it, says so; the first run's page,
    # no longer its newest, is left as it was written.
    assert _state_row(_page(failed, "summary")) == f"| state after this run | fresh ({NOTE}) |"
    assert _state_row(_page(first, "summary")) == "| state after this run | fresh |"


def test_a_reader_built_from_rows_that_failed_their_checks_names_them_as_what_it_read(
    tmp_path, monkeypatch
):
    """`materialize --select summary` after readings published rows and failed its checks
    builds summary from those rows. Its record names that attempt as the readings it read
    (the last success's rows were gone), and status, plan and its page say it was built
    from rows that failed: fresh while readings holds them, stale once readings passes.
    Only a storage that publishes before checking (the fallback) leaves such rows."""
    warehouse_dir = tmp_path / "warehouse"
    assert _materialize(warehouse_dir, "readings+", PublishFirstIOManager).ok
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    assert not _materialize(warehouse_dir, "readings+", PublishFirstIOManager).ok
    rebuilt = _materialize(warehouse_dir, "summary")
    assert rebuilt.ok

    states = _states(warehouse_dir)
    read = states["readings"]["last_attempt"]
    assert (read["status"], read["rows"]) == ("failed", 2)
    summary = states["summary"]
    assert summary["last_materialization"]["upstream"] == {"readings": read["materialization_id"]}
    assert (summary["state"], summary["reasons"]) == ("fresh", [])
    assert summary["upstream_failed_checks"] == ["readings"]
    assert summary["built_from_failed_checks"] == ["readings"]
    assert _why(warehouse_dir)["summary"] == BUILT_FROM
    plan = json.loads(
        _status(warehouse_dir, "--select", "summary", "--json", command="plan").stdout
    )
    assert [step["why"] for step in plan["run"]] == [f"selected (fresh); {BUILT_FROM}"]
    assert _state_row(_page(rebuilt, "summary")) == (
        f"| state after this run | fresh ({BUILT_FROM}) |"
    )
    (outcome,) = rebuilt.outcomes
    assert outcome.built_from_failed_checks == ("readings",)

    monkeypatch.delenv("CHK_READINGS_TOO_HIGH")
    assert _materialize(warehouse_dir, "readings").ok  # the rows summary read are gone
    summary = _states(warehouse_dir)["summary"]
    assert summary["state"] == "stale"
    assert [r["detail"] for r in summary["reasons"]] == ["upstream materialized since: readings"]
    assert (summary["upstream_failed_checks"], summary["built_from_failed_checks"]) == ([], [])


def _artifact(artifact_id: str) -> str:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[uuid.UUID(artifact_id)]))
        )
    return str(artifact.data)


def test_a_failed_runs_lineage_page_says_what_the_table_holds_and_what_to_do_next(
    tmp_path, monkeypatch, prefect_api_url
):
    """The lineage page of a run whose asset failed its checks says, under its failures,
    that the table is left as it was (its last success, linked), and the terminal's Next
    line: that was only in a footnote screens down and on the asset's page, and the next
    step only on the terminal."""
    warehouse_dir = tmp_path / "warehouse"
    first = _materialize(warehouse_dir, "readings+")
    assert first.ok
    monkeypatch.setenv("CHK_READINGS_TOO_HIGH", "1")
    monkeypatch.setenv("PREFECT_API_URL", prefect_api_url)  # the command's run is on it too
    failed = run_pipeline("materialize", warehouse_dir, "--select", "readings+", columns=400)
    assert failed.returncode == 1, failed.stderr
    said = failed.stdout.splitlines()
    (next_line,) = [line for line in failed.stderr.splitlines() if line.startswith("Next:")]
    (lineage_url,) = [line.split()[-1] for line in said if line.startswith("Lineage:")]

    page = _artifact(lineage_url.rsplit("/", 1)[-1])
    failures = page.split("**Failed:**", 1)[1].split("Warehouse:", 1)[0]
    assert (
        "`chk.readings` is left as it was. Last successful materialization: finished " in failures
    )
    assert (
        f", 2 rows left in the table, by [its flow run]({flow_run_path(first.flow_run_id)})."
        in failures
    )
    # The Next line reads on the page as the terminal printed it, its command as code.
    (step,) = [line for line in rendered(failures).splitlines() if line.startswith("<p>Next: ")]
    assert ", then <code>pipeline materialize " in step
    assert step.replace("<code>", "").replace("</code>", "") == f"<p>{next_line}</p>"
