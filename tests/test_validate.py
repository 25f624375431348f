"""``pipeline validate`` passes on the real code location and catches each kind of drift.

Each mutation test breaks one thing in a temporary copy of assets/, schemas/ and ddl/
and asserts the exact finding, so the check is proven able to fail.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.findings import NOT_CHECKED, NOT_VALIDATED
from tests.locations import copy_retail_location, run_location
from tests.retail_support import http_port

REPO = Path(__file__).resolve().parents[1]


def run_validate(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pipeline validate ARGS`` run in ``cwd``, with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", "validate", "--definitions", "assets", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def location(tmp_path: Path) -> Path:
    """A private copy of the code location, free to break."""
    return copy_retail_location(tmp_path)


def mutate(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    changed, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert count == 1, f"mutation pattern {pattern!r} not found in {path}"
    path.write_text(changed)


def is_problem(finding: dict) -> bool:
    """Whether a --json finding is a problem, not an asset left unchecked or unvalidated."""
    return finding["check"] not in (NOT_CHECKED, NOT_VALIDATED)


def findings(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 1, result.stdout + result.stderr
    return json.loads(result.stdout)


def break_country_names(location: Path) -> None:
    """dim_country's content fails the sample run (no country name has 60 characters)."""
    mutate(
        location / "schemas/marts.py",
        r'country_name: Series\[str\] = pa.Field\(unique=True, str_length=\{"min_value": 1\}\)',
        'country_name: Series[str] = pa.Field(unique=True, str_length={"min_value": 60})',
    )


def line_of(path: Path, text: str, after: str = "") -> int:
    """The number of the first line of ``path`` holding ``text`` (after the first line
    holding ``after``): where a finding says the asset's code or schema is."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if text in lines[i]) + 1


def body_line(location: Path, module: str, function: str) -> str:
    """``assets/marts.py:209``: where an asset's body begins (its first statement, the
    ``return`` of a SQL asset's SELECT), as a finding about its SQL names it."""
    path = f"assets/{module}.py"
    return f"{path}:{line_of(location / path, 'return', after=f'def {function}(')}"


def field_line(location: Path, module: str, field: str, model: str = "") -> str:
    """``schemas/marts.py:52``: where a schema field (or, with ``field`` empty, its
    ``model``) is declared, as a finding that the schema does not fit its table names it."""
    path = f"schemas/{module}.py"
    after = f"class {model}(" if model else ""
    return f"{path}:{line_of(location / path, field or after, after=after)}"


def ddl_line(location: Path, table: str, column: str) -> str:
    """``ddl/init.sql:305``: where ``column`` of ``table`` is declared in the DDL, as a
    finding that a SELECT's output does not fit that column names it."""
    path = "ddl/init.sql"
    return f"{path}:{line_of(location / path, f'    {column} ', after=f'EXISTS {table}')}"


def placed(where: str) -> dict[str, object]:
    """What --json gives apart of the ``path:line`` a finding's words begin with."""
    file, line = where.rsplit(":", 1)
    return {"file": file, "line": int(line), "col": None}


def whole(finding: dict[str, object]) -> dict[str, object]:
    """A finding as --json gives one whose ``found`` leaves nothing out: ``found_full`` too."""
    return {**finding, "found_full": finding["found"]}


