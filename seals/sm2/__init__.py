"""SM2 signatures (GB/T 32918): keys, signers and the choice of backend — the only libcrypto
binding. This module owns the public API and the backend registry; the rest lives beside it:
``curve`` (parameters, OIDs, point/key/signature DER, ``Z``), ``backend`` (the protocol),
``native``, ``libcrypto`` and ``gmssl`` (one backend each). SM3 is ``seals.sm3``.

Stable API for the rest of Zhengyin (other packages import these names):

- ``sm3(data) -> bytes``: the 32-byte SM3 digest (re-exported from :mod:`seals.sm3`).
- ``DEFAULT_ID``: ``b"1234567812345678"``, the GB/T 35276 default signer ID.
- ``generate_private_key(backend=None) -> Sm2PrivateKey``.
- ``Sm2PrivateKey.from_secret(secret, public_point=None, backend=None)`` and
  ``Sm2PublicKey.from_point(point, backend=None)`` (65-byte uncompressed or 33-byte compressed).
- ``Sm2PrivateKey.sign(data, *, signer_id=DEFAULT_ID) -> bytes``: DER ``SEQUENCE{r, s}`` over
  ``SM3(Z ‖ data)``; ``Z`` is computed from ``signer_id`` and the public key.
- ``verify(public_key, data, signature, *, signer_id=DEFAULT_ID) -> None``: raises
  :class:`~seals.errors.Sm2BadSignature` (code ``sm2_bad_signature``) on any failure: wrong
  key, wrong ID, altered data, r or s out of ``[1, n-1]``, non-DER or trailing bytes.
  ``Sm2PublicKey.verify`` is the same.
- ``Signer``: the protocol every signer implements (``public_key``, ``signer_id``,
  ``sign_raw(data) -> DER signature``), so an HSM or a remote signing service can replace the
  in-memory :class:`KeySigner`.
- ``z_value(public_key, signer_id)``, ``encode_signature(r, s)``, ``decode_signature(der)``.

Backends, preferred first: :class:`NativeBackend` (``native``) is the project's own C code,
the extension ``seals._sm2p256`` built from ``seals/_sm2p256.c`` by ``make setup`` (constant-time
signing, precomputed tables; far faster than OpenSSL's generic SM2: bench/PERFORMANCE.md,
"SM2: the native backend");
:class:`LibcryptoBackend` binds the system's OpenSSL 3 libcrypto with cffi (ABI mode, no
compiler) and is the reference peer in the tests; when that library lacks SM2,
:class:`GmsslBackend` (the ``gmssl-pyx`` package, a wrapper of GmSSL) serves behind the same
interface. ``default_backend()`` picks the first that works (native unless the extension is not
built); ``available_backends()`` lists all, so the tests run against each. The signer ID is
always passed explicitly to the library (OpenSSL's own default is an empty ID); the native
backend computes ``Z`` and ``e = SM3(Z ‖ M)`` here and caches the SM3 state after ``Z`` per key
and signer ID.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from seals.errors import Sm2BadKey, Sm2BadSignature, Sm2Unavailable
from seals.sm2.backend import Sm2Backend
from seals.sm2.curve import (
    DEFAULT_ID,
    GX,
    GY,
    OID_EC_PUBLIC_KEY,
    OID_SM2_CURVE,
    OID_SM2_SIGN,
    OID_SM2_WITH_SM3,
    OID_SM3,
    A,
    B,
    N,
    P,
    _check_secret,
    decode_signature,
    encode_signature,
    normalize_point,
    sec1_der,
    spki_der,
    z_value,
)
from seals.sm2.curve import (
    _der_int as _der_int,
)
from seals.sm2.gmssl import GmsslBackend
from seals.sm2.libcrypto import LibcryptoBackend
from seals.sm2.native import NativeBackend
from seals.sm3 import sm3

__all__ = [
    "DEFAULT_ID",
    "GX",
    "GY",
    "OID_EC_PUBLIC_KEY",
    "OID_SM2_CURVE",
    "OID_SM2_SIGN",
    "OID_SM2_WITH_SM3",
    "OID_SM3",
    "A",
    "B",
    "GmsslBackend",
    "KeySigner",
    "LibcryptoBackend",
    "N",
    "NativeBackend",
    "P",
    "Signer",
    "Sm2Backend",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "available_backends",
    "decode_signature",
    "default_backend",
    "encode_signature",
    "generate_private_key",
    "get_backend",
    "normalize_point",
    "sec1_der",
    "sm3",
    "spki_der",
    "verify",
    "z_value",
]

_BACKEND_FACTORIES: dict[str, Callable[[], Sm2Backend]] = {
    "native": NativeBackend,
    "libcrypto": LibcryptoBackend,
    "gmssl-pyx": GmsslBackend,
}
_backends: dict[str, Sm2Backend | Sm2Unavailable] = {}
_backends_lock = threading.Lock()


def get_backend(name: str) -> Sm2Backend:
    """The named backend (``native``, ``libcrypto`` or ``gmssl-pyx``); raises
    :class:`Sm2Unavailable`."""
    with _backends_lock:
        if name not in _backends:
            factory = _BACKEND_FACTORIES.get(name)
            if factory is None:
                raise Sm2Unavailable(f"unknown SM2 backend {name!r}")
            try:
                _backends[name] = factory()
            except Sm2Unavailable as exc:
                _backends[name] = exc
        found = _backends[name]
    if isinstance(found, Sm2Unavailable):
        raise found
    return found


def available_backends() -> list[Sm2Backend]:
    """Every backend that loads on this machine, preferred first."""
    out: list[Sm2Backend] = []
    for name in _BACKEND_FACTORIES:
        try:
            out.append(get_backend(name))
        except Sm2Unavailable:
            continue
    return out


def default_backend() -> Sm2Backend:
    """native when the extension is built, else libcrypto when it has SM2, else gmssl-pyx;
    raises :class:`Sm2Unavailable`."""
    backends = available_backends()
    if not backends:
        raise Sm2Unavailable(
            "no SM2 backend: the seals._sm2p256 extension, OpenSSL 3 libcrypto with SM2 or the "
            "gmssl-pyx package is needed"
        )
    return backends[0]


# -------------------------------------------------------------------------------- keys


class Sm2PublicKey:
    """An SM2 public key (a point on sm2p256v1), bound to a backend for verification."""

    __slots__ = ("_backend", "_ctx_pool", "_handle", "_point")

    def __init__(self, point: bytes, backend: Sm2Backend | None = None) -> None:
        self._point = normalize_point(point)
        self._backend = backend or default_backend()
        self._handle = self._backend.public_handle(self._point)
        self._ctx_pool: list[Any] = []

    @classmethod
    def from_point(cls, point: bytes, backend: Sm2Backend | None = None) -> Sm2PublicKey:
        """From ``04‖x‖y``, ``x‖y`` or compressed ``02/03‖x``; raises :class:`Sm2BadKey`."""
        return cls(point, backend)

    @property
    def point(self) -> bytes:
        """The 65-byte uncompressed point ``04‖x‖y``."""
        return self._point

    @property
    def backend(self) -> Sm2Backend:
        return self._backend

    def spki_der(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        return spki_der(self._point)

    def with_backend(self, backend: Sm2Backend) -> Sm2PublicKey:
        return Sm2PublicKey(self._point, backend)

    def verify(self, data: bytes, signature: bytes, *, signer_id: bytes = DEFAULT_ID) -> None:
        """Raise :class:`Sm2BadSignature` unless ``signature`` is valid for ``data``."""
        r, s = decode_signature(signature)  # strict DER and range checks, whatever the backend
        backend = self._backend
        if isinstance(backend, NativeBackend):
            ok = backend.verify_rs(self._handle, data, r, s, signer_id)
        elif isinstance(backend, LibcryptoBackend):
            pool = self._ctx_pool
            try:
                ctx = pool.pop()
            except IndexError:
                ctx = backend.new_md_ctx()
            try:
                ok = backend.verify_with(ctx, self._handle, data, signature, signer_id)
            finally:
                pool.append(ctx)
        else:
            ok = backend.verify(self._handle, data, signature, signer_id)
        if not ok:
            raise Sm2BadSignature("SM2 signature does not verify with this key and signer ID")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sm2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"Sm2PublicKey({self._point[1:9].hex()}…)"


class Sm2PrivateKey:
    """An SM2 private key in memory. Its repr never shows the secret."""

    __slots__ = ("_backend", "_ctx_pool", "_handle", "_public", "_secret")

    def __init__(
        self, secret: int, public: Sm2PublicKey, backend: Sm2Backend, handle: Any = None
    ) -> None:
        _check_secret(secret)
        self._secret = secret
        self._public = public
        self._backend = backend
        self._handle = (
            handle if handle is not None else backend.private_handle(secret, public.point)
        )
        self._ctx_pool: list[Any] = []

    @classmethod
    def from_secret(
        cls,
        secret: int | bytes,
        public_point: bytes | None = None,
        backend: Sm2Backend | None = None,
    ) -> Sm2PrivateKey:
        """From the private scalar (int or 32 bytes) and, if known, the public point.

        The point is checked against the scalar (a mismatched pair raises :class:`Sm2BadKey`).
        """
        backend = backend or default_backend()
        d = int.from_bytes(secret, "big") if isinstance(secret, bytes) else secret
        _check_secret(d)
        if public_point is None:
            point = backend.derive_point(d)
        else:
            point = normalize_point(public_point)
        key = cls(d, Sm2PublicKey(point, backend), backend)
        if public_point is not None and isinstance(backend, NativeBackend):
            if backend.derive_point(d) != point:  # exact, and cheaper than the probe
                raise Sm2BadKey("SM2 public key does not belong to the private key")
        elif public_point is not None:
            probe = b"zhengyin key pair check"
            try:
                key.public_key.verify(probe, key.sign(probe))
            except Sm2BadSignature as exc:
                raise Sm2BadKey("SM2 public key does not belong to the private key") from exc
        return key

    @property
    def public_key(self) -> Sm2PublicKey:
        return self._public

    @property
    def backend(self) -> Sm2Backend:
        return self._backend

    def secret_bytes(self) -> bytes:
        """The 32-byte private scalar (for encoding into an encrypted key file only)."""
        return self._secret.to_bytes(32, "big")

    def with_backend(self, backend: Sm2Backend) -> Sm2PrivateKey:
        return Sm2PrivateKey(self._secret, self._public.with_backend(backend), backend)

    def sign(self, data: bytes, *, signer_id: bytes = DEFAULT_ID) -> bytes:
        """DER SM2 signature of ``SM3(Z ‖ data)`` with ``Z`` from ``signer_id``."""
        backend = self._backend
        if isinstance(backend, LibcryptoBackend):
            pool = self._ctx_pool
            try:
                ctx = pool.pop()
            except IndexError:
                ctx = backend.new_md_ctx()
            try:
                return backend.sign_with(ctx, self._handle, data, signer_id)
            finally:
                pool.append(ctx)
        return backend.sign(self._handle, data, signer_id)

    def sign_many(self, datas: Sequence[bytes], *, signer_id: bytes = DEFAULT_ID) -> list[bytes]:
        """:meth:`sign` of each of ``datas`` (the native backend shares work between them)."""
        backend = self._backend
        if isinstance(backend, NativeBackend):
            return backend.sign_many(self._handle, datas, signer_id)
        return [self.sign(data, signer_id=signer_id) for data in datas]

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(public={self._public!r})"

    def __reduce__(self) -> Any:
        raise TypeError("SM2 private keys are not picklable; store them encrypted")


def generate_private_key(backend: Sm2Backend | None = None) -> Sm2PrivateKey:
    """A fresh SM2 key pair from the backend's random generator."""
    backend = backend or default_backend()
    secret, point, handle = backend.generate()
    return Sm2PrivateKey(secret, Sm2PublicKey(point, backend), backend, handle)


