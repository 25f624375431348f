"""Record Dagster's answers to random asset selections, to check ours against them.

``orchestration/selection.py`` promises the same answer as Dagster's
``AssetSelection.from_string(expression).resolve(asset_graph)``, with one deliberate
difference: a bare name means ``key:NAME`` everywhere (``fact_sales+`` is the asset and
all its descendants), where Dagster falls back to its legacy clause syntax (``+`` one
level, only as the whole expression). The project must not depend on Dagster, so this
script runs in a throwaway virtualenv, builds several random asset graphs (random keys,
groups, tags; 8-30 assets each) as Dagster assets, generates random expressions over
them (every operator, depth limits, nested parentheses, ``not``, wildcards, bare names
and bare wildcards, group/tag intersections, ``roots``/``sinks`` and syntax errors) and
writes each graph, expression and Dagster's answer to
``tests/fixtures/dagster_selection.json``. ``tests/test_selection_dagster.py`` replays
the file against our implementation with the project venv (no Dagster).

Each case holds ``expression`` (what a user of this project types) and
``dagster_expression``: the same text with ``key:`` written before every bare name, which
is what Dagster was asked. The generator knows where it put bare names (it writes them
with a marker), so the rewrite does not depend on our parser; for an expression without
bare names the two are equal. The script fails if Dagster ever answers through its legacy
clause fallback, since that answer would not be comparable.

An answer is either ``"result"``: the sorted selected keys (possibly empty), or
``"error": "syntax"`` (Dagster rejects the string).

Usage (from the repository root; the seed makes the output reproducible for a given
Dagster version, which is recorded in the fixture)::

    python3.11 -m venv /tmp/dagster-venv
    /tmp/dagster-venv/bin/pip install dagster
    /tmp/dagster-venv/bin/python scripts/dagster_selection_fixture.py \\
        [--seed 20240601] [--graphs 8] [--per-graph 60] \\
        [--output tests/fixtures/dagster_selection.json]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

warnings.filterwarnings("ignore")

try:
    import dagster as dg
    from dagster._check import CheckError
    from dagster._core.definitions.antlr_asset_selection.antlr_asset_selection import (
        AntlrAssetSelectionParser,
    )
    from dagster._core.definitions.asset_selection import (
        AssetSelection,
        DagsterInvalidAssetSelectionError,
    )
    from dagster._core.definitions.assets.graph.asset_graph import AssetGraph as DagsterGraph
    from dagster._core.selector.subset_selector import parse_clause
except ImportError as error:  # pragma: no cover - guidance for the wrong interpreter
    sys.exit(
        f"this script needs dagster ({error}); run it with a throwaway venv, see the "
        "module docstring: /tmp/dagster-venv/bin/python scripts/dagster_selection_fixture.py"
    )

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "tests/fixtures/dagster_selection.json"

_PREFIXES = ["raw_", "psa_", "stg_", "hub_", "sat_", "link_", "fact_", "dim_", "agg_", ""]
_STEMS = ["orders", "invoice", "invoice_line", "product", "customer", "sales", "country",
          "stock", "returns", "summary", "daily", "items"]  # fmt: skip
# Names that probe the lexer: keywords, and identifiers that merely start with one.
_SPECIAL_KEYS = ["job", "order", "notes", "android", "key_metrics", "roots_table", "tagged",
                 "sensor", "group_stats", "ANDROID", "x1", "_private"]  # fmt: skip
_GROUPS = ["raw", "vault", "marts", "mart_extra", "quality", "metrics", "default"]
_TAG_KEYS = ["layer", "domain", "tier", "pii", "team"]
# "" is a key-only tag (what `tag:K` matches); the others need quotes or Dagster's
# legacy fallback, which takes the rest of the string verbatim.
_TAG_VALUES = ["raw", "vault", "marts", "gold", "silver", "sales", "", "1", "v1.0", "data-eng"]
_IDENTIFIER_VALUE = set(string.ascii_letters + string.digits + "_")
_KEYWORD_KEYS = {"job", "sensor"}
# Written before each bare name in generated text; never part of a key or an operator.
BARE = "@"


def render(template: str) -> tuple[str, str]:
    """(expression as typed here, the expression Dagster is asked: key: before bare names)."""
    return template.replace(BARE, ""), template.replace(BARE, "key:")


@dataclass
class Graph:
    nodes: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "nodes": [
                {"key": key, "group": group, "tags": tags}
                for key, (group, tags) in self.nodes.items()
            ],
            "edges": [list(edge) for edge in self.edges],
        }


def random_graph(rng: random.Random) -> Graph:
    graph = Graph()
    size = rng.randint(8, 30)
    groups = rng.sample(_GROUPS, rng.randint(2, 4))
    keys: list[str] = []
    while len(keys) < size:
        if rng.random() < 0.12:
            key = rng.choice(_SPECIAL_KEYS)
        else:
            key = rng.choice(_PREFIXES) + rng.choice(_STEMS)
        if key not in keys:
            keys.append(key)
    rng.shuffle(keys)
    for index, key in enumerate(keys):
        tags = {}
        for tag_key in rng.sample(_TAG_KEYS, rng.choice([0, 1, 1, 2, 3])):
            tags[tag_key] = rng.choice(_TAG_VALUES)
        graph.nodes[key] = (rng.choice(groups), tags)
        if index and rng.random() < 0.85:
            window = keys[max(0, index - 8) : index]
            for parent in rng.sample(window, min(len(window), rng.choice([1, 1, 2, 2, 3]))):
                graph.edges.append((parent, key))
    return graph


def dagster_graph(graph: Graph) -> DagsterGraph:
    deps: dict[str, list[str]] = {key: [] for key in graph.nodes}
    for upstream, downstream in graph.edges:
        deps[downstream].append(upstream)
    specs = [
        dg.AssetSpec(key, deps=deps[key], group_name=group, tags=tags)
        for key, (group, tags) in graph.nodes.items()
    ]

    @dg.multi_asset(specs=specs, name="all_assets")
    def all_assets():
        raise NotImplementedError("only resolved, never run")

    return DagsterGraph.from_assets([all_assets])


def _grammar_accepts(expression: str) -> bool:
    try:
        AntlrAssetSelectionParser(expression)
    except Exception:  # Dagster's ANTLR error listener raises a bare Exception
        return False
    return True


def dagster_answer(asset_graph: DagsterGraph, expression: str) -> dict:
    """Dagster's answer; refuses expressions it would read with its legacy clause syntax."""
    if not _grammar_accepts(expression) and parse_clause(expression) is not None:
        raise SystemExit(
            f"generator bug: Dagster reads {expression!r} with its legacy clause syntax, "
            f"which this project does not follow; mark its bare names with {BARE!r}"
        )
    try:
        keys = AssetSelection.from_string(expression).resolve(asset_graph)
    except (DagsterInvalidAssetSelectionError, CheckError):
        return {"error": "syntax"}
    return {"result": sorted(key.to_user_string() for key in keys)}


