"""SM2 key files: import (PEM/DER, PKCS#8 or SEC1), export, and encryption at rest.

- ``load_private_key(data, passphrase=None) -> Sm2PrivateKey``: PEM or DER; ``PRIVATE KEY``
  (PKCS#8), ``EC PRIVATE KEY``/``SM2 PRIVATE KEY`` (SEC1, with or without a leading
  ``EC PARAMETERS``/``SM2 PARAMETERS`` block) and
  ``ENCRYPTED PRIVATE KEY`` (PKCS#8 PBES2: PBKDF2 or scrypt; AES-CBC or SM4-CBC) — what
  OpenSSL's ``genpkey``, ``ecparam -genkey`` and ``pkcs8 -topk8`` write.
- ``private_key_to_pem(key, passphrase) -> bytes``: encrypted PKCS#8 (PBES2 with scrypt
  N=16384, r=8, p=1 and AES-256-CBC, which ``openssl pkey`` reads); ``passphrase=None``
  writes an unencrypted PKCS#8 for export only.
- ``save_private_key(path, key, passphrase)``: encrypted, file mode 0600. Keys at rest are
  always encrypted; nothing here logs or prints key material.
- ``load_public_key(data)`` / ``public_key_to_pem(key)``: SubjectPublicKeyInfo.
- ``load_or_create_kek(path) -> bytes``: a random key-encryption passphrase kept in a 0600 file
  (the development default when no passphrase is configured).
- ``account_key_to_pem(secret, passphrase)`` / ``load_account_key(data, passphrase)``: a chain
  account's secp256k1 key, encrypted at rest exactly as the SM2 keys are (PKCS#8 PBES2,
  scrypt, AES-256-CBC; ``openssl pkey`` reads it).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, ClassVar

from asn1crypto import core, pem

from seals import sm2
from seals.errors import KeyFormatError, KeyPassphraseError, SealError, says_nothing_of_the_input
from seals.pbes2 import SCRYPT_N, AlgorithmIdentifier, decrypt_pkcs8, encrypt_pkcs8


class _PrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("algorithm", AlgorithmIdentifier),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


class _EcPrivateKey(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("version", core.Integer),
        ("private_key", core.OctetString),
        ("parameters", core.ObjectIdentifier, {"explicit": 0, "optional": True}),
        ("public_key", core.BitString, {"explicit": 1, "optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("algorithm", AlgorithmIdentifier),
        ("public_key", core.BitString),
    ]


def _as_bytes(passphrase: bytes | str | None) -> bytes | None:
    if passphrase is None:
        return None
    return passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)


def _blocks(data: bytes) -> list[tuple[str, bytes, dict[str, str]]]:
    """``(PEM type, DER, headers)`` for each PEM block, or one ``("DER", data)`` entry."""
    stripped = data.lstrip()
    if not pem.detect(stripped):
        return [("DER", bytes(data), {})]
    try:
        return [(t, der, dict(h)) for t, h, der in pem.unarmor(stripped, multiple=True)]
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"key file: malformed PEM ({exc})") from exc


def _curve_ok(oid: str | None, what: str) -> None:
    if oid is not None and oid != sm2.OID_SM2_CURVE:
        raise KeyFormatError(f"{what}: not an SM2 key (curve {oid}, expected {sm2.OID_SM2_CURVE})")


def _from_sec1(der: bytes, backend: sm2.Sm2Backend | None, curve: str | None) -> sm2.Sm2PrivateKey:
    try:
        ec = _EcPrivateKey.load(der, strict=True)
        secret = ec["private_key"].native
        params = ec["parameters"].dotted if ec["parameters"].native is not None else None
        public = ec["public_key"] if ec["public_key"].native is not None else None
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFormatError(f"EC private key: bad DER ({exc})") from exc
    _curve_ok(params, "EC private key")
    if params is None and curve is None:
        raise KeyFormatError("EC private key: no curve named; cannot tell it is SM2")
    if not isinstance(secret, bytes) or len(secret) > 32 or not secret:
        raise KeyFormatError("EC private key: private key is not a 32-byte scalar")
    point = _bitstring_bytes(public) if public is not None else None
    return sm2.Sm2PrivateKey.from_secret(secret, point, backend)


def _bitstring_bytes(value: Any) -> bytes:
    """The bytes of a BIT STRING with no unused bits (raises :class:`KeyFormatError`)."""
    contents = bytes(value.contents or b"")
    if not contents or contents[0] != 0:
        raise KeyFormatError("public key BIT STRING is not a whole number of bytes")
    return contents[1:]


def _from_pkcs8(der: bytes, backend: sm2.Sm2Backend | None) -> sm2.Sm2PrivateKey:
    try:
        info = _PrivateKeyInfo.load(der, strict=True)
        alg = info["algorithm"]["algorithm"].dotted
        params = info["algorithm"]["parameters"]
        curve = (
            core.ObjectIdentifier.load(params.dump()).dotted if params.native is not None else None
        )
        inner = info["private_key"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFormatError(f"PKCS#8 private key: bad DER ({exc})") from exc
    if alg not in (sm2.OID_EC_PUBLIC_KEY, sm2.OID_SM2_CURVE):
        raise KeyFormatError(f"PKCS#8 private key: algorithm {alg} is not EC/SM2")
    _curve_ok(curve, "PKCS#8 private key")
    return _from_sec1(inner, backend, curve or sm2.OID_SM2_CURVE)


def load_private_key(
    data: bytes,
    passphrase: bytes | str | None = None,
    *,
    backend: sm2.Sm2Backend | None = None,
) -> sm2.Sm2PrivateKey:
    """An SM2 private key from PEM or DER (PKCS#8, SEC1 or encrypted PKCS#8).

    Raises :class:`KeyFormatError` (``key_bad_format``) or :class:`KeyPassphraseError`
    (``key_bad_passphrase``).
    """
    pw = _as_bytes(passphrase)
    curve: str | None = None
    for kind, der, headers in _blocks(data):
        if kind in ("EC PARAMETERS", "SM2 PARAMETERS"):
            try:
                curve = core.ObjectIdentifier.load(der).dotted
            except (ValueError, TypeError) as exc:
                raise KeyFormatError(f"EC PARAMETERS: bad DER ({exc})") from exc
            _curve_ok(curve, "EC PARAMETERS")
            continue
        if "Proc-Type" in headers:
            raise KeyFormatError(
                "legacy PEM encryption is not supported: convert with `openssl pkcs8 -topk8`"
            )
        try:
            if kind in ("EC PRIVATE KEY", "SM2 PRIVATE KEY"):
                return _from_sec1(der, backend, curve)
            if kind == "PRIVATE KEY":
                return _from_pkcs8(der, backend)
            if kind == "ENCRYPTED PRIVATE KEY":
                return _from_decrypted(decrypt_pkcs8(der, pw), backend)
            if kind == "DER":
                return _load_der_private(der, pw, backend)
        except SealError as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError(f"private key: {exc}", code=exc.code) from exc
    raise KeyFormatError("no private key found (expected a PEM PRIVATE KEY block or DER)")


def _load_der_private(
    der: bytes, pw: bytes | None, backend: sm2.Sm2Backend | None
) -> sm2.Sm2PrivateKey:
    errors: list[str] = []
    for attempt in (_from_pkcs8, lambda d, b: _from_sec1(d, b, None)):
        try:
            return attempt(der, backend)
        except KeyFormatError as exc:
            errors.append(str(exc))
    try:
        decrypted = decrypt_pkcs8(der, pw)
    except KeyPassphraseError:
        raise
    except KeyFormatError as exc:
        errors.append(str(exc))
        raise KeyFormatError("DER private key not recognised: " + "; ".join(errors)) from exc
    return _from_decrypted(decrypted, backend)


def _from_decrypted(der: bytes, backend: sm2.Sm2Backend | None) -> sm2.Sm2PrivateKey:
    try:
        return _from_pkcs8(der, backend)
    except KeyFormatError as exc:
        raise KeyPassphraseError(
            "encrypted private key: wrong passphrase (or a corrupted key file)"
        ) from exc


def load_private_key_file(
    path: Path | str,
    passphrase: bytes | str | None = None,
    *,
    backend: sm2.Sm2Backend | None = None,
) -> sm2.Sm2PrivateKey:
    """:func:`load_private_key` on a file's bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFormatError(f"cannot read key file {path}: {exc.strerror}") from exc
    return load_private_key(data, passphrase, backend=backend)


def _pkcs8_der(key: sm2.Sm2PrivateKey) -> bytes:
    sec1 = sm2.sec1_der(int.from_bytes(key.secret_bytes(), "big"), key.public_key.point)
    info = _PrivateKeyInfo(
        {
            "version": 0,
            "algorithm": {
                "algorithm": sm2.OID_EC_PUBLIC_KEY,
                "parameters": core.ObjectIdentifier(sm2.OID_SM2_CURVE),
            },
            "private_key": sec1,
        }
    )
    return bytes(info.dump())


def private_key_to_der(
    key: sm2.Sm2PrivateKey, passphrase: bytes | str | None, *, scrypt_n: int = SCRYPT_N
) -> bytes:
    """PKCS#8 DER; encrypted (PBES2, scrypt, AES-256-CBC) unless ``passphrase`` is None."""
    plain = _pkcs8_der(key)
    pw = _as_bytes(passphrase)
    if pw is None:
        return plain
    return encrypt_pkcs8(plain, pw, scrypt_n)


def private_key_to_pem(
    key: sm2.Sm2PrivateKey, passphrase: bytes | str | None, *, scrypt_n: int = SCRYPT_N
) -> bytes:
    """PEM ``ENCRYPTED PRIVATE KEY`` (or ``PRIVATE KEY`` when ``passphrase`` is None)."""
    der = private_key_to_der(key, passphrase, scrypt_n=scrypt_n)
    kind = "PRIVATE KEY" if passphrase is None else "ENCRYPTED PRIVATE KEY"
    return bytes(pem.armor(kind, der))


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def save_private_key(
    path: Path | str,
    key: sm2.Sm2PrivateKey,
    passphrase: bytes | str,
    *,
    scrypt_n: int = SCRYPT_N,
) -> Path:
    """Write ``key`` encrypted under ``passphrase`` to ``path`` (mode 0600)."""
    if not _as_bytes(passphrase):
        raise KeyPassphraseError("a passphrase is required to store a private key")
    out = Path(path)
    _write_private(out, private_key_to_pem(key, passphrase, scrypt_n=scrypt_n))
    return out


def load_public_key(data: bytes, *, backend: sm2.Sm2Backend | None = None) -> sm2.Sm2PublicKey:
    """An SM2 public key from PEM ``PUBLIC KEY`` or DER SubjectPublicKeyInfo."""
    for kind, der, _headers in _blocks(data):
        if kind not in ("PUBLIC KEY", "DER"):
            continue
        return public_key_from_spki(der, backend=backend)
    raise KeyFormatError("no public key found (expected a PEM PUBLIC KEY block or DER)")


def public_key_from_spki(der: bytes, *, backend: sm2.Sm2Backend | None = None) -> sm2.Sm2PublicKey:
    """An SM2 public key from DER SubjectPublicKeyInfo; raises :class:`KeyFormatError`."""
    try:
        spki = _SubjectPublicKeyInfo.load(bytes(der), strict=True)
        alg = spki["algorithm"]["algorithm"].dotted
        params = spki["algorithm"]["parameters"]
        curve = (
            core.ObjectIdentifier.load(params.dump()).dotted if params.native is not None else None
        )
        point = _bitstring_bytes(spki["public_key"])
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFormatError(f"public key: bad DER ({exc})") from exc
    if alg not in (sm2.OID_EC_PUBLIC_KEY, sm2.OID_SM2_CURVE):
        raise KeyFormatError(f"public key: algorithm {alg} is not EC/SM2")
    _curve_ok(curve, "public key")
    try:
        return sm2.Sm2PublicKey.from_point(point, backend)
    except SealError as exc:
        if says_nothing_of_the_input(exc):  # this machine's SM2 failed, not the key
            raise
        raise KeyFormatError(f"public key: {exc}", code=exc.code) from exc


def public_key_to_pem(key: sm2.Sm2PublicKey) -> bytes:
    """PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo)."""
    return bytes(pem.armor("PUBLIC KEY", key.spki_der()))


def account_key_to_pem(
    secret: bytes, passphrase: bytes | str, *, scrypt_n: int = SCRYPT_N
) -> bytes:
    """A chain account's 32-byte secp256k1 key as PEM ``ENCRYPTED PRIVATE KEY`` (PKCS#8,
    encrypted as :func:`private_key_to_pem` encrypts SM2 keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pw = _as_bytes(passphrase)
    if not pw:
        raise KeyPassphraseError("a passphrase is required to store a private key")
    try:
        key = ec.derive_private_key(int.from_bytes(bytes(secret), "big"), ec.SECP256K1())
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a secp256k1 private key: {exc}") from exc
    plain = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return bytes(pem.armor("ENCRYPTED PRIVATE KEY", encrypt_pkcs8(plain, pw, scrypt_n)))


def load_account_key(data: bytes, passphrase: bytes | str | None) -> bytes:
    """The 32-byte secp256k1 key of :func:`account_key_to_pem`'s PEM. Raises
    :class:`KeyPassphraseError` (wrong passphrase) or :class:`KeyFormatError`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pw = _as_bytes(passphrase)
    for kind, der, _headers in _blocks(data):
        if kind != "ENCRYPTED PRIVATE KEY":
            continue
        plain = decrypt_pkcs8(der, pw)
        try:
            key = serialization.load_der_private_key(plain, None)
        except (ValueError, TypeError) as exc:
            raise KeyPassphraseError(
                "encrypted private key: wrong passphrase (or a corrupted key file)"
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256K1
        ):
            raise KeyFormatError("the encrypted key is not a secp256k1 (chain account) key")
        return key.private_numbers().private_value.to_bytes(32, "big")
    raise KeyFormatError("no ENCRYPTED PRIVATE KEY block found")


def save_account_key(
    path: Path | str, secret: bytes, passphrase: bytes | str, *, scrypt_n: int = SCRYPT_N
) -> Path:
    """Write a chain account key encrypted under ``passphrase`` to ``path`` (mode 0600,
    written to a temporary file and renamed)."""
    out = Path(path)
    _write_private(out, account_key_to_pem(secret, passphrase, scrypt_n=scrypt_n))
    return out


def load_or_create_kek(path: Path | str) -> bytes:
    """The key-encryption passphrase kept in ``path``; created (random, mode 0600) if missing."""
    p = Path(path)
    if p.exists():
        value = p.read_bytes().strip()
        if not value:
            raise KeyPassphraseError(f"key-encryption key file {p} is empty")
        return value
    value = secrets.token_hex(32).encode()
    _write_private(p, value + b"\n")
    return value
