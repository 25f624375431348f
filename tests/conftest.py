"""Session-wide fixtures: one real (temporary) Prefect server for the whole test run."""

from __future__ import annotations

import os

import pytest

# No telemetry from test servers: the sandbox has no internet and the noise hides real errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API for the session: started once, since each start costs seconds."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session", autouse=True)
def _reports_in_tmp(tmp_path_factory):
    """Assets that write report files (the sales dashboard) write them outside the repo."""
    path = tmp_path_factory.mktemp("reports") / "sales_dashboard.html"
    previous = os.environ.get("SALES_DASHBOARD_PATH")
    os.environ["SALES_DASHBOARD_PATH"] = str(path)
    yield
    if previous is None:
        os.environ.pop("SALES_DASHBOARD_PATH", None)
    else:
        os.environ["SALES_DASHBOARD_PATH"] = previous
