"""PDF object syntax (ISO 32000-1 §7.2–7.3): the value types, a strict parser, a serializer.

Values: ``None`` (null), ``bool``, ``int``, ``float``, :class:`Name` (a ``str``), ``bytes``
(a string; :class:`HexString` when it must be written in hex), ``list`` (array), ``dict``
keyed by :class:`Name` (dictionary), :class:`Ref` (indirect reference) and :class:`Stream`
(a dictionary with its raw, still encoded, data). This module knows nothing of signing.

Parsing is bounded: nesting deeper than ``max_depth`` raises :class:`PdfHostile`; anything
that is not PDF syntax raises :class:`PdfMalformed`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seals.pdf.errors import PdfHostile, PdfMalformed

PdfObject = Any
"""Any PDF value (see the module docstring)."""


class Name(str):
    """A PDF name, without its leading slash (``Name("Type")`` is ``/Type``)."""

    __slots__ = ()


class HexString(bytes):
    """A string that is written as ``<hex>`` (e.g. ``/Contents`` of a signature)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Ref:
    """An indirect reference ``num gen R``."""

    num: int
    gen: int = 0


@dataclass(frozen=True)
class Stream:
    """A stream object: its dictionary and its raw (encoded) data."""

    dict: dict[str, PdfObject]
    raw: bytes


WHITESPACE = b"\x00\t\n\x0c\r "
DELIMITERS = b"()<>[]{}/%"
_WS_OR_COMMENT = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_REGULAR = rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]"
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_REF = re.compile(rb"(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+R(?!" + _REGULAR + rb")")
_REF_RUN = re.compile(
    rb"(?:\d+[\x00\t\n\x0c\r ]+\d+[\x00\t\n\x0c\r ]+R(?!" + _REGULAR + rb")[\x00\t\n\x0c\r ]*)+"
)
_NAME = re.compile(rb"/(" + _REGULAR + rb"*)")
_KEYWORD = re.compile(_REGULAR + rb"+")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_LITERAL_SPECIAL = re.compile(rb"[()\\]")
_OBJ_HEADER = re.compile(
    rb"(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj(?!" + _REGULAR + rb")"
)
_ESCAPES = {
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("f"): b"\f",
    ord("("): b"(",
    ord(")"): b")",
    ord("\\"): b"\\",
}
DEFAULT_MAX_DEPTH = 64


def skip_ws(data: bytes, pos: int) -> int:
    """The first position at or after ``pos`` that is not whitespace or a comment."""
    m = _WS_OR_COMMENT.match(data, pos)
    return m.end() if m else pos


