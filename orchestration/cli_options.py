"""Options and set-up shared by the ``pipeline`` sub-commands."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from orchestration.context import (
    DISCARD_HISTORY_OPTION,
    MIN_SOURCE_TIMEOUT,
    SOURCE_TIMEOUT_OPTION,
    SOURCE_TIMEOUT_PARAM,
)
from orchestration.definitions import DEFINITIONS_ENV, Definitions, load_definitions
from orchestration.output import document_option
from orchestration.prefect_setup import connect_prefect
from orchestration.redaction import url_problem
from orchestration.synthetic_source import SYNTHETIC_FORM, is_synthetic, synthetic_parts
from orchestration.text_encoding import SOURCE_ENCODING_OPTION, codec_name
from orchestration.text_table import make_console
from orchestration.typed_options import remember

#: Where every command prints (stdout) and where errors go (stderr).
console = make_console()
error_console = make_console(stderr=True)
#: What every command adds to an error nobody foresaw (orchestration.errors).
DEBUG_HINT = "(run with --debug for the traceback)"
#: What materialize says when a status: selection leaves nothing to do.
NOTHING = "nothing to materialize"

SelectOption = Annotated[
    str | None,
    typer.Option(
        "--select",
        "-s",
        metavar="EXPR",
        help="Dagster asset selection, e.g. 'fact_sales+', 'group:vault', '+key:sales_summary' "
        "(README: Selecting assets).",
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print JSON for scripts: stdout holds only that document (what the code location "
        "prints goes to stderr).",
        callback=document_option,
    ),
]
#: ``--json`` of a command whose ``--format`` has a json choice (``query``, ``lineage``).
JsonFormatOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Same as --format json, as the other commands take it.",
        callback=document_option,
    ),
]
_Format = TypeVar("_Format", bound=StrEnum)


def format_or_json(ctx: typer.Context, chosen: _Format, as_json: bool, json: _Format) -> _Format:
    """``--format``'s choice, or ``json`` for ``--json``: scripts write the one flag every
    command that prints JSON takes. ``--json`` with another ``--format`` given is a usage
    error, not one of the two picked silently."""
    if not as_json:
        return chosen
    (name,) = (param.name for param in ctx.command.params if "--format" in param.opts)
    source = ctx.get_parameter_source(name or "")
    if chosen != json and source is not None and source.name == "COMMANDLINE":
        raise typer.BadParameter(
            f"it means --format {json}, but --format {chosen} was given too; pass one of them",
            param_hint="'--json'",
        )
    return json


def _or_given_before_the_command(
    ctx: typer.Context, param: typer.CallbackParam, value: str | None
) -> str | None:
    """The option's value: written after the sub-command, else written before it
    (``pipeline --definitions X list``, kept by the app's callback in the root context's
    ``obj``), else the environment's or the default. Before the command it means what the
    environment variable means, so a value given there for a command that has no use for
    it (``--warehouse`` for ``list``) is ignored as the variable would be. A value typed
    either way is remembered for the commands the CLI prints
    (:mod:`orchestration.typed_options`)."""
    name = param.name or ""
    source = ctx.get_parameter_source(name)
    if source is None or source.name != "COMMANDLINE":
        given = (ctx.find_root().obj or {}).get(name)
        if given is None:  # the environment's or the default: a copied command finds it too
            return value
        value = given
    if value is not None:  # typed: the commands the CLI prints carry it
        remember(param.opts[0], value)
    return value


def typed_for_the_rerun(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
    """The option's value, remembered when typed on the command line: a failed run's
    ``Next:`` line passes it on (``--concurrency``: a run kept to 1 for its memory reruns
    so; :func:`orchestration.report_output.rerun_command`)."""
    source = ctx.get_parameter_source(param.name or "")
    if source is not None and source.name == "COMMANDLINE" and value is not None:
        remember(param.opts[0], str(value))
    return value


def _text_encoding(value: str | None) -> str | None:
    """The encoding as given, once Python knows it: a typo fails the command line before
    any work, not the run's ingest asset minutes later."""
    if value is not None:
        try:
            codec_name(value)
        except LookupError as error:
            raise typer.BadParameter(f"{value!r}: {error}") from error
    return value


def source_encoding_option(used_for: str | None = None) -> Any:
    """``--source-encoding NAME``, one check for every command that takes it;
    ``used_for``, if given, says what a command that runs no asset does with it
    (``status`` and ``plan`` fingerprint the source read in it). Two or three lines at 80
    columns: which file needs which encoding, what Parquet and xlsx do and how assets get
    it (``context.params``), the README says."""
    role = f"; {used_for}" if used_for else ""
    return typer.Option(
        SOURCE_ENCODING_OPTION,
        metavar="NAME",
        help="CSV text encoding, e.g. latin-1 (default: $ONLINE_RETAIL_SOURCE_ENCODING, "
        f"else UTF-8){role} (README: Sources).",
        callback=_text_encoding,
    )


SourceEncodingOption = Annotated[str | None, source_encoding_option()]


#: What ``--source`` may be, as every command's help says it.
SOURCE_FORMS = f"a path, a URL, or {SYNTHETIC_FORM}"
#: What a run given no ``--source`` reads, as every command's help says it: a new user's
#: first run reads it, and must learn from ``--help`` how to read the real data instead.
#: The retail ingest decides it (``assets.sources``, which the framework may not import;
#: tests/test_cli_help.py holds the two to the same text).
SOURCE_DEFAULT = (
    "without it the retail ingest reads $ONLINE_RETAIL_DATA_URL, else synthetic:100000:42 "
    "(100,000 generated rows; README: The Online Retail pipeline)"
)


