"""``pipeline query`` cannot change the warehouse: the engine itself refuses.

The layers, each tested on its own:

* the **engine**: ``query`` runs on a ClickHouse session with ``readonly = 1`` (chdb: a
  second connection to the same directory; server: the ``readonly`` setting on the
  request), which refuses every write, every settings change and every table function
  that reaches files or the network. Tested here by sending writes to that session
  directly, bypassing every client-side check;
* **ClickHouse's own parser** (``formatQuery``) must see exactly one statement, and its
  canonical text is what runs, so string forms a client-side lexer would misread
  (heredocs, odd comments) cannot smuggle a second statement into chdb;
* **ClickHouse's parse tree** (``EXPLAIN AST``) must be a read without ``INTO OUTFILE``,
  which chdb writes client-side whatever ``readonly`` says, on ``SHOW`` and ``EXPLAIN``
  (opaque text to sqlglot) as on ``SELECT``;
* **sqlglot's ClickHouse dialect** names a statement that is not a read, for a friendly
  refusal;
* the parse tree again names every function it calls, so a read of files or the network
  (``file()``, ``url()``, ...) needs ``--allow-external``, where ``readonly`` alone would
  let the scalar ``file()`` read any local file; what the tree cannot show (a column list
  given as text, ``APPLY``, a ``SHOW``'s ``WHERE``) needs it too.

A hypothesis property test throws generated statements at the command and checks that
the warehouse (its table list and row counts) and the working directory are unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from io_managers import ClickHouseIOManager, ReadOnlyQueryError, WarehouseQueryError
from io_managers.read_only import ensure_read_only
from orchestration.cli import app

DDL = """
CREATE DATABASE IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.sales (id UInt64, country String) ENGINE = MergeTree ORDER BY id;
CREATE TABLE IF NOT EXISTS shop.archive (id UInt64) ENGINE = MergeTree ORDER BY id;
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseIOManager]:
    """One embedded warehouse, held open so the in-process CLI shares its engine."""
    root = tmp_path_factory.mktemp("read-only")
    (root / "shop.sql").write_text(DDL)
    with ClickHouseIOManager.embedded(root / "wh") as warehouse:
        warehouse.setup([root / "shop.sql"])
        warehouse.command("INSERT INTO shop.sales VALUES (1, 'France'), (2, 'Japan')")
        warehouse.command("INSERT INTO shop.archive VALUES (7)")
        yield warehouse


@pytest.fixture
def url(warehouse: ClickHouseIOManager) -> str:
    return warehouse.description


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relative paths (INTO OUTFILE, file()) land here, so written files can be seen."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    # Outside the repository no pyproject.toml names the code location whose warehouse
    # IO manager `pipeline query` uses.
    monkeypatch.setenv("PIPELINE_DEFINITIONS", "assets")
    return directory


def state(warehouse: ClickHouseIOManager) -> list[tuple[str, str, int]]:
    """Every user table with its row count: what a write would change."""
    rows = warehouse.query_arrow(
        "SELECT database, name, total_rows FROM system.tables "
        "WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') "
        "ORDER BY database, name"
    ).to_pylist()
    return [(row["database"], row["name"], row["total_rows"]) for row in rows]


def files_under(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


def query(url: str, sql: str, *options: str):
    return CliRunner().invoke(app, ["query", sql, "--warehouse", url, *options])


# ------------------------------------------------------------- found by the review

ATTACKS = {
    # Heredoc strings: a lexer that does not know them sees one SELECT, chdb runs three.
    "heredoc drop": "SELECT $$'$$; DROP TABLE shop.sales; SELECT $$'$$",
    "heredoc insert": "SELECT $$'$$; INSERT INTO shop.sales VALUES (9, 'x'); SELECT $$'$$",
    "tagged heredoc": "SELECT $a$'$a$; TRUNCATE TABLE shop.sales; SELECT $a$'$a$",
    # The write ran, then the trailing garbage was reported as a syntax error.
    "write then syntax error": "SELECT $$'$$; DROP TABLE shop.archive; SELECT $$' oops",
    # A write that begins with a CTE.
    "cte insert": "WITH 1 AS x INSERT INTO shop.sales SELECT x, 'cte'",
    "cte insert subquery": "WITH t AS (SELECT 3 AS id) INSERT INTO shop.sales SELECT id, '' FROM t",
    "into outfile": "SELECT * FROM shop.sales INTO OUTFILE 'stolen.csv'",
    "into outfile in heredoc": "SELECT $$'$$; SELECT 1 INTO OUTFILE 'stolen.csv'; SELECT $$'$$",
    "file write": "INSERT INTO FUNCTION file('stolen.csv', 'CSV', 'a UInt8') SELECT 1",
}


@pytest.mark.parametrize("fmt", ["table", "csv"])
@pytest.mark.parametrize("sql", list(ATTACKS.values()), ids=list(ATTACKS))
def test_writes_that_got_past_the_lexer_change_nothing(
    warehouse: ClickHouseIOManager, url: str, workdir: Path, sql: str, fmt: str
) -> None:
    before = state(warehouse)

    result = query(url, sql, "--format", fmt)

    assert result.exit_code != 0
    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    assert str(result.exception).startswith("refused:")
    assert state(warehouse) == before
    assert files_under(workdir) == []


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "file"),
        ("SELECT * FROM url('http://127.0.0.1:9/x.csv', 'CSV', 'a String')", "url"),
        ("SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv')", "s3"),
        ("SELECT * FROM remote('127.0.0.1:9', system.one)", "remote"),
        ("SELECT * FROM mysql('127.0.0.1:9', 'db', 't', 'u', 'p')", "mysql"),
        ("SELECT id FROM shop.sales WHERE id IN (SELECT * FROM file('ids.csv'))", "file"),
    ],
)
def test_table_functions_reaching_files_or_network_are_refused_by_default(
    url: str, workdir: Path, sql: str, function: str
) -> None:
    result = query(url, sql)

    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    message = str(result.exception)
    assert message.startswith("refused:") and f"{function}(" in message
    assert "--allow-external" in message


