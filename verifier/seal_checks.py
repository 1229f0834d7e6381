"""Seal verification as verdict fragments: maps :mod:`seals.seal` steps onto ``Fragment``.

``seals`` cannot import ``verifier`` (layering), so it reports with its own ``Step`` type; this
module is the one place that turns a :class:`seals.seal.VerificationReport` (and a sealed PDF's
:class:`seals.pdf.PdfReport`) into the project-wide :class:`verifier.verdict.Verdict`.
"""

from __future__ import annotations

from typing import Any

from seals.pdf import PdfReport
from seals.seal import Step, StepStatus, VerificationReport
from verifier.verdict import Fragment, Status, Verdict

_STATUS = {
    StepStatus.VALID: Status.VALID,
    StepStatus.INVALID: Status.INVALID,
    StepStatus.ERROR: Status.ERROR,
    StepStatus.SKIPPED: Status.SKIPPED,
}


def fragment_of(step: Step) -> Fragment:
    """One seal verification step as a verdict fragment."""
    return Fragment(
        name=step.name,
        type=step.type,
        status=_STATUS[step.status],
        reason=step.reason,
        data=dict(step.data),
    )


def fragments_of(report: VerificationReport) -> tuple[Fragment, ...]:
    """Every step of ``report``, in order."""
    return tuple(fragment_of(s) for s in report.steps)


def verdict_of(report: VerificationReport) -> Verdict:
    """The verdict over a seal or seal-signature report; ``subject`` says what was verified."""
    return Verdict(checks=fragments_of(report), subject={"kind": report.kind, **report.subject})


def pdf_verdict_of(report: PdfReport) -> Verdict:
    """The verdict over a sealed PDF: the document steps, then each signature's steps, each
    fragment's ``data`` naming its ``field``. Valid only when every seal is."""
    checks = [fragment_of(s) for s in report.steps]
    signatures: list[dict[str, Any]] = []
    for sig in report.signatures:
        for step in sig.steps:
            f = fragment_of(step)
            checks.append(
                Fragment(
                    f.name,
                    f.type,
                    f.status,
                    f"[{sig.field}] {f.reason}",
                    {"field": sig.field, **f.data},
                )
            )
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


def pdf_unreadable_verdict(code: str, message: str) -> Verdict:
    """The verdict on a file that claims to be a PDF but cannot be read (malformed, hostile,
    truncated): invalid, with one ``pdf.structure`` fragment saying why."""
    return Verdict(
        checks=(Fragment("pdf.structure", "format", Status.INVALID, message, {"error": code}),),
        subject={"kind": "pdf"},
    )
