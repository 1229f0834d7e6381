"""Key files: OpenSSL-made keys load, ours load in OpenSSL, encryption at rest, bad input."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from seals import keys, sm2
from seals.errors import KeyFormatError, KeyPassphraseError

MSG = b"key test"


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def openssl_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import shutil

    exe = shutil.which("openssl")
    assert exe
    d = tmp_path_factory.mktemp("osslkeys")
    p8 = d / "p8.pem"
    _run([exe, "genpkey", "-algorithm", "SM2", "-out", str(p8)])
    out = {"pkcs8": p8}
    _run([exe, "ecparam", "-name", "SM2", "-genkey", "-out", str(d / "ecparam.pem")])
    out["ecparam"] = d / "ecparam.pem"
    _run([exe, "ec", "-in", str(p8), "-out", str(d / "sec1.pem")])
    out["sec1"] = d / "sec1.pem"
    _run([exe, "pkey", "-in", str(p8), "-outform", "DER", "-out", str(d / "p8.der")])
    out["der"] = d / "p8.der"
    for name, extra in (
        ("pbkdf2", ["-v2", "aes-256-cbc"]),
        ("scrypt", ["-scrypt"]),
        ("sm4", ["-v2", "sm4-cbc"]),
    ):
        target = d / f"{name}.pem"
        _run(
            [
                exe,
                "pkcs8",
                "-topk8",
                "-in",
                str(p8),
                "-out",
                str(target),
                "-passout",
                "pass:secret",
                *extra,
            ]
        )
        out[name] = target
    _run([exe, "pkey", "-in", str(p8), "-pubout", "-out", str(d / "pub.pem")])
    out["pub"] = d / "pub.pem"
    _run(
        [
            exe,
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            str(d / "p256.pem"),
        ]
    )
    out["p256"] = d / "p256.pem"
    return out


@pytest.mark.parametrize("kind", ["pkcs8", "ecparam", "sec1", "der"])
def test_openssl_plain_keys_load(
    kind: str, openssl_keys: dict[str, Path], backend: sm2.Sm2Backend
) -> None:
    key = keys.load_private_key(openssl_keys[kind].read_bytes(), backend=backend)
    key.public_key.verify(MSG, key.sign(MSG))


@pytest.mark.parametrize("kind", ["pbkdf2", "scrypt", "sm4"])
def test_openssl_encrypted_keys_load(kind: str, openssl_keys: dict[str, Path]) -> None:
    data = openssl_keys[kind].read_bytes()
    key = keys.load_private_key(data, "secret")
    plain = keys.load_private_key(openssl_keys["pkcs8"].read_bytes())
    assert key.public_key == plain.public_key
    with pytest.raises(KeyPassphraseError) as info:
        keys.load_private_key(data, "wrong")
    assert info.value.code == "key_bad_passphrase"
    with pytest.raises(KeyPassphraseError):
        keys.load_private_key(data)


def test_public_key_pem(openssl_keys: dict[str, Path]) -> None:
    pub = keys.load_public_key(openssl_keys["pub"].read_bytes())
    key = keys.load_private_key(openssl_keys["pkcs8"].read_bytes())
    assert pub == key.public_key
    assert keys.load_public_key(keys.public_key_to_pem(pub)) == pub


def test_non_sm2_key_rejected(openssl_keys: dict[str, Path]) -> None:
    with pytest.raises(KeyFormatError, match="not an SM2 key"):
        keys.load_private_key(openssl_keys["p256"].read_bytes())


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"hello",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\x30\x03\x02\x01\x00",
    ],
)
def test_garbage_keys(garbage: bytes) -> None:
    with pytest.raises(KeyFormatError):
        keys.load_private_key(garbage)


def test_our_encrypted_key_loads_in_openssl(openssl: str, tmp_path: Path) -> None:
    key = sm2.generate_private_key()
    path = keys.save_private_key(tmp_path / "k.key", key, "pw 1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in text
    out = subprocess.run(
        [openssl, "pkey", "-in", str(path), "-passin", "pass:pw 1", "-pubout"],
        check=True,
        capture_output=True,
    ).stdout
    assert keys.load_public_key(out) == key.public_key
    assert keys.load_private_key_file(path, b"pw 1").public_key == key.public_key
    # the unencrypted export is for openssl too
    plain = tmp_path / "plain.pem"
    plain.write_bytes(keys.private_key_to_pem(key, None))
    subprocess.run([openssl, "pkey", "-in", str(plain), "-noout"], check=True)


def test_storing_needs_a_passphrase(tmp_path: Path) -> None:
    key = sm2.generate_private_key()
    with pytest.raises(KeyPassphraseError):
        keys.save_private_key(tmp_path / "k", key, "")


def test_kek_file(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "kek"
    first = keys.load_or_create_kek(path)
    assert len(first) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keys.load_or_create_kek(path) == first
