"""The project a command runs in, found as git finds its repository.

A project is the directory of the nearest ``pyproject.toml``, from the working directory
up, whose ``[tool.pipeline]`` names a code location (``definitions``). What a project keeps
by default (the embedded warehouse in ``.warehouse``, the reports in ``reports/``) is
then its own wherever in it a command runs: run from ``docs/``, a command acts on the
project's warehouse, not on a new, empty one of that directory. Paths a user gives (a
``--warehouse`` URL, ``WAREHOUSE_URL``, a report path) are taken as given instead,
relative to the working directory as any path on a command line.

Kept to the standard library, and read afresh by each call: a warm start's child moves
into the command's working directory only after it was forked.
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def configuring_pyproject(start: Path | None = None) -> tuple[str, Path] | None:
    """The module the nearest pyproject.toml with ``[tool.pipeline] definitions`` names,
    and that file, from ``start`` (the working directory) up."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            with pyproject.open("rb") as handle:
                setting = tomllib.load(handle).get("tool", {}).get("pipeline", {})
            if "definitions" in setting:
                return str(setting["definitions"]), pyproject
    return None


def project_dir(start: Path | None = None) -> Path:
    """The project's directory (:func:`configuring_pyproject`'s), else the working
    directory (or ``start``): where the defaults a project keeps are."""
    found = configuring_pyproject(start)
    return found[1].parent if found else (start or Path.cwd()).resolve()
