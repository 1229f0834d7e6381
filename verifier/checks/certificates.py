"""Verifying certificate documents: small checks returning fragments, the verdict over them.

Local checks (no chain): ``certificate.format``, ``certificate.integrity`` (every claim
against its digest; hidden claims reported), ``certificate.signature`` (the issuer's SM2
signature over the leaf, key id, identifier and validity dates, the key id being SM3 of the
enclosed public key), ``certificate.merkle_proof`` (leaf → anchored root),
``certificate.validity`` (today within the validity period; the dates are always disclosed).

Chain checks, all judged at ONE block stated in their data: ``chain.anchored`` (the root is
on chain, by the issuer the certificate names, on the chain and contract this verifier
follows), ``issuer.key`` (the key was the issuer's and valid when the batch was anchored —
the latest moment the signature can have been made), ``certificate.status`` (not revoked,
suspended or superseded). If the chain cannot be read they are ERROR: "could not check",
never valid or invalid.

Every fragment carries its reason twice: ``reason`` in English (API clients rely on its
wording) and ``reason_zh``, the same facts in Chinese for the clerk at the counter, saying
what to do where that helps.

Many documents are verified together: the local checks run on every core, the chain facts
of all of them come from one batched snapshot.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from certs import clock
from certs.bulk import gc_paused
from certs.errors import ValidationError
from certs.identifiers import parse_identifier
from certs.workers import BULK, Workers, worker_count
from chain.errors import ChainError
from verifier.checks.certificate_checks import (
    LocalResult,
    certificate_subject,
    holder_facts,
    local_checks,
    mask_code,
    mask_name,
    public_key,
    validity_check,
)
from verifier.checks.chain_checks import (
    CHAIN_CHECKS,
    ChainFacts,
    ChainJudge,
    chain_checks,
    chain_unreadable,
    with_lag,
)
from verifier.checks.qr_checks import QR_HIDDEN, verify_qr
from verifier.checks.verdict import Verdict

_public_key = public_key  # the cache of loaded keys (tests clear it)

__all__ = [
    "BULK",
    "QR_HIDDEN",
    "ChainFacts",
    "LocalResult",
    "certificate_subject",
    "chain_checks",
    "chain_unreadable",
    "holder_facts",
    "local_checks",
    "looks_like_certificate",
    "mask_code",
    "mask_name",
    "validity_check",
    "verify_certificate_text",
    "verify_documents",
    "verify_qr",
    "with_lag",
]


def verify_documents(
    texts: Sequence[str | bytes],
    registry: ChainFacts,
    *,
    today: dt.date | None = None,
    workers: int = 1,
) -> tuple[list[Verdict], int | None]:
    """Verdicts for many documents, with the chain judged at one block (returned too).

    Large runs are checked in chunks on ``workers`` processes; the chain facts of each chunk
    are fetched here while the workers check the next ones, every chunk at the block of the
    first lookup (so no verdict uses a chain older than the start of the run)."""
    today = today or clock.today()
    judge = ChainJudge(registry)
    verdicts: list[Verdict] = []
    with gc_paused() if len(texts) >= BULK else contextlib.nullcontext():
        for part in _local_parts(texts, today, workers):
            verdicts += judge.verdicts(part)
    return verdicts, judge.block


def _local_parts(
    texts: Sequence[str | bytes], today: dt.date, workers: int
) -> Iterator[list[LocalResult]]:
    """The local checks of ``texts`` in order, chunk by chunk as they finish."""
    count = worker_count(len(texts), workers)
    if not count:
        yield [local_checks(t, today) for t in texts]
        return
    chunk = 500
    # the workers are forked with the texts (certs.workers): each is sent where its chunk starts
    with Workers(count, functools.partial(_LocalChecks, texts, today)) as pool:
        yield from pool.map(_LocalChecks.chunk, [(i, chunk) for i in range(0, len(texts), chunk)])


class _LocalChecks:
    """In a worker: the local checks of the texts it was forked with."""

    def __init__(self, texts: Sequence[str | bytes], today: dt.date) -> None:
        self.texts, self.today = texts, today

    def chunk(self, start: int, size: int) -> list[LocalResult]:
        return [local_checks(t, self.today) for t in self.texts[start : start + size]]


def looks_like_certificate(data: bytes) -> bool:
    """Is ``data`` a JSON certificate document (rather than a seal, signature or PDF)?"""
    return data.lstrip()[:1] == b"{"


def no_chain() -> ChainFacts:
    """The chain facts of a service or command with no chain configured: a certificate's
    status, anchor and keys cannot be read, so its chain checks are ERROR (could not check),
    never skipped into a `valid` — whatever file (PDF, OFD) carries the certificate."""
    raise ChainError("no chain is configured: the certificate's chain facts cannot be read",
                     code="chain_not_configured")


def certificate_issuer(subject: Mapping[str, Any]) -> str | None:
    """The issuing agency's USCC named by the identifier in a certificate verdict's
    ``subject`` (the identifier is signed), or ``None`` when it has none that parses."""
    identifier = subject.get("identifier")
    if not isinstance(identifier, str):
        return None
    try:
        return parse_identifier(identifier).issuer_code
    except ValidationError:
        return None


def verify_certificate_text(
    data: bytes, registry_factory: Callable[[], ChainFacts], *, today: dt.date | None = None
) -> Verdict:
    """One certificate document → its verdict; an unreachable chain gives ERROR checks."""
    day = today or clock.today()
    try:
        registry = registry_factory()
    except ChainError as exc:
        local = local_checks(data, day)
        return Verdict(local.fragments + tuple(chain_unreadable(exc, CHAIN_CHECKS)), local.subject)
    verdicts, block = verify_documents([data], registry, today=day)
    verdict = verdicts[0]
    subject = {
        **verdict.subject,
        "chain": {"block": block, "chain_id": registry.deployment.chain_id},
    }
    return Verdict(verdict.checks, subject)
