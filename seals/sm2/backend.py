"""The protocol every SM2 backend implements (native C, libcrypto via cffi, gmssl-pyx)."""

from __future__ import annotations

from typing import Any, Protocol


class Sm2Backend(Protocol):
    """What a provider of SM2 must offer. Handles are backend-specific opaque objects."""

    name: str

    def generate(self) -> tuple[int, bytes, Any]:
        """A new key: ``(secret, uncompressed point, private handle)``."""
        ...

    def private_handle(self, secret: int, point: bytes) -> Any: ...

    def public_handle(self, point: bytes) -> Any: ...

    def derive_point(self, secret: int) -> bytes:
        """The public point ``secret·G`` (65 bytes)."""
        ...

    def sign(self, handle: Any, data: bytes, signer_id: bytes) -> bytes: ...

    def verify(self, handle: Any, data: bytes, signature: bytes, signer_id: bytes) -> bool: ...

