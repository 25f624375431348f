"""Dagster's asset selection syntax, evaluated on the asset graph.

Users paste what they know from Dagster (``key:fact_sales+``, ``group:vault and not
tag:layer=marts``), so the answer must be the one Dagster gives for the same graph and
expression. This module reproduces Dagster's ``AssetSelection.from_string`` without
depending on Dagster or ANTLR:

* a tokenizer that mirrors the ANTLR lexer of ``AssetSelection.g4`` (longest match,
  keywords win ties, whitespace skipped), so ``key:order`` is a key and ``key:job`` is a
  syntax error exactly as in Dagster;
* a recursive-descent parser for the grammar's precedence: ``not`` binds tighter than
  ``and``, which binds tighter than ``or``; ``+`` traversals apply only to an attribute,
  a function call or a parenthesised expression (``+not x`` and ``++key:x`` are errors);
* one deliberate extension (the product's rule, DESIGN.md section 3): a bare name, with or
  without ``*`` wildcards, means ``key:NAME`` wherever an attribute may stand, so
  ``fact_sales+`` is the asset and ALL its descendants, like ``key:fact_sales+``.
  Dagster instead falls back to its legacy clause syntax for a bare name (only as the
  whole expression, each ``+`` one level, ``*`` all levels); that fallback is not
  reproduced, as two meanings for ``+`` would surprise users;
* Dagster's remaining fallback, tried when the grammar rejects the whole string: the
  legacy ``tag:K=V`` form, whose value may hold any character;
* evaluation on the asset graph (or a networkx one) with Dagster's semantics (``tag:K``
  matches a tag whose value is empty; ``roots``/``sinks`` are relative to the inner selection).

``tests/test_selection_dagster.py`` checks this against answers recorded from Dagster
(``scripts/dagster_selection_fixture.py``, which asks Dagster about each expression with
``key:`` written before its bare names). Attributes the graph has no data for
(``owner:``, ``kind:``, ``status:``...) parse like Dagster's but are rejected with a
:class:`SelectionSyntaxError` pointing at them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestration.errors import UsageError, did_you_mean

__all__ = [
    "EmptySelectionError",
    "SelectionSyntaxError",
    "StatusUnavailableError",
    "key_term",
    "parse_selection",
    "select_keys",
    "uses_status",
]


_ONE_COLUMN = str.maketrans("\t\r\n", "   ")


class SelectionSyntaxError(UsageError, ValueError):
    """The expression is not valid selection syntax; ``position`` is a 0-based offset."""

    def __init__(self, expression: str, position: int, reason: str) -> None:
        self.expression = expression
        self.position = position
        self.reason = reason
        super().__init__(expression, position, reason)

    def __str__(self) -> str:
        # Tabs and newlines would knock the caret out of line; each becomes one space.
        shown = self.expression.translate(_ONE_COLUMN)
        return (
            f"invalid asset selection at position {self.position}: {self.reason}\n"
            f"  {shown}\n"
            f"  {' ' * self.position}^"
        )


class EmptySelectionError(UsageError, ValueError):
    """A valid expression matched no asset: running nothing is never what the user meant."""

    def __init__(self, expression: str, detail: str = "") -> None:
        self.expression = expression
        self.detail = detail
        super().__init__(expression, detail)

    def __str__(self) -> str:
        message = f"asset selection {self.expression!r} matches no asset"
        return f"{message}: {self.detail}" if self.detail else message


class StatusUnavailableError(UsageError, ValueError):
    """``status:`` was used where no materialization history is at hand."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        super().__init__(expression)

    def __str__(self) -> str:
        return (
            f"asset selection {self.expression!r} uses status:, which needs the warehouse's "
            "materialization history; pipeline status, plan, materialize, checks and serve read it"
        )


# --------------------------------------------------------------------------- tokens

