"""Names of text encodings as a user gives them (``--source-encoding latin-1``).

The command line checks the name before any work and the asset that reads the file
checks it again (the name may come from the environment); both ask this module, so both
accept and refuse the same names, and both compare encodings by Python's own name for
the codec ("Latin-1", "ISO-8859-1" and "l1" are one encoding).

A message says an encoding as the user names it (:func:`shown_encoding`): Python's name
for Latin-1 is ``iso8859-1``, which nobody typed, and a command to copy gives the name
the help suggests (:func:`typed_encoding`).
"""

from __future__ import annotations

import codecs

#: What a source is read as unless told otherwise (a byte order mark allowed).
DEFAULT_ENCODING = "utf-8"
#: The run parameter the ingest assets read the source's encoding from (and the served
#: flow's parameter of that name, shown in the Prefect UI).
SOURCE_ENCODING_PARAM = "source_encoding"
#: How a user names it on the command line.
SOURCE_ENCODING_OPTION = "--source-encoding"
_UTF8_NAMES = frozenset({"utf-8", "utf-8-sig"})
#: The names the help, the docs and the hints give encodings whose codec Python names
#: otherwise: ``--source-encoding latin-1`` (Kaggle's copy of Online Retail) is recorded
#: as ``iso8859-1``.
_FAMILIAR = {"iso8859-1": "latin-1"}


def codec_name(name: str) -> str:
    """Python's name for the text encoding ``name``; UTF-8 with or without a byte order
    mark is ``utf-8`` (the default reads both). Raises ``LookupError`` whose message says
    why the name is refused: unknown, or a codec that is no text encoding (``base64``)."""
    try:
        found = codecs.lookup(name.strip()).name
        "".encode(found)  # refuses bytes-to-bytes and str-to-str codecs (base64, rot13)
    except LookupError as error:
        known = "utf-8, latin-1, cp1252, utf-16"
        raise LookupError(f"not a text encoding Python knows (such as {known})") from error
    return DEFAULT_ENCODING if found in _UTF8_NAMES else found


def is_utf8(name: str) -> bool:
    """Whether ``name`` (a :func:`codec_name`) is the default, UTF-8."""
    return name in _UTF8_NAMES


def opening_codec(name: str) -> str:
    """How Python opens text in ``name`` (a :func:`codec_name`): UTF-8 with its byte order
    mark skipped, as Arrow and ClickHouse skip it."""
    return "utf-8-sig" if is_utf8(name) else name


def typed_encoding(codec: str) -> str:
    """How a printed command gives the encoding Python names ``codec``: the name the help
    suggests (``latin-1``), else the codec's own; either reads the same text."""
    return _FAMILIAR.get(codec, codec)


def shown_encoding(codec: str, given: str | None = None) -> str:
    """The encoding Python names ``codec`` as a message says it: as ``given`` (the name
    the user gave, if it names that codec), else as the help names it
    (:func:`typed_encoding`), with Python's name after it when that is another:
    ``latin-1 (iso8859-1)``. A fingerprint records the codec alone (two names for one
    encoding make one fingerprint); ``iso8859-1`` alone read as a mistake to someone who
    typed ``latin-1``."""
    mine = given is not None and codec_name(given) == codec  # a name Python knows, checked
    name = given.strip() if given is not None and mine else typed_encoding(codec)
    return name if name.lower() == codec else f"{name} ({codec})"
