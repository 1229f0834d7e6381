"""Reading the ASN.1 fields of seals defensively: each reader forces the decoding of one field
and turns any failure into a :class:`~seals.errors.SesFormatError` that names the field (code
``ses_bad_der``, ``ses_bad_field``, ``ses_truncated``, …), so nothing else escapes the parser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from asn1crypto import core

from seals.errors import SealError, SesFormatError


def fail(
    where: str, exc: BaseException | None = None, *, code: str = "ses_bad_der"
) -> SesFormatError:
    """The format error for what ``exc`` found wrong at ``where``. Running out of memory
    says nothing about the input: :class:`MemoryError` is raised again, never reported as a
    malformed (so invalid) structure."""
    if isinstance(exc, MemoryError):
        raise exc
    detail = ""
    if exc is not None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "nsufficient data" in text or "truncated" in text.lower():
            code = "ses_truncated"
        detail = f" ({text[:160]})"
    if code == "ses_truncated":
        return SesFormatError(f"{where}: truncated{detail}", code=code)
    return SesFormatError(f"{where}: not valid DER{detail}", code=code)


def get(obj: Any, name: str | int, where: str) -> Any:
    try:
        return obj[name]
    except SealError:
        raise
    except Exception as exc:
        raise fail(f"{where}.{name}", exc) from exc


def native_value(obj: Any, where: str) -> Any:
    try:
        return obj.native
    except Exception as exc:
        raise fail(where, exc) from exc


def force(value: Any) -> None:
    """Decode every typed part of ``value`` now (asn1crypto parses lazily), so a damaged
    part is named here. An untyped part (``core.Any``) is only delimited: the code that reads
    it loads it with its own type later. Rendering it generically (``.native``) would refuse
    every context-tagged element inside, such as ``TBS_Sign.extDatas [0]``."""
    if isinstance(value, core.Any):
        first = value._header[0]  # identifier octet (an unparsed Any has no .method yet)
        if first & 0xE0 == 0:  # a universal primitive: it must be a type asn1crypto knows
            value.dump()
        else:
            value.contents  # noqa: B018
    elif isinstance(value, core.SequenceOf):
        for child in value:
            force(child)
    elif isinstance(value, core.Sequence):
        for index in range(len(value)):
            force(value[index])
    else:
        value.native  # noqa: B018


def load_der(cls: type[core.Asn1Value], data: bytes, where: str) -> Any:
    try:
        value = cls.load(data, strict=True)
        force(value)
    except Exception as exc:
        raise fail(where, exc) from exc
    return value


def text(obj: Any, where: str) -> str:
    value = native_value(obj, where)
    if not isinstance(value, str):
        raise SesFormatError(f"{where}: expected text", code="ses_bad_field")
    return value


def integer(obj: Any, where: str, *, lo: int = -(2**31), hi: int = 2**31) -> int:
    value = native_value(obj, where)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise SesFormatError(f"{where}: integer out of range", code="ses_bad_field")
    return value


def bits(obj: Any, where: str) -> bytes:
    contents = bytes(obj.contents or b"")
    if not contents or contents[0] != 0:
        raise SesFormatError(f"{where}: BIT STRING with unused bits", code="ses_bad_field")
    return contents[1:]


def timeval(obj: Any, where: str) -> datetime:
    """GeneralizedTime or UTCTime (tolerant: v1 writes UTCTime, v4 GeneralizedTime)."""
    tag, raw, _contents = any_parts(obj, where)
    cls: type[core.Asn1Value]
    if tag == 24:
        cls = core.GeneralizedTime
    elif tag == 23:
        cls = core.UTCTime
    else:
        raise SesFormatError(
            f"{where}: expected a GeneralizedTime or UTCTime", code="ses_bad_field"
        )
    value = native_value(load_der(cls, raw, where), where)
    if not isinstance(value, datetime):
        raise SesFormatError(f"{where}: not a time", code="ses_bad_field")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def any_parts(obj: Any, where: str) -> tuple[int, bytes, bytes]:
    """``(universal tag number, full encoding, contents)`` of an ``Any`` value."""
    try:
        raw = bytes(obj.dump())
        generic = core.load(raw, strict=True)
        return int(generic.tag), raw, bytes(generic.contents or b"")
    except Exception as exc:
        raise fail(where, exc) from exc


def text_time(raw: bytes) -> datetime | None:
    """A v1 ``timeInfo``: time text (``YYMMDDhhmmssZ`` or ``YYYYMMDDhhmmssZ``) or DER time."""
    for candidate in (raw,):
        if candidate[:1] in (b"\x17", b"\x18"):
            try:
                return timeval(core.Any.load(candidate, strict=True), "timeInfo")
            except SealError:
                return None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    for fmt in ("%Y%m%d%H%M%SZ", "%y%m%d%H%M%SZ", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
