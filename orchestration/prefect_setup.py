"""Prefect settings the CLI chooses before Prefect is first imported.

With no ``PREFECT_API_URL``, Prefect starts a temporary server for the run and gives it
20 s to answer; on a busy 2-core machine it can need more, and the run then failed with
"Timed out while attempting to connect to ephemeral Prefect API server". The CLI allows
it :data:`TEMPORARY_SERVER_START_SECONDS` instead, and if even that is not enough, says
what to do in one line (:func:`temporary_server_failure`).

The console shows Prefect's own logs (task tracebacks, "Finished in state Skipped" for
every skipped asset) only when asked (``--verbose``/``--debug``): each failed asset is
already one line of progress and one row of the run report, and the logs still reach
the Prefect API and UI. Prefect reads these settings when it configures itself, so this
must run before it is imported; a user's own setting always wins.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from http import HTTPStatus

from orchestration.errors import ExpectedError

#: How long the temporary server may take to start (Prefect's own default is 20 s).
TEMPORARY_SERVER_START_SECONDS = 300
_START_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
#: The start of the message of the ``RuntimeError`` Prefect raises when that time runs out.
_PREFECT_START_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"
#: How long a configured Prefect API may take to accept the probe's connection.
API_PROBE_SECONDS = 10.0


#: What the line for a configured API that does not answer advises.
UNANSWERED_ADVICE = "start that server, or unset PREFECT_API_URL to run on the local one"


class PrefectApiUnreachableError(ExpectedError, RuntimeError):
    """The configured Prefect API does not answer at all (nothing listens, no route)."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        #: Why, in a few words (``connection refused``), when the probe found out.
        self.cause = cause


