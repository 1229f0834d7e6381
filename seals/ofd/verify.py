"""Verifying sealed OFD files: the package read safely, then every signature listed in every
document's ``Signatures.xml``.

``verify_ofd(data, *, at=None, anchors=(), lenient_ca=False, now=None) -> OfdReport``.

Per signature, steps in order (the policy and its reasons: ``seals/ofd/README.md``):

- ``ofd.signature``: its ``Signature.xml`` read (references, stamps, signed value);
- ``ofd.references``: ``CheckMethod`` is SM3 and every ``Reference``'s ``CheckValue`` is SM3
  of the named file's bytes, the file present;
- every step of :func:`seals.seal.verify_signature` on the ``SignedValue`` file, with the
  ``Signature.xml`` bytes as the signed data (``signature.data_hash``: SM3 of them is
  ``dataHash``), the seal and certificates judged at the signing time (or ``at``);
- ``ofd.seal_file``: when ``SignedInfo/Seal`` names a seal file, it is byte for byte the seal
  inside the signature;
- ``ofd.stamp``: each ``StampAnnot`` names a page of the document and its boundary lies
  inside that page's physical box;
- ``ofd.modifications``: every file of the document (``OFD.xml`` and every file reachable
  from it, :mod:`seals.ofd.document`) is protected by this signature's references: a file
  the document shows that this seal does not protect was added or replaced after it.

Document steps: ``ofd.structure``, ``ofd.signatures`` (none: INVALID) and ``ofd.files``
(every file of the package is protected by some signature or is a listed signature's own
file; every file the document refers to is present).

Raises :class:`~seals.ofd.errors.OfdError` only when the package as a whole cannot be read or
is out of bounds; everything about a signature is a step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seals import sm2
from seals.errors import SealError, says_nothing_of_the_input
from seals.ofd.document import Box, Document, OfdDocument, Signature, read_document
from seals.ofd.names import ENTRY, SM3_NAMES
from seals.ofd.package import DEFAULT_LIMITS, OfdLimits, OfdPackage, read_package
from seals.report import Check, Joined, Message, Status, VerificationReport
from seals.seal_verify import verify_signature
from seals.ses import SealSignature, parse_signature
from seals.x509 import X509Certificate

_MAX_LISTED = 20
"""Problems named in one sentence (the data holds them all)."""


def step(name: str, type_: str, status: Status, message: str, /, **data: Any) -> Check:
    return Check(name, type_, status, message, {}, data)


def said(
    name: str, type_: str, status: Status, message: str, params: dict[str, Any], /, **data: Any
) -> Check:
    return Check(name, type_, status, message, params, data)


def _guard(name: str, type_: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except SealError as exc:
        facts = {"error": str(exc), "check": Message(f"check.{name}")}
        if says_nothing_of_the_input(exc):
            return said(name, type_, Status.ERROR, "check.error", facts, error=exc.code)
        return said(name, type_, Status.INVALID, "check.unreadable", facts, error=exc.code)
    except Exception as exc:  # a step never crashes the report
        facts = {"error": str(exc), "check": Message(f"check.{name}")}
        return said(name, type_, Status.ERROR, "check.error", facts, error=repr(exc))


@dataclass(frozen=True)
class OfdSignatureReport:
    """One signature of an OFD file and the steps of verifying it."""

    field: str
    """``Signature.xml``'s package path."""
    id: str
    signer: str | None
    signing_time: datetime | None
    seal_name: str | None
    steps: tuple[Check, ...]
    subject: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return VerificationReport("ofd_signature", self.steps).ok


@dataclass(frozen=True)
class OfdReport:
    """Every signature of an OFD file, and the document steps."""

    size: int
    files: int
    steps: tuple[Check, ...]
    signatures: tuple[OfdSignatureReport, ...]
    data: bytes = dataclasses.field(repr=False, compare=False, default=b"")
    attachments: tuple[tuple[str, str | None, bytes | None], ...] = dataclasses.field(
        repr=False, compare=False, default=())
    """Every attachment the documents list: its ``Name``, package path and bytes (None when
    the package lacks the file) — what :mod:`verifier.checks.ofd_checks` looks in for an
    attached certificate document."""

    @property
    def document_digest(self) -> bytes:
        """SM3 of the whole file."""
        return sm2.sm3(self.data)

    @property
    def ok(self) -> bool:
        whole = VerificationReport(
            "ofd", self.steps + tuple(s for sig in self.signatures for s in sig.steps)
        )
        return bool(self.signatures) and whole.ok


