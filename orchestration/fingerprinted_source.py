"""Which source a fingerprint names, so that a changed one says what changed.

A command judges an ingest asset on the source a run would read now (``--source``, else
the default), and a fingerprint changes both when that source's data changed and when it
is another source than the asset was built from. After ``materialize --source data.csv``,
a plain ``status`` compared the default generator with the file and said "source changed
since it was read" of a file that had not changed; a ``materialize --select
'status:stale+'`` then replaced the file's rows with generated ones.

The fingerprints of :mod:`orchestration.fingerprint` name their source: a file by its
resolved path, a generated source by its parameters, a URL by a hash of itself without
its credentials (never its text, which may carry a token), with the encoding a file or
URL is read in. Read back here, they tell the two cases apart: another source is named
on both sides, with the options that compare with the one the asset was built from. A
fingerprint in another form (an asset's own) names no source, and its change reads as
before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from orchestration.errors import shown_path
from orchestration.fingerprint import ENCODING_FIELD
from orchestration.redaction import shown_source
from orchestration.setting_names import named_as_parameters, setting, setting_given
from orchestration.synthetic_source import SYNTHETIC
from orchestration.text_encoding import (
    DEFAULT_ENCODING,
    SOURCE_ENCODING_OPTION,
    SOURCE_ENCODING_PARAM,
    shown_encoding,
    typed_encoding,
)

#: The words for a source whose data changed (or whose fingerprint names no source).
SAME_SOURCE_CHANGED = "source changed since it was read"
#: How a user names the source a run reads (``pipeline materialize --source``).
SOURCE_OPTION = "--source"
_ENCODING = rf"(?: {ENCODING_FIELD}(?P<encoding>\S+))?"
#: The inode's change time and number are absent from fingerprints recorded before they
#: were taken: the same file, which may have changed since.
_FILE = re.compile(rf"file (?P<name>.+) size=\d+ mtime_ns=\d+(?: ctime_ns=\d+ ino=\d+)?{_ENCODING}")
_URL = re.compile(rf"url (?P<name>[0-9a-f]+) .+?{_ENCODING}")
#: The generator's version is absent from fingerprints recorded before it had one: the
#: same source, whose rows changed.
_GENERATED = re.compile(rf"{SYNTHETIC} rows=(?P<rows>\d+) seed=(?P<seed>-?\d+)(?: version=\d+)?")

SourceKind = Literal["file", "url", "generated"]


def source_options(params: Mapping[str, Any]) -> dict[str, str]:
    """The ``--source`` and ``--source-encoding`` a run was given in ``params``, by option:
    a command printed for the user to run instead passes them on, or it would read
    another source (the default) than the one they chose."""
    given = {
        SOURCE_OPTION: params.get("source"),
        SOURCE_ENCODING_OPTION: params.get(SOURCE_ENCODING_PARAM),
    }
    return {option: str(value) for option, value in given.items() if value}


@dataclass(frozen=True)
class NamedSource:
    """A source as its fingerprint names it: a file's resolved path, a URL's hash, a
    generated source's spec (``synthetic:ROWS:SEED``), and what a file or URL is read as."""

    kind: SourceKind
    name: str
    encoding: str = DEFAULT_ENCODING

    @property
    def is_text(self) -> bool:
        """Whether it is read in an encoding (a generated source is no text)."""
        return self.kind != "generated"

    def spec(self) -> str | None:
        """How ``--source`` names it, None for a URL (its fingerprint holds only a hash)."""
        if self.kind == "url":
            return None
        return shown_source(shown_path(self.name) if self.kind == "file" else self.name)

    def shown(self, *, encoding: bool, beside: NamedSource | None = None) -> str:
        """Its name in words, with what it is read as if ``encoding``; a URL named after
        the one ``beside`` it as that one or another."""
        text = self.spec() or self._url_beside(beside)
        read_as = shown_encoding(self.encoding)  # latin-1 (iso8859-1)
        return f"{text} read as {read_as}" if encoding and self.is_text else text

    def _url_beside(self, other: NamedSource | None) -> str:
        """This URL in words (no record names it), after ``other``, if a URL: the same or not."""
        if other is None or other.kind != "url":
            return "a URL"
        return "that URL" if other.name == self.name else "another URL"


def named_source(fingerprint: str | None) -> NamedSource | None:
    """The source ``fingerprint`` names, if it is in a form this framework's helpers make."""
    text = fingerprint or ""
    if found := _GENERATED.fullmatch(text):
        return NamedSource("generated", f"{SYNTHETIC}:{found['rows']}:{found['seed']}")
    if found := _FILE.fullmatch(text):
        return NamedSource("file", found["name"], found["encoding"] or DEFAULT_ENCODING)
    if found := _URL.fullmatch(text):
        return NamedSource("url", found["name"], found["encoding"] or DEFAULT_ENCODING)
    return None


@dataclass(frozen=True)
class SourceSwitch:
    """An asset judged on another source than the one it was built from."""

    built: NamedSource
    compared: NamedSource

    @property
    def another_source(self) -> bool:
        """Whether it is another source, not the same one read in another encoding."""
        built, compared = self.built, self.compared
        return (built.kind, built.name) != (compared.kind, compared.name)

    def options(self) -> dict[str, str | None]:
        """What to pass to judge (or run) it on the source it was built from: option ->
        value; ``--source`` -> None when that is a URL, which no record names."""
        built, compared = self.built, self.compared
        chosen: dict[str, str | None] = {}
        if self.another_source:
            chosen[SOURCE_OPTION] = built.spec()
        if built.is_text and built.encoding != compared.encoding:
            chosen[SOURCE_ENCODING_OPTION] = typed_encoding(built.encoding)
        return chosen

    def named_options(self) -> dict[str, str] | None:
        """:meth:`options` if it names every value (None: the source is a URL)."""
        named = {option: value for option, value in self.options().items() if value}
        return named if len(named) == len(self.options()) else None

    def typed(self) -> str:
        """:meth:`options` as typed on a command line, or as a deployment run's parameters
        (:mod:`orchestration.setting_names`); a URL described, as none is named."""
        options = self.options()
        typed = [
            setting_given(option, value)
            if value is not None
            else f"the URL it was built from as {setting(option)}"
            for option, value in options.items()
        ]
        words = None in options.values() or named_as_parameters()
        return (" and " if words else " ").join(typed)

    def names(self) -> tuple[str, str]:
        """Both sources in words, the one built from first; each with what it is read
        as when either is read in another encoding than the default."""
        built, compared = self.built, self.compared
        encoding = any(s.is_text and s.encoding != DEFAULT_ENCODING for s in (built, compared))
        return built.shown(encoding=encoding), compared.shown(encoding=encoding, beside=built)

    def __str__(self) -> str:
        built, compared = self.names()
        return (
            f"source changed: built from {built}, compared with {compared} "
            f"(pass {self.typed()} to compare with it)"
        )


def source_switch(built: str | None, now: str) -> SourceSwitch | None:
    """The switch between the source fingerprint ``built`` (recorded) names and the one
    ``now`` names; None when they name the same source (then its data changed), or either
    names none."""
    was, compared = named_source(built), named_source(now)
    if was is None or compared is None or was == compared:
        return None
    return SourceSwitch(was, compared)