@pytest.mark.parametrize(
    ("sql", "function"),
    [
        # A scalar function: ``readonly`` refuses table functions, not this one.
        ("SELECT substring(file('/etc/hostname'), 1, 40) AS f", "file"),
        # Table functions that sqlglot reads as a table's schema, or keeps as opaque text.
        ("DESCRIBE file('/etc/hostname', 'LineAsString')", "file"),
        ("DESCRIBE TABLE file('/etc/hostname', 'LineAsString')", "file"),
        ("EXPLAIN SELECT * FROM url('http://127.0.0.1:9/x.csv', 'CSV', 'a String')", "url"),
        # EXPLAIN folds the constant: its plan would print the file's text.
        ("EXPLAIN SELECT file('/etc/hostname')", "file"),
        ("EXPLAIN QUERY TREE SELECT file('/etc/hostname')", "file"),
    ],
)
def test_file_and_network_reads_out_of_sqlglots_sight_are_refused_by_default(
    url: str, workdir: Path, sql: str, function: str
) -> None:
    result = query(url, sql, "--format", "csv")

    assert isinstance(result.exception, ReadOnlyQueryError), (result.exception, result.stdout)
    message = str(result.exception)
    assert message.startswith("refused:") and f"{function}(" in message
    assert "--allow-external" in message
    assert result.stdout == ""


def test_allow_external_lets_the_file_function_read(url: str, workdir: Path) -> None:
    (workdir / "note.txt").write_text("kept outside the warehouse")

    result = query(url, "SELECT file('note.txt') AS note", "--format", "csv", "--allow-external")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ['"note"', '"kept outside the warehouse"']


def test_allow_external_lets_a_query_read_a_file(url: str, workdir: Path) -> None:
    (workdir / "ids.csv").write_text("1\n2\n")

    result = query(url, "SELECT count() AS n FROM file('ids.csv', 'CSV', 'id UInt64')",
                   "--format", "csv", "--allow-external")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ['"n"', "2"]


def test_allow_external_still_refuses_writes(
    warehouse: ClickHouseIOManager, url: str, workdir: Path
) -> None:
    before = state(warehouse)
    result = query(url, "INSERT INTO FUNCTION file('out.csv', 'CSV', 'a UInt8') SELECT 1",
                   "--allow-external")  # fmt: skip
    assert isinstance(result.exception, ReadOnlyQueryError)
    assert state(warehouse) == before and files_under(workdir) == []


def test_reads_still_work_including_show_describe_explain_and_heredocs(
    url: str, workdir: Path
) -> None:
    for sql in (
        "SELECT $$a;b$$ AS s, count() AS n FROM shop.sales",
        "WITH x AS (SELECT id FROM shop.sales) SELECT count() AS n FROM x",
        "SHOW TABLES FROM shop",
        "DESCRIBE TABLE shop.sales",
        "EXPLAIN SELECT * FROM shop.sales",
        "SELECT number FROM numbers(3) -- a comment; DROP TABLE shop.sales",
        # SHOW's clauses without a call; local table functions; a scalar named like one.
        "SHOW TABLES FROM shop LIKE 'sa%'",
        "SHOW TABLES FROM shop WHERE name LIKE 'sa(%'",
        "SHOW COLUMNS FROM shop.sales",
        "SELECT * FROM view(SELECT 1 AS a) AS v CROSS JOIN numbers(2) AS n",
        "SELECT format('{}-{}', 'a', 'b') AS f",
        # An INTO OUTFILE inside EXPLAIN AST's statement is parsed, never written.
        "EXPLAIN AST SELECT 1 INTO OUTFILE 'never-written.txt'",
    ):
        result = query(url, sql, "--format", "json")
        assert result.exit_code == 0, (sql, result.output)
    assert files_under(workdir) == []


# ------------------------------------------------------------- found by the second review

