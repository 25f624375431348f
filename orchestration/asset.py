"""Asset declarations: plain data describing one warehouse table and how to compute it.

Following Dagster's ``AssetSpec``/``AssetsDefinition`` split, a declaration carries no
execution logic of its own; the resolver and the IO managers decide how and where it runs.
A declaration is built either with the :func:`asset` / :func:`sql_asset` decorators or
directly as an :class:`AssetSpec` (for generated assets).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from orchestration.checks import AssetCheck
from orchestration.errors import ExpectedError, did_you_mean
from orchestration.user_code import import_user_module

if TYPE_CHECKING:
    from orchestration.context import AssetContext

AssetKind = Literal["sql", "python"]
#: The IO manager an asset is stored by unless it names another.
DEFAULT_IO_MANAGER = "warehouse"
WriteMode = Literal["replace", "insert_new"]

_KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TABLE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_SCHEMA_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class AssetDefinitionError(ExpectedError, ValueError):
    """A declaration is malformed; raised at import time so mistakes surface early."""


class SchemaImportError(AssetDefinitionError):
    """An asset's ``"module:Model"`` schema reference names nothing importable.

    Raised when the schema is first read, so most commands refuse there; ``pipeline
    validate`` reports :attr:`reason` as one finding of that asset and checks the rest.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"asset {key!r}: {reason}")
        #: What is wrong, without the asset (a finding names the asset itself).
        self.reason = reason


class _Schema:
    """The ``schema`` field: a Pandera model, or a ``"module:Model"`` reference to one.

    A reference is imported the first time the field is read (materializing, validating),
    never while assets are only declared, listed or selected: declaring a model by
    reference keeps pandera and pandas (~1 s of imports) out of ``pipeline list``.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, spec: AssetSpec | None, owner: type | None = None) -> type | None:
        if spec is None:
            return None  # the dataclass default
        value = spec.__dict__[self._slot]
        if isinstance(value, str):
            value = _import_schema(spec.key, value)
            spec.__dict__[self._slot] = value
        return value

    def __set__(self, spec: AssetSpec, value: type | str | None) -> None:
        spec.__dict__[self._slot] = value


class _UniqueKey:
    """The ``unique_key`` field: as declared, else read from the schema when first needed.

    An insert-only asset's key is a fact about its table, so the schema states it once:
    ``Config.unique`` if the model sets it, else its first column marked ``unique=True``.
    Reading the schema waits until the key is first needed (a materialization), so a
    schema given by reference stays unimported while assets are only listed.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}"

    def __get__(self, spec: AssetSpec | None, owner: type | None = None) -> tuple[str, ...]:
        if spec is None:
            return ()  # the dataclass default
        value: tuple[str, ...] = spec.__dict__[self._slot]
        if not value and spec.write_mode == "insert_new":
            value = _schema_key(spec)
            spec.__dict__[self._slot] = value
        return value

    def __set__(self, spec: AssetSpec, value: Iterable[str]) -> None:
        spec.__dict__[self._slot] = tuple(value)


def _schema_key(spec: AssetSpec) -> tuple[str, ...]:
    model = getattr(spec.schema, "to_schema", lambda: spec.schema)()
    declared = getattr(model, "unique", None)
    if declared:
        return (declared,) if isinstance(declared, str) else tuple(declared)
    columns = getattr(model, "columns", {})
    for name, column in columns.items():
        if getattr(column, "unique", False):
            return (str(name),)
    raise AssetDefinitionError(
        f"asset {spec.key!r}: write_mode 'insert_new' needs a unique key: mark the key "
        "unique in its schema (Field(unique=True) or Config.unique), or pass unique_key="
    )


def _import_schema(key: str, reference: str) -> type:
    """The model ``reference`` names; its module's own code failing names the file and
    line (:func:`~orchestration.user_code.import_user_module`), a module or model that
    is not there names the asset."""
    module_name, _, name = reference.partition(":")
    cannot = f"schema {reference!r} cannot be imported"
    try:
        module = import_user_module(module_name)
    except ModuleNotFoundError as exc:
        raise SchemaImportError(key, f"{cannot}: {exc}") from exc
    try:
        return getattr(module, name)
    except AttributeError as exc:
        # A misspelt model name is the likely slip: name the module's close ones.
        classes = [member for member, value in vars(module).items() if isinstance(value, type)]
        raise SchemaImportError(key, f"{cannot}: {exc}{did_you_mean(name, classes)}") from exc


