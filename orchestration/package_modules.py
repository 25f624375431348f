"""The modules of a code location's package that may declare assets, found before import.

A decorator declares an asset when its module is imported, so an asset in a module the
package never imports (``shop/big.py`` beside ``shop/__init__.py``) was silently left
out: ``pipeline list`` did not show it, ``pipeline validate`` said all agreed, and no run
built it. :func:`~orchestration.definitions.assets_declared_in` therefore imports the
package's other modules first, as Dagster's ``load_assets_from_package_module`` does,
in name order (subpackages' modules after their package), so the assets of a project
always come in one order, whatever order its file system lists them in.

A folder without ``__init__.py`` is searched too: Python imports it as a namespace
package (``import shop.marts.facts``), so a contributor who adds one expects its assets
loaded, and they were left out with no word. A hidden folder (``.ipynb_checkpoints``, an
editor's) and ``__pycache__`` hold no modules of the project and are not searched.

A file that may declare assets but that no import can reach is said, not passed over
(:class:`NotLoaded`): a name with a ``.`` (``v1.2.py``, or in a folder ``v2.0/``), which
an import reads as a subpackage's, and a module and a package of one name, of which an
import finds only one.

Only a module whose text has a word ending in ``asset`` is imported (``asset``,
``sql_asset``, ``orchestration.asset``, ``my_asset``): one without any uses neither
decorator. So a helper module that imports the data stack costs ``pipeline list`` nothing
(the shipped ``assets`` package has seven such modules: importing them, and so pandas,
pyarrow and pandera, would add ~0.4 s of CPU to its ~0.25 s), and a package's
``__main__`` is never run. A module that
declares assets only through a helper named otherwise is imported by its package.
"""

from __future__ import annotations

import os
import pkgutil
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

from orchestration.errors import Place

#: A word ending in ``asset``: how a module names either decorator, or where it is from.
_NAMES_AN_ASSET = re.compile(r"asset\b")
#: A package's script (``python -m shop``), which importing would run.
_SCRIPT = "__main__"
#: The folder Python keeps byte code in: copies of modules, never modules of their own.
_BYTE_CODE = "__pycache__"
#: A module's source file's suffix.
_SOURCE = ".py"


@dataclass(frozen=True)
class NotLoaded:
    """A file of the package that may declare assets but that no import reaches, and why
    (worded to follow ``not loaded:``)."""

    path: Path
    why: str

    @property
    def place(self) -> Place:
        """The file, at its first line: what ``validate --json`` and CI annotate."""
        return Place.at(self.path, 1)

    def line(self) -> str:
        """``shop/v1.2.py: not loaded: ...``: what a command says of it, in one line."""
        return f"{self.place.file}: not loaded: {self.why}"


@dataclass
class PackageModules:
    """What :func:`package_modules` found: the modules to import, in order, and the
    files that may declare assets but cannot be imported."""

    to_import: list[str] = field(default_factory=list)
    not_loaded: list[NotLoaded] = field(default_factory=list)


def package_modules(package: ModuleType) -> PackageModules:
    """The modules of ``package``, at any depth and in name order, that are not imported
    yet and whose text may declare an asset (none for a plain module), and the files
    that may but cannot be."""
    found = PackageModules()
    locations = getattr(package, "__path__", None)
    if locations is not None:
        _search(list(locations), package.__name__ + ".", found)
    return found


def _search(locations: list[str], prefix: str, found: PackageModules) -> None:
    """Add to ``found`` each module under ``locations``, depth first in name order
    (found without importing it, nor the package it is in), and each file it may not."""
    modules = {info.name: info for info in pkgutil.iter_modules(locations, prefix)}
    folders = {prefix + path.name: path for path in _namespace_folders(locations)}
    for name in sorted(modules.keys() | folders.keys()):
        if name in modules:
            _add_module(modules[name], found)
        else:
            _search([str(folders[name])], name + ".", found)
    for location in locations:
        found.not_loaded.extend(_unreachable(Path(location)))