def finding_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of findings (and of assets left unvalidated), not the summary."""
    return [line for line in result.stdout.splitlines() if line.startswith("[")]


def test_real_code_location_passes():
    result = run_validate(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schemas, DDL and SQL agree" in result.stdout


def test_a_source_without_sample_is_refused_not_ignored(tmp_path: Path):
    # The source is read only by the --sample run; alone it would be dropped silently
    # and the command would report success without ever opening the file.
    result = run_validate(REPO, "--source", str(tmp_path / "missing.csv"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--source': it is the source of the --sample run; "
        "add --sample to validate its content (see 'pipeline validate --help')"
    ]
    assert "agree" not in result.stdout


def test_changed_ddl_column_type_is_reported(location: Path):
    mutate(
        location / "ddl/init.sql",
        r"(CREATE TABLE IF NOT EXISTS marts\.Fact_Sales\s*\((?:.|\n)*?quantity\s+)Int32",
        r"\1String",
    )
    found = findings(run_validate(location, "--json"))
    where = field_line(location, "marts", "quantity: ", "FactSales")
    assert (
        whole(
            {
                "check": "dtype",
                "asset": "fact_sales",
                "table": "marts.Fact_Sales",
                "column": "quantity",
                "expected": None,
                "found": f"{where}: ClickHouse type String does not fit dtype int32 "
                "(expected Int32, or a narrower Int/UInt)",
                **placed(where),
            }
        )
        in found
    )


def test_renamed_ddl_column_is_reported_both_ways(location: Path):
    mutate(location / "ddl/init.sql", r"^(\s+)country_name String$", r"\1country_label String")
    found = [f for f in findings(run_validate(location, "--json")) if f["asset"] == "dim_country"]
    assert [(f["check"], f["column"]) for f in found] == [
        ("columns", "country_name"),
        ("columns", "country_label"),
        ("select", "country_name"),
        ("select", "country_label"),
    ]
    # Each names the line to edit: the schema's field, the model lacking one, the SELECT.
    assert [f["found"] for f in found] == [
        f"{field_line(location, 'marts', 'country_name: ', 'DimCountry')}: "
        "column is in the schema but not in the table",
        f"{field_line(location, 'marts', '', 'DimCountry')}: "
        "column is not in the schema (schema is strict)",
        f"{body_line(location, 'marts', 'dim_country')}: SELECT output column(s) country_name "
        "are not in the table (columns: country_key, country_label)",
        f"{body_line(location, 'marts', 'dim_country')}: SELECT output lacks column(s) "
        "country_label, which have no DEFAULT in the DDL",
    ]


def test_schema_nullability_drift_is_reported(location: Path):
    mutate(
        location / "schemas/vault.py",
        r"Description: Series\[str\] = pa.Field\(nullable=True\)",
        "Description: Series[str] = pa.Field(nullable=False)",
    )
    found = findings(run_validate(location, "--json"))
    where = field_line(location, "vault", "Description: ", "SatProduct")
    assert (
        whole(
            {
                "check": "nullable",
                "asset": "sat_product",
                "table": "vault.sat_product",
                "column": "Description",
                "expected": None,
                "found": f"{where}: column is Nullable(String) but the schema says nullable=False; "
                "set nullable=True or drop Nullable(...)",
                **placed(where),
            }
        )
        in found
    )


def test_dependency_cycle_is_reported(location: Path):
    mutate(
        location / "assets/raw.py",
        r'table="raw\.psa_online_retails",',
        'table="raw.psa_online_retails", deps=["fact_sales"],',
    )
    found = findings(run_validate(location, "--json"))
    assert found[0]["check"] == "graph"
    assert found[0]["found"].startswith("dependency cycle: ")
    assert {"psa_online_retails", "fact_sales"} <= set(found[0]["assets"])
    # Every asset on it, and downstream of it, is set aside; raw_online_retails is checked.
    assert [f["check"] for f in found[1:]] == ["not_checked"] * 28
    assert "raw_online_retails" not in {f["asset"] for f in found}


def sql_place(location: Path, module: str, text: str, after: str) -> tuple[str, int]:
    """``assets/marts.py:237``, and the column, of ``text`` in the first line holding it
    after the first holding ``after``: where a finding about the SQL there places it."""
    path = location / f"assets/{module}.py"
    line = line_of(path, text, after=after)
    col = path.read_text().splitlines()[line - 1].index(text) + 1
    return f"assets/{module}.py:{line}", col


def test_broken_select_is_reported_at_the_line_of_the_misspelt_column(location: Path):
    """Where to fix it: the line of dim_country's SELECT text that holds the misspelt
    column (line 237 of assets/marts.py), not its ``return`` (line 234), nor only the
    asset's name."""
    mutate(location / "assets/marts.py", r"hub\.Country\)", "hub.Countree)")
    found = [f for f in findings(run_validate(location, "--json")) if f["asset"] == "dim_country"]
    assert len(found) == 1
    assert found[0]["check"] == "select"
    where, col = sql_place(location, "marts", "hub.Countree", after="def dim_country(")
    assert found[0]["found"].startswith(f"{where}:{col}: SELECT does not compile: ")
    assert "Countree" in found[0]["found"]
    assert {key: found[0][key] for key in ("file", "line", "col")} == {
        **placed(where),
        "col": col,
    }


def test_an_unknown_column_of_a_subquery_is_placed_at_its_own_line(location: Path):
    """The engine names the column without its table; the first place the SELECT uses
    it is where it is misspelt (the same name is right on other lines)."""
    mutate(
        location / "assets/marts.py",
        r"SELECT hub_country_hash_key, Country, count\(\) AS invoices",
        "SELECT hub_country_hash_key, Countri, count() AS invoices",
    )
    result = run_validate(location)
    where, col = sql_place(location, "marts", "Countri", after="def dim_country(")
    assert finding_lines(result)[0].startswith(
        f"[select] asset dim_country table marts.Dim_Country: {where}:{col}: SELECT does not "
        "compile: Unknown expression identifier `Countri`."
    )


def test_an_error_in_sql_built_by_an_f_string_in_a_helper_is_placed_there(location: Path):
    """psa_online_retails returns ``_staging_sql(...)``, an f-string: the line that holds
    the misspelt column, which no value was put into, is found in the module."""
    mutate(
        location / "assets/raw.py",
        r"CAST\(Quantity, 'Int32'\) AS quantity,",
        "CAST(Quantiti, 'Int32') AS quantity,",
    )
    result = run_validate(location)
    where, col = sql_place(location, "raw", "Quantiti", after="def _staging_sql(")
    assert finding_lines(result)[0].startswith(
        f"[select] asset psa_online_retails table raw.psa_online_retails: {where}:{col}: "
        "SELECT does not compile: "
    )


#: dim_country's SELECT with a trailing comma before FROM, and where its syntax error is in
#: the SELECT's own text (tests/test_io_materialize.py expects the same of materialize).
TRAILING_COMMA = "hub.Country) AS country_name,\nFROM vault.hub_country AS hub"
TRAILING_COMMA_ERROR = (
    "SELECT does not compile: syntax error at 'vault': "
    "expected one of: token sequence, Dot, token, OR, AND, ..."
)


def test_a_select_syntax_error_is_placed_in_the_authors_text_in_one_short_line(location: Path):
    """At its line and column in the file, not in the coordinates of the statement
    validate wraps it in, nor quoting it, nor with the engine's list of every token it
    could have taken (~600 characters)."""
    mutate(
        location / "assets/marts.py",
        r"hub\.Country\) AS country_name\nFROM vault\.hub_country AS hub",
        TRAILING_COMMA,
    )
    result = run_validate(location)
    assert result.returncode == 1, result.stdout + result.stderr
    where, col = sql_place(location, "marts", "vault.hub_country", after="def dim_country(")
    assert result.stdout.splitlines()[0] == (
        f"[select] asset dim_country table marts.Dim_Country: {where}:{col}: {TRAILING_COMMA_ERROR}"
    )


