"""A run given no source refuses to load the default into assets built from another.

After ``materialize --source data.csv``, a plain ``materialize`` read the default source
(the generator) and replaced the raw table with generated rows, while the insert-only
tables below it (the PSA, the vault's hubs) kept the file's rows and added the generated
ones: only a ``--full-refresh`` took them out again. Such a run is now refused before
any work, in one line naming both sources; a chosen source (``--source``, or
``$ONLINE_RETAIL_DATA_URL``) always runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.sources import SOURCE_ENCODING_ENV, SOURCE_ENV
from io_managers import ClickHouseIOManager
from orchestration import deployment
from orchestration.asset import AssetSpec
from orchestration.definitions import load_definitions
from orchestration.fingerprint import file_fingerprint
from orchestration.fingerprinted_source import source_switch
from orchestration.resolver import materialize
from orchestration.unchosen_source import UnchosenSourceError, refusal, source_chosen
from tests.test_cli import REPO
from tests.test_sources_encoding import sample_lines, write

#: The ingest asset, the insert-only PSA below it and one insert-only hub below that.
SELECTED = ("--select", "+hub_customer")
TABLES = ("raw.online_retails", "raw.psa_online_retails", "vault.hub_customer")
REFUSAL = (
    "error: raw_online_retails was built from data.csv; this run would read "
    "synthetic:100000:42 (the default: no --source given). Pass --source data.csv to keep "
    "it, or --source synthetic:100000:42 to load that instead"
)


@pytest.fixture
def built_from_a_file(prefect_api_url: str, tmp_path: Path):
    """A warehouse whose ingest asset, PSA and customer hub were built from data.csv (in
    the working directory), and a ``pipeline`` runner in that directory."""
    write(tmp_path / "data.csv", sample_lines(), "utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if k not in (SOURCE_ENV, SOURCE_ENCODING_ENV)},
        "PREFECT_API_URL": prefect_api_url,
        "PYTHONPATH": str(REPO),
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}",
    }

    def run(*args: str, timeout: float = 600, **settings: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orchestration", *args, "--definitions", "assets"]
        return subprocess.run(
            command,
            cwd=tmp_path,
            env={**env, **settings},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    done = run("materialize", *SELECTED, "--source", "data.csv")
    assert done.returncode == 0, done.stdout + done.stderr
    return run


def row_counts(tmp_path: Path) -> dict[str, int]:
    with ClickHouseIOManager.embedded(tmp_path / "warehouse") as warehouse:
        return {table: warehouse.row_count(table) for table in TABLES}


def test_a_run_given_no_source_refuses_to_load_the_default_over_a_file(built_from_a_file, tmp_path):
    before = row_counts(tmp_path)
    assert before["raw.online_retails"] == len(sample_lines()) - 1

    for selection in (SELECTED, ("--select", "status:stale+"), ()):
        refused = built_from_a_file("materialize", *selection)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert refused.stderr.splitlines() == [REFUSAL], selection
    assert row_counts(tmp_path) == before, "a refused run leaves every table as it was"

    plan = built_from_a_file("plan", *SELECTED)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert plan.stdout.splitlines()[0] == (
        "Plan: 3 assets selected; materialize would refuse to run them"
    )
    assert plan.stderr.splitlines() == [REFUSAL]

    # The same source (its data changed or not) and a chosen one run.
    assert built_from_a_file("materialize", *SELECTED, "--source", "data.csv").returncode == 0
    chosen = built_from_a_file("materialize", *SELECTED, "--source", "synthetic:40")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert row_counts(tmp_path)["raw.online_retails"] == 40


def test_a_source_chosen_by_the_environment_is_a_choice(built_from_a_file, tmp_path):
    done = built_from_a_file("materialize", "--select", "raw_online_retails", **{
        SOURCE_ENV: "synthetic:30"
    })  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert row_counts(tmp_path)["raw.online_retails"] == 30


@pytest.mark.usefixtures("prefect_server")
def test_a_scheduled_run_given_no_source_is_refused_too(tmp_path, monkeypatch):
    """A deployment served without a source reads the default, as a plain materialize."""
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "assets")
    monkeypatch.setenv("WAREHOUSE_URL", f"chdb://{tmp_path / 'warehouse'}")
    for name in (SOURCE_ENV, SOURCE_ENCODING_ENV, deployment.SOURCE_ENV):
        monkeypatch.delenv(name, raising=False)
    source = write(tmp_path / "data.csv", sample_lines(), "utf-8")
    select = "raw_online_retails"
    built = deployment.materialize_assets(select=select, source=str(source), return_state=True)
    assert built.is_completed(), built.message

    state = deployment.materialize_assets(select=select, return_state=True)

    assert state.is_failed()
    assert f"raw_online_retails was built from {source}; this run would read" in (
        state.message or ""
    )
    assert row_counts(tmp_path)["raw.online_retails"] == len(sample_lines()) - 1


@pytest.mark.usefixtures("prefect_server")
def test_the_python_api_refuses_too(tmp_path, monkeypatch):
    for name in (SOURCE_ENV, SOURCE_ENCODING_ENV):
        monkeypatch.delenv(name, raising=False)
    source = write(tmp_path / "data.csv", sample_lines(), "utf-8")
    defs = load_definitions("assets")
    with defs.open_io_managers(f"chdb://{tmp_path / 'warehouse'}") as io_managers:
        graph, raw = defs.graph(), "raw_online_retails"
        assert materialize(graph, io_managers, raw, params={"source": str(source)}).ok
        with pytest.raises(UnchosenSourceError) as refused:
            materialize(graph, io_managers, raw)
        assert list(refused.value.switches) == [raw]
    assert row_counts(tmp_path)["raw.online_retails"] == len(sample_lines()) - 1


def test_another_encoding_of_the_same_source_is_no_other_source():
    switch = source_switch(
        "file /data/data.csv size=9 mtime_ns=1 encoding=iso8859-1",
        "file /data/data.csv size=9 mtime_ns=1",
    )
    assert switch is not None and not switch.another_source


def test_a_plain_fingerprint_leaves_the_choice_to_the_run_parameter():
    spec = AssetSpec(
        key="orders",
        table="shop.orders",
        body=lambda context: None,
        kind="python",
        fingerprint=lambda params: file_fingerprint(params.get("source", "orders.csv")),
    )
    assert not source_chosen(spec, {})
    assert source_chosen(spec, {"source": "other.csv"})


def test_the_refusal_names_the_options_of_a_file_read_in_another_encoding():
    switch = source_switch(
        "file /data/data.csv size=9 mtime_ns=1 encoding=iso8859-1", "synthetic rows=5 seed=1"
    )
    assert switch is not None
    assert refusal(["raw"], switch) == (
        "raw was built from /data/data.csv read as latin-1 (iso8859-1); this run would read "
        "synthetic:5:1 (the default: no --source given). Pass --source /data/data.csv "
        "--source-encoding latin-1 to keep it, or --source synthetic:5:1 to load that "
        "instead"
    )


def test_the_refusal_cannot_name_a_url_so_it_describes_it():
    switch = source_switch('url 0123456789abcdef {"etag": "v1"}', "synthetic rows=5 seed=1")
    assert switch is not None
    assert refusal(["raw"], switch) == (
        "raw was built from a URL; this run would read synthetic:5:1 (the default: no "
        "--source given). Pass the URL it was built from as --source to keep it, or "
        "--source synthetic:5:1 to load that instead"
    )


def test_serve_given_no_source_is_refused_at_once_not_at_each_scheduled_run(built_from_a_file):
    """Each scheduled run would be refused, hours later, one after another; serve checks
    the selection and the warehouse as it starts, and now the source too: exit 1, the
    same line, before it serves anything. Given the source, it would serve."""
    refused = built_from_a_file("serve", *SELECTED, timeout=60)  # else it would serve on
    assert (refused.returncode, refused.stdout) == (1, ""), refused.stderr
    assert refused.stderr.splitlines() == [REFUSAL]
