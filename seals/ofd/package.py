"""Reading an OFD package (a zip file) safely: every byte of the file accounted for, every
entry name checked, every entry inflated within declared and bounded sizes.

The zip structures are parsed here, not by :mod:`zipfile` (which takes the last of two
entries with one name, ignores bytes between entries, reads ZIP64 records and inflates
without a bound on the output). A package is read only if it is unambiguous — every reader,
whether it walks the central directory or streams the local headers, sees the same entries
with the same bytes:

- the end record is the last 22 bytes of the file plus its comment (at most 4 KiB, without
  another end-record signature); one disk; no ZIP64 record or field (``ofd_zip64``: a package
  under the size caps never needs one);
- the entry count is checked before anything else is read (``ofd_too_many_entries``);
- the entries **tile** the file: the first local header at byte 0, each entry (local header,
  data, data descriptor) followed at once by the next, the last by the central directory,
  which ends where the end record starts (``ofd_zip_inconsistent`` otherwise: prepended bytes,
  gaps, overlaps, a local header that says something else than the central directory);
- names: UTF-8 (flag 11) or ASCII, relative, ``/``-separated, no ``\\``, ``:``, control
  characters, empty, ``.`` or ``..`` segments, segments ending in ``.`` or a space (Windows
  drops them: ``a.xml.`` is ``a.xml`` once extracted), device names (``CON``, ``NUL.xml``…)
  (``ofd_bad_name``); no two names equal after
  NFC normalisation and case folding, no file named like a folder of another
  (``ofd_duplicate_name``);
- methods stored (0) and deflate (8) only (``ofd_zip_method``); a stored entry with a data
  descriptor is refused (``ofd_zip_inconsistent``: a streaming reader, as ofdrw's
  ``ZipArchiveInputStream``, finds its end by searching its bytes); no Info-ZIP Unicode Path
  field (``ofd_bad_name``: a second name some readers use); encrypted entries refused
  (``ofd_encrypted``);
- sizes: the file (``max_size``), each entry's declared size (``max_entry``), their total
  (``max_total``) are checked before inflating (``ofd_too_large``); an entry whose size is
  more than ``max_ratio`` times its compressed size (beyond 1 MiB) is a zip bomb
  (``ofd_zip_bomb``); inflating stops one byte after the declared size, and the result must
  have exactly that size and CRC (``ofd_zip_inconsistent``).
"""

from __future__ import annotations

import struct
import unicodedata
import zlib
from dataclasses import dataclass, field

from seals.ofd.errors import OfdEncrypted, OfdHostile, OfdMalformed, OfdTooLarge


@dataclass(frozen=True)
class OfdLimits:
    """The bounds of reading one OFD package (defaults: about 1 s of CPU and 200 MB of memory
    at most for any input up to the service's 20 MiB upload limit)."""

    max_size: int = 50 * 1024 * 1024
    """Bytes of the package file."""
    max_entries: int = 5_000
    """Zip entries (files and folders). A 1,000-page document has about 2,000."""
    max_entry: int = 32 * 1024 * 1024
    """Uncompressed bytes of one entry."""
    max_total: int = 64 * 1024 * 1024
    """Uncompressed bytes of all entries together."""
    max_ratio: int = 200
    """Uncompressed to compressed size of one entry larger than 1 MiB (XML compresses about
    10 to 30 times; a deflate bomb about 1,000 times)."""
    max_name: int = 512
    """Bytes of an entry's name."""
    max_comment: int = 4096
    """Bytes of the zip file's comment."""
    max_xml: int = 16 * 1024 * 1024
    """Bytes of one XML file."""
    max_xml_depth: int = 64
    """Nesting of XML elements."""
    max_xml_elements: int = 500_000
    """Elements of all XML files of the package together."""
    max_documents: int = 16
    """``DocBody`` elements of ``OFD.xml`` (each read in full)."""
    max_pages: int = 10_000
    """Pages of a document (each has its own file, and a package at most ``max_entries``
    files; more pages are refused, not read)."""
    max_signatures: int = 64
    """Signatures of a document."""
    max_references: int = 20_000
    """References of all signatures together."""
    max_stamps: int = 1_000
    """Stamp annotations of all signatures together (each is compared with the others)."""