def _add_module(info: pkgutil.ModuleInfo, found: PackageModules) -> None:
    """Add module ``info`` to ``found`` if it may declare assets, and search it if it is
    a package."""
    if info.name.rpartition(".")[2] == _SCRIPT:
        return
    spec = info.module_finder.find_spec(info.name, None)
    if spec is None:
        return
    if info.name not in sys.modules and _may_declare_assets(info.name, spec):
        found.to_import.append(info.name)
    if info.ispkg and spec.submodule_search_locations:
        _search(list(spec.submodule_search_locations), info.name + ".", found)


def _namespace_folders(locations: Iterable[str]) -> list[Path]:
    """The folders of ``locations`` an import reads as namespace packages: no
    ``__init__.py``, a name with no ``.``, and no module of that name beside them (which
    an import would find instead); not hidden, not byte code."""
    return [
        folder
        for folder in _folders(locations)
        if not _is_package(folder) and "." not in folder.name and _module_beside(folder) is None
    ]


def _folders(locations: Iterable[str]) -> list[Path]:
    """The folders of ``locations`` that may hold modules of the project."""
    found: list[Path] = []
    for location in locations:
        try:
            entries = list(os.scandir(location))
        except OSError:
            continue
        found.extend(
            Path(entry.path)
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(".") and entry.name != _BYTE_CODE
        )
    return found


def _unreachable(location: Path) -> list[NotLoaded]:
    """The files directly in ``location``, and in its folders no import can enter, that
    may declare assets and that no import reaches, each with why."""
    unreachable = [
        NotLoaded(path, why)
        for path in _sources(location)
        if (why := _why_unreachable(path)) is not None and _names_an_asset(path)
    ]
    for folder in sorted(_folders([str(location)])):
        why = _why_folder_unreachable(folder)
        if why is not None:
            unreachable.extend(
                NotLoaded(path, why) for path in _sources(folder) if _names_an_asset(path)
            )
    return unreachable


def _sources(folder: Path) -> list[Path]:
    """The module source files directly in ``folder``, by name; not hidden ones."""
    return sorted(path for path in folder.glob("*" + _SOURCE) if not path.name.startswith("."))


def _why_unreachable(path: Path) -> str | None:
    """Why no import reaches module file ``path``, if it does not: a ``.`` in its name,
    or a package of its name beside it."""
    name = path.stem
    if "." in name:
        return (
            f"its name {name!r} has a '.', which an import reads as a subpackage's: "
            f"rename it ({name.replace('.', '_')}{_SOURCE})"
        )
    if _is_package(path.with_suffix("")):
        return (
            f"it is hidden by the package {name}/, which an import finds first: rename one of them"
        )
    return None


def _why_folder_unreachable(folder: Path) -> str | None:
    """Why no import enters ``folder`` (no package with an ``__init__.py``), if it does
    not: a ``.`` in its name, or a module of its name beside it."""
    if _is_package(folder):
        return None
    if "." in folder.name:
        return (
            f"its folder's name {folder.name!r} has a '.', which an import reads as a "
            f"subpackage's: rename the folder ({folder.name.replace('.', '_')})"
        )
    module = _module_beside(folder)
    if module is not None:
        return (
            f"its folder {folder.name!r} is hidden by the module {module.name}, which an "
            "import finds first: rename one of them"
        )
    return None


def _is_package(folder: Path) -> bool:
    return (folder / ("__init__" + _SOURCE)).is_file()


def _module_beside(folder: Path) -> Path | None:
    """The module file of ``folder``'s name beside it, which an import finds instead of
    the folder when the folder has no ``__init__.py``."""
    module = folder.with_name(folder.name + _SOURCE)
    return module if module.is_file() else None


def _names_an_asset(path: Path) -> bool:
    """Whether the text of file ``path`` has a word ending in ``asset``."""
    try:
        return _NAMES_AN_ASSET.search(path.read_text(errors="replace")) is not None
    except OSError:
        return False


def _may_declare_assets(name: str, spec: ModuleSpec) -> bool:
    """Whether the module's text names an asset; one whose text cannot be read (compiled
    only) may, so it is imported; a namespace package has no code to import."""
    loader = spec.loader
    if loader is None:
        return False
    try:
        source = loader.get_source(name)  # type: ignore[attr-defined]
    except (ImportError, OSError):
        return True
    return source is None or _NAMES_AN_ASSET.search(source) is not None