# Token kinds are the ANTLR lexer's symbolic names.
_OPERATOR_KEYWORDS = {
    "and": "AND",
    "AND": "AND",
    "or": "OR",
    "OR": "OR",
    "not": "NOT",
    "NOT": "NOT",
}
_SUPPORTED_ATTRIBUTES = ("key", "group", "tag", "status")
#: What ``status:`` takes: the states of :mod:`orchestration.staleness`. (Dagster's own
#: status values describe its run history, which this project does not have.)
STATUS_VALUES = ("stale", "missing", "fresh")
# Attributes Dagster's grammar knows but our graph carries no data for.
_UNSUPPORTED_ATTRIBUTES = (
    "owner",
    "kind",
    "is",
    "code_location",
    "column",
    "table_name",
    "column_tag",
    "changed_in_branch",
    "partitions",
    "automation_type",
    "sensor",
    "schedule",
    "job",
)
_FUNCTIONS = ("sinks", "roots")
_WORD_KEYWORDS = {
    word: word.upper() for word in (*_SUPPORTED_ATTRIBUTES, *_UNSUPPORTED_ATTRIBUTES, *_FUNCTIONS)
}
_PUNCTUATION = {"=": "EQUAL", "+": "PLUS", ":": "COLON", "(": "LPAREN", ")": "RPAREN", ",": "COMMA"}

_WHITESPACE = re.compile(r"[ \t\r\n]+")
_DIGITS = re.compile(r"[0-9]+")
_QUOTED = re.compile(r'"[^"\\\r\n]*"')
_UNQUOTED = re.compile(r"[a-zA-Z_][a-zA-Z0-9_/]*")
_UNQUOTED_WILDCARD = re.compile(r"[a-zA-Z_*][a-zA-Z0-9_*/]*")
_NULL = "<null>"

# Tokens that may stand as a `value` (tag/group): Dagster accepts these keywords there.
_VALUE_KEYWORDS = ("SENSOR", "SCHEDULE", "JOB")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    def describe(self) -> str:
        return "the end of the expression" if self.kind == "EOF" else repr(self.text)


