"""Every ``path:line`` that README.md and docs/ quote in the shipped code location points
at what its quote is about.

The docs quote real output (``pipeline validate`` findings, one-line errors), and that
output names lines of assets/, schemas/ and ddl/ (``ddl/init.sql:355``,
``assets/marts.py:267:38``). An edit above such a line moves it, and nothing else
notices: the README went on quoting lines that held something else. A table of expected
lines kept beside this test would go stale the same way, so each position is checked
against what the quote's own words say: ``table T column c`` is declared on the DDL line,
the ``return`` of ``asset A`` is on the assets line, the name the engine did not know
(or the one it suggested) is at the column, ``statement K`` holds the line. A quote no
rule reads fails as well, so a new kind of quote is checked from the day it is written.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from io_managers.sql_tokens import split_statements

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FILE = r"(?:assets|schemas|ddl)/[\w/]+\.(?:py|sql)"
#: ``assets/marts.py:267:38`` as a line of output says it, and a GitHub annotation's
#: ``file=assets/marts.py,line=36,col=5``.
POSITIONS = (
    re.compile(rf"(?<![\w/.])(?P<path>{_FILE}):(?P<line>\d+)(?::(?P<col>\d+))?"),
    re.compile(rf"\bfile=(?P<path>{_FILE}),line=(?P<line>\d+)(?:,col=(?P<col>\d+))?"),
)
FENCE = re.compile(r"^```.*?^```$", re.M | re.S)
#: An inline code span (``double`` too, to hold a backtick), never past its paragraph.
SPAN = re.compile(r"``(?:[^\n]|\n(?!\n))+?``|`(?:[^`\n]|\n(?!\n))+`")
HEADING = re.compile(r"^#+ ", re.M)
#: A name a quote gives in quotes: ``'sat.Quantiy'``, ``['Country']``, `` `Countree` ``.
QUOTED_NAME = re.compile(r"['`]([A-Za-z_][\w.]*)['`]")
#: The asset a line of output names: ``asset 'k'``, ``asset k``, or in an annotation's title.
ASSET = re.compile(r"\basset '?(\w+)'?|title=pipeline validate \[\w+\] (\w+)")
TABLE = re.compile(r"\btable (\w+\.\w+)")
COLUMN = re.compile(r"\bcolumn (\w+):")


@dataclass(frozen=True)
class Quoted:
    """One position a doc quotes, with the words around it."""

    where: str  # README.md:179, for the failure message
    path: str
    line: int
    col: int | None
    #: The output line (in a fenced block) or the inline code span the position is in.
    quote: str
    #: Its section (heading to heading): names a quote elides ("...") are often there.
    section: str

    def asset(self) -> str | None:
        said = ASSET.search(self.quote)
        return (said[1] or said[2]) if said else None

    def names(self) -> list[str]:
        """The names the quote gives in quotes, but its asset's."""
        return [name for name in QUOTED_NAME.findall(self.quote) if name != self.asset()]


def quoted_positions(doc: Path) -> list[Quoted]:
    """Each position ``doc`` quotes in the shipped code, with its quote and section."""
    text = doc.read_text(encoding="utf-8")
    fences = [match.span() for match in FENCE.finditer(text)]
    prose = FENCE.sub(lambda match: " " * len(match.group()), text)
    spans = [match.span() for match in SPAN.finditer(prose)]
    headings = [match.start() for match in HEADING.finditer(prose)]
    found = []
    for pattern in POSITIONS:
        for match in pattern.finditer(text):
            at = match.start()
            start, end = _around(text, at, fences, spans)
            section_start = max((h for h in headings if h <= at), default=0)
            section_end = min((h for h in headings if h > at), default=len(text))
            found.append(
                Quoted(
                    f"{doc.relative_to(REPO)}:{text.count(chr(10), 0, at) + 1}",
                    match["path"],
                    int(match["line"]),
                    int(match["col"]) if match["col"] else None,
                    " ".join(text[start:end].split()),
                    text[section_start:section_end],
                )
            )
    return found