def prefect_defaults(*, verbose: bool) -> dict[str, str]:
    """The settings :func:`configure_prefect` gives Prefect unless the user set them."""
    defaults = {
        _START_TIMEOUT_SETTING: str(TEMPORARY_SERVER_START_SECONDS),
        # Telemetry only fails noisily on machines without internet, and its first-run
        # notice would be the first thing a new user reads.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    if not verbose:
        defaults["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
        # Prefect's internal loggers (its event and log workers: "EventsWorker failed to
        # process item Event(...)", a few KB each, when the API is gone) have a handler of
        # their own, which the console's level does not reach.
        defaults["PREFECT_LOGGING_HANDLERS_DEBUG_LEVEL"] = "CRITICAL"
    return defaults


def configure_prefect(*, verbose: bool) -> None:
    """Patient temporary server, no telemetry, and Prefect's console logs only if ``verbose``.

    Prefect's log shipper writes its own failures to stderr ("--- Error logging to API
    ---") unless ``logging.raiseExceptions`` is off, the standard library's switch for
    logging errors nobody should see in production: off unless ``verbose``. The logs
    that could not be shipped are Prefect's copy; the run says in one line when its API
    went away (:mod:`orchestration.api_outage`).
    """
    for name, value in prefect_defaults(verbose=verbose).items():
        os.environ.setdefault(name, value)
    if not verbose:
        logging.raiseExceptions = False


def connect_prefect(say: Callable[[str], None], *, quiet: bool) -> None:
    """Give this process a Prefect API before its flow run starts.

    A configured ``PREFECT_API_URL`` (environment or Prefect profile) always wins. Else
    the local background server (:mod:`orchestration.local_server`) is found or started
    and this process pointed at it; with ``PIPELINE_PREFECT_SERVER=temporary``, Prefect
    starts its temporary server as before. ``say`` gets one line for the person waiting
    (``quiet``: only the line that reports a server left running).
    """
    from prefect.settings import get_current_settings

    from orchestration import local_server

    if get_current_settings().api.url:
        _ui_links_without_credentials()
        return
    if local_server.server_mode() == local_server.TEMPORARY:
        if not quiet:
            say(
                "starting a temporary Prefect server for this run (slow on a busy machine); "
                "`prefect server start` and PREFECT_API_URL=http://127.0.0.1:4200/api skip this"
            )
        return
    if local_server.running() is None and not quiet:
        say("starting a local Prefect server in the background (once; later runs reuse it)")
    server, started = local_server.ensure(TEMPORARY_SERVER_START_SECONDS)
    os.environ["PREFECT_API_URL"] = server.api_url
    # Prefect read its settings when it was imported; make it read them again.
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    if started:
        say(
            f"Prefect server running in the background: UI {server.url}/v2, reused by later "
            "runs; `pipeline server stop` stops it and your warm starters"
        )


def _ui_links_without_credentials() -> None:
    """Prefect's UI URL without the ``user:password@`` it copies from ``PREFECT_API_URL``
    (or ``PREFECT_UI_URL`` holds): Prefect's own links (``View at http://...``, on the
    console with ``--verbose``) are made of it, as are those of served runs, whose
    processes inherit this one's environment. The rest of it is kept as Prefect has it."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    from orchestration.redaction import without_credentials

    ui_url = str(get_current_settings().ui_url or "")
    if without_credentials(ui_url) == ui_url:
        return
    os.environ["PREFECT_UI_URL"] = without_credentials(ui_url)
    refresh_global_settings_context()


def configured_api_url() -> str | None:
    """The Prefect API runs use when one is configured (``PREFECT_API_URL``, in the
    environment or the active Prefect profile); None when they use the local server."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def check_configured_api(timeout: float = API_PROBE_SECONDS) -> None:
    """Refuse in one line, before any work, when the configured ``PREFECT_API_URL`` is no
    Prefect API or does not answer (:func:`api_problem`): Prefect itself would only find
    out when the flow run starts, after the warehouse was opened (or created), and say
    "Failed to reach API" or "unsupported protocol" with no hint of the setting. Without a
    configured API the local server is found or started later (:func:`connect_prefect`).
    """
    url = configured_api_url()
    problem = api_problem(url, timeout) if url else None
    if problem is not None:
        raise problem


def api_problem(url: str, timeout: float = API_PROBE_SECONDS) -> ExpectedError | None:
    """Why a run would refuse the configured API ``url``, as the error to raise; None if
    it answers, or is not one a probe reads (:func:`health_url_to_probe`).

    A URL without ``http://`` or ``https://`` is refused unprobed
    (:mod:`orchestration.api_url`), as is one that cannot be read, said without repeating
    it (:func:`orchestration.redaction.url_problem`). A ``/health`` that answers 404 has nothing of
    Prefect's at that path (most often a server's address without ``/api``: its UI's);
    any other HTTP answer counts as answering (a busy server's 503, a proxy's 401:
    Prefect's client says more). Else only a connection that fails is refused.
    """
    from orchestration.api_url import SETTING, PrefectApiUrlError, scheme_problem
    from orchestration.redaction import url_problem

    # A password holding "/" read as host and port: httpx said "Invalid port: 'Api'".
    wrong = scheme_problem(url) or url_problem(url, SETTING)
    if wrong is not None:
        return PrefectApiUrlError(wrong)
    health = health_url_to_probe(url)
    return None if health is None else _probe(url, health, timeout)


def _probe(url: str, health: str, timeout: float) -> ExpectedError | None:
    """The error for ``url`` if its ``health`` URL does not answer, or answers 404."""
    from orchestration.api_url import PrefectApiUrlError, api_on_that_server, not_an_api
    from orchestration.redaction import redact_url
    from orchestration.typed_options import with_placeholders
    from orchestration.unanswered import api_not_answering, cause_in_words, health_status

    try:
        status = health_status(health, timeout)
    except OSError as exc:  # URLError, and a timeout while reading the answer
        cause = cause_in_words(exc, timeout)
        line = api_not_answering(f"{redact_url(url)} (PREFECT_API_URL)", cause, UNANSWERED_ADVICE)
        unreachable = PrefectApiUnreachableError(line, cause)
        unreachable.__cause__ = exc  # --debug shows the socket's error under it
        return unreachable
    if status != HTTPStatus.NOT_FOUND:
        return None
    suggested = api_on_that_server(url)
    try:
        answers = (
            f"{suggested}/health" != health
            and health_status(f"{suggested}/health", timeout) == HTTPStatus.OK
        )
    except OSError:
        answers = False  # no better URL to suggest: the line says what one looks like
    # The line is copied into a shell: a password there stands as PASSWORD.
    shown = with_placeholders(suggested) if answers else None
    return PrefectApiUrlError(not_an_api(redact_url(url), shown))


def health_url_to_probe(api_url: str) -> str | None:
    """``API/health`` when ``api_url`` is one a plain probe reaches as Prefect would.

    Only a plain ``http://`` URL is probed (a server of one's own, on this machine or the
    network, or behind a proxy): for HTTPS (Prefect Cloud, a server behind TLS) Prefect's
    client has settings of its own (certificates, verification) that a probe would have
    to copy to speak for it, so Prefect is left to say. A ``user:password@`` stays in the
    health URL, for the probe to send as Prefect's client does
    (:mod:`orchestration.basic_auth`).
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(api_url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return None  # not a URL a probe can read: Prefect says what is wrong with it
    if parts.scheme != "http" or not parts.hostname:
        return None
    return f"{api_url.rstrip('/')}/health"


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
