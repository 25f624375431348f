"""Declarations that form no graph are refused as the code location, the same way everywhere.

A SELECT that does not parse stopped ``list``, ``status`` and ``materialize`` with
``error: cannot load the code location: ...``, while a dependency cycle, a dependency on
no declared asset or two assets writing one table said only the problem
(``error: dependency cycle: a -> b ...``): the same kind of refusal (whichever assets the
command was asked about, the graph of them all cannot be built), in other words. Each
command here runs on a small broken location, as a user runs it: one line, the same lead,
the same cause ``validate`` finds, exit 1, no traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.locations import run_location, write_location

LEAD = "error: cannot load the code location: "

#: Each broken location's assets (``ASSETS``), and words its refusal holds.
BROKEN = {
    "cycle": (
        """def _rows(context):
    return None


ASSETS = [
    AssetSpec(key="a", table="g.a", body=_rows, kind="python", deps=("b",)),
    AssetSpec(key="b", table="g.b", body=_rows, kind="python", deps=("a",)),
]
""",
        "dependency cycle: a -> b (its deps= names a, ",
    ),
    "unknown dep": (
        """def _rows(context):
    return None


ASSETS = [
    AssetSpec(key="orders", table="g.orders", body=_rows, kind="python"),
    AssetSpec(key="a", table="g.a", body=_rows, kind="python", deps=("ordrs",)),
]
""",
        "asset 'a' depends on 'ordrs', which is not a declared asset; did you mean orders?",
    ),
    "one table twice": (
        """def _rows(context):
    return None


ASSETS = [
    AssetSpec(key="a", table="g.t", body=_rows, kind="python"),
    AssetSpec(key="b", table="g.t", body=_rows, kind="python"),
]
""",
        "assets 'a' and 'b' both write table g.t",
    ),
}
DDL = "CREATE DATABASE IF NOT EXISTS g;\n"
COMMANDS = (("list",), ("status",), ("materialize", "--select", "a"))


@pytest.mark.parametrize("broken", BROKEN)
def test_every_command_refuses_a_broken_graph_as_the_code_location_in_one_line(
    tmp_path: Path, broken: str
) -> None:
    assets, cause = BROKEN[broken]
    write_location(tmp_path, "broken", assets, DDL)

    validated = run_location(tmp_path, "broken", "validate")
    assert validated.returncode == 1, validated.stdout + validated.stderr
    found = next(line for line in validated.stdout.splitlines() if cause in line)
    assert found.startswith("[graph] ")
    for command in COMMANDS:
        refused = run_location(tmp_path, "broken", *command)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        # What validate finds, after the lead every refusal of the definitions has.
        assert refused.stderr.splitlines() == [LEAD + found.removeprefix("[graph] ")], command
        assert refused.stdout == ""


def test_a_select_reading_a_table_no_asset_produces_is_refused_the_same_way(
    tmp_path: Path,
) -> None:
    """``validate`` says it among the reads (``[reads]``), in its own words; the other
    commands refuse the code location for it like any other problem of the graph."""
    assets = """ASSETS = [
    AssetSpec(key="a", table="g.a", body=lambda context: "SELECT n FROM g.ordrs", kind="sql"),
]
"""
    write_location(tmp_path, "broken", assets, DDL)
    for command in COMMANDS:
        refused = run_location(tmp_path, "broken", *command)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        (line,) = refused.stderr.splitlines()
        assert line.startswith(f"{LEAD}broken.py:"), command
        assert "asset 'a' reads table g.ordrs, which no asset produces; add an asset" in line