DEFAULT_LIMITS = OfdLimits()

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_ZIP64_EXTRA = 0x0001
_ENCRYPTION_EXTRAS = frozenset({0x0017, 0x9901})  # strong encryption, WinZip AES
_UNICODE_PATH = 0x7075
_FLAG_ENCRYPTED = 0x0001
_FLAG_DESCRIPTOR = 0x0008
_FLAG_STRONG = 0x0040
_FLAG_UTF8 = 0x0800
_FLAG_MASKED = 0x2000
_BOMB_FLOOR = 1024 * 1024
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
     *(f"LPT{i}" for i in range(1, 10))}
)
"""Names Windows opens as devices: a reader that extracts the package to disk there would
not read the entry's bytes."""


@dataclass(frozen=True)
class Entry:
    """One zip entry as the central directory and its local header agree on it."""

    name: str
    offset: int
    method: int
    flags: int
    crc: int
    compressed: int
    size: int
    data_start: int
    end: int
    """Where the entry (data descriptor included) ends."""

    @property
    def is_folder(self) -> bool:
        return self.name.endswith("/")


def _malformed(message: str, code: str = "ofd_zip_inconsistent") -> OfdMalformed:
    return OfdMalformed(message, code=code)


def _extras(raw: bytes, where: str) -> None:
    """Check an extra field: no ZIP64, no encryption, well formed."""
    pos = 0
    while pos < len(raw):
        if pos + 4 > len(raw):
            raise _malformed(f"{where}: truncated extra field")
        tag, size = struct.unpack_from("<HH", raw, pos)
        pos += 4 + size
        if pos > len(raw):
            raise _malformed(f"{where}: truncated extra field")
        if tag == _ZIP64_EXTRA:
            raise OfdMalformed(f"{where}: a ZIP64 field (not needed, refused)", code="ofd_zip64")
        if tag in _ENCRYPTION_EXTRAS:
            raise OfdEncrypted(f"{where}: encrypted")
        if tag == _UNICODE_PATH:
            raise OfdMalformed(
                f"{where}: a second name in an Info-ZIP Unicode Path field (readers that "
                "use it would see another entry)",
                code="ofd_bad_name",
            )


def check_name(raw: bytes, flags: int, limits: OfdLimits) -> str:
    """An entry's name as text, or ``ofd_bad_name``."""
    shown = raw[:80].decode("utf-8", "replace")
    if len(raw) > limits.max_name:
        raise OfdMalformed(f"entry name of {len(raw)} bytes: {shown!r}…", code="ofd_bad_name")
    try:
        name = raw.decode("utf-8") if flags & _FLAG_UTF8 else raw.decode("ascii")
    except UnicodeDecodeError:
        raise OfdMalformed(
            f"entry name {shown!r} is neither flagged UTF-8 nor ASCII", code="ofd_bad_name"
        ) from None
    bad = (
        not name
        or name.startswith("/")
        or "\\" in name
        or ":" in name
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    )
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if bad or any(
        p in ("", ".", "..") or p[-1] in ". " or p.split(".")[0].upper() in _DEVICES
        for p in parts
    ):
        raise OfdMalformed(
            f"entry name {name[:80]!r}: not a plain relative path (absolute, '\\', ':', "
            "'..', empty segments, a segment ending in '.' or ' ', a device name, or "
            "control characters)",
            code="ofd_bad_name",
        )
    return name


def fold(name: str) -> str:
    """The key two names must not share: NFC normalised and case folded."""
    return unicodedata.normalize("NFC", name).casefold()


def _end_record(data: bytes, limits: OfdLimits) -> tuple[int, int, int]:
    """(entry count, central directory offset, end record offset)."""
    if len(data) < 22 or not data.startswith(_LOCAL):
        raise _malformed("not a zip file (no local header at byte 0)", "ofd_not_zip")
    window = max(0, len(data) - 22 - limits.max_comment)
    pos = data.rfind(_EOCD, window)
    while pos >= 0:
        (comment,) = struct.unpack_from("<H", data, pos + 20)
        if pos + 22 + comment == len(data):
            break
        pos = data.rfind(_EOCD, window, pos)
    if pos < 0:
        raise _malformed("no zip end record where it belongs (at the end, after its comment)",
                         "ofd_not_zip")
    disk, cd_disk, here, total, cd_size, cd_offset, _ = struct.unpack_from(
        "<HHHHIIH", data, pos + 4
    )
    if _EOCD in data[pos + 22 :]:
        raise _malformed("the zip comment holds another end record")
    if pos >= 20 and data[pos - 20 : pos - 16] == _EOCD64_LOCATOR:
        raise OfdMalformed("a ZIP64 end record (not needed, refused)", code="ofd_zip64")
    if 0xFFFF in (here, total) or 0xFFFFFFFF in (cd_size, cd_offset):
        raise OfdMalformed("ZIP64 marks in the end record (not needed, refused)",
                           code="ofd_zip64")
    if disk or cd_disk or here != total:
        raise _malformed("a zip file on several disks")
    if total > limits.max_entries:
        raise OfdHostile(
            f"{total} zip entries; at most {limits.max_entries} are read",
            code="ofd_too_many_entries",
        )
    if cd_offset + cd_size != pos:
        raise _malformed("the central directory does not end where the end record starts")
    return total, cd_offset, pos