class _GrammarError(Exception):
    """Where and why the grammar rejected the input (before Dagster's fallbacks run)."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason


def _tokenize(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(expression):
        if ws := _WHITESPACE.match(expression, pos):
            pos = ws.end()
            continue
        char = expression[pos]
        if char in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[char], char, pos))
            pos += 1
        elif char.isascii() and char.isdigit():
            text = _DIGITS.match(expression, pos).group()  # type: ignore[union-attr]
            tokens.append(_Token("DIGITS", text, pos))
            pos += len(text)
        elif char == '"':
            quoted = _QUOTED.match(expression, pos)
            if quoted is None:
                raise _GrammarError(pos, "unterminated quoted string (or it holds \\ or a newline)")
            tokens.append(_Token("QUOTED_STRING", quoted.group(), pos))
            pos = quoted.end()
        elif expression.startswith(_NULL, pos):
            tokens.append(_Token("NULL_STRING", _NULL, pos))
            pos += len(_NULL)
        elif wildcard := _UNQUOTED_WILDCARD.match(expression, pos):
            # ANTLR takes the longest match; on a tie the rule declared first wins, and
            # keywords and STAR are declared before the string rules.
            text = wildcard.group()
            plain = _UNQUOTED.match(expression, pos)
            if plain is not None and plain.end() == wildcard.end():
                kind = _OPERATOR_KEYWORDS.get(text) or _WORD_KEYWORDS.get(text, "UNQUOTED_STRING")
            elif text == "*":
                kind = "STAR"
            else:
                kind = "UNQUOTED_WILDCARD_STRING"
            tokens.append(_Token(kind, text, pos))
            pos += len(text)
        elif char == "." and tokens and tokens[-1].kind == "UNQUOTED_STRING":
            raise _GrammarError(
                pos,
                "asset keys have no '.': select an asset by its key, not its table "
                "(`pipeline list` shows both)",
            )
        else:
            raise _GrammarError(pos, f"unexpected character {char!r}")
    tokens.append(_Token("EOF", "", len(expression)))
    return tokens


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class All:
    """``*``: every asset."""


@dataclass(frozen=True)
class KeyPattern:
    """``key:V`` or a bare ``V``; ``*`` in V matches any run of characters."""

    pattern: str


@dataclass(frozen=True)
class Group:
    """``group:V``; ``None`` (``<null>``) or empty matches nothing, ``*`` is a wildcard."""

    name: str | None


@dataclass(frozen=True)
class Tag:
    """``tag:K=V`` / ``tag:K`` (the latter means the tag's value is the empty string)."""

    key: str
    value: str


@dataclass(frozen=True)
class Status:
    """``status:stale|missing|fresh``: assets in that state (see ``orchestration.staleness``)."""

    state: str


@dataclass(frozen=True)
class Unsupported:
    """An attribute of Dagster's grammar this graph has no data for."""

    attribute: str
    position: int


@dataclass(frozen=True)
class Not:
    child: Selection


@dataclass(frozen=True)
class And:
    left: Selection
    right: Selection


@dataclass(frozen=True)
class Or:
    left: Selection
    right: Selection


@dataclass(frozen=True)
class Upstream:
    """The child and its ancestors up to ``depth`` levels (``None``: all levels)."""

    child: Selection
    depth: int | None


@dataclass(frozen=True)
class Downstream:
    """The child and its descendants up to ``depth`` levels (``None``: all levels)."""

    child: Selection
    depth: int | None


@dataclass(frozen=True)
class Roots:
    """Assets of the child with no ancestor inside the child."""

    child: Selection


@dataclass(frozen=True)
class Sinks:
    """Assets of the child with no descendant inside the child."""

    child: Selection


Selection = (
    All
    | KeyPattern
    | Group
    | Tag
    | Status
    | Unsupported
    | Not
    | And
    | Or
    | Upstream
    | Downstream
    | Roots
    | Sinks
)


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the token list, one method per precedence level."""

    def __init__(self, tokens: list[_Token], expression: str) -> None:
        self._tokens = tokens
        self._expression = expression
        self._index = 0

    @property
    def _current(self) -> _Token:
        return self._tokens[self._index]

    def _peek(self, offset: int = 1) -> _Token:
        return self._tokens[min(self._index + offset, len(self._tokens) - 1)]

    def _advance(self) -> _Token:
        token = self._current
        self._index += 1
        return token

    def _expect(self, kind: str, what: str) -> _Token:
        if self._current.kind != kind:
            raise _GrammarError(
                self._current.position, f"expected {what} but found {self._current.describe()}"
            )
        return self._advance()

    def _expect_after_keyword(self, keyword: _Token, kind: str, what: str) -> None:
        """Like ``_expect``; a keyword standing alone is most likely a bare asset name."""
        if self._current.kind != kind:
            raise _GrammarError(
                self._current.position,
                f"expected {what} after {keyword.text} but found {self._current.describe()} "
                f"({keyword.text!r} is a keyword; to select an asset named {keyword.text}, "
                f'write key:"{keyword.text}")',
            )
        self._advance()

    def parse(self) -> Selection:
        selection = self._or()
        if self._current.kind != "EOF":
            raise _GrammarError(self._current.position, self._after_a_selection())
        return selection

    def _after_a_selection(self) -> str:
        """Why the token after a complete selection cannot be there: the mistakes people
        make most (a misspelt function or attribute, a comma list) say what to write."""
        token = self._current
        name = self._tokens[self._index - 1] if self._index else token
        if name.kind == "UNQUOTED_STRING" and token.kind == "LPAREN":
            functions = " and ".join(f"{function}(...)" for function in sorted(_FUNCTIONS))
            return (
                f"{name.text!r} is not a function ({functions} are)"
                f"{did_you_mean(name.text, _FUNCTIONS, n=1)}"
            )
        if name.kind == "UNQUOTED_STRING" and token.kind == "COLON":
            supported = [f"{attribute}:" for attribute in _SUPPORTED_ATTRIBUTES]
            return (
                f"'{name.text}:' is not an attribute (supported: {', '.join(supported)})"
                f"{did_you_mean(name.text + ':', supported, n=1)}"
            )
        if token.kind == "COMMA":
            joined = " or ".join(part.strip() for part in self._expression.split(","))
            return f"a ',' does not join selections: write or ({joined})"
        return (
            f"expected 'and', 'or' or the end of the expression "
            f"but found {token.describe()}{_plus_hint(token)}"
        )

    def _or(self) -> Selection:
        left = self._and()
        while self._current.kind == "OR":
            self._advance()
            left = Or(left, self._and())
        return left

    def _and(self) -> Selection:
        left = self._not()
        while self._current.kind == "AND":
            self._advance()
            left = And(left, self._not())
        return left

    def _not(self) -> Selection:
        if self._current.kind == "NOT":
            self._advance()
            return Not(self._not())
        return self._traversal()

    def _traversal(self) -> Selection:
        if self._current.kind == "STAR":
            self._advance()
            return All()
        up_depth: int | None = None
        has_up = False
        if self._current.kind == "DIGITS":
            if self._peek().kind != "PLUS":
                raise _GrammarError(
                    self._peek().position,
                    f"a depth must be followed by '+' but found {self._peek().describe()}",
                )
            up_depth = int(self._advance().text)
            self._advance()
            has_up = True
        elif self._current.kind == "PLUS":
            self._advance()
            has_up = True
        operand = self._operand()
        up = Upstream(operand, up_depth) if has_up else None
        if self._current.kind != "PLUS":
            return up or operand
        self._advance()
        down = Downstream(
            operand, int(self._advance().text) if self._current.kind == "DIGITS" else None
        )
        # `N+x+M` is the union of both traversals of x, as in Dagster.
        return Or(up, down) if up else down

    def _operand(self) -> Selection:
        token = self._current
        if token.kind == "LPAREN":
            self._advance()
            inner = self._or()
            self._expect("RPAREN", "')'")
            return inner
        if token.kind in ("ROOTS", "SINKS"):
            self._advance()
            self._expect_after_keyword(token, "LPAREN", "'('")
            inner = self._or()
            self._expect("RPAREN", "')'")
            return Roots(inner) if token.kind == "ROOTS" else Sinks(inner)
        if token.kind in ("UNQUOTED_STRING", "UNQUOTED_WILDCARD_STRING"):
            # The product's one extension of Dagster's grammar: a bare name is key:NAME.
            self._advance()
            return KeyPattern(token.text)
        if token.kind == "KEY":
            self._advance()
            self._expect_after_keyword(token, "COLON", "':'")
            return KeyPattern(self._key_value())
        if token.kind == "TAG":
            self._advance()
            self._expect_after_keyword(token, "COLON", "':'")
            key_token = self._current
            key = self._value()
            value = None
            if self._current.kind == "EQUAL":
                self._advance()
                value = self._value()
            if key is None:
                # Dagster's visitor fails on a <null> tag key, which sends the whole
                # string to its fallbacks; record where, in case they fail too.
                raise _GrammarError(key_token.position, "a tag key cannot be <null>")
            return Tag(key, value or "")
        if token.kind == "GROUP":
            self._advance()
            self._expect_after_keyword(token, "COLON", "':'")
            return Group(self._value())
        if token.kind == "STATUS":
            self._advance()
            self._expect_after_keyword(token, "COLON", "':'")
            value_token = self._current
            value = self._value()
            if value not in STATUS_VALUES:
                raise _GrammarError(
                    value_token.position,
                    f"unknown status {value_token.text!r}: status: takes "
                    f"{', '.join(STATUS_VALUES[:-1])} or {STATUS_VALUES[-1]}",
                )
            return Status(value)
        if token.text in _UNSUPPORTED_ATTRIBUTES and token.kind == token.text.upper():
            self._advance()
            self._expect_after_keyword(token, "COLON", "':'")
            self._value()
            if token.kind == "COLUMN_TAG" and self._current.kind == "EQUAL":
                self._advance()
                self._value()
            return Unsupported(token.text, token.position)
        hint = _plus_hint(token)
        if token.kind == "QUOTED_STRING":
            hint = f" (a quoted name needs key: in front: key:{token.text})"
        raise _GrammarError(
            token.position,
            "expected an asset name, key:, group:, tag:, roots(...), sinks(...), '(', '*', "
            f"'+' or 'not' but found {token.describe()}{hint}",
        )

    def _found(self, token: _Token) -> str:
        if token.kind in _WORD_KEYWORDS.values() or token.kind in _OPERATOR_KEYWORDS.values():
            return f'the keyword {token.describe()} (write "{token.text}" to use it as a name)'
        return token.describe()

    def _key_value(self) -> str:
        token = self._current
        if token.kind == "QUOTED_STRING":
            self._advance()
            return token.text[1:-1]
        if token.kind in ("UNQUOTED_STRING", "UNQUOTED_WILDCARD_STRING"):
            self._advance()
            return token.text
        raise _GrammarError(
            token.position,
            f"expected an asset key (a name, a name with '*', or a \"quoted\" name) "
            f"but found {self._found(token)}",
        )

    def _value(self) -> str | None:
        token = self._current
        if token.kind == "NULL_STRING":
            self._advance()
            return None
        if token.kind == "QUOTED_STRING":
            self._advance()
            return token.text[1:-1]
        if token.kind == "UNQUOTED_STRING" or token.kind in _VALUE_KEYWORDS:
            self._advance()
            return token.text
        raise _GrammarError(
            token.position,
            f'expected a name or a "quoted" value but found {self._found(token)}',
        )


def _plus_hint(token: _Token) -> str:
    """Repeated ``+`` is Dagster's legacy syntax; say what the grammar wants instead."""
    if token.kind != "PLUS":
        return ""
    return " (one '+' per side selects all levels; write a depth for fewer: 2+x, x+1)"


def _legacy_tag(expression: str) -> Selection | None:
    """Dagster's last resort: everything after ``tag:`` is ``K`` or ``K=V``, verbatim.

    More than one ``=`` fails in Dagster too; the grammar's error is then the useful one.
    """
    if not expression.startswith("tag:"):
        return None
    parts = expression[len("tag:") :].split("=")
    if len(parts) > 2:
        return None
    return Tag(parts[0], parts[1] if len(parts) == 2 else "")


def _walk(selection: Selection) -> Iterator[Selection]:
    """Every node of the tree, parents before children, left before right.

    Iterative: a long ``a or b or ...`` chain is a deep tree and must not hit the
    recursion limit here.
    """
    stack = [selection]
    while stack:
        node = stack.pop()
        yield node
        children = (getattr(node, name, None) for name in ("right", "left", "child"))
        stack.extend(child for child in children if child is not None)


def key_term(key: str) -> str:
    """How the asset ``key`` is written in an expression a user may paste: bare
    (``fact_sales``), or ``key:"job"`` for a name a bare name cannot be (a keyword)."""
    if key in _OPERATOR_KEYWORDS or key in _WORD_KEYWORDS or not _UNQUOTED.fullmatch(key):
        return f'key:"{key}"'
    return key


def parse_selection(expression: str) -> Selection:
    """Parse ``expression`` into a selection tree, as Dagster's ``from_string`` would.

    Raises :class:`SelectionSyntaxError` pointing at the first offending character when
    neither the grammar (with bare names as ``key:NAME``) nor Dagster's legacy
    ``tag:K=V`` fallback accepts the string, or at an attribute this graph cannot evaluate
    (``owner:``, ``kind:``...).
    """
    try:
        selection = _Parser(_tokenize(expression), expression).parse()
    except RecursionError:
        raise SelectionSyntaxError(expression, 0, "the expression nests too deeply") from None
    except _GrammarError as error:
        fallback = _legacy_tag(expression)
        if fallback is None:
            raise SelectionSyntaxError(expression, error.position, error.reason) from None
        return fallback
    for node in _walk(selection):
        if not isinstance(node, Unsupported):
            continue
        raise SelectionSyntaxError(
            expression,
            node.position,
            f"unsupported attribute '{node.attribute}:' "
            f"(supported: {', '.join(a + ':' for a in _SUPPORTED_ATTRIBUTES)})",
        )
    return selection


# --------------------------------------------------------------------------- evaluation


class SelectableGraph(Protocol):
    """What evaluation reads: ``orchestration.graph.Dag`` and a networkx ``DiGraph`` both fit.

    ``nodes`` iterates the asset keys; ``nodes(data="group")`` yields ``(key, group)``.
    """

    nodes: Any

    def __contains__(self, key: object) -> bool: ...

    def predecessors(self, key: str) -> Iterator[str]: ...

    def successors(self, key: str) -> Iterator[str]: ...


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace("\\*", ".*") + "$")


