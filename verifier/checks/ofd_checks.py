"""Verifying a sealed OFD file as a verdict: the package's steps, then each signature's steps
named by its ``Signature.xml`` (``pdf.in_field``). A package that cannot be read (malformed,
hostile, encrypted, too large) is invalid with one ``ofd.structure`` fragment saying why.

Anchoring sealed OFD files on chain is not done yet: no ``pdf.anchored``-like step.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from seals.ofd import OfdError, OfdReport, verify_ofd
from seals.ofd.errors import UNREADABLE_CODES
from seals.report import Message
from seals.x509 import X509Certificate
from verifier.checks.seal_checks import in_field
from verifier.checks.verdict import Fragment, Status, Verdict


def ofd_unreadable_verdict(code: str, error: object) -> Verdict:
    """The verdict on a zip that cannot be read as an OFD package: invalid, and why."""
    why = Message(f"ofd.unreadable.{code}" if code in UNREADABLE_CODES else "ofd.unreadable.other")
    return Verdict(
        checks=(
            Fragment("ofd.structure", "format", Status.INVALID, "ofd.unreadable",
                     {"error": error, "why": why}, {"error": code}),
        ),
        subject={"kind": "ofd"},
    )


def ofd_verdict_of(report: OfdReport) -> Verdict:
    """The document steps, then each signature's steps; valid only when every seal is."""
    checks = list(report.steps)
    signatures: list[dict[str, Any]] = []
    for sig in report.signatures:
        checks += [in_field(sig.field, s) for s in sig.steps]
        signatures.append({
            "field": sig.field,
            "id": sig.id,
            "signer": sig.signer,
            "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
            "seal": sig.seal_name,
        })
    subject = {
        "kind": "ofd",
        "size": report.size,
        "files": report.files,
        "document_sm3": report.document_digest.hex(),
        "signatures": signatures,
    }
    return Verdict(checks=tuple(checks), subject=subject)


def read_ofd(
    data: bytes,
    *,
    anchors: list[X509Certificate],
    at: dt.datetime | None = None,
    lenient_ca: bool = False,
) -> Verdict:
    """Every check of a sealed OFD file. Untrusted bytes are parsed here: the service runs it
    in a child process with a deadline and a memory ceiling (:mod:`verifier.app.isolation`)."""
    try:
        report = verify_ofd(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    except OfdError as exc:
        return ofd_unreadable_verdict(exc.code, str(exc))
    return ofd_verdict_of(report)
