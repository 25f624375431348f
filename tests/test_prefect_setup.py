"""The Prefect settings the CLI picks: Prefect itself must read them as meant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orchestration.prefect_setup import TEMPORARY_SERVER_START_SECONDS

REPO = Path(__file__).resolve().parents[1]
READ_SETTINGS = """
from orchestration.prefect_setup import configure_prefect
configure_prefect(verbose=False)
from prefect.settings import get_current_settings
print(get_current_settings().server.ephemeral.startup_timeout_seconds)
"""


def startup_limit_prefect_reads(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    result = subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_temporary_server_gets_more_than_prefects_20_seconds():
    assert TEMPORARY_SERVER_START_SECONDS > 20
    assert startup_limit_prefect_reads({}) == str(TEMPORARY_SERVER_START_SECONDS)


def test_a_users_own_setting_wins():
    setting = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "45"}
    assert startup_limit_prefect_reads(setting) == "45"
