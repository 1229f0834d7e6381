"""Errors of the ``certs`` package. Every error carries a stable string ``code``.

The tree (each class has a default ``code``; a raise may give a more specific one)::

    CertError                      cert_error
    ├── ValidationError            validation_error   one bad value, with the ``field`` it is in
    │                              (codes: see ``VALIDATION_CODES`` below)
    ├── RequestInvalid             request_invalid    a request with one or more ValidationErrors
    ├── TypeDefinitionError        type_registry_invalid   a certificate-type file that is wrong
    ├── CanonicalizationError      not_canonicalizable     a value JCS cannot serialize
    ├── DocumentError              document_malformed
    │                              (codes: document_malformed, document_version_unsupported,
    │                               document_algorithm_unsupported, unknown_path,
    │                               claim_must_be_disclosed, claims_inconsistent)
    ├── LeafMismatch               leaf_mismatch      disclosed claims do not give the stated leaf
    ├── MerkleError                merkle_error       bad input to building a tree (no leaves…)
    └── MerkleProofInvalid         merkle_proof_invalid  a proof that does not lead to the root

Messages are sentences a clerk can act on; a :class:`ValidationError` names its field first
(``holder.code: citizen ID number … has a wrong check digit (expected X)``).
"""

from __future__ import annotations

from collections.abc import Sequence

#: Every code a :class:`ValidationError` may carry, with what it means.
VALIDATION_CODES: dict[str, str] = {
    "invalid_citizen_id": "not a valid 18-character citizen ID number (GB 11643)",
    "invalid_uscc": "not a valid unified social credit code (GB 32100)",
    "invalid_date": "not a real date written YYYY-MM-DD",
    "issue_date_future": "issue date later than tomorrow",
    "validity_order": "validity starts after it ends",
    "invalid_identifier": "not a valid certificate identifier (GB/T 36904)",
    "invalid_type_code": "not a valid 21-character certificate type code",
    "unknown_type": "certificate type not in the type registry",
    "missing_field": "a required value is absent or empty",
    "unknown_key": "a key the request shape or the certificate type does not define",
    "field_too_long": "a value longer than its limit",
    "too_many_fields": "more type-specific fields than allowed",
    "invalid_code_type": "holder code type not 111/001 or not allowed for this type",
    "invalid_jurisdiction": "jurisdiction not a 6-digit administrative division code",
    "invalid_text": "text with control characters or invalid Unicode",
    "wrong_type": "a value of the wrong JSON type (e.g. a number where text is expected)",
    "invalid_serial": "identifier serial not 1-32 characters of 0-9 A-Z",
    "invalid_version": "identifier version not 3 digits",
    "already_expired": "a validity end before the day of issue",
    "date_in_future": "a date in the future for a field that records a past event",
    "holder_mismatch": "a field that repeats the holder's code or name disagrees with it",
    "not_authorized": "the issuer is not authorized on chain for this type (or jurisdiction)",
    "duplicate_number": "the agency's certificate number (证照编号) is already used for this "
    "type, by an earlier row of the request or a certificate in force",
}


class CertError(Exception):
    """Root of every error raised by ``certs``."""

    code = "cert_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ValidationError(CertError):
    """One bad value. ``field`` is its dotted path (``holder.code``, ``fields.企业名称``).

    ``str(error)`` is ``"<field>: <reason>"``; ``reason`` is the sentence without the field.
    """

    code = "validation_error"

    def __init__(self, message: str, *, field: str, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message, code=code)
        self.field = field
        self.reason = message

    def to_dict(self) -> dict[str, str]:
        """``{"field", "code", "message"}`` for API and CLI reports."""
        return {"field": self.field, "code": self.code, "message": str(self)}


class RequestInvalid(CertError):
    """A certificate request with one or more bad values; ``errors`` lists every one of them."""

    code = "request_invalid"

    def __init__(self, errors: Sequence[ValidationError]) -> None:
        self.errors: tuple[ValidationError, ...] = tuple(errors)
        count = len(self.errors)
        summary = "; ".join(str(e) for e in self.errors)
        super().__init__(f"the request has {count} error{'s' if count != 1 else ''}: {summary}")


class TypeDefinitionError(CertError):
    """A certificate-type registry file that cannot be used (shape, codes, duplicates)."""

    code = "type_registry_invalid"


class CanonicalizationError(CertError):
    """A value that RFC 8785 (JCS) cannot serialize: NaN, infinity, lone surrogate, …"""

    code = "not_canonicalizable"


class DocumentError(CertError):
    """A certificate document (the holder's JSON) that is not well formed."""

    code = "document_malformed"


class LeafMismatch(CertError):
    """The claims of a document do not give the leaf digest it states."""

    code = "leaf_mismatch"


class MerkleError(CertError):
    """Bad input to building a Merkle tree (no leaves, a leaf that is not 32 bytes)."""

    code = "merkle_error"


class MerkleProofInvalid(CertError):
    """A Merkle proof that does not lead from the leaf to the root, or cannot be read."""

    code = "merkle_proof_invalid"
