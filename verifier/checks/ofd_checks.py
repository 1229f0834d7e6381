"""Verifying a sealed OFD file as a verdict: the package's steps, then each signature's steps
named by its ``Signature.xml`` (``pdf.in_field``). A package that cannot be read (malformed,
hostile, encrypted, too large) is invalid with one ``ofd.structure`` fragment saying why.

A certificate rendered as OFD carries its certificate document as the attachment
``certificate.json``: :func:`judge_ofd` verifies it in full (status, anchor, keys — as a
certificate PDF's embedded one), so a revoked certificate's sealed OFD is never valid.

With a chain, :func:`judge_ofd` adds ``ofd.anchored``: SM3 of the **whole file** is anchored
on chain (a ``DocumentAnchored`` event, as stamping and certificate rendering record it).
Unlike a PDF, whose earlier revisions stay a prefix of the file, an OFD package is rewritten
by every seal: the file as it was after an earlier seal cannot be rebuilt from the file, so
only the file as a whole — after its last seal — is looked up. A file without signatures,
or that cannot be read, is not looked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seals import sm2
from seals.ofd import OfdError, OfdMalformed, OfdReport, verify_ofd
from seals.ofd.errors import UNREADABLE_CODES
from seals.report import Message
from seals.x509 import X509Certificate
from verifier.checks.certificates import certificate_issuer, no_chain, verify_certificate_text
from verifier.checks.chain_checks import ChainFacts
from verifier.checks.messages import chain_problem, chain_time
from verifier.checks.pdf_checks import CERTIFICATE_ATTACHMENT
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


@dataclass(frozen=True)
class OfdLocal:
    """What a sealed OFD file shows without the chain: everything :func:`read_ofd` found."""

    verdict: Verdict
    """The package's and the seals' fragments (or why the file cannot be read)."""
    certificate: bytes | None = None
    """The attached ``certificate.json`` (a certificate rendered as OFD), if any: judged in
    full with the chain, as a certificate PDF's embedded one is."""


def certificate_attachment(report: OfdReport) -> bytes | None:
    """The one attached certificate document: the attachments named ``certificate.json``
    (by ``Name`` or by file name, in any case). Several files, or one listed that the
    package lacks, is :class:`OfdMalformed` (``ofd_certificate_attachment``): never judged
    as a plain sealed file, whose certificate — revoked, perhaps — would go unchecked."""
    wanted = CERTIFICATE_ATTACHMENT.casefold()
    found = {
        path: data
        for name, path, data in report.attachments
        if name.casefold() == wanted or (path or "").rsplit("/", 1)[-1].casefold() == wanted
    }
    if not found:
        return None
    if len(found) > 1 or None in found or None in found.values():
        raise OfdMalformed(
            f"{len(found)} attachments named {CERTIFICATE_ATTACHMENT}, or one the package "
            "lacks: which certificate the file carries is not clear",
            code="ofd_certificate_attachment",
        )
    return next(iter(found.values()))


def read_ofd(
    data: bytes,
    *,
    anchors: list[X509Certificate],
    at: dt.datetime | None = None,
    lenient_ca: bool = False,
) -> OfdLocal:
    """Every check of a sealed OFD file that needs no chain, and its attached certificate
    document. Untrusted bytes are parsed here: the service runs it in a child process with a
    deadline and a memory ceiling (:mod:`verifier.app.isolation`)."""
    try:
        report = verify_ofd(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
        certificate = certificate_attachment(report)
    except OfdError as exc:
        return OfdLocal(ofd_unreadable_verdict(exc.code, str(exc)))
    except Exception as exc:  # a reader's bug on hostile bytes: could not decide, no crash
        return OfdLocal(Verdict(
            checks=(
                Fragment("ofd.structure", "format", Status.ERROR, "check.error",
                         {"error": repr(exc)[:300], "check": Message("check.ofd.structure")},
                         {"error": type(exc).__name__}),
            ),
            subject={"kind": "ofd"},
        ))
    return OfdLocal(ofd_verdict_of(report), certificate)


def _anchored(status: Status, message: str, params: dict[str, Any] | None = None,
              **data: Any) -> Fragment:
    return Fragment("ofd.anchored", "chain", status, message, params or {}, data)


def judge_ofd(local: OfdLocal, data: bytes, facts: Callable[[], ChainFacts] | None) -> Verdict:
    """:func:`read_ofd`'s findings on ``data`` with the chain's: ``ofd.anchored`` and the
    attached certificate document verified in full (:func:`_anchored_check`)."""
    if local.certificate is None:
        return _anchored_check(local.verdict, data, facts, None)
    inner = verify_certificate_text(local.certificate, facts or no_chain)
    # the whole certificate file must have been anchored by the certificate's own issuer
    verdict = _anchored_check(local.verdict, data, facts, certificate_issuer(inner.subject) or "?")
    subject = {**verdict.subject, **{k: v for k, v in inner.subject.items() if k != "kind"}}
    return Verdict((*verdict.checks, *inner.checks), subject)


def _anchored_check(
    verdict: Verdict, data: bytes, facts: Callable[[], ChainFacts] | None,
    expected_issuer: str | None,
) -> Verdict:
    """``verdict`` with ``ofd.anchored`` (see the module docstring): SKIPPED without a
    chain, ERROR when the chain cannot be read, INVALID when the file's SM3 (computed here,
    not taken from the reader's child process) was never anchored or (a certificate file)
    was anchored by another agency than ``expected_issuer``, the certificate's issuer; VALID
    with the anchoring agency, block and time. A file without signatures, or unreadable, is
    not looked up."""
    if not verdict.subject.get("signatures"):
        return verdict
    digest = sm2.sm3(data)
    digest_hex = digest.hex()
    if facts is None:
        check = _anchored(Status.SKIPPED, "ofd.anchored.no_chain")
        return Verdict((*verdict.checks, check), verdict.subject)
    lag: dict[str, Any] = {}
    try:
        source = facts()
        anchor = source.documents([digest]).get(digest)
        lag = dict(source.lag())
    except Exception as exc:  # chain or index unreachable: could not decide
        code = getattr(exc, "code", None)
        lag = {**({"code": code} if isinstance(code, str) else {}), **getattr(exc, "lag", {}),
               "error": str(exc)}  # its text names the chain node: in the data, not the reason
        check = _anchored(
            Status.ERROR, "ofd.anchored.unreadable", {"error": chain_problem(exc)}, **lag
        )
        return Verdict((*verdict.checks, check), verdict.subject)
    if anchor is None:
        check = _anchored(Status.INVALID, "ofd.anchored.missing", digest=digest_hex, **lag)
    else:
        found = {"issuer": anchor.issuer, "block": anchor.block_number,
                 "when": chain_time(anchor.timestamp)}
        if expected_issuer is not None and anchor.issuer != expected_issuer:
            check = _anchored(Status.INVALID, "ofd.anchored.other_issuer",
                              {**found, "certificate_issuer": expected_issuer},
                              block=anchor.block_number, **lag)
        else:
            check = _anchored(Status.VALID, "ofd.anchored.valid", found,
                              block=anchor.block_number, **lag)
    return Verdict((*verdict.checks, check), verdict.subject)
