"""GB/T 38540 electronic seals (``SESeal``) and seal signatures (``SES_Signature``): ASN.1.

Reads three layouts, told apart by the structure (never by a file name):

- **v1** (GM/T 0031-2014): ``SESeal`` has 2 top-level elements (``esealInfo``, ``signInfo``);
  ``SES_Signature`` has 2 (``toSign``, ``signature``), its ``TBS_Sign`` carries the signer
  certificate and algorithm, and ``timeInfo`` is a BIT STRING holding the time as text.
- **v4** (GB/T 38540-2020): ``SESeal`` has 4 elements and header version 4; ``SES_Signature``
  has 4 or 5 (``timeStamp [0]``), ``TBS_Sign`` version 4.
- **v5** (GM/T 0031 revision, as ofdrw writes it): the v4 layout with version 5.

``parse_seal(data) -> Seal`` and ``parse_signature(data) -> SealSignature`` decode everything
eagerly into frozen dataclasses, so a bad field fails at parse time with a
:class:`~seals.errors.SesFormatError` whose ``code`` is one of ``ses_truncated``,
``ses_bad_der``, ``ses_unknown_version``, ``ses_wrong_oid``, ``ses_bad_field``,
``ses_too_large`` or ``seal_picture_too_large`` and whose message names the field. Nothing
else escapes (a fuzz test holds this).

Signed bytes are kept as they were read: ``Seal.seal_info_der`` (what the seal maker signed)
and ``SealSignature.tbs_der`` (what the signer signed) are slices of the input, never
re-encodings. ``encode_*`` build v4 structures for :mod:`seals.seal`.

This module owns the limits and the parsing; the ASN.1 classes are in :mod:`seals.ses_asn1`,
the dataclasses in :mod:`seals.ses_model`, the writing in :mod:`seals.ses_encode` (all
re-exported here).

Decisions on points GB/T 38540 leaves open (docs/standards/seals.md §4): ``[0]`` tags are
written explicit (and read explicit); ``dataHash`` is plain SM3 of the protected bytes.
"""

from __future__ import annotations

from typing import Any, Literal

from asn1crypto import core

from seals import der
from seals.errors import SealError, SesFormatError
from seals.ses_asn1 import (
    CertDigestList,
    CertInfoList,
    SealInfoV1,
    SealInfoV4,
    SESealV1,
    SESealV4,
    SesSignatureV1,
    SesSignatureV4,
    TbsSignV1,
    TbsSignV4,
    _AnySequence,
)
from seals.ses_encode import (
    encode_seal,
    encode_seal_info,
    encode_signature,
    encode_tbs_sign,
    made_signature,
)
from seals.ses_fields import (
    any_parts,
    bits,
    fail,
    get,
    integer,
    load_der,
    native_value,
    text,
    text_time,
    timeval,
)
from seals.ses_model import (
    CertDigest,
    ExtData,
    Layout,
    Seal,
    SealPicture,
    SealProperty,
    SealSignature,
)
from seals.sm2 import OID_SM2_SIGN, OID_SM2_WITH_SM3

__all__ = [
    "MAX_PICTURE_BYTES",
    "MAX_SES_BYTES",
    "PICTURE_TYPES",
    "SIGNATURE_ALGORITHMS",
    "CertDigest",
    "ExtData",
    "Layout",
    "Seal",
    "SealPicture",
    "SealProperty",
    "SealSignature",
    "SesSignatureV4",
    "detect",
    "encode_seal",
    "encode_seal_info",
    "encode_signature",
    "encode_tbs_sign",
    "made_signature",
    "parse_seal",
    "parse_signature",
]

MAX_SES_BYTES = 4 * 1024 * 1024
"""Largest seal or seal signature accepted (bytes)."""
MAX_PICTURE_BYTES = 1024 * 1024
"""Largest seal picture accepted (bytes)."""
SIGNATURE_ALGORITHMS = {OID_SM2_WITH_SM3: "SM2-with-SM3", OID_SM2_SIGN: "SM2"}
"""Algorithm OIDs accepted in ``signAlgID``/``signatureAlgID`` (both mean SM2 over SM3)."""
PICTURE_TYPES = ("PNG", "JPG", "GIF", "BMP", "SVG", "OFD")


# ------------------------------------------------------------------------------ parsing


def _oid(obj: Any, where: str) -> str:
    try:
        dotted = str(obj.dotted)
    except Exception as exc:
        raise fail(where, exc) from exc
    if dotted not in SIGNATURE_ALGORITHMS:
        raise SesFormatError(
            f"{where} is {dotted}, expected {OID_SM2_WITH_SM3} (SM2-with-SM3)", code="ses_wrong_oid"
        )
    return dotted


