"""Electronic seals: create a v4 seal, sign with it, and verify seals and seal signatures.

- ``create_seal(spec, maker_certificate, maker) -> Seal``: a GB/T 38540 v4 ``SESeal`` signed
  by the seal maker (any :class:`~seals.sm2.Signer`) over DER(``SES_SealInfo``).
- ``sign_digest(seal, signer, signer_certificate, data_hash, property_info, at=None)`` and
  ``sign_data(...)`` (which hashes with SM3 first) -> ``SealSignature`` (v4 ``SES_Signature``).
- ``verify_seal(seal_or_der, ...)`` and ``verify_signature(signature_or_der, data=..., ...)``
  -> :class:`VerificationReport`: an ordered tuple of :class:`Step` (``name``, ``type``,
  ``status`` VALID/INVALID/ERROR/SKIPPED, ``reason``, ``data``). Verification never raises for
  bad input: an unreadable structure is an INVALID ``*.structure`` step, an unexpected
  failure inside a step is an ERROR step.

Steps, in order. Seal: ``seal.structure``, ``seal.version``, ``seal.maker_signature``,
``seal.maker_certificate``, ``seal.maker_path``, ``seal.validity``. Signature:
``signature.structure``, ``signature.version``, the seal steps on the embedded seal,
``signature.value``, ``signature.signer_in_seal``, ``signature.signer_certificate``,
``signature.signer_path``, ``signature.data_hash``, and ``signature.timestamp`` when the
signature carries one.

Trust: ``anchors`` are trust-anchor certificates. With none, the ``*_path`` steps are SKIPPED
("no trust anchor configured"), never VALID. ``lenient_ca=True`` accepts issuers without the
CA marks (basicConstraints cA, keyCertSign) and says so in the step's reason.

Time rule (a decision; GB/T 38540 leaves it open: docs/standards/seals.md §4):

- A seal on its own is judged at ``at`` (default: now).
- A signature is judged at ``at`` when given, otherwise at its signing time (``timeInfo``): the
  embedded seal, the maker and the signer certificates must all have been valid then. When
  they have expired since, the steps stay VALID and their reasons say so plainly ("expired
  since …"), so the verdict on such a signature (e.g. the ofdrw sample, signed 2020-10-12 with
  certificates that expired 2022-04-21) is **valid**: the signature was made while everything
  was valid. Without a time-stamp the signing time is the signer's own claim, and the
  ``signature.signer_certificate`` reason says that too; pass ``at=now`` for the strict
  reading, which makes such a signature invalid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from seals import sm2
from seals.errors import SealError, SealInputError, Sm2BadSignature
from seals.ses import (
    CertDigest,
    ExtData,
    Seal,
    SealPicture,
    SealSignature,
    encode_seal,
    encode_seal_info,
    encode_tbs_sign,
    made_signature,
    parse_seal,
    parse_signature,
)
from seals.x509 import SIGNING_USAGES, X509Certificate, validate_path

# ---------------------------------------------------------------------------- reports


class StepStatus(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    ERROR = "ERROR"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class Step:
    """One verification step."""

    name: str
    """Stable machine name, e.g. ``seal.maker_signature``."""
    type: str
    """``format``, ``signature``, ``integrity``, ``validity`` or ``trust``."""
    status: StepStatus
    reason: str
    """A plain sentence a counter clerk can act on."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts the step used."""


@dataclass(frozen=True)
class VerificationReport:
    """The ordered steps of verifying a seal or a seal signature."""

    kind: str
    """``seal`` or ``signature``."""
    steps: tuple[Step, ...]
    subject: Mapping[str, Any] = field(default_factory=dict)
    """What was verified (seal name and code, signing time…), JSON-serialisable."""

    @property
    def ok(self) -> bool:
        """True when no step is INVALID or ERROR and at least one is VALID."""
        statuses = {s.status for s in self.steps}
        return (
            StepStatus.INVALID not in statuses
            and StepStatus.ERROR not in statuses
            and StepStatus.VALID in statuses
        )

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


# ----------------------------------------------------------------------------- creating


