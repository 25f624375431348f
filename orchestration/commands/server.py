"""``pipeline server start|status|stop``: the local Prefect server runs use by default.

``pipeline materialize`` or ``serve`` starts it on first use (:mod:`orchestration.local_server`);
these commands start it ahead of a run (to open the UI first), say where it listens, and
stop it. A server the user runs themselves (``PREFECT_API_URL``) is never touched, but it
is where runs go: ``status`` says so, probed as a run probes it before any work
(:func:`orchestration.prefect_setup.api_problem`), with its UI, and ``start`` warns that
the server it started is not the one runs use.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from orchestration import local_server, warm_start
from orchestration.api_url import SETTING
from orchestration.argument_mistakes import MistakeCheckedCommand
from orchestration.cli_options import console, error_console
from orchestration.prefect_server import server_version
from orchestration.prefect_setup import (
    TEMPORARY_SERVER_START_SECONDS,
    UNANSWERED_ADVICE,
    PrefectApiUnreachableError,
    api_problem,
    configured_api_url,
    health_url_to_probe,
)
from orchestration.prefect_ui import home_url
from orchestration.redaction import redact_url
from orchestration.usage import HelpGroup

server_app = typer.Typer(
    help="The local Prefect server (API and UI) that runs use when PREFECT_API_URL is unset.",
    no_args_is_help=True,
    cls=HelpGroup,
)


def _say(line: str, *, err: bool = False) -> None:
    """One line as written: a URL or a path is neither markup nor highlighted."""
    (error_console if err else console).print(line, soft_wrap=True, highlight=False, markup=False)


def _where(server: local_server.LocalServer) -> str:
    return f"UI {server.url}/v2, API {server.api_url}, process {server.pid}, log {server.log_path}"


def _is_api_of(api_url: str, server: local_server.LocalServer) -> bool:
    """Whether ``api_url`` names ``server``'s API (``localhost`` and a trailing ``/`` too,
    as one may write the address ``start`` printed)."""

    def address(url: str) -> tuple[str, str | None, int | None, str]:
        parts = urlsplit(url)
        host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        return parts.scheme, host, parts.port, parts.path.rstrip("/")

    try:
        return address(api_url) == address(server.api_url)
    except ValueError:  # a port that is no number: no server's
        return False


def _runs_go_to(api_url: str) -> tuple[str, bool]:
    """The line that says runs go to the configured ``api_url`` and whether it answers,
    in the words a run would refuse it with before any work, ending with its UI when it
    may answer (before any line on the local server, whose UI is not where the runs are);
    and whether it answers (a URL the probe does not read counts: a run starts on it,
    and Prefect says)."""
    shown = f"runs go to {SETTING}={redact_url(api_url)}"
    ui = home_url()
    at_ui = f", UI {ui}" if ui else ""
    problem = api_problem(api_url)
    if isinstance(problem, PrefectApiUnreachableError) and problem.cause:
        return f"{shown} (does not answer: {problem.cause}): {UNANSWERED_ADVICE}", False
    if problem is not None:  # no http(s) URL, or nothing of Prefect's there: says what to set
        return f"runs go to {SETTING}, but {problem}", False
    if health_url_to_probe(api_url) is None:
        return (
            f"{shown} (not probed: Prefect's client reaches an https URL with settings of "
            f"its own; a run says if it does not answer){at_ui}",
            True,
        )
    version = server_version(api_url)
    return f"{shown} (answers{f'; Prefect {version}' if version else ''}){at_ui}", True


@server_app.command("start", cls=MistakeCheckedCommand)
def start() -> None:
    """Start the local server in the background (or find the one running) and say where;
    with PREFECT_API_URL set to another server, also warn that runs go there, not here."""
    server, started = local_server.ensure(TEMPORARY_SERVER_START_SECONDS)
    state = "started" if started else "already running"
    _say(f"Prefect server {state}: {_where(server)}")
    configured = configured_api_url()
    if configured and not _is_api_of(configured, server):
        _say(
            f"warning: runs go to {SETTING}={redact_url(configured)}, not to this server: "
            f"unset {SETTING} for runs to use it",
            err=True,
        )


@server_app.command("status", cls=MistakeCheckedCommand)
def status() -> None:
    """Say where runs go, whether that server answers and where its UI is; exit 1 when it
    does not answer.

    With PREFECT_API_URL unset, runs go to the local server: where it listens, or exit 1
    when it does not run (the next run starts it). With PREFECT_API_URL set (environment
    or Prefect profile), runs go there: whether it answers and its Prefect version, probed
    as a run probes it before any work (exit 1 when it does not answer or is no Prefect
    API), and its UI; then the local server too if it runs. Last, if any run, how many
    warm starters of this user run (what ``stop --warm-only`` stops).
    """
    answers = _say_where_runs_go()
    warm = _warm_starters()
    if warm:
        _say(warm)
    if not answers:
        raise typer.Exit(1)


def _say_where_runs_go() -> bool:
    """:func:`status`'s lines on the Prefect server; whether runs have one that answers
    (a local server that runs counts)."""
    server = local_server.running()
    configured = configured_api_url()
    if configured is None:
        if server is None:
            _say(
                f"no local Prefect server is running (Prefect home {local_server.prefect_home()}): "
                "pipeline server start starts one, as the next run does"
            )
            return False
        _say(f"Prefect server running: {_where(server)}")
        return True
    line, answers = _runs_go_to(configured)
    _say(line)
    if server is not None and _is_api_of(configured, server):
        _say(f"it is the local Prefect server: {_where(server)}")
    elif server is not None:
        _say(f"the local Prefect server runs too, unused while {SETTING} is set: {_where(server)}")
    return answers


def _warm_starters() -> str | None:
    """How many warm starters of this user run (each ~0.35 GiB with its spare child), and
    what ends them: ``stop --warm-only`` stopped processes this command did not name.
    None when none runs: a user who never starts warm (CI) is not told of them."""
    pids = warm_start.running_starters()
    if not pids:
        return None
    minutes = warm_start.IDLE_SECONDS // 60
    many = len(pids) > 1
    return (
        f"{len(pids)} warm starter{'s' if many else ''} of yours {'are' if many else 'is'} "
        f"running (process{'es' if many else ''} {', '.join(map(str, pids))}; each exits "
        f"after {minutes} minutes without a command; pipeline server stop --warm-only "
        "stops them)"
    )


@server_app.command("stop", cls=MistakeCheckedCommand)
def stop(
    warm_only: Annotated[
        bool,
        typer.Option(
            "--warm-only",
            help="Stop only the warm starters (the background processes that start "
            "commands warm), not the Prefect server.",
        ),
    ] = False,
) -> None:
    """Stop the local server (its database, the runs and their pages, stays in Prefect's
    home) and this user's warm starters; with --warm-only, the warm starters alone."""
    if not warm_only:
        server = local_server.stop()
        if server is None:
            console.print("no local Prefect server was running")
        else:
            console.print(f"stopped the Prefect server at {server.url} (process {server.pid})")
    starters = warm_start.stop_all()
    if starters:
        console.print(f"stopped {starters} warm starter{'s' if starters > 1 else ''}")
    elif warm_only:  # the one thing asked: say it found none
        console.print("no warm starter was running")
