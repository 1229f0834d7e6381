"""The SM2 backend over the ``gmssl-pyx`` package (GmSSL 3), for when libcrypto lacks SM2."""

from __future__ import annotations

from typing import Any

from seals.errors import Sm2BadKey, Sm2Error, Sm2Unavailable
from seals.sm2.curve import normalize_point


class GmsslBackend:
    """SM2 through the ``gmssl-pyx`` package (GmSSL 3), used when libcrypto lacks SM2."""

    name = "gmssl-pyx"

    def __init__(self) -> None:
        try:
            import gmssl_pyx  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError as exc:
            raise Sm2Unavailable("the gmssl-pyx package is not installed") from exc
        self._g: Any = gmssl_pyx
        self.version = str(getattr(gmssl_pyx, "__version__", "?"))

    def generate(self) -> tuple[int, bytes, Any]:
        pub, priv = self._g.sm2_key_generate()
        secret = int.from_bytes(priv, "big")
        point = normalize_point(b"\x04" + pub)
        return secret, point, (priv, pub)

    def private_handle(self, secret: int, point: bytes) -> Any:
        return (secret.to_bytes(32, "big"), normalize_point(point)[1:])

    def public_handle(self, point: bytes) -> Any:
        return normalize_point(point)[1:]

    def derive_point(self, secret: int) -> bytes:
        raise Sm2BadKey(
            "the gmssl-pyx backend cannot derive a public key: the key file must contain it"
        )

    def sign(self, handle: Any, data: bytes, signer_id: bytes) -> bytes:
        priv, pub = handle
        try:
            return bytes(self._g.sm2_sign(priv, pub, bytes(data), signer_id))
        except self._g.GmsslInnerError as exc:
            raise Sm2Error(f"gmssl-pyx SM2 sign failed: {exc}") from exc

    def verify(self, handle: Any, data: bytes, signature: bytes, signer_id: bytes) -> bool:
        try:
            return bool(self._g.sm2_verify(handle, bytes(data), signature, signer_id))
        except self._g.GmsslInnerError:
            return False