@dataclass(frozen=True)
class SealSpec:
    """What goes into a new v4 seal."""

    name: str
    """印章名称: the seal's name, usually the agency's name."""
    es_id: str
    """印章编码: the seal code (IA5 text)."""
    valid_from: datetime
    valid_until: datetime
    picture: SealPicture
    signer_certificates: tuple[X509Certificate, ...]
    """Certificates allowed to sign with this seal (签章者)."""
    seal_type: int = 1
    """Seal type code as the issuing system defines it (1: the agency's official seal)."""
    vendor_id: str = "ZHENGYIN"
    """``SES_Header.Vid``: the maker's vendor code."""
    cert_list_type: int = 1
    """1: list the certificates themselves; 2: list their SM3 digests."""
    created: datetime | None = None
    """``createDate``; None: now."""
    ext_datas: tuple[ExtData, ...] = ()


def _ia5(text: str, what: str) -> None:
    if not text or not text.isascii():
        raise SealInputError(f"{what} must be non-empty ASCII text: {text!r}")


def create_seal(spec: SealSpec, maker_certificate: X509Certificate, maker: sm2.Signer) -> Seal:
    """Make and sign a v4 seal; returns the parsed result of the DER written."""
    _ia5(spec.es_id, "seal code")
    _ia5(spec.vendor_id, "vendor id")
    if not spec.name.strip():
        raise SealInputError("seal name is empty")
    if not spec.signer_certificates:
        raise SealInputError("a seal needs at least one signer certificate")
    if _utc(spec.valid_until) <= _utc(spec.valid_from):
        raise SealInputError("seal validity ends before it starts", code="seal_bad_validity")
    if spec.cert_list_type not in (1, 2):
        raise SealInputError("certListType must be 1 or 2")
    if maker_certificate.public_key() != maker.public_key:
        raise SealInputError(
            "the seal maker's key is not the key of its certificate", code="seal_maker_key_mismatch"
        )
    certs = tuple(c.der for c in spec.signer_certificates)
    digests = tuple(CertDigest("SM3", c.fingerprint_sm3()) for c in spec.signer_certificates)
    info = encode_seal_info(
        vendor_id=spec.vendor_id,
        es_id=spec.es_id,
        seal_type=spec.seal_type,
        name=spec.name,
        certificates=certs if spec.cert_list_type == 1 else (),
        digests=digests if spec.cert_list_type == 2 else (),
        created=spec.created or datetime.now(UTC),
        valid_from=spec.valid_from,
        valid_until=spec.valid_until,
        picture=spec.picture,
        ext_datas=spec.ext_datas,
    )
    signature = maker.sign_raw(info)
    return parse_seal(encode_seal(info, maker_certificate.der, signature))


def _cert_in_seal(seal: Seal, cert: X509Certificate) -> bool:
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


def sign_digest(
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    data_hash: bytes,
    property_info: str,
    *,
    at: datetime | None = None,
) -> SealSignature:
    """Stamp: a v4 ``SES_Signature`` over ``data_hash`` (the SM3 of the protected bytes)."""
    if seal.layout != "v4":
        raise SealInputError(
            f"only v4 seals can sign here (this seal is {seal.layout})",
            code="seal_unsupported_version",
        )
    if len(data_hash) != 32:
        raise SealInputError("data hash must be a 32-byte SM3 digest")
    _ia5(property_info, "propertyInfo")
    if signer_certificate.public_key() != signer.public_key:
        raise SealInputError(
            "the signer's key is not the key of its certificate", code="seal_signer_key_mismatch"
        )
    if not _cert_in_seal(seal, signer_certificate):
        raise SealInputError(
            "the signer's certificate is not in the seal's certificate list",
            code="seal_signer_not_listed",
        )
    t = _utc(at or datetime.now(UTC)).replace(microsecond=0)
    if not seal.property.valid_from <= t <= seal.property.valid_until:
        raise SealInputError(f"the seal is not valid at {_ts(t)}", code="seal_expired")
    if not signer_certificate.valid_at(t):
        raise SealInputError(
            f"the signer's certificate is not valid at {_ts(t)}", code="seal_signer_expired"
        )
    tbs = encode_tbs_sign(
        seal_der=seal.der, signing_time=t, data_hash=data_hash, property_info=property_info
    )
    return made_signature(
        seal=seal, tbs_der=tbs, signing_time=t, data_hash=data_hash, property_info=property_info,
        signer_certificate=signer_certificate.der, signature=signer.sign_raw(tbs),
    )