class ExpressionGenerator:
    """Random expressions in Dagster's grammar plus bare names, with varied spacing and case.

    Bare names are written as ``BARE + name``; :func:`render` turns a template into the
    user's expression and Dagster's equivalent.
    """

    def __init__(self, rng: random.Random, graph: Graph) -> None:
        self.rng = rng
        self.graph = graph
        self.keys = list(graph.nodes)
        self.groups = sorted({group for group, _ in graph.nodes.values()})
        self.tags = sorted({(k, v) for _, tags in graph.nodes.values() for k, v in tags.items()})

    def _space(self) -> str:
        return self.rng.choice(["", "", " ", "  "])

    def _word(self, word: str) -> str:
        return word.upper() if self.rng.random() < 0.15 else word

    def _value(self, value: str) -> str:
        if value and set(value) <= _IDENTIFIER_VALUE and not value[0].isdigit():
            return value if self.rng.random() < 0.8 else f'"{value}"'
        return f'"{value}"'

    def attribute(self) -> str:
        rng = self.rng
        colon = ":" if rng.random() < 0.9 else " : "
        roll = rng.random()
        key = rng.choice(self.keys)
        cut = rng.randint(1, max(1, len(key) - 1))
        if roll < 0.17:
            value = key if key not in _KEYWORD_KEYS else f'"{key}"'
            return f"key{colon}{value}"
        if roll < 0.20:
            return f'key{colon}"{key}"'
        if roll < 0.28:
            return rng.choice(
                [f"key{colon}{key[:cut]}*", f"key{colon}*{key[cut:]}", f'key{colon}"{key[:cut]}*"']
            )
        if roll < 0.30:
            return f"key{colon}{rng.choice(['missing_asset', 'hub_nothing*'])}"
        if roll < 0.42:
            # A keyword cannot stand bare (as in key:job); the edge cases probe that.
            return f"{BARE}{key}" if key not in _KEYWORD_KEYS else f'key:"{key}"'
        if roll < 0.49:
            return rng.choice([f"{BARE}{key[:cut]}*", f"{BARE}*{key[cut:]}"])
        if roll < 0.51:
            return f"{BARE}{rng.choice(['missing_asset', 'hub_nothing*'])}"
        if roll < 0.65:
            return f"group{colon}{rng.choice(self.groups)}"
        if roll < 0.68:
            return f'group{colon}"{rng.choice(self.groups)[:2]}*"'
        if self.tags and roll < 0.95:
            tag_key, tag_value = rng.choice(self.tags)
            if tag_value == "" and rng.random() < 0.7:
                return f"tag{colon}{tag_key}"
            return f"tag{colon}{self._value(tag_key)}={self._value(tag_value)}"
        return f"tag{colon}{rng.choice(_TAG_KEYS)}"

    def operand(self, depth: int) -> str:
        rng = self.rng
        roll = rng.random()
        if depth > 0 and roll < 0.15:
            function = rng.choice(["roots", "sinks"])
            return (
                f"{function}{self._space()}({self._space()}{self.expr(depth - 1)}{self._space()})"
            )
        if depth > 0 and roll < 0.35:
            return f"({self._space()}{self.expr(depth - 1)}{self._space()})"
        return self.attribute()

    def traversal(self, depth: int) -> str:
        rng = self.rng
        if rng.random() < 0.06:
            return "*"
        text = self.operand(depth)
        if rng.random() < 0.3:
            digits = str(rng.choice([0, 1, 1, 2, 3])) if rng.random() < 0.5 else ""
            text = f"{digits}+{self._space()}{text}"
        if rng.random() < 0.3:
            digits = str(rng.choice([0, 1, 1, 2, 3])) if rng.random() < 0.5 else ""
            text = f"{text}{self._space()}+{digits}"
        return text

    def unary(self, depth: int) -> str:
        if self.rng.random() < 0.2:
            separator = " " if self.rng.random() < 0.8 else ""
            inner = self.unary(depth)
            if not separator and not inner.startswith("("):
                separator = " "
            return f"{self._word('not')}{separator}{inner}"
        return self.traversal(depth)

    def expr(self, depth: int = 3) -> str:
        text = self.unary(depth)
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3])):
            operator = self._word(self.rng.choice(["and", "or", "or"]))
            text = f"{text} {operator} {self.unary(depth)}"
        return text

    def edge_cases(self) -> list[str]:
        """Hand-picked shapes: bare names, fallbacks, precedence and syntax errors."""
        rng = self.rng
        # Bare names must be identifiers that are not keywords (job and sensor are).
        names = [key for key in self.keys if key not in _KEYWORD_KEYS]
        a, b, c = (rng.choice(names) for _ in range(3))
        tag_key, tag_value = rng.choice(self.tags) if self.tags else ("layer", "marts")
        group = rng.choice(self.groups)
        x = BARE
        cases = [
            # Bare names: key:NAME wherever an attribute may stand.
            f"{x}{a}", f"{x}{a}+", f"+{x}{a}", f"{x}{a}+1", f"2+{x}{a}", f"1+{x}{a}+1",
            f"+{x}{a}+", f"  {x}{a}+ ", f"{x}{a} +", f"{x}{a}+0", f"0+{x}{a}",
            f"{x}*{a}", f"{x}{a}*", f"{x}*{a}*", f"{x}{a[:3]}*", f"{x}**", f"{x}{a}*+",
            f"+{x}*{a[-3:]}", f"{x}missing_asset", f"{x}missing_asset+",
            f"{x}{a}+ and group:{group}", f"not {x}{a}", f"not {x}{a}+",
            f"{x}{a} or {x}{b} and {x}{c}", f"({x}{a} or {x}{b})+1",
            f"({x}{a} or {x}{b}) and {x}{c}",
            f"roots({x}{a}+)", f"sinks(+{x}{a})", f"{x}{a} or key:{b}", f"{x}{a} or(tag:{tag_key})",
            f"{x}{a}++", f"++{x}{a}", f"{x}{a}+2+{x}{b}", f"{x}{a} {x}{b}", f'"{a}"', f'"{a}"+',
            f"{x}{a}-x", f"* {x}{a}", f"{x}{a} And {x}{b}",
            f"{x}job", f"{x}job+", f"{x}key", f"{x}roots", f"{x}sensor or {x}{a}",
            f"not {x}notes", f"{x}order or {x}ANDROID", f"{x}{a}, {x}{b}",
            # Dagster's own grammar.
            f"key:{a}", f"key:{a}+", f"+key:{a}", f"key:{a}+1", f"2+key:{a}", f"1+key:{a}+1",
            f"key:{a}+0", f"0+key:{a}", f"not key:{a} and key:{b}", f"not key:{a} or key:{b}",
            f"key:{a} or key:{b} and key:{c}", f"(key:{a} or key:{b}) and key:{c}",
            f"not (key:{a} or key:{b})", f"roots(key:{a}+)", f"sinks(+key:{a})",
            "sinks(roots(*)+)", "roots(*)", "sinks(*)", f"roots(group:{group})+1",
            "not roots(*) and not sinks(*)", f"group:{group} and not tag:{tag_key}",
            f"tag:{tag_key}={tag_value}", f"tag:{tag_key}={tag_value} or key:{a}",
            f"tag:{tag_key}=", f"tag:{tag_key}=<null>", f"tag:<null> or key:{a}",
            f"group:<null> or key:{a}", f'tag:"" or key:{a}', "tag:a=b=c",
            "*", "not *", "(*)+", f"key:{a}, key:{b}", f"key:{a} and", f"(key:{a}",
            f"key:{a})", "key:*", "group:*", f"++key:{a}", f"+not key:{a}",
            f"key:{a}+2+key:{b}", f"key:{a} And key:{b}", "", "   ", "roots()",
            f"key:{a}-x", f'key:"{a}', f"notkey:{a}", f"key:{a} or(key:{b})and(key:{c})",
        ]  # fmt: skip
        return cases


