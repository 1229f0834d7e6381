"""The short manual-entry code (核验码) printed on a certificate, for a clerk to type when the
QR code cannot be scanned.

Format (version 1)::

    <identifier without 1.2.156.3005.2.>-<check 4>-<check 4>

    e.g.  11100000MA0000001Q001.91110000101623741K.2430599.001.N-GMQN-9GKE

- the identifier (GB/T 36904) without its fixed ``1.2.156.3005.2.`` prefix: type code,
  issuer USCC, serial, version and its own MOD 37,36 check character (which already catches
  any one wrong character and any two neighbours swapped in the identifier);
- eight check characters: the first 40 bits of
  ``SM3("zhengyin:short-code:v1" ‖ identifier ‖ leaf)`` (the identifier in full, ASCII; the
  certificate's 32-byte leaf digest) in Crockford's base32 (``0-9 A-Z`` without ``I L O U``),
  grouped by four for reading aloud.

What is accepted when typed (:func:`parse`): upper or lower case, full-width characters,
spaces, dashes and dots anywhere or left out (the parts have fixed lengths but the serial's,
so the identifier is found again without them), the ``1.2.156.3005.2.`` prefix given or not,
and in the check characters ``O`` for ``0`` and ``I``/``L`` for ``1``. At most
:data:`MAX_TEXT` characters are read.

What a short code proves: **nothing by itself**. It names a certificate and carries no
signature. The service that receives it (``POST /v1/verify`` with ``{"qr": "<code>"}``, or
``zhengyin verify CODE`` with a store) looks the identifier up in its own records, compares
the check characters with the stored certificate's leaf, and then verifies the stored
document against the chain in full, as it verifies a certificate file: the issuer's
signature, the Merkle proof to the anchored root, the anchor, the key and the current status
(revoked, suspended, superseded). The verdict is that of the stored document; what is shown
of it is what a verdict on the certificate file shows: its core facts, the holder's name and
code masked (the clerk can match the holder; a genuine code copied onto another paper names
another holder).

The check characters are there for the typist: a typo the identifier's own check character
misses, another existing identifier typed by mistake, or the code of a superseded version
(another identifier, another leaf) fails them — with probability 1 − 2⁻⁴⁰ — and the answer
is "could not check: please re-type", never a verdict on another certificate. They are no
secret (anyone holding the PDF reads them), but they are not guessable from the identifier
(the leaf is salted), so a guessed identifier does not reach a verdict: 2⁴⁰ tries per
identifier on average. An unknown identifier and wrong check characters get the same answer,
so typing identifiers does not tell which exist.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass

from certs._sm3 import sm3
from certs.errors import CertError, ValidationError
from certs.identifiers import IDENTIFIER_PREFIX, CertificateIdentifier, parse_identifier

__all__ = [
    "CHECK_LENGTH",
    "MAX_TEXT",
    "ShortCode",
    "ShortCodeError",
    "check_characters",
    "looks_like_short_code",
    "matches",
    "parse",
    "short_code",
]

VERSION_TAG = b"zhengyin:short-code:v1"
"""Domain separation of the check characters' digest (version 1 of the format)."""
CHECK_LENGTH = 8
"""Check characters: 40 bits."""
MAX_TEXT = 200
"""Longest text read as a short code (a code is at most 83 characters without separators)."""
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_READ = {**{c: c for c in CROCKFORD}, "O": "0", "I": "1", "L": "1"}
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−_.·•・。]+")
_ALNUM = re.compile(r"[0-9A-Z]+")
_TYPE, _USCC, _VERSION = 21, 18, 3
_MIN = _TYPE + _USCC + 1 + _VERSION + 1 + CHECK_LENGTH
_MAX = _TYPE + _USCC + 32 + _VERSION + 1 + CHECK_LENGTH
_LOOKS_MIN, _LOOKS_MAX = 40, 110
"""Text of this many letters and digits (separators left out) is taken for a short code,
mistyped or not; shorter or longer text is not one (a QR payload starts ``ZY``)."""


