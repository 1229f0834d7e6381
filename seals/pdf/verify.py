"""Verifying sealed PDFs: every seal signature, its byte range, its digest, the seal
signature itself, and what changed in the file after it was made.

``verify_pdf(pdf_bytes, *, at=None, anchors=(), lenient_ca=False) -> PdfReport``. Per
signature (:class:`PdfSignatureReport`), steps in order:

- ``pdf.byte_range``: ``/ByteRange`` is ``[0 b c d]``; the gap ``[b, c)`` is exactly the hex
  string of this signature dictionary's ``/Contents``; ``c + d`` is the end of a revision (a
  ``%%EOF`` line) whose own cross-reference chain defines this field and signature dictionary;
  ``propertyInfo`` names the same range; ``/Contents`` holds the DER and zero padding only.
- ``pdf.digest``: plain SM3 of the two ranges equals ``dataHash`` (it takes the place of the
  ``signature.data_hash`` step of :func:`seals.seal.verify_signature`).
- every other step of :func:`seals.seal.verify_signature`.
- ``pdf.modifications``: what the file gained after the signed revision. Nothing: VALID. Only
  later seal revisions (new signature fields with their signature dictionaries, widgets and
  appearances; the page's ``/Annots``, the catalog's ``/AcroForm``, ``/Fields`` and
  ``/SigFlags`` extended accordingly): VALID, listing them. Anything else (an object redefined
  — content, resources, pages —, an object deleted, an object that the sealed revision
  referred to defined later, an update that adds no seal, bytes that are no revision):
  INVALID.

Raises :class:`~seals.pdf.errors.PdfError` only when the file as a whole cannot be read
(``pdf_malformed``, ``pdf_encrypted``, ``pdf_too_large``, ``pdf_hostile``); everything about a
signature is a step, never an exception.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seals import sm2
from seals.errors import SealError
from seals.pdf.errors import PdfError
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits, Section, View, find_eof
from seals.pdf.stamp import SUBFILTER
from seals.pdf.syntax import PdfObject, Ref, Stream, decode_text, equal
from seals.seal import Step, StepStatus, VerificationReport, verify_signature
from seals.ses import SealSignature, parse_signature
from seals.x509 import Certificate

_HEX = re.compile(rb"[0-9A-Fa-f]*")
_WS = frozenset(b"\x00\t\n\x0c\r ")


@dataclass(frozen=True)
class PdfSignatureReport:
    """One signature field of a PDF and the steps of verifying it."""

    field: str
    """The field's full name (``/T``)."""
    revision: int
    """How many cross-reference sections the signed revision has (1: the original file)."""
    byte_range: tuple[int, ...]
    signer: str | None
    """The signer certificate's subject, when readable."""
    signing_time: datetime | None
    seal_name: str | None
    steps: tuple[Step, ...]
    subject: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.report().ok

    def report(self) -> VerificationReport:
        return VerificationReport("pdf_signature", self.steps, self.subject)


@dataclass(frozen=True)
class PdfReport:
    """Every signature of a PDF, and the document-level steps."""

    size: int
    revisions: int
    """Cross-reference sections in the file."""
    steps: tuple[Step, ...]
    """``pdf.structure`` and ``pdf.signatures``."""
    signatures: tuple[PdfSignatureReport, ...]

    data: bytes = dataclasses.field(repr=False, compare=False, default=b"")

    @property
    def document_digest(self) -> bytes:
        """SM3 of the whole file (what gets anchored; computed when asked)."""
        return sm2.sm3(self.data)

    @property
    def ok(self) -> bool:
        """At least one seal signature, and every signature and document step is fine."""
        whole = VerificationReport(
            "pdf", self.steps + tuple(s for sig in self.signatures for s in sig.steps)
        )
        return bool(self.signatures) and whole.ok


def _step(name: str, type_: str, status: StepStatus, reason: str, **data: Any) -> Step:
    return Step(name, type_, status, reason, data)


def _guard(name: str, type_: str, fn: Callable[[], Step]) -> Step:
    try:
        return fn()
    except SealError as exc:
        return _step(name, type_, StepStatus.INVALID, f"cannot be read: {exc}", error=exc.code)
    except Exception as exc:  # a step never crashes the report
        return _step(name, type_, StepStatus.ERROR, f"could not check: {exc}", error=repr(exc))


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class _Found:
    name: str
    ref: Ref | None
    sig: dict[str, PdfObject]


