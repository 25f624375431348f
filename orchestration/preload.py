"""The libraries a materialization imports, imported at once and kept out of the collector.

A ``pipeline materialize`` imports Prefect, pandas, pyarrow, pandera and sqlglot before
its work: some 200,000 container objects (modules, classes, functions) that live as long
as the process. CPython's garbage collector walks all of them in each full collection,
with the GIL held, so every thread of the run waits. Measured on a 100,000-row run
(docs/benchmark.md, "Session 8"): 0.44-0.56 s of collection in a cold command and
0.18-0.25 s in a warm one, where a single full collection of the inherited heap took
0.15-0.19 s.

:func:`importing` runs imports with the collector off (they build long-lived objects and
almost no garbage) and then :func:`gc.freeze` s everything allocated so far: moved into a
permanent generation no collection visits. Afterwards a collection walks only what the
work allocates. The warm starter imports this way before it forks (the use CPython's
documentation gives for ``gc.freeze``: the collector then also leaves the pages a child
shares with the starter unwritten); a cold ``materialize`` does the same once its code
location is loaded (a broken one is reported before seconds of imports).

Frozen garbage is never freed, so only a process that runs one command and ends freezes
(:func:`runs_one_command`, said by the console script, and only ``materialize`` imports
this way): a test session calling commands in-process imports normally, and a
long-running ``pipeline serve`` never freezes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator, Sequence

#: What a materialization imports before and during its work, in the order it does. Only
#: libraries: the project's own modules run as edited (never imported ahead).
LIBRARIES = (
    "prefect",
    "prefect.flows",
    "prefect.tasks",
    "prefect.assets",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",  # the flow module's, at the first flow call
    "pydantic.v1",  # Prefect checks a flow's parameter annotations with it
    "anyio.streams.memory",  # Prefect's client, at its first request
    "anyio.streams.tls",
    "anyio._backends._asyncio",  # Prefect's log and event workers' clients
    "encodings.idna",  # the API's host name, at the first connection
    "pandas",
    "pyarrow",
    "pyarrow.csv",
    "pyarrow.parquet",
    "pyarrow.pandas_compat",  # the first DataFrame to Arrow
    "python_calamine",  # the ingest's readers
    "xml.etree.ElementTree",  # chdb's Python side (chdb itself only after the fork)
    "pandera.pandas",
    "pandera.backends.pandas.builtin_checks",  # imported at the first validation
    "pandera.backends.pandas.builtin_hypotheses",
    "pandera.typing.dask",  # and this at the first schema build
    "pandera.backends.pandas.register",  # the first DataFrame validated
    "plotly",  # the dashboard asset
    "sqlglot",
    "sqlglot.dialects.clickhouse",  # loaded by name at the first parse
    "sqlglot.lineage",  # column lineage
    "sqlglot.optimizer.qualify",
    "typer",
    "rich.console",
)

_one_command = False


def runs_one_command() -> None:
    """Say that this process runs one command and then ends (the ``pipeline`` console
    script, a warm starter's child): only such a process freezes what it imported."""
    global _one_command
    _one_command = True


@contextlib.contextmanager
def importing() -> Iterator[None]:
    """Run imports without collections, then freeze everything allocated so far.

    The collector is switched back on (if it was) even when an import fails.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def import_libraries(names: Sequence[str] = LIBRARIES, *, freeze: bool | None = None) -> None:
    """Import ``names`` (by default :data:`LIBRARIES`) now, and freeze them if told to; by
    default only in a one-command process."""
    frozen = _one_command if freeze is None else freeze
    with importing() if frozen else contextlib.nullcontext():
        for name in names:
            importlib.import_module(name)