#: INTO OUTFILE on the statements sqlglot keeps as opaque commands (SHOW, EXPLAIN) and on
#: the others: chdb writes the file client-side, where ``readonly`` does not apply.
#: ``{victim}`` is an existing file, ``{new}`` one that must not appear, ``{db}`` the database.
OUT_FILES = {
    "explain append": "EXPLAIN SYNTAX SELECT 'echo x' INTO OUTFILE '{victim}' APPEND FORMAT TSVRaw",
    "show truncate": "SHOW TABLES FROM {db} INTO OUTFILE '{victim}' TRUNCATE FORMAT TSV",
    "show and stdout": "SHOW TABLES FROM {db} INTO OUTFILE '{new}' AND STDOUT FORMAT TSV",
    "describe truncate": "DESCRIBE TABLE {db}.sales INTO OUTFILE '{victim}' TRUNCATE",
    "explain compressed": "EXPLAIN SELECT 1 INTO OUTFILE '{new}' COMPRESSION 'gzip'",
    "show create append": "SHOW CREATE TABLE {db}.sales INTO OUTFILE '{victim}' APPEND",
    "select append": "SELECT * FROM {db}.sales INTO OUTFILE '{victim}' APPEND",
}


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file an INTO OUTFILE would append to or replace, alone in its directory."""
    directory = tmp_path / "files"
    directory.mkdir()
    path = directory / "victim.txt"
    path.write_text("kept as it was\n")
    return path


def out_file_sql(template: str, victim: Path, db: str = "shop") -> str:
    return template.format(victim=victim, new=victim.with_name("new.txt"), db=db)


def assert_untouched(victim: Path) -> None:
    assert victim.read_text() == "kept as it was\n"
    assert os.listdir(victim.parent) == ["victim.txt"]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("template", list(OUT_FILES.values()), ids=list(OUT_FILES))
def test_into_outfile_is_refused_on_every_statement_kind(
    url: str, workdir: Path, victim: Path, template: str, fmt: str
) -> None:
    result = query(url, out_file_sql(template, victim), "--format", fmt)

    assert isinstance(result.exception, ReadOnlyQueryError), (result.exception, result.stdout)
    assert str(result.exception).startswith("refused: INTO OUTFILE writes a file")
    assert result.exit_code == 1 and result.stdout == ""
    assert_untouched(victim)
    assert files_under(workdir) == []


def test_into_outfile_cannot_replace_the_warehouses_own_metadata(
    warehouse: ClickHouseIOManager, url: str, workdir: Path
) -> None:
    """Pointed at ``<warehouse>/metadata/shop.sql`` it would leave a warehouse that no
    longer opens."""
    metadata = Path(url.removeprefix("chdb://")) / "metadata" / "shop.sql"
    before, kept = state(warehouse), metadata.read_bytes()

    result = query(url, f"SHOW TABLES FROM shop INTO OUTFILE '{metadata}' TRUNCATE FORMAT TSV")

    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    assert metadata.read_bytes() == kept and state(warehouse) == before


#: A file outside the warehouse whose text must not reach the output.
SECRET = "text-kept-outside-the-warehouse"

#: Calls of file() the check of the statement's own functions does not see: in a column
#: list that ClickHouse parses only as the query runs (ALIAS, MATERIALIZED, ... of a local
#: table function's structure), behind APPLY, and in SHOW's WHERE and LIMIT, which
#: ``EXPLAIN AST`` does not print. ``{secret}`` is the file's path.
HIDDEN_READS = {
    "generateRandom alias": (
        "SELECT b FROM generateRandom('a UInt8, b String ALIAS file(''{secret}'')') LIMIT 1",
        "generateRandom(...)",
    ),
    "generateRandom computed structure": (
        "SELECT b FROM generateRandom(concat('a UInt8, b String ALIAS fi', "
        "'le(''{secret}'')')) LIMIT 1",
        "generateRandom(...)",
    ),
    "values alias": (
        "SELECT b FROM values('a String, b String ALIAS file(''{secret}'')', 'x')",
        "values(...)",
    ),
    "values structure from WITH": (
        "WITH 'a String, b String ALIAS file(''{secret}'')' AS s SELECT b FROM values(s, 'x')",
        "values(...)",
    ),
    "values materialized": (
        "SELECT b FROM values('a String, b String MATERIALIZED file(''{secret}'')', 'x')",
        "values(...)",
    ),
    "null folded into a plan": (
        "EXPLAIN PLAN actions = 1 "
        "SELECT b FROM null('a String, b String ALIAS file(''{secret}'')')",
        "null(...)",
    ),
    "apply": (
        "EXPLAIN PLAN actions = 1 SELECT * APPLY(file) FROM (SELECT '{secret}' AS p)",
        "APPLY",
    ),
    "apply lambda": (
        "EXPLAIN PLAN actions = 1 SELECT * APPLY(x -> file(x)) FROM (SELECT '{secret}' AS p)",
        "APPLY",
    ),
    "show where": ("SHOW TABLES FROM shop WHERE throwIf(1, file('{secret}'))", "SHOW"),
    "show columns where": (
        "SHOW COLUMNS FROM shop.sales WHERE throwIf(1, file('{secret}'))",
        "SHOW",
    ),
    "show limit": ("SHOW TABLES FROM shop LIMIT length(file('{secret}'))", "SHOW"),
}


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize(("template", "named"), list(HIDDEN_READS.values()), ids=list(HIDDEN_READS))
def test_file_reads_hidden_from_the_function_check_are_refused_by_default(
    url: str, workdir: Path, secret: Path, template: str, named: str
) -> None:
    result = query(url, template.format(secret=secret), "--format", "csv")

    assert isinstance(result.exception, ReadOnlyQueryError), (result.exception, result.stdout)
    message = str(result.exception)
    assert message.startswith("refused:") and named in message, message
    assert "--allow-external" in message and "\n" not in message
    assert SECRET not in result.output and SECRET not in message


def test_allow_external_runs_what_the_check_cannot_see(url: str, secret: Path) -> None:
    """The refusals above are the check's; with --allow-external the query is the user's."""
    sql = f"SELECT b FROM values('a String, b String ALIAS file(''{secret}'')', 'x')"

    result = query(url, sql, "--format", "csv", "--allow-external")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ['"b"', f'"{SECRET}"']


def test_parallel_with_is_not_a_read(url: str) -> None:
    """sqlglot keeps it as an opaque SHOW; ClickHouse's parser reads two statements."""
    result = query(url, "SHOW TABLES FROM shop PARALLEL WITH SELECT 1")

    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    assert str(result.exception) == (
        "refused: ClickHouse's parser reads this as a PARALLEL WITH statement, not as one "
        "read statement; only SELECT, WITH, SHOW, DESCRIBE or EXPLAIN are allowed and nothing "
        "was changed"
    )


