"""Where Online Retail rows come from: files, URLs or the synthetic generator.

``read_source(spec)`` streams ``raw.online_retails`` rows, a chunk at a time, from:

- ``synthetic[:ROWS[:SEED]]`` - the offline generator (default ``synthetic:100000``);
- an ``http(s)://`` URL or a local path to the UCI zip (``online_retail_II.xlsx`` inside,
  both sheets read), an ``.xlsx`` (every sheet), a ``.csv`` or a ``.parquet`` file.

CSV text is UTF-8 (a byte order mark allowed) unless the run names another encoding
(``--source-encoding``, else ``$ONLINE_RETAIL_SOURCE_ENCODING``): Kaggle's copy of the
data set is Latin-1. Its fields may be separated by ``;``, tabs or ``|`` instead of
commas, as its header shows (:mod:`assets.sources.csv_layout`).

A source that cannot be read raises :class:`SourceError` naming the file/URL, row, column
and cause; nothing is yielded after it, so the ingest asset publishes nothing.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assets.sources.download import DEFAULT_TIMEOUT_SECONDS
from assets.sources.errors import SourceError, file_error
from assets.sources.read_ahead import read_ahead
from assets.sources.unchanged import SourceVersion
from orchestration.redaction import redact_url, url_problem
from orchestration.setting_names import setting
from orchestration.synthetic_source import is_synthetic
from orchestration.text_encoding import (
    DEFAULT_ENCODING,
    SOURCE_ENCODING_OPTION,
    SOURCE_ENCODING_PARAM,
    codec_name,
    is_utf8,
)

# The readers (pyarrow, pandas, numpy, httpx) are imported by the functions that read:
# declaring the ingest asset, which imports this package, must not pay ~1 s for them.
if TYPE_CHECKING:
    import pyarrow as pa

    from assets.sources.files import SourceChunk

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_SOURCE",
    "RAW_COLUMNS",
    "RAW_SCHEMA",
    "SOURCE_ENCODING_ENV",
    "SOURCE_ENV",
    "SOURCE_TIMEOUT_ENV",
    "SourceError",
    "absent_file",
    "describe_source",
    "engine_read",
    "is_url",
    "loaded_source_sql",
    "read_source",
    "resolve_source",
    "resolve_source_encoding",
    "resolve_source_timeout",
    "source_named_by",
    "source_version",
    "unreadable_url",
]

#: Environment variable naming the source when the run does not.
SOURCE_ENV = "ONLINE_RETAIL_DATA_URL"
#: How a user gives the run's ``source`` parameter (``pipeline materialize --source``).
SOURCE_OPTION = "--source"
#: Environment variable bounding a source download, in seconds, when the run does not.
SOURCE_TIMEOUT_ENV = "ONLINE_RETAIL_SOURCE_TIMEOUT"
#: Environment variable naming the text encoding of a CSV source when the run does not.
SOURCE_ENCODING_ENV = "ONLINE_RETAIL_SOURCE_ENCODING"
DEFAULT_SOURCE = "synthetic:100000"
DEFAULT_CHUNK_ROWS = 250_000


def __getattr__(name: str) -> Any:
    """``RAW_COLUMNS`` and ``RAW_SCHEMA`` live with the normaliser (an Arrow schema)."""
    if name in ("RAW_COLUMNS", "RAW_SCHEMA"):
        from assets.sources import normalize

        return getattr(normalize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_source(params: Mapping[str, Any] | None = None) -> str:
    """The run's ``source`` parameter, else ``$ONLINE_RETAIL_DATA_URL``, else synthetic."""
    chosen = (params or {}).get("source") or os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE
    return str(chosen).strip()


def source_named_by(params: Mapping[str, Any] | None = None) -> str:
    """The setting that named the run's source (``--source`` or ``ONLINE_RETAIL_DATA_URL``),
    or "" for the default, so that a hint about a bad source sends the user to the setting
    they gave: the option wins over the variable, so pointing at the other one misleads."""
    if (params or {}).get("source"):
        return SOURCE_OPTION
    return SOURCE_ENV if os.environ.get(SOURCE_ENV) else ""


def resolve_source_timeout(params: Mapping[str, Any] | None = None) -> float:
    """The run's ``source_timeout``, else ``$ONLINE_RETAIL_SOURCE_TIMEOUT``, else 600 s."""
    chosen = (params or {}).get("source_timeout")
    origin = "--source-timeout"
    if chosen is None and os.environ.get(SOURCE_TIMEOUT_ENV):
        chosen, origin = os.environ[SOURCE_TIMEOUT_ENV], SOURCE_TIMEOUT_ENV
    if chosen is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(chosen)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise SourceError(
            f"{origin}={chosen!r}: the source timeout must be a positive number of seconds"
        )
    return seconds


