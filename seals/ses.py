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

Decisions on points GB/T 38540 leaves open (docs/standards/seals.md §4): ``[0]`` tags are
written explicit (and read explicit); ``dataHash`` is plain SM3 of the protected bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from asn1crypto import core

from seals import der
from seals.errors import SealError, SesFormatError
from seals.sm2 import OID_SM2_SIGN, OID_SM2_WITH_SM3

MAX_SES_BYTES = 4 * 1024 * 1024
"""Largest seal or seal signature accepted (bytes)."""
MAX_PICTURE_BYTES = 1024 * 1024
"""Largest seal picture accepted (bytes)."""
SIGNATURE_ALGORITHMS = {OID_SM2_WITH_SM3: "SM2-with-SM3", OID_SM2_SIGN: "SM2"}
"""Algorithm OIDs accepted in ``signAlgID``/``signatureAlgID`` (both mean SM2 over SM3)."""
PICTURE_TYPES = ("PNG", "JPG", "GIF", "BMP", "SVG", "OFD")

Layout = Literal["v1", "v4", "v5"]


# ----------------------------------------------------------------------- ASN.1 classes


class SesHeader(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("id", core.IA5String),
        ("version", core.Integer),
        ("vid", core.IA5String),
    ]


class ExtDataAsn1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    _child_spec = ExtDataAsn1


class CertInfoList(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.OctetString


class CertDigestObjAsn1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):  # type: ignore[misc]
    _child_spec = CertDigestObjAsn1


class PictureInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class PropertyInfoV4(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.Any),
        ("valid_start", core.Any),
        ("valid_end", core.Any),
    ]


