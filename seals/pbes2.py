"""PKCS#8 encryption at rest (PBES2, RFC 8018): decrypt what OpenSSL writes (PBKDF2 or scrypt;
AES-CBC or SM4-CBC) and encrypt the one way this project stores keys (scrypt, AES-256-CBC).
Knows nothing of SM2: it turns a ``PrivateKeyInfo`` into an ``EncryptedPrivateKeyInfo`` and
back; ``seals.keys`` owns the key formats around it.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from asn1crypto import core
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from seals.errors import KeyFormatError, KeyPassphraseError

_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_PRFS: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.113549.2.7": hashes.SHA1,
    "1.2.840.113549.2.9": hashes.SHA256,
    "1.2.840.113549.2.10": hashes.SHA384,
    "1.2.840.113549.2.11": hashes.SHA512,
}
_CIPHERS: dict[str, tuple[str, int]] = {
    "2.16.840.1.101.3.4.1.2": ("aes", 16),
    "2.16.840.1.101.3.4.1.22": ("aes", 24),
    "2.16.840.1.101.3.4.1.42": ("aes", 32),
    "1.2.156.10197.1.104.2": ("sm4", 16),
}
_AES256_CBC = "2.16.840.1.101.3.4.1.42"

SCRYPT_N = 16384
"""scrypt cost used when encrypting (OpenSSL's ``-scrypt`` default; fits its 32 MiB limit)."""


class AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    """X.509 ``AlgorithmIdentifier``: an OID and optional parameters."""

    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _EncryptedPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("encryption_algorithm", AlgorithmIdentifier),
        ("encrypted_data", core.OctetString),
    ]


class _Pbes2Params(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("key_derivation_func", AlgorithmIdentifier),
        ("encryption_scheme", AlgorithmIdentifier),
    ]


class _Pbkdf2Params(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("salt", core.OctetString),
        ("iteration_count", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
        ("prf", AlgorithmIdentifier, {"optional": True}),
    ]


class _ScryptParams(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("salt", core.OctetString),
        ("cost", core.Integer),
        ("block_size", core.Integer),
        ("parallelization", core.Integer),
        ("key_length", core.Integer, {"optional": True}),
    ]


def decrypt_pkcs8(der: bytes, passphrase: bytes | None) -> bytes:
    if not passphrase:
        raise KeyPassphraseError("encrypted private key: a passphrase is needed")
    try:
        info = _EncryptedPrivateKeyInfo.load(der, strict=True)
        if info["encryption_algorithm"]["algorithm"].dotted != _OID_PBES2:
            raise KeyFormatError(
                "encrypted private key: only PBES2 is supported "
                f"(found {info['encryption_algorithm']['algorithm'].dotted})"
            )
        p2 = _Pbes2Params.load(info["encryption_algorithm"]["parameters"].dump())
        kdf_oid = p2["key_derivation_func"]["algorithm"].dotted
        kdf_params = p2["key_derivation_func"]["parameters"].dump()
        enc_oid = p2["encryption_scheme"]["algorithm"].dotted
        iv = core.OctetString.load(p2["encryption_scheme"]["parameters"].dump()).native
        data = info["encrypted_data"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyFormatError(f"encrypted private key: bad DER ({exc})") from exc
    if enc_oid not in _CIPHERS:
        raise KeyFormatError(f"encrypted private key: unsupported cipher {enc_oid}")
    cipher_name, key_len = _CIPHERS[enc_oid]
    try:
        if kdf_oid == _OID_PBKDF2:
            kp = _Pbkdf2Params.load(kdf_params)
            prf_oid = (
                kp["prf"]["algorithm"].dotted
                if kp["prf"].native is not None
                else "1.2.840.113549.2.7"
            )
            if prf_oid not in _PRFS:
                raise KeyFormatError(f"encrypted private key: unsupported PRF {prf_oid}")
            iterations = kp["iteration_count"].native
            if not 1 <= iterations <= 10_000_000:
                raise KeyFormatError("encrypted private key: PBKDF2 iteration count out of range")
            key = PBKDF2HMAC(_PRFS[prf_oid](), key_len, kp["salt"].native, iterations).derive(
                passphrase
            )
        elif kdf_oid == _OID_SCRYPT:
            sp = _ScryptParams.load(kdf_params)
            n, r, p = sp["cost"].native, sp["block_size"].native, sp["parallelization"].native
            if not (1 < n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
                raise KeyFormatError("encrypted private key: scrypt parameters out of range")
            key = Scrypt(sp["salt"].native, key_len, n, r, p).derive(passphrase)
        else:
            raise KeyFormatError(f"encrypted private key: unsupported key derivation {kdf_oid}")
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"encrypted private key: bad parameters ({exc})") from exc
    if not isinstance(iv, bytes) or len(iv) != 16 or not data or len(data) % 16:
        raise KeyFormatError("encrypted private key: bad IV or ciphertext length")
    algo = algorithms.AES(key) if cipher_name == "aes" else algorithms.SM4(key)
    dec = Cipher(algo, modes.CBC(iv)).decryptor()
    padded = dec.update(data) + dec.finalize()
    unpad = padding.PKCS7(128).unpadder()
    try:
        return unpad.update(padded) + unpad.finalize()
    except ValueError as exc:
        raise KeyPassphraseError("encrypted private key: wrong passphrase") from exc


def encrypt_pkcs8(plain: bytes, pw: bytes, scrypt_n: int = SCRYPT_N) -> bytes:
    """A PKCS#8 ``PrivateKeyInfo`` encrypted the one way this project stores keys: PBES2 with
    scrypt (``scrypt_n``, r=8, p=1) and AES-256-CBC."""
    if not pw:
        raise KeyPassphraseError("an empty passphrase cannot protect a private key")
    salt, iv = secrets.token_bytes(16), secrets.token_bytes(16)
    kek = Scrypt(salt, 32, scrypt_n, 8, 1).derive(pw)
    pad = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(pad.update(plain) + pad.finalize()) + enc.finalize()
    scrypt_params = _ScryptParams(
        {"salt": salt, "cost": scrypt_n, "block_size": 8, "parallelization": 1, "key_length": 32}
    )
    pbes2 = _Pbes2Params(
        {
            "key_derivation_func": {"algorithm": _OID_SCRYPT, "parameters": scrypt_params},
            "encryption_scheme": {"algorithm": _AES256_CBC, "parameters": core.OctetString(iv)},
        }
    )
    out = _EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {"algorithm": _OID_PBES2, "parameters": pbes2},
            "encrypted_data": ciphertext,
        }
    )
    return bytes(out.dump())
