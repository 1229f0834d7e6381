"""Verifying a scanned QR payload (:mod:`certs.qr`) against the chain: :func:`verify_qr`."""

from __future__ import annotations

import datetime as dt
import functools
import time
from typing import Any

from certs import clock, qr
from certs.errors import CertError
from chain.errors import ChainError
from chain.registry import (
    KeyRecord,
)
from seals.errors import SealError, says_nothing_of_the_input
from seals.report import Message
from seals.sm2 import sm3
from verifier.checks.authority import Authority, authority_of
from verifier.checks.certificate_checks import LocalResult, fragment, public_key, validity_check
from verifier.checks.chain_checks import CHAIN_CHECKS, ChainFacts, chain_checks, chain_unreadable
from verifier.checks.messages import chain_time
from verifier.checks.verdict import Fragment, Status, Verdict

QR_HIDDEN = (
    "all other fields: a QR carries only the identifier, type, issuer, jurisdiction and validity"
)
"""``subject["hidden"]`` of a QR verdict."""


def verify_qr(text: str, registry: ChainFacts, *, today: dt.date | None = None) -> Verdict:
    """A scanned QR payload (see :mod:`certs.qr`) against the chain: the issuer's signature
    over the identifier, dates and leaf with a key it published on chain, the dates against
    today, the batch root anchored by that issuer, the key valid when anchored and never
    reported compromised (a QR carries no Merkle proof: see :mod:`certs.qr`), and the
    certificate's status."""
    day = today or clock.today()
    try:
        payload = qr.decode(text)
    except CertError as exc:
        code = getattr(exc, "code", "qr_payload_invalid")
        return Verdict(
            (
                fragment(
                    "qr.format",
                    "format",
                    Status.ERROR,
                    "qr.format.invalid",
                    {
                        "error": str(exc),
                        "why": Message(
                            f"qr.format.{code}"
                            if code in ("qr_version_unsupported", "qr_not_anchored")
                            else "qr.format.qr_payload_invalid"
                        ),
                    },
                    code=code,
                ),
            )
        )
    identifier = str(payload.identifier)
    issuer = payload.identifier.issuer_code
    type_code = payload.identifier.type_code
    subject: dict[str, Any] = {
        "identifier": identifier,
        "type.code": type_code,
        "issuer.code": issuer,
        "valid_from": payload.valid_from.isoformat(),
        "valid_until": payload.valid_until.isoformat() if payload.valid_until else None,
        "jurisdiction": payload.jurisdiction,
        "hidden": [QR_HIDDEN],
    }
    type_name = _type_name(type_code)
    if type_name is not None:
        subject["type.name"] = type_name
    fragments = [
        fragment(
            "qr.format",
            "format",
            Status.VALID,
            "qr.format.valid",
        )
    ]
    validity = validity_check(payload.valid_from, payload.valid_until, day)
    try:
        keys = {k: p for k, p in registry.published_keys(issuer).items() if sm3(p) == k}
        unpublished = [k for k in registry.key_ids(issuer) if k not in keys]
        snap = registry.snapshot(
            roots=[payload.root], leaves=[(issuer, payload.leaf)], keys=[(issuer, k) for k in keys]
        )
        ahead = None
        if snap.anchors.get(payload.root) is None and int(snap.lag.get("lag_blocks") or 0):
            # a QR names no anchor block: a root the judged block lacks may be in the blocks
            # not yet confirmed (a genuine certificate's first blocks) — ask the head, to
            # answer "not yet confirmed" (ERROR) rather than "missing" (INVALID)
            ahead = registry.anchor_of(payload.root)
        name = registry.issuer_name(issuer)
        authority = authority_of(
            registry.authorization_events(issuer, type_code, block=snap.block), issuer, type_code
        )
    except ChainError as exc:
        names = (("certificate.signature", "signature"), *CHAIN_CHECKS)
        return Verdict((*fragments, validity, *chain_unreadable(exc, names)), subject)
    if name is not None:
        subject["issuer.name"] = name
    if authority.entry is not None:  # the catalogue on chain names the type
        subject["type.name"] = authority.entry.name
    signed_with = None
    fault: SealError | None = None  # a key this machine could not check with
    for key_id, point in keys.items():
        try:
            public_key(point).verify(
                payload.signing_input(key_id), qr.signature_der(payload.signature_rs)
            )
        except SealError as exc:
            if says_nothing_of_the_input(exc):
                fault = exc
            continue
        except ValueError:
            continue
        signed_with = key_id
        break
    who = (
        Message("who.named_issuer", {"name": name, "issuer": issuer})
        if name
        else Message("who.issuer", {"issuer": issuer})
    )
    signer = {"issuer": issuer, "who": who}
    if signed_with is None and fault is not None:
        fragments.append(
            fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                "qr.signature.unchecked",
                {"code": fault.code, "error": str(fault)},
                block=snap.block,
            )
        )
    elif signed_with is None and unpublished:
        fragments.append(
            fragment(
                "certificate.signature",
                "signature",
                Status.ERROR,
                "qr.signature.unpublished",
                {**signer, "count": len(unpublished)},
                block=snap.block,
            )
        )
    elif signed_with is None:
        fragments.append(
            fragment(
                "certificate.signature",
                "signature",
                Status.INVALID,
                "qr.signature.invalid",
                signer,
                block=snap.block,
                **snap.lag,
            )
        )
    else:
        fragments.append(
            fragment(
                "certificate.signature",
                "signature",
                Status.VALID,
                "qr.signature.valid",
                signer,
                key_id=signed_with.hex(),
                block=snap.block,
                **snap.lag,
            )
        )
    fragments.append(validity)
    local = LocalResult(
        (),
        subject,
        issuer=issuer,
        leaf=payload.leaf,
        root=payload.root,
        key_id=signed_with or b"\0" * 32,
        chain_id=registry.deployment.chain_id,
        contract=registry.deployment.certificate_registry,
        type_code=type_code,
        jurisdiction=payload.jurisdiction,
        anchor_block=ahead.block_number if ahead is not None and ahead.issuer == issuer else None,
    )
    chain = chain_checks(local, snap, registry.deployment, authority=authority)
    if signed_with is None and (unpublished or fault is not None):  # which key: unknown
        chain = [
            fragment(
                f.name, f.type, Status.ERROR,
                "qr.key.unchecked" if fault is not None else "qr.key.unpublished",
                block=snap.block,
            )
            if f.name == "issuer.key"
            else f
            for f in chain
        ]
    key = snap.keys.get((issuer, signed_with)) if signed_with else None
    if key is not None and (key.compromised_at is not None or not key.valid_at(int(time.time()))):
        chain = [
            _qr_key_out_of_service(f, key, snap.block) if f.name == "issuer.key" else f
            for f in chain
        ]
    now = int(time.time())
    if not authority.permits(now, payload.jurisdiction):
        chain = [
            _qr_authority_ended(f, authority, now, payload.jurisdiction, snap.block)
            if f.name == "issuer.authorized"
            else f
            for f in chain
        ]
    fragments += chain
    subject["chain"] = {"block": snap.block, "chain_id": registry.deployment.chain_id}
    return Verdict(tuple(fragments), subject)