def _around(
    text: str, at: int, fences: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> tuple[int, int]:
    """The output line or code span holding offset ``at``: the quote it belongs to."""
    if not any(start <= at < end for start, end in fences):
        for start, end in spans:
            if start <= at < end:
                return start, end
    end = text.find("\n", at)
    return text.rfind("\n", 0, at) + 1, len(text) if end < 0 else end


def close(word: str, names: list[str]) -> bool:
    """Whether ``word`` is one of ``names`` or a misspelling of one."""
    return bool(difflib.get_close_matches(word, names, n=1, cutoff=0.8))


# Each rule reads one kind of quote: None when the quote is not of its kind, else what
# the line does not hold (an empty string when it holds what the quote is about).
Rule = Callable[[Quoted, list[str]], str | None]


def statement_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """``ddl/init.sql:327:25: statement 27 (CREATE TABLE ...) ... (line 4, col 25)``: the
    line is in that statement (counted as the error counts them), at the engine's line of
    it when the quote gives that."""
    said = re.search(r"statement (\d+) \((\w+ \w+)", quoted.quote)
    if not said or not quoted.path.endswith(".sql"):
        return None
    number, head = int(said[1]), said[2]
    first, last, statement = ddl_statements(quoted.path)[number - 1]
    if not first <= quoted.line <= last or not statement.startswith(head):
        return f"statement {number} is lines {first}-{last}: {statement.splitlines()[0]}"
    engine = re.search(r"\(line (\d+), col \d+\)", quoted.quote)
    if engine and quoted.line != first + int(engine[1]) - 1:
        return f"line {engine[1]} of statement {number} is line {first + int(engine[1]) - 1}"
    return ""


def missing_character_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """``schemas/marts.py:53:36: SyntaxError: expected ':'``: the shipped line has the
    character there that the example's edit took away."""
    said = re.search(r"expected '(.)'", quoted.quote)
    if not said or quoted.col is None:
        return None
    held = lines[quoted.line - 1][quoted.col - 1 : quoted.col]
    return "" if held == said[1] else f"{held!r} at column {quoted.col}, not {said[1]!r}"


def column_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """``assets/marts.py:36:5: ... 'sat.Quantiy' ...``: the column starts the name the
    engine did not know (as shipped, spelt right) or the token it stopped at. A quote
    that elides the name ("...") is held to the names its section quotes, or else to a
    word of its asset's own code."""
    if quoted.col is None:
        return None
    rest = lines[quoted.line - 1][quoted.col - 1 :]
    word = re.split(r"[^\w.]", rest, maxsplit=1)[0]
    names = quoted.names() or QUOTED_NAME.findall(quoted.section)
    if close(word, names) or any(rest.startswith(name) for name in names):
        return ""
    asset = quoted.asset()
    if word and asset and not quoted.names() and quoted.path.startswith("assets/"):
        function = definition(quoted.path, asset)
        if function and function.lineno <= quoted.line <= (function.end_lineno or 0):
            return ""
    return f"{word!r} at column {quoted.col}, none of {names[:8]}"


def ddl_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """``table T column c: ddl/init.sql:355``: the line declares ``c`` in ``T``'s CREATE
    TABLE (without a column: the line names ``T`` in it)."""
    table = TABLE.search(quoted.quote)
    if not table or not quoted.path.endswith(".sql"):
        return None
    name = table[1]
    statement = next(
        (text for first, last, text in ddl_statements(quoted.path) if first <= quoted.line <= last),
        "",
    )
    if not re.match(rf"CREATE TABLE (IF NOT EXISTS )?{re.escape(name)}\b", statement):
        return f"not in the CREATE TABLE of {name}"
    column = COLUMN.search(quoted.quote)
    text = lines[quoted.line - 1]
    if column:
        return "" if re.match(rf"\s*{column[1]}\s", text) else f"does not declare {column[1]}"
    return "" if name in text else f"does not name {name}"


def schema_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """``column c: schemas/marts.py:71``: the line declares field ``c``; ``in Model:
    pandera.Field(uniqe=...) ... did you mean unique?``: the line is in ``Model`` and
    spells the argument right."""
    if not quoted.path.startswith("schemas/"):
        return None
    text = lines[quoted.line - 1]
    column = COLUMN.search(quoted.quote)
    if column:
        return "" if re.match(rf"\s*{column[1]}\s*:", text) else f"does not declare {column[1]}"
    model = re.search(r"\bin (\w+):", quoted.quote)
    meant = re.search(r"did you mean (\w+)", quoted.quote)
    if not model or not meant:
        return None
    node = definition(quoted.path, model[1])
    if not node or not node.lineno <= quoted.line <= (node.end_lineno or 0) or meant[1] not in text:
        return f"not a line of {model[1]} that says {meant[1]}"
    return ""


def asset_code_rule(quoted: Quoted, lines: list[str]) -> str | None:
    """A line of an asset's code: where a check is declared (``check 'C'``); the line
    with the string a typo changed (``KeyError: 'chrt'``, ``names 'lable'``); where an
    asset is declared (its table not created by the DDL); else its body's first line,
    the ``return`` of its SELECT (``asset A``)."""
    if not quoted.path.startswith("assets/"):
        return None
    text = lines[quoted.line - 1]
    check = re.search(r"\bcheck '(\w+)'", quoted.quote)
    if check:
        named = next((line for line in lines[quoted.line - 1 :] if "name=" in line), "")
        declared = "AssetCheck(" in text and f'name="{check[1]}"' in named
        return "" if declared else f"does not declare check {check[1]}"
    asset = quoted.asset()
    changed = [name for name in QUOTED_NAME.findall(quoted.quote) if name != asset]
    if changed:
        literals = re.findall(r"[\"'](\w+)[\"']", text)
        return "" if any(close(name, literals) for name in changed) else f"has none of {changed}"
    if not asset:
        return None
    function = definition(quoted.path, asset)
    if function is None:
        return f"{quoted.path} defines no asset {asset}"
    if "not created by the DDL" in quoted.quote:
        expected = function.decorator_list[0].lineno
    else:
        expected = next(s for s in function.body if not is_docstring(s)).lineno
    return "" if quoted.line == expected else f"asset {asset}'s line is {expected}"


RULES: tuple[Rule, ...] = (
    statement_rule,
    missing_character_rule,
    column_rule,
    ddl_rule,
    schema_rule,
    asset_code_rule,
)


def ddl_statements(path: str) -> list[tuple[int, int, str]]:
    """Each statement of a DDL file with its first and last line, in file order."""
    text = (REPO / path).read_text()
    found, cursor = [], 0
    for statement in split_statements(text):
        start = text.index(statement, cursor)
        cursor = start + len(statement)
        first = text.count("\n", 0, start) + 1
        found.append((first, first + statement.count("\n"), statement))
    return found


def is_docstring(statement: ast.stmt) -> bool:
    """Whether ``statement`` is a body's docstring, which the body's first line skips."""
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def definition(path: str, name: str) -> ast.FunctionDef | ast.ClassDef | None:
    """The function or class ``name`` of a module, None when it has none."""
    tree = ast.parse((REPO / path).read_text())
    return next(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name
        ),
        None,
    )


