"""Code locations: how the framework finds a project's assets without importing it by name.

Like a Dagster code location, the module is named by a setting (``--definitions``, the
``PIPELINE_DEFINITIONS`` environment variable, or ``[tool.pipeline] definitions`` in the
project's ``pyproject.toml``), so ``orchestration`` never imports the pipeline itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.asset import DEFAULT_IO_MANAGER, AssetSpec, registered_assets
from orchestration.derived_deps import UncoveredRead, build_graph, check_graph
from orchestration.errors import ExpectedError, describe_error
from orchestration.graph import AssetGraph, PartialGraph
from orchestration.io_manager import IOManager, IOManagerFactory
from orchestration.missing_storage import for_reading
from orchestration.package_modules import NotLoaded, package_modules
from orchestration.project import configuring_pyproject
from orchestration.user_code import UserCodeError, import_user_module

if TYPE_CHECKING:
    from orchestration.run_hooks import RunHook

DEFINITIONS_ENV = "PIPELINE_DEFINITIONS"

#: The files of each package :func:`assets_declared_in` searched that may declare assets
#: but that no import reaches, by package: what :func:`load_definitions` gives its
#: code location's :attr:`Definitions.not_loaded`.
_NOT_LOADED: dict[str, tuple[NotLoaded, ...]] = {}


class DefinitionsNotFoundError(ExpectedError, LookupError):
    """No code location is configured, it does not exist, or it declares no assets."""


class CodeLocationImportError(RuntimeError):
    """The code location's import failed, and no frame of the user's code says where (a
    :class:`~orchestration.user_code.UserCodeError` when one does): not an
    :class:`ExpectedError`, so the hint says the traceback shows it."""


class NoIOManagerError(ExpectedError, LookupError):
    """The code location declares no IO manager, so its assets have nowhere to live."""


@dataclass(frozen=True)
class Definitions:
    """Everything a code location contributes, the composition root of a command.

    ``assets`` and the ``ddl_paths`` their tables need; ``io_managers``, the factories of
    the IO managers that store them, by the name assets give in ``io_manager=`` (like
    Dagster's resources: the CLI and the deployment build them from here and know no
    storage themselves); ``external_tables``, tables SQL assets may read that no asset
    produces (loaded by another system), so such a read is no error; ``settings_checks``,
    what a command that runs assets checks of the settings they read before anything
    runs (:meth:`check_settings`); ``run_hooks``, what each run tells how it ended, failed
    or not (:mod:`orchestration.run_hooks`); ``not_loaded``, the files of its package
    that may declare assets but that no import reaches (a ``.`` in a name), which
    :func:`load_definitions` fills in: the CLI says each, ``validate`` fails on them.
    """

    assets: Sequence[AssetSpec]
    ddl_paths: Sequence[Path] = field(default_factory=tuple)
    io_managers: Mapping[str, IOManagerFactory] = field(default_factory=dict)
    external_tables: Sequence[str] = field(default_factory=tuple)
    settings_checks: Sequence[Callable[[], None]] = field(default_factory=tuple)
    run_hooks: Sequence[RunHook] = field(default_factory=tuple)
    not_loaded: Sequence[NotLoaded] = field(default_factory=tuple)

    def check_settings(self) -> None:
        """Run each of :attr:`settings_checks`, whose :class:`ExpectedError` fails the
        command in one line: ``materialize`` and ``serve`` call it before they open the
        warehouse or Prefect, so a setting only an asset reads (a ``PUSHGATEWAY_URL``
        whose password cuts its host part short) is said before a run, not in the error
        the run stores and shows, and in words the check chose (no secret in them)."""
        for check in self.settings_checks:
            check()

    def graph(self) -> AssetGraph:
        """The asset graph, each SQL asset's upstream read from its SQL (built once)."""
        return self._graph

    @functools.cached_property
    def _graph(self) -> AssetGraph:
        return build_graph(self.assets, self._analysers, self.external_tables, self.ddl_paths)

    def checked_graph(self) -> tuple[PartialGraph, list[UncoveredRead]]:
        """Every problem :meth:`graph` would refuse with the first of, and the graph of
        the assets none of them reaches: what ``pipeline validate`` checks."""
        return check_graph(self.assets, self._analysers, self.external_tables)

    @functools.cached_property
    def _analysers(self) -> dict[str, IOManager]:
        """The IO managers that read each SQL asset's upstream from its SQL (unopened)."""
        return {name: factory(None) for name, factory in self.io_managers.items()}

    def io_manager(self, name: str = DEFAULT_IO_MANAGER, location: str | None = None) -> IOManager:
        """One IO manager of the code location, built (not yet used) at ``location``."""
        try:
            factory = self.io_managers[name]
        except KeyError:
            raise NoIOManagerError(
                f"the code location declares no IO manager {name!r} "
                f"(it declares {sorted(self.io_managers) or 'none'}); give its Definitions "
                f"io_managers={{{name!r}: ...}} (see the README)"
            ) from None
        return factory(location)

    @contextlib.contextmanager
    def open_io_managers(
        self,
        location: str | None = None,
        *,
        break_lock: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> Iterator[dict[str, IOManager]]:
        """The IO managers by name, their storage set up with the DDL (created where it
        does not exist yet), closed on exit: for a command that writes (``materialize``,
        a served run).

        Each one's run lock (:meth:`IOManager.hold_run_lock`) is held first, before any
        DDL, and let go of on exit: two runs writing one server at once corrupt it.
        ``location`` overrides where they store (the CLI's ``--warehouse``);
        ``break_lock`` takes a lock another run left (``--break-lock``); ``warn`` is
        told of a lock taken from another run, in one line.
        """
        from prefect.runtime import flow_run

        run_id = flow_run.get_id()  # a served run's; the CLI's flow run starts later
        with self._built_io_managers(location) as built, contextlib.ExitStack() as locks:
            for io_manager in built.values():
                locks.enter_context(
                    io_manager.hold_run_lock(flow_run_id=run_id, break_held=break_lock, warn=warn)
                )
            for io_manager in built.values():
                io_manager.setup(self.ddl_paths)
            yield built

    @contextlib.contextmanager
    def read_io_managers(self, location: str | None = None) -> Iterator[dict[str, IOManager]]:
        """The IO managers by name for a command that only reads, closed on exit.

        Nothing is set up and nothing is created: no DDL runs, and an IO manager whose
        storage does not exist is replaced by a
        :class:`~orchestration.missing_storage.MissingStorage`, which reads as empty and
        refuses what needs the storage, so a mistyped location is reported instead of
        becoming a new, empty store.
        """
        with self._built_io_managers(location) as built:
            for io_manager in built.values():
                io_manager.declare(self.ddl_paths)  # versions assets as a run would
            yield {name: for_reading(io_manager) for name, io_manager in built.items()}

    @contextlib.contextmanager
    def _built_io_managers(self, location: str | None) -> Iterator[dict[str, IOManager]]:
        if not self.io_managers:
            raise NoIOManagerError(
                "the code location declares no IO managers; give its Definitions "
                "io_managers={'warehouse': ...} (see the README)"
            )
        built: dict[str, IOManager] = {}
        try:
            for name, factory in self.io_managers.items():
                built[name] = factory(location)
            yield built
        finally:
            for io_manager in built.values():
                io_manager.close()


def configured_module(start: Path | None = None) -> str | None:
    """The code location module named by the environment or the nearest pyproject.toml."""
    if os.environ.get(DEFINITIONS_ENV):
        return os.environ[DEFINITIONS_ENV]
    found = configuring_pyproject(start)
    return found[0] if found else None


def _where_to_run(name: str) -> str:
    """`` (named by DIR/pyproject.toml: run pipeline in DIR)`` when a pyproject.toml above
    the working directory named ``name``: it is imported from the working directory (as
    ``python -m`` imports), so from a subdirectory of the project it is not found."""
    found = None if os.environ.get(DEFINITIONS_ENV) else configuring_pyproject()
    if found is None or found[0] != name or found[1].parent == Path.cwd().resolve():
        return ""
    return f" (named by {found[1]}: run pipeline in {found[1].parent})"


def load_definitions(module_name: str | None = None) -> Definitions:
    """Import the code location and collect its definitions.

    The module may expose ``defs: Definitions``; otherwise every asset declared with the
    decorators inside the module or its submodules (:func:`assets_declared_in`) is used,
    with DDL files from ``DDL_PATHS``, IO manager factories from ``IO_MANAGERS`` and
    ``EXTERNAL_TABLES``.
    """
    name = module_name or configured_module()
    if not name:
        raise DefinitionsNotFoundError(
            "no code location configured: pass --definitions MODULE, set "
            f"{DEFINITIONS_ENV}, or add [tool.pipeline] definitions = 'MODULE' to pyproject.toml"
        )
    try:
        module = import_user_module(name)  # its own code failing names the file and line
    except ModuleNotFoundError as exc:
        raise DefinitionsNotFoundError(
            f"code location module {name!r} cannot be imported: {exc}{_where_to_run(name)}"
        ) from exc
    except UserCodeError:
        raise
    except Exception as exc:  # with no frame of the user's: say which module, and why
        raise _import_failure(name, exc) from exc
    defs = getattr(module, "defs", None)
    if not isinstance(defs, Definitions):
        defs = Definitions(
            assets=assets_declared_in(name),
            ddl_paths=tuple(Path(p) for p in getattr(module, "DDL_PATHS", ())),
            io_managers=dict(getattr(module, "IO_MANAGERS", {})),
            external_tables=tuple(getattr(module, "EXTERNAL_TABLES", ())),
        )
    not_loaded = files_not_loaded(name)
    if not defs.assets:
        unreachable = f" ({not_loaded[0].line()})" if not_loaded else ""
        raise DefinitionsNotFoundError(
            f"code location module {name!r} declares no assets{unreachable}: decorate "
            "functions in it (or its submodules) with @asset / @sql_asset, or give it a "
            "`defs = Definitions(...)`"
        )
    return dataclasses.replace(defs, not_loaded=not_loaded) if not_loaded else defs


def files_not_loaded(module_name: str) -> tuple[NotLoaded, ...]:
    """The files that may declare assets but that no import reaches, of the packages
    :func:`assets_declared_in` searched that are ``module_name`` or inside it."""
    return tuple(
        file
        for package, files in _NOT_LOADED.items()
        if package == module_name or package.startswith(module_name + ".")
        for file in files
    )


def _import_failure(name: str, exc: Exception) -> Exception:
    """What a code location raises whose import failed with no frame of the user's to
    name (:mod:`orchestration.user_code`): expected if its cause was, else a bug, whose
    traceback ``--debug`` shows."""
    message = f"code location module {name!r} failed to import: {describe_error(exc)}"
    if isinstance(exc, ExpectedError):
        return DefinitionsNotFoundError(message)
    return CodeLocationImportError(message)


def assets_declared_in(module_name: str) -> list[AssetSpec]:
    """Assets declared with the decorators in ``module_name`` or its submodules.

    For a package, its modules it has not imported itself are imported first, in name
    order (:mod:`orchestration.package_modules`): an asset in one of them counts as if
    the package imported it, rather than being silently left out. One that fails to
    import is the user's error, said in one line naming it; a file no import reaches
    is kept for :func:`files_not_loaded`, which commands say.
    """
    package = sys.modules.get(module_name)
    if package is not None:
        found = package_modules(package)
        _NOT_LOADED[module_name] = tuple(found.not_loaded)
        for name in found.to_import:
            _import_found(name)
    return [spec for spec in registered_assets() if _declared_in(spec, module_name)]


def _import_found(name: str) -> None:
    """Import a module found in the code location's package: its own code failing names
    its file and line (:mod:`orchestration.user_code`), anything else the module."""
    try:
        import_user_module(name)
    except UserCodeError:
        raise
    except Exception as exc:
        raise _import_failure(name, exc) from exc


def _declared_in(spec: AssetSpec, module_name: str) -> bool:
    """Whether the asset's body was written in ``module_name`` or one of its submodules."""
    declared = getattr(spec.body, "__module__", "") or ""
    return declared == module_name or declared.startswith(module_name + ".")
