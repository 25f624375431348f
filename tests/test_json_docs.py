"""docs/json.md names every key of each command's document, and no key it does not have.

The documents are the real commands' output on the README's project (a run whose check
fails, so that failures, checks and findings are there to read); the documented keys are
the first cells of the doc's tables (``key``, or ``assets[].key`` for the objects of a
list). A field added to a document without its line in the doc fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.readme_project import build_readme_project, run

DOC = Path(__file__).resolve().parents[1] / "docs" / "json.md"
#: A section of the doc: its command, then its text up to the next section.
SECTION = re.compile(r"^## `pipeline ([^`]+)`\n(.*?)(?=^## |\Z)", re.M | re.S)
#: A table row's first cell: a key, or a path into a list's objects (``assets[].key``).
ROW_KEY = re.compile(r"^\| `([\w\[\].]+)` \|", re.M)
#: What uses a column: the section's command, run on the README project's ``amount``.
DOWNSTREAM = "lineage --column DB.TABLE.COL --downstream --format json"


def documented_tables(command: str) -> list[dict[str, set[str]]]:
    """Each table of ``command``'s section: its keys by where they are (``""`` for the
    document, or an object of it; ``"assets"`` for each object of its ``assets`` list)."""
    sections = {found[1]: found[2] for found in SECTION.finditer(DOC.read_text())}
    tables = []
    for table in re.split(r"\n\n(?=\| key \|)", sections[command])[1:]:
        keys: dict[str, set[str]] = {}
        for path in ROW_KEY.findall(table.split("\n\n")[0]):
            where, _, key = path.rpartition("[].")
            keys.setdefault(where, set()).add(key)
        tables.append(keys)
    return tables


def object_of(document: Any) -> dict[str, Any]:
    """The document if an object, else the first object of the list it is."""
    if isinstance(document, list):
        assert document, "an empty list shows no keys to compare"
        return document[0]
    return document


def assert_documented(command: str, document: Any, table: int = 0) -> None:
    expected = documented_tables(command)[table]
    shown = object_of(document)
    assert set(shown) == expected[""], f"{command}: keys differ from docs/json.md"
    for where, keys in expected.items():
        if where:
            assert set(object_of(shown[where])) == keys, f"{command}: {where}[] differs"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> dict[str, Any]:
    """Each command's document on the README's project, after a run whose check failed."""
    project = build_readme_project(tmp_path_factory.mktemp("shop"))
    (project / "data").mkdir()
    (project / "data/orders.csv").write_text("order_id,amount\n1,9.5\n2,20.0\n")
    assert run(project, "pipeline materialize", prefect_api_url).returncode == 0
    with (project / "data/orders.csv").open("a") as csv:
        csv.write("3,-5.0\n")
    commands = {
        "materialize --json": 1,
        "status --json": 0,
        "plan --json": 0,
        "list --json": 0,
        "checks --json": 0,  # the failed run published nothing: the table passes
        "validate --json": 1,
        "lineage --format json": 0,
        DOWNSTREAM: 0,
    }
    found = {}
    for command, code in commands.items():
        extra = " --sample" if command.startswith("validate") else ""
        typed = command.replace("DB.TABLE.COL", "shop.orders.amount")
        result = run(project, f"pipeline {typed}{extra}", prefect_api_url)
        assert result.returncode == code, f"{command}: {result.stdout}{result.stderr}"
        found[command] = json.loads(result.stdout)
    return found


@pytest.mark.parametrize(
    "command",
    [
        "materialize --json",
        "status --json",
        "plan --json",
        "list --json",
        "checks --json",
        "validate --json",
        "lineage --format json",
        DOWNSTREAM,
    ],
)
def test_each_documents_keys_are_the_docs(documents: dict[str, Any], command: str):
    assert_documented(command, documents[command])


def test_a_history_record_is_the_docs(documents: dict[str, Any]):
    """status's ``last_materialization`` and ``last_attempt`` are records (its second table)."""
    orders = next(s for s in documents["status --json"] if s["key"] == "orders")
    assert orders["last_materialization"] is not None
    assert_documented("status --json", orders["last_materialization"], table=1)
    assert_documented("status --json", orders["last_attempt"], table=1)


def test_what_uses_a_column_nests_the_columns_computed_from_it(documents: dict[str, Any]):
    """``used_by`` holds objects of the document's own shape (its table's first rows)."""
    amount = documents[DOWNSTREAM]
    (total,) = amount["used_by"]
    assert total["column"] == "shop.order_totals.total"
    assert set(total) == set(amount)
    assert amount["checks"] == [{"asset": "orders", "check": "no_negative_amounts"}]
