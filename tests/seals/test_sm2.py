"""SM2: the Annex A example, strict verification, and OpenSSL interop (SM3: test_sm3.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from seals_testlib import VECTORS

from seals import sm2
from seals.errors import Sm2BadKey, Sm2BadSignature

ANNEX_A = json.loads((VECTORS / "sm2_annex_a.json").read_text())
MSG = b"zhengyin test message"


def annex_public() -> bytes:
    return bytes.fromhex("04" + ANNEX_A["public_x"] + ANNEX_A["public_y"])


def annex_signature() -> bytes:
    return sm2.encode_signature(int(ANNEX_A["r"], 16), int(ANNEX_A["s"], 16))


def test_annex_a_z_and_e() -> None:
    z = sm2.z_value(annex_public(), ANNEX_A["id_ascii"].encode())
    assert z.hex().upper() == ANNEX_A["z"]
    assert sm2.sm3(z + ANNEX_A["message_ascii"].encode()).hex().upper() == ANNEX_A["e"]


def test_annex_a_public_key_from_private_key() -> None:
    lib = sm2.get_backend("libcrypto")
    point = lib.derive_point(int(ANNEX_A["private_key"], 16))
    assert point == annex_public()


def test_annex_a_published_signature_verifies(backend: sm2.Sm2Backend) -> None:
    key = sm2.Sm2PublicKey.from_point(annex_public(), backend)
    msg = ANNEX_A["message_ascii"].encode()
    key.verify(msg, annex_signature(), signer_id=ANNEX_A["id_ascii"].encode())
    with pytest.raises(Sm2BadSignature):
        key.verify(msg, annex_signature(), signer_id=b"")  # OpenSSL's CLI default: wrong
    with pytest.raises(Sm2BadSignature):
        key.verify(msg + b"!", annex_signature())
    other = sm2.generate_private_key(backend).public_key
    with pytest.raises(Sm2BadSignature):
        other.verify(msg, annex_signature())


def test_annex_a_key_signs_verifiably(backend: sm2.Sm2Backend) -> None:
    key = sm2.Sm2PrivateKey.from_secret(
        bytes.fromhex(ANNEX_A["private_key"]), annex_public(), backend
    )
    sig = key.sign(MSG)
    sm2.Sm2PublicKey.from_point(annex_public(), backend).verify(MSG, sig)


def test_round_trip_and_failures(backend: sm2.Sm2Backend) -> None:
    key = sm2.generate_private_key(backend)
    sig = key.sign(MSG)
    assert sig[0] == 0x30
    sm2.verify(key.public_key, MSG, sig)
    for bad_data, bad_sig, bad_id in (
        (MSG + b"x", sig, sm2.DEFAULT_ID),
        (MSG, sig, b"1234567812345679"),
        (MSG, sig[:-1], sm2.DEFAULT_ID),
        (MSG, sig + b"\x00", sm2.DEFAULT_ID),
    ):
        with pytest.raises(Sm2BadSignature) as info:
            key.public_key.verify(bad_data, bad_sig, signer_id=bad_id)
        assert info.value.code == "sm2_bad_signature"
    with pytest.raises(Sm2BadSignature):
        sm2.generate_private_key(backend).public_key.verify(MSG, sig)


def test_custom_signer_id(backend: sm2.Sm2Backend) -> None:
    key = sm2.generate_private_key(backend)
    signer = sm2.KeySigner(key, b"ALICE123@YAHOO.COM")
    sig = signer.sign_raw(MSG)
    key.public_key.verify(MSG, sig, signer_id=b"ALICE123@YAHOO.COM")
    with pytest.raises(Sm2BadSignature):
        key.public_key.verify(MSG, sig)
    assert isinstance(signer, sm2.Signer)


def test_backends_interoperate() -> None:
    backends = sm2.available_backends()
    key = sm2.generate_private_key(backends[0])
    for b in backends:
        sig = key.with_backend(b).sign(MSG)
        for v in backends:
            key.public_key.with_backend(v).verify(MSG, sig)


def test_r_and_s_out_of_range_rejected(backend: sm2.Sm2Backend) -> None:
    key = sm2.generate_private_key(backend)
    r, s = sm2.decode_signature(key.sign(MSG))
    for rr, ss in ((0, s), (r, 0), (r + sm2.N, s), (r, s + sm2.N), (sm2.N, s)):
        body = sm2._der_int(rr) + sm2._der_int(ss)
        forged = b"\x30" + bytes([len(body)]) + body
        with pytest.raises(Sm2BadSignature):
            key.public_key.verify(MSG, forged)
    with pytest.raises(Sm2BadSignature):
        sm2.encode_signature(0, 1)


def test_non_der_signatures_rejected(backend: sm2.Sm2Backend) -> None:
    key = sm2.generate_private_key(backend)
    sig = key.sign(MSG)
    r, s = sm2.decode_signature(sig)
    # r with a superfluous leading zero byte (BER, not DER)
    rb = r.to_bytes(33, "big") if r.bit_length() < 256 else b"\x00" + r.to_bytes(32, "big")
    body = b"\x02" + bytes([len(rb) + 1]) + b"\x00" + rb + sm2._der_int(s)
    for forged in (
        b"\x30" + bytes([len(body)]) + body,
        b"\x30\x81" + bytes([len(sig) - 2]) + sig[2:],  # long-form length
        b"\x31" + sig[1:],
        b"",
    ):
        with pytest.raises(Sm2BadSignature):
            key.public_key.verify(MSG, forged)


def test_bad_points_and_scalars() -> None:
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PublicKey.from_point(b"\x04" + b"\x01" * 64)
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PublicKey.from_point(b"\x05" * 65)
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PrivateKey.from_secret(0)
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PrivateKey.from_secret(sm2.N)
    a = sm2.generate_private_key()
    b = sm2.generate_private_key()
    with pytest.raises(Sm2BadKey):
        sm2.Sm2PrivateKey.from_secret(a.secret_bytes(), b.public_key.point)


def test_compressed_point_round_trip() -> None:
    point = sm2.generate_private_key().public_key.point
    compressed = bytes([2 + point[-1] % 2]) + point[1:33]
    assert sm2.normalize_point(compressed) == point
    assert sm2.normalize_point(point[1:]) == point


def test_private_key_never_shown() -> None:
    key = sm2.generate_private_key()
    assert key.secret_bytes().hex() not in repr(key)
    assert format(int.from_bytes(key.secret_bytes(), "big")) not in repr(key)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(cmd, check=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def test_openssl_signs_we_verify(backend: sm2.Sm2Backend, openssl: str, tmp_path: Path) -> None:
    from seals.keys import load_private_key

    key_pem = tmp_path / "k.pem"
    _run([openssl, "genpkey", "-algorithm", "SM2", "-out", str(key_pem)])
    msg = tmp_path / "msg"
    msg.write_bytes(MSG)
    sig_file = tmp_path / "sig"
    _run(
        [
            openssl,
            "pkeyutl",
            "-sign",
            "-rawin",
            "-digest",
            "sm3",
            "-inkey",
            str(key_pem),
            "-in",
            str(msg),
            "-out",
            str(sig_file),
            "-pkeyopt",
            "distid:1234567812345678",
        ]
    )
    key = load_private_key(key_pem.read_bytes(), backend=backend)
    key.public_key.verify(MSG, sig_file.read_bytes())
    with pytest.raises(Sm2BadSignature):
        key.public_key.verify(MSG, sig_file.read_bytes(), signer_id=b"")


def test_we_sign_openssl_verifies(backend: sm2.Sm2Backend, openssl: str, tmp_path: Path) -> None:
    from seals.keys import public_key_to_pem

    key = sm2.generate_private_key(backend)
    pub = tmp_path / "pub.pem"
    pub.write_bytes(public_key_to_pem(key.public_key))
    msg = tmp_path / "msg"
    msg.write_bytes(MSG)
    sig_file = tmp_path / "sig"
    sig_file.write_bytes(key.sign(MSG))
    out = _run(
        [
            openssl,
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pubin",
            "-inkey",
            str(pub),
            "-in",
            str(msg),
            "-sigfile",
            str(sig_file),
            "-pkeyopt",
            "distid:1234567812345678",
        ]
    )
    assert b"Signature Verified Successfully" in out.stdout
    bad = subprocess.run(
        [
            openssl,
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pubin",
            "-inkey",
            str(pub),
            "-in",
            str(msg),
            "-sigfile",
            str(sig_file),
            "-pkeyopt",
            "distid:0000000000000000",
        ],
        capture_output=True,
    )
    assert bad.returncode != 0


def test_openssl_dgst_interop(openssl: str, tmp_path: Path) -> None:
    """The ``openssl dgst -sm3 -sign`` route with ``-sigopt distid`` agrees with ours."""
    from seals.keys import load_private_key

    key_pem = tmp_path / "k.pem"
    _run([openssl, "genpkey", "-algorithm", "SM2", "-out", str(key_pem)])
    msg = tmp_path / "msg"
    msg.write_bytes(MSG * 100)
    sig_file = tmp_path / "sig"
    _run(
        [
            openssl,
            "dgst",
            "-sm3",
            "-sign",
            str(key_pem),
            "-sigopt",
            "distid:1234567812345678",
            "-out",
            str(sig_file),
            str(msg),
        ]
    )
    load_private_key(key_pem.read_bytes()).public_key.verify(MSG * 100, sig_file.read_bytes())