def resolve_source_encoding(params: Mapping[str, Any] | None = None) -> str:
    """The run's ``source_encoding``, else ``$ONLINE_RETAIL_SOURCE_ENCODING``, else UTF-8,
    as Python's name for the codec (``latin-1`` is ``iso8859-1``), so that two names for
    one encoding make one fingerprint. An unknown name raises :class:`SourceError` naming
    the setting that gave it."""
    chosen = (params or {}).get(SOURCE_ENCODING_PARAM)
    origin = SOURCE_ENCODING_OPTION
    if chosen is None and os.environ.get(SOURCE_ENCODING_ENV):  # set and not empty
        chosen, origin = os.environ[SOURCE_ENCODING_ENV], SOURCE_ENCODING_ENV
    if chosen is None:
        return DEFAULT_ENCODING
    return _codec(str(chosen), origin)


def is_url(spec: str) -> bool:
    """Whether the source is fetched over HTTP(S) rather than read from a path."""
    return spec.lower().startswith(("http://", "https://"))


def unreadable_url(spec: str, named_by: str) -> str | None:
    """Why the source URL cannot be read (its password cut short by a ``?``), naming the
    setting that gave it (:func:`source_named_by`) and not the URL; None if it can be.
    The command line refuses such a ``--source``; the environment's is refused here."""
    name = named_by if named_by == SOURCE_ENV else f"the {named_by or 'source'} URL"
    return url_problem(spec, name)


def describe_source(spec: str) -> str:
    """How the source is named in logs and RECORD_SOURCE (never with credentials)."""
    if is_synthetic(spec):
        rows, seed = _synthetic_spec(spec)
        return f"synthetic:{rows}:{seed}"
    if is_url(spec):
        return redact_url(spec)
    return Path(spec).name


def _synthetic_spec(spec: str) -> tuple[int, int]:
    """ROWS and SEED of a generated source; a malformed spec (from the environment: the
    command line refuses one) is a :class:`SourceError`, as a missing file is."""
    from assets.sources import synthetic

    try:
        return synthetic.parse_spec(spec)
    except ValueError as error:
        raise SourceError(str(error)) from error


def _synthetic_chunks(spec: str, chunk_rows: int) -> Iterator[SourceChunk]:
    import pyarrow as pa

    from assets.sources import synthetic
    from assets.sources.files import SourceChunk

    rows, seed = _synthetic_spec(spec)
    # Converted to Arrow once (typed columns, zero-copy slices), like a Parquet file.
    table = pa.Table.from_pandas(synthetic.generate(rows, seed), preserve_index=False)
    label = describe_source(spec)
    for start in range(0, table.num_rows, chunk_rows):
        yield SourceChunk(table.slice(start, chunk_rows), label, start + 1)


def _chunks(
    spec: str, chunk_rows: int, scratch: Path, timeout: float, named_by: str, encoding: str
) -> Iterator[SourceChunk]:
    from assets.sources.download import download
    from assets.sources.files import read_path

    if is_synthetic(spec):
        yield from _synthetic_chunks(spec, chunk_rows)
    elif is_url(spec):
        if problem := unreadable_url(spec, named_by):
            raise SourceError(problem)
        path = download(spec, scratch, timeout=timeout)
        yield from read_path(path, _label(spec), chunk_rows, encoding)
    else:
        if (absent := absent_file(spec, named_by)) is not None:
            raise absent
        yield from read_path(Path(spec).expanduser(), _label(spec), chunk_rows, encoding)


def _label(spec: str) -> str:
    """How a source's errors name it: a URL without its credentials, a path as given
    (``~`` expanded), so the name is the one to go and look at."""
    return redact_url(spec) if is_url(spec) else str(Path(spec).expanduser())


def absent_file(spec: str, named_by: str) -> SourceError | None:
    """What reading ``spec`` fails with at once when it is a path to no file or to a
    directory, naming the setting that gave it (:func:`source_named_by`), or to one this
    user may not read (the file's mode, or a directory above it it may not enter); None
    when it may be read. A
    URL is never absent here: only asking it tells, and a server down now may answer later.
    """
    if is_synthetic(spec) or is_url(spec):
        return None
    path = Path(spec).expanduser()
    given_by = f" given by {setting(named_by)}" if named_by else ""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return SourceError(f"file not found; check the path{given_by}", source=str(path))
    except OSError as error:
        return file_error(error, str(path))
    if stat.S_ISDIR(info.st_mode):  # a folder typed for the file in it: the same typo
        return SourceError(f"a directory, not a file; check the path{given_by}", source=str(path))
    # Asked, not opened: opening a named pipe would wait for a writer.
    if stat.S_ISREG(info.st_mode) and not os.access(path, os.R_OK):
        return file_error(PermissionError(errno.EACCES, os.strerror(errno.EACCES)), str(path))
    return None


