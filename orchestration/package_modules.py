"""The modules of a code location's package that may declare assets, found before import.

A decorator declares an asset when its module is imported, so an asset in a module the
package never imports (``shop/big.py`` beside ``shop/__init__.py``) was silently left
out: ``pipeline list`` did not show it, ``pipeline validate`` said all agreed, and no run
built it. :func:`~orchestration.definitions.assets_declared_in` therefore imports the
package's other modules first, as Dagster's ``load_assets_from_package_module`` does,
in name order (subpackages' modules after their package), so the assets of a project
always come in one order, whatever order its file system lists them in.

Only a module whose text has a word ending in ``asset`` is imported (``asset``,
``sql_asset``, ``orchestration.asset``, ``my_asset``): one without any uses neither
decorator. So a helper module that imports the data stack costs ``pipeline list`` nothing
(the shipped ``assets`` package has seven such modules: importing them, and so pandas,
pyarrow and pandera, would add ~0.4 s of CPU to its ~0.25 s), and a package's
``__main__`` is never run. A module that
declares assets only through a helper named otherwise is imported by its package.
"""

from __future__ import annotations

import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType

#: A word ending in ``asset``: how a module names either decorator, or where it is from.
_NAMES_AN_ASSET = re.compile(r"asset\b")
#: A package's script (``python -m shop``), which importing would run.
_SCRIPT = "__main__"


def modules_to_import(package: ModuleType) -> list[str]:
    """The modules of ``package``, at any depth and in name order, that are not imported
    yet and whose text may declare an asset (none for a plain module)."""
    locations = getattr(package, "__path__", None)
    if locations is None:
        return []
    return [
        name
        for name, spec in _modules_under(locations, package.__name__ + ".")
        if name not in sys.modules and _may_declare_assets(name, spec)
    ]


def _modules_under(locations: Iterable[str], prefix: str) -> Iterator[tuple[str, ModuleSpec]]:
    """Each module under ``locations``, depth first in name order, with its spec, found
    without importing it (nor the subpackage it is in)."""
    found = sorted(pkgutil.iter_modules(locations, prefix), key=lambda info: info.name)
    for info in found:
        if info.name.rpartition(".")[2] == _SCRIPT:
            continue
        spec = info.module_finder.find_spec(info.name, None)
        if spec is None:
            continue
        yield info.name, spec
        if info.ispkg and spec.submodule_search_locations:
            yield from _modules_under(spec.submodule_search_locations, info.name + ".")


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
