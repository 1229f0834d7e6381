"""SM2 signatures (GB/T 32918) and the SM3 digest (GB/T 32905) — the only libcrypto binding.

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
signing, precomputed tables; over ten times faster than OpenSSL 3.0's generic SM2 on x86-64);
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

import ctypes.util
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from seals.errors import Sm2BadKey, Sm2BadSignature, Sm2Error, Sm2Unavailable
from seals.sm3 import sm3, sm3_prefixed

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


# ---------------------------------------------------------------------------- backends


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


_CDEF = """
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;
typedef struct bignum_st BIGNUM;
typedef struct ossl_param_st {
    const char *key; unsigned int data_type; void *data; size_t data_size; size_t return_size;
} OSSL_PARAM;

EVP_MD_CTX *EVP_MD_CTX_new(void);
void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
int EVP_DigestSignInit_ex(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const char *mdname,
                          OSSL_LIB_CTX *libctx, const char *props, EVP_PKEY *pkey,
                          const OSSL_PARAM params[]);
int EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sigret, size_t *siglen,
                   const unsigned char *tbs, size_t tbslen);
int EVP_DigestVerifyInit_ex(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const char *mdname,
                            OSSL_LIB_CTX *libctx, const char *props, EVP_PKEY *pkey,
                            const OSSL_PARAM params[]);
int EVP_DigestVerify(EVP_MD_CTX *ctx, const unsigned char *sigret, size_t siglen,
                     const unsigned char *tbs, size_t tbslen);

EVP_PKEY *d2i_PrivateKey_ex(int type, EVP_PKEY **a, const unsigned char **pp, long length,
                            OSSL_LIB_CTX *libctx, const char *propq);
EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
void EVP_PKEY_free(EVP_PKEY *pkey);
int EVP_PKEY_is_a(const EVP_PKEY *pkey, const char *name);
int EVP_PKEY_get_bn_param(const EVP_PKEY *pkey, const char *key_name, BIGNUM **bn);
int EVP_PKEY_get_octet_string_param(const EVP_PKEY *pkey, const char *key_name,
                                    unsigned char *buf, size_t max_buf_sz, size_t *out_len);
int BN_bn2binpad(const BIGNUM *a, unsigned char *to, int tolen);
void BN_clear_free(BIGNUM *a);

EVP_PKEY_CTX *EVP_PKEY_CTX_new_from_name(OSSL_LIB_CTX *libctx, const char *name,
                                         const char *propquery);
void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
int EVP_PKEY_CTX_set_params(EVP_PKEY_CTX *ctx, const OSSL_PARAM *params);
int EVP_PKEY_keygen_init(EVP_PKEY_CTX *ctx);
int EVP_PKEY_generate(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey);