def _listed(items: list[Message]) -> Joined:
    shown = items[:_MAX_LISTED]
    if len(items) > _MAX_LISTED:
        shown.append(Message("pdf.modifications.more", {"count": len(items) - _MAX_LISTED}))
    return Joined(tuple(shown))


class _Files:
    """The package's files, each hashed at most once however many references name it (a
    package of 20,000 references to one 32 MB file hashes 32 MB, not 640 GB)."""

    def __init__(self, package: OfdPackage) -> None:
        self.package = package
        self.files = package.files
        self._sm3: dict[str, bytes] = {}

    def find(self, path: str) -> str | None:
        return self.package.find(path)

    def sm3(self, name: str) -> bytes:
        if name not in self._sm3:
            self._sm3[name] = sm2.sm3(self.files[name])
        return self._sm3[name]


def _covered(sig: Signature, files: _Files) -> set[str]:
    """The package names this signature's references name (as written when absent)."""
    out: set[str] = set()
    for ref in sig.references:
        if ref.path is not None:
            out.add(files.find(ref.path) or ref.path)
    return out


def _references(sig: Signature, files: _Files) -> Check:
    name = "ofd.references"
    if not sig.references:
        return step(name, "integrity", Status.INVALID, "ofd.references.none")
    method = sig.check_method or ""
    if method.strip() not in SM3_NAMES:
        problem = Message("ofd.references.method", {"method": method[:60]})
        return said(name, "integrity", Status.INVALID, "ofd.references.invalid",
                    {"problems": _listed([problem])}, method=method[:60])
    problems: list[Message] = []
    data: list[dict[str, Any]] = []
    for ref in sig.references:
        if ref.path is None:
            problems.append(Message("ofd.references.bad_path", {"file": ref.file_ref[:120]}))
            continue
        found = files.find(ref.path)
        if found is None:
            problems.append(Message("ofd.references.missing", {"file": ref.path[:120]}))
            data.append({"file": ref.path, "problem": "missing"})
        elif ref.check_value is None:
            problems.append(Message("ofd.references.bad_value", {"file": found}))
            data.append({"file": found, "problem": "bad_value"})
        elif files.sm3(found) != ref.check_value:
            problems.append(Message("ofd.references.changed", {"file": found}))
            data.append({"file": found, "problem": "changed",
                         "sm3": files.sm3(found).hex(),
                         "check_value": ref.check_value.hex()})
    if problems:
        return said(name, "integrity", Status.INVALID, "ofd.references.invalid",
                    {"problems": _listed(problems)}, problems=data)
    return said(name, "integrity", Status.VALID, "ofd.references.valid",
                {"count": len(sig.references)}, files=sorted(_covered(sig, files)))


MAX_LATER_SHARE = 0.10
"""With two or more signatures, the largest share of its page one stamp may cover (the PDF
appearance policy: a 45 mm seal is 3.2 % of an A4 page, 6.5 % of A5)."""


def _overlap(a: Box, b: Box) -> bool:
    """Do two boxes share an area (touching edges do not)?"""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and (
        b[1] < a[1] + a[3]
    )