def test_a_select_that_does_not_parse_is_placed_at_its_token_by_every_command(location: Path):
    """FORM for FROM in dim_country's SELECT. Every command said the line of its
    ``return`` and sqlglot's ``Line 5, Col: 4.`` (the token's last column, in the SQL's
    own lines), for the reader to add up, and not which token. Now the place of the token
    in the file, and the token, as for a column the engine does not know. Every other
    command refuses (the graph's edges come from each SELECT): saying first that the code
    location cannot load, not one error of an asset it was not asked about."""
    mutate(
        location / "assets/marts.py",
        r"^FROM vault\.hub_country AS hub$",
        "FORM vault.hub_country AS hub",
    )
    where, col = sql_place(location, "marts", "FORM vault", after="def dim_country(")
    cause = (
        f"asset 'dim_country' (table marts.Dim_Country): {where}:{col}: cannot tell which "
        "tables it reads: SQL does not parse at 'FORM': Invalid expression / Unexpected token"
    )
    assert finding_lines(run_validate(location))[0] == f"[graph] {cause}"
    (problem,) = [f for f in findings(run_validate(location, "--json")) if is_problem(f)]
    assert {key: problem[key] for key in ("check", "asset", "found", "file", "line", "col")} == {
        "check": "graph",
        "asset": "dim_country",
        "found": cause,
        **placed(where),
        "col": col,
    }
    for command in (("list",), ("status",), ("materialize", "--select", "hub_time")):
        refused = run_location(location, "assets", *command)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert refused.stderr.splitlines() == [f"error: cannot load the code location: {cause}"]


def test_a_select_ending_in_a_semicolon_passes_as_it_materializes(location: Path):
    """A run compiles the SELECT's one statement (its ``;`` dropped): validate compiles
    the same, so it neither refuses what runs nor places an error elsewhere."""
    mutate(
        location / "assets/marts.py",
        r"^SETTINGS join_use_nulls = 1$",
        "SETTINGS join_use_nulls = 1;",
    )
    result = run_validate(location)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_select_giving_the_table_columns_in_another_order_passes(location: Path):
    """Materialization inserts by name, so validate holds the SELECT to the same rule."""
    mutate(
        location / "assets/marts.py",
        r"(    hub\.hub_country_hash_key AS country_key),\n(    ifNull.* AS country_name)\n",
        r"\2,\n\1\n",
    )
    result = run_validate(location)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_select_with_a_renamed_column_says_which_is_which_as_materialize_would(
    location: Path,
):
    mutate(
        location / "assets/marts.py",
        r"hub\.Country\) AS country_name$",
        "hub.Country) AS country",
    )
    found = [f for f in findings(run_validate(location, "--json")) if f["check"] == "select"]
    where = body_line(location, "marts", "dim_country")
    assert [(f["asset"], f["found"]) for f in found] == [
        (
            "dim_country",
            f"{where}: SELECT output column(s) country are not in the table "
            "(columns: country_key, country_name)",
        ),
        (
            "dim_country",
            f"{where}: SELECT output lacks column(s) country_name, which have no DEFAULT in "
            "the DDL",
        ),
    ]


def test_sample_run_catches_content_the_static_checks_cannot(location: Path):
    break_country_names(location)
    assert run_validate(location).returncode == 0
    result = run_validate(location, "--sample", "--source", "synthetic:2000")
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("[sample] asset")]
    assert len(lines) == 1, result.stdout
    # The column is named once, where every line names it, not again in the cause.
    assert lines[0].startswith(
        "[sample] asset dim_country table marts.Dim_Country column country_name: str_length("
    )
    assert "'country_name'" not in lines[0]


def test_each_problem_is_one_line(location: Path):
    mutate(location / "ddl/init.sql", r"^(\s+)country_name String$", r"\1country_label String")
    result = run_validate(location)
    assert result.returncode == 1
    problem_lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    summary = result.stdout.splitlines()[-1]
    assert len(problem_lines) > 1
    assert summary.startswith(f"{len(problem_lines)} problems in ")


def test_select_reading_a_table_no_asset_produces_is_reported_naming_both(location: Path):
    mutate(
        location / "assets/marts.py",
        r"FROM vault\.hub_country AS hub$",
        "FROM vault.hub_countries AS hub",
    )
    result = run_validate(location)
    assert result.returncode == 1, result.stdout + result.stderr
    # Where the SELECT names the table, as every other finding names its place.
    where = f"assets/marts.py:{line_of(location / 'assets/marts.py', 'vault.hub_countries')}:6"
    assert (
        f"[reads] asset dim_country table vault.hub_countries: {where}: its SELECT reads this "
        "table, which no asset produces (did you mean vault.hub_country?); add an asset "
        "for it or declare it in Definitions(external_tables=[...])"
    ) in result.stdout.splitlines()
    found = findings(run_validate(location, "--json"))
    assert [(f["check"], f["asset"], f["table"]) for f in found if is_problem(f)] == [
        ("reads", "dim_country", "vault.hub_countries")
    ]
    file, line, col = where.split(":")
    assert {k: found[0][k] for k in ("file", "line", "col")} == {
        "file": file,
        "line": int(line),
        "col": int(col),
    }
    # Its SELECT would only fail to compile against the DDL: it is set aside, with what
    # reads it, rather than said twice.
    unchecked = {f["asset"] for f in found if not is_problem(f)}
    assert {"dim_country", "fact_sales", "sales_dashboard"} <= unchecked


def test_select_output_type_drift_is_reported(location: Path):
    """A SELECT whose column no longer fits its table (the DDL and schema untouched)."""
    mutate(
        location / "assets/marts.py", r"toUInt16\(sat\.year\) AS year", "toString(sat.year) AS year"
    )
    found = findings(run_validate(location, "--json"))
    column = ddl_line(location, "marts.Dim_Time", "year")
    # One line: the column that cannot hold the output, not the schema's dtype too.
    assert [f for f in found if f["column"] == "year"] == [
        whole(
            {
                "check": "select",
                "asset": "dim_time",
                "table": "marts.Dim_Time",
                "column": "year",
                "expected": None,
                "found": f"{column}: column type UInt16 cannot hold SELECT output String "
                f"({body_line(location, 'marts', 'dim_time')}): String values are parsed as "
                "UInt16: one that is not fails the INSERT",
                **placed(column),
            }
        )
    ]


