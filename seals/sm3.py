"""The SM3 digest (GB/T 32905): one reference, one fast path, chosen here and nowhere else.

Every SM3 of Zhengyin in Python goes through this module (``seals.sm2``, ``certs``, the PDF
verifier). The names:

- ``sm3(data) -> bytes``: the 32-byte digest, by the implementation selected below.
- ``sm3_prefixed(prefix) -> (data -> SM3(prefix ‖ data))``: hashes ``prefix`` once and copies
  that state for each call (SM2's ``e = SM3(Z ‖ M)`` per key and signer ID).
- ``new_hasher() -> Sm3Hasher``: an incremental hasher (``update``, ``copy``, ``digest``).
- ``sm3_reference(data)``: the reference itself, for the tests that hold the fast path equal.
- ``IMPLEMENTATION``: ``"hashlib"`` or ``"cryptography"``, the one in use.

The reference is pyca/cryptography's ``hashes.SM3``. It is already a runtime dependency (the
key store uses it), and its wheels carry their own OpenSSL build with SM3 always compiled in,
so the reference does not depend on how the system's OpenSSL or Python's ``hashlib`` were built
(``hashlib.new("sm3")`` is missing where OpenSSL was built without SM3 or runs in FIPS mode).
It is a reviewed binding used by many projects, where a cffi binding of our own (as
``seals.sm2.libcrypto`` has for SM2) would be one more piece of code to trust.

The fast path is ``hashlib``'s OpenSSL SM3 from a copied prepared hasher, used when ``hashlib``
offers SM3: copying skips OpenSSL 3's algorithm fetch on every call, which makes a short hash
markedly cheaper (bench/PERFORMANCE.md, "SM3: the fast path"), and that matters for per-field
digests and Merkle trees.
Both are OpenSSL's SM3 code; tests/seals/test_sm3.py holds them equal on the GB/T 32905
known answers and on random inputs of every padding length.
``certs/_claims.c`` has an SM3 of its own inside the native issuance path (see that file); it
is tested against :func:`sm3_reference` too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes

DIGEST_SIZE = 32


class Sm3Hasher(Protocol):
    """An incremental SM3: ``update`` any number of times, ``copy`` the state, ``digest``."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def copy(self) -> Sm3Hasher: ...

    def digest(self) -> bytes: ...


class _ReferenceHasher:
    """:class:`Sm3Hasher` over cryptography's ``hashes.Hash`` (whose ``finalize`` ends it)."""

    __slots__ = ("_h",)

    def __init__(self, h: Any = None) -> None:
        self._h: Any = hashes.Hash(hashes.SM3()) if h is None else h

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self._h.update(data)

    def copy(self) -> _ReferenceHasher:
        return _ReferenceHasher(self._h.copy())

    def digest(self) -> bytes:
        return bytes(self._h.copy().finalize())


def sm3_reference(data: bytes | bytearray | memoryview) -> bytes:
    """SM3 of ``data`` by the reference (pyca/cryptography)."""
    h = hashes.Hash(hashes.SM3())
    h.update(bytes(data))
    return h.finalize()


def _hashlib_prototype() -> Any:
    try:
        return hashlib.new("sm3")
    except ValueError:
        return None


_PROTOTYPE = _hashlib_prototype()

IMPLEMENTATION = "hashlib" if _PROTOTYPE is not None else "cryptography"
"""Which SM3 is in use: ``hashlib`` (the fast path) when it offers SM3, else the reference."""


def _sm3_hashlib(data: bytes | bytearray | memoryview) -> bytes:
    hasher = _PROTOTYPE.copy()
    hasher.update(data)
    return bytes(hasher.digest())


def new_hasher() -> Sm3Hasher:
    """A fresh incremental SM3 of the selected implementation."""
    if _PROTOTYPE is not None:
        hasher: Sm3Hasher = _PROTOTYPE.copy()
        return hasher
    return _ReferenceHasher()


def sm3_prefixed(prefix: bytes | bytearray | memoryview) -> Callable[[bytes], bytes]:
    """``data -> SM3(prefix ‖ data)``, copying the hash state taken after ``prefix``."""
    state = new_hasher()
    state.update(prefix)

    def digest(data: bytes) -> bytes:
        h = state.copy()
        h.update(data)
        return h.digest()

    return digest


sm3: Callable[[bytes | bytearray | memoryview], bytes] = (
    _sm3_hashlib if _PROTOTYPE is not None else sm3_reference
)
"""``sm3(data) -> 32-byte digest`` by the selected implementation."""