def sign_data(
    seal: Seal,
    signer: sm2.Signer,
    signer_certificate: X509Certificate,
    data: bytes,
    property_info: str,
    *,
    at: datetime | None = None,
) -> SealSignature:
    """:func:`sign_digest` over ``SM3(data)``."""
    return sign_digest(seal, signer, signer_certificate, sm2.sm3(data), property_info, at=at)


# ---------------------------------------------------------------------------- verifying


def _guard(name: str, type_: str, fn: Callable[[], Step]) -> Step:
    """Run a step; an unexpected exception becomes an ERROR step, never a crash."""
    try:
        return fn()
    except Exception as exc:  # the whole point: no step may crash the report
        code = getattr(exc, "code", type(exc).__name__)
        return Step(name, type_, StepStatus.ERROR, f"could not check: {exc}", {"error": code})


def _validity_reason(
    what: str, start: datetime, end: datetime, t: datetime, now: datetime, at_signing: bool
) -> tuple[StepStatus, str, dict[str, Any]]:
    data = {
        "not_before": start.isoformat(),
        "not_after": end.isoformat(),
        "judged_at": t.isoformat(),
    }
    when = f"the signing time {_ts(t)}" if at_signing else _ts(t)
    if t < start:
        return (
            StepStatus.INVALID,
            f"{what} was not yet valid at {when} (valid from {_ts(start)})",
            data,
        )
    if t > end:
        return StepStatus.INVALID, f"{what} had expired at {when} (valid until {_ts(end)})", data
    reason = f"{what} is valid at {when} ({start:%Y-%m-%d} to {end:%Y-%m-%d})"
    if at_signing and now > end:
        reason += f"; it has expired since ({_ts(end)})"
        data["expired_since"] = end.isoformat()
    return StepStatus.VALID, reason, data


def _certificate_step(
    name: str,
    role: str,
    holder: list[X509Certificate],
    t: datetime,
    now: datetime,
    at_signing: bool,
) -> Step:
    """A certificate's validity at ``t`` and that its key usage allows signing.
    ``role`` is ``maker`` or ``signer``."""
    whose = "the seal maker's" if role == "maker" else "the signer's"
    if not holder:
        return Step(name, "validity", StepStatus.SKIPPED, f"no readable {role} certificate")
    cert = holder[0]
    status, reason, data = _validity_reason(
        f"{whose} certificate ({cert.common_name or cert.subject})",
        cert.not_before,
        cert.not_after,
        t,
        now,
        at_signing,
    )
    if (
        status is StepStatus.VALID
        and cert.key_usage is not None
        and not (cert.key_usage & SIGNING_USAGES)
    ):
        return Step(
            name,
            "validity",
            StepStatus.INVALID,
            f"{whose} certificate does not allow signing (key usage)",
            data,
        )
    return Step(name, "validity", status, reason, data)


def _seal_steps(
    seal: Seal,
    *,
    t: datetime,
    now: datetime,
    at_signing: bool,
    anchors: Sequence[X509Certificate],
    lenient_ca: bool,
) -> list[Step]:
    steps: list[Step] = []
    if seal.layout == "v4":
        steps.append(
            Step(
                "seal.version",
                "format",
                StepStatus.VALID,
                "GB/T 38540-2020 (v4) seal",
                {"layout": "v4"},
            )
        )
    else:
        label = "GM/T 0031-2014 (v1)" if seal.layout == "v1" else "v5 (read with the v4 layout)"
        steps.append(
            Step(
                "seal.version",
                "format",
                StepStatus.SKIPPED,
                f"{label} seal: its signatures, certificates and dates are checked like v4; "
                "rules specific to this version are not supported",
                {"layout": seal.layout},
            )
        )

    maker_holder: list[X509Certificate] = []

    def maker_signature() -> Step:
        try:
            maker = X509Certificate.from_der(seal.maker_certificate)
        except SealError as exc:
            return Step(
                "seal.maker_signature",
                "signature",
                StepStatus.INVALID,
                f"the seal maker's certificate cannot be read: {exc}",
                {"error": exc.code},
            )
        maker_holder.append(maker)
        who = {"maker": maker.subject}
        try:
            maker.public_key().verify(seal.maker_signed_der, seal.signature)
        except Sm2BadSignature:
            return Step(
                "seal.maker_signature",
                "signature",
                StepStatus.INVALID,
                "the seal maker's signature does not match the seal: it was altered "
                "or not made with this maker's key",
                who,
            )
        return Step(
            "seal.maker_signature",
            "signature",
            StepStatus.VALID,
            f"signed by the seal maker {maker.common_name or maker.subject}",
            who,
        )

    steps.append(_guard("seal.maker_signature", "signature", maker_signature))

    def maker_certificate() -> Step:
        return _certificate_step(
            "seal.maker_certificate", "maker", maker_holder, t, now, at_signing
        )

    steps.append(_guard("seal.maker_certificate", "validity", maker_certificate))
    steps.append(
        _guard(
            "seal.maker_path",
            "trust",
            lambda: _path_step(
                "seal.maker_path", maker_holder[0] if maker_holder else None, anchors, t, lenient_ca
            ),
        )
    )

    def validity() -> Step:
        p = seal.property
        if p.valid_until < p.valid_from:
            return Step(
                "seal.validity",
                "validity",
                StepStatus.INVALID,
                "the seal's validity ends before it starts",
            )
        status, reason, data = _validity_reason(
            f"the seal '{p.name}'", p.valid_from, p.valid_until, t, now, at_signing
        )
        return Step("seal.validity", "validity", status, reason, data)

    steps.append(_guard("seal.validity", "validity", validity))
    return steps