def _qr_authority_ended(
    found: Fragment, authority: Authority, now: int, jurisdiction: str, block: int
) -> Fragment:
    """``issuer.authorized`` of a QR whose issuer is not authorized for its type today: a QR
    has no Merkle proof, so an agency whose authorization ended (or whose type was
    withdrawn) can still sign a QR for a new leaf and point it at a root it anchored while
    it was authorized. A QR alone then decides nothing (an earlier INVALID stands); the
    certificate file or a presentation code can (their proof fixes the anchor time)."""
    if found.status is Status.INVALID:
        return found
    problem = authority.why_not(now, jurisdiction, now=True) or Message("authority.not_now")
    return fragment(
        found.name, found.type, Status.ERROR, "qr.authority_ended", {"problem": problem},
        block=block,
    )


def _qr_key_out_of_service(found: Fragment, key: KeyRecord, block: int) -> Fragment:
    """``issuer.key`` of a QR signed with a key that was reported compromised, or is no longer
    (or not yet) in service: a QR has no Merkle proof, so whoever holds such a key can sign a
    QR for any leaf and point it at an old root of the issuer. A QR alone then decides
    nothing (an earlier INVALID stands); the certificate file or a presentation code can."""
    if found.status is Status.INVALID:
        return found
    if key.compromised_at is not None:
        message, when = "qr.key.compromised", chain_time(key.compromised_at)
    else:
        end = key.valid_until if key.valid_until is not None else key.valid_from
        message, when = "qr.key.out_of_service", chain_time(end)
    return fragment(
        "issuer.key",
        "chain",
        Status.ERROR,
        message,
        {"when": when},
        block=block,
        compromised_at=key.compromised_at,
        valid_until=key.valid_until,
    )


@functools.lru_cache(maxsize=256)
def _type_name(code: str) -> str | None:
    """The certificate type's name in the catalogue (``certs/types.json``), if listed."""
    from certs.types import default_registry

    types = default_registry()
    return types.get(code).name if code in types else None
