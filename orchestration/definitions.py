"""Code locations: how the framework finds a project's assets without importing it by name.

Like a Dagster code location, the module is named by a setting (``--definitions``, the
``PIPELINE_DEFINITIONS`` environment variable, or ``[tool.pipeline] definitions`` in the
project's ``pyproject.toml``), so ``orchestration`` never imports the pipeline itself.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.asset import AssetSpec, registered_assets
from orchestration.graph import AssetGraph

DEFINITIONS_ENV = "PIPELINE_DEFINITIONS"


class DefinitionsNotFoundError(LookupError):
    """No code location is configured, it cannot be imported, or it declares no assets."""


@dataclass(frozen=True)
class Definitions:
    """Everything a code location contributes: its assets and the DDL their tables need."""

    assets: Sequence[AssetSpec]
    ddl_paths: Sequence[Path] = field(default_factory=tuple)

    def graph(self) -> AssetGraph:
        return AssetGraph(self.assets)


def configured_module(start: Path | None = None) -> str | None:
    """The code location module named by the environment or the nearest pyproject.toml."""
    if os.environ.get(DEFINITIONS_ENV):
        return os.environ[DEFINITIONS_ENV]
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            with pyproject.open("rb") as handle:
                setting = tomllib.load(handle).get("tool", {}).get("pipeline", {})
            if "definitions" in setting:
                return str(setting["definitions"])
    return None


def load_definitions(module_name: str | None = None) -> Definitions:
    """Import the code location and collect its definitions.

    The module may expose ``defs: Definitions``; otherwise every asset declared with the
    decorators inside the module or its submodules is used, with DDL files from ``DDL_PATHS``.
    """
    name = module_name or configured_module()
    if not name:
        raise DefinitionsNotFoundError(
            "no code location configured: pass --definitions MODULE, set "
            f"{DEFINITIONS_ENV}, or add [tool.pipeline] definitions = 'MODULE' to pyproject.toml"
        )
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise DefinitionsNotFoundError(
                f"code location module {name!r} cannot be imported: {exc}"
            ) from exc
        raise DefinitionsNotFoundError(_import_failure(name, exc)) from exc
    except Exception as exc:  # the module's own code failed: say which module, and why
        raise DefinitionsNotFoundError(_import_failure(name, exc)) from exc
    defs = getattr(module, "defs", None)
    if not isinstance(defs, Definitions):
        defs = Definitions(
            assets=[spec for spec in registered_assets() if _declared_in(spec, name)],
            ddl_paths=tuple(Path(p) for p in getattr(module, "DDL_PATHS", ())),
        )
    if not defs.assets:
        raise DefinitionsNotFoundError(
            f"code location module {name!r} declares no assets: decorate functions in it "
            "(or its submodules) with @asset / @sql_asset, or give it a `defs = Definitions(...)`"
        )
    return defs


def _import_failure(name: str, exc: Exception) -> str:
    return f"code location module {name!r} failed to import: {type(exc).__name__}: {exc}"


def _declared_in(spec: AssetSpec, module_name: str) -> bool:
    """Whether the asset's body was written in ``module_name`` or one of its submodules."""
    declared = getattr(spec.body, "__module__", "") or ""
    return declared == module_name or declared.startswith(module_name + ".")
