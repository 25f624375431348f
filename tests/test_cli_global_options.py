"""Options written before the sub-command (``pipeline --definitions X list``), as git,
docker and kubectl take them: the code location and the warehouse mean the same there."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests import terminal
from tests.test_cli import pipeline

EXAMPLE = "tests.example_location"


def _keys(stdout: str) -> list[str]:
    return [row["key"] for row in json.loads(stdout)]


def test_definitions_before_the_command_is_the_code_location():
    result = pipeline("--definitions", EXAMPLE, "list", "--json")

    assert result.returncode == 0, result.stderr
    assert _keys(result.stdout) == ["orders", "customers", "order_facts", "daily_revenue"]
    written = pipeline(f"--definitions={EXAMPLE}", "list", "--json")
    assert written.returncode == 0, written.stderr
    assert _keys(written.stdout) == _keys(result.stdout)


def test_a_definitions_option_wins_over_the_environment_and_the_one_after_wins_over_both():
    env = {"PIPELINE_DEFINITIONS": "tests.empty_location"}

    before = pipeline("--definitions", EXAMPLE, "list", "--json", env=env)
    assert before.returncode == 0, before.stderr
    assert len(_keys(before.stdout)) == 4

    after = pipeline(
        "--definitions", "tests.empty_location", "list", "--definitions", EXAMPLE, "--json"
    )
    assert after.returncode == 0, after.stderr
    assert len(_keys(after.stdout)) == 4


def test_warehouse_before_the_command_is_the_warehouse_it_opens(tmp_path: Path):
    result = pipeline(
        "--warehouse", str(tmp_path / "wh"), "status", "--definitions", EXAMPLE
    )  # a bare directory: refused, naming it, so the option reached the command

    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(
        f"error: the warehouse URL '{tmp_path}/wh' has no scheme"
    )
    assert not (tmp_path / "wh").exists()


def test_a_command_that_opens_no_warehouse_ignores_it_as_it_ignores_warehouse_url(
    tmp_path: Path,
):
    result = pipeline("--warehouse", f"chdb://{tmp_path}/wh", "list", "--definitions", EXAMPLE)

    assert result.returncode == 0, result.stderr
    assert "order_facts" in result.stdout


def test_help_names_the_options_taken_before_the_command():
    result = pipeline("--help")

    assert result.returncode == 0, result.stderr
    for option in ("--definitions MODULE", "--warehouse URL", "--debug"):
        assert option in result.stdout, result.stdout


def test_a_commands_own_option_before_it_says_in_one_line_where_it_goes():
    result = pipeline("--select", "key:customers+ or key:orders", "--json", "list")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: --select goes after the command: pipeline list --select 'key:customers+ or "
        "key:orders' "
        "--json (see 'pipeline list --help')"
    ]


def test_the_line_keeps_the_options_that_belong_before_the_command():
    result = pipeline("--definitions", EXAMPLE, "--verbose", "materialize", "--select", "x")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: --verbose goes after the command: pipeline --definitions {EXAMPLE} "
        "materialize --verbose --select x (see 'pipeline materialize --help')"
    ]


def test_an_option_no_command_has_is_still_no_such_option():
    result = pipeline("--nope", "list")

    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: No such option: --nope (see 'pipeline --help')"]


def test_on_a_terminal_the_usage_is_the_commands_with_the_same_line():
    code, seen = terminal.on_a_terminal(os.environ, "--json", "status", columns=200)

    text = seen.decode()
    assert code == 2
    assert "Usage: pipeline status [OPTIONS]" in text
    assert "--json goes after the command: pipeline status --json" in text


def test_on_a_narrow_terminal_an_error_line_is_left_to_the_terminal_to_wrap():
    """Rich broke long lines at the terminal's width with a newline of its own, so a line
    copied from the terminal (into a search, an issue) came apart mid-sentence."""
    code, seen = terminal.on_a_terminal(
        os.environ, "list", "--select", "fact_sales,dim_country", columns=80
    )

    lines = re.sub(r"\x1b\[[0-9;]*m", "", seen.decode()).splitlines()
    assert code == 2
    assert lines[0] == (
        "error: invalid asset selection at position 10: a ',' does not join selections: "
        "write or (fact_sales or dim_country)"
    )


def test_every_command_that_reads_assets_takes_both_after_it_too(tmp_path: Path):
    """Scripts give every command the same options: ``pipeline list --warehouse X`` was a
    usage error while ``pipeline --warehouse X list`` ran. Written after a command that
    opens no warehouse, it is ignored, as it is before it and as WAREHOUSE_URL is."""
    warehouse = ("--warehouse", f"chdb://{tmp_path}/wh")
    listed = pipeline("list", "--definitions", EXAMPLE, *warehouse)
    assert listed.returncode == 0, listed.stderr
    assert "order_facts" in listed.stdout
    validated = pipeline("validate", "--definitions", EXAMPLE, *warehouse, "--json")
    assert validated.returncode in (0, 1), validated.stderr
    assert isinstance(json.loads(validated.stdout), list)
    assert not (tmp_path / "wh").exists()
    for command in ("list", "validate"):
        shown = pipeline(command, "--help")
        assert re.search(r"--warehouse URL +Ignored", shown.stdout), shown.stdout


def test_a_global_option_after_a_command_that_takes_none_says_where_it_goes(tmp_path: Path):
    url = "clickhouse://etl:s3cret@ch:8123/"
    result = pipeline("server", "status", "--warehouse", url)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: --warehouse goes before the command, where server status ignores it: "
        "pipeline --warehouse clickhouse://ch:8123/ server status (URLs shown without "
        "credentials or query string) (see 'pipeline server status --help')"
    ]
