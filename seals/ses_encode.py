"""Writing GB/T 38540 v4 seals and seal signatures (DER) for :mod:`seals.seal`: the structures
around the exact bytes that were signed, and the :class:`~seals.ses_model.SealSignature` of a
signature just made.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import core

from seals.errors import SesFormatError
from seals.ses_asn1 import (
    CertDigestList,
    CertInfoList,
    SealInfoV4,
    SESealV4,
    SesSignatureV4,
    TbsSignV4,
)
from seals.ses_model import CertDigest, ExtData, Seal, SealPicture, SealSignature
from seals.sm2 import OID_SM2_WITH_SM3


def _gtime(t: datetime) -> core.GeneralizedTime:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return core.GeneralizedTime(t.replace(microsecond=0))


def encode_seal_info(
    *,
    vendor_id: str,
    es_id: str,
    seal_type: int,
    name: str,
    certificates: Sequence[bytes] = (),
    digests: Sequence[CertDigest] = (),
    created: datetime,
    valid_from: datetime,
    valid_until: datetime,
    picture: SealPicture,
    ext_datas: Sequence[ExtData] = (),
    version: int = 4,
) -> bytes:
    """DER ``SES_SealInfo`` (v4 layout)."""
    if certificates and digests:
        raise SesFormatError("a seal lists certificates or digests, not both", code="ses_bad_field")
    if digests:
        list_type, cert_list = (
            2,
            CertDigestList([{"type": d.type, "value": d.value} for d in digests]),
        )
    else:
        list_type, cert_list = 1, CertInfoList(list(certificates))
    info = SealInfoV4(
        {
            "header": {"id": "ES", "version": version, "vid": vendor_id},
            "es_id": es_id,
            "property": {
                "type": seal_type,
                "name": name,
                "cert_list_type": list_type,
                "cert_list": cert_list,
                "create_date": _gtime(created),
                "valid_start": _gtime(valid_from),
                "valid_end": _gtime(valid_until),
            },
            "picture": {
                "type": picture.type,
                "data": picture.data,
                "width": picture.width_mm,
                "height": picture.height_mm,
            },
        }
    )
    if ext_datas:
        info["ext_datas"] = [
            {"extn_id": e.oid, "critical": e.critical, "extn_value": e.value} for e in ext_datas
        ]
    return bytes(info.dump())


def encode_seal(seal_info_der: bytes, maker_certificate: bytes, signature: bytes) -> bytes:
    """DER ``SESeal`` (v4) around the exact ``seal_info_der`` bytes."""
    seal = SESealV4(
        {
            "seal_info": core.Any.load(seal_info_der),
            "cert": maker_certificate,
            "sign_alg_id": OID_SM2_WITH_SM3,
            "signed_value": signature,
        }
    )
    return bytes(seal.dump())


def encode_tbs_sign(
    *,
    seal_der: bytes,
    signing_time: datetime,
    data_hash: bytes,
    property_info: str,
    ext_datas: Sequence[ExtData] = (),
    version: int = 4,
) -> bytes:
    """DER ``TBS_Sign`` (v4) around the exact ``seal_der`` bytes."""
    tbs = TbsSignV4(
        {
            "version": version,
            "eseal": core.Any.load(seal_der),
            "time_info": _gtime(signing_time),
            "data_hash": data_hash,
            "property_info": property_info,
        }
    )
    if ext_datas:
        tbs["ext_datas"] = [
            {"extn_id": e.oid, "critical": e.critical, "extn_value": e.value} for e in ext_datas
        ]
    return bytes(tbs.dump())


def made_signature(
    *, seal: Seal, tbs_der: bytes, signing_time: datetime, data_hash: bytes,
    property_info: str, signer_certificate: bytes, signature: bytes,
) -> SealSignature:
    """The :class:`SealSignature` that :func:`parse_signature` returns for the v4 signature
    just made from these parts by :func:`encode_tbs_sign` and :func:`encode_signature` —
    without decoding it again (a seal inside a signature costs milliseconds to parse)."""
    return SealSignature(
        layout="v4",
        version=4,
        seal=seal,
        signing_time=signing_time.astimezone(UTC).replace(microsecond=0),
        time_info=bytes(_gtime(signing_time).contents),
        data_hash=data_hash,
        property_info=property_info,
        ext_datas=(),
        signer_certificate=signer_certificate,
        signature_algorithm=OID_SM2_WITH_SM3,
        signature=signature,
        timestamp=None,
        tbs_der=tbs_der,
        der=encode_signature(tbs_der, signer_certificate, signature),
    )


def encode_signature(tbs_der: bytes, signer_certificate: bytes, signature: bytes) -> bytes:
    """DER ``SES_Signature`` (v4, no time-stamp) around the exact ``tbs_der`` bytes."""
    out = SesSignatureV4(
        {
            "to_sign": core.Any.load(tbs_der),
            "cert": signer_certificate,
            "signature_alg_id": OID_SM2_WITH_SM3,
            "signature": signature,
        }
    )
    return bytes(out.dump())
