"""The command a failed check's page offers, when its checks stopped the publish: it
lists the rows that failed, which the table never got.

The review's scenario: fact_sales's SELECT edited so ``lines_reconcile_with_vault`` found
3,814 rows, after a good run. Its page offered the check's SQL as a ``pipeline query``
that ran it "on the table as it is": the previous rows, which pass, so it listed none of
them. Now it runs the check on what the run would have published, the asset's SELECT in
place of the check's ``{table}`` (for an insert-only table, the table and the rows the
SELECT adds, as the check read them before the publish); a Python asset's rows are kept
nowhere, and its page says so.

Real engines: ``pipeline materialize`` and ``pipeline query`` as processes on embedded
ClickHouse (chdb), the pages read back from the session's Prefect server.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlglot

from tests.gated_check_location import NEGATE, _scored

REPO = Path(__file__).resolve().parents[1]
LOCATION = ("--definitions", "tests.gated_check_location")
#: The rows the check finds in each SQL asset's run with NEGATE set: none is published.
FAILED = {"priced": [["4", "-40"], ["5", "-50"]], "ledger": [["14", "-40"], ["15", "-50"]]}


def _pipeline(*args: str, env: dict[str, str], warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, *LOCATION,
         "--warehouse", f"chdb://{warehouse}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def page_written_by(flow_run_id: str, key: str) -> str:
    """The markdown of ``key``'s page that the run ``flow_run_id`` wrote."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    this_run = ArtifactFilterFlowRunId(any_=[uuid.UUID(flow_run_id)])
    page_key = ArtifactFilterKey(any_=[f"asset-{key}"])
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=this_run, key=page_key)
        )
    return str(artifact.data)


def _offered(page: str) -> str:
    """The page's one shell command (the failed check's)."""
    (command,) = re.findall(r"```sh\n(.*?)\n```", page, flags=re.S)
    return command


@pytest.fixture(scope="module")
def failed_run(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A good run, then one whose checks stop every publish but ``amounts``': the
    warehouse, the environment, the failed run's id and its stderr."""
    warehouse = tmp_path_factory.mktemp("gated") / "warehouse"
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    env.pop(NEGATE, None)
    good = _pipeline("materialize", env=env, warehouse=warehouse)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _pipeline("materialize", "--json", env={**env, NEGATE: "1"}, warehouse=warehouse)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads(bad.stdout)
    return warehouse, env, report["flow_run_id"], bad.stderr


@pytest.mark.parametrize("key", sorted(FAILED))
def test_the_offered_query_lists_the_rows_the_check_stopped(failed_run, key: str) -> None:
    warehouse, env, flow_run_id, _ = failed_run
    command = _offered(page_written_by(flow_run_id, key))
    sql = command.split("\n", 1)[1].rsplit("\nSQL\n", 1)[0]
    sqlglot.parse_one(sql, read="clickhouse")  # one statement a parser reads
    # Pasted into a shell as the page shows it; `pipeline` is this checkout's.
    script = f'pipeline() {{ "{sys.executable}" -m orchestration "$@"; }}\n{command} --format csv'
    ran = subprocess.run(
        ["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    header, *rows = csv.reader(io.StringIO(ran.stdout))
    assert (header, rows) == (["id", "amount"], FAILED[key]), ran.stdout
    # The table the run left as it was: the check passes on it.
    table = _pipeline("query", f"SELECT count() FROM gcl.{key} WHERE amount < 0",
                      env=env, warehouse=warehouse)  # fmt: skip
    assert table.stdout.split()[-1] == "0", table.stdout + table.stderr


def test_each_page_says_what_its_command_reads(failed_run) -> None:
    """ "On the table as it is" was said of rows the table never got; a Python asset's rows,
    which no SELECT gives again, are said to be kept nowhere, and where they come from."""
    _, _, flow_run_id, _ = failed_run
    priced = page_written_by(flow_run_id, "priced")
    assert (
        "Check `no_negative_amount` found its rows (2) in what this run would have "
        "published, which were not published. This command runs it on the rows this run "
        "would have published (its SELECT run again, on the tables as they are now) and "
        "lists them, with `--allow-external`: its SQL sets ClickHouse settings, which "
        "`pipeline query` refuses without it (writes stay refused):"
    ) in priced
    scored = page_written_by(flow_run_id, "scored")
    line = _scored.__code__.co_firstlineno
    assert (
        "Check `no_negative_amount` found its rows (2) in this run's, which were not "
        "published and are kept nowhere (a Python asset's rows live only in its run; "
        f"calling `tests.gated_check_location._scored (gated_check_location.py:{line})` "
        "computes them again). This command runs it on the table as it is, the rows "
        "last published, not these, with `--allow-external`:"
    ) in scored
    assert _offered(scored).startswith(
        "pipeline query \"$(cat <<'SQL'\nSELECT id, amount FROM gcl.scored WHERE amount < 0 "
        'ORDER BY id SETTINGS max_threads = 1\nSQL\n)" --allow-external --warehouse '
    )


def test_next_names_the_asset_of_a_check_whose_name_another_failed_asset_shares(
    failed_run,
) -> None:
    """Two SQL assets whose code changed and a Python one fail checks of one name: the
    rows "check 'no_negative_amount' found" read as the fixed SQL assets' own check."""
    *_, stderr = failed_run
    (next_line,) = [line for line in stderr.splitlines() if line.startswith("Next: ")]
    assert "the rows check 'scored.no_negative_amount' found (or it)" in next_line, next_line
