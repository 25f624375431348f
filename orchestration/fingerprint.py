"""Source fingerprints: a short text that changes when the data an ingest asset reads does.

An asset whose input lives outside the warehouse (a file, a URL, a generator) declares
``fingerprint=`` with a function of the run's parameters; the framework records its answer
with every materialization and calls the asset stale when the answer changes. The
helpers here are the cheap, generic ways to get one, cheapest first:

* a local file: its size, modification time, inode change time and inode number (no
  byte is read);
* a URL: its ``ETag`` / ``Last-Modified`` / ``Content-Length`` from one ``HEAD`` with a
  short timeout; a content hash only when the server sends none of them;
* anything generated: its parameters;
* a file or URL read as text in another encoding than UTF-8: that encoding too.

A fingerprint never holds a secret: a URL is named by a hash of itself, not its text
(it may carry a token or a password), and of itself without ``user:password@``: the hash
is unsalted and shown (``status --json``, asset pages), so a short password in it could
be found by guessing offline. When a source cannot be asked (unreachable,
missing), the fingerprint says so and can never equal a recorded one, so the asset is
stale and the run itself reports the real error.

Each names the source it was taken from, so that :mod:`orchestration.fingerprinted_source`
can tell a source whose data changed from another source than the one an asset was built
from. An asset that reads a default source when the run chooses none declares a
:class:`SourceFingerprint`, which also says whether one was chosen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.asset import AssetSpec
from orchestration.redaction import quiet_request_logs, without_credentials
from orchestration.text_encoding import is_utf8
from orchestration.typed_options import source_with_placeholders

#: Seconds one ``HEAD`` request may take; fingerprints run before every status and plan.
URL_TIMEOUT_SECONDS = 5.0
_HEADERS = ("etag", "last-modified", "content-length")
#: How every fingerprint of a source that could not be asked begins.
UNAVAILABLE = "unavailable:"
#: How a fingerprint names the encoding its source is read in, after the rest.
ENCODING_FIELD = "encoding="


@dataclass(frozen=True)
class SourceFingerprint:
    """A fingerprint (``take``) that also names the setting that chose the source a run
    with these parameters reads (``chosen_by``: ``--source``, an environment variable, or
    ``""`` when none did and the asset reads its default).

    A run given no source loads the default into an asset that may have been built from
    another, replacing its rows (and adding to insert-only tables below it): such a run is
    refused (:mod:`orchestration.unchosen_source`), a chosen source always runs. A plain
    function declared as ``fingerprint`` leaves the choice to the run parameter
    ``source``. A class, not a new asset argument: the declaration's text is part of the
    asset's code version, so a new argument would make the asset stale.

    ``absent`` says, without asking any server, why the source is not there at all (a path
    to no file), in the words the run would fail with; None when it may be. A typed
    ``--source`` that is absent is a typo, which ``status`` and ``plan`` stop at
    (:mod:`orchestration.absent_source`) rather than judge the asset on.

    ``named`` names the source a run with these parameters reads, as ``--source`` would
    (a URL whole: :func:`chosen_source` holds placeholders for its secrets), for the
    asset's page to say what the run loaded: a run given no source reads the default,
    and said nothing of it. None: the page names no source.
    """

    take: Callable[[Mapping[str, Any]], str]
    chosen_by: Callable[[Mapping[str, Any]], str]
    absent: Callable[[Mapping[str, Any]], str | None] = lambda _params: None
    named: Callable[[Mapping[str, Any]], str] | None = None

    def __call__(self, params: Mapping[str, Any]) -> str:
        return self.take(params)


@dataclass(frozen=True)
class ChosenSource:
    """The source an ingest asset read in a run, as its pages name it: ``shown`` as the
    ``Next:`` command's ``--source`` carries it (a URL's user, password and query string
    as placeholders: without them a URL read as whole), ``chosen_by`` the setting that
    chose it (``--source``, an environment variable, ``""``: the default)."""

    shown: str
    chosen_by: str


def chosen_source(
    fingerprint: Callable[[Mapping[str, Any]], str] | None, params: Mapping[str, Any]
) -> ChosenSource | None:
    """The source a run given ``params`` reads, if the asset's ``fingerprint`` names one
    (:attr:`SourceFingerprint.named`). Only the run's parameters and environment are read:
    no file is opened and no server asked. A declaration that raises names none: the run
    fails on the same error, in its own words."""
    if not isinstance(fingerprint, SourceFingerprint) or fingerprint.named is None:
        return None
    try:
        name, chosen_by = fingerprint.named(params), fingerprint.chosen_by(params)
    except Exception:  # a page's line is not worth the run
        return None
    return ChosenSource(source_with_placeholders(name), chosen_by)


def run_sources(specs: Iterable[AssetSpec], params: Mapping[str, Any]) -> list[ChosenSource]:
    """The sources a run of ``specs`` given ``params`` reads, each once: those of its
    ingest assets (:func:`chosen_source`). None when it selects no asset that names one
    (the run read the tables its upstream left)."""
    found = (chosen_source(spec.fingerprint, params) for spec in specs)
    return list(dict.fromkeys(source for source in found if source is not None))


def _digest(text: str | bytes, length: int = 16) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:length]


def parameters_fingerprint(kind: str, **parameters: Any) -> str:
    """A generated source, identified by what generates it: ``synthetic rows=10 seed=1``."""
    shown = " ".join(f"{name}={parameters[name]}" for name in sorted(parameters))
    return f"{kind} {shown}".strip()


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path names and which version of it, from one ``stat`` (no byte read).

    Its size and modification time are a local file's fingerprint; with the device and
    inode they also tell a file replaced by another (``mv``, ``rsync``, ``cp -p``: the same
    size and time, another inode), which is how a reader learns that the file it read
    changed while it read it.
    """

    device: int
    inode: int
    size: int
    mtime_ns: int
    #: The inode change time: a fingerprint's, since no user can set it back.
    ctime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileIdentity:
        """The identity of the file at ``path`` now; raises :class:`OSError` as ``stat``."""
        found = Path(path).stat()
        return cls(found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)

    def change_to(self, now: FileIdentity | None) -> str | None:
        """How the file became ``now`` (None: there is none at its path any more), in
        words; None when it did not change."""
        if now is None:
            return "it was removed"
        if (now.device, now.inode) != (self.device, self.inode):
            return "another file was put in its place"
        if now.size != self.size:
            grew = "grew" if now.size > self.size else "shrank"
            return f"it {grew} from {self.size:,} to {now.size:,} bytes"
        if now.mtime_ns != self.mtime_ns:
            return "its modification time changed"
        return None