def read_source(
    spec: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    named_by: str = "",
    encoding: str = DEFAULT_ENCODING,
    version: SourceVersion | None = None,
) -> Iterator[pa.Table]:
    """Stream the source as ``raw.online_retails`` Arrow tables of at most ``chunk_rows`` rows.

    ``timeout`` bounds a URL's download (see :mod:`assets.sources.download`); ``named_by``
    is the setting that named ``spec`` (:func:`source_named_by`), for the hints;
    ``encoding`` is that of CSV text (any name Python knows; see
    :func:`resolve_source_encoding`); ``version``, the version of a local file the caller
    took before anything read it (:func:`source_version`), else the one found now: every
    row must come from it (:mod:`assets.sources.unchanged`).
    The next chunk is read while the caller stores the current one (see
    :mod:`assets.sources.read_ahead`). Raises :class:`SourceError` when the source is
    missing, unreachable, corrupt, lacks a column, holds a value that is not what its
    column needs, has no rows at all, or is a file that changed while it was read.
    """
    chunks = _raw_chunks(spec, chunk_rows, timeout, named_by, _codec(encoding))
    held = version or source_version(spec)
    return read_ahead(chunks if held is None else held.guard(chunks), name="online-retail-reader")


def source_version(spec: str) -> SourceVersion | None:
    """The version of the local file ``spec`` names, as it is now: taken before anything
    reads it, for the read to be held to (:mod:`assets.sources.unchanged`). None for the
    generator and a URL (a download lands in a directory of the run's own, which no other
    process writes), and for a path to no file, which its read names."""
    if not spec or is_synthetic(spec) or is_url(spec):
        return None
    path = Path(spec).expanduser()
    return SourceVersion.of(path, str(path))


def _codec(encoding: str, origin: str = SOURCE_ENCODING_OPTION) -> str:
    """Python's name for ``encoding``; an unknown one is a :class:`SourceError` naming the
    setting (``origin``) that gave it."""
    try:
        return codec_name(encoding)
    except LookupError as error:
        raise SourceError(f"{origin}={encoding!r}: {error}") from error


def engine_read(spec: str, encoding: str = DEFAULT_ENCODING) -> str | None:
    """A SELECT reading the source inside the warehouse (a plain local CSV file), else None.

    The SELECT yields exactly the rows :func:`read_source` would, or fails; see
    :mod:`assets.sources.engine_csv`. ClickHouse's ``file()`` reads UTF-8 only, so a
    source in any other ``encoding`` is left to the Python reader, which transcodes it
    (read as UTF-8, its text would be mojibake, or declined row by row). So is a CSV
    file whose fields are not separated by commas.
    """
    if not spec or is_synthetic(spec) or is_url(spec):
        return None
    if not is_utf8(_codec(encoding)):
        return None
    from assets.sources.engine_csv import engine_csv_select

    path = Path(spec).expanduser()
    return engine_csv_select(path, _record_source(spec, str(path)))


def _raw_chunks(
    spec: str, chunk_rows: int, timeout: float, named_by: str, encoding: str
) -> Iterator[pa.Table]:
    from assets.sources.normalize import map_columns, normalize_chunk

    if not spec:
        if named_by:
            raise SourceError(
                f"{setting(named_by)} is empty; give a path, a URL or synthetic[:ROWS[:SEED]]"
            )
        raise SourceError(f"no source given; pass {setting(SOURCE_OPTION)} or set {SOURCE_ENV}")
    total = 0
    columns_by_origin: dict[str, dict[object, str]] = {}
    with tempfile.TemporaryDirectory(prefix="online-retail-download-") as scratch:
        for chunk in _chunks(spec, chunk_rows, Path(scratch), timeout, named_by, encoding):
            columns = columns_by_origin.get(chunk.origin)
            if columns is None:
                columns = map_columns(chunk.column_names, chunk.origin)
                columns_by_origin[chunk.origin] = columns
            if not chunk.num_rows:
                continue
            record_source = _record_source(spec, chunk.origin)
            yield normalize_chunk(
                chunk.frame,
                columns,
                source=chunk.origin,
                first_row=chunk.first_row,
                record_source=record_source,
                decimal_comma=chunk.decimal_comma,
                numbering=chunk.numbering,
            )
            total += chunk.num_rows
    if total == 0:
        raise SourceError("the source has a header but no rows", source=_label(spec))


def loaded_source_sql(record_source: str) -> str:
    """SQL for the source a row of ``RECORD_SOURCE`` ``record_source`` (a column, or an
    expression) was loaded from, as ``--source`` names it: a zip member's or a sheet's
    file (``data.zip!2010.csv``, ``book.xlsx sheet 'Year 2010'``: :func:`_record_source`
    and the readers name them so), else the record source itself, a generated source's
    spec, a URL without its credentials or a file's name, without its directory."""
    return f"replaceRegexpOne({record_source}, '( sheet [\\'\"].*|![^!]*)$', '')"


def _record_source(spec: str, origin: str) -> str:
    """RECORD_SOURCE: the origin (file, member, sheet) relative to the named source."""
    if is_synthetic(spec) or is_url(spec):
        return origin
    # Local paths: drop the directories (they say where a file sat, not what it is).
    prefix = str(Path(spec).expanduser())
    if origin.startswith(prefix):
        return Path(prefix).name + origin[len(prefix) :]
    return origin
