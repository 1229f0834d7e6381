"""Verifying seals and seal signatures: the checks of :func:`verify_seal` and
:func:`verify_signature` (the steps, the trust and time rules: see :mod:`seals.seal`).

Every step is a :class:`~seals.report.Check` with a catalogue message (:mod:`seals.messages`);
verification never raises for bad input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from seals import sm2
from seals.errors import SealError, Sm2BadSignature
from seals.report import Check, Message, Status, VerificationReport
from seals.ses import CertDigest, Seal, SealSignature, parse_seal, parse_signature
from seals.x509 import SIGNING_USAGES, X509Certificate, validate_path

_EMPTY = Message("empty")


def utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def cert_in_seal(seal: Seal, cert: X509Certificate) -> bool:
    """Is ``cert`` among the seal's authorised signer certificates (or their digests)?"""
    if seal.property.cert_list_type == 1:
        return cert.der in seal.property.certificates
    return any(_digest_matches(d, cert.der) for d in seal.property.digests)


_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "SM3": sm2.sm3,
    sm2.OID_SM3: sm2.sm3,
    "SHA1": lambda b: hashlib.sha1(b).digest(),
    "SHA256": lambda b: hashlib.sha256(b).digest(),
    "SHA-256": lambda b: hashlib.sha256(b).digest(),
}


def _digest_matches(d: CertDigest, der: bytes) -> bool:
    fn = _DIGESTS.get(d.type.strip().upper()) or _DIGESTS.get(d.type.strip())
    if fn is None:
        raise SealError(
            f"certificate digest type {d.type!r} is not supported", code="seal_digest_unsupported"
        )
    return fn(der) == d.value


def _check(
    name: str, type_: str, status: Status, message: str, data: dict[str, Any] | None = None,
    /, **params: Any,
) -> Check:
    return Check(name, type_, status, message, params, data or {})


def _guard(name: str, type_: str, fn: Callable[[], Check]) -> Check:
    """Run a step; an unexpected exception becomes an ERROR step, never a crash."""
    try:
        return fn()
    except Exception as exc:  # the whole point: no step may crash the report
        code = getattr(exc, "code", type(exc).__name__)
        return _check(
            name, type_, Status.ERROR, "check.error", {"error": code},
            error=str(exc), check=Message(f"check.{name}"),
        )


def _validity(
    name: str, what: Message, start: datetime, end: datetime, t: datetime, now: datetime,
    at_signing: bool, claim: Message = _EMPTY,
) -> Check:
    data = {
        "not_before": start.isoformat(),
        "not_after": end.isoformat(),
        "judged_at": t.isoformat(),
    }
    when = Message("when.signing" if at_signing else "when.at", {"t": utc(t)})
    facts = {"what": what, "when": when, "start": utc(start), "end": utc(end)}
    if t < start:
        return Check(name, "validity", Status.INVALID, "validity.not_yet", facts, data)
    if t > end:
        return Check(name, "validity", Status.INVALID, "validity.expired", facts, data)
    since = _EMPTY
    if at_signing and now > end:
        since = Message("validity.expired_since", {"end": utc(end)})
        data["expired_since"] = end.isoformat()
    return Check(
        name, "validity", Status.VALID, "validity.valid",
        {**facts, "since": since, "claim": claim}, data,
    )


def _certificate_step(
    name: str,
    role: str,
    holder: list[X509Certificate],
    t: datetime,
    now: datetime,
    at_signing: bool,
    claim: Message = _EMPTY,
) -> Check:
    """A certificate's validity at ``t`` and that its key usage allows signing.
    ``role`` is ``maker`` or ``signer``."""
    whose = Message(f"role.{role}")
    if not holder:
        return _check(
            name, "validity", Status.SKIPPED, "certificate.none",
            role=Message(f"role.{role}.plain"),
        )
    cert = holder[0]
    what = Message("what.certificate", {"whose": whose, "who": cert.common_name or cert.subject})
    step = _validity(
        name, what, cert.not_before, cert.not_after, t, now, at_signing, claim
    )
    if (
        step.status is Status.VALID
        and cert.key_usage is not None
        and not (cert.key_usage & SIGNING_USAGES)
    ):
        return Check(
            name, "validity", Status.INVALID, "certificate.no_signing", {"whose": whose},
            step.data,
        )
    return step


def _signed_by(
    name: str, role: str, certificate: bytes, signed: bytes, signature: bytes,
    holder: list[X509Certificate],
) -> Check:
    """``name`` (``seal.maker_signature`` or ``signature.value``): ``signature`` over
    ``signed`` verifies with the key of ``certificate`` (kept in ``holder`` when readable).
    Its messages are ``<name>.unreadable``, ``.invalid`` and ``.valid``."""
    try:
        cert = X509Certificate.from_der(certificate)
    except SealError as exc:
        return _check(
            name, "signature", Status.INVALID, f"{name}.unreadable", {"error": exc.code},
            error=str(exc),
        )
    holder.append(cert)
    who = {role: cert.subject}
    try:
        cert.public_key().verify(signed, signature)
    except Sm2BadSignature:
        return _check(name, "signature", Status.INVALID, f"{name}.invalid", who)
    return _check(
        name, "signature", Status.VALID, f"{name}.valid", who, who=cert.common_name or cert.subject
    )


