"""Certificates: building with SM2, OpenSSL agrees, path validation strict and lenient."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from seals_testlib import OFDRW, T0, USCC, Pki

from seals import sm2
from seals.ca import LocalCA, create_root
from seals.errors import CertificateError
from seals.ses import parse_seal
from seals.x509 import (
    DistinguishedName,
    build_x509_certificate,
    load_certificate,
    load_certificates,
    validate_path,
)


def test_local_pki_shape(pki: Pki) -> None:
    assert pki.root.certificate.is_ca is True
    assert pki.root.certificate.key_usage == frozenset({"key_cert_sign", "crl_sign"})
    assert pki.signer.certificate.is_ca is False
    assert pki.signer.certificate.organization_identifier == USCC
    assert pki.signer.certificate.public_key() == pki.signer.key.public_key
    result = validate_path(pki.signer.certificate, anchors=[pki.root.certificate], at=T0)
    assert result.ok, result.problems


def test_openssl_verifies_our_chain(pki: Pki, openssl: str, tmp_path: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.certificate.to_pem())
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pki.signer.certificate.to_pem())
    at = str(int(T0.timestamp()))
    # OpenSSL 3.0's verify uses an empty SM2 ID unless told the default one.
    cmd = [
        openssl,
        "verify",
        "-attime",
        at,
        "-vfyopt",
        "distid:1234567812345678",
        "-CAfile",
        str(root),
        str(leaf),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_openssl_agrees_ofdrw_root_is_not_a_ca(openssl: str, tmp_path: Path) -> None:
    maker = load_certificate(parse_seal((OFDRW / "UserV4.esl").read_bytes()).maker_certificate)
    leaf = tmp_path / "maker.pem"
    leaf.write_bytes(maker.to_pem())
    at = str(int(datetime(2020, 10, 12, tzinfo=UTC).timestamp()))
    out = subprocess.run(
        [
            openssl,
            "verify",
            "-attime",
            at,
            "-vfyopt",
            "distid:1234567812345678",
            "-CAfile",
            str(OFDRW / "ROOT.pem"),
            str(leaf),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "certificate signing" in out.stdout + out.stderr


def test_openssl_made_certificate_loads(openssl: str, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    cert = tmp_path / "c.pem"
    subprocess.run(
        [openssl, "genpkey", "-algorithm", "SM2", "-out", str(key)], check=True, capture_output=True
    )
    subprocess.run(
        [
            openssl,
            "req",
            "-new",
            "-x509",
            "-key",
            str(key),
            "-sm3",
            "-sigopt",
            "distid:1234567812345678",
            "-subj",
            "/C=CN/O=Test/CN=OpenSSL Root",
            "-days",
            "30",
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    c = load_certificate(cert.read_bytes())
    assert c.common_name == "OpenSSL Root"
    c.verify_issued_by(c)  # self-signed with the default ID
    result = validate_path(c, anchors=[c], at=c.not_before + timedelta(days=1))
    assert result.ok


def test_ofdrw_path_strict_and_lenient() -> None:
    root = load_certificate((OFDRW / "ROOT.pem").read_bytes())
    maker = load_certificate(parse_seal((OFDRW / "UserV4.esl").read_bytes()).maker_certificate)
    at = datetime(2020, 10, 12, tzinfo=UTC)
    strict = validate_path(maker, anchors=[root], at=at)
    assert not strict.ok
    assert any("keyCertSign" in p for p in strict.problems)
    lenient = validate_path(maker, anchors=[root], at=at, lenient_ca=True)
    assert lenient.ok
    assert "lenient" in lenient.reason and "keyCertSign" in lenient.reason
    expired = validate_path(
        maker, anchors=[root], at=datetime(2025, 1, 1, tzinfo=UTC), lenient_ca=True
    )
    assert not expired.ok and "validity" in expired.reason


def test_wrong_anchor_and_forged_issuer(pki: Pki) -> None:
    stranger = create_root(pki.root.certificate.common_name or "x", now=T0)
    result = validate_path(pki.signer.certificate, anchors=[stranger.certificate], at=T0)
    assert not result.ok
    assert "does not verify" in result.reason
    none = validate_path(pki.signer.certificate, anchors=[], at=T0)
    assert not none.ok


def test_non_ca_issuer_rejected(pki: Pki) -> None:
    # a certificate "issued" by the (non-CA) signer certificate
    key = sm2.generate_private_key()
    child = build_x509_certificate(
        subject=DistinguishedName("child"),
        public_key=key.public_key,
        issuer=pki.signer.certificate,
        signer=pki.signer.signer,
        not_before=T0,
        not_after=T0 + timedelta(days=1),
        ca=False,
        key_usage={"digital_signature"},
    )
    result = validate_path(
        child,
        anchors=[pki.root.certificate],
        intermediates=[pki.signer.certificate],
        at=T0 + timedelta(hours=1),
    )
    assert not result.ok
    assert "not marked as a CA" in result.reason


def test_build_checks_keys(pki: Pki) -> None:
    key = sm2.generate_private_key()
    with pytest.raises(CertificateError):
        build_x509_certificate(
            subject=DistinguishedName("x"),
            public_key=key.public_key,
            issuer=None,
            signer=pki.root.signer,
            not_before=T0,
            not_after=T0 + timedelta(days=1),
            ca=True,
            key_usage={"key_cert_sign"},
        )
    with pytest.raises(CertificateError):
        build_x509_certificate(
            subject=DistinguishedName("x"),
            public_key=key.public_key,
            issuer=pki.root.certificate,
            signer=pki.root.signer,
            not_before=T0,
            not_after=T0,
            ca=False,
            key_usage={"digital_signature"},
        )


@pytest.mark.parametrize("garbage", [b"", b"\x30\x00", b"not a cert", b"\x30\x82\xff\xff"])
def test_garbage_certificates(garbage: bytes) -> None:
    with pytest.raises(CertificateError):
        load_certificate(garbage)


def test_local_ca_on_disk(tmp_path: Path) -> None:
    ca = LocalCA.open_or_create(tmp_path / "ca", "pw", now=T0)
    maker = ca.seal_maker(now=T0)
    signer = ca.signer(USCC, "测试局", tmp_path / "signers", now=T0)
    again = LocalCA.open_or_create(tmp_path / "ca", "pw")
    assert again.root.certificate == ca.root.certificate
    assert again.seal_maker().certificate == maker.certificate
    assert again.signer(USCC, "测试局", tmp_path / "signers").certificate == signer.certificate
    assert load_certificates(ca.root_path.read_bytes())[0] == ca.root.certificate