def _traverse(
    dag: SelectableGraph, start: set[str], depth: int | None, *, upstream: bool
) -> set[str]:
    """``start`` plus everything within ``depth`` edges in one direction (breadth first)."""
    neighbours = dag.predecessors if upstream else dag.successors
    reached = set(start)
    frontier = deque(start)
    level = 0
    while frontier and (depth is None or level < depth):
        next_frontier: deque[str] = deque()
        for node in frontier:
            for other in neighbours(node):
                if other not in reached:
                    reached.add(other)
                    next_frontier.append(other)
        frontier = next_frontier
        level += 1
    return reached


def _ancestors(dag: SelectableGraph, key: str) -> set[str]:
    return _traverse(dag, {key}, None, upstream=True) - {key}


def _descendants(dag: SelectableGraph, key: str) -> set[str]:
    return _traverse(dag, {key}, None, upstream=False) - {key}


StateProvider = Callable[[], Mapping[str, str]]


class _Evaluator:
    def __init__(self, dag: SelectableGraph, expression: str, states: StateProvider | None) -> None:
        self._dag = dag
        self._expression = expression
        self._states = states
        self._known_states: Mapping[str, str] | None = None

    def _state_of(self) -> Mapping[str, str]:
        """Asset states, asked for once and only when the expression uses ``status:``."""
        if self._known_states is None:
            if self._states is None:
                raise StatusUnavailableError(self._expression)
            self._known_states = self._states()
        return self._known_states

    def evaluate(self, selection: Selection) -> set[str]:
        dag = self._dag
        match selection:
            case All():
                return set(dag.nodes)
            case KeyPattern(pattern):
                regex = _wildcard(pattern)
                return {key for key in dag.nodes if regex.match(key)}
            case Group(name):
                if not name:
                    return set()
                regex = _wildcard(name)
                return {key for key, group in dag.nodes(data="group") if regex.match(group or "")}
            case Tag(key, value):
                return {
                    node for node, tags in dag.nodes(data="tags") if (tags or {}).get(key) == value
                }
            case Status(state):
                states = self._state_of()
                return {key for key in dag.nodes if states.get(key) == state}
            case Not(child):
                return set(dag.nodes) - self.evaluate(child)
            case And(left, right):
                return self.evaluate(left) & self.evaluate(right)
            case Or(left, right):
                return self.evaluate(left) | self.evaluate(right)
            case Upstream(child, depth):
                return _traverse(dag, self.evaluate(child), depth, upstream=True)
            case Downstream(child, depth):
                return _traverse(dag, self.evaluate(child), depth, upstream=False)
            case Roots(child):
                inner = self.evaluate(child)
                return {key for key in inner if not (_ancestors(dag, key) & inner)}
            case Sinks(child):
                inner = self.evaluate(child)
                return {key for key in inner if not (_descendants(dag, key) & inner)}
        raise TypeError(f"not a selection: {selection!r}")