def _version(name: str, what: str, layout: str, data: dict[str, Any] | None) -> Check:
    if layout == "v4":
        return _check(name, "format", Status.VALID, f"{what}.version.v4", data)
    label: Message | str = Message(f"layout.{layout}") if layout in ("v1", "v5") else layout
    if what == "seal" and layout != "v1":
        label = Message("layout.v5")
    return _check(
        name, "format", Status.SKIPPED, f"{what}.version.other", {"layout": layout},
        layout=layout, label=label,
    )


def _seal_steps(
    seal: Seal,
    *,
    t: datetime,
    now: datetime,
    at_signing: bool,
    anchors: Sequence[X509Certificate],
    lenient_ca: bool,
) -> list[Check]:
    steps = [_version("seal.version", "seal", seal.layout, {"layout": seal.layout})]
    maker_holder: list[X509Certificate] = []

    def maker_signature() -> Check:
        return _signed_by(
            "seal.maker_signature", "maker", seal.maker_certificate, seal.maker_signed_der,
            seal.signature, maker_holder,
        )

    steps.append(_guard("seal.maker_signature", "signature", maker_signature))
    steps.append(
        _guard(
            "seal.maker_certificate",
            "validity",
            lambda: _certificate_step(
                "seal.maker_certificate", "maker", maker_holder, t, now, at_signing
            ),
        )
    )
    steps.append(
        _guard(
            "seal.maker_path",
            "trust",
            lambda: _path_step(
                "seal.maker_path", "maker", maker_holder[0] if maker_holder else None, anchors,
                t, lenient_ca,
            ),
        )
    )

    def validity() -> Check:
        p = seal.property
        if p.valid_until < p.valid_from:
            return _check("seal.validity", "validity", Status.INVALID, "seal.validity.reversed")
        what = Message("what.seal", {"name": p.name})
        return _validity("seal.validity", what, p.valid_from, p.valid_until, t, now, at_signing)

    steps.append(_guard("seal.validity", "validity", validity))
    return steps


def _path_step(
    name: str,
    role: str,
    cert: X509Certificate | None,
    anchors: Sequence[X509Certificate],
    t: datetime,
    lenient: bool,
) -> Check:
    whose = Message(f"role.{role}.plain")
    if cert is None:
        return _check(name, "trust", Status.SKIPPED, "path.no_certificate", role=whose)
    if not anchors:
        return _check(name, "trust", Status.SKIPPED, "path.no_anchor", role=whose)
    result = validate_path(cert, anchors=anchors, at=t, lenient_ca=lenient)
    data: dict[str, Any] = {
        "chain": [c.subject for c in result.chain],
        "lenient": lenient,
    }
    if result.notes:
        data["notes"] = list(result.notes)
    message = result.message(whose)
    if result.ok:
        return Check(name, "trust", Status.VALID, message.id, message.params, data)
    data["problems"] = list(result.problems)
    return Check(name, "trust", Status.INVALID, message.id, message.params, data)


def _seal_subject(seal: Seal) -> dict[str, Any]:
    return {
        "type": "seal",
        "layout": seal.layout,
        "name": seal.property.name,
        "es_id": seal.es_id,
        "vendor_id": seal.vendor_id,
        "valid_from": seal.property.valid_from.isoformat(),
        "valid_until": seal.property.valid_until.isoformat(),
    }


def _seal_named(seal: Seal) -> dict[str, Any]:
    return {"layout": seal.layout, "name": seal.property.name, "code": seal.es_id}


def verify_seal(
    seal: Seal | bytes,
    *,
    at: datetime | None = None,
    anchors: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
) -> VerificationReport:
    """Verify a seal (parsed or DER), judging validity at ``at`` (default now)."""
    if not isinstance(seal, Seal):
        try:
            seal = parse_seal(seal)
        except SealError as exc:
            unreadable = _check(
                "seal.structure", "format", Status.INVALID, "seal.structure.unreadable",
                {"error": exc.code}, error=str(exc),
            )
            return VerificationReport("seal", (unreadable,))
    now = datetime.now(UTC)
    t = utc(at) if at is not None else now
    steps = [
        _check(
            "seal.structure", "format", Status.VALID, "seal.structure.readable",
            {"layout": seal.layout}, **_seal_named(seal),
        )
    ]
    steps += _seal_steps(
        seal, t=t, now=now, at_signing=False, anchors=anchors, lenient_ca=lenient_ca
    )
    subject = _seal_subject(seal) | {"judged_at": t.isoformat()}
    return VerificationReport("seal", tuple(steps), subject)