unsigned long ERR_get_error(void);
void ERR_clear_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);
unsigned long OpenSSL_version_num(void);
const char *OpenSSL_version(int type);
"""

_NID_SM2 = 1172
_OSSL_PARAM_OCTET_STRING = 5
_SIZE_MAX = 2**64 - 1


class LibcryptoBackend:
    """SM2 through the system's OpenSSL 3 libcrypto (cffi, ABI mode)."""

    name = "libcrypto"

    def __init__(self, library: str | None = None) -> None:
        try:
            import cffi  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:  # pragma: no cover - cffi is a dependency
            raise Sm2Unavailable("cffi is not installed") from exc
        path = library or ctypes.util.find_library("crypto") or "libcrypto.so.3"
        self._ffi = ffi = cffi.FFI()
        ffi.cdef(_CDEF)
        try:
            self._lib = ffi.dlopen(path)
            self._lib.OpenSSL_version_num()
            self._lib.EVP_PKEY_is_a  # noqa: B018 - OpenSSL 3 API present?
        except (OSError, AttributeError) as exc:
            raise Sm2Unavailable(f"cannot load OpenSSL 3 libcrypto ({path}): {exc}") from exc
        self.version = ffi.string(self._lib.OpenSSL_version(0)).decode()
        self._params_lock = threading.Lock()
        self._params: dict[bytes, tuple[Any, Any]] = {}
        self._key_name = ffi.new("char[]", b"distid")
        self._sm3 = ffi.new("char[]", b"SM3")
        self._sig_len = 80
        # Probe: SM2 key generation must work.
        try:
            self.generate()
        except Sm2Error as exc:
            raise Sm2Unavailable(f"{self.version} has no usable SM2: {exc}") from exc

    # -- helpers
    def _error(self, what: str) -> Sm2Error:
        lib, ffi = self._lib, self._ffi
        code = lib.ERR_get_error()
        buf = ffi.new("char[256]")
        detail = ""
        if code:
            lib.ERR_error_string_n(code, buf, 256)
            detail = ": " + ffi.string(buf).decode(errors="replace")
        lib.ERR_clear_error()
        return Sm2Error(f"libcrypto {what} failed{detail}")

    def _distid(self, signer_id: bytes) -> Any:
        found = self._params.get(signer_id)
        if found is None:
            ffi = self._ffi
            with self._params_lock:
                buf = ffi.new("unsigned char[]", max(len(signer_id), 1))
                ffi.memmove(buf, signer_id, len(signer_id))
                params = ffi.new("OSSL_PARAM[2]")
                params[0].key = self._key_name
                params[0].data_type = _OSSL_PARAM_OCTET_STRING
                params[0].data = buf
                params[0].data_size = len(signer_id)
                params[0].return_size = _SIZE_MAX
                if len(self._params) > 64:
                    self._params.clear()
                # the data buffer must live as long as the params that point at it
                found = self._params[signer_id] = (params, buf)
        return found[0]

    def _pkey(self, ptr: Any, what: str) -> Any:
        if ptr == self._ffi.NULL:
            raise self._error(what)
        if not self._lib.EVP_PKEY_is_a(ptr, b"SM2"):
            self._lib.EVP_PKEY_free(ptr)
            raise Sm2BadKey(f"libcrypto read the {what} as a key that is not SM2")
        return self._ffi.gc(ptr, self._lib.EVP_PKEY_free)

    def _export(self, pkey: Any) -> tuple[int, bytes]:
        ffi, lib = self._ffi, self._lib
        bn = ffi.new("BIGNUM **")
        if lib.EVP_PKEY_get_bn_param(pkey, b"priv", bn) != 1:
            raise self._error("reading the private key")
        raw = ffi.new("unsigned char[32]")
        ok = lib.BN_bn2binpad(bn[0], raw, 32)
        lib.BN_clear_free(bn[0])
        if ok != 32:
            raise self._error("exporting the private key")
        secret = int.from_bytes(ffi.buffer(raw, 32), "big")
        ffi.memmove(raw, b"\x00" * 32, 32)
        pub = ffi.new("unsigned char[65]")
        out = ffi.new("size_t *")
        if lib.EVP_PKEY_get_octet_string_param(pkey, b"encoded-pub-key", pub, 65, out) != 1:
            raise self._error("reading the public key")
        return secret, bytes(ffi.buffer(pub, out[0]))

    # -- Sm2Backend
    def generate(self) -> tuple[int, bytes, Any]:
        ffi, lib = self._ffi, self._lib
        ctx = lib.EVP_PKEY_CTX_new_from_name(ffi.NULL, b"SM2", ffi.NULL)
        if ctx == ffi.NULL:
            raise self._error("SM2 key generation")
        try:
            out = ffi.new("EVP_PKEY **")
            if lib.EVP_PKEY_keygen_init(ctx) != 1 or lib.EVP_PKEY_generate(ctx, out) != 1:
                raise self._error("SM2 key generation")
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
        pkey = self._pkey(out[0], "generated key")
        secret, point = self._export(pkey)
        return secret, normalize_point(point), pkey

    def private_handle(self, secret: int, point: bytes) -> Any:
        der = sec1_der(secret, point)
        buf = self._ffi.new("unsigned char[]", der)
        pp = self._ffi.new("const unsigned char **", buf)
        ptr = self._lib.d2i_PrivateKey_ex(
            _NID_SM2, self._ffi.NULL, pp, len(der), self._ffi.NULL, self._ffi.NULL
        )
        self._ffi.memmove(buf, b"\x00" * len(der), len(der))
        return self._pkey(ptr, "private key")

    def public_handle(self, point: bytes) -> Any:
        der = spki_der(point)
        pp = self._ffi.new("const unsigned char **", self._ffi.from_buffer(der))
        return self._pkey(self._lib.d2i_PUBKEY(self._ffi.NULL, pp, len(der)), "public key")

    def derive_point(self, secret: int) -> bytes:
        # SEC1 without the public key: libcrypto computes secret·G on decoding.
        body = bytes.fromhex("0201010420") + secret.to_bytes(32, "big") + _SEC1_CURVE
        der = b"\x30" + bytes([len(body)]) + body
        buf = self._ffi.new("unsigned char[]", der)
        pp = self._ffi.new("const unsigned char **", buf)
        ptr = self._lib.d2i_PrivateKey_ex(
            _NID_SM2, self._ffi.NULL, pp, len(der), self._ffi.NULL, self._ffi.NULL
        )
        self._ffi.memmove(buf, b"\x00" * len(der), len(der))
        pkey = self._pkey(ptr, "private key")
        return normalize_point(self._export(pkey)[1])

    def new_md_ctx(self) -> Any:
        """A reusable operation context: ``(EVP_MD_CTX *, EVP_PKEY_CTX ** out-slot)``."""
        ctx = self._lib.EVP_MD_CTX_new()
        if ctx == self._ffi.NULL:
            raise self._error("EVP_MD_CTX_new")
        return self._ffi.gc(ctx, self._lib.EVP_MD_CTX_free), self._ffi.new("EVP_PKEY_CTX **")

    def sign(self, handle: Any, data: bytes, signer_id: bytes) -> bytes:
        return self.sign_with(self.new_md_ctx(), handle, data, signer_id)

    def sign_with(self, opctx: Any, handle: Any, data: bytes, signer_id: bytes) -> bytes:
        """Sign with a caller-owned context from :meth:`new_md_ctx` (reused across calls)."""
        ffi, lib = self._ffi, self._lib
        mdctx, pctx = opctx
        # OpenSSL 3.0 refuses the ID among the init parameters (the Z flag is set after
        # them); setting it on the operation's context right after init is accepted.
        if (
            lib.EVP_DigestSignInit_ex(mdctx, pctx, self._sm3, ffi.NULL, ffi.NULL, handle, ffi.NULL)
            != 1
            or lib.EVP_PKEY_CTX_set_params(pctx[0], self._distid(signer_id)) != 1
        ):
            raise self._error("EVP_DigestSignInit_ex")
        sig = ffi.new("unsigned char[80]")
        siglen = ffi.new("size_t *", 80)
        if lib.EVP_DigestSign(mdctx, sig, siglen, data, len(data)) != 1:
            raise self._error("EVP_DigestSign")
        return bytes(ffi.buffer(sig, siglen[0]))

    def verify(self, handle: Any, data: bytes, signature: bytes, signer_id: bytes) -> bool:
        return self.verify_with(self.new_md_ctx(), handle, data, signature, signer_id)

    def verify_with(
        self, opctx: Any, handle: Any, data: bytes, signature: bytes, signer_id: bytes
    ) -> bool:
        ffi, lib = self._ffi, self._lib
        mdctx, pctx = opctx
        if (
            lib.EVP_DigestVerifyInit_ex(
                mdctx, pctx, self._sm3, ffi.NULL, ffi.NULL, handle, ffi.NULL
            )
            != 1
            or lib.EVP_PKEY_CTX_set_params(pctx[0], self._distid(signer_id)) != 1
        ):
            raise self._error("EVP_DigestVerifyInit_ex")
        ok = lib.EVP_DigestVerify(mdctx, signature, len(signature), data, len(data))
        if ok != 1:
            lib.ERR_clear_error()
            return False
        return True


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