# ------------------------------------------------------------- found by the security review

#: The review's statement: ClickHouse parses it as an EXPLAIN, a read at its root, but
#: building the pipeline of the INSERT it explains opens the target file, truncated
#: under the statement's own SETTINGS (which ``readonly = 2`` allows). ``{target}`` is
#: the file.
EXPLAINED_TRUNCATE = (
    "EXPLAIN PIPELINE INSERT INTO FUNCTION file('{target}','LineAsString','x String') "
    "SELECT '' SETTINGS engine_file_truncate_on_insert=1"
)
#: EXPLAINs of writes; ``{target}`` a file that must be neither created nor changed.
EXPLAINED_WRITES = {
    "pipeline truncating a file": EXPLAINED_TRUNCATE,
    "pipeline creating a file": (
        "EXPLAIN PIPELINE INSERT INTO FUNCTION file('{target}','LineAsString','x String') SELECT ''"
    ),
    "nested in EXPLAIN AST": "EXPLAIN AST " + EXPLAINED_TRUNCATE,
    "pipeline of a table insert": "EXPLAIN PIPELINE INSERT INTO {db}.sales SELECT 1, 'x'",
    "syntax of an insert": "EXPLAIN SYNTAX INSERT INTO {db}.sales SELECT 1, 'x'",
    "ast of a drop": "EXPLAIN AST DROP TABLE {db}.sales",
    "ast of a create": "EXPLAIN AST CREATE TABLE {db}.other (a UInt8) ENGINE = Memory",
    "a transaction": "EXPLAIN CURRENT TRANSACTION",
}


def explained_write(template: str, target: Path, db: str = "shop") -> str:
    return template.format(target=target, db=db)


def assert_explain_of_a_write_refused(
    exception: BaseException | None, sql: str, *, external: bool
) -> None:
    """Refused, saying why; without ``--allow-external`` (``readonly = 1``) a SETTINGS
    clause is the engine's to refuse first, before the parse tree can be read."""
    assert isinstance(exception, ReadOnlyQueryError), exception
    message = str(exception)
    expected = "refused: EXPLAIN explains only a SELECT here"
    if not external and "SETTINGS" in sql:
        expected = "refused: the warehouse serves queries on a read-only session"
    assert message.startswith(expected), message
    assert "\n" not in message


@pytest.mark.parametrize("external", [False, True], ids=["default", "allow-external"])
@pytest.mark.parametrize("template", list(EXPLAINED_WRITES.values()), ids=list(EXPLAINED_WRITES))
def test_explain_of_a_write_is_refused(
    warehouse: ClickHouseIOManager, url: str, victim: Path, template: str, external: bool
) -> None:
    before = state(warehouse)
    options = ["--format", "csv", *(["--allow-external"] if external else [])]
    targets = (victim, victim.with_name("new.txt"))

    for target in targets:
        result = query(url, explained_write(template, target), *options)
        assert_explain_of_a_write_refused(result.exception, template, external=external)
        assert result.exit_code == 1 and result.stdout == ""
    assert_untouched(victim)
    assert state(warehouse) == before


def test_explain_of_a_write_cannot_empty_the_warehouses_own_metadata(
    warehouse: ClickHouseIOManager, url: str
) -> None:
    """The review's exact command: it left a warehouse that no longer opened."""
    metadata = Path(url.removeprefix("chdb://")) / "metadata" / "shop.sql"
    kept = metadata.read_bytes()
    try:
        result = query(url, explained_write(EXPLAINED_TRUNCATE, metadata), "--allow-external")
        assert_explain_of_a_write_refused(result.exception, EXPLAINED_TRUNCATE, external=True)
        assert metadata.read_bytes() == kept
    finally:
        metadata.write_bytes(kept)


#: What an EXPLAIN of something other than a SELECT is refused as, in the words the user
#: typed: it said ``the explained statement as DropQuery (explaining an INSERT builds it,
#: ...)``, the parser's class and the INSERT's reason for every statement.
EXPLAINED_IN_WORDS = {
    "EXPLAIN AST DROP TABLE shop.sales": "not a DROP statement",
    "EXPLAIN AST EXPLAIN AST DROP TABLE shop.sales": "not a DROP statement",
    "EXPLAIN AST TRUNCATE TABLE shop.sales": "not a TRUNCATE statement",
    "EXPLAIN AST ALTER TABLE shop.sales DELETE WHERE 1": "not an ALTER statement",
    "EXPLAIN AST KILL QUERY WHERE 1": "not a KILL QUERY statement",
    "EXPLAIN AST SYSTEM FLUSH LOGS": "not a SYSTEM statement",
    "EXPLAIN AST SET max_threads = 1": "not a SET statement",
    "EXPLAIN AST SHOW TABLES": "not a SHOW TABLES statement",
    "EXPLAIN CURRENT TRANSACTION": "and this one explains no statement",
    "EXPLAIN SYNTAX INSERT INTO shop.sales SELECT 1, 'x'": (
        "not an INSERT statement (explaining an INSERT builds it, which can create or "
        "truncate the file it writes)"
    ),
}


