"""Command lines a newcomer gets wrong: each is one usage line (exit 2) saying what was
meant, not a run of something else (a second ``--select`` silently replacing the first)
or Click's bare "Got unexpected extra argument(s)"."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer

from tests import terminal
from tests.test_cli import REPO, pipeline

EXAMPLE = "tests.example_location"
LOCATION = ("--definitions", EXAMPLE)
#: Nothing listens there: a command that got as far as Prefect would fail, not hang.
NO_PREFECT = {"PREFECT_API_URL": "http://127.0.0.1:9/api"}


def _lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The command's lines: all on stderr, nothing on stdout."""
    assert result.stdout == "", result.stdout
    return result.stderr.splitlines()


@pytest.mark.parametrize(
    "command", ["list", "materialize", "lineage", "plan", "status", "checks", "serve"]
)
def test_a_second_select_is_refused_naming_both_and_the_union(tmp_path: Path, command: str):
    """``--select '+order_facts' --select customers`` ran customers alone, exit 0."""
    env = {"WAREHOUSE_URL": f"chdb://{tmp_path / 'wh'}", **NO_PREFECT}
    result = pipeline(command, *LOCATION, "--select", "+order_facts", "--select", "customers",
                      env=env)  # fmt: skip

    assert result.returncode == 2, result.stdout + result.stderr
    assert _lines(result) == [
        "error: --select was given twice ('+order_facts' and 'customers'), and only the last "
        "would count: to select them all, write --select '+order_facts or customers' "
        f"(see 'pipeline {command} --help')"
    ]
    assert not (tmp_path / "wh").exists()


def test_the_union_suggested_selects_what_both_did():
    union = pipeline("list", *LOCATION, "--json", "--select", "+order_facts or customers")

    assert union.returncode == 0, union.stderr
    assert '"key": "order_facts"' in union.stdout and '"key": "orders"' in union.stdout


def test_the_same_selection_twice_means_what_it_says_and_is_taken():
    result = pipeline("list", *LOCATION, "--select", "customers", "-s", "customers")

    assert result.returncode == 0, result.stderr
    assert "customers" in result.stdout


def test_any_single_value_option_given_twice_is_refused_three_values_named():
    result = pipeline("status", *LOCATION, "--warehouse", "chdb:///tmp/cliusage-a",
                      "--warehouse=chdb:///tmp/cliusage-b",
                      "--warehouse", "chdb:///tmp/cliusage-c")  # fmt: skip

    assert result.returncode == 2
    assert _lines(result) == [
        "error: --warehouse was given 3 times ('chdb:///tmp/cliusage-a', "
        "'chdb:///tmp/cliusage-b' and 'chdb:///tmp/cliusage-c'), and only the last would "
        "count: give it once (see 'pipeline status --help')"
    ]


def test_an_option_given_twice_before_the_command_is_refused_there():
    result = pipeline("--definitions", EXAMPLE, "--definitions", "tests.empty_location", "list")

    assert result.returncode == 2
    assert _lines(result) == [
        f"error: --definitions was given twice ('{EXAMPLE}' and 'tests.empty_location'), and "
        "only the last would count: give it once (see 'pipeline --help')"
    ]


def test_the_values_of_an_option_given_twice_are_named_without_their_secrets():
    result = pipeline("materialize", *LOCATION,
                      "--source", "https://u:s3cret@h.example/a.csv",
                      "--source", "https://h.example/b.csv?token=t0ken",
                      env=NO_PREFECT)  # fmt: skip

    assert result.returncode == 2
    assert _lines(result) == [
        "error: --source was given twice ('https://h.example/a.csv' and "
        "'https://h.example/b.csv'), and only the last would count: give it once "
        "(see 'pipeline materialize --help')"
    ]


def test_a_selection_without_select_says_where_it_goes():
    result = pipeline("materialize", *LOCATION, "order_facts+", env=NO_PREFECT)

    assert result.returncode == 2
    assert _lines(result) == [
        "error: selections go after --select, quoted: pipeline materialize --definitions "
        f"{EXAMPLE} --select 'order_facts+' (see 'pipeline materialize --help')"
    ]


def test_on_a_terminal_a_mistake_is_the_same_one_line_without_the_usage_block():
    """On a terminal it was Click's "Usage: ... Try ... for help." block, then "Error:
    selections go after --select, ...": the block adds nothing to a line that gives the
    command line that works, and every other error there is one ``error:`` line."""
    code, seen = terminal.screen(
        {**os.environ, **NO_PREFECT}, "materialize", *LOCATION, "order_facts+", columns=200
    )

    assert code == 2
    assert seen == [
        "error: selections go after --select, quoted: pipeline materialize --definitions "
        f"{EXAMPLE} --select 'order_facts+' (see 'pipeline materialize --help')"
    ]


