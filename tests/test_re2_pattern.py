"""Pandera's regex checks run in ClickHouse (RE2) with Python's meaning, or in Pandera.

The agreement test asks the real engine: every pattern the writer accepts is run by
ClickHouse's ``match()`` on every subject and compared with Python's ``re``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.typing import Series

from io_managers import AssetValidationError
from io_managers.re2_pattern import _SPACES, re2_pattern
from io_managers.sql import quote_string
from orchestration.run_report import AssetOutcome
from orchestration.run_review import materialized_line
from tests.io_helpers import context, sql_asset

REPO = Path(__file__).resolve().parents[1]

SUBJECTS = [
    "",
    "a",
    "ab",
    "a\nb",
    "axb",
    "12",
    "12\n",
    "12\n\n",
    "\u0661\u0662",  # Arabic-Indic digits: Unicode category Nd
    "n5",
    "N5",
    "foo bar",
    "foo_bar baz",
    "x\ty z",
    "colour",
    "color",
    "xxy",
    "xxxy",
    "caf\u00e9",
    "a.b",
    "]-",
    "abcd",
    "\u00e9\u00e9",
    "a\u3000b",  # ideographic space
    "\x85",  # next line: a space to Python's \s
    "x\x1cy",
    "\x0b",
]
ACCEPTED = [
    r"^[0-9]+$",
    r"n\d+",
    r"\d+$",
    r"^\d+$",
    r"a.b",
    r"(?s)a.b",
    r"(?s:a.)b",
    r"^(?:ab|cd)+\Z",
    r"colou?r",
    r"x{2,3}?y",
    r"[^a-c]+$",
    r"[^a]b",  # a negated character matches a newline in both
    r"[^\n]+",
    r"(?a)\w+\s\w+",
    r"(?a)\bfoo\b",
    r"(?a)[\W\d]",
    r"^$",
    r"",
    r"[\d_]+",
    r"b$|^a",
    "\u00e9+",
    r"\.",
    r"(?x) a \. b  # a comment",
    r"[]-]",
    r"\D+",
    re.compile(r"^n\d$"),
    r"\s",
    r"a\sb",
    r"^\S+$",
    r"[^\s]+",
    r"[\s_]",
    r"[^\S]",
    r"(?a)\s",
    r"(?a)^\S+$",
]
LEFT_TO_PANDERA = [
    r"(?<=a)b",
    r"(?=a)",
    r"(?!a)b",
    r"(a)\1",
    r"(?P<x>a)(?P=x)",
    r"(a)?(?(1)b|c)",
    r"(?>a)",
    r"a++",
    r"\w+",  # Unicode word characters: RE2's \w is ASCII
    r"[\S_]",  # RE2 cannot join the spaces' complement to other characters
    r"\bfoo",
    r"(?i)abc",
    re.compile("abc", re.IGNORECASE),
    r"(?m)^a$",
    r"(a$)+",
    r"a{1001}",
    re.compile(b"a"),
]


def _disagreements(warehouse, subjects: list[str]) -> list[tuple[object, bool, str, str]]:
    """Every (pattern, anchored, RE2 text, subject) where ClickHouse and Python differ."""
    cases = [
        (pattern, anchored, re2_pattern(pattern, anchored=anchored))
        for pattern in ACCEPTED
        for anchored in (True, False)  # str_matches (re.match), str_contains (re.search)
    ]
    assert all(written is not None for _, _, written in cases)
    calls = ", ".join(
        f"[{', '.join(f'match({quote_string(s)}, {quote_string(str(w))})' for s in subjects)}]"
        for _, _, w in cases
    )
    (row,) = warehouse.query_arrow(f"SELECT [{calls}] AS m").to_pylist()
    found = []
    for (pattern, anchored, written), engine in zip(cases, row["m"], strict=True):
        python = re.compile(pattern)
        find = python.match if anchored else python.search
        for subject, matched in zip(subjects, engine, strict=True):
            if bool(matched) != bool(find(subject)):
                found.append((pattern, anchored, str(written), subject))
    return found


def test_clickhouse_matches_what_python_matches(backend) -> None:
    assert _disagreements(backend.warehouse, SUBJECTS) == []


#: What random subjects are joined from: the subjects above, and single characters.
PIECES = sorted({*SUBJECTS, *"".join(SUBJECTS)})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(st.sampled_from(PIECES), max_size=4).map("".join), min_size=1, max_size=12)
)
def test_clickhouse_matches_what_python_matches_on_any_text(backend, subjects) -> None:
    assert _disagreements(backend.warehouse, subjects) == []


def test_the_spaces_written_for_backslash_s_are_the_ones_python_accepts() -> None:
    spaces = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert set(_SPACES[False]) == spaces
    assert set(_SPACES[True]) == {c for c in spaces if re.fullmatch(r"(?a)\s", c)}


@pytest.mark.parametrize("pattern", LEFT_TO_PANDERA, ids=str)
def test_what_re2_cannot_say_with_pythons_meaning_is_left_to_pandera(pattern) -> None:
    assert re2_pattern(pattern, anchored=True) is None
    assert re2_pattern(pattern, anchored=False) is None


class Labels(pa.DataFrameModel):
    label: Series[str] = pa.Field(str_matches=r"^n[0-9]+$")


class CaseInsensitive(pa.DataFrameModel):
    label: Series[str] = pa.Field(str_matches=re.compile(r"^n[0-9]+$", re.IGNORECASE))


class NamedBackReference(pa.DataFrameModel):
    label: Series[str] = pa.Field(str_contains=r"(?P<c>[0-9])(?P=c)")


class DotNotNewline(pa.DataFrameModel):
    label: Series[str] = pa.Field(str_contains=r"n.5")


def _labels(*labels: str) -> str:
    rows = " UNION ALL ".join(
        f"SELECT {number} AS n, {quote_string(label)} AS label"
        for number, label in enumerate(labels)
    )
    return f"SELECT n, label, CAST(NULL, 'Nullable(Float64)') AS score FROM ({rows})"


@pytest.mark.parametrize(
    ("schema", "labels", "in_pandera"),
    [
        (Labels, ["n1", "n22\n"], None),  # Python's $ matches before a final newline
        (CaseInsensitive, ["n1", "N2"], "str_matches"),  # the compiled pattern's flag counts
        (NamedBackReference, ["n11", "x22"], "str_contains"),  # RE2 cannot run it
    ],
    ids=["dollar", "flags", "backreference"],
)
@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")
def test_a_label_pandera_accepts_is_published(backend, db, schema, labels, in_pandera) -> None:
    spec = sql_asset(f"{db}.numbers", _labels(*labels), schema=schema)
    result = backend.warehouse.materialize(spec, context(spec, backend.warehouse))
    assert backend.warehouse.row_count(f"{db}.numbers") == len(labels)
    # A check left to Pandera is named in the result, for the run's log.
    named = result.metadata.get("checks_in_pandera")
    if in_pandera is None:
        assert named is None
    else:
        (only,) = named
        assert only.startswith(f"label: {in_pandera}(")


def test_a_label_pandera_refuses_is_refused_in_the_warehouse(backend, db) -> None:
    spec = sql_asset(f"{db}.numbers", _labels("nx5", "n\n5"), schema=DotNotNewline)
    with pytest.raises(AssetValidationError) as raised:
        backend.warehouse.materialize(spec, context(spec, backend.warehouse))
    (failure,) = raised.value.failures
    assert (failure.column, failure.failing_rows) == ("label", 1)
    assert failure.examples == ("'n\\n5'",)
    assert backend.warehouse.row_count(f"{db}.numbers") == 0


@pytest.mark.filterwarnings("ignore:This pattern is interpreted as a regular expression")
def test_the_run_log_names_a_check_left_to_pandera(backend, db) -> None:
    spec = sql_asset(f"{db}.numbers", _labels("n11"), schema=NamedBackReference)
    result = backend.warehouse.materialize(spec, context(spec, backend.warehouse))
    outcome = AssetOutcome(spec.key, spec.table, "materialized", 0.5, result)
    line = materialized_line(spec, outcome)
    assert line is not None and line.startswith("validation passed against NamedBackReference")
    assert "(1 in Pandera, not in ClickHouse: label: str_contains('(?P<c>" in line
    assert line.endswith(f"; 1 row in {db}.numbers, 1 inserted by this run, 0.50 s")


def test_a_check_left_to_pandera_prints_no_library_warning(tmp_path) -> None:
    # Python's default warning filters, as a user's terminal gets them: a str_contains with
    # groups run by Pandera must not print pandas' advice to use str.extract.
    script = (
        "import sys\n"
        "from tests.io_helpers import context, sql_asset\n"
        "from tests.test_re2_pattern import NamedBackReference, _labels\n"
        "from io_managers import ClickHouseIOManager\n"
        "with ClickHouseIOManager.embedded(sys.argv[1]) as warehouse:\n"
        "    warehouse.command('CREATE DATABASE d')\n"
        '    warehouse.command("CREATE TABLE d.numbers (n UInt64, label String, "\n'
        '                      "score Nullable(Float64)) ENGINE = MergeTree ORDER BY n")\n'
        "    spec = sql_asset('d.numbers', _labels('n11'), schema=NamedBackReference)\n"
        "    result = warehouse.materialize(spec, context(spec, warehouse))\n"
        "print(result.metadata['checks_in_pandera'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", script, str(tmp_path / "warehouse")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "str_contains" in done.stdout
    assert "Warning" not in done.stderr, done.stderr