@pytest.mark.parametrize("sql", list(EXPLAINED_IN_WORDS))
def test_explain_of_a_write_is_refused_in_the_users_words(url: str, sql: str) -> None:
    result = query(url, sql)

    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    assert str(result.exception) == (
        f"refused: EXPLAIN explains only a SELECT here, {EXPLAINED_IN_WORDS[sql]}; "
        "nothing was changed"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN PIPELINE SELECT * FROM shop.sales",
        "EXPLAIN PLAN actions = 1 SELECT count() FROM shop.sales",
        "EXPLAIN ESTIMATE SELECT * FROM shop.sales",
        "EXPLAIN AST EXPLAIN SELECT 1 UNION ALL SELECT 2",
        "EXPLAIN SYNTAX WITH t AS (SELECT 1 AS a) SELECT a FROM t",
    ],
)
def test_explain_of_a_select_still_runs(url: str, workdir: Path, sql: str) -> None:
    result = query(url, sql, "--format", "csv")

    assert result.exit_code == 0, (sql, result.output)
    assert files_under(workdir) == []


# ------------------------------------------------------------- the engine on its own


def test_the_read_only_session_refuses_writes_without_any_client_side_check(
    warehouse: ClickHouseIOManager, workdir: Path
) -> None:
    """Straight to the transport: no parser, no guard, only the engine's ``readonly``."""
    transport = warehouse._transport  # the layer below every check
    before = state(warehouse)
    for sql in (
        "DROP TABLE shop.sales",
        "INSERT INTO shop.sales VALUES (5, 'x')",
        "SELECT 1; TRUNCATE TABLE shop.archive",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT * FROM file('/etc/hostname', 'LineAsString')",
        "INSERT INTO FUNCTION file('x.csv', 'CSV', 'a UInt8') SELECT 1",
    ):
        with pytest.raises(WarehouseQueryError, match=r"READONLY|readonly"):
            transport.query_arrow(sql, readonly=1)
        with pytest.raises(WarehouseQueryError, match=r"READONLY|readonly"):
            transport.raw(sql, "CSV", readonly=1)
    assert state(warehouse) == before and files_under(workdir) == []
    # ...while the pipeline's own session still writes.
    transport.command("INSERT INTO shop.archive VALUES (8)")
    assert warehouse.row_count("shop.archive") == 2
    transport.command("ALTER TABLE shop.archive DELETE WHERE id = 8 SETTINGS mutations_sync = 1")


def test_an_engine_refusal_reads_as_a_refusal(warehouse: ClickHouseIOManager) -> None:
    """EXPLAIN hides its statement from sqlglot; the engine's READONLY still says no."""
    with pytest.raises(ReadOnlyQueryError, match=r"^refused: .*read-only"):
        warehouse.read_only_text("EXPLAIN SELECT 1 SETTINGS readonly = 0")


def test_an_engine_privilege_refusal_reads_as_a_refusal(url: str) -> None:
    """docs/safety.md: every refusal starts ``refused:``, the engine's own included; a
    table the session's user may not read (ACCESS_DENIED, told by its code) read
    ``error: default: Not enough privileges...``."""
    result = query(url, "SELECT * FROM system.users")
    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    message = str(result.exception)
    assert message.startswith("refused: ") and "(ACCESS_DENIED)" in message, message
    assert "--allow-external" not in message, "no option lets the user read it"
    assert "\n" not in message


def test_a_refusal_of_several_calls_agrees_with_them(url: str, workdir: Path) -> None:
    """It read "file(...), url(...) reaches files or the network"."""
    sql = (
        "SELECT file('/etc/hostname') AS f FROM url('http://127.0.0.1:9/x.csv', 'CSV', 'a String')"
    )
    message = str(query(url, sql).exception)
    assert message.startswith("refused: file(...), url(...) reach files or the network"), message
    one = str(query(url, "SELECT file('/etc/hostname') AS f").exception)
    assert one.startswith("refused: file(...) reaches files or the network"), one


def test_the_format_table_function_is_not_said_to_read_files(url: str) -> None:
    """``format(CSV, 'a\\n1')`` parses the string it is given, yet its refusal (the read-only
    session's: ClickHouse allows it a few table functions, format not among them) said
    "reading files or the network needs --allow-external"."""
    message = str(query(url, "SELECT * FROM format(CSV, 'a\n1')").exception)
    assert message.startswith("refused: "), message
    assert "reading files" not in message and "--allow-external" in message, message
    ran = query(url, "SELECT * FROM format(CSV, 'a\n1')", "--allow-external")
    assert ran.exit_code == 0, ran.output


