"""How a run's messages name its settings: the command line's options, or a deployment's
parameters.

A hint is worth what its reader can do with it. A served run's ``check the path given by
--source`` sent its reader to an option nobody typed: that run took its source as the
deployment's ``source`` parameter (``pipeline serve --source``, a Custom run in the UI,
``prefect.yaml``), and that is what to change. So the deployment's flow
(:func:`orchestration.deployment.materialize_assets`) runs under :func:`as_parameters`,
and a message that names a setting asks :func:`setting` or :func:`setting_given` how:
``the source parameter`` and ``source='data.csv'`` there, ``--source`` and ``--source
data.csv`` everywhere else (the CLI, a library call), as before.

The choice is kept in a context variable, so the run's worker threads, which Prefect
starts with a copy of the context, name them as the flow does.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator
from contextvars import ContextVar

#: The command line's options that a deployment run takes as parameters -> their names.
PARAMETERS = {"--select": "select", "--source": "source", "--source-encoding": "source_encoding"}

_as_parameters: ContextVar[bool] = ContextVar("settings_as_parameters", default=False)


@contextlib.contextmanager
def as_parameters() -> Iterator[None]:
    """Name the run's settings as a deployment's parameters until the block ends."""
    token = _as_parameters.set(True)
    try:
        yield
    finally:
        _as_parameters.reset(token)


def named_as_parameters() -> bool:
    """Whether this run takes its settings as a deployment's parameters."""
    return _as_parameters.get()


def parameter_for(option: str) -> str | None:
    """The parameter that stands for ``option`` (``--source``) in this run, if the run
    takes its settings as parameters and ``option`` is one of them; else None."""
    return PARAMETERS.get(option) if named_as_parameters() else None


def setting(option: str) -> str:
    """``option`` named as this run's reader sets it: ``the source parameter`` in a
    deployment run, else ``option`` itself (which may be an environment variable's name)."""
    parameter = parameter_for(option)
    return f"the {parameter} parameter" if parameter else option


def setting_given(option: str, value: str) -> str:
    """``option`` given ``value``, as this run's reader would give it: ``source='a b.csv'``,
    as Prefect shows a parameter, in a deployment run, else ``--source 'a b.csv'``, quoted
    for a shell."""
    parameter = parameter_for(option)
    return f"{parameter}={value!r}" if parameter else f"{option} {shlex.quote(value)}"
