"""Command lines that Click reads, but not as the user meant: refused in one usage line.

Click lets an option that takes one value be given twice, the last one winning in
silence: ``pipeline materialize --select '+fact_sales' --select dim_time`` materialized
dim_time alone and exited 0. A selection where Click expects none got only "Got
unexpected extra argument(s)": one given without ``--select`` (``pipeline materialize
fact_sales+``), one with spaces left unquoted (``--select fact_sales+ or dim_time``), or
an unquoted ``*`` the shell turned into the working directory's file names (``--select
*``). :func:`refuse_mistakes` reads a command's arguments as Click will, before Click
does, and fails the command line (exit 2) with what was meant, and the command line that
says it when there is one: one ``error:`` line, on a terminal too, where Click's usage
block above it had nothing to add.

Every command of the app is a :class:`MistakeCheckedCommand` (each ``app.command`` is
given it as ``cls``) and every group a :class:`orchestration.usage.HelpGroup`: both check
the command line in their ``parse_args``, where Click starts reading it.

A value the line repeats is shown as any error shows it: a URL without its credentials
or query string (:func:`shown_argument`). ``Any`` stands for Click's types, which live
in a module Typer keeps private (``typer._click``).
"""

from __future__ import annotations

import copy
import os
import shlex
from typing import Any

import typer
from typer.core import TyperCommand

from orchestration.redaction import shown_source
from orchestration.run_report import quoted_selection
from orchestration.selection import SelectionSyntaxError, parse_selection

#: The parameter that holds an asset selection (``--select``, ``-s``) in every command.
SELECT = "select"
#: What a command line an error repeats adds when it hid a URL's secrets.
URLS_SHOWN = "(URLs shown without credentials or query string)"
#: How many of the file names an expanded ``*`` gave an error names.
NAMES_SHOWN = 3
#: Set (True) on the usage error of a mistake refused here: its line names what was
#: meant, so it is said alone on a terminal too, without Click's usage block
#: (:func:`orchestration.usage.report_usage_error`).
SAID_ALONE = "said_alone"


def check_before_parsing(command: Any, ctx: Any, args: list[str]) -> None:
    """Refuse a mistaken command line (:func:`refuse_mistakes`), unless it is shell
    completion's: that reads half-typed lines. Called by the ``parse_args`` of every
    command and group class of the app, before Click's own."""
    if not ctx.resilient_parsing:
        refuse_mistakes(command, ctx, args)


class MistakeCheckedCommand(TyperCommand):
    """A command that refuses a mistaken command line before Click parses it: the
    ``cls`` of every command of the app (a command without it let a second ``--select``
    win in silence)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        check_before_parsing(self, ctx, args)
        return super().parse_args(ctx, args)


def refuse_mistakes(command: Any, ctx: Any, args: list[str]) -> None:
    """Fail the command line when it gives a one-value option different values, or
    arguments the command takes none of that are a selection or file names. The same
    value twice means what it says and is let through; a command line Click refuses
    anyway is left to Click's own error, and one asking for ``--help`` gets the help."""
    parsed = _every_value(command, ctx, args)
    if parsed is None:
        return
    given, rest = parsed
    for param, values in given.items():
        if len(set(values)) > 1:
            _refuse(ctx, _repeated(param, values))
    if rest and not hasattr(command, "commands") and not ctx.allow_extra_args:
        line = _misplaced(command, ctx, args, given.get(_select_param(command), []), rest)
        if line is not None:
            _refuse(ctx, line)


def _refuse(ctx: Any, line: str) -> None:
    """Fail the command line with ``line``, a usage error (exit 2) said alone
    (:data:`SAID_ALONE`)."""
    try:
        ctx.fail(line)
    except typer.TyperException as error:  # Click's UsageError, in Typer's private copy
        setattr(error, SAID_ALONE, True)
        raise


def _every_value(
    command: Any, ctx: Any, args: list[str]
) -> tuple[dict[Any, list[Any]], list[str]] | None:
    """Each one-value option of ``command`` given on the command line with every value it
    was given, in order, and the arguments left over, as Click's own parser reads them
    (``--select=x``, ``-s x`` and ``--`` count as Click counts them); ``None`` when Click
    would refuse the command line anyway or it asks for the help."""
    help_option = command.get_help_option(ctx)  # made once, before the copy shares it
    probe = copy.copy(command)
    probe.params = [_keeping_every_value(param) for param in command.params]
    try:
        opts, rest, order = probe.make_parser(ctx).parse_args(args=list(args))
    except typer.TyperException:
        return None
    if help_option is not None and help_option in order:
        return None
    given = {
        param: list(opts[param.name])
        for param in command.params
        if _takes_one_value(param) and param.name in opts
    }
    return given, rest


def _takes_one_value(param: Any) -> bool:
    """Whether ``param`` is an option that keeps one value: neither a flag, a count, a
    list (``multiple``) nor a positional argument."""
    return getattr(param, "param_type_name", None) == "option" and not (
        param.is_flag or param.count or param.multiple
    )


