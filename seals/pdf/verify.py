"""Verifying sealed PDFs: every signature-like object in every revision, its byte range, its
digest, the seal signature itself, and what changed in the file after it was made.

``verify_pdf(pdf_bytes, *, at=None, anchors=(), lenient_ca=False) -> PdfReport``.

Signatures are collected from everything, not only the form: every in-use object of every
cross-reference section that is a signature field (``/FT /Sig``, inherited through
``/Parent`` too) or looks like a signature dictionary (``/Type /Sig``, ``/Type
/DocTimeStamp``, a ``/ByteRange``), and the value (``/V``) of every such field, direct
dictionaries included. Each distinct signature dictionary gets its own
:class:`PdfSignatureReport`; a signature this service cannot verify (another ``/SubFilter``)
is INVALID, never skipped. Per signature, steps in order:

- ``pdf.format``: only for a foreign ``/SubFilter``: INVALID, and nothing else is checked.
- ``pdf.byte_range``: ``/ByteRange`` is ``[0 b c d]``; the gap ``[b, c)`` is exactly the hex
  string of this signature dictionary's ``/Contents``; ``c + d`` is the end of a revision of
  the file's chain (``startxref`` naming one of its sections, then ``%%EOF``) whose view
  defines this field and signature dictionary, all of whose objects lie inside the range;
  ``propertyInfo`` names the same range; ``/Contents`` holds the DER and zero padding only.
- ``pdf.digest``: plain SM3 of the two ranges equals ``dataHash`` (it takes the place of the
  ``signature.data_hash`` step of :func:`seals.seal.verify_signature`).
- every other step of :func:`seals.seal.verify_signature`.
- ``pdf.modifications``: what the file gained after the signed revision. Nothing: VALID. Only
  later seal revisions, each checked once (see :class:`_Revision`): VALID when every seal they
  add verifies on its own. Anything else — an object redefined or deleted, bytes a revision's
  cross-reference section does not account for, an object the sealed revision referred to
  defined later, a later seal whose appearance breaks the policy (``seals/pdf/README.md``),
  a later seal that does not verify: INVALID.

Raises :class:`~seals.pdf.errors.PdfError` only when the file as a whole cannot be read or is
out of bounds (``pdf_malformed``, ``pdf_encrypted``, ``pdf_too_large``, ``pdf_hostile``);
everything about a signature is a step, never an exception.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seals import sm2
from seals.errors import SealError, says_nothing_of_the_input
from seals.pdf.errors import PdfHostile
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits, View
from seals.pdf.revisions import Later, modifications_check
from seals.pdf.signatures import (
    Candidate,
    Signed,
    byte_range,
    der_of,
    inventory,
    is_int,
    said,
    step,
)
from seals.pdf.stamp import SUBFILTER
from seals.pdf.syntax import Name, brief
from seals.report import Check, Joined, Message, Status, VerificationReport
from seals.seal_verify import verify_signature
from seals.ses import SealSignature, parse_signature
from seals.sm3 import IMPLEMENTATION as SM3_IMPLEMENTATION
from seals.sm3 import sm3_prefixed
from seals.x509 import X509Certificate

_SHARED_SM3 = SM3_IMPLEMENTATION == "hashlib"
"""Whether hash states can be copied (OpenSSL's SM3), so that seals share the hashing."""

@dataclass(frozen=True)
class PdfSignatureReport:
    """One signature of a PDF and the steps of verifying it."""

    field: str
    """The field's full name (``/T``), or where the signature dictionary was found."""
    revision: int
    """How many cross-reference sections the signed revision has (1: the original file);
    0 when the byte range does not name a revision of the file."""
    byte_range: tuple[int, ...]
    signer: str | None
    """The signer certificate's subject, when readable."""
    signing_time: datetime | None
    seal_name: str | None
    steps: tuple[Check, ...]
    subject: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    revision_digest: bytes | None = None
    """SM3 of the file up to the end of the signed revision (what is anchored on chain),
    when the byte range is valid."""

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
    steps: tuple[Check, ...]
    """``pdf.structure`` and ``pdf.signatures``."""
    signatures: tuple[PdfSignatureReport, ...]

    data: bytes = dataclasses.field(repr=False, compare=False, default=b"")
    file: PdfFile | None = dataclasses.field(repr=False, compare=False, default=None)
    """The file as read (its objects and its work budget), for reading its attachments
    without parsing it again (:func:`seals.pdf.attachments.embedded_files`)."""

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



def _guard(name: str, type_: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except SealError as exc:
        facts = {"error": str(exc), "check": Message(f"check.{name}")}
        if says_nothing_of_the_input(exc):  # this machine's SM2, not the file, failed
            return said(name, type_, Status.ERROR, "check.error", facts, error=exc.code)
        return said(name, type_, Status.INVALID, "check.unreadable", facts, error=exc.code)
    except Exception as exc:  # a step never crashes the report
        facts = {"error": str(exc), "check": Message(f"check.{name}")}
        return said(name, type_, Status.ERROR, "check.error", facts, error=repr(exc))



# ------------------------------------------------------------------------------ verify


@dataclass
class _Draft:
    """A signature's report before its ``pdf.modifications`` step is known."""

    cand: Candidate
    name: str
    steps: list[Check]
    signed: Signed | None
    report: VerificationReport | None
    parsed: SealSignature | None
    digest: bytes | None


def _foreign(cand: Candidate, name: str) -> _Draft:
    subfilter = cand.sig.get("SubFilter")
    what = (
        Message("pdf.format.subfilter", {"subfilter": brief(subfilter)})
        if isinstance(subfilter, Name)
        else Message("pdf.format.no_subfilter")
    )
    step = said(
        "pdf.format",
        "format",
        Status.INVALID,
        "pdf.format.foreign",
        {"field": name, "what": what},
        subfilter=str(subfilter)[:200] if subfilter is not None else None,
    )
    return _Draft(cand, name, [step], None, None, None, None)


class _Hasher:
    """SM3 over prefixes of one file, the work shared between signatures: seals are checked
    in the order their revisions end, and each one's revision digest (SM3 of the file up to
    its end) is the state the next seal's prefix continues from. A file of 20 MB with seven
    seals hashes about 20 MB, not 140 MB (it used to be refused as ``pdf_hostile``)."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.state: Any = hashlib.new("sm3") if _SHARED_SM3 else None

    def prefix(self, end: int) -> Callable[[bytes | memoryview], bytes]:
        """``x -> SM3(data[:end] ‖ x)``."""
        if self.state is None:
            plain = sm3_prefixed(bytes(self.data[:end]))
            return lambda more: plain(bytes(more))
        if end < self.pos:
            self.state, self.pos = hashlib.new("sm3"), 0
        self.state.update(self.data[self.pos : end])
        self.pos = end
        state = self.state.copy()

        def digest(more: bytes | memoryview) -> bytes:
            h = state.copy()
            h.update(more)
            return bytes(h.digest())

        return digest

    def revision(self, start: int, end: int) -> bytes:
        """SM3 of ``data[:end]``, continuing the last prefix (at ``start``); the next prefix
        continues from it."""
        if self.state is None or start != self.pos:
            return sm2.sm3(bytes(self.data[:end]))
        self.state.update(self.data[start:end])
        self.pos = end
        return bytes(self.state.copy().digest())


def _hash_cost(cands: Sequence[Candidate], size: int) -> int:
    """The bytes :class:`_Hasher` hashes for these signatures (in the order checked)."""
    pos = total = 0
    for cand in cands:
        br = cand.sig.get("ByteRange")
        if not (isinstance(br, list) and len(br) == 4 and all(is_int(v) for v in br)):
            continue
        b, c, end = int(br[1]), int(br[2]), min(max(0, cand.range_end()), size)
        b, c = min(max(b, 0), end), min(max(c, 0), end)
        total += (b if b < pos else b - pos) + (end - c) + (end - b)
        pos = end
    return total


def _draft(
    data: bytes, full: PdfFile, cand: Candidate, extents: list[int], *,
    at: datetime | None, anchors: Sequence[X509Certificate], lenient_ca: bool,
    hasher: _Hasher | None = None,
) -> _Draft:
    sig = cand.sig
    name = cand.label()
    if sig.get("SubFilter") != SUBFILTER:
        return _foreign(cand, name)
    contents = sig.get("Contents")
    der = der_of(contents) if isinstance(contents, bytes) else b""
    parsed, report = _read_signature(der, at=at, anchors=anchors, lenient_ca=lenient_ca)
    range_check, signed = byte_range(data, cand, parsed, full, extents)
    if signed is not None:
        name = _full_name(signed.view, cand) or name
    steps: list[Check] = [range_check]
    digest_holder: list[bytes] = []

    def digest() -> Check:
        if signed is None:
            return step("pdf.digest", "integrity", Status.SKIPPED, "pdf.digest.no_range")
        if parsed is None:
            return step("pdf.digest", "integrity", Status.SKIPPED, "pdf.digest.unreadable")
        _, b, c, e = *signed.ranges[:3], signed.end
        shared = hasher or _Hasher(data)
        actual = shared.prefix(b)(memoryview(data)[c:e])
        digest_holder.append(shared.revision(b, e))
        facts = {"data_hash": parsed.data_hash.hex(), "sm3": actual.hex()}
        if actual == parsed.data_hash:
            return step("pdf.digest", "integrity", Status.VALID, "pdf.digest.valid", **facts)
        return step("pdf.digest", "integrity", Status.INVALID, "pdf.digest.invalid", **facts)

    for s in report.steps:
        if s.name == "signature.data_hash":
            steps.append(_guard("pdf.digest", "integrity", digest))
        else:
            steps.append(s)
    if not any(s.name == "pdf.digest" for s in steps):
        steps.append(_guard("pdf.digest", "integrity", digest))
    return _Draft(cand, name, steps, signed, report, parsed,
                  digest_holder[0] if digest_holder else None)


def _read_signature(
    der: bytes, *, at: datetime | None, anchors: Sequence[X509Certificate], lenient_ca: bool
) -> tuple[SealSignature | None, VerificationReport]:
    """The signature in ``/Contents`` and the report of :func:`verify_signature` on it; bytes
    that cannot be decoded give one INVALID ``signature.structure`` step, whatever the
    decoder raises (these bytes are the attacker's)."""
    try:
        parsed = parse_signature(der)
    except SealError:
        parsed = None
    except Exception as exc:  # a decoder's own exception on hostile bytes
        facts = {"error": str(exc), "check": Message("check.signature.structure")}
        step = said("signature.structure", "format", Status.INVALID, "check.unreadable",
                     facts, error="ses_bad_der")
        return None, VerificationReport("signature", (step,))
    return parsed, verify_signature(
        parsed if parsed is not None else der, at=at, anchors=anchors, lenient_ca=lenient_ca
    )


def _full_name(view: View, cand: Candidate) -> str | None:
    for _, f, full_name in view.fields():
        if f.get("V") == cand.ref and full_name:
            return full_name
    return None


def _finish(draft: _Draft, modifications: Check) -> PdfSignatureReport:
    sig = draft.cand.sig
    br = sig.get("ByteRange")
    byte_range = tuple(int(v) for v in br if is_int(v)) if isinstance(br, list) else ()
    subject: dict[str, Any] = {"field": draft.name, "byte_range": list(byte_range)}
    steps = [*draft.steps]
    if draft.report is not None:
        steps.append(modifications)
        subject.update(draft.report.subject)
        subject["field"] = draft.name
    report = draft.report
    first = draft.parsed
    return PdfSignatureReport(
        field=draft.name,
        revision=len(draft.signed.view.sections) if draft.signed else 0,
        byte_range=byte_range,
        signer=str(report.subject["signer"]) if report and report.subject.get("signer") else None,
        signing_time=first.signing_time if first else None,
        seal_name=first.seal.property.name if first else None,
        steps=tuple(steps),
        subject=subject,
        revision_digest=draft.digest,
    )


_SIGNATURE_WORK = 3000
"""Work units (about a microsecond each) to verify one seal signature (SM2, paths)."""


def _check_budget(full: PdfFile, cands: Iterable[Candidate]) -> None:
    """Hashing and verifying every signature fits in what is left of the budget."""
    cands = list(cands)
    hashed = _hash_cost(cands, len(full.data))
    if hashed > full.limits.max_hashed:
        raise PdfHostile(
            f"verifying every signature would hash {hashed} bytes; at most "
            f"{full.limits.max_hashed} are hashed per file"
        )
    full.budget.spend(hashed // 256 + _SIGNATURE_WORK * len(cands))


def verify_pdf(
    pdf_bytes: bytes,
    *,
    at: datetime | None = None,
    anchors: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
    limits: PdfLimits = DEFAULT_LIMITS,
) -> PdfReport:
    """Verify every signature of a PDF (see the module docstring)."""
    data = bytes(pdf_bytes)
    full = PdfFile(data, limits)
    inv = inventory(full)
    kinds = sorted({s.kind for s in full.sections})
    structure = said(
        "pdf.structure",
        "format",
        Status.VALID,
        "pdf.structure.valid",
        {
            "version": full.version,
            "size": len(data),
            "sections": len(full.sections),
            "kinds": ", ".join(kinds),
        },
        size=len(data),
        sections=len(full.sections),
    )
    cands = sorted(inv.candidates.values(), key=lambda c: (c.range_end(), c.section))
    _check_budget(full, cands)
    extents = full.extents
    hasher = _Hasher(data)
    drafts = [
        _draft(data, full, c, extents, at=at, anchors=anchors, lenient_ca=lenient_ca,
               hasher=hasher)
        for c in cands
    ]
    later = Later(full, inv)
    verdicts: dict[tuple[int, int], tuple[str, bool]] = {}
    finished: dict[int, PdfSignatureReport] = {}
    # the newest seal first: an earlier seal's verdict depends on the later ones'
    for i in sorted(range(len(drafts)), key=lambda i: -cands[i].range_end()):
        draft = drafts[i]
        signed = draft.signed
        if signed is None:
            modifications = step(
                "pdf.modifications", "integrity", Status.SKIPPED, "pdf.modifications.no_range"
            )
        else:
            modifications = _guard(
                "pdf.modifications", "integrity",
                functools.partial(modifications_check, data, full, signed, later, verdicts),
            )
        report = _finish(draft, modifications)
        finished[i] = report
        if draft.cand.num is not None:
            key = (draft.cand.num, draft.cand.gen)
            label, ok = verdicts.get(key, (report.field, True))
            verdicts[key] = (label, ok and report.ok)
    signatures = tuple(finished[i] for i in range(len(drafts)))
    seals = [s for s in signatures if s.steps[0].name != "pdf.format"]
    if seals:
        fields = Joined(tuple(s.field for s in seals), en=", ", zh="、")
        count = said(
            "pdf.signatures",
            "format",
            Status.VALID,
            "pdf.signatures.valid",
            {"count": len(seals), "fields": fields},
            fields=[s.field for s in seals],
        )
    else:
        count = step("pdf.signatures", "format", Status.INVALID, "pdf.signatures.none")
    return PdfReport(
        size=len(data),
        revisions=len(full.sections),
        steps=(structure, count),
        signatures=signatures,
        data=data,
        file=full,
    )