class SealInfoV4(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("header", SesHeader),
        ("es_id", core.IA5String),
        ("property", PropertyInfoV4),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESealV4(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("seal_info", core.Any),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TbsSignV4(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("eseal", core.Any),
        ("time_info", core.Any),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SesSignatureV4(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("to_sign", core.Any),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


class PropertyInfoV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", CertInfoList),
        ("create_date", core.Any),
        ("valid_start", core.Any),
        ("valid_end", core.Any),
    ]


class SealInfoV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("header", SesHeader),
        ("es_id", core.IA5String),
        ("property", PropertyInfoV1),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SignInfoV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESealV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("seal_info", core.Any), ("sign_info", SignInfoV1)]


class TbsSignV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("eseal", core.Any),
        ("time_info", core.Any),
        ("data_hash", core.Any),
        ("property_info", core.IA5String),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


class SesSignatureV1(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [("to_sign", core.Any), ("signature", core.OctetBitString)]


class _AnySequence(core.SequenceOf):  # type: ignore[misc]
    _child_spec = core.Any


# ------------------------------------------------------------------------ domain objects


@dataclass(frozen=True)
class ExtData:
    """One ``ExtData`` entry."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class CertDigest:
    """One ``CertDigestObj``: a digest of a signer certificate (certListType 2)."""

    type: str
    """The digest algorithm as written (e.g. ``SM3``)."""
    value: bytes


@dataclass(frozen=True)
class SealPicture:
    """``SES_ESPictureInfo``."""

    type: str
    """``PNG``, ``JPG``, ``GIF``, ``BMP``, ``SVG``."""
    data: bytes = field(repr=False)
    width_mm: int
    height_mm: int


@dataclass(frozen=True)
class SealProperty:
    """``SES_ESPropertyInfo``."""

    type: int
    """Seal type code, as the issuing system defines it."""
    name: str
    cert_list_type: int
    """1: ``certificates`` holds DER signer certificates; 2: ``digests`` holds digests."""
    certificates: tuple[bytes, ...] = field(repr=False)
    digests: tuple[CertDigest, ...]
    created: datetime
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class Seal:
    """A parsed electronic seal (``SESeal``)."""

    layout: Layout
    header_id: str
    version: int
    """``SES_Header.version``."""
    vendor_id: str
    es_id: str
    """The seal code (``esID``)."""
    property: SealProperty
    picture: SealPicture
    ext_datas: tuple[ExtData, ...]
    maker_certificate: bytes = field(repr=False)
    """DER of the seal maker's (制章者) certificate."""
    signature_algorithm: str
    signature: bytes = field(repr=False)
    """The maker's SM2 signature, DER ``SEQUENCE{r, s}``."""
    seal_info_der: bytes = field(repr=False)
    """The original bytes of ``SES_SealInfo``."""
    maker_signed_der: bytes = field(repr=False)
    """What the maker signed: ``SES_SealInfo`` as read (v4, v5); for v1 (GM/T 0031-2014)
    ``SEQUENCE { esealInfo, cert, signatureAlgorithm }`` of the original element bytes."""
    der: bytes = field(repr=False)
    """The original bytes of the whole ``SESeal``."""


@dataclass(frozen=True)
class SealSignature:
    """A parsed seal signature (``SES_Signature``)."""

    layout: Layout
    version: int
    """``TBS_Sign.version``."""
    seal: Seal
    signing_time: datetime | None
    """``timeInfo`` (None when a v1 timeInfo cannot be read as a time)."""
    time_info: bytes = field(repr=False)
    """The raw ``timeInfo`` contents."""
    data_hash: bytes
    property_info: str
    ext_datas: tuple[ExtData, ...]
    signer_certificate: bytes = field(repr=False)
    signature_algorithm: str
    signature: bytes = field(repr=False)
    timestamp: bytes | None = field(repr=False)
    tbs_der: bytes = field(repr=False)
    """The original bytes of ``TBS_Sign``: what the signer signed."""
    der: bytes = field(repr=False)


# ------------------------------------------------------------------------------ parsing


def _fail(
    where: str, exc: BaseException | None = None, *, code: str = "ses_bad_der"
) -> SesFormatError:
    """The format error for what ``exc`` found wrong at ``where``. Running out of memory
    says nothing about the input: :class:`MemoryError` is raised again, never reported as a
    malformed (so invalid) structure."""
    if isinstance(exc, MemoryError):
        raise exc
    detail = ""
    if exc is not None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "nsufficient data" in text or "truncated" in text.lower():
            code = "ses_truncated"
        detail = f" ({text[:160]})"
    if code == "ses_truncated":
        return SesFormatError(f"{where}: truncated{detail}", code=code)
    return SesFormatError(f"{where}: not valid DER{detail}", code=code)


def _get(obj: Any, name: str | int, where: str) -> Any:
    try:
        return obj[name]
    except SealError:
        raise
    except Exception as exc:
        raise _fail(f"{where}.{name}", exc) from exc


def _native(obj: Any, where: str) -> Any:
    try:
        return obj.native
    except Exception as exc:
        raise _fail(where, exc) from exc


def _force(value: Any) -> None:
    """Decode every typed part of ``value`` now (asn1crypto parses lazily), so a damaged
    part is named here. An untyped part (``core.Any``) is only delimited: the code that reads
    it loads it with its own type later. Rendering it generically (``.native``) would refuse
    every context-tagged element inside, such as ``TBS_Sign.extDatas [0]``."""
    if isinstance(value, core.Any):
        first = value._header[0]  # identifier octet (an unparsed Any has no .method yet)
        if first & 0xE0 == 0:  # a universal primitive: it must be a type asn1crypto knows
            value.dump()
        else:
            value.contents  # noqa: B018
    elif isinstance(value, core.SequenceOf):
        for child in value:
            _force(child)
    elif isinstance(value, core.Sequence):
        for index in range(len(value)):
            _force(value[index])
    else:
        value.native  # noqa: B018


def _load(cls: type[core.Asn1Value], data: bytes, where: str) -> Any:
    try:
        value = cls.load(data, strict=True)
        _force(value)
    except Exception as exc:
        raise _fail(where, exc) from exc
    return value


def _str(obj: Any, where: str) -> str:
    value = _native(obj, where)
    if not isinstance(value, str):
        raise SesFormatError(f"{where}: expected text", code="ses_bad_field")
    return value


def _int(obj: Any, where: str, *, lo: int = -(2**31), hi: int = 2**31) -> int:
    value = _native(obj, where)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise SesFormatError(f"{where}: integer out of range", code="ses_bad_field")
    return value


def _bits(obj: Any, where: str) -> bytes:
    contents = bytes(obj.contents or b"")
    if not contents or contents[0] != 0:
        raise SesFormatError(f"{where}: BIT STRING with unused bits", code="ses_bad_field")
    return contents[1:]


def _time(obj: Any, where: str) -> datetime:
    """GeneralizedTime or UTCTime (tolerant: v1 writes UTCTime, v4 GeneralizedTime)."""
    tag, raw, _contents = _any_parts(obj, where)
    cls: type[core.Asn1Value]
    if tag == 24:
        cls = core.GeneralizedTime
    elif tag == 23:
        cls = core.UTCTime
    else:
        raise SesFormatError(
            f"{where}: expected a GeneralizedTime or UTCTime", code="ses_bad_field"
        )
    value = _native(_load(cls, raw, where), where)
    if not isinstance(value, datetime):
        raise SesFormatError(f"{where}: not a time", code="ses_bad_field")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _any_parts(obj: Any, where: str) -> tuple[int, bytes, bytes]:
    """``(universal tag number, full encoding, contents)`` of an ``Any`` value."""
    try:
        raw = bytes(obj.dump())
        generic = core.load(raw, strict=True)
        return int(generic.tag), raw, bytes(generic.contents or b"")
    except Exception as exc:
        raise _fail(where, exc) from exc


def _text_time(raw: bytes) -> datetime | None:
    """A v1 ``timeInfo``: time text (``YYMMDDhhmmssZ`` or ``YYYYMMDDhhmmssZ``) or DER time."""
    for candidate in (raw,):
        if candidate[:1] in (b"\x17", b"\x18"):
            try:
                return _time(core.Any.load(candidate, strict=True), "timeInfo")
            except SealError:
                return None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    for fmt in ("%Y%m%d%H%M%SZ", "%y%m%d%H%M%SZ", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _oid(obj: Any, where: str) -> str:
    try:
        dotted = str(obj.dotted)
    except Exception as exc:
        raise _fail(where, exc) from exc
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
    top: _AnySequence = _load(_AnySequence, bytes(data), what)
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
                oid=str(_get(ext, "extn_id", w).dotted),
                critical=bool(_native(_get(ext, "critical", w), w + ".critical")),
                value=bytes(_native(_get(ext, "extn_value", w), w + ".extnValue")),
            )
        )
    return tuple(out)


def _picture(pic: Any, where: str) -> SealPicture:
    kind = _str(_get(pic, "type", where), where + ".type").upper()
    data = _native(_get(pic, "data", where), where + ".data")
    if not isinstance(data, bytes):
        raise SesFormatError(f"{where}.data: expected an OCTET STRING", code="ses_bad_field")
    if len(data) > MAX_PICTURE_BYTES:
        raise SesFormatError(
            f"{where}.data: picture of {len(data)} bytes exceeds the "
            f"{MAX_PICTURE_BYTES}-byte limit",
            code="seal_picture_too_large",
        )
    width = _int(_get(pic, "width", where), where + ".width", lo=0, hi=10_000)
    height = _int(_get(pic, "height", where), where + ".height", lo=0, hi=10_000)
    return SealPicture(type=kind, data=data, width_mm=width, height_mm=height)


def _cert_list(
    prop: Any, list_type: int, where: str
) -> tuple[tuple[bytes, ...], tuple[CertDigest, ...]]:
    raw = _get(prop, "cert_list", where)
    try:
        raw_der = raw.dump()
    except Exception as exc:
        raise _fail(where + ".certList", exc) from exc
    if list_type == 1:
        certs = _load(CertInfoList, raw_der, where + ".certList")
        return tuple(bytes(c.native) for c in certs), ()
    if list_type == 2:
        digests = _load(CertDigestList, raw_der, where + ".certList")
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
    info = _load(SealInfoV1 if layout == "v1" else SealInfoV4, raw, where)
    header = _get(info, "header", where)
    header_id = _str(_get(header, "id", where + ".header"), where + ".header.ID")
    version = _int(_get(header, "version", where + ".header"), where + ".header.version")
    vid = _str(_get(header, "vid", where + ".header"), where + ".header.Vid")
    if header_id != "ES":
        raise SesFormatError(
            f"{where}.header.ID is {header_id!r}, expected 'ES'", code="ses_bad_field"
        )
    es_id = _str(_get(info, "es_id", where), where + ".esID")
    prop = _get(info, "property", where)
    pw = where + ".property"
    ptype = _int(_get(prop, "type", pw), pw + ".type")
    name = _str(_get(prop, "name", pw), pw + ".name")
    if layout == "v1":
        list_type = 1
        certs: tuple[bytes, ...] = tuple(bytes(c.native) for c in _get(prop, "cert_list", pw))
        digests: tuple[CertDigest, ...] = ()
    else:
        list_type = _int(_get(prop, "cert_list_type", pw), pw + ".certListType")
        certs, digests = _cert_list(prop, list_type, pw)
    prop_obj = SealProperty(
        type=ptype,
        name=name,
        cert_list_type=list_type,
        certificates=certs,
        digests=digests,
        created=_time(_get(prop, "create_date", pw), pw + ".createDate"),
        valid_from=_time(_get(prop, "valid_start", pw), pw + ".validStart"),
        valid_until=_time(_get(prop, "valid_end", pw), pw + ".validEnd"),
    )
    picture = _picture(_get(info, "picture", where), where + ".picture")
    ext = _ext_datas(_get(info, "ext_datas", where), where + ".extDatas")
    return info, header_id, version, vid, es_id, prop_obj, picture, ext


_SEAL_VERSIONS: dict[Layout, tuple[int, ...]] = {"v1": (1, 2, 3), "v4": (4,), "v5": (5,)}


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
    seal_info_der = _get(top, 0, "SESeal").dump()
    if layout == "v1":
        outer = _load(SESealV1, bytes(data), "SESeal")
        sign_info = _get(outer, "sign_info", "SESeal")
        cert = _native(_get(sign_info, "cert", "SESeal.signInfo"), "SESeal.signInfo.cert")
        alg = _oid(
            _get(sign_info, "signature_algorithm", "SESeal.signInfo"),
            "SESeal.signInfo.signatureAlgorithm",
        )
        sig = _bits(_get(sign_info, "sign_data", "SESeal.signInfo"), "SESeal.signInfo.signData")
        signed = _der_sequence(
            seal_info_der
            + _get(sign_info, "cert", "SESeal.signInfo").dump()
            + _get(sign_info, "signature_algorithm", "SESeal.signInfo").dump()
        )
    else:
        outer = _load(SESealV4, bytes(data), "SESeal")
        cert = _native(_get(outer, "cert", "SESeal"), "SESeal.cert")
        alg = _oid(_get(outer, "sign_alg_id", "SESeal"), "SESeal.signAlgID")
        sig = _bits(_get(outer, "signed_value", "SESeal"), "SESeal.signedValue")
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
    tbs_der = _get(top, 0, "SES_Signature").dump()
    if count == 2:
        outer = _load(SesSignatureV1, bytes(data), "SES_Signature")
        tbs = _load(TbsSignV1, tbs_der, "TBS_Sign")
        version = _int(_get(tbs, "version", "TBS_Sign"), "TBS_Sign.version")
        seal = parse_seal(_get(tbs, "eseal", "TBS_Sign").dump())
        time_tag, _r, time_raw = _any_parts(_get(tbs, "time_info", "TBS_Sign"), "TBS_Sign.timeInfo")
        if time_tag == 3:  # BIT STRING: drop the unused-bits byte
            time_raw = time_raw[1:]
        hash_tag, _r, data_hash = _any_parts(
            _get(tbs, "data_hash", "TBS_Sign"), "TBS_Sign.dataHash"
        )
        if hash_tag == 3:
            data_hash = data_hash[1:]
        return SealSignature(
            layout="v1",
            version=version,
            seal=seal,
            signing_time=_text_time(time_raw),
            time_info=time_raw,
            data_hash=data_hash,
            property_info=_str(_get(tbs, "property_info", "TBS_Sign"), "TBS_Sign.propertyInfo"),
            ext_datas=(),
            signer_certificate=bytes(_native(_get(tbs, "cert", "TBS_Sign"), "TBS_Sign.cert")),
            signature_algorithm=_oid(
                _get(tbs, "signature_algorithm", "TBS_Sign"), "TBS_Sign.signatureAlgorithm"
            ),
            signature=_bits(_get(outer, "signature", "SES_Signature"), "SES_Signature.signature"),
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
    outer = _load(SesSignatureV4, bytes(data), "SES_Signature")
    tbs = _load(TbsSignV4, tbs_der, "TBS_Sign")
    version = _int(_get(tbs, "version", "TBS_Sign"), "TBS_Sign.version")
    if version not in (4, 5):
        raise SesFormatError(
            f"TBS_Sign.version is {version}: expected 4 (GB/T 38540) or 5",
            code="ses_unknown_version",
        )
    seal = parse_seal(_get(tbs, "eseal", "TBS_Sign").dump())
    ts = _get(outer, "time_stamp", "SES_Signature")
    timestamp = (
        None
        if isinstance(ts, core.Void) or ts.native is None
        else _bits(ts, "SES_Signature.timeStamp")
    )
    time_any = _get(tbs, "time_info", "TBS_Sign")
    _tag, _raw, time_contents = _any_parts(time_any, "TBS_Sign.timeInfo")
    return SealSignature(
        layout="v5" if version == 5 else "v4",
        version=version,
        seal=seal,
        signing_time=_time(time_any, "TBS_Sign.timeInfo"),
        time_info=time_contents,
        data_hash=_bits(_get(tbs, "data_hash", "TBS_Sign"), "TBS_Sign.dataHash"),
        property_info=_str(_get(tbs, "property_info", "TBS_Sign"), "TBS_Sign.propertyInfo"),
        ext_datas=_ext_datas(_get(tbs, "ext_datas", "TBS_Sign"), "TBS_Sign.extDatas"),
        signer_certificate=bytes(
            _native(_get(outer, "cert", "SES_Signature"), "SES_Signature.cert")
        ),
        signature_algorithm=_oid(
            _get(outer, "signature_alg_id", "SES_Signature"), "SES_Signature.signatureAlgID"
        ),
        signature=_bits(_get(outer, "signature", "SES_Signature"), "SES_Signature.signature"),
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
    first = _get(top, 0, "SES structure")
    try:
        inner = _AnySequence.load(first.dump(), strict=True)
        tag = _any_parts(inner[0], "SES structure")[0] if len(inner) else None
    except SealError:
        raise
    except Exception as exc:
        raise _fail("SES structure: first element", exc) from exc
    if tag == 16:
        return "seal"
    if tag == 2:
        return "signature"
    raise SesFormatError(
        "SES structure: neither a seal (SES_SealInfo) nor a signature (TBS_Sign)",
        code="ses_unknown_version",
    )


# ----------------------------------------------------------------------------- encoding


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