def _keeping_every_value(param: Any) -> Any:
    """``param``, or for a one-value option a copy that keeps each value it is given."""
    if not _takes_one_value(param):
        return param
    every = copy.copy(param)
    every.multiple = True
    return every


def _select_param(command: Any) -> Any:
    """The ``--select`` option of ``command``, if it has one."""
    return next((param for param in command.params if param.name == SELECT), None)


def _repeated(param: Any, values: list[Any]) -> str:
    """The line for an option given ``values``: each named, and for ``--select`` the one
    selection of them all, their union."""
    shown = [repr(shown_argument(str(value))) for value in values]
    times = "twice" if len(values) == 2 else f"{len(values)} times"
    said = (
        f"{param.opts[0]} was given {times} ({', '.join(shown[:-1])} and {shown[-1]}), "
        "and only the last would count"
    )
    if param.name != SELECT:
        return f"{said}: give it once"
    union = " or ".join(dict.fromkeys(values))
    return f"{said}: to select them all, write --select {quoted_selection(union)}"


def _misplaced(
    command: Any, ctx: Any, args: list[str], selected: list[str], rest: list[str]
) -> str | None:
    """The line for arguments ``rest`` the command takes none of, when they are the file
    names an unquoted ``*`` became, or a selection (the rest of one after ``--select``);
    ``None`` for anything else, which Click's own error names."""
    if _select_param(command) is None:
        return None
    words = [*selected[-1:], *rest]
    if len(words) > 1 and all(os.path.lexists(word) for word in words):
        return (
            f"the shell expanded an unquoted * into the file names here ({_some(words)}): "
            f"quote the selection, as in {_with_selection(command, ctx, args, rest, '*')}"
        )
    expression = _selection_of(words)
    if expression is None:
        return None
    return (
        "selections go after --select, quoted: "
        f"{_with_selection(command, ctx, args, rest, expression)}"
    )


def _some(names: list[str]) -> str:
    """The first of ``names``, and how many more."""
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _selection_of(words: list[str]) -> str | None:
    """The selection ``words`` are: as typed, one word after the other (an unquoted
    ``fact_sales+ or dim_time``), else their union (names listed as dbt takes them, one
    word each); ``None`` when neither parses."""
    for joined in (" ".join(words), " or ".join(words)):
        try:
            parse_selection(joined)
        except SelectionSyntaxError:
            continue
        return joined
    return None


def _with_selection(
    command: Any, ctx: Any, args: list[str], rest: list[str], expression: str
) -> str:
    """The command line as given, with ``expression`` as its one ``--select`` in place
    of its selections and the arguments ``rest``: the options given before the command
    kept there, the URLs without their secrets."""
    words = [
        *_path_with_options(ctx.parent),
        ctx.info_name,
        *_without_selections(command, args, rest),
    ]
    shown = [shown_argument(word) for word in words]
    line = shlex.join(shown) + f" --select {quoted_selection(expression)}"
    return f"{line} {URLS_SHOWN}" if shown != words else line


def _path_with_options(ctx: Any) -> list[str]:
    """The command line up to the command ``ctx`` (a group's) runs: each group's name
    with the options given to it (``pipeline --definitions X``)."""
    if ctx is None:
        return []
    given: list[str] = []
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        value = ctx.params.get(param.name)
        if source is None or source.name != "COMMANDLINE" or value is None:
            continue
        if not param.is_flag:
            given += [param.opts[0], str(value)]
        elif value:
            given.append(param.opts[0])
    return [*_path_with_options(ctx.parent), ctx.info_name, *given]


def _without_selections(command: Any, args: list[str], rest: list[str]) -> list[str]:
    """``args`` without ``rest`` (the arguments the command takes none of, in order) and
    without its ``--select`` options, each with its value."""
    kept: list[str] = []
    left = list(rest)
    at = 0
    while at < len(args):
        flag, equals, _ = args[at].partition("=")  # "--select=x" carries its value
        param = option_named(command, flag)
        if param is None:  # an argument (or "--"): the rest's next, or the command's own
            if left and args[at] == left[0]:
                left.pop(0)
            elif args[at] != "--":
                kept.append(args[at])
            at += 1
            continue
        takes = not (param.is_flag or param.count or equals)
        if param.name != SELECT:
            kept += args[at : at + 1 + takes]
        at += 1 + takes
    return kept


def option_named(command: Any, flag: str) -> Any:
    """The option of ``command`` written ``flag`` (``--select``, ``-s``), if any."""
    return next(
        (
            param
            for param in command.params
            if flag in (*param.opts, *getattr(param, "secondary_opts", ()))
            and hasattr(param, "is_flag")
        ),
        None,
    )


def shown_argument(word: str) -> str:
    """``word`` of a command line as an error may repeat it: a URL (the ``--warehouse``
    or ``--source`` value, alone or after ``--option=``) without its credentials or query
    string, as anywhere else; errors reach CI logs."""
    flag, equals, value = word.partition("=")
    if equals and flag.startswith("-"):
        return f"{flag}={shown_source(value)}"
    return shown_source(word) or word
