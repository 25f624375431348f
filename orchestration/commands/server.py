"""``pipeline server start|status|stop``: the local Prefect server runs use by default.

``pipeline materialize`` or ``serve`` starts it on first use (:mod:`orchestration.local_server`);
these commands start it ahead of a run (to open the UI first), say where it listens, and
stop it. A server the user runs themselves (``PREFECT_API_URL``) is never touched.
"""

from __future__ import annotations

import typer

from orchestration import local_server, warm_start
from orchestration.cli_options import console
from orchestration.prefect_setup import TEMPORARY_SERVER_START_SECONDS
from orchestration.usage import HelpGroup

server_app = typer.Typer(
    help="The local Prefect server (API and UI) that runs use when PREFECT_API_URL is unset.",
    no_args_is_help=True,
    cls=HelpGroup,
)


def _where(server: local_server.LocalServer) -> str:
    return f"UI {server.url}/v2, API {server.api_url}, process {server.pid}, log {server.log_path}"


@server_app.command("start")
def start() -> None:
    """Start the local server in the background (or find the one running) and say where."""
    server, started = local_server.ensure(TEMPORARY_SERVER_START_SECONDS)
    state = "started" if started else "already running"
    console.print(f"Prefect server {state}: {_where(server)}", soft_wrap=True, highlight=False)


@server_app.command("status")
def status() -> None:
    """Say whether the local server runs, and where; exit 1 when it does not."""
    server = local_server.running()
    if server is None:
        console.print(
            f"no local Prefect server is running (Prefect home {local_server.prefect_home()})"
        )
        raise typer.Exit(1)
    console.print(f"Prefect server running: {_where(server)}", soft_wrap=True, highlight=False)


@server_app.command("stop")
def stop() -> None:
    """Stop the local server (its database, the runs and their pages, stays in Prefect's
    home) and this user's warm starters."""
    server = local_server.stop()
    if server is None:
        console.print("no local Prefect server was running")
    else:
        console.print(f"stopped the Prefect server at {server.url} (process {server.pid})")
    starters = warm_start.stop_all()
    if starters:
        console.print(f"stopped {starters} warm starter{'s' if starters > 1 else ''}")
