"""Verifying a sealed PDF in full: every seal (``seals.pdf``), each sealed revision's digest
anchored on chain, and — for a certificate PDF — the embedded certificate document.

The digest anchored for a seal is SM3 of the file as it was right after that seal was
applied: the bytes up to the end of its revision (its ``/ByteRange``'s second range end),
which ``seals.pdf`` computes for every seal whose byte range is valid
(``PdfSignatureReport.revision_digest``); a signature without one is not looked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seals.pdf import PdfHostile, PdfMalformed, verify_pdf
from seals.pdf.attachments import embedded_files
from seals.pdf.errors import PdfError
from seals.report import Message
from seals.x509 import X509Certificate
from verifier.checks.certificates import (
    ChainFacts,
    certificate_issuer,
    no_chain,
    verify_certificate_text,
)
from verifier.checks.messages import chain_problem, chain_time
from verifier.checks.seal_checks import pdf_unreadable_verdict, pdf_verdict_of
from verifier.checks.verdict import Fragment, Status, Verdict

CERTIFICATE_ATTACHMENT = "certificate.json"


@dataclass(frozen=True)
class PdfLocal:
    """What a sealed PDF shows without the chain: everything :func:`read_pdf` found."""

    verdict: Verdict
    """The seals' fragments and the PDF's subject (or why the file cannot be read)."""
    sealed: tuple[tuple[str, bytes | None], ...] = ()
    """For each signature: its field and the SM3 digest of the file up to its revision's end
    (what was anchored); None when its byte range is not valid (nothing to look up)."""
    certificate: bytes | None = None
    """The embedded ``certificate.json``, if any."""


def read_pdf(
    data: bytes,
    *,
    anchors: list[X509Certificate],
    at: dt.datetime | None = None,
    lenient_ca: bool = False,
) -> PdfLocal:
    """Every check of a sealed PDF that needs no chain. This is where untrusted bytes are
    parsed: the service runs it in a child process with a deadline and a memory ceiling
    (:mod:`verifier.app.isolation`)."""
    try:
        report = verify_pdf(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    except (PdfMalformed, PdfHostile) as exc:
        return PdfLocal(pdf_unreadable_verdict(exc.code, str(exc)))
    verdict = pdf_verdict_of(report)
    try:
        attached = embedded_files(data, file=report.file).get(CERTIFICATE_ATTACHMENT)
    except PdfError as exc:
        # never judged as a plain sealed PDF: its certificate (revoked, perhaps) would go
        # unchecked by whoever made the attachments unreadable (or ran the budget down)
        return PdfLocal(pdf_unreadable_verdict(exc.code, str(exc), embedded=True))
    return PdfLocal(
        verdict,
        tuple((sig.field, sig.revision_digest) for sig in report.signatures),
        attached,
    )


def _anchored(
    field: str, status: Status, message: str, params: dict[str, Any] | None = None, **data: Any
) -> Fragment:
    """``pdf.anchored`` of the seal in ``field``."""
    return Fragment(
        "pdf.anchored",
        "chain",
        status,
        "pdf.in_field",
        {"field": field, "check": Message(message, params or {})},
        {"field": field, **data},
    )


def verify_pdf_full(
    data: bytes,
    facts: Callable[[], ChainFacts] | None,
    *,
    anchors: list[X509Certificate],
    at: dt.datetime | None = None,
    lenient_ca: bool = False,
) -> Verdict:
    """Seals, their on-chain anchors and the embedded certificate (when ``facts`` is given)."""
    return judge_pdf(read_pdf(data, anchors=anchors, at=at, lenient_ca=lenient_ca), facts)


def judge_pdf(local: PdfLocal, facts: Callable[[], ChainFacts] | None) -> Verdict:
    """:func:`read_pdf`'s findings with the chain's: each sealed revision anchored, and the
    embedded certificate verified in full (when ``facts`` is given)."""
    verdict = local.verdict
    checks = list(verdict.checks)
    if facts is None:
        checks += [
            _anchored(field, Status.SKIPPED, "pdf.anchored.no_chain") for field, _ in local.sealed
        ]
        if local.certificate is None:  # a plain sealed PDF: its seals alone
            return Verdict(tuple(checks), verdict.subject)
        # a certificate PDF: its certificate's chain checks are ERROR, never skipped
        offline = verify_certificate_text(local.certificate, no_chain)
        subject = {**verdict.subject, **{k: v for k, v in offline.subject.items() if k != "kind"}}
        return Verdict((*checks, *offline.checks), subject)
    subject = dict(verdict.subject)
    inner = (verify_certificate_text(local.certificate, facts)
             if local.certificate is not None else None)
    # a certificate file's first seal must have been anchored by the certificate's own issuer:
    # any registered agency can seal and anchor a file; only the issuer vouches for a file
    # whose pages show its certificate
    issuer = certificate_issuer(inner.subject) if inner is not None else None
    lag: dict[str, Any] = {}
    try:
        source = facts()
        found = source.documents([digest for _, digest in local.sealed if digest is not None])
        lag = dict(source.lag())
        error = None
    except Exception as exc:  # chain or index unreachable: could not decide
        found, error = None, chain_problem(exc)  # its text names the node: not shown
        code = getattr(exc, "code", None)
        lag = {**({"code": code} if isinstance(code, str) else {}), **getattr(exc, "lag", {}),
               "error": str(exc)}
    for index, (field, digest) in enumerate(local.sealed):
        if digest is None:
            checks.append(_anchored(field, Status.SKIPPED, "pdf.anchored.no_range"))
            continue
        if found is None:
            checks.append(
                _anchored(field, Status.ERROR, "pdf.anchored.unreadable", {"error": error}, **lag)
            )
            continue
        anchor = found.get(digest)
        if anchor is None:
            checks.append(
                _anchored(
                    field, Status.INVALID, "pdf.anchored.missing", {}, digest=digest.hex(), **lag
                )
            )
            continue
        when = chain_time(anchor.timestamp)
        found_at = {"issuer": anchor.issuer, "block": anchor.block_number, "when": when}
        if index == 0 and inner is not None and anchor.issuer != issuer:
            checks.append(
                _anchored(
                    field, Status.INVALID, "pdf.anchored.other_issuer",
                    {**found_at, "certificate_issuer": issuer or "?"},
                    block=anchor.block_number, **lag,
                )
            )
            continue
        checks.append(
            _anchored(
                field, Status.VALID, "pdf.anchored.valid", found_at,
                block=anchor.block_number, **lag,
            )
        )
    if inner is not None:
        checks += inner.checks
        subject = {**subject, **{k: v for k, v in inner.subject.items() if k != "kind"}}
    return Verdict(tuple(checks), subject)
