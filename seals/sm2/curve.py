"""The curve sm2p256v1 and the byte formats of SM2: parameters, OIDs, points, key DER,
signature DER and ``Z`` (GB/T 32918). No library binding: pure Python, shared by every backend.
"""

from __future__ import annotations

from seals.errors import Sm2BadKey, Sm2BadSignature, Sm2Error
from seals.sm3 import sm3

DEFAULT_ID = b"1234567812345678"
"""The default signer ID of GB/T 35276 (ASCII ``1234567812345678``)."""

# Curve sm2p256v1 (GB/T 32918.5).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_SM2_SIGN = "1.2.156.10197.1.301.1"
OID_SM3 = "1.2.156.10197.1.401"
OID_SM2_WITH_SM3 = "1.2.156.10197.1.501"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"

# DER prefixes of the fixed-layout encodings of an SM2 key.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_SEC1_PREFIX = bytes.fromhex("307702010104")  # SEQUENCE, version 1, OCTET STRING tag
_SEC1_CURVE = bytes.fromhex("a00a06082a811ccf5501822d")
_SEC1_PUB = bytes.fromhex("a144034200")


# ------------------------------------------------------------------------ curve helpers


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def normalize_point(point: bytes) -> bytes:
    """The 65-byte uncompressed form of an SM2 public point; raises :class:`Sm2BadKey`.

    Accepts ``04‖x‖y`` (65 bytes), bare ``x‖y`` (64 bytes) and compressed ``02/03‖x``.
    """
    point = bytes(point)
    if len(point) == 64:
        point = b"\x04" + point
    if len(point) == 65 and point[0] == 4:
        x = int.from_bytes(point[1:33], "big")
        y = int.from_bytes(point[33:], "big")
    elif len(point) == 33 and point[0] in (2, 3):
        x = int.from_bytes(point[1:], "big")
        if x >= P:
            raise Sm2BadKey("SM2 public point: x is not a field element")
        y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)
        if y % 2 != point[0] - 2:
            y = P - y
    else:
        raise Sm2BadKey(f"SM2 public point: unsupported encoding ({len(point)} bytes)")
    if not _on_curve(x, y):
        raise Sm2BadKey("SM2 public point is not on the curve sm2p256v1")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _check_secret(secret: int) -> None:
    if not 1 <= secret < N - 1:
        raise Sm2BadKey("SM2 private key out of range [1, n-2]")


def spki_der(point: bytes) -> bytes:
    """DER SubjectPublicKeyInfo (id-ecPublicKey, curve sm2p256v1) of an uncompressed point."""
    return _SPKI_PREFIX + normalize_point(point)


def sec1_der(secret: int, point: bytes) -> bytes:
    """DER SEC1 ``ECPrivateKey`` (with curve and public key) of an SM2 key."""
    return (
        _SEC1_PREFIX
        + b"\x20"
        + secret.to_bytes(32, "big")
        + _SEC1_CURVE
        + _SEC1_PUB
        + normalize_point(point)
    )


# ------------------------------------------------------------------- signature encoding


def _der_int(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(body)]) + body


def encode_signature(r: int, s: int) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` (r, s in ``[1, n-1]``)."""
    if not (1 <= r < N and 1 <= s < N):
        raise Sm2BadSignature("SM2 signature: r or s out of range")
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def decode_signature(signature: bytes) -> tuple[int, int]:
    """``(r, s)`` of a strict DER SM2 signature; raises :class:`Sm2BadSignature`.

    Rejects BER forms, trailing bytes, negative or zero values and values ``>= n``.
    """
    sig = bytes(signature)
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2 or sig[1] >= 0x80:
        raise Sm2BadSignature("SM2 signature: not a DER SEQUENCE of the right length")
    values: list[int] = []
    pos = 2
    for _ in range(2):
        if pos + 2 > len(sig) or sig[pos] != 0x02:
            raise Sm2BadSignature("SM2 signature: expected an INTEGER")
        length = sig[pos + 1]
        body = sig[pos + 2 : pos + 2 + length]
        if length == 0 or length > 33 or len(body) != length:
            raise Sm2BadSignature("SM2 signature: bad INTEGER length")
        if body[0] & 0x80 or (length > 1 and body[0] == 0 and not body[1] & 0x80):
            raise Sm2BadSignature("SM2 signature: INTEGER not minimally encoded or negative")
        values.append(int.from_bytes(body, "big"))
        pos += 2 + length
    if pos != len(sig):
        raise Sm2BadSignature("SM2 signature: trailing bytes")
    r, s = values
    if not (1 <= r < N and 1 <= s < N):
        raise Sm2BadSignature("SM2 signature: r or s out of range [1, n-1]")
    return r, s


def z_value(public_point: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GB/T 32918.2, 5.5)."""
    point = normalize_point(public_point)
    entl = len(signer_id) * 8
    if entl > 0xFFFF:
        raise Sm2Error("SM2 signer ID too long")
    return sm3(
        entl.to_bytes(2, "big")
        + signer_id
        + A.to_bytes(32, "big")
        + B.to_bytes(32, "big")
        + GX.to_bytes(32, "big")
        + GY.to_bytes(32, "big")
        + point[1:]
    )