@dataclass(frozen=True)
class AssetSpec:
    """One asset: a warehouse table, its upstream assets, its schema and its body.

    ``body`` receives an :class:`~orchestration.context.AssetContext`. For a SQL asset it
    returns a ``SELECT`` that the IO manager runs inside the warehouse; for a Python asset
    it returns a pandas DataFrame, a pyarrow Table, or an iterable of either (streamed in
    chunks so large sources never sit in memory whole).

    ``schema`` is a Pandera ``DataFrameModel`` or a ``"module:Model"`` reference to one,
    imported when first read (see :class:`_Schema`).

    ``write_mode`` says how a materialization is published: ``replace`` swaps the whole
    table atomically; ``insert_new`` (Data Vault) appends only rows whose ``unique_key``
    is not yet in the table, so reruns are idempotent. The key comes from the schema
    (see :class:`_UniqueKey`) unless ``unique_key`` names it.

    ``code_version`` overrides the version derived from the body (see
    :mod:`orchestration.code_version`), for a Python asset whose behaviour lives in helpers.
    ``fingerprint`` is for assets that read a source outside the warehouse: given the run's
    parameters it returns a short text that changes when the source does (see
    :mod:`orchestration.fingerprint`), so the asset is stale when its source changed.

    ``column_lineage`` lets a Python asset state which upstream columns
    (``database.table.column``) each of its columns comes from; a SQL asset's is parsed
    from its SELECT instead (see :mod:`orchestration.column_lineage`). ``also_reads``
    names the upstream columns it reads besides, to join, group or choose rows: none of
    its columns is computed from them, yet renaming one breaks it all the same, which is
    what following a column downstream must say (:mod:`orchestration.column_impact`).

    ``latest_by`` names the column whose greatest values are the latest run's rows, for a
    table that keeps every run's (``insert_new``): a run whose last table it is suggests
    a query of it ordered by that column, newest first (with none, ``LIMIT 10`` showed
    the first run's rows after any later run).
    """

    key: str
    table: str
    body: Callable[[AssetContext], Any]
    kind: AssetKind
    deps: tuple[str, ...] = ()
    group: str = "default"
    schema: type | str | None = _Schema()  # type: ignore[assignment]
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owners: tuple[str, ...] = ()
    io_manager: str = DEFAULT_IO_MANAGER
    write_mode: WriteMode = "replace"
    unique_key: tuple[str, ...] = _UniqueKey()  # type: ignore[assignment]
    checks: tuple[AssetCheck, ...] = ()
    code_version: str | None = None
    fingerprint: Callable[[Mapping[str, Any]], str] | None = None
    column_lineage: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    also_reads: tuple[str, ...] = ()
    latest_by: str | None = None

    def __post_init__(self) -> None:
        if not _KEY_PATTERN.match(self.key):
            raise AssetDefinitionError(
                f"asset key {self.key!r} must be an identifier (letters, digits, underscore)"
            )
        if not _TABLE_PATTERN.match(self.table):
            raise AssetDefinitionError(
                f"asset {self.key!r}: table {self.table!r} must be written 'database.Table'"
            )
        if self.kind not in ("sql", "python"):
            raise AssetDefinitionError(f"asset {self.key!r}: kind must be 'sql' or 'python'")
        if self.write_mode not in ("replace", "insert_new"):
            raise AssetDefinitionError(
                f"asset {self.key!r}: write_mode must be 'replace' or 'insert_new'"
            )
        if (
            self.write_mode == "insert_new"
            and not self.__dict__["_unique_key"]
            and self.__dict__["_schema"] is None
        ):
            raise AssetDefinitionError(
                f"asset {self.key!r}: write_mode 'insert_new' needs a unique key: give it "
                "a schema that marks the key unique, or unique_key columns"
            )
        raw_schema = self.__dict__["_schema"]
        if isinstance(raw_schema, str) and not _SCHEMA_REFERENCE.match(raw_schema):
            raise AssetDefinitionError(
                f"asset {self.key!r}: schema {raw_schema!r} must be a model class or a "
                "'package.module:Model' reference"
            )
        if len(set(self.deps)) != len(self.deps):
            raise AssetDefinitionError(f"asset {self.key!r} lists a dependency twice")
        if self.key in self.deps:
            raise AssetDefinitionError(f"asset {self.key!r} depends on itself")
        object.__setattr__(self, "deps", tuple(self.deps))
        object.__setattr__(self, "owners", tuple(self.owners))
        object.__setattr__(self, "checks", tuple(self.checks))
        names = [check.name for check in self.checks]
        if len(set(names)) != len(names):
            raise AssetDefinitionError(f"asset {self.key!r} has two checks with one name")
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        lineage = {column: tuple(sources) for column, sources in self.column_lineage.items()}
        object.__setattr__(self, "column_lineage", MappingProxyType(lineage))
        object.__setattr__(self, "also_reads", tuple(self.also_reads))
        if self.latest_by is not None and not _KEY_PATTERN.match(self.latest_by):
            raise AssetDefinitionError(
                f"asset {self.key!r}: latest_by {self.latest_by!r} must be a column name "
                "(letters, digits, underscore)"
            )
        if self.also_reads and not self.column_lineage:
            raise AssetDefinitionError(
                f"asset {self.key!r}: also_reads adds to a declared column_lineage; "
                "declare column_lineage too"
            )

    @property
    def database(self) -> str:
        return self.table.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".", 1)[1]