# ------------------------------------------------------------- the parser's verdicts


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE marts.Fact_Sales", "DROP is not a read statement"),
        ("INSERT INTO t WITH 1 AS x SELECT x", "INSERT is not a read statement"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("SYSTEM DROP DNS CACHE", "SYSTEM is not a read statement"),
        # Writes sqlglot cannot parse are named too, not described by its parser.
        ("ALTER TABLE marts.Fact_Sales DELETE WHERE 1", "ALTER is not a read statement"),
        ("ALTER TABLE t UPDATE a = 1 WHERE 1", "ALTER is not a read statement"),
        ("/* SELECT */ KILL QUERY WHERE 1", "KILL is not a read statement"),
        ("CHECK TABLE t", "CHECK is not a read statement"),
        # A read that does not parse stays a parse error.
        ("SELECT * FROM (SELECT 1", "does not parse as one read statement"),
        ("(SELECT 1", "does not parse as one read statement"),
    ],
)
def test_sqlglot_judges_statement_kind_and_count(sql: str, message: str) -> None:
    with pytest.raises(ReadOnlyQueryError, match=r"^refused:") as raised:
        ensure_read_only(sql)
    assert message in str(raised.value)
    if "is not a read statement" in message:
        assert str(raised.value).endswith(
            "only SELECT, WITH, SHOW, DESCRIBE or EXPLAIN are allowed and nothing was changed"
        )


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE shop.sales DELETE WHERE 1",
        "ALTER TABLE shop.sales UPDATE id = 1 WHERE 1",
        "KILL QUERY WHERE 1",
    ],
)
def test_a_write_is_named_in_the_form_clickhouse_canonicalised_it_to(
    warehouse: ClickHouseIOManager, url: str, sql: str
) -> None:
    """``formatQuery`` renders ``ALTER ... DELETE`` over lines sqlglot cannot parse."""
    before = state(warehouse)

    result = query(url, sql)

    assert isinstance(result.exception, ReadOnlyQueryError), result.exception
    word = sql.split()[0]
    assert str(result.exception) == (
        f"refused: {word} is not a read statement; only SELECT, WITH, SHOW, DESCRIBE or "
        "EXPLAIN are allowed and nothing was changed"
    )
    assert state(warehouse) == before


@pytest.mark.parametrize(
    ("sql", "position", "said"),
    [
        ("SELECT 1 1", "failed at position 10 (1)", "at line 1, col 10, at '1'"),
        (
            "SELECT 1\nFROM\n",
            "failed at position 15 (end of query) (line 3, col 1)",
            "at the end of the query",
        ),
        # The query's own text imitating the wrapper's end does not cut the message short.
        ("SELECT ') AS statement. (' FRM x", "failed at position 32 (x)", "at line 1, col 32"),
    ],
)
def test_a_syntax_error_is_about_the_users_query_not_its_wrapper(
    url: str, sql: str, position: str, said: str
) -> None:
    """One line, placed in the query's own lines and columns with the first few tokens
    the engine expected (it lists ~60); the engine's message whole for ``--verbose``."""
    result = query(url, sql)

    assert isinstance(result.exception, WarehouseQueryError), result.exception
    brief = str(result.exception)
    assert brief.startswith(f"syntax error {said}")
    assert "\n" not in brief and len(brief) < 200, brief
    message = result.exception.full_message
    assert message is not None
    assert message.startswith(f"Syntax error: {position}")
    assert message.endswith("(SYNTAX_ERROR)")
    for text in (brief, message):
        assert "formatQuery" not in text and "In scope" not in text


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        # The engine reads ``SELEC`` as an expression (an implicit SELECT) and points past
        # it, at ``1``; the mistake is the first word.
        ("SELEC 1", "unknown statement 'SELEC' at line 1, col 1"),
        (
            "/* a comment first */\n  selec id FROM shop.sales",
            "unknown statement 'selec' at line 2, col 3",
        ),
        # Alone it is a column of that implicit SELECT, which no table has.
        ("SELEC", "unknown statement 'SELEC' at line 1, col 1"),
    ],
)
def test_a_statement_starting_with_no_keyword_is_named_as_unknown(
    url: str, sql: str, said: str
) -> None:
    result = query(url, sql)

    assert isinstance(result.exception, WarehouseQueryError), result.exception
    assert str(result.exception) == (
        f"{said}: a read starts with SELECT, WITH, SHOW, DESCRIBE or EXPLAIN; did you mean SELECT?"
    )
    assert (result.exception.full_message or "").endswith(
        ("(SYNTAX_ERROR)", "(UNKNOWN_IDENTIFIER)")
    )


@pytest.mark.parametrize(
    ("sql", "said", "code"),
    [
        (
            "SELECT * FROM shop.salez",
            "table shop.salez does not exist; did you mean shop.sales?",
            "(UNKNOWN_TABLE)",
        ),
        (
            "SELECT count() FROM shop.sales JOIN shop.Archive USING id",
            "table shop.Archive does not exist; did you mean shop.archive?",
            "(UNKNOWN_TABLE)",
        ),
        (
            "SELECT * FROM sales",
            "table sales does not exist in database default; did you mean shop.sales?",
            "(UNKNOWN_TABLE)",
        ),
        (
            "SELECT * FROM shops.sales",
            "table shops.sales does not exist (there is no database shops); "
            "did you mean shop.sales?",
            "(UNKNOWN_DATABASE)",
        ),
        ("DESCRIBE shop.nowhere_near", "table shop.nowhere_near does not exist", "(UNKNOWN_TABLE)"),
        # A CTE's name is no table of the warehouse; the missing one is named.
        (
            "WITH recent AS (SELECT * FROM shop.sales) SELECT * FROM recent, shop.archiv",
            "table shop.archiv does not exist; did you mean shop.archive?",
            "(UNKNOWN_TABLE)",
        ),
    ],
)
def test_an_unknown_table_is_named_with_the_warehouses_closest_tables(
    url: str, sql: str, said: str, code: str
) -> None:
    """The engine's sentence ends with its quote of the query and guesses from every
    database (``system.one`` for a name close to nothing); the line names the table and
    the warehouse's own tables close to it. The engine's words stay for ``--verbose``."""
    result = query(url, sql)

    assert isinstance(result.exception, WarehouseQueryError), result.exception
    assert str(result.exception) == said
    assert (result.exception.full_message or "").endswith(code)


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("SELECT nosuch FROM shop.sales", "column nosuch is not in shop.sales"),
        (
            "SELECT s.contry FROM shop.sales AS s",
            "column s.contry is not in shop.sales; did you mean s.country?",
        ),
        (
            "SELECT Country FROM shop.sales JOIN shop.archive USING id",
            "column Country is in none of shop.sales, shop.archive; did you mean country?",
        ),
    ],
)
def test_an_unknown_column_names_the_tables_it_was_looked_for_in(
    url: str, sql: str, said: str
) -> None:
    result = query(url, sql)

    assert isinstance(result.exception, WarehouseQueryError), result.exception
    assert str(result.exception) == said
    message = result.exception.full_message or ""
    assert "In scope SELECT" in message and message.endswith("(UNKNOWN_IDENTIFIER)")


