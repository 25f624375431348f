"""Download a source over HTTP(S) to a temporary file, retrying only what may heal.

Connection failures, timeouts, HTTP 429 and 5xx are transient: they are retried with
backoff. Anything else (404, 403, ...) will not change on retry and fails at once.
Messages name the URL without credentials or query string (see ``redact_url``).
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from assets.sources.errors import SourceError, redact_url

#: Seconds to wait before each retry; the attempt count is one more than its length.
DEFAULT_BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0)
_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def download(
    url: str,
    directory: Path,
    *,
    backoff: tuple[float, ...] = DEFAULT_BACKOFF,
    timeout: float = 60.0,
) -> Path:
    """Stream ``url`` into ``directory``; returns the file (named like the URL's path)."""
    label = redact_url(url)
    name = PurePosixPath(urlsplit(url).path).name or "download"
    target = directory / name
    last_problem = ""
    delays = (0.0, *backoff)
    for delay in delays:
        if delay:
            time.sleep(delay)
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
                if response.status_code in _TRANSIENT_STATUS:
                    last_problem = f"HTTP {response.status_code} {response.reason_phrase}"
                    continue
                if response.status_code >= 400:
                    raise SourceError(
                        f"HTTP {response.status_code} {response.reason_phrase}; check the URL",
                        source=label,
                    )
                with target.open("wb") as handle:
                    for block in response.iter_bytes(chunk_size=1 << 20):
                        handle.write(block)
                return target
        except httpx.TransportError as error:
            # The exception text can echo the full URL; report only its class and our label.
            last_problem = f"{type(error).__name__} (network unreachable or refused)"
        except httpx.InvalidURL as error:
            raise SourceError("invalid URL", source=label) from error
    raise SourceError(
        f"download failed after {len(delays)} attempt(s): {last_problem}; check the URL and the "
        "network, or download the file and pass its path",
        source=label,
    )