def _central(data: bytes, count: int, start: int, end: int, limits: OfdLimits) -> list[Entry]:
    entries: list[Entry] = []
    pos = start
    for _ in range(count):
        if pos + 46 > end or data[pos : pos + 4] != _CENTRAL:
            raise _malformed(f"central directory entry at byte {pos} is not one")
        (_, _, flags, method, _, _, crc, csize, usize, nlen, elen, clen, disk, _, _,
         offset) = struct.unpack_from("<HHHHHHIIIHHHHHII", data, pos + 4)
        raw_name = data[pos + 46 : pos + 46 + nlen]
        extra = data[pos + 46 + nlen : pos + 46 + nlen + elen]
        pos += 46 + nlen + elen + clen
        if pos > end:
            raise _malformed("central directory entry runs past the directory")
        name = check_name(raw_name, flags, limits)
        where = f"entry {name[:80]!r}"
        if flags & (_FLAG_ENCRYPTED | _FLAG_STRONG | _FLAG_MASKED) or method == 99:
            raise OfdEncrypted(f"{where} is encrypted")
        if 0xFFFFFFFF in (csize, usize, offset):
            raise OfdMalformed(f"{where}: ZIP64 marks (not needed, refused)", code="ofd_zip64")
        _extras(extra, where)
        if disk:
            raise _malformed(f"{where} on another disk")
        if method not in (0, 8):
            raise OfdMalformed(
                f"{where}: compression method {method} (only stored and deflate are read)",
                code="ofd_zip_method",
            )
        if method == 0 and csize != usize:
            raise _malformed(f"{where}: stored with two different sizes")
        if method == 0 and flags & _FLAG_DESCRIPTOR:
            raise _malformed(
                f"{where}: stored with a data descriptor (a streaming reader, such as ofdrw's, "
                "finds its end by searching its bytes for a descriptor)"
            )
        if usize > limits.max_entry:
            raise OfdTooLarge(f"{where}: {usize} bytes; at most {limits.max_entry} per entry",
                              code="ofd_too_large")
        if usize > _BOMB_FLOOR and usize > limits.max_ratio * max(csize, 1):
            raise OfdHostile(
                f"{where}: {usize} bytes from {csize} compressed (more than "
                f"{limits.max_ratio} times): a zip bomb",
                code="ofd_zip_bomb",
            )
        if name.endswith("/") and usize:
            raise _malformed(f"{where}: a folder with content")
        entries.append(Entry(name, offset, method, flags, crc, csize, usize, 0, 0))
    if pos != end:
        raise _malformed("bytes left over in the central directory")
    return entries


def _local(data: bytes, e: Entry, limit: int) -> Entry:
    """The entry with its data's place, its local header checked against the central one."""
    pos = e.offset
    where = f"entry {e.name[:80]!r}"
    if pos + 30 > limit or data[pos : pos + 4] != _LOCAL:
        raise _malformed(f"{where}: no local header at byte {pos}")
    (_, flags, method, _, _, crc, csize, usize, nlen, elen) = struct.unpack_from(
        "<HHHHHIIIHH", data, pos + 4
    )
    raw_name = data[pos + 30 : pos + 30 + nlen]
    extra = data[pos + 30 + nlen : pos + 30 + nlen + elen]
    if check_name(raw_name, flags, _NAMES) != e.name or flags != e.flags or method != e.method:
        raise _malformed(f"{where}: the local header names another entry or method")
    _extras(extra, where)
    described = (crc, csize, usize)
    if not (described == (e.crc, e.compressed, e.size) or (
        flags & _FLAG_DESCRIPTOR and described == (0, 0, 0)
    )):
        raise _malformed(f"{where}: the local header's sizes or CRC differ")
    start = pos + 30 + nlen + elen
    end = start + e.compressed
    if flags & _FLAG_DESCRIPTOR:
        if data[end : end + 4] == _DESCRIPTOR:
            end += 4
        if end + 12 > limit or struct.unpack_from("<III", data, end) != (
            e.crc, e.compressed, e.size
        ):
            raise _malformed(f"{where}: its data descriptor differs")
        end += 12
    if end > limit:
        raise _malformed(f"{where}: runs past the central directory")
    return Entry(e.name, e.offset, e.method, e.flags, e.crc, e.compressed, e.size, start, end)


