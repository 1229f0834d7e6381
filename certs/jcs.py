"""RFC 8785 (JCS) canonical JSON: the Python reference implementation.

Object members sorted by their names' UTF-16 code units; strings as ECMAScript
``JSON.stringify`` writes them (only ``"``, ``\\`` and U+0000-U+001F escaped: ``\\b \\t \\n
\\f \\r`` short, others ``\\u00xx`` lower-case hex; everything else as is, UTF-8 encoded; lone
surrogates are an error); ``true false null``; numbers as ECMAScript
``Number.prototype.toString`` (integers beyond ±(2^53 - 1), NaN and infinities are an error).

This module is the specification in code; :mod:`certs.formats` says where a faster writer
of the same bytes is used instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any, TypeAlias

from certs.errors import CanonicalizationError

Json: TypeAlias = (
    "bool | int | float | str | list[Json] | tuple[Json, ...] | dict[str, Json] | None"
)

MAX_SAFE_INT = (1 << 53) - 1


def utf16_key(name: str) -> bytes:
    """The sort key of a member name: its UTF-16 code units."""
    return name.encode("utf-16-be", "surrogatepass")


def es_number(x: float) -> str:
    """ECMAScript Number.prototype.toString for a finite double (RFC 8785 §3.2.2.3)."""
    if x != x or x in (float("inf"), float("-inf")):
        raise CanonicalizationError("JSON cannot hold NaN or infinity")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp = repr(abs(x)).partition("e")  # repr: shortest round-trip digits
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    n = len(whole) + (int(exp) if exp else 0) - (len(raw) - len(digits))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    exponent = ("e+" if e >= 0 else "e-") + str(abs(e))
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + exponent


def no_float(x: float) -> str:
    """The number writer of the certificate formats, which hold integers only."""
    raise CanonicalizationError(
        f"the number {x!r} is not an integer: certificate documents and signed payloads hold "
        "no floats"
    )


def _emit(value: Any, out: Callable[[str], Any], real: Callable[[float], str]) -> None:
    if isinstance(value, str):
        out(encode_basestring(value))
    elif value is None:
        out("null")
    elif value is True:
        out("true")
    elif value is False:
        out("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise CanonicalizationError(
                f"the integer {value} is beyond ±(2^53 - 1) and cannot be exact in JSON"
            )
        out(str(int(value)))
    elif isinstance(value, float):
        out(real(value))
    elif isinstance(value, list | tuple):
        out("[")
        for i, item in enumerate(value):
            if i:
                out(",")
            _emit(item, out, real)
        out("]")
    elif isinstance(value, Mapping):
        out("{")
        for i, name in enumerate(sorted(value, key=_key_of)):
            if i:
                out(",")
            out(encode_basestring(name))
            out(":")
            _emit(value[name], out, real)
        out("}")
    else:
        raise CanonicalizationError(f"JSON cannot hold a value of type {type(value).__name__}")


def _key_of(name: Any) -> bytes:
    if not isinstance(name, str):
        raise CanonicalizationError(f"JSON member names must be text, not {name!r}")
    return utf16_key(name)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; :class:`CanonicalizationError` for a lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError(
            "text contains a lone surrogate (invalid Unicode) that JSON cannot carry"
        ) from None


def jcs(value: Json | Mapping[str, Any], *, floats: bool = True) -> bytes:
    """The RFC 8785 canonical JSON of ``value`` as UTF-8 bytes; :class:`CanonicalizationError`
    for what JSON cannot hold exactly (NaN, infinities, integers beyond ±(2^53 - 1), member
    names that are not text, lone surrogates, values of other types) and, unless ``floats``,
    for any float (the certificate formats hold integers only)."""
    parts: list[str] = []
    _emit(value, parts.append, es_number if floats else no_float)
    return utf8("".join(parts))


def jcs_object(members: Mapping[str, str]) -> str:
    """The JCS text of an object whose member values are given already as JCS text (JCS
    composes: an object is its members in UTF-16 order of their names, each ``name:value``)."""
    names = tuple(members)
    order = _ORDERS.get(names)
    if order is None:
        order = tuple((name, encode_basestring(name) + ":") for name in sorted(names, key=_key_of))
        if len(_ORDERS) < 256:
            _ORDERS[names] = order
    return "{" + ",".join([written + members[name] for name, written in order]) + "}"


_ORDERS: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}
"""The members of the objects :func:`jcs_object` wrote, in JCS order with their names
written (one shape per kind of object)."""
