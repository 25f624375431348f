"""Answers of SQL analysis kept on disk, so a command does not parse the same SQL again.

Which tables a SELECT reads, and which upstream columns each of its columns comes from,
depend only on the SQL text and the columns of the tables it reads. sqlglot works them out
in Python: 30-40 ms of every command that builds the asset graph (plus importing sqlglot),
and ~0.1 s of column lineage during a run, on a side thread whose hold on the GIL slows
the run's own threads (docs/benchmark.md, "Session 11"). Where the statements of a DDL
file or an asset check begin and end (:mod:`io_managers.sql_tokens`), what a DDL
statement creates and declares (:mod:`io_managers.ddl_analysis`), and a SELECT's normal
form (which an asset check's version hashes) depend on their text alone. One answer is
the engine's: that an asset's checks compile on its staged table
(:mod:`io_managers.checks`), kept under everything the compile depends on. The answers
are kept as small JSON files in ``$PIPELINE_CACHE_DIR`` (default
``$XDG_CACHE_HOME/pipeline/sql-analysis``, else ``~/.cache/pipeline/sql-analysis``);
``PIPELINE_CACHE_DIR=off`` turns this off.

A file's name hashes everything its answer depends on: the question, its inputs, the
installed sqlglot's version and the source of the analysis code. An edit to any of them
asks anew; nothing can read a stale answer. Files are written whole (a temporary file,
renamed), so commands running side by side read a complete answer or none; an unreadable
one is asked anew and rewritten. At most :data:`MAX_ENTRIES` are kept, the oldest go first.
Only answers are kept: a SELECT that cannot be analysed raises every time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from io_managers.atomic_write import write_atomically

CACHE_ENV = "PIPELINE_CACHE_DIR"
#: Entries kept at most; one per distinct SELECT (and set of upstream columns) asked about.
MAX_ENTRIES = 2000
_OFF = ("off", "0", "false", "no")
#: The code an answer and its JSON form come from: an edit to any of it retires them all.
#: An asset's checks are compiled by ``checks.py`` on connections ``transport.py`` sets
#: up (its settings may change what compiles).
_ANALYSIS_SOURCES = (
    "sql_analysis.py",
    "analysis_cache.py",
    "dialect.py",
    "ddl_analysis.py",
    "sql_tokens.py",
    "types.py",
    "checks.py",
    "transport.py",
)

T = TypeVar("T")
log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """Where answers are kept; None when ``PIPELINE_CACHE_DIR`` turns the cache off."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured.lower() in _OFF:
        return None
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pipeline" / "sql-analysis"


def cached(
    question: str,
    inputs: Any,
    answer: Callable[[], T],
    *,
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
) -> T:
    """The kept answer to ``question`` about ``inputs`` (JSON-serialisable), else
    ``answer()``, kept for next time. ``encode``/``decode`` turn it into JSON and back."""
    directory = cache_dir()
    if directory is None:
        return answer()
    path = directory / f"{_key(question, inputs)}.json"
    if path.exists():  # else never asked: a plain miss
        try:
            return decode(json.loads(path.read_bytes()))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.debug("SQL analysis cache: %s unreadable (%s); asking anew", path, exc)
    result = answer()
    try:
        _write(directory, path, json.dumps(encode(result)).encode())
    except OSError as exc:  # the answer stands; only the next command's time is lost
        log.debug("SQL analysis cache: cannot write %s: %s", path, exc)
    return result


def _key(question: str, inputs: Any) -> str:
    identity = [question, inputs, _sqlglot_version(), _code_version()]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


@functools.cache
def _sqlglot_version() -> str:
    """The installed sqlglot, told apart without importing it (~0.3 s) or
    ``importlib.metadata`` (~30 ms): its generated version file (version and commit),
    else its package file's path, size and modification time."""
    spec = importlib.util.find_spec("sqlglot")
    if spec is None or spec.origin is None:
        return "not installed"
    package = Path(spec.origin)
    version_file = package.with_name("_version.py")
    if version_file.is_file():
        return hashlib.sha256(version_file.read_bytes()).hexdigest()
    info = package.stat()
    return f"{package}:{info.st_size}:{info.st_mtime_ns}"


@functools.cache
def _code_version() -> str:
    """A hash of the analysis code's source: an edit to it retires every kept answer."""
    digest = hashlib.sha256()
    for name in _ANALYSIS_SOURCES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


def _write(directory: Path, path: Path, data: bytes) -> None:
    write_atomically(path, data)
    _prune(directory)


def _prune(directory: Path) -> None:
    """Keep the newest :data:`MAX_ENTRIES` answers (called after each write: a miss)."""
    entries = list(directory.glob("*.json"))
    if len(entries) <= MAX_ENTRIES:
        return
    ages: list[tuple[float, Path]] = []
    for entry in entries:
        try:
            ages.append((entry.stat().st_mtime, entry))
        except FileNotFoundError:  # another command pruned it meanwhile
            continue
    ages.sort()
    for _, entry in ages[: len(ages) - MAX_ENTRIES]:
        entry.unlink(missing_ok=True)
