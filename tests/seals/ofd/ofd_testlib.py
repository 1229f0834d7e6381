"""Building OFD packages for the tests: the ofdrw fixtures with files changed, added or
removed, and raw zip files with any name, flag or size a hostile writer could choose."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

OFDRW = Path(__file__).resolve().parents[2] / "data" / "interop" / "ofdrw"
TODAY = datetime(2026, 12, 4, tzinfo=UTC)
"""A pinned 'today', after every ofdrw certificate has expired."""


def fixture(name: str) -> bytes:
    return (OFDRW / name).read_bytes()


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def rezip(files: dict[str, bytes]) -> bytes:
    """A package of these files, written by :mod:`zipfile` (deflate)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def changed(base: str, edits: dict[str, bytes | None]) -> bytes:
    """The fixture ``base`` with files replaced, added (a new name) or removed (None)."""
    files = files_of(fixture(base))
    for name, value in edits.items():
        if value is None:
            files.pop(name)
        else:
            files[name] = value
    return rezip(files)


def raw_zip(
    entries: list[tuple[bytes, bytes]], *, flags: int = 0x800, method: int = 8,
    declared: int | None = None, extra: bytes = b"", local_name: bytes | None = None,
    comment: bytes = b"",
) -> bytes:
    """A zip written byte by byte: (name, content) entries, every header as given."""
    body = bytearray()
    central = bytearray()
    for name, content in entries:
        packed = zlib.compress(content, 9)[2:-4] if method == 8 else content
        size = len(content) if declared is None else declared
        crc = zlib.crc32(content)
        offset = len(body)
        lname = name if local_name is None else local_name
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, crc,
                            len(packed), size, len(lname), len(extra)) + lname + extra + packed
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0,
                               0, crc, len(packed), size, len(name), len(extra), 0, 0, 0, 0,
                               offset) + name + extra
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(body), len(comment)) + comment
    return bytes(body + central + end)