def _signature_fields(file: PdfFile) -> list[_Found]:
    """Signed signature fields in the document and in every earlier revision of it."""
    found: dict[tuple[int | None, str], _Found] = {}
    for k in range(len(file.sections)):
        try:
            fields = file.view(k).fields()
        except PdfError:
            if k == 0:
                raise
            continue
        view = file.view(k)
        for _, f, name in fields:
            if f.get("FT") != "Sig":
                continue
            value = f.get("V")
            try:
                sig = view.resolve(value)
            except PdfError:
                continue
            if not isinstance(sig, dict):
                continue
            ref = value if isinstance(value, Ref) else None
            key = (ref.num if ref else None, repr(sig.get("ByteRange")))
            found.setdefault(key, _Found(name, ref, sig))
    return sorted(found.values(), key=lambda f: _range_end(f.sig))


def _range_end(sig: dict[str, PdfObject]) -> int:
    br = sig.get("ByteRange")
    if isinstance(br, list) and len(br) == 4 and all(isinstance(v, int) for v in br):
        return int(br[2]) + int(br[3])
    return -1


# ------------------------------------------------------------------------ byte range


@dataclass
class _Signed:
    ranges: tuple[int, int, int, int]
    end: int
    prefix: PdfFile
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


def _byte_range(
    data: bytes, found: _Found, parsed: list[SealSignature], full: PdfFile
) -> tuple[Step, _Signed | None]:
    name = "pdf.byte_range"

    def bad(reason: str, **extra: Any) -> tuple[Step, None]:
        return _step(name, "integrity", StepStatus.INVALID, reason, **extra), None

    sig = found.sig
    br = sig.get("ByteRange")
    contents = sig.get("Contents")
    if not isinstance(br, list) or not br:
        return bad("the signature has no /ByteRange: it protects nothing")
    if not isinstance(contents, bytes) or not contents.strip(b"\x00"):
        return bad("the signature has no /Contents: there is no signature")
    if len(br) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in br):
        return bad(f"/ByteRange is not four integers: {br!r}")
    a, b, c, d = (int(v) for v in br)
    info = {"byte_range": [a, b, c, d], "file_size": len(data)}
    if a != 0:
        return bad(f"/ByteRange starts at byte {a}, not 0: the file's start is not covered", **info)
    if min(b, c, d) < 0 or c <= b or c + d > len(data):
        return bad("/ByteRange points outside the file or its ranges overlap", **info)
    if not (data[b : b + 1] == b"<" and data[c - 1 : c] == b">"):
        return bad("the gap in /ByteRange is not a hex string: bytes are left unprotected", **info)
    m = _HEX.fullmatch(data, b + 1, c - 1)
    if m is None or (c - b) % 2:
        return bad("the gap in /ByteRange is not a hex string: bytes are left unprotected", **info)
    if bytes.fromhex(data[b + 1 : c - 1].decode("ascii")) != contents:
        return bad(
            "the gap in /ByteRange is not this signature's /Contents (signature wrapping?)", **info
        )
    end = c + d
    eof = data.rfind(b"%%EOF", 0, end)
    if eof < 0 or find_eof(data, eof) != end:
        return bad(
            f"the signed range ends at byte {end}, which is not the end of a revision "
            "(%%EOF): the signature does not cover its own revision",
            **info,
        )
    info["revision_end"] = end
    try:
        prefix = full if end == len(data) else PdfFile(data[:end], full.limits)
        view = prefix.view()
        fields = [f for f in view.fields() if f[1].get("FT") == "Sig"]
    except PdfError as exc:
        return bad(f"the signed revision cannot be read: {exc}", **info)
    ref = found.ref
    entry = prefix.view().entry(ref.num) if ref is not None else None
    if ref is None or entry is None or entry.kind != 1:
        return bad("the signature dictionary is not an uncompressed object of the signed revision",
                   **info)
    if not any(isinstance(f[1].get("V"), Ref) and f[1]["V"].num == ref.num for f in fields):
        return bad("the signed revision has no signature field with this signature", **info)
    obj_start = entry.a
    head = data[obj_start:b]
    if not (obj_start < b and re.search(rb"/Contents[\x00\t\n\x0c\r ]*\Z", head)):
        return bad("the gap is not where this signature dictionary keeps /Contents", **info)
    if not equal(view.get(ref.num), sig) or head.count(b"/Contents") != 1:
        return bad("the signature dictionary differs from the one the range was made for", **info)
    length = _der_length(contents)
    if length is None or length > len(contents):
        der = contents.rstrip(b"\x00")
    else:
        der = contents[:length]
        if contents[length:].strip(b"\x00"):
            return bad("/Contents holds bytes after the signature", **info)
    if parsed:
        expected = f"/ByteRange [{a} {b} {c} {d}]"
        if parsed[0].property_info != expected:
            return bad(
                f"the signature protects {parsed[0].property_info!r}, not {expected!r}", **info
            )
    covered = (b + d) / max(1, len(data))
    return (
        _step(
            name,
            "integrity",
            StepStatus.VALID,
            f"covers bytes 0–{end} of its revision except exactly the signature "
            f"({c - b} bytes)",
            **info,
            covered=round(covered, 6),
        ),
        _Signed((a, b, c, d), end, prefix, der),
    )