def test_a_ddl_column_narrower_than_its_selects_output_is_reported(location: Path):
    """The schema's int32 accepts an Int8 column (every Int8 value is an int32), so only
    the SELECT's own type against the column's says that INSERT would wrap the values."""
    init = location / "ddl/init.sql"
    mutate(init, r"(EXISTS marts\.Fact_Sale_Returns\s*\((?:.|\n)*?quantity\s+)Int32", r"\1Int8")
    mutate(init, r"(EXISTS marts\.Dim_Time\s*\((?:.|\n)*?year\s+)UInt16", r"\1UInt8")
    # Its body's docstring says "return": the body's line is that of its own return.
    returns_body = line_of(
        location / "assets/marts.py", 'return _VAULT_LINES.format(status="Return")'
    )
    result = run_validate(location)
    assert finding_lines(result) == [
        "[select] asset dim_time table marts.Dim_Time column year: "
        f"{ddl_line(location, 'marts.Dim_Time', 'year')}: column type UInt8 cannot hold "
        f"SELECT output UInt16 ({body_line(location, 'marts', 'dim_time')}): "
        "UInt16 values wrap in UInt8",
        "[select] asset fact_sale_returns table marts.Fact_Sale_Returns column quantity: "
        f"{ddl_line(location, 'marts.Fact_Sale_Returns', 'quantity')}: column type Int8 cannot "
        f"hold SELECT output Int32 (assets/marts.py:{returns_body}): Int32 values wrap in Int8",
    ], result.stdout + result.stderr


def test_a_select_output_narrower_than_its_column_passes(location: Path):
    """Widening is lossless: a UInt8 SELECT output into the UInt16 column is no finding."""
    mutate(
        location / "assets/marts.py", r"toUInt16\(sat\.year\) AS year", "toUInt8(sat.month) AS year"
    )
    result = run_validate(location)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_schema_dtype_the_ddl_and_the_select_both_give_is_reported_once(location: Path):
    """The SELECT gives the DDL's own type, so comparing the schema with it again says
    nothing the [dtype] finding did not: one cause, one line."""
    mutate(location / "schemas/marts.py", r"year: Series\[UInt16\]", "year: Series[UInt8]")
    found = findings(run_validate(location, "--json"))
    assert [(f["check"], f["asset"], f["column"]) for f in found] == [("dtype", "dim_time", "year")]
    assert found[0]["found"].startswith(
        f"{field_line(location, 'marts', 'year: ', 'DimTime')}: "
        "ClickHouse type UInt16 does not fit dtype uint8"
    )


def test_key_columns_missing_from_the_schema_or_the_ddl_are_reported(location: Path):
    mutate(
        location / "schemas/marts.py",
        r"^    country_key: Series\[UUID\] = pa\.Field\(unique=True\)\n",
        "",
    )
    # The insert-only key is the schema's unique column: renamed there, not in the DDL.
    mutate(
        location / "schemas/vault.py",
        r"^    hub_country_hash_key: Series\[UUID\] = pa\.Field\(unique=True\)$",
        "    country_hash: Series[UUID] = pa.Field(unique=True)",
    )
    keys = [f for f in findings(run_validate(location, "--json")) if f["check"] == "keys"]
    assert {(f["asset"], f["column"], f["found"]) for f in keys} >= {
        ("dim_country", "country_key", "country_key is a key column missing from the schema"),
        ("hub_country", "country_hash", "unique_key column country_hash is not in the DDL"),
    }


def test_a_sample_source_that_is_missing_is_one_finding_naming_the_option(tmp_path: Path):
    missing = tmp_path / "missing.csv"
    result = run_validate(REPO, "--sample", "--source", str(missing))
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "[sample] asset raw_online_retails table raw.online_retails: "
        f"{missing}: file not found; check the path given by --source"
    )


def test_an_asset_check_whose_sql_does_not_compile_is_reported(location: Path):
    """A check is SQL like the SELECTs: a typo in it would otherwise pass CI, then fail
    every run after the asset's table was already published."""
    mutate(
        location / "assets/checks.py",
        r'f"AND missing_customer_id_ratio > ',
        'f"AND missing_customer_id_ratoi > ',
    )
    result = run_validate(location)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(lines) == 1, result.stdout
    # Where the check is declared, as a run's failure of it says it.
    declared = f"assets/checks.py:{line_of(location / 'assets/checks.py', 'RATIO = AssetCheck(')}"
    assert lines[0].startswith(
        f"[check] asset data_quality table quality.data_quality: {declared}: "
        "check 'missing_customer_id_ratio' does not compile: "
    )
    # The cause and the engine's guess; its quote of the query it compiled, only in full.
    assert lines[0].endswith(
        "Unknown expression or function identifier `missing_customer_id_ratoi`. "
        "Maybe you meant: ['missing_customer_id_ratio']."
    )
    [found] = findings(run_validate(location, "--json"))
    assert {k: found[k] for k in ("file", "line", "col")} == placed(declared)
    assert found["found_full"].startswith(f"{found['found']} In scope SELECT ")


def test_an_asset_check_of_two_statements_is_reported(location: Path):
    mutate(
        location / "assets/checks.py", r'"SETTINGS final = 1"\n', '"SETTINGS final = 1; SELECT 1"\n'
    )
    found = findings(run_validate(location, "--json"))
    assert [(f["check"], f["asset"]) for f in found] == [("check", "data_quality")]
    assert "single statement" in found[0]["found"]


