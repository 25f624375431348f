"""Applying DDL: a CREATE ... IF NOT EXISTS whose object the catalog already holds is not
sent again (setup runs before every materialization), and everything else still runs, in order;
consecutive tables that need nothing but their columns are created side by side."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from io_managers.ddl import apply_ddl
from io_managers.errors import WarehouseError, WarehouseQueryError
from io_managers.transport import EmbeddedTransport
from orchestration.errors import ExpectedError

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
        #: (statement head, thread, start, end) of each statement, in the order they ended.
        self.timeline: list[tuple[str, int, float, float]] = []

    def command(self, sql: str) -> None:
        self.commands.append(" ".join(sql.split()))
        started = time.perf_counter()
        super().command(sql)
        head = " ".join(sql.split()).split(" (")[0].split(" AS ")[0]
        self.timeline.append((head, threading.get_ident(), started, time.perf_counter()))


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
    with pytest.raises(WarehouseQueryError, match=r"strict\.sql:1:1: statement 1"):
        apply_ddl(transport, [strict])


WAREHOUSE_DDL = """
CREATE DATABASE IF NOT EXISTS wh;
CREATE TABLE IF NOT EXISTS wh.t1 (id UInt64) ENGINE = MergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS wh.t2 (id UInt64) ENGINE = ReplacingMergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS wh.t3 (id UInt64) ENGINE = MergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS wh.t4 (note String) ENGINE = Log;
CREATE TABLE IF NOT EXISTS wh.t5 (id UInt64) ENGINE = MergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS wh.t6 (id UInt64) ENGINE = Memory;
CREATE VIEW IF NOT EXISTS wh.both AS SELECT id FROM wh.t1 UNION ALL SELECT id FROM wh.t2;
CREATE TABLE IF NOT EXISTS wh.copy AS wh.t3;
INSERT INTO wh.copy VALUES (7);
"""


def test_tables_of_a_new_warehouse_are_created_side_by_side_the_rest_in_order(transport, tmp_path):
    path = tmp_path / "wh.sql"
    path.write_text(WAREHOUSE_DDL)
    assert apply_ddl(transport, [path]) == 10
    at = {head: (thread, start, end) for head, thread, start, end in transport.timeline}
    tables = [f"CREATE TABLE IF NOT EXISTS wh.t{n}" for n in range(1, 7)]
    assert len({at[table][0] for table in tables}) > 1  # more than one thread
    database_done = at["CREATE DATABASE IF NOT EXISTS wh"][2]
    assert all(at[table][1] >= database_done for table in tables)
    view = at["CREATE VIEW IF NOT EXISTS wh.both"]
    assert view[1] >= max(at[table][2] for table in tables)
    copy = at["CREATE TABLE IF NOT EXISTS wh.copy"]
    assert copy[1] >= view[2]
    assert at["INSERT INTO wh.copy VALUES"][1] >= copy[2]
    assert transport.query_arrow("SELECT id FROM wh.copy").to_pylist() == [{"id": 7}]


def test_of_tables_created_side_by_side_the_first_failure_in_file_order_is_reported(
    transport, tmp_path
):
    path = tmp_path / "broken.sql"
    path.write_text(
        "CREATE DATABASE IF NOT EXISTS wh;\n"
        "CREATE TABLE IF NOT EXISTS wh.ok (id UInt64) ENGINE = MergeTree ORDER BY id;\n"
        "CREATE TABLE IF NOT EXISTS wh.bad (id NoSuchType) ENGINE = MergeTree ORDER BY id;\n"
        "CREATE TABLE IF NOT EXISTS wh.worse (id NoSuchType) ENGINE = MergeTree ORDER BY id;\n"
    )
    with pytest.raises(
        WarehouseQueryError, match=r"broken\.sql:3:1: statement 3 \(CREATE TABLE IF"
    ):
        apply_ddl(transport, [path])


def test_a_heredoc_with_a_semicolon_is_one_statement_of_the_ddl(transport, tmp_path):
    path = tmp_path / "heredoc.sql"
    path.write_text(
        "CREATE DATABASE IF NOT EXISTS wh;\n"
        "CREATE TABLE IF NOT EXISTS wh.notes (note String DEFAULT $$a; b$$, id UInt8)"
        " ENGINE = Memory;\n"
        "INSERT INTO wh.notes (id) VALUES (1);\n"
    )
    assert apply_ddl(transport, [path]) == 3
    assert transport.query_arrow("SELECT note FROM wh.notes").to_pylist() == [{"note": "a; b"}]


def test_an_unclosed_quote_names_the_ddl_file_and_runs_nothing(transport, tmp_path):
    path = tmp_path / "unclosed.sql"
    path.write_text(
        "CREATE DATABASE IF NOT EXISTS wh;\n"
        "CREATE TABLE IF NOT EXISTS wh.t (s String DEFAULT 'open) ENGINE = Memory;\n"
    )
    with pytest.raises(WarehouseError, match=r"unclosed\.sql: .*unclosed quote or comment"):
        apply_ddl(transport, [path])
    assert transport.commands == []


def test_a_syntax_error_is_named_at_its_line_and_column_in_the_file(
    transport, tmp_path, monkeypatch
):
    """The engine counts lines from the statement's start ("line 3, col 14"): an editor
    or a CI annotation needs the file's own line and column, from the working directory."""
    (tmp_path / "ddl").mkdir()
    (tmp_path / "ddl" / "x.sql").write_text(
        "CREATE DATABASE IF NOT EXISTS wh;\n"
        "\n"
        "-- the table\n"
        "CREATE TABLE IF NOT EXISTS wh.t (\n"
        "    a UInt64,\n"
        "    b String,,\n"
        "    c UInt8\n"
        ") ENGINE = MergeTree ORDER BY a;\n"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WarehouseQueryError) as error:
        apply_ddl(transport, [tmp_path / "ddl"])
    assert str(error.value).startswith("ddl/x.sql:6:14: statement 2 (CREATE TABLE IF NOT EXISTS")
    assert "Syntax error" in str(error.value)
    # The file's own mistake, said in full: no "run with --debug" hint for a traceback.
    assert isinstance(error.value, ExpectedError)


def test_an_error_the_engine_gives_no_place_for_is_named_at_its_statement(transport, tmp_path):
    path = tmp_path / "types.sql"
    path.write_text(
        "CREATE DATABASE IF NOT EXISTS wh;  CREATE TABLE IF NOT EXISTS wh.t (a NoSuchType)"
        " ENGINE = MergeTree ORDER BY a;\n"
    )
    with pytest.raises(WarehouseQueryError) as error:
        apply_ddl(transport, [path])
    assert str(error.value).startswith(f"{path}:1:36: statement 2 (CREATE TABLE")


def test_a_ddl_file_that_is_not_there_is_the_code_locations_mistake(transport, tmp_path):
    with pytest.raises(WarehouseError, match=r"DDL file .*shops\.sql does not exist") as error:
        apply_ddl(transport, [tmp_path / "shops.sql"])
    assert isinstance(error.value, ExpectedError)  # one line, no "run with --debug" hint


def test_a_ddl_file_that_cannot_be_split_is_the_code_locations_mistake(transport, tmp_path):
    path = tmp_path / "open.sql"
    path.write_text("CREATE DATABASE IF NOT EXISTS wh; SELECT 'unclosed;\n")
    with pytest.raises(WarehouseError, match=r"DDL file .*open\.sql: unclosed quote") as error:
        apply_ddl(transport, [path])
    assert isinstance(error.value, ExpectedError)
