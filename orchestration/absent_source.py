"""Stop ``status``, ``plan`` and ``materialize`` at a ``--source`` that is not there: a
typo, not news.

Both judge each ingest asset on the source a run would read, and a source that cannot be
asked makes the asset stale ("source cannot be asked"): nothing then says its data is
unchanged. For a path the user typed to no file, that answer was wrong three ways: it
exited 0, it said nothing of the typo but in one row's why, and its next step passed the
typo on to ``plan`` and ``materialize``, where a flow run failed the ingest asset on it,
skipped the rest and left the asset's last attempt failed. Such a source is the command
line's mistake, so ``status`` and ``plan`` stop before reading the warehouse, and a run
whose selection reads it before it starts (:func:`~orchestration.resolver.check_runnable`),
in the one line the run failed with, exit 1 (see :func:`SourceFingerprint.absent`).

A source that cannot be asked now is judged as before: a URL whose server does not answer
may answer later, and one named by the environment or a deployment is the configuration
every run reads. Status still answers for every other asset then, and an unreachable
default source must not stop a plain ``status``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.errors import ExpectedError
from orchestration.fingerprint import SourceFingerprint
from orchestration.fingerprinted_source import SOURCE_OPTION


class AbsentSourceError(ExpectedError, RuntimeError):
    """The source typed as ``--source`` is not there (a path to no file, or to a directory)."""


def absent_source_error(
    specs: Iterable[AssetSpec], params: Mapping[str, Any]
) -> AbsentSourceError | None:
    """Why one of ``specs`` cannot be judged or run on the ``--source`` in ``params``: the
    first that reads it and finds it absent says so; None when none does, or when no
    source was typed (a fingerprint that is a plain function is never asked)."""
    for spec in specs:
        fingerprint = spec.fingerprint
        if not isinstance(fingerprint, SourceFingerprint):
            continue
        if fingerprint.chosen_by(params) != SOURCE_OPTION:
            continue
        if (why := fingerprint.absent(params)) is not None:
            return AbsentSourceError(why)
    return None
