"""Help and usage errors as a person reads them: Rich panels on a terminal, plain text a
pipe or a file can be searched in (``pipeline --help | grep``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from enum import Enum
from typing import Any

import pytest

from orchestration.usage import RICH_HELP_MIN_WIDTH
from tests import terminal
from tests.test_cli import REPO, pipeline

#: Unicode's box-drawing block: Rich's panels (``╭─ Options ─╮``, ``│``).
BOX_DRAWING = re.compile("[\u2500-\u257f]")
ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Exit code and everything a person sees running the command on a terminal wide
    enough for Rich's help panels."""
    code, output = terminal.on_a_terminal(os.environ, *args, columns=RICH_HELP_MIN_WIDTH)
    return code, output.decode()


def help_lines(command: str, columns: int) -> list[str]:
    """The lines ``pipeline COMMAND --help`` fills on a terminal ``columns`` wide."""
    code, lines = terminal.screen(os.environ, command, "--help", columns=columns)
    assert code == 0, lines
    return lines


def option_help(piped_help: str, option: str) -> list[str]:
    """The lines of Click's plain help that describe ``option``: its own, and the ones
    indented under it up to the next option."""
    lines = piped_help.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"  (-\w, )?{option}\b", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("   ")), len(lines)
    )
    return lines[start:end]


def said(text: str) -> str:
    """``text`` with its line breaks and runs of spaces as single spaces."""
    return " ".join(text.split())


def test_piped_help_is_plain_text_listing_every_command():
    result = pipeline("--help")

    assert result.returncode == 0, result.stderr
    assert not BOX_DRAWING.search(result.stdout), result.stdout
    assert "\x1b[" not in result.stdout
    assert result.stdout.startswith("Usage: pipeline [OPTIONS] COMMAND [ARGS]...")
    listed = re.findall(r"^  ([a-z]+)  ", result.stdout, flags=re.MULTILINE)
    assert listed == [
        "list", "materialize", "lineage", "query", "validate", "checks", "serve", "status",
        "plan", "server",
    ]  # fmt: skip
    assert re.search(r"^  --debug\s+Show tracebacks", result.stdout, flags=re.MULTILINE)
    summary = (
        "checks Evaluate the checks of the selected assets (all by default); exit 1 on an "
        "error, or when an asset was never materialized (its checks are not run)."
    )
    assert summary in " ".join(result.stdout.split())  # whole, not cut to one line


def test_piped_command_help_gives_each_option_whole_on_its_own_line():
    result = pipeline("materialize", "--help")

    assert result.returncode == 0, result.stderr
    assert not BOX_DRAWING.search(result.stdout), result.stdout
    assert "…" not in result.stdout  # Rich cut help texts at its 80 columns
    assert "'+key:sales_summary'" in result.stdout
    options = re.findall(r"^  (?:-\w, )?(--[\w-]+)", result.stdout, flags=re.MULTILINE)
    assert options == [
        "--select", "--source", "--source-timeout", "--source-encoding", "--full-refresh",
        "--discard-history", "--break-lock", "--concurrency", "--json", "--verbose", "--warehouse",
        "--definitions", "--help",
    ]  # fmt: skip


def test_every_command_that_can_print_json_takes_json():
    """Six commands took ``--json`` and two only ``--format json`` (``query --json`` was
    "No such option", exit 2): a script should not need to know which spelling is whose."""
    import typer.main

    from orchestration.cli import app

    def options(command: Any) -> dict[str, Any]:
        return {opt: param for param in command.params for opt in param.opts}

    def formats(command: Any) -> list[str]:
        chosen = options(command).get("--format")
        default = getattr(chosen, "default", None)
        return [choice.value for choice in type(default)] if isinstance(default, Enum) else []

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    with_format_json = [name for name, command in commands.items() if "json" in formats(command)]
    assert with_format_json == ["lineage", "query", "validate"]
    assert [name for name in with_format_json if "--json" not in options(commands[name])] == []


def test_help_in_a_file_is_plain_too(tmp_path):
    written = tmp_path / "help.txt"
    with written.open("w") as out:
        subprocess.run(
            [sys.executable, "-m", "orchestration", "query", "--help"],
            cwd=REPO,
            stdout=out,
            check=True,
            timeout=120,
        )

    text = written.read_text()
    assert text.startswith("Usage: pipeline query [OPTIONS] ")
    assert "--allow-external" in text
    assert not BOX_DRAWING.search(text), text


