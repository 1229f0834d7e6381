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
from seals.x509 import X509Certificate
from verifier.certificates import ChainFacts, verify_certificate_text
from verifier.seal_checks import detail, pdf_unreadable_verdict, pdf_verdict_of
from verifier.verdict import Fragment, Status, Verdict

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
    (:mod:`verifier.isolation`)."""
    try:
        report = verify_pdf(data, at=at, anchors=anchors, lenient_ca=lenient_ca)
    except (PdfMalformed, PdfHostile) as exc:
        return PdfLocal(pdf_unreadable_verdict(exc.code, f"the PDF cannot be read: {exc}"))
    verdict = pdf_verdict_of(report)
    try:
        attached = embedded_files(data, file=report.file).get(CERTIFICATE_ATTACHMENT)
    except PdfError as exc:
        # never judged as a plain sealed PDF: its certificate (revoked, perhaps) would go
        # unchecked by whoever made the attachments unreadable (or ran the budget down)
        return PdfLocal(pdf_unreadable_verdict(
            exc.code, f"the PDF's embedded files cannot be read: {exc}",
            "无法读取该PDF内嵌的文件（其中可能有电子证照），不能据此受理",
        ))
    return PdfLocal(
        verdict,
        tuple((sig.field, sig.revision_digest) for sig in report.signatures),
        attached,
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
            Fragment(
                "pdf.anchored",
                "chain",
                Status.SKIPPED,
                f"[{field}] no chain is configured here to look it up",
                {"field": field},
                f"[{field}] 此处没有配置区块链，未查询该签章是否上链存证",
            )
            for field, _ in local.sealed
        ]
        return Verdict(tuple(checks), verdict.subject)
    subject = dict(verdict.subject)
    lag: dict[str, Any] = {}
    try:
        source = facts()
        found = source.documents([digest for _, digest in local.sealed if digest is not None])
        lag = dict(source.lag())
        error = None
    except Exception as exc:  # chain or index unreachable: could not decide
        found, error = None, str(exc)
        code = getattr(exc, "code", None)
        lag = {**({"code": code} if isinstance(code, str) else {}), **getattr(exc, "lag", {})}
    for field, digest in local.sealed:
        name = "pdf.anchored"
        if digest is None:
            checks.append(
                Fragment(
                    name,
                    "chain",
                    Status.SKIPPED,
                    f"[{field}] not looked up: the signature's byte range is not valid",
                    {"field": field},
                    f"[{field}] 签章的签名范围无效，未查询链上存证",
                )
            )
            continue
        if found is None:
            checks.append(
                Fragment(
                    name,
                    "chain",
                    Status.ERROR,
                    f"[{field}] could not read the chain: {error}",
                    {"field": field, **lag},
                    f"[{field}] 无法读取区块链，暂时无法判断该签章是否上链存证，"
                    "请稍后重试或联系管理员" + detail(error),
                )
            )
            continue
        anchor = found.get(digest)
        if anchor is None:
            checks.append(
                Fragment(
                    name,
                    "chain",
                    Status.INVALID,
                    f"[{field}] this sealed document was not anchored on chain",
                    {"field": field, "digest": digest.hex(), **lag},
                    f"[{field}] 区块链上查不到这份盖章文件的存证：文件不是发证机关登记过的"
                    "盖章文件，或盖章后被改动过，不能受理",
                )
            )
        else:
            when = dt.datetime.fromtimestamp(anchor.timestamp, dt.UTC).isoformat()
            when_zh = dt.datetime.fromtimestamp(anchor.timestamp, dt.UTC).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            )
            checks.append(
                Fragment(
                    name,
                    "chain",
                    Status.VALID,
                    f"[{field}] anchored by {anchor.issuer} in block "
                    f"{anchor.block_number} at {when}",
                    {"field": field, "block": anchor.block_number, **lag},
                    f"[{field}] 已由 {anchor.issuer} 于区块 {anchor.block_number}"
                    f"（{when_zh}）上链存证",
                )
            )
    if local.certificate is not None:
        inner = verify_certificate_text(local.certificate, facts)
        checks += inner.checks
        subject = {**subject, **{k: v for k, v in inner.subject.items() if k != "kind"}}
    return Verdict(tuple(checks), subject)
