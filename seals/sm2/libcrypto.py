"""The SM2 backend over the system's OpenSSL 3 libcrypto (cffi, ABI mode, no compiler): the
reference peer of the other backends in the tests."""

from __future__ import annotations

import ctypes.util
import threading
from typing import Any

from seals.errors import Sm2BadKey, Sm2Error, Sm2Unavailable
from seals.sm2.curve import _SEC1_CURVE, normalize_point, sec1_der, spki_der

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