class Parser:
    """Parses PDF values out of ``data`` (direct objects and ``N G obj … endobj``)."""

    def __init__(self, data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self.data = data
        self.max_depth = max_depth

    def fail(self, what: str, pos: int) -> PdfMalformed:
        return PdfMalformed(f"{what} at byte {pos}")

    def value(self, pos: int, depth: int = 0) -> tuple[PdfObject, int]:
        """The value starting at ``pos`` (after whitespace) and the position after it."""
        data = self.data
        pos = skip_ws(data, pos)
        if pos >= len(data):
            raise self.fail("unexpected end of data", pos)
        if depth > self.max_depth:
            raise PdfHostile(f"objects nested deeper than {self.max_depth} levels at byte {pos}")
        c = data[pos]
        if c == 0x2F:  # /
            m = _NAME.match(data, pos)
            assert m is not None
            return _name(m.group(1)), m.end()
        if c == 0x3C:  # <
            if data.startswith(b"<<", pos):
                return self._dict(pos + 2, depth)
            return self._hex(pos + 1)
        if c == 0x5B:  # [
            return self._array(pos + 1, depth)
        if c == 0x28:  # (
            return self._literal(pos + 1)
        if 0x30 <= c <= 0x39:
            m = _REF.match(data, pos)
            if m:
                return Ref(int(m.group(1)), int(m.group(2))), m.end()
        if 0x30 <= c <= 0x39 or c in b"+-.":
            m = _NUMBER.match(data, pos)
            if not m:
                raise self.fail("bad number", pos)
            text = m.group(0)
            if b"." in text:
                return float(text), m.end()
            return int(text), m.end()
        m = _KEYWORD.match(data, pos)
        if m:
            word = m.group(0)
            if word == b"true":
                return True, m.end()
            if word == b"false":
                return False, m.end()
            if word == b"null":
                return None, m.end()
            raise self.fail(f"unexpected keyword {word[:20]!r}", pos)
        raise self.fail(f"unexpected character {bytes([c])!r}", pos)

    def _dict(self, pos: int, depth: int) -> tuple[dict[str, PdfObject], int]:
        data = self.data
        out: dict[str, PdfObject] = {}
        while True:
            pos = skip_ws(data, pos)
            if data.startswith(b">>", pos):
                return out, pos + 2
            if pos >= len(data):
                raise self.fail("unterminated dictionary", pos)
            m = _NAME.match(data, pos)
            if not m:
                raise self.fail("dictionary key is not a name", pos)
            key = _name(m.group(1))
            value, pos = self.value(m.end(), depth + 1)
            if value is not None:  # a null value is the same as an absent key
                out[key] = value

    def _array(self, pos: int, depth: int) -> tuple[list[PdfObject], int]:
        data = self.data
        out: list[PdfObject] = []
        while True:
            pos = skip_ws(data, pos)
            if pos < len(data) and data[pos] == 0x5D:  # ]
                return out, pos + 1
            if pos >= len(data):
                raise self.fail("unterminated array", pos)
            if 0x30 <= data[pos] <= 0x39:  # a run of references (/Kids, /Annots…) in one go
                run = _REF_RUN.match(data, pos)
                if run:
                    out += [
                        Ref(int(m.group(1)), int(m.group(2)))
                        for m in _REF.finditer(data, pos, run.end())
                    ]
                    pos = run.end()
                    continue
            value, pos = self.value(pos, depth + 1)
            out.append(value)

    def _hex(self, pos: int) -> tuple[bytes, int]:
        end = self.data.find(b">", pos)
        if end < 0:
            raise self.fail("unterminated hex string", pos)
        digits = self.data[pos:end].translate(None, WHITESPACE)
        if len(digits) % 2:
            digits += b"0"
        try:
            return bytes.fromhex(digits.decode("ascii")), end + 1
        except ValueError as exc:
            raise self.fail("bad hex string", pos) from exc

    def _literal(self, pos: int) -> tuple[bytes, int]:
        data = self.data
        out = bytearray()
        level = 1
        while True:
            m = _LITERAL_SPECIAL.search(data, pos)
            if not m:
                raise self.fail("unterminated string", pos)
            i = m.start()
            out += data[pos:i]
            c = data[i]
            if c == 0x28:
                level += 1
                out.append(c)
                pos = i + 1
            elif c == 0x29:
                level -= 1
                if level == 0:
                    return bytes(out), i + 1
                out.append(c)
                pos = i + 1
            else:
                pos = self._escape(i + 1, out)

    def _escape(self, pos: int, out: bytearray) -> int:
        data = self.data
        if pos >= len(data):
            raise self.fail("unterminated string", pos)
        c = data[pos]
        if c in _ESCAPES:
            out += _ESCAPES[c]
            return pos + 1
        if 0x30 <= c <= 0x37:
            end = pos
            while end < len(data) and end < pos + 3 and 0x30 <= data[end] <= 0x37:
                end += 1
            out.append(int(data[pos:end], 8) & 0xFF)
            return end
        if c == 0x0D:  # line continuation
            return pos + 2 if data.startswith(b"\r\n", pos) else pos + 1
        if c == 0x0A:
            return pos + 1
        out.append(c)
        return pos + 1

    def indirect(
        self,
        pos: int,
        *,
        resolve_length: Callable[[Ref], PdfObject] | None = None,
        limit: int | None = None,
    ) -> tuple[int, int, PdfObject, int]:
        """``N G obj <value> [stream…endstream] endobj`` at ``pos``: (num, gen, value, end).

        ``resolve_length`` resolves an indirect ``/Length``; ``limit`` bounds where the stream
        data may end (the end of the revision being read).
        """
        data = self.data
        m = _OBJ_HEADER.match(data, pos)
        if not m:
            raise self.fail("expected 'N G obj'", pos)
        num, gen = int(m.group(1)), int(m.group(2))
        value, pos = self.value(m.end())
        pos = skip_ws(data, pos)
        if data.startswith(b"stream", pos) and isinstance(value, dict):
            value, pos = self._stream(value, pos + 6, resolve_length, limit)
            pos = skip_ws(data, pos)
        if data.startswith(b"endobj", pos):
            pos += 6
        return num, gen, value, pos

    def _stream(
        self,
        head: dict[str, PdfObject],
        pos: int,
        resolve_length: Callable[[Ref], PdfObject] | None,
        limit: int | None,
    ) -> tuple[Stream, int]:
        data = self.data
        end_of_data = len(data) if limit is None else min(limit, len(data))
        if data.startswith(b"\r\n", pos):
            pos += 2
        elif data.startswith(b"\n", pos) or data.startswith(b"\r", pos):
            pos += 1
        length = head.get("Length")
        if isinstance(length, Ref) and resolve_length is not None:
            try:
                length = resolve_length(length)
            except PdfMalformed:
                length = None
        if isinstance(length, int) and 0 <= length <= end_of_data - pos:
            after = skip_ws(data, pos + length)
            if data.startswith(b"endstream", after):
                return Stream(head, data[pos : pos + length]), after + 9
        # /Length missing or wrong: the data runs to the next 'endstream' (as every reader does)
        end = data.find(b"endstream", pos, end_of_data)
        if end < 0:
            raise self.fail("stream without 'endstream'", pos)
        stop = end
        if data[stop - 1 : stop] == b"\n":
            stop -= 1
        if data[stop - 1 : stop] == b"\r":
            stop -= 1
        return Stream(head, data[pos:max(stop, pos)]), end + 9


def _name(raw: bytes) -> Name:
    if b"#" in raw:
        raw = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return Name(raw.decode("latin-1"))


# ------------------------------------------------------------------------------ writing

_NAME_SAFE = frozenset(range(0x21, 0x7F)) - frozenset(DELIMITERS) - {ord("#")}


def _write_name(name: str) -> bytes:
    raw = name.encode("latin-1") if all(ord(c) < 256 for c in name) else name.encode("utf-8")
    return b"/" + b"".join(bytes([b]) if b in _NAME_SAFE else b"#%02X" % b for b in raw)


def _write_literal(value: bytes) -> bytes:
    escaped = value.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    escaped = escaped.replace(b"\r", b"\\r")
    return b"(" + escaped + b")"


def format_number(value: float) -> bytes:
    """A real number as PDF writes it: no exponent, at most 4 decimals, no trailing zeros."""
    if value == int(value):
        return b"%d" % int(value)
    text = (b"%.4f" % value).rstrip(b"0").rstrip(b".")
    return text if text not in (b"-0", b"") else b"0"


def serialize(value: PdfObject) -> bytes:
    """The PDF syntax of a value (a :class:`Stream` with its data, raw)."""
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, Name):
        return _write_name(value)
    if isinstance(value, Ref):
        return b"%d %d R" % (value.num, value.gen)
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, HexString):
        return b"<" + value.hex().encode() + b">"
    if isinstance(value, bytes):
        return _write_literal(value)
    if isinstance(value, list):
        return b"[" + b" ".join(serialize(v) for v in value) + b"]"
    if isinstance(value, Stream):
        head = dict(value.dict)
        head["Length"] = len(value.raw)
        return serialize(head) + b"\nstream\n" + value.raw + b"\nendstream"
    if isinstance(value, dict):
        parts = [_write_name(k) + b" " + serialize(v) for k, v in value.items()]
        return b"<<" + b" ".join(parts) + b">>"
    raise TypeError(f"not a PDF value: {type(value).__name__}")


