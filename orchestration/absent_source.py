"""Stop ``status`` and ``plan`` at a ``--source`` that is not there: a typo, not news.

Both judge each ingest asset on the source a run would read, and a source that cannot be
asked makes the asset stale ("source cannot be asked"): nothing then says its data is
unchanged. For a path the user typed to no file, that answer was wrong three ways: it
exited 0, it said nothing of the typo but in one row's why, and its next step passed the
typo on to ``plan`` and ``materialize``, where the run failed on it. Such a source is the
command line's mistake, so both commands now stop before reading the warehouse, in the
one line the run fails with, and exit 1 as that run does (the path is checked when it is
read, as every command reads it; see :func:`SourceFingerprint.absent`).

A source that cannot be asked now is judged as before: a URL whose server does not answer
may answer later, and one named by the environment or a deployment is the configuration
every run reads. Status still answers for every other asset then, and an unreachable
default source must not stop a plain ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.errors import ExpectedError
from orchestration.fingerprint import SourceFingerprint
from orchestration.fingerprinted_source import SOURCE_OPTION
from orchestration.graph import AssetGraph


class AbsentSourceError(ExpectedError, RuntimeError):
    """The source typed as ``--source`` is not there (a path to no file)."""


def absent_source_error(graph: AssetGraph, params: Mapping[str, Any]) -> AbsentSourceError | None:
    """Why an asset of ``graph`` cannot be judged on the ``--source`` in ``params``: the
    first that reads it and finds it absent says so; None when none does, or when no
    source was typed (a fingerprint that is a plain function is never asked)."""
    for spec in graph:
        fingerprint = spec.fingerprint
        if not isinstance(fingerprint, SourceFingerprint):
            continue
        if fingerprint.chosen_by(params) != SOURCE_OPTION:
            continue
        if (why := fingerprint.absent(params)) is not None:
            return AbsentSourceError(why)
    return None
