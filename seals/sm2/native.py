"""The SM2 backend in C (the ``seals._sm2p256`` extension built from ``seals/_sm2p256.c``):
``Z`` and ``e = SM3(Z ‖ M)`` are computed here, the curve arithmetic in C."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from seals.errors import Sm2BadKey, Sm2BadSignature, Sm2Error, Sm2Unavailable
from seals.sm2.curve import (
    N,
    _check_secret,
    decode_signature,
    encode_signature,
    normalize_point,
    z_value,
)
from seals.sm3 import sm3_prefixed


class _NativeKeyState:
    """Per-key state of :class:`NativeBackend`: the point and ``e = SM3(Z ‖ ·)`` per signer ID."""

    __slots__ = ("_digests", "point")

    def __init__(self, point: bytes) -> None:
        self.point = point
        self._digests: dict[bytes, Callable[[bytes], bytes]] = {}

    def digest(self, data: bytes, signer_id: bytes) -> bytes:
        """``e = SM3(Z ‖ data)`` with ``Z`` for ``signer_id`` and this key."""
        fn = self._digests.get(signer_id)
        if fn is None:
            if len(self._digests) >= 16:
                self._digests.clear()
            fn = self._digests[signer_id] = sm3_prefixed(z_value(self.point, signer_id))
        return fn(data)


class _NativePrivateHandle(_NativeKeyState):
    __slots__ = ("dinv",)

    def __init__(self, point: bytes, dinv: bytes) -> None:
        super().__init__(point)
        self.dinv = dinv  # (1 + d)^-1 mod n, 32 bytes: all that signing needs of the key


class _NativePublicHandle(_NativeKeyState):
    __slots__ = ("key",)

    def __init__(self, point: bytes, key: Any) -> None:
        super().__init__(point)
        self.key = key  # a seals._sm2p256.PublicKey (table built on its 8th verification)


_SIGN_ATTEMPTS = 64


class NativeBackend:
    """SM2 in C: the ``seals._sm2p256`` extension (``seals/_sm2p256.c``), preferred when built.

    Signing is constant time in the private key and the nonce; the nonce comes from 64 bytes
    of ``os.urandom`` reduced mod n. ``Z`` and ``e`` are computed here with :func:`sm3`.
    """

    name = "native"

    def __init__(self) -> None:
        try:
            from seals import _sm2p256
        except ImportError as exc:
            raise Sm2Unavailable(
                f"the seals._sm2p256 extension is not built (run make setup): {exc}"
            ) from exc
        self._m = _sm2p256
        self.version = "seals._sm2p256"

    def generate(self) -> tuple[int, bytes, Any]:
        secret = secrets.randbelow(N - 2) + 1  # uniform in [1, n-2]
        point = self.derive_point(secret)
        return secret, point, self.private_handle(secret, point)

    def private_handle(self, secret: int, point: bytes) -> _NativePrivateHandle:
        _check_secret(secret)
        return _NativePrivateHandle(
            normalize_point(point), self._m.sign_setup(secret.to_bytes(32, "big"))
        )

    def public_handle(self, point: bytes) -> _NativePublicHandle:
        point = normalize_point(point)
        try:
            key = self._m.PublicKey(point[1:])
        except ValueError as exc:  # pragma: no cover - normalize_point checked the curve
            raise Sm2BadKey(f"SM2 public point: {exc}") from exc
        return _NativePublicHandle(point, key)

    def derive_point(self, secret: int) -> bytes:
        if not 1 <= secret < N:
            raise Sm2BadKey("SM2 private key out of range [1, n-1]")
        return b"\x04" + self._m.derive_point(secret.to_bytes(32, "big"))

    def sign(self, handle: _NativePrivateHandle, data: bytes, signer_id: bytes) -> bytes:
        e = handle.digest(data, signer_id)
        sign, dinv = self._m.sign, handle.dinv
        for _ in range(_SIGN_ATTEMPTS):  # a retry has probability ~2^-254
            rs = sign(dinv, e, os.urandom(64))
            if rs is not None:
                r, s = rs
                return encode_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
        raise Sm2Error("SM2 signing: no usable nonce (is the OS random generator broken?)")

    def sign_many(
        self, handle: _NativePrivateHandle, datas: Sequence[bytes], signer_id: bytes
    ) -> list[bytes]:
        """:meth:`sign` of each, the nonces' points made affine with one shared inversion
        (about a quarter less work a signature)."""
        if not datas:
            return []
        digests = b"".join([handle.digest(data, signer_id) for data in datas])
        rs, ok = self._m.sign_many(handle.dinv, digests, os.urandom(64 * len(datas)))
        out: list[bytes] = []
        for i, data in enumerate(datas):
            if ok[i]:
                r = int.from_bytes(rs[64 * i : 64 * i + 32], "big")
                s = int.from_bytes(rs[64 * i + 32 : 64 * i + 64], "big")
                out.append(encode_signature(r, s))
            else:  # a nonce to reject (probability ~2^-254): sign this one afresh
                out.append(self.sign(handle, data, signer_id))
        return out

    def verify(
        self, handle: _NativePublicHandle, data: bytes, signature: bytes, signer_id: bytes
    ) -> bool:
        try:
            r, s = decode_signature(signature)
        except Sm2BadSignature:
            return False
        return self.verify_rs(handle, data, r, s, signer_id)

    def verify_rs(
        self, handle: _NativePublicHandle, data: bytes, r: int, s: int, signer_id: bytes
    ) -> bool:
        """Verify decoded ``(r, s)`` (each in ``[1, n-1]``, checked again in C)."""
        return bool(
            handle.key.verify(
                handle.digest(data, signer_id), r.to_bytes(32, "big"), s.to_bytes(32, "big")
            )
        )