_default_registry: dict[str, AssetSpec] = {}


def register(spec: AssetSpec) -> AssetSpec:
    """Add a declaration to the default registry (the one piece of global state)."""
    existing = _default_registry.get(spec.key)
    if existing is not None and existing is not spec:
        raise AssetDefinitionError(
            f"duplicate asset key {spec.key!r}: declared for {existing.table} and {spec.table}"
        )
    _default_registry[spec.key] = spec
    return spec


def registered_assets() -> list[AssetSpec]:
    """Every asset declared so far with the decorators, in declaration order."""
    return list(_default_registry.values())


#: A Sphinx cross-reference role in a docstring (``:mod:`x```, ``:py:func:`~a.b```).
_SPHINX_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`~?([^`]+)`")


def description_from(docstring: str | None) -> str:
    """An asset's description from its function's docstring: its Sphinx roles as plain
    code (`` `x` ``), since the Prefect UI shows the description as Markdown, where
    ``:mod:`x``` is markup nobody renders."""
    return _SPHINX_ROLE.sub(r"`\1`", inspect.cleandoc(docstring or ""))


def asset(
    *,
    table: str,
    deps: Iterable[str] = (),
    key: str | None = None,
    kind: AssetKind = "python",
    group: str = "default",
    schema: type | str | None = None,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Iterable[str] = (),
    io_manager: str = DEFAULT_IO_MANAGER,
    write_mode: WriteMode = "replace",
    unique_key: Iterable[str] = (),
    checks: Iterable[AssetCheck] = (),
    code_version: str | None = None,
    fingerprint: Callable[[Mapping[str, Any]], str] | None = None,
    column_lineage: Mapping[str, Iterable[str]] | None = None,
    also_reads: Iterable[str] = (),
    latest_by: str | None = None,
) -> Callable[[Callable[..., Any]], AssetSpec]:
    """Declare an asset from a function; its name is the key unless ``key`` is given.

    A Python asset's function returns the rows (DataFrame); a SQL asset's returns a
    ``SELECT``. The docstring becomes the description. ``schema`` is a Pandera model or a
    ``"module:Model"`` reference, imported when a materialization first needs it.
    """

    def wrap(fn: Callable[..., Any]) -> AssetSpec:
        spec = AssetSpec(
            key=key or fn.__name__,
            table=table,
            body=fn,
            kind=kind,
            deps=tuple(deps),
            group=group,
            schema=schema,
            description=description or description_from(fn.__doc__),
            tags=dict(tags or {}),
            owners=tuple(owners),
            io_manager=io_manager,
            write_mode=write_mode,
            unique_key=tuple(unique_key),
            checks=tuple(checks),
            code_version=code_version,
            fingerprint=fingerprint,
            column_lineage={c: tuple(s) for c, s in (column_lineage or {}).items()},
            also_reads=tuple(also_reads),
            latest_by=latest_by,
        )
        return register(spec)

    return wrap


sql_asset = functools.partial(asset, kind="sql")
sql_asset.__doc__ = "Declare a SQL asset: the function returns a SELECT run inside the warehouse."
