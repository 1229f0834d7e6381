"""PDF object syntax (ISO 32000-1 §7.2–7.3): the value types, a strict parser, a serializer.

Values: ``None`` (null), ``bool``, ``int``, ``float``, :class:`Name` (a ``str``), ``bytes``
(a string; :class:`HexString` when it must be written in hex), ``list`` (array), ``dict``
keyed by :class:`Name` (dictionary), :class:`Ref` (indirect reference) and :class:`Stream`
(a dictionary with its raw, still encoded, data). This module knows nothing of signing.

Parsing is bounded and never recursive: nesting deeper than ``max_depth``, more tokens than
the :class:`Budget` allows, or more stream data than it allows raise :class:`PdfHostile`;
anything that is not PDF syntax raises :class:`PdfMalformed`. Numbers are bounded too: an
integer of more than :data:`MAX_INT_DIGITS` digits or a real of more than
:data:`MAX_REAL_CHARS` characters is malformed (Python would refuse to convert integers of
more than 4,300 digits, and no PDF needs either). A stream's ``/Length`` must be exact: the
data it measures must be followed by ``endstream`` (an end of line between them allowed);
there is no search for ``endstream``, because viewers do not agree on one.

This module owns the parser; the value types, comparison and the serializer live in
:mod:`seals.pdf.objects` and are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from seals.pdf.errors import PdfHostile, PdfMalformed
from seals.pdf.objects import (
    DELIMITERS,
    MAX_REAL_CHARS,
    WHITESPACE,
    Budget,
    HexString,
    Indirect,
    Name,
    PdfObject,
    Real,
    Ref,
    Stream,
    brief,
    decode_text,
    equal,
    format_number,
    serialize,
    text_string,
    walk,
    write_name,
)

__all__ = [  # the parser's own names, and the value types and writer it re-exports
    "DEFAULT_MAX_DEPTH",
    "DELIMITERS",
    "MAX_INT_DIGITS",
    "MAX_OBJECT_NUMBER",
    "MAX_REAL_CHARS",
    "OBJ_HEADER",
    "UNLIMITED",
    "WHITESPACE",
    "Budget",
    "HexString",
    "Indirect",
    "Name",
    "Parser",
    "PdfObject",
    "Real",
    "Ref",
    "Stream",
    "brief",
    "check_object_number",
    "decode_text",
    "equal",
    "format_number",
    "serialize",
    "skip_plain_ws",
    "skip_ws",
    "stream_span",
    "text_string",
    "walk",
    "write_name",
]

UNLIMITED = 1 << 62

MAX_INT_DIGITS = 20
"""Longest integer literal accepted (digits, sign not counted)."""
_WS_OR_COMMENT = re.compile(rb"(?:[\x00\t\n\x0c\r ]+|%[^\r\n]*)*")
_PLAIN_WS = re.compile(rb"[\x00\t\n\x0c\r ]*")
_REG = rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%]"
_W = rb"[\x00\t\n\x0c\r ]"
_TOKEN = re.compile(
    _W + rb"*(?:%[^\r\n]*" + _W + rb"*)*(?:"
    rb"/(" + _REG + rb"*)"  # 1 name
    rb"|(<<)|(>>)|(\[)|(\])"  # 2 << 3 >> 4 [ 5 ]
    rb"|((\d{1,10})" + _W + rb"+(\d{1,5})" + _W + rb"+R(?!" + _REG + rb"))"  # 6 (7, 8) ref
    rb"|([+-]?(?:\d+\.?\d*|\.\d+))"  # 9 number
    rb"|(\()|(<)"  # 10 ( 11 <
    rb"|(" + _REG + rb"+)"  # 12 keyword
    rb"|(\Z))"  # 13 end of data
)
_REF = rb"\d{1,10}" + _W + rb"+\d{1,5}" + _W + rb"+R(?!" + _REG + rb")"
_REF_ITEM = re.compile(rb"(\d{1,10})" + _W + rb"+(\d{1,5})" + _W + rb"+R")
_RUN_CHUNK = 4096
_REF_RUN = re.compile(rb"(?:" + _REF + _W + rb"*){1,%d}" % _RUN_CHUNK)
"""Up to :data:`_RUN_CHUNK` references in a row (a long run is taken a chunk at a time,
each chunk paid for before the next is read)."""
_BYTES_PER_UNIT_SHIFT = 6
"""The bytes a value spans cost one unit of work per 64 (a string, a name or a comment of
megabytes is one token, but copying or scanning it is not free)."""
_KEYWORDS: dict[bytes, PdfObject] = {b"true": True, b"false": False, b"null": None}
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_LITERAL_SPECIAL = re.compile(rb"[()\\]")
OBJ_HEADER = re.compile(
    rb"(\d{1,10})[\x00\t\n\x0c\r ]+(\d{1,5})[\x00\t\n\x0c\r ]+obj(?!" + _REG + rb")"
)
"""``num gen obj`` (the header of an indirect object)."""
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
MAX_OBJECT_NUMBER = 8_388_607
"""The highest object number viewers share (ISO 32000-1 Annex C; MuPDF's limit: it repairs a
file that uses a higher one, while poppler reads it)."""


def check_object_number(num: int, pos: int) -> None:
    """Refuse an object number beyond :data:`MAX_OBJECT_NUMBER` (``pdf_malformed``)."""
    if num > MAX_OBJECT_NUMBER:
        raise PdfMalformed(
            f"object number {num} at byte {pos} is beyond {MAX_OBJECT_NUMBER}, the highest "
            "that viewers share"
        )


def skip_ws(data: bytes, pos: int) -> int:
    """The first position at or after ``pos`` that is not whitespace or a comment."""
    m = _WS_OR_COMMENT.match(data, pos)
    return m.end() if m else pos


def skip_plain_ws(data: bytes, pos: int) -> int:
    """The first position at or after ``pos`` that is not whitespace (comments count)."""
    m = _PLAIN_WS.match(data, pos)
    return m.end() if m else pos


def _number(text: bytes, pos: int) -> int | Real:
    if b"." in text:
        if len(text) > MAX_REAL_CHARS:
            raise PdfMalformed(f"a real number of {len(text)} characters at byte {pos}")
        return Real(text)
    if len(text) - (text[0] in b"+-") > MAX_INT_DIGITS:
        raise PdfMalformed(f"an integer of more than {MAX_INT_DIGITS} digits at byte {pos}")
    return int(text)


class Parser:
    """Parses PDF values out of ``data`` (direct objects and ``N G obj … endobj``)."""

    def __init__(
        self, data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, budget: Budget | None = None
    ) -> None:
        self.data = data
        self.max_depth = max_depth
        self.budget = budget or Budget(UNLIMITED, UNLIMITED)

    def fail(self, what: str, pos: int) -> PdfMalformed:
        return PdfMalformed(f"{what} at byte {pos}")

    def value(self, pos: int) -> tuple[PdfObject, int]:
        """The value starting at ``pos`` (after whitespace) and the position after it."""
        data = self.data
        budget = self.budget
        match = _TOKEN.match
        stack: list[Any] = []  # open arrays and dictionaries
        keys: list[Any] = []  # per open dictionary: the key waiting for its value, else None
        spent = 0
        mark = pos  # bytes before it are paid for
        while True:
            m = match(data, pos)
            if m is None:
                at = skip_ws(data, pos)
                raise self.fail(f"unexpected character {data[at : at + 1]!r}", at)
            kind = m.lastindex
            pos = m.end()
            spent += 1
            if spent >= 4096:  # pay as we go: a flat array of millions is stopped early
                budget.spend(spent + ((pos - mark) >> _BYTES_PER_UNIT_SHIFT))
                spent, mark = 0, pos
            v: PdfObject
            if kind == 1:
                v = _name(m.group(1))
            elif kind == 2 or kind == 4:
                if len(stack) >= self.max_depth:
                    raise PdfHostile(
                        f"objects nested deeper than {self.max_depth} levels "
                        f"at byte {m.start(kind)}"
                    )
                spent += 2  # an open container costs more than a token (its stacks)
                keys.append(None)
                if kind == 2:
                    stack.append({})
                    continue
                items: list[PdfObject] = []
                stack.append(items)
                pos = self._runs(pos, items)
                continue
            elif kind == 3:
                if not stack or type(stack[-1]) is not dict:
                    raise self.fail("unexpected '>>'", m.start(kind))
                if keys.pop() is not None:
                    raise self.fail("dictionary key without a value", m.start(kind))
                v = stack.pop()
            elif kind == 5:
                if not stack or type(stack[-1]) is not list:
                    raise self.fail("unexpected ']'", m.start(kind))
                keys.pop()
                v = stack.pop()
            elif kind == 6:
                v = Ref(int(m.group(7)), int(m.group(8)))
                spent += 1  # a reference or a number costs about two microseconds here
                if v.num > MAX_OBJECT_NUMBER:
                    check_object_number(v.num, m.start(7))
            elif kind == 9:
                v = _number(m.group(9), m.start(9))
                spent += 1
            elif kind == 10:
                v, pos = self._literal(pos)
            elif kind == 11:
                v, pos = self._hex(pos)
            elif kind == 12:
                word = m.group(12)
                if word not in _KEYWORDS:
                    raise self.fail(f"unexpected keyword {word[:20]!r}", m.start(kind))
                v = _KEYWORDS[word]
            else:
                raise self.fail("unexpected end of data", m.start(kind or 0))
            # hand the value to its container
            if not stack:
                budget.spend(spent + ((pos - mark) >> _BYTES_PER_UNIT_SHIFT))
                return v, pos
            top = stack[-1]
            if type(top) is list:
                top.append(v)
                continue
            key = keys[-1]
            if key is None:
                if type(v) is not Name:
                    raise self.fail("dictionary key is not a name", m.start(kind or 0))
                keys[-1] = v
            else:
                if key in top:  # viewers disagree on which one counts: refused
                    raise self.fail(f"the key /{key[:40]} appears twice in a dictionary",
                                    m.start(kind or 0))
                top[key] = v  # a null value is kept: viewers do not all read it as absent
                keys[-1] = None

    def dict_spans(self, pos: int) -> tuple[int, int, dict[str, tuple[int, int, int]]]:
        """The dictionary starting at ``pos`` (after whitespace), key by key: where ``<<``
        starts, where ``>>`` ends, and per key (key start, value start, value end). A key
        written twice is malformed, as in :meth:`value`."""
        data = self.data
        m = _TOKEN.match(data, pos)
        if m is None or m.lastindex != 2:
            raise self.fail("expected a dictionary", skip_ws(data, pos))
        start = m.start(2)
        pos = m.end()
        spans: dict[str, tuple[int, int, int]] = {}
        while True:
            m = _TOKEN.match(data, pos)
            if m is not None and m.lastindex == 3:
                return start, m.end(), spans
            if m is None or m.lastindex != 1:
                raise self.fail("dictionary key is not a name", skip_ws(data, pos))
            key = _name(m.group(1))
            if key in spans:
                raise self.fail(f"the key /{key[:40]} appears twice in a dictionary", m.start(1))
            _, end = self.value(m.end())
            spans[key] = (m.start(1) - 1, skip_ws(data, m.end()), end)
            pos = end

    def _runs(self, pos: int, items: list[PdfObject]) -> int:
        """A run of references opening an array (``/Kids``, ``/Annots``…), taken a chunk of
        :data:`_RUN_CHUNK` at a time, each paid for as taken; returns the new position."""
        data = self.data
        at = skip_ws(data, pos)
        while at < len(data) and 0x30 <= data[at] <= 0x39:
            run = _REF_RUN.match(data, at)
            if run is None:
                break
            refs = [Ref(int(a), int(b)) for a, b in _REF_ITEM.findall(data, at, run.end())]
            if refs and max(r.num for r in refs) > MAX_OBJECT_NUMBER:
                check_object_number(max(r.num for r in refs), at)
            # two units a reference: making a Ref costs about two microseconds here
            self.budget.spend(2 * len(refs) + ((run.end() - at) >> _BYTES_PER_UNIT_SHIFT))
            items += refs
            pos = at = run.end()
        return pos

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
        spent = 0
        try:
            while True:
                m = _LITERAL_SPECIAL.search(data, pos)
                if not m:
                    raise self.fail("unterminated string", pos)
                spent += 1
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
                if spent >= 4096:
                    self.budget.spend(spent)
                    spent = 0
        finally:
            self.budget.spend(spent)

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
        resolve_length: Callable[[Ref], int] | None = None,
        limit: int | None = None,
        keep_data: bool = True,
    ) -> Indirect:
        """``N G obj <value> [stream…endstream] endobj`` at ``pos``.

        ``resolve_length`` resolves an indirect ``/Length`` (it must return an integer);
        ``limit`` bounds where the object may end (the end of the revision being read);
        without ``keep_data`` a stream's data is checked but not copied (``raw`` is empty).
        """
        data = self.data
        m = OBJ_HEADER.match(data, pos)
        if not m:
            raise self.fail("expected 'N G obj'", pos)
        num, gen = int(m.group(1)), int(m.group(2))
        value, pos = self.value(m.end())
        pos = skip_ws(data, pos)
        if data.startswith(b"stream", pos):
            if not isinstance(value, dict):
                raise self.fail(f"object {num} has 'stream' after a value that is no dictionary",
                                pos)
            value, pos = self._stream(value, pos + 6, resolve_length, limit, keep_data)
            pos = skip_ws(data, pos)
        endobj = data.startswith(b"endobj", pos)
        if endobj:
            pos += 6
        elif not OBJ_HEADER.match(data, pos) and not data.startswith((b"xref", b"startxref"), pos):
            # a missing 'endobj' before the next object is tolerated; anything else is not
            raise self.fail(f"object {num} is followed by something other than 'endobj'", pos)
        if limit is not None and pos > limit:
            raise self.fail(f"object {num} runs past the end of its revision", pos)
        return Indirect(num, gen, value, pos, endobj)

    def _stream(
        self,
        head: dict[str, PdfObject],
        pos: int,
        resolve_length: Callable[[Ref], int] | None,
        limit: int | None,
        keep_data: bool = True,
    ) -> tuple[Stream, int]:
        data = self.data
        length = head.get("Length")
        if isinstance(length, Ref):
            if resolve_length is None:
                raise self.fail("a stream /Length refers to another object here", pos)
            length = resolve_length(length)
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise self.fail(f"the stream has no usable /Length ({brief(length)})", pos)
        start, end = stream_span(data, pos, length, limit)
        if not keep_data:
            return Stream(head, b""), end
        self.budget.take(length)
        return Stream(head, data[start : start + length]), end


def stream_span(data: bytes, pos: int, length: int, limit: int | None = None) -> tuple[int, int]:
    """Where a stream's data starts and where its ``endstream`` ends, given ``pos`` (after the
    ``stream`` keyword) and its ``/Length``: the keyword is followed by an end of line (spaces
    before it allowed), the data by ``endstream`` (an end of line between allowed); no
    search."""
    start = pos
    end_of_data = len(data) if limit is None else min(limit, len(data))
    while data.startswith(b" ", pos):  # 'stream \r\n': both MuPDF and poppler skip spaces
        pos += 1
    if data.startswith(b"\r\n", pos):
        pos += 2
    elif data.startswith(b"\n", pos) or data.startswith(b"\r", pos):
        pos += 1
    else:  # poppler skips to the next line, MuPDF reads from here: refused
        raise PdfMalformed(f"no end of line after the 'stream' keyword at byte {start}")
    if length > end_of_data - pos:
        raise PdfMalformed(
            f"the stream's /Length {length} runs past the end of the data at byte {start}"
        )
    after = skip_plain_ws(data, pos + length)
    if not data.startswith(b"endstream", after):
        raise PdfMalformed(
            f"the stream's /Length {length} does not end where 'endstream' is at byte {start}"
        )
    return pos, after + 9


_NAMES: dict[bytes, Name] = {}


def _name(raw: bytes) -> Name:
    name = _NAMES.get(raw)
    if name is not None:
        return name
    text = raw
    if b"#" in raw:
        text = _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    name = Name(text.decode("latin-1"))
    if len(_NAMES) < 4096 and len(raw) <= 64:  # the usual names, not an attacker's millions
        _NAMES[raw] = name
    return name