def _checked_source(value: str | None) -> str | None:
    """The source as given, once a generated one is well formed (``synthetic:abc`` fails
    the command line before any work, as a bad ``--source-encoding`` does) and a URL can
    be read (a password holding ``?`` cut short, said without repeating it); whether a
    file or a URL is there is no matter of form, and is checked when read."""
    if value is not None and is_synthetic(value):
        try:
            synthetic_parts(value)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
    if value is not None and "://" in value and (problem := url_problem(value, "the URL")):
        raise typer.BadParameter(problem)
    return value


def source_option(help_text: str) -> Any:
    """``--source SRC``, one check for every command that takes it (``materialize``,
    ``plan``, ``status``, ``serve``, ``validate --sample``); ``help_text`` says what the
    command reads it for."""
    return typer.Option(
        "--source", metavar="SRC", help=help_text, show_default=False, callback=_checked_source
    )


def source_timeout_option(reaching_the_assets: str) -> Any:
    """``--source-timeout SECONDS``, one check for ``materialize`` and ``serve`` (at least
    :data:`MIN_SOURCE_TIMEOUT`); ``reaching_the_assets`` ends its help: how the command
    hands it on."""
    return typer.Option(
        SOURCE_TIMEOUT_OPTION,
        metavar="SECONDS",
        min=MIN_SOURCE_TIMEOUT,
        help="Deadline for fetching the source, all retries included (the retail ingest "
        f"defaults to 600, or $ONLINE_RETAIL_SOURCE_TIMEOUT); {reaching_the_assets}.",
    )


SourceTimeoutOption = Annotated[
    float | None,
    source_timeout_option(f"passed to assets as context.params['{SOURCE_TIMEOUT_PARAM}']"),
]
DiscardHistoryOption = Annotated[
    bool,
    typer.Option(
        DISCARD_HISTORY_OPTION,
        help="With --full-refresh: rebuild insert-only tables (the vault) even where that "
        "drops rows only they keep, which no source may hold any more. Without it such a "
        "full refresh is refused before any work, naming each table and the rows it would "
        "lose.",
    ),
]


def confirmed_discard(discard_history: bool, full_refresh: bool) -> None:
    """Refuse ``--discard-history`` alone: it confirms what a full refresh drops, and a
    run without one drops nothing, so the option would be silently ignored."""
    if discard_history and not full_refresh:
        raise typer.BadParameter(
            "it confirms what --full-refresh drops; give it with --full-refresh",
            param_hint=f"'{DISCARD_HISTORY_OPTION}'",
        )


DEFINITIONS_HELP = "Module that declares the assets (default: [tool.pipeline] in pyproject.toml)."
#: Two lines at the option, in each of the seven commands that open the warehouse: the
#: URL forms, the default and where the rest is (the project's ``.warehouse`` wherever the
#: command runs, other variables, passwords kept off the command line).
WAREHOUSE_HELP = (
    "chdb:///dir or clickhouse://host:8123; default: $WAREHOUSE_URL or .warehouse "
    "(README: Warehouse)."
)
DefinitionsOption = Annotated[
    str | None,
    typer.Option(
        "--definitions",
        envvar=DEFINITIONS_ENV,
        metavar="MODULE",
        help=DEFINITIONS_HELP,
        callback=_or_given_before_the_command,
    ),
]
WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        metavar="URL",
        help=WAREHOUSE_HELP,
        show_default=False,
        callback=_or_given_before_the_command,
    ),
]


def ignored_warehouse_option(why: str) -> Any:
    """``--warehouse URL`` of a command that opens none (``list``, ``validate``): taken
    after the command as before it and ignored either way, as ``WAREHOUSE_URL`` is, so
    a script can give every command the same options; ``why`` says what the command
    reads instead. It was a usage error there alone."""
    return typer.Option(
        "--warehouse",
        metavar="URL",
        help=f"Ignored: {why}; taken so a script can give every command the same options.",
        show_default=False,
        callback=_or_given_before_the_command,
    )


def debug_on(ctx: typer.Context) -> bool:
    """Whether ``--debug`` (or ``PIPELINE_DEBUG``) was given: the app's callback keeps it
    in the root context's ``obj``, which a command called directly may not have."""
    return bool((ctx.find_root().obj or {}).get("debug"))


def load_defs(definitions: str | None) -> Definitions:
    """The code location's definitions, with its graph validated up front; a ``warning:``
    line on stderr for each file of its package that may declare assets but that no
    import reaches (:attr:`Definitions.not_loaded`), so none is left out silently."""
    defs = load_definitions(definitions)
    if defs.not_loaded:
        from orchestration.report_output import print_warnings  # only when there is one

        print_warnings([file.line() for file in defs.not_loaded], error_console)
    defs.graph()
    return defs


def connect_to_prefect(*, quiet: bool = False) -> None:
    """Give a flow-running command (``materialize``, ``serve``) its Prefect API, the same
    way for both: the configured one, else the local background server, started if need
    be (:func:`orchestration.prefect_setup.connect_prefect`). What it says goes dim to
    stderr, and only on a terminal or when it leaves a server running, so stdout and
    ``--json`` stay what scripts read."""
    connect_prefect(
        lambda line: error_console.print(line, style="dim", highlight=False, markup=False),
        quiet=quiet or not error_console.is_terminal,
    )