def test_help_on_a_terminal_keeps_rich_panels():
    code, seen = on_a_terminal("materialize", "--help")

    assert code == 0, seen
    assert "\x1b[" in seen  # styled
    assert "╭─ Options" in ANSI_STYLE.sub("", seen)


def test_help_on_an_80_column_terminal_is_plain_and_cuts_no_value():
    """Rich's panel gave the descriptions an 18-column slice of 80 and cut ten values
    (``PIPELINE_DEFINITI…``, ``context.params['s…``); Click's help wraps them whole."""
    code, seen = terminal.on_a_terminal(os.environ, "materialize", "--help", columns=80)

    text = ANSI_STYLE.sub("", seen.decode())
    assert code == 0, text
    assert "…" not in text and not BOX_DRAWING.search(text), text
    assert "PIPELINE_DEFINITIONS" in text and "context.params['source_timeout']" in text


#: Widths a help is read at: an 80-column terminal to a wide screen's.
_WIDTHS = (80, 100, 120, 160, 200)


@pytest.mark.parametrize("command", ["materialize", "list"])
def test_help_takes_no_more_lines_on_a_wider_terminal(command):
    """At 100 columns ``materialize --help`` took 73 lines (53 at 80 and at 120): Rich's
    panel gave the descriptions a 38-column slice beside 23 columns empty but for ``-s``
    and ``--no-verbose``. A wider terminal must never make the help longer, and the
    descriptions start in its left half."""
    counts = {}
    for columns in _WIDTHS:
        lines = help_lines(command, columns)
        counts[columns] = len(lines)
        select = next(line for line in lines if "--select" in line)
        assert select.index("Dagster asset selection") <= columns // 2, (columns, select)
    assert list(counts.values()) == sorted(counts.values(), reverse=True), counts


def test_verbose_is_one_flag_without_a_negation_column():
    result = pipeline("materialize", "--help")

    assert re.search(r"^  --verbose  ", result.stdout, flags=re.MULTILINE), result.stdout
    assert "--no-verbose" not in result.stdout


def test_source_help_says_what_a_plain_run_reads():
    """A new user could not learn from ``--help`` that a run given no ``--source`` reads
    ``$ONLINE_RETAIL_DATA_URL``, else 100,000 generated rows."""
    from assets.sources import DEFAULT_SOURCE, SOURCE_ENV, describe_source

    for command in ("materialize", "serve", "status", "plan"):
        source = said(" ".join(option_help(pipeline(command, "--help").stdout, "--source")))
        assert f"reads ${SOURCE_ENV}, else {describe_source(DEFAULT_SOURCE)}" in source, source


def test_status_and_plan_say_what_they_do_with_the_encoding():
    """They run no asset: "passed to assets as context.params[...]" was materialize's."""
    for command in ("status", "plan"):
        encoding = said(
            " ".join(option_help(pipeline(command, "--help").stdout, "--source-encoding"))
        )
        assert "context.params" not in encoding, encoding
        assert "fingerprint" in encoding, encoding


def test_warehouse_help_is_two_lines_pointing_at_the_readme():
    """Five lines of URL forms, environment variables and password advice were repeated
    in the seven commands that open the warehouse: the README says the rest."""
    for command in ("materialize", "lineage", "query", "checks", "status", "plan", "serve"):
        warehouse = option_help(pipeline(command, "--help").stdout, "--warehouse")
        text = said(" ".join(warehouse)).removeprefix("--warehouse URL ")
        assert len(text) <= 100 and "(README: Warehouse)" in text, (command, text)
        if command == "materialize":  # at the usual width; lineage's options are wider
            assert len(warehouse) <= 2, warehouse


def test_the_global_warehouse_help_names_its_variable_once():
    """The shared text says ``$WAREHOUSE_URL`` is the default; the global option's own
    ending said "(as WAREHOUSE_URL; ...)" again."""
    warehouse = said(" ".join(option_help(pipeline("--help").stdout, "--warehouse")))
    assert warehouse.count("WAREHOUSE_URL") == 1, warehouse
    assert "given after the command too, that one wins" in warehouse, warehouse


def test_source_encoding_help_is_short_pointing_at_the_readme():
    """Six lines at 80 columns in each command that takes it: the README says the rest."""
    for command in ("materialize", "serve", "validate", "status", "plan"):
        encoding = option_help(
            pipeline(command, "--help", env={"COLUMNS": "80"}).stdout, "--source-encoding"
        )
        assert len(encoding) <= 3, (command, encoding)
        assert "(README: Sources)" in said(" ".join(encoding)), (command, encoding)