def verify_signature(
    signature: SealSignature | bytes,
    *,
    data: bytes | None = None,
    at: datetime | None = None,
    now: datetime | None = None,
    anchors: Sequence[X509Certificate] = (),
    lenient_ca: bool = False,
) -> VerificationReport:
    """Verify a seal signature (parsed or DER) and, with ``data``, what it protects.

    ``at``: the time to judge validity at (default: the signing time; see
    :mod:`seals.seal`). ``now``: the present, used only to say whether things have expired
    since (default: the clock).
    """
    if not isinstance(signature, SealSignature):
        try:
            signature = parse_signature(signature)
        except SealError as exc:
            unreadable = _check(
                "signature.structure", "format", Status.INVALID,
                "signature.structure.unreadable", {"error": exc.code}, error=str(exc),
            )
            return VerificationReport("signature", (unreadable,))
    sig = signature
    present = utc(now) if now is not None else datetime.now(UTC)
    at_signing = at is None and sig.signing_time is not None
    t = utc(at) if at is not None else (sig.signing_time or present)
    made = (
        Message("signature.structure.made", {"t": utc(sig.signing_time)})
        if sig.signing_time
        else Message("signature.structure.no_time")
    )
    steps: list[Check] = [
        _check(
            "signature.structure", "format", Status.VALID, "signature.structure.readable",
            {"layout": sig.layout, "property_info": sig.property_info},
            layout=sig.layout, made=made, property_info=sig.property_info,
        ),
        _version(
            "signature.version", "signature", sig.layout,
            None if sig.layout == "v4" else {"layout": sig.layout},
        ),
        _check(
            "seal.structure", "format", Status.VALID, "seal.structure.embedded",
            **_seal_named(sig.seal),
        ),
    ]
    steps += _seal_steps(
        sig.seal, t=t, now=present, at_signing=at_signing, anchors=anchors, lenient_ca=lenient_ca
    )
    signer_steps, signer = _signer_steps(sig, data, t, present, at_signing, anchors, lenient_ca)
    steps += signer_steps
    subject: dict[str, Any] = {
        "type": "signature",
        "layout": sig.layout,
        "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
        "property_info": sig.property_info,
        "judged_at": t.isoformat(),
        "seal": _seal_subject(sig.seal),
    }
    if signer is not None:
        subject["signer"] = signer.subject
    return VerificationReport("signature", tuple(steps), subject)


def _signer_steps(
    sig: SealSignature, data: bytes | None, t: datetime, present: datetime, at_signing: bool,
    anchors: Sequence[X509Certificate], lenient_ca: bool,
) -> tuple[list[Check], X509Certificate | None]:
    """The signature's own steps (its value, the signer and its certificate, the data) and
    the signer's certificate when readable."""
    signer_holder: list[X509Certificate] = []

    def value() -> Check:
        return _signed_by(
            "signature.value", "signer", sig.signer_certificate, sig.tbs_der, sig.signature,
            signer_holder,
        )

    def in_seal() -> Check:
        name = "signature.signer_in_seal"
        if not signer_holder:
            return _check(name, "integrity", Status.SKIPPED, "signature.signer_in_seal.none")
        if cert_in_seal(sig.seal, signer_holder[0]):
            how = "certificate" if sig.seal.property.cert_list_type == 1 else "digest"
            return _check(name, "integrity", Status.VALID, f"signature.signer_in_seal.{how}")
        return _check(name, "integrity", Status.INVALID, "signature.signer_in_seal.invalid")

    def signer_certificate() -> Check:
        # A time-stamp, if any, is not checked yet: the time stays the signer's claim.
        claim = _EMPTY
        if at_signing:
            claim = Message(
                "validity.claim_no_timestamp"
                if sig.timestamp is None
                else "validity.claim_timestamp_unchecked"
            )
        return _certificate_step(
            "signature.signer_certificate", "signer", signer_holder, t, present, at_signing,
            claim,
        )

    def data_hash() -> Check:
        name = "signature.data_hash"
        if data is None:
            return _check(
                name, "integrity", Status.SKIPPED, "signature.data_hash.not_given",
                {"data_hash": sig.data_hash.hex()}, what=sig.property_info,
            )
        actual = sm2.sm3(data)
        d = {"data_hash": sig.data_hash.hex(), "sm3": actual.hex()}
        if actual == sig.data_hash:
            return _check(name, "integrity", Status.VALID, "signature.data_hash.valid", d)
        return _check(name, "integrity", Status.INVALID, "signature.data_hash.invalid", d)

    steps = [
        _guard("signature.value", "signature", value),
        _guard("signature.signer_in_seal", "integrity", in_seal),
        _guard("signature.signer_certificate", "validity", signer_certificate),
        _guard(
            "signature.signer_path",
            "trust",
            lambda: _path_step(
                "signature.signer_path", "signer", signer_holder[0] if signer_holder else None,
                anchors, t, lenient_ca,
            ),
        ),
        _guard("signature.data_hash", "integrity", data_hash),
    ]
    if sig.timestamp is not None:
        steps.append(
            _check(
                "signature.timestamp", "validity", Status.SKIPPED,
                "signature.timestamp.unchecked", {"bytes": len(sig.timestamp)},
            )
        )
    return steps, signer_holder[0] if signer_holder else None
