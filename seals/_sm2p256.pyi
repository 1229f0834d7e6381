"""Type stub of the C extension ``seals._sm2p256`` (source: ``seals/_sm2p256.c``).

SM2 (GB/T 32918.2) arithmetic on sm2p256v1. Scalars, digests and coordinates are 32-byte
big-endian ``bytes``; points are 64 bytes ``x ‖ y``. ``ValueError`` for wrong lengths or
out-of-range values, ``TypeError`` for non-``bytes`` arguments.
"""

from typing import final

def derive_point(secret: bytes, /) -> bytes:
    """``secret·G`` (``x ‖ y``) for ``secret`` in ``[1, n-1]``; constant time."""

def sign_setup(secret: bytes, /) -> bytes:
    """``(1 + d)^-1 mod n`` for a private key ``d`` in ``[1, n-2]``; constant time."""

def sign(dinv: bytes, digest: bytes, randomness: bytes, /) -> tuple[bytes, bytes] | None:
    """One signature attempt with ``k = randomness mod n`` (64 fresh OS random bytes).

    ``(r, s)``, or ``None`` when this nonce must be rejected (try again with new randomness).
    Constant time in ``d`` and ``k``.
    """

def sign_with_k(dinv: bytes, digest: bytes, k: bytes, /) -> tuple[bytes, bytes] | None:
    """TESTS ONLY (known-answer vectors): sign with the given nonce ``k`` in ``[1, n-1]``."""

def sign_many(dinv: bytes, digests: bytes, randomness: bytes, /) -> tuple[bytes, bytes]:
    """Many signature attempts sharing one field inversion: ``digests`` 32 bytes each,
    ``randomness`` 64 fresh OS bytes each. ``(rs, ok)``: ``r ‖ s`` of attempt ``i`` at
    ``64 i``; ``ok[i] == 0`` where that nonce must be rejected. Constant time."""

def sign_many_with_k(dinv: bytes, digests: bytes, ks: bytes, /) -> tuple[bytes, bytes]:
    """TESTS ONLY: :func:`sign_many` with given nonces (32 bytes each, in ``[0, n-1]``)."""

@final
class PublicKey:
    """A public key, checked to be on the curve; its table is built on its 8th verification."""

    def __init__(self, point: bytes, /) -> None: ...
    def verify(self, digest: bytes, r: bytes, s: bytes, /) -> bool:
        """Whether ``(r, s)`` is a valid signature of ``digest`` (``e``) under this key."""

    def precompute(self) -> None:
        """Build the key's table now."""

    @property
    def precomputed(self) -> bool: ...
    @property
    def point(self) -> bytes: ...
