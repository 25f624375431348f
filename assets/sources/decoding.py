"""A CSV source that is not text in the encoding it is read as: where, and what to do.

The readers stream a file through Arrow (or Python's ``csv``), which say only that some
bytes are not UTF-8, somewhere. Once a read has failed, this module reads the file again
with Python's decoder for the same encoding, a block at a time, up to the first byte it
cannot decode, so the one-line error names that byte, its line and its offset. The
remedy depends on what the file looks like: the most common copy of Online Retail on the
web (Kaggle's ``data.csv``) is Latin-1, a file that starts with a UTF-16 byte order mark
is UTF-16, and one holding NUL bytes is no text at all.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from assets.sources.csv_layout import DELIMITERS
from assets.sources.errors import SourceError, excerpt
from orchestration.setting_names import setting, setting_given
from orchestration.text_encoding import (
    SOURCE_ENCODING_OPTION,
    is_utf8,
    opening_codec,
    shown_encoding,
)

_BLOCK_BYTES = 1 << 20
#: Bytes at the start of a file looked at to tell binary data or UTF-16 from Latin-1.
_SNIFF_BYTES = 64 << 10
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
#: What ends a CSV field, for showing the one that holds a character: any delimiter
#: :mod:`assets.sources.csv_layout` reads (the refusal comes before the header is split).
_FIELD_ENDS = (*DELIMITERS, '"', "\n", "\r")


@dataclass(frozen=True)
class Undecodable:
    """The first byte of a file its encoding cannot decode."""

    byte: int | None  # None: the file ends inside a character
    offset: int
    line: int
    reason: str

    def __str__(self) -> str:
        byte = f"byte 0x{self.byte:02x}" if self.byte is not None else "the end"
        return f"{byte} on line {self.line}, offset {self.offset}: {self.reason}"


def first_undecodable(path: Path, encoding: str) -> Undecodable | None:
    """Where ``path`` stops being text in ``encoding`` (a codec name), or None if it is
    text throughout. A block at a time, so memory stays flat whatever the file's size."""
    decoding = opening_codec(encoding)
    decoder = codecs.getincrementaldecoder(decoding)()
    offset = 0
    lines = 1
    after_cr = False  # the text so far ends with a CR, whose LF may start the next block
    with path.open("rb") as handle:
        while True:
            block = handle.read(_BLOCK_BYTES)
            _, flag = decoder.getstate()
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                # The decoder's input was the bytes it held back from the block before
                # (half a character) and this block: its offsets count from the first.
                start = offset + len(block) - len(error.object) + error.start
                before = codecs.getincrementaldecoder(decoding)()
                before.setstate((b"", flag))
                lines += _line_ends(before.decode(error.object[: error.start]), after_cr)
                byte = error.object[error.start] if error.start < len(error.object) else None
                return Undecodable(byte, start, lines, error.reason)
            if not block:
                return None
            lines += _line_ends(text, after_cr)
            after_cr = text.endswith("\r") if text else after_cr
            offset += len(block)


def _line_ends(text: str, after_cr: bool = False) -> int:
    """Lines ``text`` ends, however they end: LF (Unix), CRLF (Windows) or a lone CR (an
    old Mac's "CSV (Macintosh)" export), as the CSV readers split them. ``after_cr``: the
    text before it ended with a CR, so a first LF completes that line's end."""
    ends = text.count("\n") + text.count("\r") - text.count("\r\n")
    return ends - 1 if after_cr and text.startswith("\n") else ends


def not_text_error(path: Path, label: str, encoding: str, cause: str = "") -> SourceError:
    """The one line for a file that is not text in ``encoding``: the first bad byte
    (else ``cause``, the reader's own words), then the way forward."""
    found = first_undecodable(path, encoding)
    where = str(found) if found is not None else excerpt(cause)
    name = "UTF-8" if is_utf8(encoding) else shown_encoding(encoding)
    return SourceError(f"not {name} text ({where}); {_way_forward(path, encoding)}", source=label)


def refuse_utf8_named_otherwise(path: Path, label: str, encoding: str) -> None:
    """Refuse a file that is UTF-8 text but is to be read as another encoding: read as
    Latin-1, any bytes decode, so its text would load as mojibake (``MÃ‰TAL`` for
    ``MÉTAL``) without a word. It is UTF-8 if it starts with UTF-8's byte order mark (its
    header's first name would be ``ï»¿InvoiceNo``), or if its first 64 KiB hold bytes
    beyond ASCII and all of them decode as UTF-8: text in a single-byte encoding almost
    never does. Pure ASCII is text in both, and read the same: it passes."""
    if is_utf8(encoding):
        return
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        whole = len(head) < _SNIFF_BYTES or not handle.read(1)
    if head.startswith(codecs.BOM_UTF8):
        raise SourceError(
            f"the file starts with UTF-8's byte order mark, so it is UTF-8 text, not "
            f"{shown_encoding(encoding)}; drop {setting(SOURCE_ENCODING_OPTION)} (UTF-8 is the "
            "default)",
            source=label,
        )
    shown = _utf8_text_beyond_ascii(head, whole)
    if shown is not None:
        raise SourceError(
            f"the file is UTF-8 text, not {shown_encoding(encoding)} ({shown} read as UTF-8); "
            f"drop {setting(SOURCE_ENCODING_OPTION)} (UTF-8 is the default)",
            source=label,
        )


def _utf8_text_beyond_ascii(head: bytes, whole: bool) -> str | None:
    """Where ``head``, a file's first bytes (all of it if ``whole``), holds text beyond
    ASCII that is UTF-8 (``line 3 holds 'WHITE MÉTAL'``), or None if it holds none or is
    not UTF-8. A character the look cut in two at its end is no reason to doubt it."""
    if head.isascii():
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        return None
    first = next((at for at, char in enumerate(text) if not char.isascii()), None)
    if first is None:  # the only bytes beyond ASCII are half a character, at the end
        return None
    start = max(text.rfind(stop, 0, first) for stop in _FIELD_ENDS) + 1
    ends = [found for stop in _FIELD_ENDS if (found := text.find(stop, first)) >= 0]
    field = text[start : min(ends, default=len(text))]
    line = _line_ends(text[:first]) + 1
    return f"line {line} holds {excerpt(field)}"


def _way_forward(path: Path, encoding: str) -> str:
    if not is_utf8(encoding):
        named = shown_encoding(encoding)
        return f"is {named} the file's encoding? check {setting(SOURCE_ENCODING_OPTION)}"
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(_UTF32_BOMS):
        return f"it starts with a UTF-32 byte order mark: pass {_encoding_given('utf-32')}"
    if head.startswith(_UTF16_BOMS):
        return f"it starts with a UTF-16 byte order mark: pass {_encoding_given('utf-16')}"
    if b"\x00" in head:  # no text file holds NUL bytes (a compressed file, a workbook)
        return "it holds NUL bytes: is it really a CSV file?"
    return (
        "if it is Latin-1 (as Kaggle's copy of Online Retail is), pass "
        f"{_encoding_given('latin-1')}"
    )


def _encoding_given(encoding: str) -> str:
    """The setting that reads the source in ``encoding``, as the run's reader gives it."""
    return setting_given(SOURCE_ENCODING_OPTION, encoding)
