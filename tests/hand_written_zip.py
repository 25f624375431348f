"""Zip archives Python's :mod:`zipfile` will not write: an encrypted member, a compression
method it cannot extract, a member whose compressed bytes are not what they claim.

Written by hand after PKWARE's APPNOTE (local header, data, central directory, end
record), one member per archive, so a reader's handling of each is tested on real bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

#: The traditional PKWARE cipher's ("ZipCrypto") starting keys (APPNOTE 6.1.5).
_START_KEYS = (0x12345678, 0x23456789, 0x34567890)
_ENCRYPTED = 0x1  # general purpose flag bit 0
_ENCRYPTION_HEADER = 12  # bytes before the encrypted data


def _crc_byte(crc: int, byte: int) -> int:
    """CRC-32 advanced by one byte without zlib's pre- and post-inversion (the cipher's
    key update)."""
    return zlib.crc32(bytes([byte]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def zip_crypto(plain: bytes, password: bytes) -> bytes:
    """``plain`` encrypted with the traditional PKWARE cipher under ``password``."""
    keys = list(_START_KEYS)

    def update(byte: int) -> None:
        keys[0] = _crc_byte(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = _crc_byte(keys[2], keys[1] >> 24)

    for byte in password:
        update(byte)
    out = bytearray()
    for byte in plain:
        temp = keys[2] | 2
        out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def write_zip(
    path: Path,
    name: str,
    data: bytes,
    *,
    method: int = 0,
    password: bytes | None = None,
    stored: bytes | None = None,
) -> None:
    """A zip at ``path`` holding ``data`` as member ``name``.

    ``method`` is the compression method the headers declare; the member's bytes are
    ``stored`` if given (bytes that do not decompress, say), else ``data`` as it is (so a
    method other than 0, stored, declares a compression the bytes never had). With
    ``password`` the bytes are encrypted with the traditional PKWARE cipher, as
    ``zip -P`` does, and flagged so.
    """
    crc = zlib.crc32(data)
    body = data if stored is None else stored
    flags = 0
    if password is not None:
        check = bytes(range(1, _ENCRYPTION_HEADER)) + bytes([crc >> 24])  # last: CRC's top
        body = zip_crypto(check + body, password)
        flags = _ENCRYPTED
    raw_name = name.encode()
    sizes = (crc, len(body), len(data), len(raw_name))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, *sizes, 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, *sizes,
        0, 0, 0, 0, 0o100644 << 16, 0,
    )  # fmt: skip
    directory_at = len(local) + len(raw_name) + len(body)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(raw_name),
                      directory_at, 0)  # fmt: skip
    path.write_bytes(local + raw_name + body + central + raw_name + end)
