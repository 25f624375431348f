"""The benchmark's baselines do the pipeline's work, or their times would compare nothing.

``bench/bare.py`` (the same transformations as bare SQL) and ``bench/original.py`` (the
original system's approach: pandas, row-by-row SHA-256 staging, a hand-wired Prefect
flow) each run in their own process, as ``run_benchmark.py`` runs them, on the same small
source as ``pipeline materialize``; every table they fill must hold as many rows as the
pipeline's, and the original must have run as a Prefect flow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.sources import synthetic
from orchestration.definitions import load_definitions

REPO = Path(__file__).resolve().parents[1]
ROWS = 400


def _environment(api_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"}
    return {**env, "PREFECT_API_URL": api_url, "PYTHONPATH": str(REPO)}


def _run(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _row_counts(warehouse: Path, env: dict[str, str]) -> dict[str, int]:
    """Rows per asset table, read with the pipeline's own read-only query command."""
    tables = [spec.table for spec in load_definitions("assets").graph()]
    union = " UNION ALL ".join(
        f"SELECT '{table}' AS t, count() AS n FROM {table}" for table in tables
    )
    out = _run(
        env,
        "-m",
        "orchestration",
        "query",
        union,
        "--format",
        "json",
        "--warehouse",
        f"chdb://{warehouse}",
    )
    return {row["t"]: int(row["n"]) for row in json.loads(out)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench-source") / "online_retail_synthetic.csv"
    synthetic.generate(ROWS, 7).to_csv(path, index=False)
    return path


def _baseline(mode: str, source: Path, tmp_path: Path, env: dict[str, str]) -> tuple[dict, dict]:
    warehouse = tmp_path / mode
    out = _run(
        env,
        "bench/run_benchmark.py",
        "--child",
        mode,
        "--source",
        str(source),
        "--warehouse",
        str(warehouse),
    )
    return json.loads(out.strip().splitlines()[-1]), _row_counts(warehouse, env)


def test_bare_and_original_fill_every_table_like_the_pipeline(
    source: Path, tmp_path: Path, prefect_api_url: str
) -> None:
    env = _environment(prefect_api_url)
    pipeline_warehouse = tmp_path / "pipeline"
    report = json.loads(
        _run(
            {**env, "SALES_DASHBOARD_PATH": str(tmp_path / "dashboard.html")},
            "-m",
            "orchestration",
            "materialize",
            "--json",
            "--source",
            str(source),
            "--warehouse",
            f"chdb://{pipeline_warehouse}",
        )
    )
    assert report["ok"]
    expected = _row_counts(pipeline_warehouse, env)
    assert expected["marts.Fact_Sales"] > 0

    for mode in ("bare", "original"):
        result, counts = _baseline(mode, source, tmp_path, env)
        assert result["fact_sales_rows"] == expected["marts.Fact_Sales"], mode
        # The run-specific report tables (run ids, timestamps) hold as many rows too.
        assert counts == expected, mode
        assert set(result["seconds"]) == {spec.key for spec in load_definitions("assets").graph()}


def test_the_original_runs_as_a_hand_wired_prefect_flow(
    source: Path, tmp_path: Path, prefect_api_url: str
) -> None:
    from prefect import get_client

    _baseline("original", source, tmp_path, _environment(prefect_api_url))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        names = {client.read_flow(run.flow_id).name for run in runs}
        assert "online-retail-original" in names
        original = next(
            r for r in runs if client.read_flow(r.flow_id).name == "online-retail-original"
        )
        assert original.state is not None and original.state.is_completed()
        tasks = client.read_task_runs()
        ours = {t.name.rsplit("-", 1)[0] for t in tasks if t.flow_run_id == original.id}
    assert "psa_online_retails" in ours and "fact_sales" in ours
