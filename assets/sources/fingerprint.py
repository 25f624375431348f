"""The Online Retail source's fingerprint, so the framework knows when the source changed.

The ingest asset declares ``fingerprint=source_fingerprint``; the framework calls it with
the run's parameters and compares the answer with the one recorded at the last
materialization. The source is resolved exactly as :func:`assets.sources.read_source`
resolves it (run parameter, else ``$ONLINE_RETAIL_DATA_URL``, else synthetic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.fingerprint import (
    file_fingerprint,
    parameters_fingerprint,
    unavailable,
    url_fingerprint,
)


def source_fingerprint(params: Mapping[str, Any]) -> str:
    """Size and mtime of a file, the validators of a URL, the generator's parameters."""
    # Here, not at the top: the ingest asset's module imports this one, and declaring
    # assets must not import the readers' data stack (pyarrow, pandas).
    from assets.sources import is_url, resolve_source, synthetic

    spec = resolve_source(params)
    if spec.startswith("synthetic"):
        try:
            rows, seed = synthetic.parse_spec(spec)
        except ValueError as error:
            return unavailable(str(error))
        return parameters_fingerprint("synthetic", rows=rows, seed=seed)
    if is_url(spec):
        return url_fingerprint(spec)
    return file_fingerprint(spec)