def text_string(text: str) -> bytes:
    """A PDF text string: ASCII as is, anything else UTF-16BE with a byte order mark."""
    if text.isascii():
        return text.encode("ascii")
    return b"\xfe\xff" + text.encode("utf-16-be")


def decode_text(value: PdfObject) -> str:
    """A PDF text string as ``str`` (UTF-16BE with BOM, UTF-8 with BOM, else Latin-1)."""
    if not isinstance(value, bytes):
        return "" if value is None else str(value)
    if value.startswith(b"\xfe\xff"):
        return value[2:].decode("utf-16-be", "replace")
    if value.startswith(b"\xef\xbb\xbf"):
        return value[3:].decode("utf-8", "replace")
    return value.decode("latin-1")


def equal(a: PdfObject, b: PdfObject) -> bool:
    """Deep equality of two values; references compare by number and generation."""
    if isinstance(a, Stream) or isinstance(b, Stream):
        return (
            isinstance(a, Stream)
            and isinstance(b, Stream)
            and a.raw == b.raw
            and equal(_without_length(a.dict), _without_length(b.dict))
        )
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or a.keys() != b.keys():
            return False
        return all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    for kind in (bytes, Name, bool, Ref):
        if isinstance(a, kind) or isinstance(b, kind):
            return isinstance(a, kind) and isinstance(b, kind) and a == b
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, int | float) and isinstance(b, int | float) and a == b


def _without_length(d: dict[str, PdfObject]) -> dict[str, PdfObject]:
    return {k: v for k, v in d.items() if k != "Length"}
