"""Finding the signatures of a PDF and checking each one's byte range.

- :func:`inventory`: every signature dictionary of every cross-reference section (fields,
  their values, anything that looks like a signature dictionary), and what each section
  refers to.
- :func:`byte_range`: the ``pdf.byte_range`` check of one signature (see
  :mod:`seals.pdf.verify` for the rules), and what it signed when it holds.
- :func:`step`, :func:`said`: the checks of a PDF, built with their catalogue messages.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import re
from array import array
from dataclasses import dataclass
from typing import Any

from seals.pdf.errors import PdfError, PdfHostile, PdfMalformed
from seals.pdf.reader import (
    OBJ_HEADER,
    PdfFile,
    View,
    find_eof,
    startxref_before,
)
from seals.pdf.syntax import Parser, PdfObject, Ref, Stream, brief, equal
from seals.report import Check, Message, Status
from seals.ses import SealSignature

_HEX = re.compile(rb"[0-9A-Fa-f]*")
WS = frozenset(b"\x00\t\n\x0c\r ")
EMPTY = Message("empty")
MAX_TAIL = 32
"""The most whitespace accepted after the last ``%%EOF`` (a writer's end of line or two)."""
_SIGNATURE_WORDS = re.compile(
    rb"/(?:FT|ByteRange|Sig|DocTimeStamp|Widget)(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)
"""Names without which an object cannot be (or hold) a signature field or dictionary."""


def step(name: str, type_: str, status: Status, message: str, /, **data: Any) -> Check:
    """A check whose message has no parameters, its data as keywords."""
    return Check(name, type_, status, message, {}, data)


def said(
    name: str, type_: str, status: Status, message: str, params: dict[str, Any], /, **data: Any
) -> Check:
    """A check with message parameters, its data as keywords."""
    return Check(name, type_, status, message, params, data)


def is_int(value: PdfObject) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)



# --------------------------------------------------------------------------- finding


@dataclass
class Candidate:
    """One distinct signature dictionary found somewhere in the file."""

    num: int | None
    """Its object number (None: a direct dictionary inside a field)."""
    gen: int
    section: int
    """The oldest section that defines it."""
    sig: dict[str, PdfObject]
    names: list[str] = dataclasses.field(default_factory=list)
    """Partial names (``/T``) of the fields found holding it."""

    @property
    def ref(self) -> Ref | None:
        return Ref(self.num, self.gen) if self.num is not None else None

    def range_end(self) -> int:
        br = self.sig.get("ByteRange")
        if isinstance(br, list) and len(br) == 4 and all(is_int(v) for v in br):
            return int(br[2]) + int(br[3])
        return -1

    def label(self) -> str:
        if self.names:
            return self.names[0]
        if self.num is not None:
            return f"signature object {self.num}"
        return "a signature inside a field"


@dataclass
class Inventory:
    candidates: dict[tuple[Any, ...], Candidate]
    refs: list[array[int]]
    """Per section: the sorted numbers its objects (and trailer) refer to."""


def _is_sig_dict(d: dict[str, PdfObject]) -> bool:
    return d.get("Type") in ("Sig", "DocTimeStamp") or "ByteRange" in d


def inventory(full: PdfFile) -> Inventory:
    """Every signature dictionary of every section, and what each section refers to."""
    found: dict[tuple[Any, ...], Candidate] = {}
    contents: dict[int, tuple[dict[str, PdfObject], bytes]] = {}

    def content(sig: dict[str, PdfObject]) -> bytes:
        """What tells signature dictionaries apart: a digest of the content, formatted once
        per dictionary read (many fields may name one big dictionary) and paid for."""
        known = contents.get(id(sig))
        if known is None:
            text = repr(sig)
            full.budget.spend(len(text) >> 8)
            known = contents[id(sig)] = (sig, hashlib.sha256(text.encode("utf-8", "replace"))
                                         .digest())
        return known[1]

    def add(num: int | None, gen: int, section: int, sig: dict[str, PdfObject], name: str) -> None:
        key = (num, gen, content(sig))
        cand = found.get(key)
        if cand is None:
            if len(found) >= full.limits.max_signatures:
                raise PdfHostile(
                    f"the PDF holds more than {full.limits.max_signatures} signatures (at most "
                    "that many are verified)"
                )
            cand = found[key] = Candidate(num, gen, section, sig)
        cand.section = max(cand.section, section)
        if name and name not in cand.names:
            cand.names.append(name)

    for obj in full.objects(_SIGNATURE_WORDS):
        view = full.view(obj.section)
        for k, d in enumerate(obj.dicts):
            top = k == 0 and (isinstance(obj.value, dict) or isinstance(obj.value, Stream))
            if top and _is_sig_dict(d):
                add(obj.num, obj.gen, obj.section, d, "")
            if d.get("FT") != "Sig" and not (
                "FT" not in d and d.get("Subtype") == "Widget" and isinstance(d.get("Parent"), Ref)
            ):
                continue
            ft, value, name = view.field_value(d)
            if ft != "Sig" or value is None:
                continue  # not a signature field, or an empty one (a placeholder)
            if isinstance(value, Ref):
                target = view.get(value.num, value.gen)
                if target is None:
                    continue  # /V names no object: unsigned, as viewers show it
                sig = target.dict if isinstance(target, Stream) else target
                where = _defined_in(full, value.num, obj.section)
                add(value.num, value.gen, where, sig if isinstance(sig, dict) else {}, name)
            else:
                add(None, 0, obj.section, value if isinstance(value, dict) else {}, name)
    refs = full.references
    for section, numbers in zip(full.sections, refs, strict=True):
        for key in ("Root", "Info"):  # what the trailer refers to counts too
            ref = section.trailer.get(key)
            if isinstance(ref, Ref):
                i = bisect.bisect_left(numbers, ref.num)
                if i == len(numbers) or numbers[i] != ref.num:
                    numbers.insert(i, ref.num)
    return Inventory(found, refs)


def _defined_in(full: PdfFile, num: int, start: int) -> int:
    """The section (``start`` or older) whose entry defines ``num`` in view ``start``."""
    for i in range(start, len(full.sections)):
        if num in full.sections[i].entries:
            return i
    return start


# ------------------------------------------------------------------------ byte range


@dataclass
class Signed:
    ranges: tuple[int, int, int, int]
    end: int
    index: int
    """The section index of the signed revision's newest section."""
    view: View
    der: bytes


def _der_length(blob: bytes) -> int | None:
    if len(blob) < 2 or blob[0] != 0x30:
        return None
    first = blob[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or len(blob) < 2 + count:
        return None
    return 2 + count + int.from_bytes(blob[2 : 2 + count], "big")


def der_of(contents: bytes) -> bytes:
    """The DER in ``/Contents``, without its zero padding."""
    length = _der_length(contents)
    if length is None or length > len(contents):
        return contents.rstrip(b"\x00")
    return contents[:length]


def byte_range(
    data: bytes, cand: Candidate, parsed: SealSignature | None, full: PdfFile,
    extents: list[int],
) -> tuple[Check, Signed | None]:
    name = "pdf.byte_range"

    def invalid_range(
        why: str, params: dict[str, Any] | None = None, /, **extra: Any
    ) -> tuple[Check, None]:
        # what is wrong: a message of its own, said in both languages
        reason = {"why": Message(why, params or {})}
        check = said(name, "integrity", Status.INVALID, "pdf.byte_range.invalid", reason, **extra)
        return check, None

    sig = cand.sig
    br = sig.get("ByteRange")
    contents = sig.get("Contents")
    if not isinstance(br, list) or not br:
        return invalid_range("pdf.byte_range.none")
    if not isinstance(contents, bytes) or not contents.strip(b"\x00"):
        return invalid_range("pdf.byte_range.no_contents")
    if len(br) != 4 or not all(is_int(v) for v in br):
        return invalid_range("pdf.byte_range.not_four", {"value": brief(br)})
    a, b, c, d = (int(v) for v in br)
    info: dict[str, Any] = {"byte_range": [a, b, c, d], "file_size": len(data)}
    if a != 0:
        return invalid_range("pdf.byte_range.not_at_start", {"start": a}, **info)
    if min(b, c, d) < 0 or c <= b or c + d > len(data):
        return invalid_range("pdf.byte_range.outside", **info)
    if not (data[b : b + 1] == b"<" and data[c - 1 : c] == b">"):
        return invalid_range("pdf.byte_range.gap_not_hex", **info)
    m = _HEX.fullmatch(data, b + 1, c - 1)
    if m is None or (c - b) % 2:
        return invalid_range("pdf.byte_range.gap_not_hex", **info)
    if bytes.fromhex(data[b + 1 : c - 1].decode("ascii")) != contents:
        return invalid_range("pdf.byte_range.gap_not_contents", **info)
    end = c + d
    eof = data.rfind(b"%%EOF", 0, end)
    if eof < 0 or find_eof(data, eof) != end:
        return invalid_range("pdf.byte_range.not_revision_end", {"end": end}, **info)
    info["revision_end"] = end
    offset = startxref_before(data, end)
    index = next((i for i, s in enumerate(full.sections) if s.offset == offset), None)
    if index is None:
        return invalid_range("pdf.byte_range.not_in_chain", **info)
    sections = full.sections[index:]
    if any(s.end > end for s in sections) or max(extents[index:], default=0) > end:
        return invalid_range("pdf.byte_range.refers_after", **info)
    try:
        view = full.view(index, limit=end)
        fields = [f for f in view.fields() if f[1].get("FT") == "Sig"]
    except PdfError as exc:
        return invalid_range("pdf.byte_range.revision_unreadable", {"error": str(exc)}, **info)
    ref = cand.ref
    entry = view.entry(ref.num) if ref is not None else None
    if ref is None or entry is None or entry.kind != 1 or entry.gen != ref.gen:
        return invalid_range("pdf.byte_range.not_in_revision", **info)
    if not any(isinstance(f[1].get("V"), Ref) and f[1]["V"] == ref for f in fields):
        return invalid_range("pdf.byte_range.no_field", **info)
    # where the dictionary keeps /Contents, parsed (its strings may hold '/Contents' too)
    try:
        header = OBJ_HEADER.match(data, entry.a)
        if header is None:
            raise PdfMalformed(f"no object at byte {entry.a}")
        parser = Parser(data, max_depth=full.limits.max_depth, budget=full.budget)
        spans = parser.dict_spans(header.end())[2]
    except PdfError as exc:
        return invalid_range("pdf.byte_range.dictionary_unreadable", {"error": str(exc)}, **info)
    where = spans.get("Contents")
    if where is None or where[1:] != (b, c):
        return invalid_range("pdf.byte_range.gap_misplaced", **info)
    if not equal(view.get(ref.num, ref.gen), sig):
        return invalid_range("pdf.byte_range.dictionary_differs", **info)
    der = der_of(contents)
    if contents[len(der) :].strip(b"\x00"):
        return invalid_range("pdf.byte_range.trailing", **info)
    if parsed is not None:
        expected = f"/ByteRange [{a} {b} {c} {d}]"
        if parsed.property_info != expected:
            protects = {"protects": brief(parsed.property_info), "expected": expected}
            return invalid_range("pdf.byte_range.other_range", protects, **info)
    covered = (b + d) / max(1, len(data))
    return (
        said(
            name,
            "integrity",
            Status.VALID,
            "pdf.byte_range.valid",
            {"end": end, "gap": c - b},
            **info,
            covered=round(covered, 6),
        ),
        Signed((a, b, c, d), end, index, view, der),
    )


