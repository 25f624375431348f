"""`pipeline status`, `pipeline plan` and an empty `status:` selection, as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assets.sources import SOURCE_ENCODING_ENV, SOURCE_ENV
from io_managers import ClickHouseIOManager
from orchestration.commands.status import _next_source
from orchestration.definitions import load_definitions
from orchestration.fingerprinted_source import source_switch
from orchestration.resolver import materialize
from orchestration.staleness import AssetState
from tests.history_location import defs
from tests.test_cli import REPO, pipeline
from tests.test_sources_encoding import sample_lines, write

LOCATION = ("--definitions", "tests.history_location")


@pytest.fixture
def built(prefect_server, tmp_path):
    """A warehouse where source, doubled and total were materialized from a small CSV."""
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n1\n2\n3\n")
    path = tmp_path / "warehouse"
    with ClickHouseIOManager.embedded(path) as io:
        io.setup(defs.ddl_paths)
        report = materialize(
            defs.graph(), {"warehouse": io}, "not stalls", params={"source": str(csv)}
        )
        assert report.ok
    return csv, {"WAREHOUSE_URL": f"chdb://{path}"}


def cli(env, *args):
    return pipeline(*args, *LOCATION, env=env)


def test_status_json_gives_states_reasons_and_last_materialization(built):
    csv, env = built
    result = cli(env, "status", "--json", "--source", str(csv))
    assert result.returncode == 0, result.stderr
    states = {row["key"]: row for row in json.loads(result.stdout)}
    assert {k: s["state"] for k, s in states.items()} == {
        "source": "fresh",
        "doubled": "fresh",
        "total": "fresh",
        "stalls": "missing",
    }
    assert states["stalls"]["reasons"] == [
        {"kind": "never_materialized", "detail": "never materialized"}
    ]
    assert states["total"]["last_materialization"]["rows"] == 1
    assert len(states["total"]["code_version"]) == 16


def test_empty_status_selection_materializes_nothing_and_succeeds(built):
    csv, env = built
    result = cli(env, "materialize", "--select", "status:stale+", "--source", str(csv))
    assert result.returncode == 0, result.stderr
    assert "nothing to materialize" in result.stdout
    assert "Traceback" not in result.stderr


def test_plan_lists_what_would_run_in_order_and_why_without_running(built):
    csv, env = built
    csv.write_text("n\n1\n2\n3\n4\n")
    os.utime(csv, ns=(1, 3_000_000_000))
    result = cli(env, "plan", "--select", "status:stale+ and not stalls", "--source", str(csv))
    assert result.returncode == 0, result.stderr
    assert "3 assets would run" in result.stdout
    # Piped: plain columns, one asset per line ("#  asset  state  why").
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["#", "asset"]) + 1
    assert [line.split()[1] for line in lines[start : start + 3]] == ["source", "doubled", "total"]
    assert "source changed" in result.stdout
    assert "downstream of source" in result.stdout
    again = cli(env, "plan", "--json", "--select", "status:stale+", "--source", str(csv))
    plan = json.loads(again.stdout)
    assert [step["key"] for step in plan["run"]] == ["source", "doubled", "total", "stalls"]
    assert plan["run"][0]["state"] == "stale"  # planning ran nothing


def test_a_plan_of_one_asset_says_one_asset(built):
    _csv, env = built
    result = cli(env, "plan", "--select", "total")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Plan: 1 asset would run"


def test_status_selection_with_a_bad_value_is_one_line(built):
    _csv, env = built
    result = cli(env, "status", "--select", "status:old")
    assert result.returncode == 2
    assert "unknown status 'old'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_next_step_after_status_keeps_the_source_it_was_judged_on(built):
    """`status --source X` judged the assets on X: a plan or run without it would read the
    default source, and find other assets stale."""
    csv, env = built
    result = cli(env, "status", "--source", str(csv))
    assert result.returncode == 0, result.stderr
    (line,) = [text for text in result.stdout.splitlines() if text.startswith("Next: ")]
    assert line == (
        "Next: pipeline plan --select 'status:stale+ or status:missing+' --source "
        f"{csv} --definitions tests.history_location shows what a run would rebuild; "
        "pipeline materialize with the same --select, --source and --definitions rebuilds it."
    )


def test_status_on_a_new_warehouse_leads_to_materialize(tmp_path):
    """Every selected asset missing (a new warehouse): its Next line led to a plan of
    what is stale or missing, which is everything; the next step is the first
    materialize, with the options status was given. (Once one asset is built, the plan
    is the step again: the test above.)"""
    csv = tmp_path / "numbers.csv"
    csv.write_text("n\n1\n")
    env = {"WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}"}
    result = cli(env, "status", "--select", "doubled+", "--source", str(csv))
    assert result.returncode == 0, result.stderr
    (line,) = [text for text in result.stdout.splitlines() if text.startswith("Next: ")]
    assert line == (
        f"Next: pipeline materialize --select 'doubled+' --source {csv} "
        "--definitions tests.history_location builds them; all are missing."
    )
    plain = cli(env, "status", "--select", "total").stdout.splitlines()
    assert plain[-1] == (
        "Next: pipeline materialize --select 'total' --definitions tests.history_location "
        "builds it; it is missing."
    )


@pytest.fixture
def retail(prefect_api_url, tmp_path):
    """`pipeline ARGS --definitions assets` run in ``tmp_path`` on a warehouse there, with
    no source or encoding from this environment (``env`` adds to it); asserts its exit."""
    base = {
        **{k: v for k, v in os.environ.items() if k not in (SOURCE_ENV, SOURCE_ENCODING_ENV)},
        "PREFECT_API_URL": prefect_api_url,
        "PYTHONPATH": str(REPO),
        "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}",
    }

    def run(
        *args: str, exit_code: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orchestration", *args, "--definitions", "assets"]
        done = subprocess.run(
            command, cwd=tmp_path, env={**base, **(env or {})}, capture_output=True, text=True
        )
        assert done.returncode == exit_code, done.stdout + done.stderr
        return done

    return run


def test_status_without_the_source_an_asset_was_built_from_names_it(retail, tmp_path):
    """After `materialize --source data.csv --source-encoding latin-1`, a plain `status`
    compares with the default source: it said "source changed since it was read" of a file
    that had not changed, and its Next line led to a run that replaced the file's rows with
    generated ones. Its why and plan's now name both sources; its Next line the file's."""
    write(tmp_path / "data.csv", sample_lines(), "latin-1")
    latin1 = ("--source", "data.csv", "--source-encoding", "latin-1")
    retail("materialize", "--select", "raw_online_retails", *latin1)
    why = (
        "source changed: built from data.csv read as latin-1 (iso8859-1), compared with "
        "synthetic:100000:42 (pass --source data.csv --source-encoding latin-1 to compare "
        "with it)"
    )
    status = retail("status", "--select", "raw_online_retails").stdout.splitlines()
    assert status[2].split(maxsplit=4)[:2] == ["raw_online_retails", "stale"]
    assert status[2].endswith(f"  {why}")
    assert status[3] == (
        "Next: pipeline plan --select 'status:stale+ or status:missing+' --source data.csv "
        "--source-encoding latin-1 --definitions assets shows what a run would rebuild "
        "from the source raw_online_retails was built from; pipeline materialize with the "
        "same --select, --source, --source-encoding and --definitions rebuilds it."
    )
    # A plain materialize would refuse to load the default over the file: plan says so.
    planned = retail("plan", "--select", "raw_online_retails", "--json", exit_code=1)
    plan = json.loads(planned.stdout)
    assert plan["run"][0]["why"] == why
    assert plan["refused"].startswith("raw_online_retails was built from data.csv read as")
    told = ("--source", "data.csv", "--source-encoding", "latin-1")
    assert json.loads(retail("status", "--json", *told).stdout)[0]["state"] == "fresh"
    # Given the source to compare with, status keeps it, even when it is another.
    other = retail("status", "--select", "raw_online_retails", "--source", "synthetic:500")
    assert "--source synthetic:500 --definitions assets shows what a run would" in other.stdout


def test_the_next_step_asks_for_a_source_no_record_names():
    """Built from a URL, whose fingerprint holds a hash of it: the next step cannot name
    it, and must not leave the default (generated rows) to replace its rows either."""
    built_from_url = source_switch('url 0123456789abcdef {"etag": "v1"}', "synthetic rows=5 seed=1")
    state = AssetState("raw", "stale", "v1", source_switch=built_from_url)
    assert _next_source([state], {"--source": None}) == (
        {"--source": "SOURCE"},
        ", SOURCE being the one raw was built from",
    )
    given = {"--source": "synthetic:5:1"}
    assert _next_source([state], given) == (given, "")  # what status was told wins


def test_a_source_file_typed_that_is_not_there_stops_status_and_plan(retail, tmp_path):
    """`status --source no-such.csv` on a built warehouse judged the ingest asset stale
    ("source cannot be asked"), exited 0 and led on to `plan --source no-such.csv`, which
    exited 0 as well; only materialize failed on the typo, exit 1, after a flow run that
    failed the ingest asset and skipped the rest. All three now stop before anything runs,
    in the same one line, exit 1; nothing else is printed, no Next line, no flow run, and
    the asset's last state stays its success."""
    write(tmp_path / "data.csv", sample_lines(), "utf-8")
    retail("materialize", "--select", "raw_online_retails", "--source", "data.csv")
    typo = str(tmp_path / "no-such.csv")
    said = f"{typo}: file not found; check the path given by --source"
    for command in ("status", "plan", "materialize"):
        done = retail(command, "--source", typo, exit_code=1)
        assert (done.stdout, done.stderr) == ("", f"error: {said}\n"), command
    (raw,) = [
        row
        for row in json.loads(retail("status", "--json").stdout)
        if row["key"] == "raw_online_retails"
    ]
    assert raw["last_attempt"] == raw["last_materialization"], raw


