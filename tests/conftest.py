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
