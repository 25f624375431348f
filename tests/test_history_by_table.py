"""Two code locations on one warehouse, each with an asset ``orders`` of its own table.

Two teams (or a dev and a test location) share one ClickHouse server; both declare an
asset ``orders``, writing ``team_a.orders`` and ``team_b.orders``. The history was read by
asset key alone, so location B's ``orders`` counted as built from A's runs: ``status``
said it was there and ``materialize --select summary`` built B's summary from an empty
``team_b.orders``. A materialization of ``orders`` is the history of the table it wrote.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from tests.locations import write_location
from tests.test_cli import REPO, pipeline

#: Nothing listens there: location B's commands must not need Prefect.
NO_PREFECT = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}

ASSETS = """DB = {db!r}
ASSETS = [
    AssetSpec(key='orders', table=f'{{DB}}.orders', kind='sql',
              body=lambda context: 'SELECT toInt64(number) AS n FROM numbers(3)'),
    AssetSpec(key='summary', table=f'{{DB}}.summary', kind='sql', deps=('orders',),
              body=lambda context: f'SELECT toInt64(sum(n)) AS total FROM {{DB}}.orders'),
]
"""

DDL = """CREATE DATABASE IF NOT EXISTS {db};
CREATE TABLE IF NOT EXISTS {db}.orders (n Int64) ENGINE = MergeTree ORDER BY n;
CREATE TABLE IF NOT EXISTS {db}.summary (total Int64) ENGINE = MergeTree ORDER BY total;
"""


def team_location(directory: Path, team: str) -> tuple[str, str]:
    """A location module in ``directory`` whose tables live in their own database."""
    db = f"{team}_{uuid.uuid4().hex[:8]}"
    module = f"loc_{db}"
    write_location(directory, module, ASSETS.format(db=db), DDL.format(db=db))
    return module, db


def test_an_asset_of_another_location_with_the_same_key_is_not_built_here(
    tmp_path: Path, prefect_api_url: str
):
    warehouse = f"chdb://{tmp_path / 'shared-warehouse'}"
    team_a, _ = team_location(tmp_path, "team_a")
    team_b, db_b = team_location(tmp_path, "team_b")
    path = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}

    def run(module: str, *args: str, env: dict[str, str]):
        return pipeline(*args, "--definitions", module, "--warehouse", warehouse, env=env)

    built = run(team_a, "materialize", env={**path, "PREFECT_API_URL": prefect_api_url})
    assert built.returncode == 0, built.stdout + built.stderr

    status = run(team_b, "status", "--json", env={**path, **NO_PREFECT})
    assert status.returncode == 0, status.stderr
    states = {asset["key"]: asset for asset in json.loads(status.stdout)}
    assert states["orders"]["state"] == "missing"
    assert states["summary"]["state"] == "missing"
    assert states["orders"]["last_materialization"] is None

    refused = run(team_b, "materialize", "--select", "summary", env={**path, **NO_PREFECT})
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.splitlines() == [
        "error: run this instead: pipeline materialize --select 'summary or orders' "
        f"--warehouse {warehouse} --definitions {team_b}",
        "the selection 'summary' reads an asset never materialized in this warehouse; "
        "'summary or orders' builds it too (or materialize it first): orders",
    ]
    databases = run(
        team_b, "query", f"SELECT count() AS n FROM system.databases WHERE name = '{db_b}'",
        "--format", "csv", env={**path, **NO_PREFECT},
    )  # fmt: skip
    assert databases.returncode == 0, databases.stderr
    assert databases.stdout.splitlines() == ['"n"', "0"], "the refused run built team_b"

    # Location A's own assets are still built, as its history says.
    still = run(team_a, "status", "--json", env={**path, **NO_PREFECT})
    assert still.returncode == 0, still.stderr
    assert {asset["state"] for asset in json.loads(still.stdout)} == {"fresh"}
