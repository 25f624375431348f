"""A run on a warehouse whose disk is full: one line says so, once, and the run stops.

Once the engine refuses a write for space, every asset after it would fail the same way,
each repeating the cause (a cold run on a full disk printed ~77 lines and an 11-term
``--select``). So the asset that met it fails with one line naming the disk, how much is
free and what to do; the assets not started yet are skipped, saying the disk is full,
and the published tables are as they were.

The first test fills a real tmpfs (root only: it mounts one in a private mount namespace,
which it leaves with its process). The second has the engine refuse the history's writes
for space halfway through a run, after an asset was published (the history table's
``min_free_disk_bytes_to_perform_insert``, which asks for more than any disk has).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.locations import REPO, run_location, write_location
from tests.unprivileged import can_mount_a_private_tmpfs

MODULE = "fullrun"
#: More free bytes than any disk has: the engine refuses every insert into the table.
NO_DISK_IS_BIG_ENOUGH = "min_free_disk_bytes_to_perform_insert = 1000000000000000000"

ASSETS = f"""import os

import pandas as pd


def _rows(key):
    def body(context):
        if key == "a" and os.environ.get("FILL_HISTORY"):
            # The disk fills as this asset runs: its table is published, its record is not.
            context.io_manager.warehouse().command(
                "ALTER TABLE _pipeline.materializations MODIFY SETTING {NO_DISK_IS_BIG_ENOUGH}"
            )
            return pd.DataFrame({{"n": [1, 2, 3, 4]}})
        return pd.DataFrame({{"n": [1, 2, 3]}})

    return body


ASSETS = [
    AssetSpec(key="a", table="fullrun.a", kind="python", body=_rows("a")),
    AssetSpec(key="a_child", table="fullrun.a_child", kind="sql", deps=("a",),
              body=lambda context: "SELECT n FROM fullrun.a"),
    AssetSpec(key="b", table="fullrun.b", kind="python", body=_rows("b")),
    AssetSpec(key="b_child", table="fullrun.b_child", kind="sql", deps=("b",),
              body=lambda context: "SELECT n FROM fullrun.b"),
]
"""

DDL = "CREATE DATABASE IF NOT EXISTS fullrun;\n" + "".join(
    f"CREATE TABLE IF NOT EXISTS fullrun.{table} (n Int64) ENGINE = MergeTree ORDER BY n;\n"
    for table in ("a", "a_child", "b", "b_child")
)

#: What skipped assets say once the run stopped at the full disk.
STOPPED = "did not run: the warehouse disk is full"


def disk_full_line(warehouse: Path) -> str:
    """The start of the one line of a warehouse out of space (how much is free follows)."""
    return f"warehouse disk is full at {warehouse} ("


def statuses(report: dict) -> dict[str, tuple[str, str | None]]:
    return {asset["key"]: (asset["status"], asset["error"]) for asset in report["assets"]}


# ------------------------------------------------------------------- a real full disk

#: Runs in the private mount namespace, on the tmpfs mounted at ``argv[1]``: builds the
#: location, fills the disk but for 256 KiB (less than the 1 MiB the engine reserves for
#: any write), runs again on a terminal and for a script, then reads what is left.
_DRIVER = """
import json, os, subprocess, sys
from pathlib import Path

from io_managers import ClickHouseIOManager
from tests.terminal import screen

disk, location = Path(sys.argv[1]), sys.argv[2]
env = {**os.environ, "WAREHOUSE_URL": f"chdb://{disk / 'wh'}", "PIPELINE_WARM_START": "off"}
run = ["--concurrency", "1", "--definitions", "fullrun"]


def pipeline(*args):
    done = subprocess.run(
        [sys.executable, "-m", "orchestration", *args, "--definitions", "fullrun"],
        cwd=location, env=env, capture_output=True, text=True, timeout=300,
    )
    return {"code": done.returncode, "out": done.stdout, "err": done.stderr}


found = {"built": pipeline("materialize", "--concurrency", "1", "--json")}
room = os.statvfs(disk)
with open(disk / "ballast", "wb") as ballast:
    ballast.write(bytes(room.f_bavail * room.f_frsize - 256 * 1024))
found["terminal"] = screen(env, "materialize", *run, columns=200)
found["json"] = pipeline("materialize", "--concurrency", "1", "--json")
found["status"] = pipeline("status", "--json")
with ClickHouseIOManager.embedded(disk / "wh") as warehouse:
    found["rows"] = {t: warehouse.row_count(f"fullrun.{t}") for t in ("a", "a_child", "b")}
