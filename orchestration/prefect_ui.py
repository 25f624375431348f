"""Addresses of runs and artifacts in the Prefect UI, on the routes that draw Mermaid.

Prefect 3.9's ``prefect server start`` serves two UIs: V1 at the root and V2 under
``/v2``. Deep links without ``/v2`` (the ones Prefect itself prints) open V1, which shows
a markdown artifact's Mermaid block as source text; V2 renders it as a diagram. So every
link we print or write into an artifact is a V2 route. Links inside artifacts are
root-relative (the page is served by the same UI, whatever host name the reviewer used);
the CLI prints absolute URLs from Prefect's ``PREFECT_UI_URL`` setting.

That setting, unless set, is made of ``PREFECT_API_URL``, its ``user:password@`` included
(a server behind a proxy that asks for Basic auth): so an absolute URL is built of the
UI's address without credentials or query string (:func:`absolute`), as
:mod:`orchestration.redaction` names any URL. The links are printed, returned by
``--json`` and logged to the run (its ``Lineage of this run`` line), which everyone with
access to the UI reads; a browser asks for the credentials itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import UUID

from orchestration.redaction import UNREADABLE_URL, redact_url

V2_PREFIX = "/v2"
ASSET_PAGE_PREFIX = "asset-"


def asset_page_key(asset_key: str) -> str:
    """The artifact key of an asset's page: ``fact_sales`` -> ``asset-fact-sales``.

    Prefect artifact keys allow lowercase letters, digits and dashes only.
    """
    return ASSET_PAGE_PREFIX + asset_key.replace("_", "-").lower()


def configured_ui_url() -> str | None:
    """The UI's base URL when a Prefect server is configured (``PREFECT_API_URL``), else None.

    Without an API URL the run used a temporary server that is gone after the command,
    so there is no page to point at.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if not settings.api.url or not settings.ui_url:
        return None
    return str(settings.ui_url).rstrip("/")


def _base_path() -> str:
    """The path the UI is served under (``PREFECT_UI_URL``'s path, usually empty)."""
    url = configured_ui_url()
    return urlsplit(url).path.rstrip("/") if url else ""


def home_url() -> str | None:
    """The configured server's UI (its V2 home), as Prefect makes it of ``PREFECT_API_URL``
    (or as ``PREFECT_UI_URL`` says), without credentials: where a person looks at the runs.
    None without a configured server, or when Prefect made no UI URL of the API's (one
    with a query string it copies whole)."""
    url = configured_ui_url()
    if url is None or urlsplit(url).query:
        return None
    return absolute(f"{_base_path()}{V2_PREFIX}")


def runs_path() -> str:
    """Every flow run, newest first (where an interrupted run's partial report points)."""
    return f"{_base_path()}{V2_PREFIX}/runs"


def deployments_path() -> str:
    """Every deployment (where ``pipeline serve`` says its schedule is)."""
    return f"{_base_path()}{V2_PREFIX}/deployments"


def flow_run_path(flow_run_id: str | UUID) -> str:
    return f"{_base_path()}{V2_PREFIX}/runs/flow-run/{flow_run_id}"


def artifact_path(artifact_id: str | UUID) -> str:
    """One artifact version: its markdown rendered (the asset page, the run lineage)."""
    return f"{_base_path()}{V2_PREFIX}/artifacts/artifact/{artifact_id}"


def artifact_version_path(artifact_id: str | UUID) -> str:
    """One artifact version as the UI addresses it once open (its ``Artifact`` tab): the
    same page as :func:`artifact_path`, for a link that names this version for good. A
    page's links to an asset's page at :func:`artifact_path` are pointed at its newer
    versions as later runs write them (``asset_page.with_relinked``); these are not."""
    return f"{artifact_path(artifact_id)}?tab=Artifact"


def artifact_key_path(key: str) -> str:
    """Every version of a keyed artifact, newest first (a list, not the content)."""
    return f"{_base_path()}{V2_PREFIX}/artifacts/key/{key}"


def absolute(path: str) -> str | None:
    """``path`` (as returned above) as a full URL on the UI's scheme, host and port, never
    its ``user:password@``; None without a configured server. :data:`UNREADABLE_URL` for
    a UI URL that cannot be read (a password holding ``/``: what reads as its host and
    port is partly the password), which shows none of it."""
    url = configured_ui_url()
    if url is None:
        return None
    shown = redact_url(url)
    if shown == UNREADABLE_URL:
        return shown
    parts = urlsplit(shown)
    return f"{parts.scheme}://{parts.netloc}{path}"


def run_urls(flow_run_id: str | None, lineage_artifact_id: str | None) -> dict[str, str]:
    """Full V2 URLs of a run and its lineage artifact; empty without a configured server."""
    urls: dict[str, str] = {}
    if configured_ui_url() is None:
        return urls
    if flow_run_id:
        urls["flow_run"] = absolute(flow_run_path(flow_run_id)) or ""
    if lineage_artifact_id:
        urls["lineage"] = absolute(artifact_path(lineage_artifact_id)) or ""
    return urls
