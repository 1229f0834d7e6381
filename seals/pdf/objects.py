"""PDF values (ISO 32000-1 §7.3): the types, and what is done with them besides parsing —
comparing (:func:`equal`), reading text strings, walking for references, a brief repr for
messages, and writing them back (:func:`serialize`). ``seals.pdf.syntax`` parses into them.
"""

from __future__ import annotations

import itertools
import math
import reprlib
from dataclasses import dataclass
from typing import Any

from seals.pdf.errors import PdfHostile

PdfObject = Any
"""Any PDF value (see the module docstring)."""


class Name(str):
    """A PDF name, without its leading slash (``Name("Type")`` is ``/Type``)."""

    __slots__ = ()


class HexString(bytes):
    """A string that is written as ``<hex>`` (e.g. ``/Contents`` of a signature)."""

    __slots__ = ()


class Real(float):
    """A real number read from a file, with its text: written back as read, and compared by
    its text (``8.0`` is not ``8``: poppler ignores a real ``/Rotate``, MuPDF does not)."""

    __slots__ = ("text",)
    text: bytes

    def __new__(cls, text: bytes) -> Real:
        value = super().__new__(cls, float(text))
        value.text = text
        return value

    def __repr__(self) -> str:
        return f"Real({self.text.decode('ascii')})"


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


@dataclass(frozen=True, slots=True)
class Indirect:
    """An indirect object as written in the file: ``num gen obj value endobj``."""

    num: int
    gen: int
    value: PdfObject
    end: int
    """The position after ``endobj`` (or after the value, when ``endobj`` is missing)."""
    endobj: bool
    """Whether the object ends with the ``endobj`` keyword."""


class Budget:
    """What reading one file may cost: work (in units of roughly a microsecond of CPU) and
    bytes of stream data taken.

    Every token parsed (value, array item, string escape) spends a unit of work, and so do,
    in proportion to what they cost, every object checked, every byte decompressed, run
    through a predictor or hashed, every signature verified; every stream's data copied
    spends its length. Exhausting either raises :class:`PdfHostile`, so the time and memory
    spent on a file are bounded whatever its shape (overlapping streams, hundreds of
    thousands of tiny objects, strings of escapes, predictor rows…)."""

    __slots__ = ("stream_bytes", "work")

    def __init__(self, work: int, stream_bytes: int) -> None:
        self.work = work
        self.stream_bytes = stream_bytes

    def spend(self, units: int) -> None:
        self.work -= units
        if self.work < 0:
            raise PdfHostile(
                "the PDF needs more work to read (objects, tokens, decoding, hashing) than "
                "verification allows"
            )

    def take(self, nbytes: int) -> None:
        self.stream_bytes -= nbytes
        if self.stream_bytes < 0:
            raise PdfHostile(
                "the PDF's streams hold more data than the file could (overlapping streams?)"
            )


WHITESPACE = b"\x00\t\n\x0c\r "
DELIMITERS = b"()<>[]{}/%"
MAX_REAL_CHARS = 64
"""Longest real literal accepted (characters)."""


# ------------------------------------------------------------------------------ walking


def walk(value: PdfObject, refs: list[Ref], dicts: list[dict[str, PdfObject]]) -> None:
    """Every reference in ``value`` into ``refs`` and every dictionary (a stream's too, and
    ``value`` itself) into ``dicts``, without recursion."""
    todo = [value]
    pop, extend = todo.pop, todo.extend
    while todo:
        v = pop()
        t = type(v)
        if t is Ref:
            refs.append(v)
        elif t is dict:
            dicts.append(v)
            extend(v.values())
        elif t is list:
            extend(v)
        elif t is Stream:
            todo.append(v.dict)


class _Brief(reprlib.Repr):
    """``repr`` cut short at every level, in time too: strings and names are cut before they
    are formatted (``reprlib`` would format a string of megabytes, then cut it)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxtuple = 3, 6, 6, 6
        self.maxstring = self.maxother = 40

    def repr_bytes(self, x: bytes, level: int) -> str:
        cut = len(x) > self.maxstring
        return repr(bytes(x[: self.maxstring])) + ("…" if cut else "")

    repr_HexString = repr_bytes

    def repr_Name(self, x: str, level: int) -> str:
        cut = len(x) > self.maxstring
        return "/" + str(x[: self.maxstring]) + ("…" if cut else "")

    def repr_dict(self, x: dict[Any, Any], level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        items = [f"{self.repr1(k, level - 1)}: {self.repr1(v, level - 1)}"
                 for k, v in itertools.islice(x.items(), self.maxdict)]  # not sorted: O(1)
        return "{" + ", ".join(items) + (", ...}" if len(x) > self.maxdict else "}")

    def repr_Stream(self, x: Stream, level: int) -> str:
        return "Stream(" + self.repr1(x.dict, level - 1) + ")"


_BRIEF = _Brief()


def brief(value: PdfObject) -> str:
    """A short ``repr`` of an attacker's value for a message (at most a few hundred
    characters, whatever the value's size)."""
    return _BRIEF.repr(value)


# ------------------------------------------------------------------------------ writing

_NAME_SAFE = frozenset(range(0x21, 0x7F)) - frozenset(DELIMITERS) - {ord("#")}


def write_name(name: str) -> bytes:
    """A name as written in a file (``/`` and ``#`` escapes)."""
    raw = name.encode("latin-1") if all(ord(c) < 256 for c in name) else name.encode("utf-8")
    return b"/" + b"".join(bytes([b]) if b in _NAME_SAFE else b"#%02X" % b for b in raw)


def _write_literal(value: bytes) -> bytes:
    escaped = value.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    escaped = escaped.replace(b"\r", b"\\r")
    return b"(" + escaped + b")"


def format_number(value: float) -> bytes:
    """A real number as PDF writes it: no exponent, at most 4 decimals, no trailing zeros;
    a large one keeps its ``.0`` (so that it reads back as a real, not as an integer longer
    than :data:`MAX_INT_DIGITS`). ``ValueError`` for what could not be read back."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as a PDF number")
    if abs(value) >= 1e18:
        text = b"%.1f" % value
        if len(text) > MAX_REAL_CHARS:
            raise ValueError(f"{value!r} cannot be written as a PDF number")
        return text
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
        return write_name(value)
    if isinstance(value, Ref):
        return b"%d %d R" % (value.num, value.gen)
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Real):
        return value.text
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
        parts = [write_name(k) + b" " + serialize(v) for k, v in value.items()]
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
    """Whether two values mean exactly the same to every viewer: the same types (an integer
    is not a real; a real compares by its text, as written), references by number and
    generation, streams by their whole dictionary (``/Length`` included) and data, strings
    by their bytes (literal or hex alike), dictionaries key by key (a null value is not an
    absent key)."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        # a literal and a hex string with the same bytes mean the same
        return isinstance(a, bytes) and isinstance(b, bytes) and bytes(a) == bytes(b)
    if ta is Stream:
        return a.raw == b.raw and equal(a.dict, b.dict)
    if ta is dict:
        if a.keys() != b.keys():
            return False
        return all(equal(a[k], b[k]) for k in a)
    if ta is list:
        if len(a) != len(b):
            return False
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is Real:
        return bool(a.text == b.text)
    return bool(a == b)