# ------------------------------------------------------------- property: nothing changes

_TARGETS = st.sampled_from(["shop.sales", "shop.archive", "`shop`.`sales`", "shop.nowhere"])
_WRITES = st.one_of(
    st.builds("DROP TABLE {}".format, _TARGETS),
    st.builds("TRUNCATE TABLE {}".format, _TARGETS),
    st.builds("INSERT INTO {} SELECT * FROM {}".format, _TARGETS, _TARGETS),
    st.builds("ALTER TABLE {} DELETE WHERE 1".format, _TARGETS),
    st.builds("RENAME TABLE {} TO shop.renamed".format, _TARGETS),
    st.builds("CREATE TABLE shop.new AS {}".format, _TARGETS),
    st.builds("WITH 1 AS x INSERT INTO {} SELECT *".format, _TARGETS),
    st.builds("SELECT * FROM {} INTO OUTFILE 'out.csv'".format, _TARGETS),
    st.just("SHOW TABLES FROM shop INTO OUTFILE 'out.csv' TRUNCATE"),
    st.just("EXPLAIN SYNTAX SELECT 1 INTO OUTFILE 'out.csv' APPEND"),
    st.just("DESCRIBE shop.sales INTO OUTFILE 'out.csv' AND STDOUT"),
    st.just("INSERT INTO FUNCTION file('out.csv', 'CSV', 'a UInt8') SELECT 1"),
    st.just("DROP DATABASE shop"),
    st.just("EXCHANGE TABLES shop.sales AND shop.archive"),
    st.just("OPTIMIZE TABLE shop.sales FINAL"),
    st.just("DETACH TABLE shop.sales"),
    st.just("SET readonly = 0"),
)
_READS = st.one_of(
    st.builds("SELECT count() FROM {}".format, _TARGETS),
    st.just("SELECT 1"),
    st.just("SHOW TABLES FROM shop"),
    st.just("EXPLAIN SELECT 1"),
    st.just("DESCRIBE shop.sales"),
)
_NOISE = st.sampled_from(
    [";", "; ", "$$", "$$'$$", "$x$", "'", "''", '"', "`", "\\", "/*", "*/", "/* ; */",
     "-- ;\n", "#!x\n", "# ;\n", "#", "\n", "(", ")", "WITH 1 AS y ", " SETTINGS readonly=0"]
)  # fmt: skip
#: String forms and comments that a lexer may read differently from ClickHouse: heredocs
#: (half of the draws; the review's attacks), escapes, quoted identifiers, nested comments.
_FORMS = st.one_of(
    st.sampled_from(["$$'$$", "$a$'$a$", "$$/*$$", "$$--$$", '$b$"$b$']),
    st.sampled_from(
        [r"'\''", "'''", '"\'"', "`'`", "/* ' */", "/* /* */ ' */", "#!'\n", "-- '\n", "x'27'"]
    ),
)
_HEADS = st.sampled_from(["SELECT", "SELECT 1,", "WITH 1 AS x SELECT", "SELECT 2 AS"])
#: A read whose string form hides a write behind a semicolon.
_SMUGGLED = st.builds(
    "{} {}; {}; {}".format, _HEADS, _FORMS, _WRITES, st.one_of(_FORMS, _READS, st.just(""))
)
_STATEMENTS = st.one_of(
    _SMUGGLED,
    st.lists(st.one_of(_WRITES, _READS, _NOISE, _FORMS, _HEADS), min_size=1, max_size=6).map(
        " ".join
    ),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sql=_STATEMENTS, fmt=st.sampled_from(["table", "csv"]))
def test_no_generated_statement_changes_the_warehouse_or_writes_a_file(
    warehouse: ClickHouseIOManager, url: str, workdir: Path, sql: str, fmt: str
) -> None:
    before = state(warehouse)

    query(url, sql, "--format", fmt)

    assert state(warehouse) == before, sql
    assert files_under(workdir) == [], sql
    assert Path.cwd() == workdir and os.listdir(workdir) == []


# ------------------------------------------------------------- the server backend


@pytest.fixture
def server(clickhouse_test_url: str) -> Iterator[tuple[ClickHouseIOManager, str]]:
    """The server backend (the chdb HTTP stand-in, or CLICKHOUSE_TEST_URL's real server)."""
    from io_managers import warehouse_from_env
    from tests.io_helpers import new_database_name

    with warehouse_from_env(clickhouse_test_url) as warehouse:
        db = new_database_name()
        warehouse.command(f"CREATE DATABASE {db}")
        warehouse.command(f"CREATE TABLE {db}.sales (id UInt64) ENGINE = MergeTree ORDER BY id")
        warehouse.command(f"INSERT INTO {db}.sales VALUES (1), (2)")
        yield warehouse, db
        warehouse.command(f"DROP DATABASE IF EXISTS {db} SYNC")