def verify(
    public_key: Sm2PublicKey, data: bytes, signature: bytes, *, signer_id: bytes = DEFAULT_ID
) -> None:
    """Raise :class:`Sm2BadSignature` unless ``signature`` is valid for ``data``."""
    public_key.verify(data, signature, signer_id=signer_id)


# ------------------------------------------------------------------------------ signers


@runtime_checkable
class Signer(Protocol):
    """Anything that can make SM2 signatures: an in-memory key, an HSM, a remote service."""

    @property
    def public_key(self) -> Sm2PublicKey:
        """The public key that verifies this signer's signatures."""
        ...

    @property
    def signer_id(self) -> bytes:
        """The SM2 signer ID that goes into ``Z`` (normally :data:`DEFAULT_ID`)."""
        ...

    def sign_raw(self, data: bytes) -> bytes:
        """DER ``SEQUENCE{r, s}`` over ``SM3(Z ‖ data)``."""
        ...


class KeySigner:
    """A :class:`Signer` over an in-memory :class:`Sm2PrivateKey`."""

    __slots__ = ("_id", "_key")

    def __init__(self, key: Sm2PrivateKey, signer_id: bytes = DEFAULT_ID) -> None:
        self._key = key
        self._id = bytes(signer_id)

    @property
    def public_key(self) -> Sm2PublicKey:
        return self._key.public_key

    @property
    def signer_id(self) -> bytes:
        return self._id

    def sign_raw(self, data: bytes) -> bytes:
        return self._key.sign(data, signer_id=self._id)

    def sign_raw_many(self, datas: Sequence[bytes]) -> list[bytes]:
        """:meth:`sign_raw` of each (faster than one by one with the native backend)."""
        return self._key.sign_many(datas, signer_id=self._id)

    def __repr__(self) -> str:
        return f"KeySigner({self._key.public_key!r})"
