"""Session-wide fixtures: one real (temporary) Prefect server and one ClickHouse HTTP
endpoint for the whole test run, each started once since each start costs seconds."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.io_helpers import BACKENDS, Backend, apply_test_ddl, new_database_name

# Property tests explore new examples on a developer's machine but replay a fixed set in
# CI, so a submission's result never depends on the draw (a failure found locally is then
# pinned as an explicit example or test).
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

# No telemetry from test servers: the sandbox has no internet and the noise hides real errors.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A `pipeline` process a test starts without PREFECT_API_URL gets Prefect's temporary
# server, never the background server a user's first run leaves running (that one is
# tested, and stopped, in tests/test_local_server.py and the newcomer test).
os.environ.setdefault("PIPELINE_PREFECT_SERVER", "temporary")
# Likewise every `pipeline` process runs cold and leaves no warm starter behind, except in
# tests/test_warm_start.py, which starts its own and stops them; and `pipeline server stop`
# in a test never stops the warm starters of the person running the tests.
os.environ.setdefault("PIPELINE_WARM_START", "off")
if "PIPELINE_WARM_DIR" not in os.environ:
    os.environ["PIPELINE_WARM_DIR"] = tempfile.mkdtemp(prefix="pw-tests-")
    atexit.register(shutil.rmtree, os.environ["PIPELINE_WARM_DIR"], ignore_errors=True)
# The tests stop processes as a user does, Ctrl+C being SIGINT. A suite started in the
# background of a shell without job control (`make test &`, `nohup`) inherits SIGINT
# ignored, and so would every process a test starts (an ignored signal survives exec):
# Python then installs no KeyboardInterrupt handler, and `pipeline serve` shrugs off the
# test's Ctrl+C. A Python handler here is reset to the default in each child, as on a
# terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# Kept SQL analysis answers go to a directory of this session, not the person's own cache.
if "PIPELINE_CACHE_DIR" not in os.environ:
    os.environ["PIPELINE_CACHE_DIR"] = tempfile.mkdtemp(prefix="pipeline-cache-tests-")
    atexit.register(shutil.rmtree, os.environ["PIPELINE_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API for the session: started once, since each start costs seconds."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_api_url(prefect_server: None) -> str:
    """The session server's API URL, for ``pipeline`` processes the tests start."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "prefect_test_harness set no API URL"
    return url


@pytest.fixture(scope="session")
def chdb_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the chdb-backed ClickHouse HTTP stand-in (tests/chdb_http_server.py)."""
    from tests.chdb_http_server import running_stand_in, stand_in_url

    with running_stand_in(tmp_path_factory.mktemp("chdb-stand-in")) as port:
        yield stand_in_url(port)


@pytest.fixture(scope="session")
def clickhouse_test_url(request: pytest.FixtureRequest) -> str:
    """The server backend's tests run here: ``CLICKHOUSE_TEST_URL``, else the stand-in.

    So the server variants run on every machine; CI points the variable at a real server.
    """
    from tests.io_helpers import SERVER_URL_ENV

    return os.environ.get(SERVER_URL_ENV) or request.getfixturevalue("chdb_stand_in")


@pytest.fixture(scope="session")
def ddl_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded warehouse with the shipped DDL and no rows, set up once: the column
    lineage tests derive the shipped pipeline's lineage against it and run ``pipeline
    lineage`` on it. They only read it."""
    from assets import DDL_PATHS
    from io_managers import ClickHouseIOManager

    directory = tmp_path_factory.mktemp("shipped-warehouse")
    with ClickHouseIOManager.embedded(directory) as warehouse:
        warehouse.setup(DDL_PATHS)
    return directory


@pytest.fixture(scope="session")
def shipped_lineage(ddl_warehouse: Path) -> list[Any]:
    """The column lineage of every shipped asset (``AssetColumnLineage``), derived once
    from its SQL against :func:`ddl_warehouse`."""
    from io_managers import ClickHouseIOManager
    from orchestration.column_lineage import derive_all
    from orchestration.definitions import load_definitions

    graph = load_definitions("assets").graph()
    with ClickHouseIOManager.embedded(ddl_warehouse) as warehouse:
        return derive_all(graph, [spec.key for spec in graph], {"warehouse": warehouse})


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path):
    """Each warehouse test runs twice: embedded (chdb) and server (see ``clickhouse_test_url``)."""
    backend = Backend(request, tmp_path)
    yield backend
    backend.close()


@pytest.fixture
def db(backend, tmp_path) -> Iterator[str]:
    """A fresh database holding the test tables of ``tests/io_helpers.TEST_DDL``; modules
    that need another database define their own ``db``."""
    name = new_database_name()
    apply_test_ddl(backend.warehouse, name, tmp_path)
    yield name
    if backend.kind == "server":
        backend.warehouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


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
