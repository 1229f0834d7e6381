"""Errors of the ``seals`` package. Every error carries a stable string ``code``.

The tree (each class has a default ``code``; a raise may give a more specific one)::

    SealError                      seal_error
    ├── Sm2Error                   sm2_error
    │   ├── Sm2Unavailable         sm2_unavailable       no SM2 backend on this machine
    │   ├── Sm2BadKey              sm2_bad_key           not a valid SM2 key or point
    │   └── Sm2BadSignature        sm2_bad_signature     verification failed (any reason)
    ├── KeyFormatError             key_bad_format        PEM/DER key that cannot be read
    │   └── KeyPassphraseError     key_bad_passphrase    wrong or missing passphrase
    ├── CertificateError           cert_bad              certificate that cannot be read/built
    ├── SesFormatError             ses_bad_der           GB/T 38540 structure that cannot be read
    │                              (codes: ses_truncated, ses_bad_der, ses_unknown_version,
    │                               ses_wrong_oid, ses_too_large, ses_bad_field,
    │                               seal_picture_too_large)
    ├── SealPictureError           seal_picture_bad      a picture that cannot be used
    │                              (codes: seal_picture_too_large, seal_picture_bad)
    └── SealInputError             seal_bad_input        bad arguments to create/sign a seal
                                   (codes: seal_bad_uscc, seal_bad_validity, …)
"""

from __future__ import annotations


class SealError(Exception):
    """Root of every error raised by ``seals``."""

    code = "seal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class Sm2Error(SealError):
    """A problem with SM2 itself (backend, key, signature)."""

    code = "sm2_error"


class Sm2Unavailable(Sm2Error):
    """No SM2 backend could be loaded (neither libcrypto with SM2 nor gmssl-pyx)."""

    code = "sm2_unavailable"


class Sm2BadKey(Sm2Error):
    """A private scalar or public point that is not a valid SM2 key."""

    code = "sm2_bad_key"


class Sm2BadSignature(Sm2Error):
    """An SM2 signature did not verify: wrong key, wrong ID, altered data, bad encoding."""

    code = "sm2_bad_signature"


def says_nothing_of_the_input(exc: BaseException) -> bool:
    """An SM2 error of the machine, not of the bytes checked: no backend loaded, or the
    backend failed (libcrypto's own error). Such a check could not be made: it is never
    'invalid'. Only :class:`Sm2BadKey` and :class:`Sm2BadSignature` judge the input."""
    return isinstance(exc, Sm2Error) and not isinstance(exc, Sm2BadKey | Sm2BadSignature)


class KeyFormatError(SealError):
    """A key file (PEM or DER) that cannot be read as an SM2 key."""

    code = "key_bad_format"


class KeyPassphraseError(KeyFormatError):
    """An encrypted private key with a missing or wrong passphrase."""

    code = "key_bad_passphrase"


class CertificateError(SealError):
    """A certificate that cannot be read, or cannot be built from the given inputs."""

    code = "cert_bad"


class SesFormatError(SealError):
    """A GB/T 38540 / GM/T 0031 structure that cannot be read. The message names the field."""

    code = "ses_bad_der"


class SealPictureError(SealError):
    """A seal picture that cannot be used (too large, not the declared format)."""

    code = "seal_picture_bad"


class SealInputError(SealError):
    """Bad arguments to creating or applying a seal (issuer code, dates, names)."""

    code = "seal_bad_input"
