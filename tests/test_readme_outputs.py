"""The README's four uses show the output those commands give today.

Each use shows a command and, in the fenced block after it, what it prints, with ``...``
where lines are left out and a line ending in ``...`` where its end is. Those blocks had
drifted (28 assets after the 29th was added, a refusal that had become two lines, a
lineage summary one asset short) while every test of the commands passed, because nothing
read them. Here each is compared with a real run of its command (the real CLI, the shipped
code location, an embedded warehouse), or, for the full run, with the counts the shipped
definitions imply.
"""

from __future__ import annotations

import re
from pathlib import Path

from orchestration.definitions import load_definitions
from tests.test_cli import REPO, pipeline
from tests.test_unbuilt_upstream import NO_PREFECT

README = REPO / "README.md"
ELIDED = "..."


def shown_output(command: str) -> list[str]:
    """The lines of the first plain fenced block after the ``bash`` block that holds
    ``command`` (the README's "this is what it prints")."""
    text = README.read_text(encoding="utf-8")
    fences = re.findall(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)
    for at, (kind, body) in enumerate(fences):
        if kind == "bash" and command in body:
            shown = next(b for k, b in fences[at + 1 :] if not k)
            return shown.splitlines()
    raise AssertionError(f"README.md has no bash block running {command!r}")


def matches(shown: list[str], real: list[str]) -> bool:
    """Whether ``real`` is what ``shown`` shows: each shown line is a real line, in order,
    a line ``...`` stands for any lines, and a line ending ``...`` for its start."""
    if not shown:
        return not real
    first, rest = shown[0], shown[1:]
    if first == ELIDED:
        return any(matches(rest, real[skip:]) for skip in range(len(real) + 1))
    if not real:
        return False
    same = (
        real[0].startswith(first.removesuffix(ELIDED).rstrip(" ,"))
        if first.endswith(ELIDED)
        else real[0] == first
    )
    return same and matches(rest, real[1:])


def test_the_elision_rule_can_fail():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a, b, ..."], ["a, b, c"])
    assert not matches(["a", "...", "e"], ["a", "b", "c", "d"])
    assert not matches(["a", "c"], ["a", "b", "c"])


def test_use_1_counts_every_shipped_asset_and_check():
    """A full run materializes every asset and passes every check (its row counts and
    seconds are the data's and the machine's, so only the counts are compared)."""
    graph = load_definitions("assets").graph()
    shown = shown_output("pipeline materialize          # or make run")
    checks = sum(len(spec.checks) for spec in graph)
    assert f"Run report: {len(list(graph))} materialized" in shown
    assert f"Checks: {checks} passed" in shown


def test_use_2_shows_the_refusal_as_a_new_warehouse_gives_it(tmp_path: Path):
    env = {**NO_PREFECT, "WAREHOUSE_URL": f"chdb://{tmp_path / 'warehouse'}"}
    refused = pipeline("materialize", "--select", "fact_sales+", env=env)
    assert refused.returncode == 1
    shown = [
        block for block in _fenced_in("2. Materialize one asset") if block[0].startswith("error:")
    ]
    assert len(shown) == 1, "use 2 shows the refusal once"
    assert matches(shown[0], refused.stderr.splitlines()), refused.stderr


def test_use_4_shows_a_columns_downstream_as_lineage_prints_it(ddl_warehouse: Path):
    command = "pipeline lineage --column raw.psa_online_retails.Quantity --downstream"
    printed = pipeline(*command.split()[1:], "--warehouse", f"chdb://{ddl_warehouse}")
    assert printed.returncode == 0, printed.stderr
    assert matches(shown_output(command), printed.stdout.splitlines()), printed.stdout


def _fenced_in(heading: str) -> list[list[str]]:
    """The lines of each fenced block in the README section whose heading starts with
    ``### heading``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n### {heading}")
    section = text[start : text.find("\n### ", start + 1)]
    return [body.splitlines() for body in re.findall(r"^```\w*\n(.*?)^```$", section, re.M | re.S)]