_NAMES = OfdLimits(max_name=1 << 16)
"""Local names are compared with the central name, already checked against the limits."""


def _inflate(data: bytes, e: Entry) -> bytes:
    raw = memoryview(data)[e.data_start : e.data_start + e.compressed]
    where = f"entry {e.name[:80]!r}"
    if e.method == 0:
        out = bytes(raw)
    else:
        d = zlib.decompressobj(-15)
        try:
            out = d.decompress(raw, e.size + 1)
        except zlib.error as exc:
            raise _malformed(f"{where}: deflate data cannot be read ({exc})") from None
        if len(out) != e.size or not d.eof or d.unconsumed_tail or d.unused_data:
            raise _malformed(f"{where}: inflates to another size than declared")
    if zlib.crc32(out) != e.crc:
        raise _malformed(f"{where}: CRC does not match")
    return out


@dataclass(frozen=True)
class OfdPackage:
    """The files of a package, read and checked (see the module docstring)."""

    files: dict[str, bytes] = field(repr=False)
    """Every file by its exact name (folders excluded)."""
    folders: frozenset[str]
    size: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_folded", {fold(n): n for n in self.files})

    def find(self, path: str) -> str | None:
        """The name of the file at ``path`` (a normalised package path without a leading
        ``/``): the exact name, else the one name equal to it after case folding (names
        that differ only by case are refused, so at most one; ofdrw's samples refer to
        ``TPLS/`` for ``Tpls/``, as Windows readers find it)."""
        if path in self.files:
            return path
        folded: dict[str, str] = self.__dict__["_folded"]
        return folded.get(fold(path))


def read_package(data: bytes, limits: OfdLimits = DEFAULT_LIMITS) -> OfdPackage:
    """Read and check a package (see the module docstring); raises an
    :class:`~seals.ofd.errors.OfdError` with its code, never anything else."""
    if len(data) > limits.max_size:
        raise OfdTooLarge(f"the package has {len(data)} bytes; at most {limits.max_size}",
                          code="ofd_too_large")
    if b"%PDF-" in data[:1024]:
        raise _malformed("the file is also a PDF (a polyglot): refused", "ofd_not_zip")
    count, cd_offset, cd_end = _end_record(data, limits)
    entries = _central(data, count, cd_offset, cd_end, limits)
    total = sum(e.size for e in entries)
    if total > limits.max_total:
        raise OfdTooLarge(
            f"the entries hold {total} bytes uncompressed; at most {limits.max_total}",
            code="ofd_too_large",
        )
    seen: dict[str, str] = {}
    for e in entries:
        key = fold(e.name.rstrip("/"))
        if key in seen:
            raise OfdMalformed(
                f"entries {seen[key][:80]!r} and {e.name[:80]!r} have the same name (or "
                "differ only by case)",
                code="ofd_duplicate_name",
            )
        seen[key] = e.name
    for e in entries:
        parts = e.name.rstrip("/").split("/")
        for i in range(1, len(parts)):
            other = seen.get(fold("/".join(parts[:i])))
            if other is not None and not other.endswith("/"):
                raise OfdMalformed(
                    f"entry {e.name[:80]!r} lies in a folder named like the file {other[:80]!r}",
                    code="ofd_duplicate_name",
                )
    placed = sorted((_local(data, e, cd_offset) for e in entries), key=lambda e: e.offset)
    pos = 0
    for e in placed:
        if e.offset != pos:
            raise _malformed(
                f"entry {e.name[:80]!r} starts at byte {e.offset}, not where the previous one "
                f"ends ({pos}): bytes between entries or entries overlapping"
            )
        pos = e.end
    if pos != cd_offset:
        raise _malformed(f"bytes {pos}–{cd_offset} between the last entry and the directory")
    files = {e.name: _inflate(data, e) for e in placed if not e.is_folder}
    folders = frozenset(e.name for e in placed if e.is_folder)
    return OfdPackage(files, folders, len(data))


def looks_like_ofd(data: bytes) -> bool:
    """A zip file (a local header at byte 0): every zip goes to the OFD reader, which says
    why one is not an OFD package (no ``OFD.xml``, or refused with its code) instead of
    "unsupported file"."""
    return data.startswith(_LOCAL)