def test_the_server_refuses_writes_under_readonly_without_any_client_side_check(
    server: tuple[ClickHouseIOManager, str],
) -> None:
    """The ``readonly`` request setting, sent straight through the transport."""
    warehouse, db = server
    transport = warehouse._transport
    for sql in (
        f"DROP TABLE {db}.sales",
        f"INSERT INTO {db}.sales VALUES (3)",
        f"TRUNCATE TABLE {db}.sales",
        f"CREATE TABLE {db}.other (id UInt8) ENGINE = Memory",
        "SELECT * FROM url('http://127.0.0.1:9/x.csv', 'CSV', 'a String')",
    ):
        with pytest.raises(WarehouseQueryError, match=r"READONLY|readonly"):
            transport.query_arrow(sql, readonly=1)
        with pytest.raises(WarehouseQueryError, match=r"READONLY|readonly"):
            transport.raw(sql, "CSV", readonly=1)
    assert warehouse.row_count(f"{db}.sales") == 2
    assert not warehouse.table_exists(f"{db}.other")


@pytest.mark.parametrize("sql", ["SELECT $$'$$; DROP TABLE {db}.sales; SELECT $$'$$",
                                 "WITH 1 AS x INSERT INTO {db}.sales SELECT x"])  # fmt: skip
def test_query_over_the_server_refuses_the_reviews_writes(
    server: tuple[ClickHouseIOManager, str], sql: str
) -> None:
    warehouse, db = server
    for run in (warehouse.read_only_text, lambda s: warehouse.read_only_raw(s, "CSV")):
        with pytest.raises(ReadOnlyQueryError, match=r"^refused:"):
            run(sql.format(db=db))
    assert warehouse.row_count(f"{db}.sales") == 2
    assert warehouse.read_only_text(f"SELECT count() AS n FROM {db}.sales").rows == (("2",),)


@pytest.mark.parametrize("template", list(OUT_FILES.values()), ids=list(OUT_FILES))
def test_into_outfile_over_the_server_is_refused_before_it_is_sent(
    server: tuple[ClickHouseIOManager, str], victim: Path, template: str
) -> None:
    """A real server refuses INTO OUTFILE over HTTP; the chdb stand-in would write it."""
    warehouse, db = server
    sql = out_file_sql(template, victim, db)
    for run in (warehouse.read_only_text, lambda s: warehouse.read_only_raw(s, "CSV")):
        with pytest.raises(ReadOnlyQueryError, match=r"^refused: INTO OUTFILE writes a file"):
            run(sql)
    assert_untouched(victim)


@pytest.mark.parametrize("external", [False, True], ids=["default", "allow-external"])
@pytest.mark.parametrize("template", list(EXPLAINED_WRITES.values()), ids=list(EXPLAINED_WRITES))
def test_explain_of_a_write_over_the_server_is_refused(
    server: tuple[ClickHouseIOManager, str],
    clickhouse_test_url: str,
    workdir: Path,
    victim: Path,
    template: str,
    external: bool,
) -> None:
    """The stand-in's chdb truncated the file as the embedded engine did."""
    warehouse, db = server
    for target in (victim, victim.with_name("new.txt")):
        result = query(clickhouse_test_url, explained_write(template, target, db),
                       "--format", "csv", *(["--allow-external"] if external else []))  # fmt: skip
        assert_explain_of_a_write_refused(result.exception, template, external=external)
    assert_untouched(victim)
    assert warehouse.row_count(f"{db}.sales") == 2
    assert not warehouse.table_exists(f"{db}.other")


@pytest.mark.parametrize(
    ("sql", "starts", "ends"),
    [
        ("SELEC 1", "Syntax error: failed at position 7 (1)", "(SYNTAX_ERROR)"),
        ("SELECT nope", "", "(UNKNOWN_IDENTIFIER)"),
    ],
)
def test_an_engine_error_over_the_server_is_the_engines_words_as_embedded(
    server: tuple[ClickHouseIOManager, str], sql: str, starts: str, ends: str
) -> None:
    """Not the driver's wrapper ("Received ClickHouse exception, code: 62, server
    response: Code: 62. DB::Exception: ... (for url http://...)") around them."""
    warehouse, _ = server
    with pytest.raises(WarehouseQueryError) as raised:
        warehouse.read_only_text(sql)
    assert "DB::Exception" not in str(raised.value) and "for url" not in str(raised.value)
    message = getattr(raised.value, "full_message", None) or str(raised.value)  # --verbose's
    assert message.startswith(starts), message
    assert message.endswith(ends), message
    assert "Received ClickHouse exception" not in message
    assert "DB::Exception" not in message and "for url" not in message
    with pytest.raises(WarehouseQueryError) as raised:
        warehouse.command("SELECT throwIf(1, 'stop here')")  # the project's own statements too
    assert str(raised.value).startswith("stop here"), str(raised.value)


@pytest.mark.parametrize("sql", ["SHOW TABLES FROM shop", "EXPLAIN SELECT 1"])
def test_a_read_command_is_judged_without_sqlglots_warning(
    sql: str, caplog: pytest.LogCaptureFixture
) -> None:
    """sqlglot parses these as opaque commands and says so; on a user's terminal that
    warning read like a problem with their query."""
    with caplog.at_level(logging.DEBUG, logger="sqlglot"):
        assert not ensure_read_only(sql).is_query
    assert caplog.records == []
