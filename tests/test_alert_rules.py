"""The example Prometheus alert rules (deploy/prometheus/alerts.yml) under Prometheus's
own tool: ``promtool check rules`` (syntax, PromQL, templates) and ``promtool test rules``
(deploy/prometheus/alerts_test.yml: which alert fires on which pushed series).

``promtool`` is in Debian's ``prometheus`` package; without it these tests are skipped
locally and fail in CI (``CI`` set), as the Pushgateway's are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from assets.run_outcome import RUN_JOB

RULES_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
RULE_TESTS = RULES_DIR / "alerts_test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool missing: apt-get install prometheus"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120
    )


def test_promtool_accepts_the_alert_rules(promtool):
    result = run_promtool(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


def test_the_alerts_fire_on_a_failed_run_and_on_a_day_without_success(promtool):
    result = run_promtool(promtool, "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_reads_the_run_outcome_group_and_says_which_warehouse():
    rules = [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]
    assert sorted(rule["alert"] for rule in rules) == [
        "OnlineRetailNoRunReported",
        "OnlineRetailNoSuccessfulRun",
        "OnlineRetailRunFailed",
    ]
    for rule in rules:
        assert f'job="{RUN_JOB}"' in rule["expr"], rule
        assert rule["annotations"]["summary"], rule
    tested = yaml.safe_load(RULE_TESTS.read_text())
    assert tested["rule_files"] == [RULES.name]
    fired = {
        alert["alertname"]
        for test in tested["tests"]
        for alert in test["alert_rule_test"]
        if alert.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in rules}