print(json.dumps(found))
"""


@pytest.mark.skipif(not can_mount_a_private_tmpfs(), reason="needs root to mount a tmpfs")
def test_a_run_on_a_full_disk_says_so_once_and_skips_the_assets_after(
    tmp_path: Path, prefect_api_url: str
):
    write_location(tmp_path, MODULE, ASSETS, DDL)
    disk = tmp_path / "disk"
    disk.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(_DRIVER))
    mount_and_run = (
        f"mount -t tmpfs -o size=12m tmpfs {disk} && {sys.executable} {driver} {disk} {tmp_path}"
    )

    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", mount_and_run],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
            "PREFECT_API_URL": prefect_api_url,
        },
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["built"]["code"] == 0, found["built"]
    full = disk_full_line(disk / "wh")

    code, lines = found["terminal"]
    screen = "\n".join(lines)
    assert code == 1, screen
    assert "drop it" not in screen
    causes = [line for line in lines if full in line]
    # Once, in the failed asset's line: not its live line again, nor any other asset.
    assert len(causes) == 1, screen
    assert causes[0].startswith("error: asset ") and causes[0].endswith(
        "free): free space, then run again"
    ), screen
    assert any(line.startswith(f"3 assets skipped ({STOPPED}): ") for line in lines), screen

    report = json.loads(found["json"]["out"])
    assert found["json"]["code"] == 1
    outcomes = statuses(report)
    failed = [key for key, (status, _) in outcomes.items() if status == "failed"]
    assert len(failed) == 1, outcomes
    assert outcomes[failed[0]][1].startswith(full), outcomes
    assert all(
        outcome == ("skipped", STOPPED) for key, outcome in outcomes.items() if key != failed[0]
    ), outcomes

    # Nothing was published nor recorded: every table holds what the first run built.
    assert found["rows"] == {"a": 3, "a_child": 3, "b": 3}
    states = {asset["key"]: asset["state"] for asset in json.loads(found["status"]["out"])}
    assert states == dict.fromkeys(("a", "a_child", "b", "b_child"), "fresh"), found["status"]


# ------------------------------------------------------- published, and not recorded


def test_an_asset_published_as_the_disk_filled_says_its_record_is_missing_and_is_not_fresh(
    tmp_path: Path, prefect_api_url: str
):
    """The one case where a published table has no record: the history's write after the
    publish is refused for space. The line says both; neither the run nor the next
    ``status`` calls the asset fresh, on the rows of the success before."""
    write_location(tmp_path, MODULE, ASSETS, DDL)
    api = {"PREFECT_API_URL": prefect_api_url}
    built = run_location(tmp_path, MODULE, "materialize", "--select", "a+", "--json", **api)
    assert built.returncode == 0, built.stdout + built.stderr

    filled = run_location(
        tmp_path, MODULE, "materialize", "--select", "a+", "--json", FILL_HISTORY="1", **api
    )

    assert filled.returncode == 1, filled.stdout + filled.stderr
    report = json.loads(filled.stdout)
    a, a_child = report["assets"]
    assert a["status"] == "failed"
    assert a["error"].startswith(
        "asset 'a' (table fullrun.a): was published, but its record could not be written to "
        f"the history: {disk_full_line(tmp_path / 'wh')}"
    ), a["error"]
    assert a["error"].endswith(
        "free, less than its min_free_disk_* settings keep free): free space, then run again; "
        "until a run records it, pipeline status does not call it fresh"
    ), a["error"]
    assert "drop" not in a["error"]
    assert a["state"] == "stale"
    assert (a_child["status"], a_child["error"]) == ("skipped", STOPPED)

    status = run_location(tmp_path, MODULE, "status", "--json", **api)
    assert status.returncode == 0, status.stderr
    states = {asset["key"]: asset for asset in json.loads(status.stdout)}
    assert states["a"]["state"] == "stale"
    assert [reason["kind"] for reason in states["a"]["reasons"]] == ["last_run_failed"]
    rows = run_location(
        tmp_path, MODULE, "query", "SELECT count() AS n FROM fullrun.a", "--format", "csv"
    )
    assert rows.stdout.splitlines()[-1] == "4", rows.stdout + rows.stderr
