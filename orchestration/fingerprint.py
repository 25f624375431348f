"""Source fingerprints: a short text that changes when the data an ingest asset reads does.

An asset whose input lives outside the warehouse (a file, a URL, a generator) declares
``fingerprint=`` with a function of the run's parameters; the framework records its answer
with every materialization and calls the asset stale when the answer changes. The
helpers here are the cheap, generic ways to get one, cheapest first:

* a local file: its size and modification time (no byte is read);
* a URL: its ``ETag`` / ``Last-Modified`` / ``Content-Length`` from one ``HEAD`` with a
  short timeout; a content hash only when the server sends none of them;
* anything generated: its parameters.

A fingerprint never holds a secret: a URL is named by a hash of itself, not its text
(it may carry a token or a password). When a source cannot be asked (unreachable,
missing), the fingerprint says so and can never equal a recorded one, so the asset is
stale and the run itself reports the real error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: Seconds one ``HEAD`` request may take; fingerprints run before every status and plan.
URL_TIMEOUT_SECONDS = 5.0
_HEADERS = ("etag", "last-modified", "content-length")


def _digest(text: str | bytes, length: int = 16) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:length]


def parameters_fingerprint(kind: str, **parameters: Any) -> str:
    """A generated source, identified by what generates it: ``synthetic rows=10 seed=1``."""
    shown = " ".join(f"{name}={parameters[name]}" for name in sorted(parameters))
    return f"{kind} {shown}".strip()


def file_fingerprint(path: str | Path) -> str:
    """A local file by its resolved path, size and modification time (nanoseconds)."""
    resolved = Path(path).expanduser().resolve()
    try:
        stat = resolved.stat()
    except OSError as error:
        return f"unavailable: file {resolved.name}: {error.strerror or error}"
    return f"file {resolved} size={stat.st_size} mtime_ns={stat.st_mtime_ns}"


def content_fingerprint(path: str | Path) -> str:
    """A file by the SHA-256 of its bytes: for when size and time say nothing reliable."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256 {digest.hexdigest()}"


def url_fingerprint(url: str, *, timeout: float = URL_TIMEOUT_SECONDS) -> str:
    """A URL by the validators its server sends to ``HEAD``, else by its content's hash."""
    import httpx

    name = f"url {_digest(url)}"
    try:
        response = httpx.head(url, follow_redirects=True, timeout=timeout)
        if response.status_code >= 400:
            return f"unavailable: {name}: HTTP {response.status_code}"
        validators = {h: response.headers[h] for h in _HEADERS if h in response.headers}
        if validators.keys() - {"content-length"}:
            return f"{name} {json.dumps(validators, sort_keys=True)}"
        digest = hashlib.sha256()
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as body:
            if body.status_code >= 400:
                return f"unavailable: {name}: HTTP {body.status_code}"
            for block in body.iter_bytes(1 << 20):
                digest.update(block)
        return f"{name} sha256={digest.hexdigest()}"
    except httpx.HTTPError as error:
        # The exception text may echo the URL (and its credentials): name only the class.
        return f"unavailable: {name}: {type(error).__name__}"


def is_available(fingerprint: str | None) -> bool:
    """Whether the source answered (a fingerprint of an unreachable source never matches)."""
    return fingerprint is not None and not fingerprint.startswith("unavailable:")