def _stamp(sig: Signature, doc: Document) -> Check:
    """Each stamp names a page and lies inside it; when the document has more than one
    signature, each covers at most :data:`MAX_LATER_SHARE` of its page and no stamp of
    another signature (order-independent: ``Signatures.xml`` is not protected, so its order
    cannot say which seal came later)."""
    name = "ofd.stamp"
    if not sig.stamps:
        return step(name, "integrity", Status.SKIPPED, "ofd.stamp.none")
    several = len(doc.signatures) > 1
    others = [
        (other, s) for other in doc.signatures if other is not sig for s in other.stamps
        if s.boundary is not None
    ]
    problems: list[Message] = []
    where: list[Message] = []
    numbers = {pid: i + 1 for i, pid in enumerate(doc.pages)}
    for s in sig.stamps:
        page = doc.pages.get(s.page_ref)
        if page is None:
            problems.append(Message("ofd.stamp.no_page", {"id": s.id, "page": s.page_ref[:40]}))
            continue
        number = numbers[s.page_ref]
        if s.boundary is None or page.box is None or page.box[2] <= 0 or page.box[3] <= 0:
            problems.append(Message("ofd.stamp.no_box", {"id": s.id}))
            continue
        x, y, w, h = s.boundary
        px, py, pw, ph = page.box
        text = " ".join(f"{v:g}" for v in s.boundary)
        inside = w > 0 and h > 0 and x >= px and y >= py and x + w <= px + pw and y + h <= py + ph
        if not inside:
            problems.append(Message("ofd.stamp.outside", {
                "id": s.id, "boundary": text, "page": number,
                "page_box": " ".join(f"{v:g}" for v in page.box)}))
            continue
        share = (w * h) / (pw * ph)
        if several and share > MAX_LATER_SHARE:
            problems.append(Message("ofd.stamp.too_large", {
                "id": s.id, "page": number, "share": f"{share:.0%}",
                "limit": f"{MAX_LATER_SHARE:.0%}"}))
            continue
        hit = next((o for o, t in others if t.page_ref == s.page_ref and t.boundary
                    and _overlap(s.boundary, t.boundary)), None)
        if hit is not None:
            problems.append(Message("ofd.stamp.overlaps", {
                "id": s.id, "page": number, "other": hit.path}))
            continue
        where.append(Message("ofd.stamp.at", {"page": number, "boundary": text}))
    if problems:
        return said(name, "integrity", Status.INVALID, "ofd.stamp.invalid",
                    {"problems": _listed(problems)})
    return said(name, "integrity", Status.VALID, "ofd.stamp.valid",
                {"count": len(where), "where": _listed(where)})


def _seal_file(sig: Signature, files: _Files, parsed: SealSignature | None) -> Check:
    name = "ofd.seal_file"
    assert sig.seal_file is not None
    if parsed is not None and files.files[sig.seal_file] == parsed.seal.der:
        return said(name, "integrity", Status.VALID, "ofd.seal_file.valid",
                    {"file": sig.seal_file})
    return said(name, "integrity", Status.INVALID, "ofd.seal_file.invalid",
                {"file": sig.seal_file})


def _document_files(doc: Document) -> set[str]:
    return {ENTRY, *doc.files}


def _modifications(sig: Signature, doc: Document, covered: set[str],
                   later: set[str], known: set[str]) -> Check:
    """``later``: every file some signature protects or owns; ``known``: the files a later
    signature may add without changing what this seal protects — the listed signatures' own
    files, the ``Signatures.xml`` lists, and the files of the package's documents."""
    name = "ofd.modifications"
    unprotected = sorted(_document_files(doc) - covered)
    if unprotected:
        return said(name, "integrity", Status.INVALID, "ofd.modifications.changed",
                    {"files": Joined(tuple(unprotected[:_MAX_LISTED]), en=", ", zh="、")},
                    files=unprotected)
    # Any other file added after this seal is a change: no document file refers to it, but
    # readers find files otherwise than by their locations (easyofd takes the first
    # extracted path that *contains* a location, root files first: a root file
    # ``Doc_0-Pages-Page_0-Content.xml`` is the page it shows).
    added = sorted(later - covered - known - set(sig.own_files))
    if added:
        return said(name, "integrity", Status.INVALID, "ofd.modifications.changed",
                    {"files": Joined(tuple(added[:_MAX_LISTED]), en=", ", zh="、")},
                    files=added)
    others = sorted(later - covered - set(sig.own_files))
    note = (
        Message("ofd.modifications.later",
                {"files": Joined(tuple(others[:_MAX_LISTED]), en=", ", zh="、")})
        if others
        else Message("ofd.modifications.only_signatures")
    )
    return said(name, "integrity", Status.VALID, "ofd.modifications.none", {"later": note},
                later_files=others)


