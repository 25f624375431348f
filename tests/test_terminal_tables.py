"""The tables of ``list``, ``status`` and ``plan`` on 80- and 120-column terminals: the
whole table when it fits; else what leaves the box follows it keyed by the asset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import terminal


def header(lines: list[str]) -> list[str]:
    """The column names of the first box on the screen."""
    line = next(line for line in lines if line.startswith("┃"))
    return [name.strip() for name in line.strip("┃").split("┃")]


def block(lines: list[str], title: str) -> list[str]:
    """The lines under ``title:`` after a box, up to the next line that is not indented."""
    start = lines.index(f"{title}:") + 1
    end = next((i for i, line in enumerate(lines[start:], start) if line[:1] != " "), None)
    return lines[start:end]


@pytest.mark.parametrize("command", ["status", "plan"])
def test_a_table_that_fits_80_columns_keeps_its_why_column(command: str, tmp_path: Path):
    """Its "why" left the box for 27 lines below it (``  hub_time  -``, ``  7  selected``)
    though the whole table was 62 columns wide."""
    warehouse = f"chdb://{tmp_path / 'none'}"  # no warehouse: every asset missing, cheaply
    code, lines = terminal.screen(os.environ, command, "--warehouse", warehouse, columns=80)

    assert code == 0, lines
    assert header(lines)[-1] == "why"
    assert "why:" not in lines
    assert all(len(line) <= 80 for line in lines if line.startswith(("┃", "│")))


def test_one_asset_is_listed_whole_in_the_box_at_120_columns():
    code, lines = terminal.screen(os.environ, "list", "--select", "hub_time", columns=120)

    assert code == 0, lines
    assert header(lines) == ["asset", "group", "table", "deps", "tags"]
    assert "deps:" not in lines and "tags:" not in lines


def test_deps_that_leave_an_80_column_box_are_keyed_by_the_asset_and_indented():
    """A long line of deps went back to the first column with a trailing space
    (``dim_customer  hub_invoice, ..., ⏎link_invoice_country``)."""
    code, lines = terminal.screen(os.environ, "list", columns=80)

    assert code == 0, lines
    assert header(lines) == ["asset", "group", "table"]
    deps = block(lines, "deps")
    at = deps.index(next(line for line in deps if line.split()[0] == "dim_customer"))
    value_at = deps[at].index("hub_invoice")
    assert deps[at + 1][:value_at].isspace() and deps[at + 1].strip() == "link_invoice_country"
    assert all(len(line) <= 80 and not line.endswith(" ") for line in lines)
    assert not any(line.split()[0] == "raw_online_retails" for line in deps)  # no deps: "-"


def test_lineage_text_fits_an_80_column_terminal_with_its_reads_indented():
    """fact_sales' line was 258 characters, broken by the terminal mid-name; a source read
    ``<- -``. Reads that do not fit follow the line, indented, never broken; piped, each
    asset stays one line (tests/test_cli.py)."""
    code, lines = terminal.screen(os.environ, "lineage", columns=80)

    assert code == 0, lines
    assert all(len(line) <= 80 and not line.endswith(" ") for line in lines), lines
    (source,) = [line for line in lines if line.startswith("raw_online_retails ")]
    assert source.split() == ["raw_online_retails", "raw.online_retails", "<-", "(none)"]
    at = next(i for i, line in enumerate(lines) if line.startswith("fact_sales "))
    assert lines[at].endswith("<-")
    below = lines[at + 1 : at + 4]
    assert all(line.startswith("    ") and line[4] != " " for line in below), below
    reads = " ".join(below).replace(",", " ").split()
    assert reads[:2] == ["hub_invoice", "link_invoice_product"]
    assert "link_invoice_customer" in reads and reads[-2:] == ["dim_country", "(order)"]