def _missing_names(dag: SelectableGraph, selection: Selection) -> str:
    """Name the wildcard-free keys, groups and tags that no asset has, with close matches:
    likely typos (``fact_sale``, ``group:mart``, ``tag:layer=mart``)."""
    known = [str(node) for node in dag.nodes]
    groups = sorted({str(group) for _, group in dag.nodes(data="group") if group})
    tags = sorted(
        {
            _tag_text(k, v)
            for _, node_tags in dag.nodes(data="tags")
            for k, v in (node_tags or {}).items()
        }
    )
    notes: list[str] = []
    for node in _walk(selection):
        match node:
            case KeyPattern(pattern) if "*" not in pattern and pattern not in dag:
                note = f"there is no asset named {pattern!r}{_closest_keys(pattern, known)}"
            case Group(name) if name and "*" not in name and name not in groups:
                note = f"there is no group named {name!r}{did_you_mean(name, groups)}"
            case Tag(key, value) if _tag_text(key, value) not in tags:
                shown = f"{key}={value!r}" if value else key
                # Tags differ by their value only: the closest one, not three near-identical.
                note = f"no asset has tag {shown}{did_you_mean(_tag_text(key, value), tags, n=1)}"
            case _:
                continue
        if note not in notes:
            notes.append(note)
    return "; ".join(notes)