def _top(data: bytes, what: str) -> _AnySequence:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SesFormatError(f"{what}: expected bytes", code="ses_bad_der")
    if len(data) > MAX_SES_BYTES:
        raise SesFormatError(
            f"{what}: {len(data)} bytes exceeds the {MAX_SES_BYTES}-byte limit",
            code="ses_too_large",
        )
    if not data:
        raise SesFormatError(f"{what}: empty input", code="ses_truncated")
    if data[0] != 0x30:
        raise SesFormatError(f"{what}: not a DER SEQUENCE (first byte {data[0]:#04x})")
    if not der.within(bytes(data)):
        raise SesFormatError(
            f"{what}: more than {der.MAX_ELEMENTS} ASN.1 elements; no seal has that many",
            code="ses_too_large",
        )
    top: _AnySequence = load_der(_AnySequence, bytes(data), what)
    return top


def _der_sequence(body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return b"\x30" + bytes([n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x30" + bytes([0x80 | len(size)]) + size + body


def _ext_datas(value: Any, where: str) -> tuple[ExtData, ...]:
    if value is None or isinstance(value, core.Void):
        return ()
    out = []
    for i, ext in enumerate(value):
        w = f"{where}[{i}]"
        out.append(
            ExtData(
                oid=str(get(ext, "extn_id", w).dotted),
                critical=bool(native_value(get(ext, "critical", w), w + ".critical")),
                value=bytes(native_value(get(ext, "extn_value", w), w + ".extnValue")),
            )
        )
    return tuple(out)


def _picture(pic: Any, where: str) -> SealPicture:
    kind = text(get(pic, "type", where), where + ".type").upper()
    data = native_value(get(pic, "data", where), where + ".data")
    if not isinstance(data, bytes):
        raise SesFormatError(f"{where}.data: expected an OCTET STRING", code="ses_bad_field")
    if len(data) > MAX_PICTURE_BYTES:
        raise SesFormatError(
            f"{where}.data: picture of {len(data)} bytes exceeds the "
            f"{MAX_PICTURE_BYTES}-byte limit",
            code="seal_picture_too_large",
        )
    width = integer(get(pic, "width", where), where + ".width", lo=0, hi=10_000)
    height = integer(get(pic, "height", where), where + ".height", lo=0, hi=10_000)
    return SealPicture(type=kind, data=data, width_mm=width, height_mm=height)


def _cert_list(
    prop: Any, list_type: int, where: str
) -> tuple[tuple[bytes, ...], tuple[CertDigest, ...]]:
    raw = get(prop, "cert_list", where)
    try:
        raw_der = raw.dump()
    except Exception as exc:
        raise fail(where + ".certList", exc) from exc
    if list_type == 1:
        certs = load_der(CertInfoList, raw_der, where + ".certList")
        return tuple(bytes(c.native) for c in certs), ()
    if list_type == 2:
        digests = load_der(CertDigestList, raw_der, where + ".certList")
        return (), tuple(
            CertDigest(type=str(d["type"].native), value=bytes(d["value"].native)) for d in digests
        )
    raise SesFormatError(
        f"{where}.certListType is {list_type}: expected 1 (certificates) or 2 (digests)",
        code="ses_bad_field",
    )


def _seal_info(
    raw: bytes, layout: Layout
) -> tuple[Any, str, int, str, str, SealProperty, SealPicture, tuple[ExtData, ...]]:
    where = "SES_SealInfo"
    info = load_der(SealInfoV1 if layout == "v1" else SealInfoV4, raw, where)
    header = get(info, "header", where)
    header_id = text(get(header, "id", where + ".header"), where + ".header.ID")
    version = integer(get(header, "version", where + ".header"), where + ".header.version")
    vid = text(get(header, "vid", where + ".header"), where + ".header.Vid")
    if header_id != "ES":
        raise SesFormatError(
            f"{where}.header.ID is {header_id!r}, expected 'ES'", code="ses_bad_field"
        )
    es_id = text(get(info, "es_id", where), where + ".esID")
    prop = get(info, "property", where)
    pw = where + ".property"
    ptype = integer(get(prop, "type", pw), pw + ".type")
    name = text(get(prop, "name", pw), pw + ".name")
    if layout == "v1":
        list_type = 1
        certs: tuple[bytes, ...] = tuple(bytes(c.native) for c in get(prop, "cert_list", pw))
        digests: tuple[CertDigest, ...] = ()
    else:
        list_type = integer(get(prop, "cert_list_type", pw), pw + ".certListType")
        certs, digests = _cert_list(prop, list_type, pw)
    prop_obj = SealProperty(
        type=ptype,
        name=name,
        cert_list_type=list_type,
        certificates=certs,
        digests=digests,
        created=timeval(get(prop, "create_date", pw), pw + ".createDate"),
        valid_from=timeval(get(prop, "valid_start", pw), pw + ".validStart"),
        valid_until=timeval(get(prop, "valid_end", pw), pw + ".validEnd"),
    )
    picture = _picture(get(info, "picture", where), where + ".picture")
    ext = _ext_datas(get(info, "ext_datas", where), where + ".extDatas")
    return info, header_id, version, vid, es_id, prop_obj, picture, ext


_SEAL_VERSIONS: dict[Layout, tuple[int, ...]] = {"v1": (1, 2, 3), "v4": (4,), "v5": (5,)}


def _first_der(top: Any, where: str) -> bytes:
    """The DER of the structure's first element (what its maker signed), or the format error
    for an element the ASN.1 library cannot build (e.g. a primitive of the application class
    where a SEQUENCE belongs)."""
    try:
        return bytes(get(top, 0, where).dump())
    except SealError:
        raise
    except Exception as exc:
        raise fail(f"{where}.0", exc) from exc


def parse_seal(data: bytes) -> Seal:
    """Decode an ``SESeal`` (v1, v4 or v5); raises :class:`SesFormatError`."""
    top = _top(data, "SESeal")
    count = len(top)
    if count == 2:
        layout: Layout = "v1"
    elif count == 4:
        layout = "v4"
    else:
        raise SesFormatError(
            f"SESeal: {count} top-level elements; expected 2 (GM/T 0031-2014) or 4 (GB/T 38540)",
            code="ses_unknown_version",
        )
    seal_info_der = _first_der(top, "SESeal")
    if layout == "v1":
        outer = load_der(SESealV1, bytes(data), "SESeal")
        sign_info = get(outer, "sign_info", "SESeal")
        cert = native_value(get(sign_info, "cert", "SESeal.signInfo"), "SESeal.signInfo.cert")
        alg = _oid(
            get(sign_info, "signature_algorithm", "SESeal.signInfo"),
            "SESeal.signInfo.signatureAlgorithm",
        )
        sig = bits(get(sign_info, "sign_data", "SESeal.signInfo"), "SESeal.signInfo.signData")
        signed = _der_sequence(
            seal_info_der
            + get(sign_info, "cert", "SESeal.signInfo").dump()
            + get(sign_info, "signature_algorithm", "SESeal.signInfo").dump()
        )
    else:
        outer = load_der(SESealV4, bytes(data), "SESeal")
        cert = native_value(get(outer, "cert", "SESeal"), "SESeal.cert")
        alg = _oid(get(outer, "sign_alg_id", "SESeal"), "SESeal.signAlgID")
        sig = bits(get(outer, "signed_value", "SESeal"), "SESeal.signedValue")
        signed = seal_info_der
    _info, header_id, version, vid, es_id, prop, picture, ext = _seal_info(seal_info_der, layout)
    if layout == "v4" and version == 5:
        layout = "v5"
    if version not in _SEAL_VERSIONS[layout]:
        raise SesFormatError(
            f"SES_SealInfo.header.version is {version}: not a version this layout carries "
            f"({layout}: {', '.join(map(str, _SEAL_VERSIONS[layout]))})",
            code="ses_unknown_version",
        )
    return Seal(
        layout=layout,
        header_id=header_id,
        version=version,
        vendor_id=vid,
        es_id=es_id,
        property=prop,
        picture=picture,
        ext_datas=ext,
        maker_certificate=bytes(cert),
        signature_algorithm=alg,
        signature=sig,
        seal_info_der=seal_info_der,
        maker_signed_der=signed,
        der=bytes(data),
    )


def parse_signature(data: bytes) -> SealSignature:
    """Decode an ``SES_Signature`` (v1, v4 or v5); raises :class:`SesFormatError`."""
    top = _top(data, "SES_Signature")
    count = len(top)
    tbs_der = _first_der(top, "SES_Signature")
    if count == 2:
        outer = load_der(SesSignatureV1, bytes(data), "SES_Signature")
        tbs = load_der(TbsSignV1, tbs_der, "TBS_Sign")
        version = integer(get(tbs, "version", "TBS_Sign"), "TBS_Sign.version")
        seal = parse_seal(get(tbs, "eseal", "TBS_Sign").dump())
        time_tag, _r, time_raw = any_parts(get(tbs, "time_info", "TBS_Sign"), "TBS_Sign.timeInfo")
        if time_tag == 3:  # BIT STRING: drop the unused-bits byte
            time_raw = time_raw[1:]
        hash_tag, _r, data_hash = any_parts(
            get(tbs, "data_hash", "TBS_Sign"), "TBS_Sign.dataHash"
        )
        if hash_tag == 3:
            data_hash = data_hash[1:]
        return SealSignature(
            layout="v1",
            version=version,
            seal=seal,
            signing_time=text_time(time_raw),
            time_info=time_raw,
            data_hash=data_hash,
            property_info=text(get(tbs, "property_info", "TBS_Sign"), "TBS_Sign.propertyInfo"),
            ext_datas=(),
            signer_certificate=bytes(native_value(get(tbs, "cert", "TBS_Sign"), "TBS_Sign.cert")),
            signature_algorithm=_oid(
                get(tbs, "signature_algorithm", "TBS_Sign"), "TBS_Sign.signatureAlgorithm"
            ),
            signature=bits(get(outer, "signature", "SES_Signature"), "SES_Signature.signature"),
            timestamp=None,
            tbs_der=tbs_der,
            der=bytes(data),
        )
    if count not in (4, 5):
        raise SesFormatError(
            f"SES_Signature: {count} top-level elements; expected 2 (GM/T 0031-2014) "
            "or 4-5 (GB/T 38540)",
            code="ses_unknown_version",
        )
    outer = load_der(SesSignatureV4, bytes(data), "SES_Signature")
    tbs = load_der(TbsSignV4, tbs_der, "TBS_Sign")
    version = integer(get(tbs, "version", "TBS_Sign"), "TBS_Sign.version")
    if version not in (4, 5):
        raise SesFormatError(
            f"TBS_Sign.version is {version}: expected 4 (GB/T 38540) or 5",
            code="ses_unknown_version",
        )
    seal = parse_seal(get(tbs, "eseal", "TBS_Sign").dump())
    ts = get(outer, "time_stamp", "SES_Signature")
    timestamp = (
        None
        if isinstance(ts, core.Void) or ts.native is None
        else bits(ts, "SES_Signature.timeStamp")
    )
    time_any = get(tbs, "time_info", "TBS_Sign")
    _tag, _raw, time_contents = any_parts(time_any, "TBS_Sign.timeInfo")
    return SealSignature(
        layout="v5" if version == 5 else "v4",
        version=version,
        seal=seal,
        signing_time=timeval(time_any, "TBS_Sign.timeInfo"),
        time_info=time_contents,
        data_hash=bits(get(tbs, "data_hash", "TBS_Sign"), "TBS_Sign.dataHash"),
        property_info=text(get(tbs, "property_info", "TBS_Sign"), "TBS_Sign.propertyInfo"),
        ext_datas=_ext_datas(get(tbs, "ext_datas", "TBS_Sign"), "TBS_Sign.extDatas"),
        signer_certificate=bytes(
            native_value(get(outer, "cert", "SES_Signature"), "SES_Signature.cert")
        ),
        signature_algorithm=_oid(
            get(outer, "signature_alg_id", "SES_Signature"), "SES_Signature.signatureAlgID"
        ),
        signature=bits(get(outer, "signature", "SES_Signature"), "SES_Signature.signature"),
        timestamp=timestamp,
        tbs_der=tbs_der,
        der=bytes(data),
    )


def detect(data: bytes) -> Literal["seal", "signature"]:
    """Whether ``data`` is a seal or a seal signature (by the first inner element's tag).

    A seal starts with ``SES_SealInfo`` (whose first element is the header SEQUENCE); a
    signature starts with ``TBS_Sign`` (whose first element is the version INTEGER).
    """
    top = _top(data, "SES structure")
    first = get(top, 0, "SES structure")
    try:
        inner = _AnySequence.load(first.dump(), strict=True)
        tag = any_parts(inner[0], "SES structure")[0] if len(inner) else None
    except SealError:
        raise
    except Exception as exc:
        raise fail("SES structure: first element", exc) from exc
    if tag == 16:
        return "seal"
    if tag == 2:
        return "signature"
    raise SesFormatError(
        "SES structure: neither a seal (SES_SealInfo) nor a signature (TBS_Sign)",
        code="ses_unknown_version",
    )