def test_a_sample_run_bug_offers_its_traceback_as_every_command_does(location: Path):
    """An asset's own bug in the --sample run is unforeseen: its line says what and the
    line of the asset's code that raised, and validate adds the hint every command gives,
    as --debug shows the whole traceback."""
    mutate(
        location / "assets/dashboard.py", r'points\["chart"\] == chart', 'points["chrt"] == chart'
    )
    raised = line_of(location / "assets/dashboard.py", 'points["chrt"]')
    args = ("--sample", "--source", "synthetic:2000")
    plain = run_validate(location, *args)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert plain.stdout.splitlines()[0] == (
        "[sample] asset sales_dashboard table quality.sales_dashboard: "
        f"assets/dashboard.py:{raised}: KeyError: 'chrt'"
    )
    assert plain.stderr.splitlines() == ["(run with --debug for the traceback)"]

    debug = run_validate(location, *args, "--debug")
    assert debug.returncode == 1
    assert debug.stdout == plain.stdout
    assert "Traceback (most recent call last)" in debug.stderr
    assert re.search(r'assets/dashboard\.py", line \d+, in sales_dashboard', debug.stderr)
    assert debug.stderr.rstrip().endswith("KeyError: 'chrt'")

    as_json = run_validate(location, *args, "--json", "--debug")
    assert json.loads(as_json.stdout) == [
        whole(
            {
                "check": "sample",
                "asset": "sales_dashboard",
                "table": "quality.sales_dashboard",
                "column": None,
                "expected": None,
                "found": f"assets/dashboard.py:{raised}: KeyError: 'chrt'",
                **placed(f"assets/dashboard.py:{raised}"),
            }
        )
    ]


def test_a_foreseen_sample_failure_is_its_line_alone(tmp_path: Path):
    result = run_validate(REPO, "--sample", "--source", str(tmp_path / "missing.csv"))
    assert result.returncode == 1
    assert result.stderr == ""