def _closest_keys(typed: str, known: Sequence[str], shown: int = 3) -> str:
    """``"; did you mean ...?"``: close names (``fact_sale``: fact_sales), else, for a
    name that begins several keys and is unfinished (``hub_``) or close to none
    (``dim``), the wildcard that selects them."""
    close = did_you_mean(typed, known)
    begun = sorted(key for key in known if key.startswith(typed))
    if len(begun) < 2 or (close and not typed.endswith("_")):
        return close
    more = ", ..." if len(begun) > shown else ""
    return f"; did you mean {typed}* ({', '.join(begun[:shown])}{more})?"


def _tag_text(key: str, value: str) -> str:
    return f"{key}={value}" if value else key


def uses_status(selection: Selection) -> bool:
    """Whether evaluating ``selection`` needs the assets' states."""
    return any(isinstance(node, Status) for node in _walk(selection))


def select_keys(
    dag: SelectableGraph, expression: str, states: StateProvider | None = None
) -> frozenset[str]:
    """The asset keys of ``dag`` that ``expression`` selects, as Dagster resolves it.

    ``dag`` has asset keys as nodes (attributes ``group: str`` and ``tags: dict``) and
    edges from upstream to downstream. A bare name is ``key:NAME`` (the one deliberate
    difference from Dagster, see the module docstring). ``states`` gives each asset's
    state for ``status:`` (called at most once, and only if the expression uses it).

    Raises :class:`SelectionSyntaxError` for invalid syntax and :class:`EmptySelectionError`
    when nothing matches, naming any key that is not an asset. An expression with
    ``status:`` may select nothing: "nothing is stale" is an answer, not a mistake.
    """
    selection = parse_selection(expression)
    try:
        selected = _Evaluator(dag, expression, states).evaluate(selection)
    except RecursionError:
        raise SelectionSyntaxError(
            expression, 0, "the expression has too many terms to evaluate"
        ) from None
    if not selected:
        missing = _missing_names(dag, selection)
        if missing or not uses_status(selection):
            raise EmptySelectionError(expression, missing)
    return frozenset(selected)
