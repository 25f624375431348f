"""What ``make install`` runs (``make -n``: nothing is installed), on a copy of the Makefile
in a directory of its own, with a stand-in ``poetry`` on PATH or none.

``PYTHON`` picks the project's Python (README, Quick start) whichever Poetry is on PATH;
without it, ``make run``/``make test`` do what they always did: the Poetry on PATH, else
one installed with ``python3`` into ``.tools/poetry``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
VERSION = ".".join(map(str, sys.version_info[:3]))

pytestmark = pytest.mark.skipif(MAKE is None, reason="no make")


def make_n(
    tmp_path: Path, *args: str, poetry_on_path: bool = True, env_python: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``make -n install ARGS`` in a copy of the project's Makefile, on a PATH of only a
    shell, ``python3`` and (if asked) a stand-in ``poetry``; ``env_python``: PYTHON in the
    environment."""
    project, bin_dir = tmp_path / "project", tmp_path / "bin"
    project.mkdir()
    bin_dir.mkdir()
    shutil.copy(REPO / "Makefile", project / "Makefile")
    if poetry_on_path:
        (bin_dir / "poetry").write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / "poetry").chmod(0o755)
    for tool in ("bash", "sh", "python3"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "POETRY", "MAKEFLAGS")}
    env["PATH"] = str(bin_dir)
    if env_python:
        env["PYTHON"] = env_python
    return subprocess.run(
        [MAKE or "make", "-n", "-C", str(project), "install", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def commands(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if not line.startswith("make")]


def test_without_python_the_poetry_on_path_installs_as_before(tmp_path: Path) -> None:
    assert commands(make_n(tmp_path)) == [
        f"{tmp_path}/bin/poetry install --no-interaction --compile"
    ]


def test_without_python_or_poetry_one_is_installed_with_python3(tmp_path: Path) -> None:
    tools = tmp_path / "project" / ".tools"
    assert commands(make_n(tmp_path, poetry_on_path=False)) == [
        f"python3 -m venv {tools}/poetry",
        f'{tools}/poetry/bin/pip install --quiet "poetry==2.5.1"',
        f"{tools}/poetry/bin/poetry install --no-interaction --compile",
    ]


@pytest.mark.parametrize("given", ["command line", "environment"])
def test_python_picks_the_projects_python_whatever_poetry_is_on_path(
    tmp_path: Path, given: str
) -> None:
    """Poetry compiles the packages' bytecode with its own Python (poetry.toml), so the
    Poetry used runs on PYTHON, and the project's .venv is moved onto PYTHON."""
    python = sys.executable
    if given == "command line":
        done = make_n(tmp_path, f"PYTHON={python}")
    else:
        done = make_n(tmp_path, env_python=python)
    poetry = tmp_path / "project" / ".tools" / f"poetry-{VERSION}"
    assert commands(done) == [
        f"{python} -m venv {poetry}",
        f'{poetry}/bin/pip install --quiet "poetry==2.5.1"',
        f"{poetry}/bin/poetry env use --no-interaction {python}",
        f"{poetry}/bin/poetry install --no-interaction --compile",
    ]


def test_a_python_that_does_not_run_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    done = make_n(tmp_path, "PYTHON=python3.99")
    assert done.returncode != 0
    assert "PYTHON=python3.99 does not run" in done.stderr
    assert [line for line in done.stdout.splitlines() if not line.startswith("make")] == []
