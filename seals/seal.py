"""Electronic seals: create a v4 seal, sign with it, and verify seals and seal signatures.

- ``create_seal(spec, maker_certificate, maker) -> Seal``: a GB/T 38540 v4 ``SESeal`` signed
  by the seal maker (any :class:`~seals.sm2.Signer`) over DER(``SES_SealInfo``).
- ``sign_digest(seal, signer, signer_certificate, data_hash, property_info, at=None)`` and
  ``sign_data(...)`` (which hashes with SM3 first) -> ``SealSignature`` (v4 ``SES_Signature``).
- ``verify_seal(seal_or_der, ...)`` and ``verify_signature(signature_or_der, data=..., ...)``
  (in :mod:`seals.seal_verify`, re-exported here) -> :class:`VerificationReport`: an ordered
  tuple of :class:`Step` (the project's :class:`seals.report.Check`: ``name``, ``type``,
  ``status`` VALID/INVALID/ERROR/SKIPPED, a message id and its parameters, ``data``; its
  ``reason`` and ``reason_zh`` render the message). Verification never raises for bad input:
  an unreadable structure is an INVALID ``*.structure`` step, an unexpected failure inside a
  step is an ERROR step.

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

from dataclasses import dataclass
from datetime import UTC, datetime

from seals import sm2
from seals.errors import SealInputError
from seals.report import Check, Status, VerificationReport
from seals.seal_verify import cert_in_seal, utc, verify_seal, verify_signature
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
)
from seals.x509 import X509Certificate

__all__ = [
    "SealSpec",
    "Step",
    "StepStatus",
    "VerificationReport",
    "create_seal",
    "sign_data",
    "sign_digest",
    "verify_seal",
    "verify_signature",
]

Step = Check
"""A verification step: the project's one check result (:class:`seals.report.Check`)."""
StepStatus = Status


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


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
    if utc(spec.valid_until) <= utc(spec.valid_from):
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
    if not cert_in_seal(seal, signer_certificate):
        raise SealInputError(
            "the signer's certificate is not in the seal's certificate list",
            code="seal_signer_not_listed",
        )
    t = utc(at or datetime.now(UTC)).replace(microsecond=0)
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
