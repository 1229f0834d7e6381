"""Identifiers and holder codes: GB 11643 citizen ID, GB 32100 USCC, GB/T 36904 identifier.

- Citizen ID number (公民身份号码, GB 11643): 6-digit region code (not starting with 0),
  8-digit birth date (a real date, not before 1900, not after ``today``), 3-digit sequence,
  and an ISO/IEC 7064 MOD 11-2 check character (``0-9`` or ``X``).
- Unified social credit code (统一社会信用代码, GB 32100): 18 characters of
  ``0-9 A-H J-N P-R T U W-Y``; the last is a MOD 31 check character (weights ``3^i mod 31``).
- Certificate identifier (电子证照标识, GB/T 36904)::

      1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>

  type code = the 18-character USCC of the body that defines the type + 3 digits; serial =
  1-32 characters of ``0-9A-Z``; version = 3 digits; check = ISO/IEC 7064 MOD 37,36 over
  type code + issuer + serial + version concatenated without dots. Upper case only.

Validators return the normalized value (a citizen ID's ``x`` and a USCC's letters upper-cased)
and raise :class:`~certs.errors.ValidationError` with the field named.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from dataclasses import dataclass

from certs import clock
from certs.errors import ValidationError

IDENTIFIER_PREFIX = "1.2.156.3005.2."
"""The fixed OID-style prefix of every GB/T 36904 identifier."""

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_USCC_VALUES = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_MOD37_VALUES = {c: i for i, c in enumerate(MOD37_ALPHABET)}
_CID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CID_CHECK = "10X98765432"

_CID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_USCC_BODY = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{17}")
_USCC_SHAPE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")
_SERIAL_SHAPE = re.compile(r"[0-9A-Z]{1,32}")
_VERSION_SHAPE = re.compile(r"[0-9]{3}")
_MIN_BIRTH = dt.date(1900, 1, 1)


# ------------------------------------------------------------------------- check characters


def citizen_id_check_char(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("a citizen ID check character needs exactly 17 digits")
    total = sum(map(operator.mul, map(int, first17), _CID_WEIGHTS))
    return _CID_CHECK[total % 11]


@functools.lru_cache(maxsize=4096)  # a batch repeats its issuer and type codes on every row
def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters of a USCC."""
    if not _USCC_BODY.fullmatch(first17):
        raise ValueError("a USCC check character needs exactly 17 characters of " + USCC_ALPHABET)
    total = sum(map(operator.mul, map(_USCC_VALUES.__getitem__, first17), _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def mod37_36_check_char(text: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``text`` (characters ``0-9A-Z``)."""
    return MOD37_ALPHABET[(37 - _mod37_state(36, text)) % 36]


def _mod37_state(p: int, text: str) -> int:
    """The MOD 37,36 running state ``p`` after ``text`` (start: 36)."""
    try:
        for c in text:
            t = (p + _MOD37_VALUES[c]) % 36 or 36
            p = (2 * t) % 37
    except KeyError:
        raise ValueError("MOD 37,36 is defined over the characters 0-9 and A-Z only") from None
    return p


# ---------------------------------------------------------------------------- holder codes


def validate_citizen_id(
    value: str, *, field: str = "holder.code", today: dt.date | None = None
) -> str:
    """Check an 18-character citizen ID number; return it with ``x`` upper-cased."""
    code = value.strip().upper()
    if len(code) == 15 and code.isdigit():
        raise ValidationError(
            f"citizen ID number {code} is an old 15-digit number; "
            "enter the 18-character number instead",
            field=field,
            code="invalid_citizen_id",
        )
    if not code.isascii() or not _CID_SHAPE.fullmatch(code):
        raise ValidationError(
            f"citizen ID number {value!r} must be 17 digits followed by a digit or X",
            field=field,
            code="invalid_citizen_id",
        )
    if code[0] == "0":
        raise ValidationError(
            f"citizen ID number {code} starts with region code {code[:6]}, "
            "which cannot start with 0",
            field=field,
            code="invalid_citizen_id",
        )
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise ValidationError(
            f"citizen ID number {code} contains birth date {code[6:14]}, "
            "which is not a real calendar date",
            field=field,
            code="invalid_citizen_id",
        ) from None
    limit = today if today is not None else clock.today()
    if born < _MIN_BIRTH or born > limit:
        raise ValidationError(
            f"citizen ID number {code} contains birth date {born.isoformat()}, "
            f"which is not between 1900-01-01 and {limit.isoformat()}",
            field=field,
            code="invalid_citizen_id",
        )
    expected = citizen_id_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            f"citizen ID number {code} has a wrong check digit (expected {expected})",
            field=field,
            code="invalid_citizen_id",
        )
    return code


def validate_uscc(value: str, *, field: str = "holder.code") -> str:
    """Check an 18-character unified social credit code; return it upper-cased."""
    code = value.strip().upper()
    if not _USCC_SHAPE.fullmatch(code):
        bad = sorted({c for c in code if c not in _USCC_VALUES})
        detail = (
            f"contains characters not allowed in a USCC ({''.join(bad)}; "
            "I, O, S, V and Z are never used)"
            if bad
            else f"has {len(code)} characters instead of 18"
        )
        raise ValidationError(
            f"unified social credit code {value!r} {detail}", field=field, code="invalid_uscc"
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValidationError(
            f"unified social credit code {code} has a wrong check character (expected {expected})",
            field=field,
            code="invalid_uscc",
        )
    return code


def validate_type_code(value: str, *, field: str = "type") -> str:
    """Check a 21-character certificate type code: a valid USCC + 3 digits (no normalization)."""
    body, number = value[:18], value[18:]
    if len(value) != 21 or not number.isascii() or not number.isdigit():
        raise ValidationError(
            f"certificate type code {value!r} must be 21 characters: the defining body's "
            "18-character USCC followed by 3 digits",
            field=field,
            code="invalid_type_code",
        )
    if not _USCC_SHAPE.fullmatch(body) or uscc_check_char(body[:17]) != body[17]:
        raise ValidationError(
            f"certificate type code {value} does not start with a valid USCC of the defining body",
            field=field,
            code="invalid_type_code",
        )
    return value


# ------------------------------------------------------------------- GB/T 36904 identifier


@dataclass(frozen=True)
class CertificateIdentifier:
    """A parsed GB/T 36904 certificate identifier."""

    type_code: str
    """21 characters: defining body's USCC + 3 digits."""
    issuer_code: str
    """The issuing agency's 18-character USCC."""
    serial: str
    """1-32 characters of ``0-9A-Z``, chosen by the issuer."""
    version: str
    """3 digits: ``001`` for a first issue, higher for re-issues."""
    check: str
    """The MOD 37,36 check character."""

    @property
    def defining_body_code(self) -> str:
        """USCC of the body that defines the certificate type (first 18 of the type code)."""
        return self.type_code[:18]

    def __str__(self) -> str:
        return (
            f"{IDENTIFIER_PREFIX}{self.type_code}.{self.issuer_code}."
            f"{self.serial}.{self.version}.{self.check}"
        )


def _check_serial(serial: str, field: str) -> None:
    if not _SERIAL_SHAPE.fullmatch(serial) or not serial.isascii():
        raise ValidationError(
            f"serial {serial!r} must be 1 to 32 characters of 0-9 and upper-case A-Z",
            field=field,
            code="invalid_serial",
        )


def _check_version(version: str, field: str) -> None:
    if not _VERSION_SHAPE.fullmatch(version) or not version.isascii():
        raise ValidationError(
            f"version {version!r} must be exactly 3 digits, such as 001",
            field=field,
            code="invalid_version",
        )


def build_identifier(
    type_code: str, issuer_code: str, serial: str, version: str = "001"
) -> CertificateIdentifier:
    """Build an identifier, computing its check character; every part is validated."""
    state = _checked_prefix(type_code, issuer_code)
    _check_serial(serial, "serial")
    _check_version(version, "version")
    check = MOD37_ALPHABET[(37 - _mod37_state(state, serial + version)) % 36]
    return CertificateIdentifier(type_code, issuer_code, serial, version, check)


@functools.lru_cache(maxsize=1024)
def _checked_prefix(type_code: str, issuer_code: str) -> int:
    """Validate the type and issuer codes (memoized: a batch shares them) and return the
    MOD 37,36 state after them, so each identifier's check character costs only its serial
    and version."""
    validate_type_code(type_code, field="type")
    if validate_uscc(issuer_code, field="issuer.code") != issuer_code:
        raise ValidationError(
            f"issuer code {issuer_code!r} must be written in upper case",
            field="issuer.code",
            code="invalid_uscc",
        )
    return _mod37_state(36, type_code + issuer_code)


def parse_identifier(text: str, *, field: str = "identifier") -> CertificateIdentifier:
    """Parse and fully validate an identifier string (prefix, parts, USCCs, check character)."""

    def bad(reason: str) -> ValidationError:
        return ValidationError(
            f"certificate identifier {text!r} {reason}", field=field, code="invalid_identifier"
        )

    if not text.startswith(IDENTIFIER_PREFIX):
        raise bad(f"must start with {IDENTIFIER_PREFIX}")
    parts = text[len(IDENTIFIER_PREFIX) :].split(".")
    if len(parts) != 5:
        raise bad("must have 5 parts after the prefix: type code, issuer, serial, version, check")
    type_code, issuer_code, serial, version, check = parts
    try:
        validate_type_code(type_code, field=field)
        if validate_uscc(issuer_code, field=field) != issuer_code:
            raise bad("has an issuer code in lower case")
        _check_serial(serial, field)
        _check_version(version, field)
    except ValidationError as exc:
        raise bad(f"is malformed: {exc.reason}") from None
    expected = mod37_36_check_char(type_code + issuer_code + serial + version)
    if check != expected:
        raise bad(f"has a wrong check character (expected {expected})")
    return CertificateIdentifier(type_code, issuer_code, serial, version, check)
