"""A Pandera regex check written for ClickHouse's ``match()`` (RE2), with Python's meaning.

Pandera runs ``str_matches`` and ``str_contains`` with Python's ``re``; validation runs
them inside ClickHouse, whose ``match()`` is RE2. The same text means different things
there: ClickHouse's ``.`` matches a newline, its ``$`` does not match before a final
newline, its ``\\d`` is ASCII-only; a compiled pattern's flags are not in its text; and
RE2 has no look-arounds, back-references, atomic groups or possessive repeats. Passing the
text through would make a check pass in the warehouse that fails in Pandera, or fail a
valid asset with an RE2 syntax error.

So the pattern is read by Python's own regex parser (``re._parser``, what ``re.compile``
runs) and written out again construct by construct in RE2 syntax, each with
Python's meaning (``.`` as ``[^\\n]``, ``\\d`` as ``\\p{Nd}``, a final ``$`` as
``\\n?\\z``, ``\\s`` as the characters ``str.isspace()`` accepts). A construct RE2
cannot say exactly (Unicode ``\\w``/``\\b``, ``\\S`` joined to other characters,
case-insensitive or multi-line matching, ...) gives ``None``: the check then runs in
Pandera, on the staged table, instead of being approximated.
"""

from __future__ import annotations

import functools
import re
from re import _constants as sre  # type: ignore[attr-defined]  # private, stable 3.11-3.13
from re import _parser  # type: ignore[attr-defined]
from typing import Any

#: Flags that change nothing RE2 must know (VERBOSE only affects reading the text) or
#: that the writer below carries (ASCII, DOTALL). Any other flag: no RE2 equivalent.
_CARRIED_FLAGS = re.UNICODE | re.ASCII | re.VERBOSE | re.DOTALL
#: RE2's largest counted repetition.
_RE2_MAX_REPEAT = 1000
#: What Python's ``\s`` matches, by ASCII mode: ``str.isspace()``'s characters (the test
#: checks this list against the running Python) or the six ASCII ones.
_SPACES = {
    False: "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
    True: "\t\n\x0b\x0c\r ",
}
#: Character classes by (category, ASCII mode): RE2 text valid inside ``[...]``.
_CLASSES = {
    # Python's Unicode \d is category Nd; the engine's Unicode tables may be newer than the
    # running Python's and know a few more digits (scripts added since): accepted as close.
    (sre.CATEGORY_DIGIT, False): r"\p{Nd}",
    (sre.CATEGORY_NOT_DIGIT, False): r"\P{Nd}",
    (sre.CATEGORY_DIGIT, True): r"0-9",
    (sre.CATEGORY_NOT_DIGIT, True): r"\D",  # RE2's \D: anything but 0-9, as with re.ASCII
    (sre.CATEGORY_WORD, True): r"0-9A-Za-z_",
    (sre.CATEGORY_NOT_WORD, True): r"\W",
}
_ASCII_BOUNDARIES = {sre.AT_BOUNDARY: r"\b", sre.AT_NON_BOUNDARY: r"\B"}


class _NotExpressible(Exception):
    """A construct RE2 cannot say with Python's meaning."""


def re2_pattern(pattern: str | re.Pattern[str], *, anchored: bool) -> str | None:
    """``pattern`` as RE2 text with Python's meaning, or ``None`` if RE2 cannot say it.

    ``anchored``: match at the start only, as ``re.match`` (``str_matches``) does; else
    anywhere, as ``re.search`` (``str_contains``).
    """
    if isinstance(pattern, re.Pattern):
        text, flags = pattern.pattern, pattern.flags
    else:
        text, flags = pattern, 0
    if not isinstance(text, str):
        return None  # a bytes pattern: not what a string column holds
    try:
        parsed = _parser.parse(text, flags)
        body = _sequence(list(parsed), parsed.state.flags, tail=True)
    except (re.error, _NotExpressible):
        return None
    return rf"\A(?:{body})" if anchored else body


def _sequence(items: list[tuple[Any, Any]], flags: int, *, tail: bool) -> str:
    if flags & ~_CARRIED_FLAGS:
        raise _NotExpressible
    last = len(items) - 1
    return "".join(
        _item(op, av, flags, tail=tail and i == last) for i, (op, av) in enumerate(items)
    )


def _item(op: Any, av: Any, flags: int, *, tail: bool) -> str:
    ascii_mode = bool(flags & re.ASCII)
    if op is sre.LITERAL:
        return _char(av)
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is sre.ANY:
        return r"(?s:.)" if flags & re.DOTALL else r"[^\n]"
    if op is sre.IN:
        return _class(av, ascii_mode)
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        low, high, inner = av
        if low > _RE2_MAX_REPEAT or (high is not sre.MAXREPEAT and high > _RE2_MAX_REPEAT):
            raise _NotExpressible
        count = f"{{{low},}}" if high is sre.MAXREPEAT else f"{{{low},{high}}}"
        lazy = "?" if op is sre.MIN_REPEAT else ""
        return f"(?:{_sequence(list(inner), flags, tail=False)}){count}{lazy}"
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, inner = av
        return f"(?:{_sequence(list(inner), (flags | add_flags) & ~del_flags, tail=tail)})"
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(list(b), flags, tail=tail) for b in av[1]) + ")"
    if op is sre.AT:
        return _position(av, ascii_mode, tail=tail)
    # Look-arounds, back-references, conditionals, atomic groups, possessive repeats.
    raise _NotExpressible


def _position(at: Any, ascii_mode: bool, *, tail: bool) -> str:
    if at in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
        return r"\A"
    if at is sre.AT_END_STRING:
        return r"\z"
    if at is sre.AT_END and tail:
        # Python's $: the end, or just before a final newline. Nothing follows it here,
        # so taking that newline changes no answer.
        return r"\n?\z"
    if ascii_mode and at in _ASCII_BOUNDARIES:
        return _ASCII_BOUNDARIES[at]
    raise _NotExpressible


def _class(items: list[tuple[Any, Any]], ascii_mode: bool) -> str:
    negate = bool(items) and items[0][0] is sre.NEGATE
    members = items[1:] if negate else items
    if members == [(sre.CATEGORY, sre.CATEGORY_NOT_SPACE)]:
        # \S alone (or [^\S]): the spaces' complement, which RE2 cannot join to others.
        spaces = _spaces(ascii_mode)
        return f"[{spaces}]" if negate else f"[^{spaces}]"
    parts = []
    for op, av in members:
        if op is sre.LITERAL:
            parts.append(_char(av))
        elif op is sre.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is sre.CATEGORY and av is sre.CATEGORY_SPACE:
            parts.append(_spaces(ascii_mode))
        elif op is sre.CATEGORY and (av, ascii_mode) in _CLASSES:
            parts.append(_CLASSES[(av, ascii_mode)])
        else:
            raise _NotExpressible
    return f"[{'^' if negate else ''}{''.join(parts)}]"


@functools.cache
def _spaces(ascii_mode: bool) -> str:
    """Python's ``\\s`` as the members of an RE2 class."""
    return "".join(_char(ord(space)) for space in _SPACES[ascii_mode])


def _char(code: int) -> str:
    """One character, literal in RE2 inside and outside ``[...]``."""
    character = chr(code)
    if character.isascii() and (character.isalnum() or character == "_"):
        return character
    return f"\\x{{{code:X}}}"