def test_a_sample_failure_names_the_assets_it_left_unvalidated(location: Path):
    """Everything downstream of a failed asset is not materialized: said in one line, and
    counted in the summary, rather than reported as if it had passed (fact_sales' own
    break is among those never reached)."""
    mutate(
        location / "schemas/raw.py",
        r'Country: Series\[str\] = pa.Field\(str_length=\{"min_value": 1\}\)',
        'Country: Series[str] = pa.Field(str_length={"min_value": 50})',
    )
    mutate(location / "schemas/marts.py", r"(quantity: Series\[Int32\] = pa.Field\(ge)=0", r"\1=5")
    args = ("--sample", "--source", "synthetic:2000")
    result = run_validate(location, *args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = finding_lines(result)
    assert len(lines) == 2, result.stdout
    assert lines[0].startswith(
        "[sample] asset psa_online_retails table raw.psa_online_retails column Country: "
    )
    assert lines[1] == "[sample] 27 assets not validated: upstream failed: psa_online_retails"
    assert result.stdout.splitlines()[-1] == (
        "1 problem in 29 assets, sample run from synthetic:2000 (27 assets not validated)"
    )

    found = findings(run_validate(location, *args, "--json"))
    assert [f["check"] for f in found] == ["sample"] + ["not_validated"] * 27
    assert (
        whole(
            {
                "check": "not_validated",
                "asset": "fact_sales",
                "table": "marts.Fact_Sales",
                "column": None,
                "expected": None,
                "found": "upstream failed: psa_online_retails",
                "file": None,
                "line": None,
                "col": None,
            }
        )
        in found
    )


def test_independent_sample_failures_are_all_found_and_the_rest_named_once(location: Path):
    break_country_names(location)
    mutate(
        location / "schemas/marts.py",
        r'"min_value": 2000, "max_value": 2100',
        '"min_value": 2000, "max_value": 2001',
    )
    result = run_validate(location, "--sample", "--source", "synthetic:2000")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = finding_lines(result)
    assert [line.split(":")[0] for line in lines[:2]] == [
        "[sample] asset dim_time table marts.Dim_Time column year",
        "[sample] asset dim_country table marts.Dim_Country column country_name",
    ]
    assert lines[2:] == ["[sample] 8 assets not validated: upstream failed: dim_country, dim_time"]
    assert result.stdout.splitlines()[-1].startswith("2 problems in 29 assets, ")


def test_a_static_problem_does_not_silence_the_sample_run_of_other_assets(location: Path):
    """The sample still runs what the static problem does not reach, so one CI run finds
    dim_country's bad content too, and the summary says the sample left some unvalidated."""
    mutate(location / "schemas/marts.py", r"year: Series\[UInt16\]", "year: Series[UInt8]")
    break_country_names(location)
    result = run_validate(location, "--sample", "--source", "synthetic:2000")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = finding_lines(result)
    assert [line.split(":")[0] for line in lines] == [
        "[dtype] asset dim_time table marts.Dim_Time column year",
        "[sample] asset dim_country table marts.Dim_Country column country_name",
        "[sample] 8 assets not validated",
    ]
    assert lines[2].endswith(": upstream failed: dim_country, dim_time")
    assert result.stdout.splitlines()[-1] == (
        "2 problems in 29 assets, sample run from synthetic:2000 (8 assets not validated)"
    )


def test_a_schema_that_cannot_be_imported_is_one_finding_and_the_rest_is_checked(
    location: Path,
):
    """A misspelt model name is one finding of its asset, with the close names, not the
    end of validate: dim_time's drift, checked after it, is reported too."""
    mutate(
        location / "assets/marts.py",
        r'schema="schemas\.marts:DimCountry"',
        'schema="schemas.marts:DimCountri"',
    )
    mutate(location / "schemas/marts.py", r"year: Series\[UInt16\]", "year: Series[UInt8]")
    result = run_validate(location)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == ""
    lines = finding_lines(result)
    assert lines[1] == (f"[schema] asset dim_country table marts.Dim_Country: {MISSPELT_SCHEMA}")
    assert lines[0].startswith("[dtype] asset dim_time table marts.Dim_Time column year: ")
    assert len(lines) == 2, result.stdout

    found = findings(run_validate(location, "--json"))
    assert [(f["check"], f["asset"]) for f in found] == [
        ("dtype", "dim_time"),
        ("schema", "dim_country"),
    ]


def test_a_schema_module_that_does_not_import_is_one_finding_naming_its_assets(
    location: Path,
):
    """A syntax error in schemas/marts.py stops every asset whose model is there (or in a
    module importing it): one finding, with those assets in ``assets``; the sample run
    materializes none of them, nor what is downstream of them, and runs the rest."""
    schema = location / "schemas/marts.py"
    line = schema.read_text().splitlines().index("class DimCountry(pa.DataFrameModel):") + 1
    mutate(
        schema, r"^class DimCountry\(pa.DataFrameModel\):", "class DimCountry(pa.DataFrameModel)"
    )
    found = findings(run_validate(location, "--json", "--sample", "--source", "synthetic:2000"))
    assert found[0] == whole(
        {
            "check": "schema",
            "asset": None,
            "table": None,
            "column": None,
            "expected": None,
            "found": f"schemas/marts.py:{line}:36: SyntaxError: expected ':'",
            "file": "schemas/marts.py",
            "line": line,
            "col": 36,
            "assets": [
                "dim_customer",
                "dim_product",
                "dim_time",
                "dim_country",
                "fact_sales",
                "fact_sale_returns",
                "anomaly_customer_invoices",
                "anomaly_invoice",
                "data_quality",
                "sales_summary",
            ],
        }
    )
    assert [f["check"] for f in found[1:]] == ["not_validated"] * (len(found) - 1)
    assert {f["asset"] for f in found[1:]}.isdisjoint(found[0]["assets"])


#: Why dim_country's schema, given as "schemas.marts:DimCountri", cannot be read.
MISSPELT_SCHEMA = (
    "schema 'schemas.marts:DimCountri' cannot be imported: module 'schemas.marts' has no "
    "attribute 'DimCountri'; did you mean DimCountry, DimCustomer?"
)


def test_a_schema_import_error_still_refuses_outside_validate_with_a_suggestion(
    location: Path,
):
    """Only validate turns it into a finding: reading the schema anywhere else (a run)
    still refuses, as a declaration error naming the asset."""
    mutate(
        location / "assets/marts.py",
        r'schema="schemas\.marts:DimCountry"',
        'schema="schemas.marts:DimCountri"',
    )
    code = (
        "from orchestration.asset import AssetDefinitionError\n"
        "from orchestration.definitions import load_definitions\n"
        "spec = next(s for s in load_definitions('assets').assets if s.key == 'dim_country')\n"
        "try:\n"
        "    spec.schema\n"
        "except AssetDefinitionError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=location,
        env={**os.environ, "PYTHONPATH": f"{location}{os.pathsep}{REPO}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"asset 'dim_country': {MISSPELT_SCHEMA}\n"


def test_a_graph_problem_sets_aside_only_what_it_reaches_and_the_rest_is_sampled(
    location: Path,
):
    """A cycle through dim_country and fact_sales set aside everything: "27 assets not
    validated: sample run not started", and dim_time's bad content was found only in the
    next CI run. Now the assets on the cycle and downstream of it are set aside, said in
    one line and counted, and the sample run runs the rest."""
    mutate(
        location / "assets/marts.py",
        r'^    table="marts\.Dim_Country",$',
        r'\g<0>\n    deps=["fact_sales"],',
    )
    mutate(
        location / "schemas/marts.py",
        r'"min_value": 2000, "max_value": 2100',
        '"min_value": 2000, "max_value": 2001',
    )
    result = run_validate(location, "--sample", "--source", "synthetic:2000")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = finding_lines(result)
    marts = location / "assets/marts.py"
    # Both edges are deps= (fact_sales' SELECT does not read the dimension): each at its own.
    deps_of_facts = line_of(marts, "deps=_FACT_DEPS")
    deps_of_dimension = line_of(marts, 'deps=["fact_sales"]')
    assert lines[0] == (
        "[graph] dependency cycle: fact_sales -> dim_country (its deps= names fact_sales, "
        f"assets/marts.py:{deps_of_dimension}:5) -> fact_sales (its deps= names dim_country, "
        f"assets/marts.py:{deps_of_facts}:5)"
    )
    assert lines[1].startswith("[sample] asset dim_time table marts.Dim_Time column year: ")
    assert lines[2:] == [
        "[graph] 9 assets not checked: graph problem in dim_country, fact_sales "
        "(and 7 assets downstream)"
    ]
    assert result.stdout.splitlines()[-1] == (
        "2 problems in 29 assets, sample run from synthetic:2000 (9 assets not checked)"
    )
    found = findings(run_validate(location, "--sample", "--source", "synthetic:2000", "--json"))
    assert [f["check"] for f in found] == ["graph", "sample"] + ["not_checked"] * 9
    assert found[0]["assets"] == ["fact_sales", "dim_country"]
    why = {f["asset"]: f["found"] for f in found if f["check"] == "not_checked"}
    assert why["dim_country"] == why["fact_sales"] == "graph problem"
    assert why["sales_summary"] == "upstream graph problem: dim_country, fact_sales"


def test_json_is_a_document_even_when_the_code_location_cannot_be_loaded(location: Path):
    """A script reading --json got an empty stdout (not JSON) when the code location
    itself failed: one finding of check ``definitions`` now, and the line on stderr."""
    mutate(location / "assets/marts.py", r"^def fact_sales\(", "def fact_sales(:")
    result = run_validate(location, "--json")

    (finding,) = findings(result)
    assert finding["check"] == "definitions"
    assert finding["asset"] is None
    assert re.fullmatch(r"assets/marts\.py:\d+:\d+: SyntaxError: .+", finding["found"]), finding
    assert result.stderr.splitlines() == [f"error: {finding['found']}"]


def test_the_sample_run_runs_each_assets_error_checks_as_a_run_would(location: Path):
    """A run publishes a table, then fails it on an error check that finds rows, and
    builds nothing on it; ``validate --sample`` materialized the same rows without
    running the checks, said "schemas, DDL and SQL agree" and exited 0."""
    mutate(location / "assets/checks.py", r"WHERE \{column\} NOT IN", "WHERE {column} IN")
    found = findings(run_validate(location, "--sample", "--source", "synthetic:2000", "--json"))
    failed = [f for f in found if f["check"] == "sample"]
    assert {f["asset"] for f in failed} == {"fact_sales", "fact_sale_returns"}, failed
    of_sales = [f for f in failed if f["asset"] == "fact_sales"]
    assert sorted(f["found"].split(":")[0] for f in of_sales) == [
        f"check '{column}_resolves' (error)"
        for column in ("country_key", "customer_key", "product_key", "time_key")
    ]
    assert all(re.search(r"offending rows?, e\.g\. {sale_id=", f["found"]) for f in failed)
    # As in a run, nothing downstream of it is validated (the dashboard reads the facts).
    stopped = {f["asset"] for f in found if f["check"] == "not_validated"}
    assert "sales_dashboard" in stopped
    assert "fact_sales" not in stopped


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request 200 and keeps its method and path in ``requests``."""

    requests: list[str] = []

    def _record(self) -> None:
        self.requests.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.end_headers()

    do_GET = do_PUT = do_POST = do_DELETE = _record

    def log_message(self, format: str, *args: object) -> None:
        return


def test_the_sample_run_pushes_nothing_and_replaces_no_report_whatever_the_environment(
    tmp_path: Path,
):
    """CI often sets PUSHGATEWAY_URL and SALES_DASHBOARD_PATH for every job: the sample
    run PUT its synthetic gauges into the production group and replaced the published
    dashboard, then said everything agrees. Its rows are synthetic: they reach nothing."""
    published = tmp_path / "published" / "sales.html"
    published.parent.mkdir()
    published.write_bytes(b"<html>the published dashboard</html>\n")
    before = published.read_bytes()
    _RecordingHandler.requests = []
    with http_port(_RecordingHandler) as port:
        result = run_validate(
            tmp_path,
            "--sample",
            "--source",
            "synthetic:2000",
            PUSHGATEWAY_URL=f"127.0.0.1:{port}",
            SALES_DASHBOARD_PATH=str(published),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _RecordingHandler.requests == []
    assert published.read_bytes() == before
    # Nor a default report in the working directory: the run keeps to its scratch folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["published"]


def test_a_python_assets_query_error_names_the_line_that_sent_it(location: Path):
    """A typo in the SQL a Python asset sends was said with the asset twice and no line."""
    dashboard = location / "assets/dashboard.py"
    mutate(dashboard, r"country\.country_name AS label", "country.country_nme AS label")
    sent = line_of(dashboard, "query_arrow(SERIES_SQL)")
    found = findings(run_validate(location, "--sample", "--source", "synthetic:2000", "--json"))
    failed = [f for f in found if f["check"] == "sample"]
    assert len(failed) == 1, failed
    assert failed[0]["asset"] == "sales_dashboard"
    assert failed[0]["found"].startswith(
        f"assets/dashboard.py:{sent}: WarehouseQueryError: Identifier 'country.country_nme' "
        "cannot be resolved"
    ), failed[0]["found"]


def test_a_dimension_at_the_wrong_grain_fails_the_sample_run(location: Path):
    """Dim_Customer is one row per customer though some buy from several countries; a
    SELECT grouping by customer and country gives such a customer two rows, which only
    data with such customers shows: the default sample holds some."""
    marts = location / "assets/marts.py"
    mutate(
        marts,
        r"argMax\(\s*country\.hub_country_hash_key,\s*\(line\.InvoiceDate, "
        r"country\.hub_country_hash_key\)\s*\) AS country_key",
        "country.hub_country_hash_key AS country_key",
    )
    mutate(marts, r"^    GROUP BY customer_key$", "    GROUP BY customer_key, country_key")
    assert run_validate(location).returncode == 0  # it compiles and fits its table
    found = findings(run_validate(location, "--sample", "--json"))
    grain = [f for f in found if f["check"] == "sample" and f["asset"] == "dim_customer"]
    assert [(f["column"], f["found"].split(" failed")[0]) for f in grain] == [
        ("customer_key", "unique"),
        ("customer_id", "unique"),
    ], found


@pytest.mark.parametrize(
    ("role", "declared", "selection", "cause"),
    [
        (
            "rebuild",
            r'^REBUILD_FROM_THE_VAULT = "group:vault\+"$',
            'REBUILD_FROM_THE_VAULT = "group:vualt+"',
            "asset selection 'group:vualt+' matches no asset",
        ),
        (
            "rebuild",
            r'^REBUILD_FROM_THE_VAULT = "group:vault\+"$',
            'REBUILD_FROM_THE_VAULT = "group:vault++"',
            "invalid asset selection at position 12: ",
        ),
        (
            "reload",
            r'^    select="raw_online_retails\+",$',
            '    select="raw_online_retail+",',
            "asset selection 'raw_online_retail+' matches no asset",
        ),
    ],
)
def test_a_checks_rebuild_or_reload_selection_that_selects_nothing_is_reported(
    location: Path, role: str, declared: str, selection: str, cause: str
):
    """A failed check's Next line offers its ``rebuilds`` selection, or the one its
    ``reloads`` loads a source with, as the command to paste: one that does not parse, or
    selects nothing, is refused right then, in the incident. So validate says it before
    merge, once per check that declares it."""
    mutate(location / "assets/checks.py", declared, selection)
    found = [f for f in findings(run_validate(location, "--json")) if is_problem(f)]
    assert [(f["check"], f["asset"]) for f in found] == [
        ("check", "fact_sales"),
        ("check", "fact_sale_returns"),
    ]
    for finding in found:
        assert finding["found"].startswith(
            f"check 'lines_reconcile_with_vault': its {role} selection cannot run: {cause}"
        ), finding["found"]
        assert "\n" not in finding["found"]


def test_a_checks_reload_source_that_does_not_compile_is_reported(location: Path):
    """The tally of a failed check's sources runs only in the incident, after the check
    found rows: a typo in it would fail the check there, so validate compiles it."""
    mutate(
        location / "assets/checks.py",
        r"SELECT hub_invoice_hash_key FROM raw.psa_online_retails",
        "SELECT hub_invoice_hash_key FROM raw.psa_online_retail",
    )
    found = [f for f in findings(run_validate(location, "--json")) if is_problem(f)]
    assert [(f["check"], f["asset"]) for f in found] == [
        ("check", "fact_sales"),
        ("check", "fact_sale_returns"),
    ]
    checks = location / "assets/checks.py"
    declared = f"assets/checks.py:{line_of(checks, 'return AssetCheck(', after='def lines_rec')}"
    for finding in found:
        assert finding["found"].startswith(
            f"{declared}: check 'lines_reconcile_with_vault': its reload source does not compile: "
        ), finding["found"]
        assert "psa_online_retail" in finding["found"]
        assert {k: finding[k] for k in ("file", "line", "col")} == placed(declared)


def test_a_checks_reload_source_is_said_up_to_the_engines_quote(location: Path):
    """A misspelt column in the reload source: the engine's sentence and guess, cut
    where it quotes the whole query it compiled, as a SELECT's error is; the quote in
    ``found_full`` (``--verbose``, ``--json``)."""
    mutate(
        location / "assets/checks.py",
        r"SELECT hub_invoice_hash_key FROM raw.psa_online_retails",
        "SELECT hub_invoice_hash_keyy FROM raw.psa_online_retails",
    )
    found = [f for f in findings(run_validate(location, "--json")) if is_problem(f)]
    assert len(found) == 2, found
    for finding in found:
        assert "hub_invoice_hash_keyy" in finding["found"], finding["found"]
        assert "In scope" not in finding["found"], finding["found"]
        assert finding["found_full"].startswith(finding["found"] + " In scope (SELECT ")


def test_declared_column_lineage_is_held_to_the_tables(location: Path):
    """The contributor review: a typo in a Python asset's ``column_lineage`` passed
    validate, and ``pipeline lineage --column`` then answered wrongly. Each key must be a
    column of the asset's table, each source (and ``also_reads``) a column of a table
    upstream of it: one finding each, at the line to edit."""
    dashboard = location / "assets/dashboard.py"
    mutate(dashboard, r'^    "label": \($', '    "lable": (')
    mutate(
        dashboard,
        r'^        "quality.sales_summary.volume",$',
        '        "quality.sales_summary.volum",',
    )
    mutate(dashboard, r'^        "marts.Dim_Time.date",$', '        "marts.Dim_Tim.date",')
    mutate(
        dashboard,
        r'^        "quality.data_quality.return_line_count",$',
        '        "quality.pipeline_metrics.value",',
    )
    mutate(dashboard, r'^    "marts.Fact_Sales.time_key",$', '    "marts.Fact_Sales.tme_key",')
    lines = [line for line in finding_lines(run_validate(location)) if line.startswith("[lineage]")]

    head = "[lineage] asset sales_dashboard table quality.sales_dashboard: "
    expected = [
        ('"lable"', "column_lineage names 'lable', not a column of quality.sales_dashboard"),
        (
            '"marts.Dim_Tim.date"',
            "column_lineage source 'marts.Dim_Tim.date': no table marts.Dim_Tim",
        ),
        (
            '"quality.pipeline_metrics.value"',
            "column_lineage source 'quality.pipeline_metrics.value': quality.pipeline_metrics "
            "is the table of no asset upstream of sales_dashboard",
        ),
        (
            '"quality.sales_summary.volum"',
            "column_lineage source 'quality.sales_summary.volum': "
            "quality.sales_summary has no column 'volum'; did you mean volume",
        ),
        (
            '"marts.Fact_Sales.tme_key"',
            "also_reads source 'marts.Fact_Sales.tme_key': "
            "marts.Fact_Sales has no column 'tme_key'; did you mean time_key",
        ),
    ]
    assert len(lines) == len(expected), lines
    for line, (literal, said) in zip(lines, expected, strict=True):
        assert line.startswith(f"{head}assets/dashboard.py:{line_of(dashboard, literal)}: {said}")


def test_declared_column_lineage_findings_carry_their_place_in_json(location: Path):
    dashboard = location / "assets/dashboard.py"
    mutate(dashboard, r'^    "label": \($', '    "grwoth": (')
    [found] = [f for f in findings(run_validate(location, "--json")) if f["check"] == "lineage"]
    assert (found["asset"], found["column"]) == ("sales_dashboard", "grwoth")
    assert (found["file"], found["line"]) == (
        "assets/dashboard.py",
        line_of(dashboard, '"grwoth"'),
    )


def test_latest_by_is_held_to_its_tables_columns(location: Path):
    """``latest_by`` orders the query a run suggests of its last table: a misspelt one
    passed validate and made that query fail on the engine's unknown identifier."""
    metrics = location / "assets/metrics.py"
    mutate(metrics, r'latest_by="measured_at"', 'latest_by="measured"')
    lines = [line for line in finding_lines(run_validate(location)) if "latest_by" in line]

    assert lines == [
        "[columns] asset pipeline_metrics table quality.pipeline_metrics: "
        f"assets/metrics.py:{line_of(metrics, 'latest_by=')}: latest_by names 'measured', "
        "not a column of quality.pipeline_metrics; did you mean measured_at?"
    ], lines
