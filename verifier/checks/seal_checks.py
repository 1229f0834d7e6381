"""Seal verification as verdicts: a :class:`seals.seal.VerificationReport` (and a sealed PDF's
:class:`seals.pdf.PdfReport`) as the project-wide :class:`verifier.checks.verdict.Verdict`;
the trust anchors a seal is judged against, and the verdict on a seal or seal-signature file
(:func:`seal_file_verdict`, shared by ``zhengyin verify`` and the service).

``seals`` reports with the project's one check model (:class:`seals.report.Check`), its
sentences rendered in English and Chinese from the message catalogue; nothing here reads a
sentence. A sealed PDF's signature checks are named by their field (``pdf.in_field``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from seals.errors import SealError
from seals.pdf import PdfReport
from seals.report import Check, Message
from seals.seal import VerificationReport, verify_seal, verify_signature
from seals.ses import detect
from seals.x509 import X509Certificate, load_certificates
from verifier.checks.verdict import Fragment, Status, Verdict
from verifier.errors import VerifierError

__all__ = [
    "in_field",
    "pdf_unreadable_verdict",
    "pdf_verdict_of",
    "report_for",
    "seal_file_verdict",
    "trust_anchors",
    "verdict_of",
]


def verdict_of(report: VerificationReport) -> Verdict:
    """The verdict over a seal or seal-signature report; ``subject`` says what was verified."""
    return Verdict(checks=report.steps, subject={"kind": report.kind, **report.subject})


def in_field(field: str, check: Check, **data: Any) -> Check:
    """``check`` of one signature of a PDF: its sentences and data name the ``field``."""
    return Check(
        check.name,
        check.type,
        check.status,
        "pdf.in_field",
        {"field": field, "check": Message(check.message, check.params)},
        {"field": field, **check.data, **data},
    )


def pdf_verdict_of(report: PdfReport) -> Verdict:
    """The verdict over a sealed PDF: the document steps, then each signature's steps, each
    fragment's ``data`` naming its ``field``. Valid only when every seal is."""
    checks = list(report.steps)
    signatures: list[dict[str, Any]] = []
    for sig in report.signatures:
        checks += [in_field(sig.field, step) for step in sig.steps]
        signatures.append(
            {
                "field": sig.field,
                "revision": sig.revision,
                "byte_range": list(sig.byte_range),
                "signer": sig.signer,
                "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
                "seal": sig.seal_name,
            }
        )
    subject = {
        "kind": "pdf",
        "size": report.size,
        "revisions": report.revisions,
        "document_sm3": report.document_digest.hex(),
        "signatures": signatures,
    }
    return Verdict(checks=tuple(checks), subject=subject)


_UNREADABLE = frozenset({"pdf_malformed", "pdf_encrypted", "pdf_too_large", "pdf_hostile"})


def pdf_unreadable_verdict(code: str, error: object, *, embedded: bool = False) -> Verdict:
    """The verdict on a file that claims to be a PDF but cannot be read (malformed, hostile,
    truncated; ``embedded``: its embedded files cannot): invalid, with one ``pdf.structure``
    fragment saying why."""
    if embedded:
        message, params = "pdf.embedded_unreadable", {"error": error}
    else:
        why = Message(f"pdf.unreadable.{code}" if code in _UNREADABLE else "pdf.unreadable.other")
        message, params = "pdf.unreadable", {"error": error, "why": why}
    return Verdict(
        checks=(
            Fragment("pdf.structure", "format", Status.INVALID, message, params, {"error": code}),
        ),
        subject={"kind": "pdf"},
    )


def trust_anchors(home: Path, extra: tuple[Path, ...]) -> list[X509Certificate]:
    """The local CA root (if present) and the ``--trust`` certificates."""
    anchors: list[X509Certificate] = []
    local = home / "ca" / "root.pem"
    paths = ([local] if local.is_file() else []) + list(extra)
    for path in paths:
        try:
            anchors += load_certificates(path.read_bytes())
        except SealError as exc:
            raise VerifierError(f"trust anchor {path}: {exc}", code="bad_trust_anchor") from exc
    return anchors


def report_for(
    data: bytes,
    *,
    signed_data: bytes | None,
    at: datetime | None,
    anchors: list[X509Certificate],
    lenient_ca: bool,
) -> VerificationReport:
    """Verify a seal or a seal signature, whichever ``data`` is."""
    try:
        kind = detect(data)
    except SealError:
        kind = "signature" if signed_data is not None else "seal"
    if kind == "seal":
        return verify_seal(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    return verify_signature(data, data=signed_data, at=at, anchors=anchors, lenient_ca=lenient_ca)


def seal_file_verdict(data: bytes, anchors: list[X509Certificate]) -> Verdict:
    """A GB/T 38540 seal or seal signature, judged now against ``anchors``; anything else is
    refused (``unsupported_file``)."""
    try:
        detect(data)  # neither a seal nor a seal signature: not something we verify
        report = report_for(data, signed_data=None, at=None, anchors=anchors, lenient_ca=False)
    except SealError as exc:
        raise VerifierError(
            f"the file is not a certificate, PDF, seal or seal signature: {exc}",
            code="unsupported_file",
        ) from exc
    return verdict_of(report)
