"""The Online Retail source's fingerprint, so the framework knows when the source changed.

The ingest asset declares ``fingerprint=source_fingerprint``; the framework calls it with
the run's parameters and compares the answer with the one recorded at the last
materialization. The source is resolved exactly as :func:`assets.sources.read_source`
resolves it (run parameter, else ``$ONLINE_RETAIL_DATA_URL``, else synthetic).

The encoding a file or URL is read in is part of the source: the same bytes read as
Latin-1 rather than UTF-8 are other text (or none), so changing ``--source-encoding``
makes the ingest asset stale. UTF-8, the default, adds nothing, so fingerprints recorded
before the option existed still match.

It is a :class:`~orchestration.fingerprint.SourceFingerprint`: it also names the source
(:func:`assets.sources.resolve_source`, for the ingest asset's page) and the setting
that chose it (:func:`assets.sources.source_named_by`), so that a run given none,
which reads the generator, is refused over an asset built from another source; and says
when a path to no file was given (:func:`assets.sources.absent_file`), so that ``status``
and ``plan`` stop at a mistyped ``--source`` in the words the run would fail with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assets.sources import absent_file, resolve_source, source_named_by
from orchestration.fingerprint import (
    URL_TIMEOUT_SECONDS,
    SourceFingerprint,
    file_fingerprint,
    parameters_fingerprint,
    read_in,
    unavailable,
    url_fingerprint,
)
from orchestration.synthetic_source import is_synthetic


def _taken(params: Mapping[str, Any]) -> str:
    """A file's size, times and inode, a URL's validators, the generator's parameters;
    with the encoding the file is read in, when it is not UTF-8."""
    # Here, not at the top: the ingest asset's module imports this one, and declaring
    # assets must not import the readers' data stack (pyarrow, pandas).
    from assets.sources import (
        SourceError,
        is_url,
        resolve_source,
        resolve_source_encoding,
        resolve_source_timeout,
        synthetic,
        unreadable_url,
    )

    spec = resolve_source(params)
    if is_synthetic(spec):
        try:
            rows, seed = synthetic.parse_spec(spec)
        except ValueError as error:
            return unavailable(str(error))
        return parameters_fingerprint(
            "synthetic", rows=rows, seed=seed, version=synthetic.GENERATOR_VERSION
        )
    try:
        encoding = resolve_source_encoding(params)
    except SourceError as error:  # the run fails on it too, in the same words
        return unavailable(str(error))
    if is_url(spec):
        if problem := unreadable_url(spec, source_named_by(params)):
            return unavailable(problem)  # the run fails on it too, in the same words
        # Asked before the download, and within its deadline (``--source-timeout``) too.
        try:
            timeout = min(URL_TIMEOUT_SECONDS, resolve_source_timeout(params))
        except SourceError as error:  # the run fails on it too, in the same words
            return unavailable(str(error))
        return read_in(url_fingerprint(spec, timeout=timeout), encoding)
    return read_in(file_fingerprint(spec), encoding)


def _absent(params: Mapping[str, Any]) -> str | None:
    """Why the source a run with ``params`` reads is not there (a path to no file), in the
    words the run fails with; None when it may be."""
    absent = absent_file(resolve_source(params), source_named_by(params))
    return None if absent is None else str(absent)


#: What the ingest asset declares as ``fingerprint=``.
source_fingerprint = SourceFingerprint(
    _taken, chosen_by=source_named_by, absent=_absent, named=resolve_source
)
