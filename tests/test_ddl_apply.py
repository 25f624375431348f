"""Applying DDL: a CREATE ... IF NOT EXISTS whose object the catalog already holds is not
sent again (setup runs on every command), and everything else still runs, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from io_managers.ddl import apply_ddl
from io_managers.errors import WarehouseQueryError
from io_managers.transport import EmbeddedTransport

DDL = """
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.sales (id UInt64, amount Float64) ENGINE = MergeTree ORDER BY id;
CREATE DATABASE IF NOT EXISTS shop;
CREATE VIEW IF NOT EXISTS shop.big AS SELECT * FROM shop.sales WHERE amount > 100;
CREATE TABLE IF NOT EXISTS shop.audit (note String) ENGINE = MergeTree ORDER BY note;
INSERT INTO shop.audit VALUES ('setup ran');
"""


class CountingTransport(EmbeddedTransport):
    """The real embedded engine, remembering each statement sent for its effect."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commands: list[str] = []

    def command(self, sql: str) -> None:
        self.commands.append(" ".join(sql.split()))
        super().command(sql)


@pytest.fixture
def transport(tmp_path):
    transport = CountingTransport(tmp_path / "warehouse")
    yield transport
    transport.close()


def ddl_file(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sql"
    path.write_text(DDL)
    return path


def audit_notes(transport: EmbeddedTransport) -> list[str]:
    rows = transport.query_arrow("SELECT note FROM shop.audit ORDER BY note").to_pylist()
    return [row["note"] for row in rows]


def test_first_apply_runs_each_create_once_and_everything_else(transport, tmp_path):
    assert apply_ddl(transport, [ddl_file(tmp_path)]) == 6
    # The second CREATE DATABASE of the same script finds the one the first made.
    assert [c.split(" (")[0].split(" AS ")[0] for c in transport.commands] == [
        "CREATE DATABASE IF NOT EXISTS shop",
        "CREATE TABLE IF NOT EXISTS shop.sales",
        "CREATE VIEW IF NOT EXISTS shop.big",
        "CREATE TABLE IF NOT EXISTS shop.audit",
        "INSERT INTO shop.audit VALUES",
    ]
    assert audit_notes(transport) == ["setup ran"]


def test_a_second_apply_sends_only_what_is_not_a_create_of_an_existing_object(transport, tmp_path):
    apply_ddl(transport, [ddl_file(tmp_path)])
    transport.commands.clear()
    transport.command("DROP TABLE shop.sales SYNC")  # dropped by hand: made again
    transport.commands.clear()

    assert apply_ddl(transport, [ddl_file(tmp_path)]) == 6
    assert [c.split(" (")[0] for c in transport.commands] == [
        "CREATE TABLE IF NOT EXISTS shop.sales",
        "INSERT INTO shop.audit VALUES",
    ]
    assert audit_notes(transport) == ["setup ran", "setup ran"]


def test_a_create_without_if_not_exists_still_fails_on_an_existing_table(transport, tmp_path):
    apply_ddl(transport, [ddl_file(tmp_path)])
    strict = tmp_path / "strict.sql"
    strict.write_text("CREATE TABLE shop.sales (id UInt64) ENGINE = MergeTree ORDER BY id;")
    with pytest.raises(WarehouseQueryError, match=r"strict\.sql: statement 1"):
        apply_ddl(transport, [strict])