def test_a_directory_typed_as_the_source_stops_status_plan_and_materialize(retail, tmp_path):
    """`materialize --source DIR` passed the missing-file check (the path is there), so a
    flow run failed the ingest asset on "DIR: not a file" and reported every other asset
    skipped. A directory is the same typo: each command stops before anything runs, in
    one line that says what the path is, exit 1."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    said = f"{folder}: a directory, not a file; check the path given by --source"
    for command in ("status", "plan", "materialize"):
        done = retail(command, "--source", str(folder), exit_code=1)
        assert (done.stdout, done.stderr) == ("", f"error: {said}\n"), command


def test_status_still_answers_when_a_source_cannot_be_asked_now(retail, tmp_path):
    """A URL whose server is down now, or a source the environment names: status is still
    the answer for every other asset, so it judges the ingest asset stale, as before."""
    write(tmp_path / "data.csv", sample_lines(), "utf-8")
    retail("materialize", "--select", "raw_online_retails", "--source", "data.csv")
    down = retail("status", "--json", "--source", "http://127.0.0.1:9/x.csv")
    gone = retail("status", "--json", env={SOURCE_ENV: str(tmp_path / "moved.csv")})
    for done in (down, gone):
        (raw,) = [row for row in json.loads(done.stdout) if row["key"] == "raw_online_retails"]
        assert raw["state"] == "stale"
        assert raw["reasons"][0]["detail"].startswith("source cannot be asked ("), raw


def _states(retail, *args: str) -> dict[str, dict]:
    """`status --json` of the retail warehouse, by asset key."""
    return {row["key"]: row for row in json.loads(retail("status", "--json", *args).stdout)}


def _column(retail, sql: str) -> list[str]:
    """The one column ``sql`` selects from the retail warehouse, as `pipeline query` prints it."""
    return retail("query", sql, "--format", "csv").stdout.split()[1:]


def test_a_correction_copied_over_the_file_with_its_size_and_mtime_is_loaded(retail, tmp_path):
    """The reported case: a corrected file of the same size, its mtime kept (`touch -r`,
    `cp -p`), read "28 fresh" and `status:stale+` ran nothing: the correction was never
    loaded. Now the ingest asset is stale and the run loads it. A chmod costs one reload,
    which adds no vault row."""
    source = ("--source", "data.csv")
    write(tmp_path / "data.csv", sample_lines(), "utf-8")
    retail("materialize", *source)
    loaded = (
        "SELECT Quantity FROM raw.online_retails WHERE InvoiceNo = '536365' AND UnitPrice = 2.55"
    )
    sold = "SELECT quantity FROM marts.Fact_Sales WHERE invoice_no = '536365' AND unit_price = 2.55"
    assert _column(retail, loaded) == _column(retail, sold) == ["6"]
    lines = sample_lines()
    lines[1] = lines[1].replace(",6,12/1/2010", ",7,12/1/2010")
    write(tmp_path / "tmp.csv", lines, "utf-8")
    subprocess.run(["touch", "-r", "data.csv", "tmp.csv"], cwd=tmp_path, check=True)
    subprocess.run(["cp", "-p", "tmp.csv", "data.csv"], cwd=tmp_path, check=True)

    raw = _states(retail, *source)["raw_online_retails"]
    assert raw["state"] == "stale"
    assert raw["reasons"] == [
        {"kind": "source_changed", "detail": "source changed since it was read"}
    ]
    retail("materialize", "--select", "status:stale+", *source)
    assert _column(retail, loaded) == ["7"]
    # A line is a distinct source row: the facts keep every line loaded, the first too.
    assert "7" in _column(retail, sold)
    assert {row["state"] for row in _states(retail, *source).values()} == {"fresh"}

    (tmp_path / "data.csv").chmod(0o600)
    assert _states(retail, *source)["raw_online_retails"]["state"] == "stale"
    retail("materialize", "--select", "status:stale+", *source)
    states = _states(retail, *source)
    vault = [spec.key for spec in load_definitions("assets").graph() if spec.group == "vault"]
    assert vault and {states[key]["last_materialization"]["inserted_rows"] for key in vault} == {0}