def build_fixture(seed: int, graphs: int, per_graph: int) -> dict:
    rng = random.Random(seed)
    fixture: dict = {
        "generator": "scripts/dagster_selection_fixture.py",
        "dagster_version": dg.__version__,
        "seed": seed,
        "graphs": [],
        "cases": [],
    }
    for graph_index in range(graphs):
        graph = random_graph(rng)
        asset_graph = dagster_graph(graph)
        fixture["graphs"].append(graph.to_json())
        generator = ExpressionGenerator(rng, graph)
        cases: dict[str, dict] = {}
        for template in generator.edge_cases():
            expression, dagster_expression = render(template)
            if expression not in cases:
                cases[expression] = {
                    "dagster_expression": dagster_expression,
                    **dagster_answer(asset_graph, dagster_expression),
                }
        accepted = 0
        while accepted < per_graph:
            expression, dagster_expression = render(generator.expr(rng.choice([1, 2, 3])))
            if expression in cases:
                continue
            answer = dagster_answer(asset_graph, dagster_expression)
            # Empty answers are cheap to hit by chance; keep only some so most cases
            # compare real key sets.
            if answer.get("result") == [] and rng.random() < 0.7:
                continue
            cases[expression] = {"dagster_expression": dagster_expression, **answer}
            accepted += 1
        fixture["cases"].extend(
            {"graph": graph_index, "expression": expression, **answer}
            for expression, answer in cases.items()
        )
    return fixture


def _dump(fixture: dict) -> str:
    """JSON with one graph or case per line: small, and a regeneration diffs readably."""
    header = {k: v for k, v in fixture.items() if k not in ("graphs", "cases")}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in header.items()]
    for name in ("graphs", "cases"):
        rows = ",\n".join(f"    {json.dumps(row)}" for row in fixture[name])
        lines.append(f'  "{name}": [\n{rows}\n  ]' + ("," if name == "graphs" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--graphs", type=int, default=8)
    parser.add_argument("--per-graph", type=int, default=60)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    fixture = build_fixture(args.seed, args.graphs, args.per_graph)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(_dump(fixture))
    cases = fixture["cases"]
    non_empty = sum(1 for case in cases if case.get("result"))
    errors = sum(1 for case in cases if "error" in case)
    bare = sum(1 for case in cases if case["expression"] != case["dagster_expression"])
    print(
        f"wrote {len(cases)} cases over {len(fixture['graphs'])} graphs to {args.output} "
        f"(dagster {fixture['dagster_version']}): {non_empty} non-empty results, "
        f"{len(cases) - non_empty - errors} empty, {errors} errors; "
        f"{bare} with bare names"
    )


if __name__ == "__main__":
    main()