# ---------------------------------------------------------------------- modifications


def _refs(value: PdfObject, out: set[int], depth: int = 0) -> None:
    if depth > 200:
        return
    if isinstance(value, Ref):
        out.add(value.num)
    elif isinstance(value, Stream):
        _refs(value.dict, out, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _refs(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _refs(v, out, depth + 1)


def _referenced(view: View, skip: set[int]) -> set[int]:
    out: set[int] = set()
    _refs(view.trailer, out)
    for num in view.numbers():
        if num in skip or not view.in_use(num):
            continue
        try:
            _refs(view.get(num), out)
        except PdfError:
            continue
    return out


class _Revision:
    """One later revision: compares the document before and after it."""

    def __init__(self, before: View, after: View, section: Section, number: int) -> None:
        self.before, self.after, self.section, self.number = before, after, section, number
        self.problems: list[str] = []
        self.seal_fields: list[str] = []
        self.sig_widgets: set[int] = set()

    def check(self) -> None:
        before, after = self.before, self.after
        entries = self.section.entries
        new = [n for n, e in entries.items() if n > 0 and e.kind in (1, 2) and not before.in_use(n)]
        changed = [n for n, e in entries.items() if n > 0 and before.in_use(n)]
        new_set = set(new)
        if not isinstance(after.trailer.get("Root"), Ref) or after.trailer.get(
            "Root"
        ) != before.trailer.get("Root"):
            self.problems.append("the document catalog (/Root) was replaced")
        if not equal(after.trailer.get("Info"), before.trailer.get("Info")):
            self.problems.append("the document information (/Info) was replaced")
        for n in new:
            obj = after.get(n)
            if isinstance(obj, dict) and obj.get("FT") == "Sig":
                self._signature_field(n, obj, new_set)
        for n in changed:
            if entries[n].kind == 0:
                self.problems.append(f"object {n} was deleted")
                continue
            old, cur = before.get(n), after.get(n)
            if not equal(old, cur):
                problem = self._change(n, old, cur, new_set)
                if problem:
                    self.problems.append(problem)
        if new:
            early = _referenced(before, set(changed)) & new_set
            for n in sorted(early)[:5]:
                self.problems.append(
                    f"object {n} was referred to but undefined in the sealed revision, and is "
                    "defined later (shadow attack)"
                )
        if not self.seal_fields:
            self.problems.append("it adds no signed signature field: not a seal")

    def _signature_field(self, n: int, obj: dict[str, PdfObject], new: set[int]) -> None:
        value = obj.get("V")
        sig = self.after.get(value.num) if isinstance(value, Ref) else None
        if isinstance(value, Ref) and value.num in new and isinstance(sig, dict) and (
            "ByteRange" in sig and "Contents" in sig
        ):
            self.sig_widgets.add(n)
            self.seal_fields.append(decode_text(obj.get("T")) or f"object {n}")
        else:
            self.problems.append(f"signature field {n} was added without a new signature")

    def _change(self, n: int, old: PdfObject, cur: PdfObject, new: set[int]) -> str | None:
        before, after = self.before, self.after
        if isinstance(old, list) and isinstance(cur, list):
            return None if self._appended(old, cur) else f"array object {n} was changed"
        if not (isinstance(old, dict) and isinstance(cur, dict)):
            what = "stream" if isinstance(old, Stream) else type(old).__name__
            return f"object {n} ({what}) was changed"
        diff = {k for k in old.keys() | cur.keys() if not equal(old.get(k), cur.get(k))}
        kind = old.get("Type")
        if kind == "Catalog" or self.before.trailer.get("Root") == Ref(n, 0):
            if diff <= {"AcroForm"} and self._acroform(
                before.resolve_dict(old.get("AcroForm")), after.resolve_dict(cur.get("AcroForm"))
            ):
                return None
            return f"the document catalog was changed ({', '.join(sorted(diff))})"
        if "Fields" in old or "Fields" in cur:
            return None if self._acroform(old, cur) else f"the form (object {n}) was changed"
        if kind == "Page":
            if diff <= {"Annots"} and self._appended(
                before.resolve(old.get("Annots")) or [], after.resolve(cur.get("Annots")) or []
            ):
                return None
            return f"page object {n} was changed ({', '.join(sorted(diff))})"
        if old.get("FT") == "Sig" and "V" not in old and diff <= {"V", "AP"}:
            self._signature_field(n, cur, new)
            return None
        return f"object {n}{f' (/{kind})' if kind else ''} was changed ({', '.join(sorted(diff))})"

    def _acroform(self, old: dict[str, PdfObject], cur: dict[str, PdfObject]) -> bool:
        diff = {k for k in old.keys() | cur.keys() if not equal(old.get(k), cur.get(k))}
        if not diff <= {"Fields", "SigFlags"}:
            return False
        fields_old = self.before.resolve(old.get("Fields")) or []
        fields_new = self.after.resolve(cur.get("Fields")) or []
        return isinstance(cur.get("SigFlags", 0), int) and self._appended(fields_old, fields_new)

    def _appended(self, old: PdfObject, cur: PdfObject) -> bool:
        if not isinstance(old, list) or not isinstance(cur, list) or len(cur) < len(old):
            return False
        if not all(equal(x, y) for x, y in zip(old, cur, strict=False)):
            return False
        return all(isinstance(r, Ref) and r.num in self.sig_widgets for r in cur[len(old) :])


def _modifications(data: bytes, full: PdfFile, signed: _Signed) -> Step:
    name = "pdf.modifications"
    prefix_offsets = [s.offset for s in signed.prefix.sections]
    full_offsets = [s.offset for s in full.sections]
    later = len(full_offsets) - len(prefix_offsets)
    if later < 0 or full_offsets[later:] != prefix_offsets:
        return _step(
            name,
            "integrity",
            StepStatus.INVALID,
            "the file's cross-reference chain does not continue the sealed revision: "
            "it was rewritten after sealing",
        )
    problems: list[str] = []
    seals: list[str] = []
    tail = data[full.end :]
    if tail and not all(ch in _WS for ch in tail):
        problems.append(f"{len(tail)} bytes after the end of the last revision")
    if later == 0 and full.end > signed.end:
        extra = data[signed.end : full.end]
        if not all(ch in _WS for ch in extra):
            problems.append(f"{len(extra)} bytes after the sealed revision that are no revision")
    before = signed.prefix.view()
    for idx in range(later - 1, -1, -1):
        section = full.sections[idx]
        number = len(full.sections) - idx
        if section.offset < signed.end:
            problems.append(f"revision {number} is written inside the sealed bytes")
            break
        after = full.view(idx)
        revision = _Revision(before, after, section, number)
        try:
            revision.check()
        except PdfError as exc:
            revision.problems.append(f"it cannot be read: {exc}")
        problems += [f"revision {number}: {p}" for p in revision.problems]
        seals += [f"revision {number} adds seal field '{f}'" for f in revision.seal_fields]
        before = after
    data_out: dict[str, Any] = {"later_revisions": later, "revision_end": signed.end}
    if problems:
        return _step(
            name,
            "integrity",
            StepStatus.INVALID,
            "the document was changed after this seal: " + "; ".join(problems[:10]),
            problems=problems,
            **data_out,
        )
    if later:
        return _step(
            name,
            "integrity",
            StepStatus.VALID,
            "only further seals were added after this one: " + "; ".join(seals),
            seals=seals,
            **data_out,
        )
    note = f" ({len(tail)} bytes of trailing whitespace ignored)" if tail else ""
    return _step(
        name, "integrity", StepStatus.VALID, "nothing was changed after this seal" + note,
        **data_out,
    )


# ------------------------------------------------------------------------------ verify


def _verify_one(
    data: bytes,
    full: PdfFile,
    found: _Found,
    *,
    at: datetime | None,
    anchors: Sequence[Certificate],
    lenient_ca: bool,
) -> PdfSignatureReport:
    sig = found.sig
    subfilter = sig.get("SubFilter")
    br = sig.get("ByteRange")
    byte_range = tuple(int(v) for v in br if isinstance(v, int)) if isinstance(br, list) else ()
    subject: dict[str, Any] = {"field": found.name, "byte_range": list(byte_range)}
    if subfilter != SUBFILTER:
        step = _step(
            "pdf.format",
            "format",
            StepStatus.SKIPPED,
            f"field '{found.name}' holds a /SubFilter /{subfilter} signature, not a GB/T 38540 "
            "seal signature: not checked",
        )
        return PdfSignatureReport(found.name, 0, byte_range, None, None, None, (step,), subject)
    contents = sig.get("Contents")
    parsed: list[SealSignature] = []
    if isinstance(contents, bytes):
        length = _der_length(contents)
        try:
            parsed.append(parse_signature(contents[:length] if length else contents))
        except SealError:
            pass
    step, signed = _byte_range(data, found, parsed, full)
    steps: list[Step] = [step]
    der = signed.der if signed else (contents if isinstance(contents, bytes) else b"")
    report = verify_signature(
        parsed[0] if parsed and signed else der, at=at, anchors=anchors, lenient_ca=lenient_ca
    )

    def digest() -> Step:
        if signed is None:
            return _step("pdf.digest", "integrity", StepStatus.SKIPPED, "no valid byte range")
        if not parsed:
            return _step(
                "pdf.digest", "integrity", StepStatus.SKIPPED, "the signature cannot be read"
            )
        _, b, c, d = signed.ranges
        view = memoryview(data)
        actual = sm2.sm3(b"".join((view[:b], view[c : c + d])))
        facts = {"data_hash": parsed[0].data_hash.hex(), "sm3": actual.hex()}
        if actual == parsed[0].data_hash:
            return _step(
                "pdf.digest", "integrity", StepStatus.VALID,
                "the signed bytes are exactly what was sealed (SM3 matches)", **facts,
            )
        return _step(
            "pdf.digest", "integrity", StepStatus.INVALID,
            "the signed bytes differ from what was sealed (SM3 does not match)", **facts,
        )

    for s in report.steps:
        if s.name == "signature.data_hash":
            steps.append(_guard("pdf.digest", "integrity", digest))
        else:
            steps.append(s)
    if not any(s.name == "pdf.digest" for s in steps):
        steps.append(_guard("pdf.digest", "integrity", digest))
    if signed is None:
        steps.append(
            _step("pdf.modifications", "integrity", StepStatus.SKIPPED,
                  "cannot tell what changed: the byte range is not valid")
        )
    else:
        steps.append(
            _guard("pdf.modifications", "integrity", lambda: _modifications(data, full, signed))
        )
    first = parsed[0] if parsed else None
    subject.update(report.subject)
    subject["field"] = found.name
    return PdfSignatureReport(
        field=found.name,
        revision=len(signed.prefix.sections) if signed else 0,
        byte_range=byte_range,
        signer=str(report.subject["signer"]) if report.subject.get("signer") else None,
        signing_time=first.signing_time if first else None,
        seal_name=first.seal.property.name if first else None,
        steps=tuple(steps),
        subject=subject,
    )


def verify_pdf(
    pdf_bytes: bytes,
    *,
    at: datetime | None = None,
    anchors: Sequence[Certificate] = (),
    lenient_ca: bool = False,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> PdfReport:
    """Verify every seal signature of a PDF (see the module docstring)."""
    data = bytes(pdf_bytes)
    full = PdfFile(data, limits)
    kinds = sorted({s.kind for s in full.sections})
    structure = _step(
        "pdf.structure",
        "format",
        StepStatus.VALID,
        f"a PDF {full.version} of {len(data)} bytes with {len(full.sections)} "
        f"cross-reference section(s) ({', '.join(kinds)})",
        size=len(data),
        sections=len(full.sections),
    )
    found = _signature_fields(full)
    signatures = tuple(
        _verify_one(data, full, f, at=at, anchors=anchors, lenient_ca=lenient_ca) for f in found
    )
    seals = [s for s in signatures if s.revision or s.steps[0].name != "pdf.format"]
    if seals:
        count = _step(
            "pdf.signatures",
            "format",
            StepStatus.VALID,
            f"{len(seals)} seal signature(s): " + ", ".join(s.field for s in seals),
            fields=[s.field for s in seals],
        )
    else:
        count = _step(
            "pdf.signatures", "format", StepStatus.INVALID,
            "the PDF carries no GB/T 38540 seal signature",
        )
    return PdfReport(
        size=len(data),
        revisions=len(full.sections),
        steps=(structure, count),
        signatures=signatures,
        data=data,
    )
