"""The QR verification payload: compact, versioned, no personal data in clear.

Format v1 (all characters in the QR alphanumeric set, so the code stays small)::

    ZY1.<identifier without its fixed "1.2.156.3005.2." prefix>.<BASE32(leaf ‖ root ‖ r ‖ s)>

- ``leaf``: the certificate's 32-byte leaf digest (salted: reveals nothing of its fields);
- ``root``: the 32-byte Merkle root of its anchored batch;
- ``r ‖ s``: the issuer's SM2 signature over ``signing_input(leaf, key_id)``, 32 bytes each;
- BASE32 is RFC 4648 upper-case without padding. About 265 characters in all.

What a QR proves, with the chain alone: the issuer named in the identifier signed this leaf
with one of its registered keys (public keys are published on chain), the root was anchored
by that issuer, and the leaf's current status. It does not carry the Merkle proof (too long
for a small code): membership of the leaf in the root, and the fields themselves, come with
the certificate document (JSON or the PDF's embedded copy).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from certs.errors import CertError, ValidationError
from certs.identifiers import CertificateIdentifier, parse_identifier

PREFIX = "ZY1."
IDENTIFIER_PREFIX = "1.2.156.3005.2."
MAX_PAYLOAD = 400
_B32 = re.compile(r"[A-Z2-7]+")


class QrPayloadError(CertError):
    code = "qr_payload_invalid"


@dataclass(frozen=True)
class QrPayload:
    identifier: CertificateIdentifier
    leaf: bytes
    root: bytes
    signature_rs: bytes
    """64 bytes: r ‖ s."""

    def encode(self) -> str:
        body = base64.b32encode(self.leaf + self.root + self.signature_rs).decode().rstrip("=")
        short = str(self.identifier).removeprefix(IDENTIFIER_PREFIX)
        return f"{PREFIX}{short}.{body}"


def decode(text: str) -> QrPayload:
    """Parse a scanned payload; :class:`QrPayloadError` says what is wrong."""
    if not isinstance(text, str) or len(text) > MAX_PAYLOAD:
        raise QrPayloadError("the QR payload is not text of a plausible length")
    text = text.strip()
    if not text.startswith(PREFIX):
        version = text.split(".", 1)[0][:8]
        if re.fullmatch(r"ZY\d+", version):
            raise QrPayloadError(
                f"QR payload version {version} is not supported (only ZY1)",
                code="qr_version_unsupported",
            )
        raise QrPayloadError("this is not a Zhengyin certificate QR code (it must start ZY1.)")
    rest = text[len(PREFIX) :]
    short, _, body = rest.rpartition(".")
    if not short or not _B32.fullmatch(body or ""):
        raise QrPayloadError("the QR payload is cut or garbled (bad data part)")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise QrPayloadError("the QR payload is cut or garbled (bad base32)") from None
    if len(raw) != 128:
        raise QrPayloadError(f"the QR payload carries {len(raw)} bytes, not 128")
    try:
        identifier = parse_identifier(IDENTIFIER_PREFIX + short)
    except ValidationError as exc:
        raise QrPayloadError(f"the QR payload's identifier is invalid: {exc}") from None
    return QrPayload(identifier, raw[:32], raw[32:64], raw[64:])


def signature_rs(der: bytes) -> bytes:
    """DER ``SEQUENCE {r, s}`` → 64 bytes ``r ‖ s``."""
    from seals.sm2 import decode_signature

    r, s = decode_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signature_der(rs: bytes) -> bytes:
    from seals.sm2 import encode_signature

    return encode_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))


def payload_for(document: object) -> QrPayload:
    """The QR payload of an anchored, signed certificate document."""
    from certs.canonical import CertificateDocument

    assert isinstance(document, CertificateDocument)
    if document.anchor is None or document.signature is None:
        raise QrPayloadError("only a signed, anchored certificate has a QR payload",
                             code="qr_not_anchored")
    identifier = document.values().get("identifier")
    if not isinstance(identifier, str):
        raise QrPayloadError("the certificate's identifier is hidden", code="qr_identifier_hidden")
    return QrPayload(parse_identifier(identifier), document.leaf, document.anchor.root,
                     signature_rs(document.signature.value))