def _path_step(
    name: str,
    cert: X509Certificate | None,
    anchors: Sequence[X509Certificate],
    t: datetime,
    lenient: bool,
) -> Step:
    if cert is None:
        return Step(name, "trust", StepStatus.SKIPPED, "no readable certificate to check")
    if not anchors:
        return Step(name, "trust", StepStatus.SKIPPED, "no trust anchor configured")
    result = validate_path(cert, anchors=anchors, at=t, lenient_ca=lenient)
    data: dict[str, Any] = {
        "chain": [c.subject for c in result.chain],
        "lenient": lenient,
    }
    if result.notes:
        data["notes"] = list(result.notes)
    if result.ok:
        return Step(name, "trust", StepStatus.VALID, result.reason, data)
    data["problems"] = list(result.problems)
    return Step(name, "trust", StepStatus.INVALID, result.reason, data)


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
            return VerificationReport(
                "seal",
                (
                    Step(
                        "seal.structure",
                        "format",
                        StepStatus.INVALID,
                        str(exc),
                        {"error": exc.code},
                    ),
                ),
            )
    now = datetime.now(UTC)
    t = _utc(at) if at is not None else now
    steps = [
        Step(
            "seal.structure",
            "format",
            StepStatus.VALID,
            f"a readable {seal.layout} seal '{seal.property.name}' (code {seal.es_id})",
            {"layout": seal.layout},
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

    ``at``: the time to judge validity at (default: the signing time; see the module
    docstring). ``now``: the present, used only to say whether things have expired since
    (default: the clock).
    """
    if not isinstance(signature, SealSignature):
        try:
            signature = parse_signature(signature)
        except SealError as exc:
            return VerificationReport(
                "signature",
                (
                    Step(
                        "signature.structure",
                        "format",
                        StepStatus.INVALID,
                        str(exc),
                        {"error": exc.code},
                    ),
                ),
            )
    sig = signature
    present = _utc(now) if now is not None else datetime.now(UTC)
    at_signing = at is None and sig.signing_time is not None
    t = _utc(at) if at is not None else (sig.signing_time or present)
    steps: list[Step] = [
        Step(
            "signature.structure",
            "format",
            StepStatus.VALID,
            f"a readable {sig.layout} seal signature"
            + (
                f" made {_ts(sig.signing_time)}"
                if sig.signing_time
                else " (signing time unreadable)"
            )
            + f" over {sig.property_info!r}",
            {"layout": sig.layout, "property_info": sig.property_info},
        )
    ]
    if sig.layout == "v4":
        steps.append(
            Step("signature.version", "format", StepStatus.VALID, "GB/T 38540-2020 (v4) signature")
        )
    else:
        steps.append(
            Step(
                "signature.version",
                "format",
                StepStatus.SKIPPED,
                f"{sig.layout} signature: checked like v4; rules specific to this version are "
                "not supported",
                {"layout": sig.layout},
            )
        )
    steps.append(
        Step(
            "seal.structure",
            "format",
            StepStatus.VALID,
            f"embeds the {sig.seal.layout} seal '{sig.seal.property.name}' (code {sig.seal.es_id})",
        )
    )
    steps += _seal_steps(
        sig.seal, t=t, now=present, at_signing=at_signing, anchors=anchors, lenient_ca=lenient_ca
    )

    signer_holder: list[X509Certificate] = []

    def value() -> Step:
        try:
            cert = X509Certificate.from_der(sig.signer_certificate)
        except SealError as exc:
            return Step(
                "signature.value",
                "signature",
                StepStatus.INVALID,
                f"the signer's certificate cannot be read: {exc}",
                {"error": exc.code},
            )
        signer_holder.append(cert)
        who = {"signer": cert.subject}
        try:
            cert.public_key().verify(sig.tbs_der, sig.signature)
        except Sm2BadSignature:
            return Step(
                "signature.value",
                "signature",
                StepStatus.INVALID,
                "the signature does not match: the signed content was altered or the "
                "signature was not made with the signer's key",
                who,
            )
        return Step(
            "signature.value",
            "signature",
            StepStatus.VALID,
            f"intact; signed by {cert.common_name or cert.subject}",
            who,
        )

    steps.append(_guard("signature.value", "signature", value))

    def in_seal() -> Step:
        if not signer_holder:
            return Step(
                "signature.signer_in_seal",
                "integrity",
                StepStatus.SKIPPED,
                "no readable signer certificate",
            )
        how = "certificate" if sig.seal.property.cert_list_type == 1 else "certificate digest"
        if _cert_in_seal(sig.seal, signer_holder[0]):
            return Step(
                "signature.signer_in_seal",
                "integrity",
                StepStatus.VALID,
                f"the signer's {how} is listed in the seal",
            )
        return Step(
            "signature.signer_in_seal",
            "integrity",
            StepStatus.INVALID,
            "the signer's certificate is not among the seal's authorised certificates",
        )

    steps.append(_guard("signature.signer_in_seal", "integrity", in_seal))

    def signer_certificate() -> Step:
        step = _certificate_step(
            "signature.signer_certificate", "signer", signer_holder, t, present, at_signing
        )
        if step.status is StepStatus.VALID and at_signing:
            # A time-stamp, if any, is not checked yet: the time stays the signer's claim.
            why = "no time-stamp" if sig.timestamp is None else "its time-stamp is not checked"
            reason = step.reason + f"; the signing time is the signer's own claim ({why})"
            return Step(step.name, step.type, step.status, reason, step.data)
        return step

    steps.append(_guard("signature.signer_certificate", "validity", signer_certificate))
    steps.append(
        _guard(
            "signature.signer_path",
            "trust",
            lambda: _path_step(
                "signature.signer_path",
                signer_holder[0] if signer_holder else None,
                anchors,
                t,
                lenient_ca,
            ),
        )
    )

    def data_hash() -> Step:
        if data is None:
            return Step(
                "signature.data_hash",
                "integrity",
                StepStatus.SKIPPED,
                f"the signed data ({sig.property_info}) was not given",
                {"data_hash": sig.data_hash.hex()},
            )
        actual = sm2.sm3(data)
        d = {"data_hash": sig.data_hash.hex(), "sm3": actual.hex()}
        if actual == sig.data_hash:
            return Step(
                "signature.data_hash",
                "integrity",
                StepStatus.VALID,
                "the data is exactly what was sealed (SM3 matches)",
                d,
            )
        return Step(
            "signature.data_hash",
            "integrity",
            StepStatus.INVALID,
            "the data differs from what was sealed (SM3 does not match)",
            d,
        )

    steps.append(_guard("signature.data_hash", "integrity", data_hash))
    if sig.timestamp is not None:
        steps.append(
            Step(
                "signature.timestamp",
                "validity",
                StepStatus.SKIPPED,
                "the signature carries a time-stamp; time-stamps are not checked yet",
                {"bytes": len(sig.timestamp)},
            )
        )
    subject: dict[str, Any] = {
        "type": "signature",
        "layout": sig.layout,
        "signing_time": sig.signing_time.isoformat() if sig.signing_time else None,
        "property_info": sig.property_info,
        "judged_at": t.isoformat(),
        "seal": _seal_subject(sig.seal),
    }
    if signer_holder:
        subject["signer"] = signer_holder[0].subject
    return VerificationReport("signature", tuple(steps), subject)
