"""Help and usage errors for people and for pipes.

On a terminal Typer's Rich help (panels, colours) is easy to read. Piped or redirected
it is not: Rich still draws its boxes, at 80 columns, cutting help texts short
(``'+key:sales_summa…``), so ``pipeline --help | grep`` finds half-lines between ``│``.
There the help is Click's plain text instead: one option per line, texts whole
(:class:`HelpGroup` keeps each command's summary whole too). A usage
error likewise keeps Click's usage and hint on a terminal and is one line in a pipe or
a log, like every other error of the command; a mistake that names the command line
meant (:mod:`orchestration.argument_mistakes`) is that one line on a terminal too.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import typer
from rich.console import Console
from typer.core import TyperGroup

from orchestration.argument_mistakes import (
    SAID_ALONE,
    URLS_SHOWN,
    check_before_parsing,
    option_named,
    shown_argument,
)

#: Typer's ``rich_markup_mode``: ``None`` gives Click's plain help. The texts are plain
#: either way; "markdown" rather than "rich" because Rich markup would eat
#: ``[tool.pipeline]``.
HelpMarkup = Literal["markdown"] | None


#: Narrowest terminal Rich's help panels are used on. Their option, short option and
#: type columns take some 50 columns whatever the width: at 80 they left the descriptions
#: an 18-column slice and cut values (``PIPELINE_DEFINITI…``); at 100, 38 columns, so
#: ``materialize --help`` took 73 lines where Click's plain help, whose descriptions
#: start at column 30 whatever the width, takes 53. From 120 every command's panels take
#: no more lines than its plain help, and fewer as the terminal widens.
RICH_HELP_MIN_WIDTH = 120


def help_markup(stdout: Console) -> HelpMarkup:
    """Rich help only where a person reads it: on a terminal (as Rich decides, so
    ``FORCE_COLOR`` and friends count the same as for the command's tables) at least
    :data:`RICH_HELP_MIN_WIDTH` columns wide."""
    return "markdown" if stdout.is_terminal and stdout.width >= RICH_HELP_MIN_WIDTH else None


#: Typer 0.29 checks option values with pydantic, which starts its message so; it says
#: nothing to a reader of ``Invalid value for '--format': 'svg' is not one of ...``.
_PYDANTIC_PREFIX = "Value error, "


def report_usage_error(exc: typer.TyperException, stderr: Console) -> None:
    """Say what was wrong with the command line: Click's usage, hint and error on a
    terminal; piped, or a mistake whose line says what was meant
    (:mod:`orchestration.argument_mistakes`), one line naming the error and where the
    help is."""
    said = getattr(exc, "message", None)
    if isinstance(said, str) and said.startswith(_PYDANTIC_PREFIX):
        exc.message = said.removeprefix(_PYDANTIC_PREFIX)
    show = getattr(exc, "show", None)
    shows_usage = stderr.is_terminal and not getattr(exc, SAID_ALONE, False)
    if show is not None and (shows_usage or _is_help(exc)):
        show()
        return
    format_message = getattr(exc, "format_message", None)
    message = format_message() if format_message is not None else str(exc)
    line = f"error: {' '.join(message.split())}"
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        line = f"{line.removesuffix('.')} (see '{ctx.command_path} {ctx.help_option_names[0]}')"
    stderr.print(line, markup=False, highlight=False, soft_wrap=True)


def _is_help(exc: typer.TyperException) -> bool:
    """Whether the "error" is the help of a group run without its command (Click's
    ``NoArgsIsHelpError``, in a module Typer keeps private): it is shown whole."""
    return any(kind.__name__ == "NoArgsIsHelpError" for kind in type(exc).__mro__)


class HelpGroup(TyperGroup):
    """A command group whose plain help gives each command's summary whole, wrapped.

    Click cuts a summary to what fits beside the name on one line ("List assets in
    dependency order with their group, table,..."), so a ``grep`` for what a command does
    can miss; the Rich help on a terminal shows it whole, and now so does the plain one.
    Its own options are checked for mistakes before Click parses them, as each command's
    are (:class:`~orchestration.argument_mistakes.MistakeCheckedCommand`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in [self, *self.commands.values()]:
            _flags_take_no_value(command)
            _usage_errors_name_their_command(command)

    # ``Any``: Click's types live in a module Typer keeps private (``typer._click``).
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        check_before_parsing(self, ctx, args)
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _flags_take_no_value(command: Any) -> None:
    """Show a flag as a flag in the Rich help: Typer labels each option with its type, so
    ``--allow-external <bool>`` and ``--help <bool>`` read as options taking a value
    (``--allow-external true`` is then "unexpected extra argument"). An empty metavar is
    no label; Click's plain help never labels a flag. The help option is made here, as
    Click would make it on first use, so that it is labelled the same way."""
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, help_option]:
        if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def _usage_errors_name_their_command(command: Any) -> None:
    """Give a usage error raised while parsing the command's arguments its context.

    Click's parser raises some (``Option '--select' requires an argument``) before the
    error knows its command: piped it then lacked the help hint every other usage error
    has, and on a terminal the usage lines. The context is the command's own, the one
    Click itself sets on the errors it raises later.
    """
    parse_args = command.parse_args

    def parse_args_in_context(ctx: Any, args: list[str]) -> list[str]:
        try:
            return parse_args(ctx, args)
        except typer.TyperException as exc:  # Click's UsageError, in Typer's private copy
            if getattr(exc, "ctx", False) is None:  # a usage error not yet in context
                exc.ctx = ctx  # type: ignore[attr-defined]
                exc.cmd = ctx.command  # type: ignore[attr-defined]
            raise

    command.parse_args = parse_args_in_context


def say_where_an_option_goes(exc: typer.TyperException, args: list[str]) -> None:
    """Turn ``No such option`` for a sub-command's own option written before it
    (``pipeline --select x list``) into the command line that works, in one line:
    ``--select goes after the command: pipeline list --select x``, its URLs without their
    secrets. The error then belongs to that command, so its usage and help hint are the
    ones shown. Any other error, or a command line this cannot rewrite whole, is left as
    it is."""
    option = getattr(exc, "option_name", None)
    ctx: Any = getattr(exc, "ctx", None)
    if not isinstance(option, str) or ctx is None:
        return
    if ctx.parent is not None:  # an unknown option of a sub-command
        _say_it_goes_before(exc, option, ctx, args)
        return
    group = ctx.command
    for at, name in enumerate(args):
        command = getattr(group, "commands", {}).get(name)
        if command is None:
            continue
        moved = _split_before(args[:at], group, command)
        if moved is None:
            continue
        import shlex  # only on this error path

        kept, taken = moved
        words = [ctx.command_path, *kept, name, *taken, *args[at + 1 :]]
        shown = [shown_argument(word) for word in words]
        exc.message = f"{option} goes after the command: {shlex.join(shown)}"
        if shown != words:
            exc.message += f" {URLS_SHOWN}"
        exc.possibilities = None  # type: ignore[attr-defined]
        exc.ctx = typer.Context(command, info_name=name, parent=ctx)  # type: ignore[attr-defined]
        exc.cmd = command  # type: ignore[attr-defined]
        return


def _say_it_goes_before(exc: typer.TyperException, option: str, ctx: Any, args: list[str]) -> None:
    """Turn ``No such option`` for a global option written after a command that takes
    none (``pipeline server status --warehouse X``: the server holds no warehouse) into
    the command line that works, the option before the command, where such a command
    ignores it as it ignores the environment variable: a script may give every command
    the same options. The commands that read assets take them after the command too
    (:mod:`orchestration.cli_options`). Any other option is left as it is."""
    root = ctx.find_root()
    param = option_named(root.command, option)
    if param is None:
        return
    at = max((at for at, word in enumerate(args) if word.partition("=")[0] == option), default=-1)
    if at < 0:
        return
    taken = 1 if param.is_flag or "=" in args[at] else 2
    if at + taken > len(args):
        return
    import shlex  # only on this error path

    words = [root.command_path, *args[at : at + taken], *args[:at], *args[at + taken :]]
    shown = [shown_argument(word) for word in words]
    command = ctx.command_path.removeprefix(f"{root.command_path} ")
    exc.message = f"{option} goes before the command, where {command} ignores it: "
    exc.message += shlex.join(shown)
    if shown != words:
        exc.message += f" {URLS_SHOWN}"
    exc.possibilities = None  # type: ignore[attr-defined]


def _split_before(args: list[str], group: Any, command: Any) -> tuple[list[str], list[str]] | None:
    """The arguments before ``command`` split into the group's options (which stay) and
    the command's own (which move after it), each with its value; ``None`` when one of
    them belongs to neither."""
    kept: list[str] = []
    taken: list[str] = []
    at = 0
    while at < len(args):
        flag, equals, _ = args[at].partition("=")  # "--select=x" carries its value
        into = kept if option_named(group, flag) is not None else taken
        param = option_named(group, flag) or option_named(command, flag)
        if param is None:
            return None
        into.append(args[at])
        at += 1
        if not (param.is_flag or param.count or equals):  # its value is the next argument
            if at == len(args):
                return None
            into.append(args[at])
            at += 1
    return kept, taken