def file_fingerprint(path: str | Path) -> str:
    """A local file by its resolved path, size, modification time, inode change time
    (nanoseconds) and inode number: one ``stat``, no byte read.

    Size and mtime alone missed a correction of the same size copied with its mtime
    kept (``cp -p``, ``rsync -t``, ``touch -r``): no user can set the change time back,
    and a file renamed over this one is another inode. A ``chmod`` or ``chown`` changes
    it too, costing one reload, which adds nothing to an insert-only table. The device
    number is left out: the resolved path names the file system, and network, btrfs and
    container (overlay) file systems get a device number at each mount, which may differ
    after a reboot or in a new container and would make every file source stale.
    """
    resolved = Path(path).expanduser().resolve()
    try:
        identity = FileIdentity.of(resolved)
    except OSError as error:  # named as given: the path to go and look for
        return unavailable(f"file {path}: {error.strerror or error}")
    return (
        f"file {resolved} size={identity.size} mtime_ns={identity.mtime_ns} "
        f"ctime_ns={identity.ctime_ns} ino={identity.inode}"
    )


def content_fingerprint(path: str | Path) -> str:
    """A file by the SHA-256 of its bytes: for when size and time say nothing reliable."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256 {digest.hexdigest()}"


def url_fingerprint(url: str, *, timeout: float = URL_TIMEOUT_SECONDS) -> str:
    """A URL by the validators its server sends to ``HEAD``, else by its content's hash.

    A server may refuse ``HEAD`` (a presigned S3 URL is signed for ``GET`` only) or answer
    it without validators: then one ``GET`` gives them in its headers, and its body is
    read and hashed only when they are missing there too.
    """
    import httpx

    quiet_request_logs()
    name = f"url {_digest(without_credentials(url))}"
    try:
        head = httpx.head(url, follow_redirects=True, timeout=timeout)
        if head.status_code < 400 and (validators := _validators(head.headers)):
            return f"{name} {validators}"
        digest = hashlib.sha256()
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as body:
            if body.status_code >= 400:
                return unavailable(f"{name}: HTTP {body.status_code}")
            if validators := _validators(body.headers):
                return f"{name} {validators}"
            for block in body.iter_bytes(1 << 20):
                digest.update(block)
        return f"{name} sha256={digest.hexdigest()}"
    except httpx.HTTPError as error:
        # The exception text may echo the URL (and its credentials): name only the class.
        return unavailable(f"{name}: {type(error).__name__}")


def _validators(headers: Mapping[str, str]) -> str | None:
    """The response's cache validators as text, or None when it sends none (a length alone
    does not tell one version of the data from another)."""
    found = {h: headers[h] for h in _HEADERS if h in headers}
    return json.dumps(found, sort_keys=True) if found.keys() - {"content-length"} else None


def read_in(fingerprint: str, encoding: str) -> str:
    """``fingerprint`` of a file or URL read as text in ``encoding`` (a codec name): the
    same bytes in another encoding are other text. UTF-8, the default, adds nothing (so
    fingerprints taken before encodings were named still match), nor does any encoding to
    a source that could not be asked."""
    if is_utf8(encoding) or not is_available(fingerprint):
        return fingerprint
    return f"{fingerprint} {ENCODING_FIELD}{encoding}"


def unavailable(cause: str) -> str:
    """The fingerprint of a source that could not be asked; ``cause`` holds no secret."""
    return f"{UNAVAILABLE} {cause}"


def is_available(fingerprint: str | None) -> bool:
    """Whether the source answered: an unanswered fingerprint keeps its asset stale."""
    return fingerprint is not None and not fingerprint.startswith(UNAVAILABLE)
