"""The QR verification payload: compact, versioned, no personal data in clear.

Format v2 (all characters in the QR alphanumeric set, so the code stays small)::

    ZY2.<identifier>.<valid from>.<valid until>.<jurisdiction>.<BASE32(leaf ‖ root ‖ r ‖ s)>

- ``<identifier>`` is written without its fixed ``1.2.156.3005.2.`` prefix; the identifier
  (GB/T 36904) names the certificate type and the issuer (their codes);
- ``valid from`` and ``valid until`` are ``YYYYMMDD``; ``valid until`` is ``-`` when the
  certificate has no end date;
- ``jurisdiction``: the certificate's 6-digit administrative division code (行政区划);
- ``leaf``: the certificate's 32-byte leaf digest (salted: reveals nothing of its fields);
- ``root``: the 32-byte Merkle root of its anchored batch;
- ``r ‖ s``: the issuer's SM2 signature, 32 bytes each — the certificate's own signature,
  which covers the leaf, the identifier, the jurisdiction and the validity dates in clear
  (:func:`certs.canonical.signing_input`);
- BASE32 is RFC 4648 upper-case without padding. About 290 characters in all.

What a QR proves, with the chain alone: that a key the issuer named in the identifier
published on chain signed exactly this identifier (so this type and issuer), jurisdiction,
these dates and this leaf; that the root was anchored by that issuer and the key was valid
then; and the leaf's current status (revoked, suspended, superseded). The verifier also
judges the dates against today.

What it does not prove: that the leaf is in that root. A Merkle proof (up to 14 hashes for a
batch of 10,000, about 450 bytes) does not fit a code that must print at 40 mm and decode from
an 80 dpi scan, so a QR rests on the issuer's key alone: whoever holds the key can sign a QR
for a certificate that was never anchored, and point it at any root of that issuer. Hence the
rule of :func:`verifier.checks.certificates.verify_qr`: **a key with any compromise report, or no
longer (or not yet) in service, never makes a QR-only verdict valid** — whatever the cut-off
time, the clerk is told to ask for the certificate file or a presentation code (which carry
or fetch the proof). So after a key rotation the QRs signed with the old key decide nothing;
certificates are re-rendered with the new key's signature when they are re-issued. For the
same reason, **an issuer not authorized today for the QR's type (in its jurisdiction) never
makes a QR-only verdict valid**: its authorization ended or the type was withdrawn, but it
still holds its key and could point a new leaf at a root it anchored while it was. Before
anyone reports a stolen key, a QR is as strong as the key's custody; the certificate file
and the presentation code are not limited in this way. The fields themselves (holder, number, …)
come only with the document.

Format v1 (``ZY1``) signed the leaf and key id only, not the identifier: its identifier could
be swapped. Such payloads are refused (``qr_version_unsupported``), never judged valid.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from certs.errors import CertError, ValidationError
from certs.identifiers import CertificateIdentifier, parse_identifier

PREFIX = "ZY2."
IDENTIFIER_PREFIX = "1.2.156.3005.2."
MAX_PAYLOAD = 400
OPEN_ENDED = "-"
_B32 = re.compile(r"[A-Z2-7]+")
_DAY = re.compile(r"\d{8}")
_JURISDICTION = re.compile(r"[1-9]\d{5}")


class QrPayloadError(CertError):
    code = "qr_payload_invalid"


@dataclass(frozen=True)
class QrPayload:
    identifier: CertificateIdentifier
    jurisdiction: str
    """6-digit administrative division code (行政区划)."""
    valid_from: dt.date
    valid_until: dt.date | None
    """``None``: no end date."""
    leaf: bytes
    root: bytes
    signature_rs: bytes
    """64 bytes: r ‖ s."""

    def encode(self) -> str:
        body = base64.b32encode(self.leaf + self.root + self.signature_rs).decode().rstrip("=")
        short = str(self.identifier).removeprefix(IDENTIFIER_PREFIX)
        start = self.valid_from.strftime("%Y%m%d")
        end = OPEN_ENDED if self.valid_until is None else self.valid_until.strftime("%Y%m%d")
        return f"{PREFIX}{short}.{start}.{end}.{self.jurisdiction}.{body}"

    def signing_input(self, key_id: bytes) -> bytes:
        """What the issuer signed, if this payload is genuine and ``key_id`` is its key."""
        from certs.canonical import signing_input

        until = None if self.valid_until is None else self.valid_until.isoformat()
        return signing_input(
            self.leaf, key_id, str(self.identifier), self.jurisdiction,
            self.valid_from.isoformat(), until,
        )


def _day(text: str, what: str) -> dt.date:
    if not _DAY.fullmatch(text):
        raise QrPayloadError(f"the QR payload's {what} date is not YYYYMMDD")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise QrPayloadError(f"the QR payload's {what} date is not a real date") from None


def decode(text: str) -> QrPayload:
    """Parse a scanned payload; :class:`QrPayloadError` says what is wrong."""
    if not isinstance(text, str) or len(text) > MAX_PAYLOAD:
        raise QrPayloadError("the QR payload is not text of a plausible length")
    text = text.strip()
    if not text.startswith(PREFIX):
        version = text.split(".", 1)[0][:8]
        if version == "ZY1":
            raise QrPayloadError(
                "ZY1 QR codes did not sign the identifier they show and are no longer "
                "accepted: ask for the certificate file or a presentation code",
                code="qr_version_unsupported",
            )
        if re.fullmatch(r"ZY\d+", version):
            raise QrPayloadError(
                f"QR payload version {version} is not supported (only ZY2)",
                code="qr_version_unsupported",
            )
        raise QrPayloadError("this is not a Zhengyin certificate QR code (it must start ZY2.)")
    parts = text[len(PREFIX) :].rsplit(".", 4)
    if len(parts) != 5:
        raise QrPayloadError("the QR payload is cut or garbled (too few parts)")
    short, start, end, jurisdiction, body = parts
    if not _JURISDICTION.fullmatch(jurisdiction):
        raise QrPayloadError("the QR payload is cut or garbled (bad jurisdiction)")
    if not short or not _B32.fullmatch(body):
        raise QrPayloadError("the QR payload is cut or garbled (bad data part)")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError:
        raise QrPayloadError("the QR payload is cut or garbled (bad base32)") from None
    if len(raw) != 128:
        raise QrPayloadError(f"the QR payload carries {len(raw)} bytes, not 128")
    valid_from = _day(start, "valid-from")
    valid_until = None if end == OPEN_ENDED else _day(end, "valid-until")
    try:
        identifier = parse_identifier(IDENTIFIER_PREFIX + short)
    except ValidationError as exc:
        raise QrPayloadError(f"the QR payload's identifier is invalid: {exc}") from None
    return QrPayload(
        identifier, jurisdiction, valid_from, valid_until, raw[:32], raw[32:64], raw[64:]
    )


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
    values = document.values()  # reading a document ensures these are disclosed and sound
    until = values["valid_until"]
    return QrPayload(
        parse_identifier(str(values["identifier"])),
        str(values["jurisdiction"]),
        dt.date.fromisoformat(str(values["valid_from"])),
        None if until is None else dt.date.fromisoformat(str(until)),
        document.leaf,
        document.anchor.root,
        signature_rs(document.signature.value),
    )
