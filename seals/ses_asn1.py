"""The ASN.1 classes of GB/T 38540 and GM/T 0031 seals and seal signatures (v1 and v4 layouts),
as asn1crypto specs. Structure only: ``seals.ses`` reads them, ``seals.ses_encode`` writes them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto import core


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
