"""Seals end to end: create, sign, verify every step; ofdrw facts at pinned times; tampering."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from seals_testlib import OFDRW, T0, Pki

from seals import sm2
from seals.errors import SealInputError
from seals.picture import draw_round_seal
from seals.seal import (
    SealSpec,
    StepStatus,
    VerificationReport,
    create_seal,
    sign_data,
    verify_seal,
    verify_signature,
)
from seals.ses import Seal, parse_seal, parse_signature
from seals.x509 import load_certificate

SIGNED_AT_OFDRW = datetime(2020, 10, 12, 11, 14, 3, tzinfo=UTC)
TODAY = datetime(2026, 6, 1, tzinfo=UTC)
"""A pinned 'today', after every ofdrw certificate has expired."""
DOC = b"<Signature>the protected bytes</Signature>"


def statuses(report: VerificationReport) -> dict[str, StepStatus]:
    return {s.name: s.status for s in report.steps}


def make_seal(pki: Pki, cert_list_type: int = 1) -> Seal:
    return create_seal(
        SealSpec(
            name="北京市测试局",
            es_id="91110000101623741K0001",
            valid_from=T0,
            valid_until=T0 + timedelta(days=365),
            picture=draw_round_seal("北京市测试局"),
            signer_certificates=(pki.signer.certificate,),
            cert_list_type=cert_list_type,
            created=T0,
        ),
        pki.maker.certificate,
        pki.maker.signer,
    )


@pytest.fixture(scope="module")
def our_seal(pki: Pki) -> Seal:
    return make_seal(pki)


def test_created_seal_verifies(pki: Pki, our_seal: Seal) -> None:
    assert our_seal.layout == "v4" and our_seal.version == 4
    report = verify_seal(our_seal.der, at=T0 + timedelta(days=1), anchors=[pki.root.certificate])
    assert report.ok, report.steps
    assert [s.name for s in report.steps] == [
        "seal.structure",
        "seal.version",
        "seal.maker_signature",
        "seal.maker_certificate",
        "seal.maker_path",
        "seal.validity",
    ]
    assert all(s.status is StepStatus.VALID for s in report.steps)


def test_seal_without_anchor_skips_path(our_seal: Seal) -> None:
    report = verify_seal(our_seal, at=T0 + timedelta(days=1))
    step = report.step("seal.maker_path")
    assert step.status is StepStatus.SKIPPED
    assert step.reason == "no trust anchor configured"


def test_seal_validity_window(our_seal: Seal) -> None:
    before = verify_seal(our_seal, at=T0 - timedelta(days=1))
    assert before.step("seal.validity").status is StepStatus.INVALID
    after = verify_seal(our_seal, at=T0 + timedelta(days=400))
    assert after.step("seal.validity").status is StepStatus.INVALID
    assert not after.ok


def test_sign_and_verify_with_data(pki: Pki, our_seal: Seal) -> None:
    at = T0 + timedelta(days=2)
    sig = sign_data(
        our_seal,
        pki.signer.signer,
        pki.signer.certificate,
        DOC,
        "/Doc_0/Signs/Sign_0/Signature.xml",
        at=at,
    )
    assert sig.signing_time == at
    assert sig.data_hash == sm2.sm3(DOC)
    assert sig == parse_signature(sig.der)  # what signing returns is what a reader decodes
    report = verify_signature(sig.der, data=DOC, anchors=[pki.root.certificate], now=at)
    assert report.ok, [s for s in report.steps if s.status is not StepStatus.VALID]
    names = [s.name for s in report.steps]
    assert names[:2] == ["signature.structure", "signature.version"]
    for required in (
        "seal.maker_signature",
        "seal.validity",
        "signature.value",
        "signature.signer_in_seal",
        "signature.signer_certificate",
        "signature.signer_path",
        "signature.data_hash",
    ):
        assert statuses(report)[required] is StepStatus.VALID, required
    wrong = verify_signature(sig.der, data=DOC + b" ", now=at)
    assert wrong.step("signature.data_hash").status is StepStatus.INVALID
    no_data = verify_signature(sig.der, now=at)
    assert no_data.step("signature.data_hash").status is StepStatus.SKIPPED


def test_digest_cert_list(pki: Pki) -> None:
    seal = make_seal(pki, cert_list_type=2)
    assert seal.property.cert_list_type == 2 and seal.property.digests
    sig = sign_data(
        seal, pki.signer.signer, pki.signer.certificate, DOC, "doc", at=T0 + timedelta(days=1)
    )
    report = verify_signature(sig, data=DOC)
    assert report.step("signature.signer_in_seal").status is StepStatus.VALID


def test_signing_refuses_unlisted_or_expired(pki: Pki, our_seal: Seal) -> None:
    with pytest.raises(SealInputError) as info:
        sign_data(
            our_seal, pki.maker.signer, pki.maker.certificate, DOC, "doc", at=T0 + timedelta(days=1)
        )
    assert info.value.code == "seal_signer_not_listed"
    with pytest.raises(SealInputError) as info:
        sign_data(
            our_seal,
            pki.signer.signer,
            pki.signer.certificate,
            DOC,
            "doc",
            at=T0 + timedelta(days=500),
        )
    assert info.value.code == "seal_expired"
    with pytest.raises(SealInputError):
        sign_data(
            our_seal,
            pki.maker.signer,
            pki.signer.certificate,
            DOC,
            "doc",
            at=T0 + timedelta(days=1),
        )


def test_create_refuses_wrong_maker_key(pki: Pki) -> None:
    with pytest.raises(SealInputError):
        create_seal(
            SealSpec(
                name="x",
                es_id="1",
                valid_from=T0,
                valid_until=T0 + timedelta(days=1),
                picture=draw_round_seal("x"),
                signer_certificates=(pki.signer.certificate,),
            ),
            pki.maker.certificate,
            pki.signer.signer,
        )


def test_signature_not_listed_in_seal_is_invalid(pki: Pki) -> None:
    """A signature by a certificate the seal does not list is reported (not raised)."""
    from seals.ses import encode_signature, encode_tbs_sign, parse_signature

    seal = make_seal(pki)
    tbs = encode_tbs_sign(
        seal_der=seal.der,
        signing_time=T0 + timedelta(days=1),
        data_hash=sm2.sm3(DOC),
        property_info="doc",
    )
    forged = encode_signature(tbs, pki.maker.certificate.der, pki.maker.signer.sign_raw(tbs))
    report = verify_signature(parse_signature(forged), data=DOC)
    assert report.step("signature.value").status is StepStatus.VALID
    assert report.step("signature.signer_in_seal").status is StepStatus.INVALID
    assert not report.ok


def _flip_positions(length: int, count: int = 40) -> list[int]:
    step = max(length // count, 1)
    return list(range(0, length, step))


def test_every_flipped_byte_of_our_seal_is_caught(pki: Pki, our_seal: Seal) -> None:
    raw = our_seal.der
    for pos in _flip_positions(len(raw)):
        flipped = raw[:pos] + bytes([raw[pos] ^ 0x01]) + raw[pos + 1 :]
        report = verify_seal(flipped, at=T0 + timedelta(days=1), anchors=[pki.root.certificate])
        assert not report.ok, f"flip at {pos} not caught"


def test_every_flipped_byte_of_our_signature_is_caught(pki: Pki, our_seal: Seal) -> None:
    sig = sign_data(
        our_seal, pki.signer.signer, pki.signer.certificate, DOC, "doc", at=T0 + timedelta(days=1)
    )
    raw = sig.der
    for pos in _flip_positions(len(raw)):
        flipped = raw[:pos] + bytes([raw[pos] ^ 0x80]) + raw[pos + 1 :]
        report = verify_signature(flipped, data=DOC, anchors=[pki.root.certificate])
        assert not report.ok, f"flip at {pos} not caught"


# ------------------------------------------------------------------------------- ofdrw


def ofdrw(name: str) -> bytes:
    return (OFDRW / name).read_bytes()


def root() -> list:  # type: ignore[type-arg]
    return [load_certificate(ofdrw("ROOT.pem"))]


def test_ofdrw_seal_expired_today_valid_in_2021() -> None:
    today = verify_seal(ofdrw("UserV4.esl"), at=TODAY)
    s = statuses(today)
    assert s["seal.maker_signature"] is StepStatus.VALID  # intact
    assert s["seal.maker_certificate"] is StepStatus.INVALID
    assert s["seal.validity"] is StepStatus.INVALID
    assert "expired" in today.step("seal.validity").reason
    assert not today.ok
    then = verify_seal(ofdrw("UserV4.esl"), at=datetime(2021, 1, 1, tzinfo=UTC))
    assert then.ok


def test_ofdrw_signature_intact_valid_at_signing_time_expired_since() -> None:
    report = verify_signature(ofdrw("SignedValueV4.dat"), now=TODAY)
    s = statuses(report)
    assert s["signature.value"] is StepStatus.VALID
    assert s["seal.maker_signature"] is StepStatus.VALID
    assert s["signature.signer_in_seal"] is StepStatus.VALID
    for name in ("seal.maker_certificate", "seal.validity", "signature.signer_certificate"):
        assert s[name] is StepStatus.VALID
        assert "expired since" in report.step(name).reason
        assert "2020-10-12 11:14:03Z" in report.step(name).reason
    assert "signer's own claim" in report.step("signature.signer_certificate").reason
    assert report.ok  # the documented decision: valid, judged at the signing time
    strict = verify_signature(ofdrw("SignedValueV4.dat"), at=TODAY, now=TODAY)
    assert statuses(strict)["signature.signer_certificate"] is StepStatus.INVALID
    assert statuses(strict)["signature.value"] is StepStatus.VALID
    assert not strict.ok


def test_ofdrw_trust_strict_and_lenient() -> None:
    strict = verify_signature(ofdrw("SignedValueV4.dat"), anchors=root(), now=TODAY)
    step = strict.step("signature.signer_path")
    assert step.status is StepStatus.INVALID and "keyCertSign" in step.reason
    assert strict.step("seal.maker_path").status is StepStatus.INVALID
    lenient = verify_signature(
        ofdrw("SignedValueV4.dat"), anchors=root(), lenient_ca=True, now=TODAY
    )
    step = lenient.step("signature.signer_path")
    assert step.status is StepStatus.VALID
    assert "lenient" in step.reason and "keyCertSign" in step.reason
    assert lenient.ok


def test_ofdrw_document_data_hash() -> None:
    with zipfile.ZipFile(OFDRW / "v4signed.ofd") as z:
        sig = z.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        xml = z.read("Doc_0/Signs/Sign_0/Signature.xml")
    report = verify_signature(sig, data=xml, now=TODAY)
    assert report.step("signature.data_hash").status is StepStatus.VALID
    assert report.ok
    assert (
        verify_signature(sig, data=xml[:-1], now=TODAY).step("signature.data_hash").status
        is StepStatus.INVALID
    )


def test_ofdrw_v1_and_v5_checked_with_version_note() -> None:
    for name, layout in (("UserV1.esl", "v1"), ("UserV5.esl", "v5")):
        seal = parse_seal(ofdrw(name))
        at = seal.property.valid_from + timedelta(days=1)
        report = verify_seal(seal, at=at)
        assert report.step("seal.maker_signature").status is StepStatus.VALID, name
        version = report.step("seal.version")
        assert version.status is StepStatus.SKIPPED and "not supported" in version.reason
        assert version.data["layout"] == layout
    v5 = verify_signature(ofdrw("SignedValueV5.dat"), now=TODAY)
    assert v5.step("signature.value").status is StepStatus.VALID


def test_ofdrw_fixtures_every_flip_caught() -> None:
    for name in ("UserV4.esl", "SignedValueV4.dat"):
        raw = ofdrw(name)
        for pos in _flip_positions(len(raw), 60):
            flipped = raw[:pos] + bytes([raw[pos] ^ 0x04]) + raw[pos + 1 :]
            if name.endswith(".esl"):
                report = verify_seal(flipped, at=datetime(2021, 1, 1, tzinfo=UTC))
            else:
                report = verify_signature(flipped, now=TODAY)
            assert not report.ok, f"{name}: flip at {pos} not caught"


def test_garbage_is_an_invalid_structure_step() -> None:
    report = verify_seal(b"\x30\x82\x10\x00garbage")
    assert [s.name for s in report.steps] == ["seal.structure"]
    assert report.steps[0].status is StepStatus.INVALID
    assert report.steps[0].data["error"] == "ses_truncated"
    sig_report = verify_signature(b"\x00")
    assert sig_report.steps[0].status is StepStatus.INVALID


def test_a_time_stamped_signature_verifies_and_its_time_stays_a_claim() -> None:
    """A vendor's signature carrying a time-stamp (outside what the SM2 signature covers) is
    read and judged like any other; the time-stamp is not checked, so it lends the signing
    time no weight and the reason keeps saying so."""
    raw = ofdrw("SignedValueV4.dat")
    assert raw[:2] == b"\x30\x82"
    token = b"\xa0\x07\x03\x05\x00TST!"  # [0] EXPLICIT BIT STRING
    body = raw[4:] + token
    stamped = b"\x30\x82" + len(body).to_bytes(2, "big") + body
    assert parse_signature(stamped).timestamp == b"TST!"
    report = verify_signature(stamped, now=TODAY)
    s = statuses(report)
    assert s["signature.value"] is StepStatus.VALID
    assert s["signature.timestamp"] is StepStatus.SKIPPED
    reason = report.step("signature.signer_certificate").reason
    assert "signer's own claim (its time-stamp is not checked)" in reason
    # the Chinese said "the signature carries no time-stamp" here (issue #18: fixed)
    reason_zh = report.step("signature.signer_certificate").reason_zh
    assert reason_zh.endswith("；签章时间是签章人自己声明的（签章所带的时间戳未经核验）")
    assert report.ok
