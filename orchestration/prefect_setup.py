"""Prefect settings the CLI chooses before Prefect is first imported.

With no ``PREFECT_API_URL``, Prefect starts a temporary server for the run and gives it
20 s to answer; on a busy 2-core machine it can need more, and the run then failed with
"Timed out while attempting to connect to ephemeral Prefect API server". The CLI allows
it :data:`TEMPORARY_SERVER_START_SECONDS` instead, and if even that is not enough, says
what to do in one line (:func:`temporary_server_failure`).

The console shows Prefect's own logs (task tracebacks, "Finished in state NotReady" for
every skipped asset) only when asked (``--verbose``/``--debug``): each failed asset is
already one line of progress and one row of the run report, and the logs still reach
the Prefect API and UI. Prefect reads these settings when it configures itself, so this
must run before it is imported; a user's own setting always wins.
"""

from __future__ import annotations

import os

#: How long the temporary server may take to start (Prefect's own default is 20 s).
TEMPORARY_SERVER_START_SECONDS = 300
_START_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
#: The start of the message of the ``RuntimeError`` Prefect raises when that time runs out.
_PREFECT_START_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


def configure_prefect(*, verbose: bool) -> None:
    """Patient temporary server, no telemetry, and Prefect's console logs only if ``verbose``."""
    defaults = {
        _START_TIMEOUT_SETTING: str(TEMPORARY_SERVER_START_SECONDS),
        # Telemetry only fails noisily on machines without internet, and its first-run
        # notice would be the first thing a new user reads.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    if not verbose:
        defaults["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def temporary_server_note() -> str | None:
    """Why the run may take a while to start, when it will start a temporary server.

    Prefect's own "Starting temporary server" line is quiet by default, and on a busy
    machine the first start (which also creates Prefect's database) can take minutes.
    """
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        return None
    return (
        "starting a temporary Prefect server for this run (slow on a busy machine); "
        "`prefect server start` and PREFECT_API_URL=http://127.0.0.1:4200/api skip this"
    )


def temporary_server_failure(exc: BaseException) -> str | None:
    """What to do when Prefect's temporary server did not start in time; None otherwise.

    Prefect reports this as a bare ``RuntimeError``, so its message is the only mark.
    """
    if not (isinstance(exc, RuntimeError) and str(exc).startswith(_PREFECT_START_TIMEOUT)):
        return None
    if "server process exited with code" in str(exc):  # it crashed: waiting longer won't help
        return (
            "Prefect's temporary server exited while starting (--debug shows its output): "
            "run `prefect server start` in another terminal to see why, then set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    limit = os.environ.get(_START_TIMEOUT_SETTING, "20")
    return (
        f"Prefect's temporary server did not start within {limit} s (is the machine busy?): "
        "run `prefect server start` in another terminal and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api, or raise "
        f"{_START_TIMEOUT_SETTING}"
    )
