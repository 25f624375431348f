"""Code locations a test writes into its own directory, to run ``pipeline`` on them.

A test that needs assets of its own database (so that it may share a server, or a
warehouse, with other tests) writes a module and its DDL next to each other and puts the
directory on ``PYTHONPATH``; only the assets and the DDL differ from one test to the next,
so the rest of the module is written here, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: What every written location module holds besides its assets: ``assets_source`` defines
#: ``ASSETS``, the list of :class:`~orchestration.asset.AssetSpec` it declares.
_MODULE = """from pathlib import Path

from io_managers import warehouse_io_manager
from orchestration.asset import AssetSpec
from orchestration.definitions import Definitions

{assets_source}
defs = Definitions(
    assets=ASSETS,
    ddl_paths=[Path(__file__).with_name({ddl_name!r})],
    io_managers={{"warehouse": {io_manager}}},
)
"""


def write_location(
    directory: Path,
    module: str,
    assets_source: str,
    ddl_source: str,
    io_manager: str = "warehouse_io_manager",
) -> Path:
    """Write code location ``module`` into ``directory``; returns its DDL file's path.

    ``assets_source`` is Python that defines ``ASSETS`` (``AssetSpec`` is imported
    already); ``ddl_source`` is the SQL of ``module.sql``, the location's only DDL file.
    ``io_manager`` names its IO manager factory: the shipped one, or one that
    ``assets_source`` defines or imports. ``pipeline --definitions module`` finds the
    location with ``directory`` on ``PYTHONPATH``.
    """
    ddl = directory / f"{module}.sql"
    ddl.write_text(ddl_source)
    code = _MODULE.format(assets_source=assets_source, ddl_name=ddl.name, io_manager=io_manager)
    (directory / f"{module}.py").write_text(code)
    return ddl


def copy_retail_location(directory: Path) -> Path:
    """A private copy of the retail code location (assets/, schemas/, ddl/) in
    ``directory``, free to break; returns ``directory``."""
    for folder in ("assets", "schemas", "ddl"):
        shutil.copytree(
            REPO / folder, directory / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    return directory


def run_location(
    cwd: Path, module: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``pipeline ARGS --definitions module`` run in ``cwd`` on the location written there
    (:func:`write_location`), as a user runs it: its warehouse ``cwd/wh``, no warm start,
    ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "orchestration", *args, "--definitions", module],
        cwd=cwd,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)]),
            "WAREHOUSE_URL": f"chdb://{cwd / 'wh'}",
            "PIPELINE_WARM_START": "off",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def line_of(path: Path, text: str) -> int:
    """The number of the first line of ``path`` holding ``text``."""
    lines = path.read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)