class ShortCodeError(CertError):
    """A text that is meant as a short code but cannot be read as one."""

    code = "short_code_unreadable"


@dataclass(frozen=True)
class ShortCode:
    identifier: CertificateIdentifier
    check: str
    """The eight check characters, as :data:`CROCKFORD` letters."""

    def __str__(self) -> str:
        short = str(self.identifier).removeprefix(IDENTIFIER_PREFIX)
        return f"{short}-{self.check[:4]}-{self.check[4:]}"


def check_characters(identifier: str, leaf: bytes) -> str:
    """The eight check characters of a certificate's short code."""
    if len(leaf) != 32:
        raise ValueError("a leaf digest is 32 bytes")
    bits = int.from_bytes(sm3(VERSION_TAG + identifier.encode("ascii") + leaf)[:5], "big")
    return "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in reversed(range(CHECK_LENGTH)))


def short_code(identifier: str, leaf: bytes) -> str:
    """The short code of the certificate ``identifier`` whose leaf digest is ``leaf``."""
    return str(ShortCode(parse_identifier(identifier), check_characters(identifier, leaf)))


def _squeezed(text: str) -> str:
    """``text`` as typed → upper-case letters and digits only (prefix and separators out)."""
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT + 1]).strip().upper()
    if text.startswith(IDENTIFIER_PREFIX):
        text = text[len(IDENTIFIER_PREFIX):]
    return _SEPARATORS.sub("", text)


def looks_like_short_code(text: str) -> bool:
    """Is ``text`` meant as a short code (possibly mistyped), rather than a QR payload or
    something else? Letters and digits with separators, about the right length, not ``ZY``."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        return False
    squeezed = _squeezed(text)
    return (
        _LOOKS_MIN <= len(squeezed) <= _LOOKS_MAX
        and _ALNUM.fullmatch(squeezed) is not None
        and not squeezed.startswith("ZY")
    )


def parse(text: str) -> ShortCode:
    """Read a typed short code (see the module docstring); :class:`ShortCodeError` says what
    is wrong. The check characters are read, not checked: that needs the stored leaf."""
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise ShortCodeError(f"a short code is at most {MAX_TEXT} characters")
    squeezed = _squeezed(text)
    if not _ALNUM.fullmatch(squeezed):
        raise ShortCodeError("a short code has only letters, digits, dots and dashes")
    if not _MIN <= len(squeezed) <= _MAX:
        raise ShortCodeError(
            f"a short code has {_MIN} to {_MAX} letters and digits (without dots and dashes); "
            f"this has {len(squeezed)}: a character is missing or extra"
        )
    body, typed_check = squeezed[:-CHECK_LENGTH], squeezed[-CHECK_LENGTH:]
    try:
        check = "".join(_CROCKFORD_READ[c] for c in typed_check)
    except KeyError:
        raise ShortCodeError(
            "the last eight characters (the check characters) hold a U, which they never do"
        ) from None
    type_code, issuer = body[:_TYPE], body[_TYPE:_TYPE + _USCC]
    serial = body[_TYPE + _USCC:-(_VERSION + 1)]
    version, id_check = body[-(_VERSION + 1):-1], body[-1]
    text_id = f"{IDENTIFIER_PREFIX}{type_code}.{issuer}.{serial}.{version}.{id_check}"
    try:
        identifier = parse_identifier(text_id)
    except ValidationError as exc:
        raise ShortCodeError(f"the identifier part is not a valid identifier: {exc}") from None
    return ShortCode(identifier, check)


def matches(code: ShortCode, identifier: str, leaf: bytes) -> bool:
    """Does ``code`` name the certificate ``identifier`` with leaf digest ``leaf``?"""
    return str(code.identifier) == identifier and hmac.compare_digest(
        code.check, check_characters(identifier, leaf)
    )