def test_the_command_it_suggests_keeps_the_options_given_before_the_command():
    result = pipeline("--definitions", EXAMPLE, "list", "+order_facts", "--json")

    assert result.returncode == 2
    assert _lines(result) == [
        f"error: selections go after --select, quoted: pipeline --definitions {EXAMPLE} list "
        "--json --select '+order_facts' (see 'pipeline list --help')"
    ]


def test_an_unquoted_selection_with_spaces_is_said_quoted_whole():
    result = pipeline("list", *LOCATION, "--select", "order_facts+", "or", "customers")

    assert result.returncode == 2
    assert _lines(result) == [
        f"error: selections go after --select, quoted: pipeline list --definitions {EXAMPLE} "
        "--select 'order_facts+ or customers' (see 'pipeline list --help')"
    ]


def test_names_after_select_as_dbt_takes_them_are_said_as_their_union():
    result = pipeline("list", *LOCATION, "--select", "orders", "customers")

    assert result.returncode == 2
    assert _lines(result) == [
        f"error: selections go after --select, quoted: pipeline list --definitions {EXAMPLE} "
        "--select 'orders or customers' (see 'pipeline list --help')"
    ]


def test_a_star_the_shell_expanded_after_select_says_to_quote_it():
    """``--select *`` reaches the command as the working directory's file names."""
    names = sorted(path.name for path in REPO.iterdir() if not path.name.startswith("."))
    result = pipeline("list", *LOCATION, "--select", *names)

    assert result.returncode == 2
    assert _lines(result) == [
        f"error: the shell expanded an unquoted * into the file names here ({names[0]}, "
        f"{names[1]}, {names[2]} and {len(names) - 3} more): quote the selection, as in "
        f"pipeline list --definitions {EXAMPLE} --select '*' (see 'pipeline list --help')"
    ]


def test_an_extra_argument_that_is_no_selection_is_still_clicks_error():
    result = pipeline("query", "SELECT 1", "extra")

    assert result.returncode == 2
    assert _lines(result) == [
        "error: Got unexpected extra argument(s) (extra) (see 'pipeline query --help')"
    ]


def _every_command() -> list[tuple[str, Any, Any]]:
    """Each command of the app (the groups too, as Click builds them for a run) with its
    command line (``pipeline server start``) and the context of the group it is in."""
    import typer.main

    from orchestration.cli import app

    found: list[tuple[str, Any, Any]] = []
    waiting: list[tuple[str, Any, Any]] = [("pipeline", typer.main.get_command(app), None)]
    while waiting:
        path, command, parent = waiting.pop(0)
        found.append((path, command, parent))
        commands = getattr(command, "commands", {})
        context = typer.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        waiting += [(f"{path} {name}", commands[name], context) for name in sorted(commands)]
    return found


def _refusal(path: str, command: Any, parent: Any, args: list[str]) -> str | None:
    """The usage error Click's parsing of ``args`` for ``command`` ends in, if any: the
    command is not run."""
    try:
        command.make_context(path.rsplit(" ", 1)[-1], args, parent=parent)
    except typer.TyperException as exc:  # Click's UsageError, in Typer's private copy
        return str(exc.format_message())  # type: ignore[attr-defined]
    return None


def test_every_command_refuses_each_of_its_one_value_options_given_twice():
    """A command registered without the check would let the last value win in silence."""
    from orchestration.argument_mistakes import _takes_one_value

    unchecked = []
    checked = 0
    for path, command, parent in _every_command():
        for param in filter(_takes_one_value, command.params):
            option = param.opts[0]
            said = _refusal(path, command, parent, [option, "a", option, "b"])
            checked += 1
            if not (said or "").startswith(f"{option} was given twice ('a' and 'b')"):
                unchecked.append(f"{path} {option}: {said}")

    assert checked > 20  # every command of the app takes --definitions, most --select
    assert unchecked == []


def test_every_command_taking_a_selection_says_where_one_given_without_select_goes():
    with_select = [
        (path, command, parent)
        for path, command, parent in _every_command()
        if any(param.name == "select" for param in command.params)
    ]
    misplaced = {
        path: _refusal(path, command, parent, ["order_facts+"])
        for path, command, parent in with_select
    }

    assert len(with_select) >= 7
    assert misplaced == {
        path: f"selections go after --select, quoted: {path} --select 'order_facts+'"
        for path, _, _ in with_select
    }