def _verify_signature(
    sig: Signature, doc: Document, files: _Files, signature_files: set[str],
    known: set[str], *,
    at: datetime | None, now: datetime | None, anchors: Sequence[X509Certificate],
    lenient_ca: bool,
) -> OfdSignatureReport:
    steps: list[Check] = [
        said("ofd.signature", "format", Status.VALID, "ofd.signature.valid",
             {"path": sig.path, "references": len(sig.references),
              "signed_value": sig.signed_value},
             type=sig.type, signature_method=sig.signature_method,
             signature_time=sig.signature_time),
        _guard("ofd.references", "integrity", lambda: _references(sig, files)),
    ]
    der = files.files[sig.signed_value]
    try:
        parsed: SealSignature | None = parse_signature(der)
    except Exception:
        parsed = None
    try:
        report = verify_signature(parsed if parsed is not None else der, data=sig.xml, at=at,
                                  now=now, anchors=anchors, lenient_ca=lenient_ca)
    except Exception as exc:  # a decoder's own exception on hostile bytes
        facts = {"error": str(exc), "check": Message("check.signature.structure")}
        report = VerificationReport("signature", (
            said("signature.structure", "format", Status.INVALID, "check.unreadable", facts,
                 error="ses_bad_der"),
        ))
    steps += report.steps
    if sig.seal_file is not None:
        steps.append(_guard("ofd.seal_file", "integrity",
                            lambda: _seal_file(sig, files, parsed)))
    steps.append(_guard("ofd.stamp", "integrity", lambda: _stamp(sig, doc)))
    covered = _covered(sig, files)
    steps.append(_guard("ofd.modifications", "integrity",
                        lambda: _modifications(sig, doc, covered, signature_files, known)))
    subject = {"field": sig.path, "id": sig.id, **report.subject}
    signer = report.subject.get("signer")
    return OfdSignatureReport(
        field=sig.path,
        id=sig.id,
        signer=str(signer) if signer else None,
        signing_time=parsed.signing_time if parsed else None,
        seal_name=parsed.seal.property.name if parsed else None,
        steps=tuple(steps),
        subject=subject,
    )


def _files_step(model: OfdDocument, files: _Files) -> Check:
    protected: set[str] = set()
    own: set[str] = set()
    problems: list[Message] = []
    for doc in model.documents:
        if doc.signatures_path:
            own.add(doc.signatures_path)
        for sig in doc.signatures:
            protected |= _covered(sig, files)
            own.update(sig.own_files)
        for path, referrer in doc.missing:
            problems.append(Message("ofd.files.missing", {"file": path[:120],
                                                          "referrer": referrer}))
    unprotected = sorted(set(files.files) - protected - own)
    problems += [Message("ofd.files.unprotected", {"file": f}) for f in unprotected]
    if problems:
        return said("ofd.files", "integrity", Status.INVALID, "ofd.files.invalid",
                    {"problems": _listed(problems)}, unprotected=unprotected,
                    missing=[p for d in model.documents for p, _ in d.missing])
    return step("ofd.files", "integrity", Status.VALID, "ofd.files.valid")


def verify_ofd(
    data: bytes,
    *,
    at: datetime | None = None,
    now: datetime | None = None,
    anchors: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
    limits: OfdLimits = DEFAULT_LIMITS,
) -> OfdReport:
    """Verify every signature of an OFD file (see the module docstring)."""
    data = bytes(data)
    package = read_package(data, limits)
    model = read_document(package, limits)
    structure = said(
        "ofd.structure", "format", Status.VALID, "ofd.structure.valid",
        {"size": len(data), "files": len(package.files), "documents": len(model.documents)},
        size=len(data), files=len(package.files),
    )
    files = _Files(package)
    signature_files: set[str] = set()
    known: set[str] = set()
    for doc in model.documents:
        known |= _document_files(doc) | ({doc.signatures_path} if doc.signatures_path else set())
        for sig in doc.signatures:
            signature_files |= _covered(sig, files) | set(sig.own_files)
            known |= set(sig.own_files)
    reports = [
        _verify_signature(sig, doc, files, signature_files, known, at=at, now=now,
                          anchors=anchors, lenient_ca=lenient_ca)
        for doc in model.documents
        for sig in doc.signatures
    ]
    unsealed = [doc.root for doc in model.documents if not doc.signatures]
    if reports and unsealed:
        count = said("ofd.signatures", "format", Status.INVALID, "ofd.signatures.unsealed",
                     {"documents": Joined(tuple(unsealed), en=", ", zh="、")},
                     unsealed=unsealed)
    elif reports:
        count = said("ofd.signatures", "format", Status.VALID, "ofd.signatures.valid",
                     {"count": len(reports),
                      "fields": Joined(tuple(r.field for r in reports), en=", ", zh="、")},
                     fields=[r.field for r in reports])
    else:
        count = step("ofd.signatures", "format", Status.INVALID, "ofd.signatures.none")
    return OfdReport(
        size=len(data),
        files=len(package.files),
        steps=(structure, count, _files_step(model, files)),
        signatures=tuple(reports),
        data=data,
        attachments=tuple(
            (name, path, package.files.get(path) if path is not None else None)
            for doc in model.documents
            for name, path in doc.attachments
        ),
    )