#: Every command whose help a user may read, as ``pipeline`` lists them.
COMMANDS = (
    (), ("list",), ("materialize",), ("lineage",), ("query",), ("validate",), ("checks",),
    ("serve",), ("status",), ("plan",), ("server",), ("server", "start"),
    ("server", "status"), ("server", "stop"),
)  # fmt: skip


def test_every_readme_section_a_help_text_names_is_a_heading_of_the_readme():
    """``--source-encoding`` sent readers to "README: Sources", a bold paragraph no
    contents or search for a heading finds. Each "README: X" in any help is a heading."""
    headings = set(re.findall(r"^#+ (.+?)\s*$", (REPO / "README.md").read_text(), re.M))
    named: dict[str, set[str]] = {}
    for command in COMMANDS:
        text = said(pipeline(*command, "--help", env={"COLUMNS": "200"}).stdout)
        for section in re.findall(r"README: ([^);]+)", text):
            named.setdefault(section.strip(), set()).add(" ".join(command) or "pipeline")
    assert named, "no help names a README section any more: drop this test"
    assert {
        section: commands for section, commands in named.items() if section not in headings
    } == {}


def test_plan_describes_itself_in_short_sentences():
    """Its description was one sentence of eleven lines."""
    text = pipeline("plan", "--help").stdout
    description = said(text.partition("Options:")[0].partition("\n\n")[2])
    sentences = [s for s in re.split(r"(?<=\.)\s", description) if s]
    assert max(len(sentence) for sentence in sentences) <= 120, sentences


def test_a_piped_unknown_option_is_one_line_naming_it_and_where_help_is():
    result = pipeline("materialize", "--nope")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: No such option: --nope (see 'pipeline materialize --help')"
    ]


def test_an_option_without_its_value_says_where_help_is_as_other_usage_errors_do():
    # Click raises this one while parsing, before the command's context is set on the
    # error: piped it lacked the help hint, on a terminal the usage lines.
    result = pipeline("status", "--select")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Option '--select' requires an argument (see 'pipeline status --help')"
    ]
    code, seen = on_a_terminal("status", "--select")
    assert code == 2
    assert "Usage: pipeline status [OPTIONS]" in seen


def test_a_bad_choice_is_said_without_the_validation_librarys_prefix():
    result = pipeline("lineage", "--format", "svg")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--format' / '-f': 'svg' is not one of 'text', 'mermaid', "
        "'dot', 'json' (see 'pipeline lineage --help')"
    ]


def test_a_piped_unknown_command_is_one_line_too():
    result = pipeline("materialise")

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: No such command 'materialise'")
    assert lines[0].endswith("(see 'pipeline --help')")


def test_a_group_without_its_command_shows_its_plain_help():
    result = pipeline("server")

    assert result.returncode == 2
    assert result.stderr.startswith("Usage: pipeline server [OPTIONS] COMMAND [ARGS]...")
    assert re.findall(r"^  ([a-z]+)  ", result.stderr, flags=re.MULTILINE) == [
        "start", "status", "stop",
    ]  # fmt: skip
    assert not BOX_DRAWING.search(result.stderr), result.stderr


def test_an_unknown_option_on_a_terminal_shows_the_usage():
    code, seen = on_a_terminal("materialize", "--nope")

    assert code == 2
    assert "Usage: pipeline materialize [OPTIONS]" in seen
    assert "No such option: --nope" in seen


def test_help_names_what_each_option_takes_and_no_value_for_a_flag():
    # Typer 0.29 labelled options by Python type: '--select <str>', '--warehouse <str>',
    # and on a terminal '--allow-external <bool>', which reads as a flag taking a value
    # ('--allow-external true' is then "unexpected extra argument").
    piped = pipeline("query", "--help").stdout
    assert re.search(r"^  --warehouse URL\s", piped, flags=re.MULTILINE), piped
    assert re.search(r"^  --definitions MODULE\s", piped, flags=re.MULTILINE), piped
    listed = pipeline("list", "--help").stdout
    assert re.search(r"^  -s, --select EXPR\s", listed, flags=re.MULTILINE), listed
    code, seen = on_a_terminal("query", "--help")
    assert code == 0, seen
    options = ANSI_STYLE.sub("", seen).partition("Options")[2]
    assert "<bool>" not in options and "<str>" not in options, options
    assert re.search(r"--allow-external\s+Let table functions", options), options
    assert re.search(r"--help\s+Show this message", options), options
