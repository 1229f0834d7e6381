"""GB/T 38540 structures: the ofdrw fixtures parse with their known facts and re-encode exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from seals_testlib import OFDRW

from seals import ses
from seals.errors import SesFormatError


def read(name: str) -> bytes:
    return (OFDRW / name).read_bytes()


def test_user_v4_facts() -> None:
    seal = ses.parse_seal(read("UserV4.esl"))
    assert seal.layout == "v4"
    assert (seal.header_id, seal.version, seal.vendor_id) == ("ES", 4, "OFDR&WTest")
    assert seal.property.name == "OFD R&W 测试用印章"
    assert seal.property.cert_list_type == 1
    assert len(seal.property.certificates) == 1
    assert seal.property.valid_from == datetime(2020, 4, 22, 2, 9, tzinfo=UTC)
    assert seal.property.valid_until == datetime(2022, 4, 22, 2, 9, tzinfo=UTC)
    assert seal.picture.type == "PNG"
    assert (seal.picture.width_mm, seal.picture.height_mm) == (40, 40)
    assert seal.picture.data.startswith(b"\x89PNG")
    assert seal.signature_algorithm == "1.2.156.10197.1.501"
    assert ses.detect(read("UserV4.esl")) == "seal"


def test_v1_and_v5_detected_from_structure() -> None:
    v1 = ses.parse_seal(read("UserV1.esl"))
    assert v1.layout == "v1" and v1.version == 1
    assert v1.property.valid_until == datetime(2022, 4, 22, 2, 18, 7, tzinfo=UTC)
    v5 = ses.parse_seal(read("UserV5.esl"))
    assert v5.layout == "v5" and v5.version == 5


def test_signed_value_v4_facts() -> None:
    sig = ses.parse_signature(read("SignedValueV4.dat"))
    assert sig.layout == "v4" and sig.version == 4
    assert sig.signing_time == datetime(2020, 10, 12, 11, 14, 3, tzinfo=UTC)
    assert sig.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert sig.seal.der == read("UserV4.esl")
    assert sig.signer_certificate in sig.seal.property.certificates
    assert sig.timestamp is None
    assert ses.detect(read("SignedValueV4.dat")) == "signature"
    assert ses.parse_signature(read("SignedValueV5.dat")).layout == "v5"


def test_seal_re_encodes_byte_for_byte() -> None:
    raw = read("UserV4.esl")
    seal = ses.parse_seal(raw)
    assert raw.find(seal.seal_info_der) == 4  # a slice of the input, not a re-encoding
    p = seal.property
    info = ses.encode_seal_info(
        vendor_id=seal.vendor_id,
        es_id=seal.es_id,
        seal_type=p.type,
        name=p.name,
        certificates=p.certificates,
        created=p.created,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        picture=seal.picture,
    )
    assert info == seal.seal_info_der
    assert ses.encode_seal(info, seal.maker_certificate, seal.signature) == raw


def test_signature_re_encodes_byte_for_byte() -> None:
    raw = read("SignedValueV4.dat")
    sig = ses.parse_signature(raw)
    assert sig.signing_time is not None
    tbs = ses.encode_tbs_sign(
        seal_der=sig.seal.der,
        signing_time=sig.signing_time,
        data_hash=sig.data_hash,
        property_info=sig.property_info,
    )
    assert tbs == sig.tbs_der
    assert ses.encode_signature(tbs, sig.signer_certificate, sig.signature) == raw


def _mutate_last(raw: bytes, old: bytes, new: bytes) -> bytes:
    at = raw.rfind(old)
    return raw[:at] + new + raw[at + len(old) :]


def _mutate(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert raw.count(old) >= 1
    return raw.replace(old, new, 1)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda r: r[:100], "ses_truncated"),
        (lambda r: r[:-1], "ses_truncated"),
        (lambda r: b"", "ses_truncated"),
        (lambda r: b"\x04\x03abc", "ses_bad_der"),
        (lambda r: r + b"\x00", "ses_bad_der"),
        # signAlgID SM2-with-SM3 -> 1.2.156.10197.1.502
        (
            lambda r: _mutate_last(
                r, bytes.fromhex("2a811ccf55018375"), bytes.fromhex("2a811ccf55018376")
            ),
            "ses_wrong_oid",
        ),
        # header version 4 -> 9
        (
            lambda r: _mutate(r, b"\x16\x02ES\x02\x01\x04", b"\x16\x02ES\x02\x01\x09"),
            "ses_unknown_version",
        ),
        # header ID ES -> EX
        (lambda r: _mutate(r, b"\x16\x02ES", b"\x16\x02EX"), "ses_bad_field"),
        # three top-level elements
        (lambda r: b"\x30\x03\x02\x01\x00", "ses_unknown_version"),
    ],
)
def test_bad_seals_named(make: object, code: str) -> None:
    assert callable(make)
    with pytest.raises(SesFormatError) as info:
        ses.parse_seal(make(read("UserV4.esl")))
    assert info.value.code == code, str(info.value)
    assert str(info.value)


def test_oversized_input_and_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SesFormatError) as info:
        ses.parse_seal(b"\x30" + b"\x00" * (ses.MAX_SES_BYTES + 1))
    assert info.value.code == "ses_too_large"
    monkeypatch.setattr(ses, "MAX_PICTURE_BYTES", 1000)
    with pytest.raises(SesFormatError) as info:
        ses.parse_seal(read("UserV4.esl"))
    assert info.value.code == "seal_picture_too_large"
    assert "picture" in str(info.value)


def test_unknown_signature_version() -> None:
    raw = read("SignedValueV4.dat")
    bad = raw[:8] + b"\x02\x01\x07" + raw[11:]
    with pytest.raises(SesFormatError) as info:
        ses.parse_signature(bad)
    assert info.value.code == "ses_unknown_version"
    assert "TBS_Sign.version" in str(info.value)


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    head = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big"
    )
    return bytes([tag]) + head + body


def test_a_structure_of_a_million_elements_is_refused_at_once() -> None:
    """4 MB of tiny INTEGERs took the ASN.1 library 20 s and 670 MB to decode (review of
    issue #14); they are counted by their headers and refused in milliseconds."""
    import time

    from seals import der
    from seals.errors import CertificateError
    from seals.x509 import X509Certificate

    hostile = _tlv(0x30, _tlv(0x30, b"\x02\x01\x00" * 1_300_000) + _tlv(0x30, b""))
    assert len(hostile) < ses.MAX_SES_BYTES
    for parse in (ses.parse_signature, ses.parse_seal, ses.detect):
        started = time.process_time()
        with pytest.raises(SesFormatError) as err:
            parse(hostile)
        assert err.value.code == "ses_too_large"
        assert time.process_time() - started < 0.5
    with pytest.raises(CertificateError):
        X509Certificate.from_der(_tlv(0x30, b"\x02\x01\x00" * 20_000))
    for name in ("UserV4.esl", "UserV1.esl", "UserV5.esl", "SignedValueV4.dat"):
        assert der.within((OFDRW / name).read_bytes())  # real ones are far below the bound
    assert der.within(_tlv(0x30, b"\x02\x01\x00" * 9_999), limit=10_000)  # 10,000 elements
    assert not der.within(_tlv(0x30, b"\x02\x01\x00" * 10_000), limit=10_000)


def _with_time_stamp(signature: bytes, token: bytes) -> bytes:
    """``signature`` with a ``timeStamp [0] EXPLICIT BIT STRING`` appended, as a vendor's
    time-stamped seal signature carries it."""
    top = ses.SesSignatureV4.load(signature)
    body = b"".join(bytes(top[i].dump()) for i in range(4))
    return _tlv(0x30, body + _tlv(0xA0, _tlv(0x03, b"\x00" + token)))


def test_a_signature_with_a_time_stamp_and_extensions_is_read() -> None:
    """A ``[0]`` element (the time-stamp, or ``extDatas`` inside ``TBS_Sign``) once made every
    such signature 'unreadable' (asn1crypto cannot render an untyped context-class element):
    a genuine vendor signature was judged invalid. Both are read now, byte for byte."""
    base = ses.parse_signature(read("SignedValueV4.dat"))
    assert base.signing_time is not None
    ext = (ses.ExtData(oid="1.2.156.10197.6.1.4.2.99", critical=False, value=b"note"),)
    tbs = ses.encode_tbs_sign(
        seal_der=base.seal.der,
        signing_time=base.signing_time,
        data_hash=base.data_hash,
        property_info=base.property_info,
        ext_datas=ext,
    )
    with_ext = ses.encode_signature(tbs, base.signer_certificate, base.signature)
    sig = ses.parse_signature(with_ext)
    assert sig.ext_datas == ext and sig.tbs_der == tbs and sig.timestamp is None
    stamped = _with_time_stamp(with_ext, b"TSTOKEN")
    sig = ses.parse_signature(stamped)
    assert sig.timestamp == b"TSTOKEN" and sig.ext_datas == ext and sig.tbs_der == tbs
    assert ses.detect(stamped) == "signature"
    # Still strict: a damaged extension or time-stamp is named, not skipped.
    assert with_ext[:2] == b"\x30\x82"
    body = with_ext[4:]
    for damaged in (
        _tlv(0x30, body + _tlv(0xA0, _tlv(0x02, b"\x07"))),  # a time-stamp not a BIT STRING
        _tlv(0x30, body + _tlv(0xA0, b"\x03\x05\x00")),  # a time-stamp shorter than it says
        with_ext.replace(b"\x04\x04note", b"\x04\x05note", 1),  # an extension overruns
    ):
        with pytest.raises(SesFormatError):
            ses.parse_signature(damaged)


def test_an_unknown_universal_element_is_a_named_error() -> None:
    """Found by the fuzz test after the [0] fix: a universal tag asn1crypto does not know
    (15, reserved) inside the top sequence escaped as its ValueError."""
    for parse in (ses.parse_signature, ses.parse_seal, ses.detect):
        with pytest.raises(SesFormatError):
            parse(bytes.fromhex("308200080f06a9de98f91ae1"))