def mismatch(quoted: Quoted) -> str | None:
    """What is wrong with the quoted position; None when its line holds what it says."""
    file = REPO / quoted.path
    if not file.is_file():
        return "no such file"
    lines = file.read_text().splitlines()
    if not 1 <= quoted.line <= len(lines):
        return f"the file has {len(lines)} lines"
    for rule in RULES:
        said = rule(quoted, lines)
        if said is not None:
            return (
                f"line {quoted.line}: {lines[quoted.line - 1].strip()!r} {said}" if said else None
            )
    return "no rule reads what the quote is about; teach tests/test_readme_positions.py one"


def test_the_docs_quote_positions_in_the_shipped_code():
    """Guards the guard: the README's examples are found, not silently skipped."""
    assert len(quoted_positions(REPO / "README.md")) >= 10


def test_every_quoted_position_holds_what_its_quote_is_about():
    stale = [
        f"{quoted.where}: {quoted.path}:{quoted.line}"
        f"{f':{quoted.col}' if quoted.col else ''}: {problem}\n    quote: {quoted.quote[:200]}"
        for doc in DOCS
        for quoted in quoted_positions(doc)
        if (problem := mismatch(quoted))
    ]
    assert not stale, "positions the docs quote that moved (rerun the example):\n" + "\n".join(
        stale
    )
