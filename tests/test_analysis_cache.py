"""SQL analysis answers kept on disk (io_managers/analysis_cache.py).

The cache may only ever save time: the same answer as sqlglot's, for the same question,
and a new question whenever anything the answer depends on differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from io_managers import analysis_cache, ddl_analysis
from io_managers.dialect import ClickHouseDialect
from io_managers.sql_tokens import split_statements
from orchestration.definitions import load_definitions

REPO = Path(__file__).resolve().parents[1]


class Dialect(ClickHouseDialect):
    def open_scratch(self, path: Path):  # type: ignore[no-untyped-def]
        raise AssertionError("no scratch warehouse in these tests")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(analysis_cache.CACHE_ENV, str(directory))
    return directory


class Counted:
    """An answer that counts how often it was asked."""

    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def ask(question: str, inputs: object, answer: Counted) -> object:
    return analysis_cache.cached(question, inputs, answer, encode=lambda v: v, decode=lambda v: v)


def test_an_answer_is_asked_once_and_then_read_back(cache: Path) -> None:
    answer = Counted({"a": ["x.t.a"]})
    assert ask("q", ["SELECT a FROM x.t"], answer) == {"a": ["x.t.a"]}
    assert ask("q", ["SELECT a FROM x.t"], answer) == {"a": ["x.t.a"]}
    assert answer.calls == 1
    assert len(list(cache.glob("*.json"))) == 1
    assert not list(cache.glob(".*.tmp"))  # written whole, nothing left half-way


def test_a_kept_answer_gets_the_mode_the_umask_gives(cache: Path) -> None:
    import stat

    previous = os.umask(0o022)
    try:
        ask("q", ["SELECT 1"], Counted([1]))
    finally:
        os.umask(previous)
    (kept,) = cache.glob("*.json")
    assert oct(stat.S_IMODE(kept.stat().st_mode)) == oct(0o644)


def test_another_question_input_sqlglot_or_analysis_code_asks_anew(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = Counted(1)
    ask("q", ["SELECT 1"], answer)
    ask("other", ["SELECT 1"], answer)
    ask("q", ["SELECT 2"], answer)
    monkeypatch.setattr(analysis_cache, "_sqlglot_version", lambda: "0.0.1")
    ask("q", ["SELECT 1"], answer)
    monkeypatch.setattr(analysis_cache, "_code_version", lambda: "edited")
    ask("q", ["SELECT 1"], answer)
    assert answer.calls == 5
    ask("q", ["SELECT 1"], answer)  # and that one is kept in turn
    assert answer.calls == 5


def test_the_analysis_code_version_covers_the_answers_json_form() -> None:
    # The cached answer is decoded in dialect.py: an edit there must retire old answers.
    sources = [
        Path(analysis_cache.__file__).with_name(name) for name in analysis_cache._ANALYSIS_SOURCES
    ]
    assert Path(sys.modules[ClickHouseDialect.__module__].__file__) in sources
    assert Path(ddl_analysis.__file__) in sources  # the DDL facts' reading and JSON form
    assert all(source.is_file() for source in sources)


def test_an_unreadable_answer_is_asked_anew_and_rewritten(cache: Path) -> None:
    answer = Counted([1, 2])
    ask("q", "in", answer)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"truncated')
    assert ask("q", "in", answer) == [1, 2]
    assert answer.calls == 2
    assert json.loads(entry.read_text()) == [1, 2]


def test_off_asks_every_time_and_keeps_nothing(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(analysis_cache.CACHE_ENV, "off")
    answer = Counted(1)
    ask("q", "in", answer)
    ask("q", "in", answer)
    assert answer.calls == 2
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(analysis_cache.CACHE_ENV, str(blocker / "cache"))  # mkdir fails
    assert ask("q", "in", Counted("answer")) == "answer"


def test_only_the_newest_entries_are_kept(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_cache, "MAX_ENTRIES", 3)
    for number in range(5):
        ask("q", number, Counted(number))
        entry = cache / f"{analysis_cache._key('q', number)}.json"
        os.utime(entry, (number, number))  # written in this order, a second apart
    kept = sorted(json.loads(path.read_text()) for path in cache.glob("*.json"))
    assert kept == [2, 3, 4]


def test_lineage_is_kept_per_set_of_upstream_columns(cache: Path) -> None:
    # The same SELECT * means other columns when the table has others.
    dialect = Dialect()
    sql = "SELECT * FROM raw.t"
    assert dialect.column_lineage(sql, {"raw.t": ["a", "b"]}) == {
        "a": ("raw.t.a",),
        "b": ("raw.t.b",),
    }
    assert dialect.column_lineage(sql, {"raw.t": ["b", "c"]}) == {
        "b": ("raw.t.b",),
        "c": ("raw.t.c",),
    }
    assert list(dialect.column_lineage(sql, {"raw.t": ["b", "a"]})) == ["b", "a"]  # order kept


def test_a_second_command_answers_without_sqlglot(cache: Path) -> None:
    # What a kept answer saves: the parse, and importing sqlglot at all.
    script = (
        "import json, sys\n"
        "from orchestration.cli_options import load_defs\n"
        "from io_managers.dialect import ClickHouseDialect\n"
        "class D(ClickHouseDialect):\n"
        "    def open_scratch(self, path): raise AssertionError\n"
        "graph = load_defs('assets').graph()\n"
        "lineage = D().column_lineage('SELECT a, b + 1 AS c FROM raw.t', {'raw.t': ['a', 'b']})\n"
        "normal = D().normalized_sql('select a  -- it\\nfrom raw.t')\n"
        "print(json.dumps({'deps': {s.key: list(s.deps) for s in graph}, 'lineage': lineage,\n"
        "                  'normal': normal, 'sqlglot': 'sqlglot' in sys.modules}))\n"
    )

    def run() -> dict[str, object]:
        env = {**os.environ, analysis_cache.CACHE_ENV: str(cache)}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first, second = run(), run()
    assert first["sqlglot"] is True
    assert second["sqlglot"] is False
    assert second["deps"] == first["deps"]
    assert second["lineage"] == first["lineage"] == {"a": ["raw.t.a"], "c": ["raw.t.b"]}
    assert second["normal"] == first["normal"] == "SELECT a FROM raw.t"


def project_ddl() -> list[str]:
    return [
        statement
        for path in sorted((REPO / "ddl").glob("*.sql"))
        for statement in split_statements(path.read_text())
    ]


def test_kept_ddl_facts_are_the_facts_sqlglot_reads(cache: Path) -> None:
    odd = [
        "CREATE VIEW IF NOT EXISTS marts.v AS SELECT 1 AS one",
        "CREATE TABLE IF NOT EXISTS marts.copy AS marts.Fact_Sales",
        "this is not ( a statement",
    ]
    statements = project_ddl() + odd
    asked = []
    for statement in statements:
        ddl_analysis.statement_facts.cache_clear()  # this process's own memory of it
        asked.append(ddl_analysis.statement_facts(statement))
    assert len(list(cache.glob("*.json"))) == len(set(statements))
    for statement, facts in zip(statements, asked, strict=True):
        ddl_analysis.statement_facts.cache_clear()
        assert ddl_analysis.statement_facts(statement) == facts  # read back from disk
    fact_sales = next(f for f in asked if f.declares and f.declares.table == "marts.Fact_Sales")
    assert fact_sales.created == ("table", "marts.Fact_Sales")
    assert fact_sales.self_contained
    assert list(fact_sales.declares.columns)[:3] == ["sale_id", "invoice_no", "product_key"]
    assert ("database", "vault") in {f.created for f in asked}
    view, copy, nonsense = asked[-3:]
    assert view == ddl_analysis.StatementFacts(created=("table", "marts.v"))
    assert copy == ddl_analysis.StatementFacts(created=("table", "marts.copy"))
    assert nonsense == ddl_analysis.StatementFacts(parsed=False)


def test_a_second_command_opens_the_warehouse_without_sqlglot(cache: Path, tmp_path: Path) -> None:
    # The DDL's statements and facts are kept, and so are the split of an asset check's
    # SQL and every column type read: a command that opens a warehouse and reads its
    # tables (status, plan) or evaluates a check again neither reads that SQL nor imports
    # sqlglot.
    script = (
        "import json, sys\n"
        "from io_managers.clickhouse import ClickHouseIOManager\n"
        "with ClickHouseIOManager.embedded(sys.argv[1]) as warehouse:\n"
        "    warehouse.setup(['ddl'])\n"
        '    tables = warehouse.queries.rows("SELECT count() AS n FROM system.tables "\n'
        "        \"WHERE database IN ('raw', 'vault', 'marts', 'quality')\")\n"
        "    columns = warehouse.describe('raw.psa_online_retails')\n"
        "    nullable = [c for c, t in warehouse.catalog.table('raw.psa_online_retails')\n"
        "                .columns.items() if t.nullable]\n"
        "    check = warehouse.offending_rows(\n"
        "        'SELECT * FROM {table} WHERE Quantity = 0 -- none;', 'raw.online_retails', 5\n"
        "    )\n"
        "print(json.dumps({'tables': tables[0]['n'], 'check': check[0], 'columns': columns,\n"
        "                  'nullable': nullable,\n"
        "                  'sqlglot': 'sqlglot' in sys.modules}))\n"
    )

    def run(warehouse: Path) -> dict[str, object]:
        env = {**os.environ, analysis_cache.CACHE_ENV: str(cache)}
        result = subprocess.run(
            [sys.executable, "-c", script, str(warehouse)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first, second = run(tmp_path / "one"), run(tmp_path / "two")
    assert first["sqlglot"] is True
    assert second["sqlglot"] is False
    assert second["tables"] == first["tables"] == len(load_definitions("assets").graph().specs)
    assert second["check"] == first["check"] == 0
    assert second["columns"] == first["columns"] and len(first["columns"]) > 10
    assert second["nullable"] == first["nullable"] == ["Description"]
