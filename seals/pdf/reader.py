"""Reading a PDF's structure strictly: header, ``startxref``, the chain of cross-reference
sections (classic tables, cross-reference streams, hybrid files), object streams, objects.

- :class:`PdfFile` parses the chain once: ``sections`` newest first (each an incremental
  update, or the original file). ``view(k)`` is the document as it was before the ``k`` newest
  sections were added; ``view()`` is the document as a viewer shows it.
- :class:`View` resolves objects (``get``, ``resolve``), the catalog, and the pages in order.
- :meth:`PdfFile.objects` reads every in-use object of every section, checking each entry
  against what is written where it points; :meth:`PdfFile.tile` checks that a revision's
  bytes are exactly its listed objects and its cross-reference section.

The object model is the one viewers render, and where viewers would disagree or repair, the
reader refuses: an object's header must carry the number *and generation* of its entry; a
reference whose generation differs from its object's entry is malformed (one viewer reads it
as null, another as the object); a stream's ``/Length`` must be exact; object-stream members
must be where their stream's header says. No repair is ever attempted: a broken xref is
:class:`PdfMalformed`, an encrypted file :class:`PdfEncrypted`, a file over the size cap
:class:`PdfTooLarge`, anything that exceeds a resource bound (:class:`PdfLimits`)
:class:`PdfHostile`. This module knows nothing of signing.
"""

from __future__ import annotations

import bisect
import itertools
import re
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

from seals.pdf.errors import PdfEncrypted, PdfHostile, PdfMalformed, PdfTooLarge
from seals.pdf.syntax import (
    MAX_OBJECT_NUMBER,
    OBJ_HEADER,
    Budget,
    Indirect,
    Name,
    Parser,
    PdfObject,
    Ref,
    Stream,
    brief,
    check_object_number,
    decode_text,
    skip_plain_ws,
    skip_ws,
    stream_span,
    walk,
)

MB = 1024 * 1024


@dataclass(frozen=True)
class PdfLimits:
    """Resource bounds for reading untrusted PDFs. The defaults keep verifying any file of
    up to 20 MiB within about 2 s of CPU and 256 MB of memory (``bench/pdf_hostile.py``)."""

    max_size: int = 50 * MB
    """Largest file accepted (``pdf_too_large``)."""
    max_depth: int = 64
    """Deepest nesting of arrays and dictionaries (``pdf_hostile``)."""
    max_decoded: int = 16 * MB
    """Largest decoded size of one structure stream (xref stream, object stream)."""
    max_decoded_total: int = 48 * MB
    """Largest decoded size of all structure streams of one file together."""
    max_sections: int = 512
    """Longest chain of cross-reference sections (``/Prev``)."""
    max_subsections: int = 100_000
    """Most cross-reference subsections (and xref-stream /Index pairs) in one file."""
    max_objects: int = 400_000
    """Most cross-reference entries in one file (all sections together); bounds the memory
    of the xref structures. A file of 20 MiB can list some 580 000 minimal objects; the
    work budget stops one of more than ~300 000 first (~1.3 s here)."""
    max_nodes: int = 100_000
    """Most page-tree or form-field nodes walked."""
    max_work: int = 750_000
    """Most work spent on one file, in units of about a microsecond of CPU here: a token
    parsed is one unit (a number or reference 2), the bytes it spans 1/64 each; an object
    checked without parsing 4 (5 in an object stream) and 1/4 a byte scanned beyond 256; a
    byte decompressed, run through a predictor or hashed a fraction; every kid a walk looks
    at (see :class:`~seals.pdf.syntax.Budget` and ``seals/pdf/README.md``)."""
    max_stream_bytes: int = 128 * MB
    """Most stream data taken out of one file (overlapping streams would multiply it)."""
    max_predicted: int = 4 * MB
    """Most bytes run through PNG predictors None/Up, per file."""
    max_predicted_per_byte: int = 128 * 1024
    """Most bytes run through PNG predictors Sub/Average/Paeth (a loop per byte), per file."""
    max_signatures: int = 64
    """Most signature dictionaries verified in one file (``seals.pdf.verify``)."""
    max_hashed: int = 128 * MB
    """Most bytes hashed over all signatures of one file (``seals.pdf.verify``)."""


DEFAULT_LIMITS = PdfLimits()


@dataclass(frozen=True, slots=True)
class Entry:
    """One cross-reference entry: ``kind`` 0 free, 1 at byte ``a`` (generation ``b``),
    2 the ``b``-th object of object stream ``a``."""

    kind: int
    a: int
    b: int

    @property
    def gen(self) -> int:
        """The generation of the object this entry defines (0 in an object stream)."""
        return self.b if self.kind == 1 else 0


class _Block:
    """A run of entries ``first … first + count - 1`` (one subsection)."""

    __slots__ = ("count", "first")

    def __init__(self, first: int, count: int) -> None:
        self.first = first
        self.count = count

    def entry(self, i: int) -> Entry:
        raise NotImplementedError

    def entries(self) -> Iterator[tuple[int, Entry]]:
        for i in range(self.count):
            yield self.first + i, self.entry(i)

    def odd_generations(self) -> Iterator[int]:
        """Numbers of the in-use (type 1) entries with a generation other than 0."""
        for num, e in self.entries():
            if e.kind == 1 and e.b:
                yield num


class _TableBlock(_Block):
    """Rows of a classic table in the usual fixed-width layout, read when asked for."""

    __slots__ = ("data", "offset", "stride")

    def __init__(self, first: int, count: int, data: bytes, offset: int, stride: int) -> None:
        super().__init__(first, count)
        self.data, self.offset, self.stride = data, offset, stride

    def entry(self, i: int) -> Entry:
        at = self.offset + self.stride * i
        row = self.data[at : at + 18]
        return Entry(1 if row[17] == 110 else 0, int(row[:10]), int(row[11:16]))

    def entries(self) -> Iterator[tuple[int, Entry]]:
        step = 4096  # rows read at a time: quick, and no list of a million rows
        for chunk in range(0, self.count, step):
            at = self.offset + self.stride * chunk
            stop = at + self.stride * min(step, self.count - chunk)
            rows = _XREF_ROW.findall(self.data, at, stop)
            first = self.first + chunk
            for k, (a, b, t) in enumerate(rows):
                yield first + k, Entry(1 if t == b"n" else 0, int(a), int(b))

    def odd_generations(self) -> Iterator[int]:
        rows = self.data[self.offset : self.offset + self.stride * self.count]
        if rows.count(b" 00000 n") != rows.count(b" n"):
            yield from super().odd_generations()


class _ArrayBlock(_Block):
    """Entries parsed up front (tables with irregular rows), kept compact."""

    __slots__ = ("a", "b", "kinds")

    def __init__(self, first: int, kinds: bytes, a: array[int], b: array[int]) -> None:
        super().__init__(first, len(kinds))
        self.kinds, self.a, self.b = kinds, a, b

    def entry(self, i: int) -> Entry:
        return Entry(self.kinds[i], self.a[i], self.b[i])


class _StreamBlock(_Block):
    """Rows of a cross-reference stream, decoded when asked for."""

    __slots__ = ("raw", "start", "w0", "w1", "w2")

    def __init__(
        self, first: int, count: int, raw: bytes, start: int, widths: tuple[int, int, int]
    ) -> None:
        super().__init__(first, count)
        self.raw, self.start = raw, start
        self.w0, self.w1, self.w2 = widths

    def entry(self, i: int) -> Entry:
        raw, w0, w1 = self.raw, self.w0, self.w1
        p = self.start + (w0 + w1 + self.w2) * i
        kind = int.from_bytes(raw[p : p + w0], "big") if w0 else 1
        a = int.from_bytes(raw[p + w0 : p + w0 + w1], "big")
        b = int.from_bytes(raw[p + w0 + w1 : p + w0 + w1 + self.w2], "big")
        return Entry(kind, a, b)

    def odd_generations(self) -> Iterator[int]:
        # in C: the rows of type 1 (a mask), AND the generation columns OR-ed together
        row = self.w0 + self.w1 + self.w2
        stop = self.start + row * self.count
        if not self.w2:
            return
        if self.w0:
            types = b"".join(
                self.raw[self.start + k : stop : row] for k in range(self.w0 - 1)
            )
            if types.strip(b"\0"):  # a type wider than one byte: decode every row
                yield from super().odd_generations()
                return
            last = self.raw[self.start + self.w0 - 1 : stop : row]
            mask = int.from_bytes(last.translate(_TYPE_1_MASK), "big")
        else:
            mask = -1  # no type column: every row is of type 1
        gens = 0
        for k in range(self.w2):
            gens |= int.from_bytes(self.raw[self.start + self.w0 + self.w1 + k : stop : row], "big")
        if gens & mask:
            yield from super().odd_generations()


_TYPE_1_MASK = bytes(255 if i == 1 else 0 for i in range(256))


class Entries(Mapping[int, Entry]):
    """The entries of one section: subsections found by bisection, rows decoded when asked
    for (a table of thousands of objects costs nothing until used). ``fallback`` (a hybrid
    file's ``/XRefStm`` entries) answers what the table does not. Overlapping subsections are
    malformed (viewers disagree on which row wins)."""

    def __init__(self, blocks: list[_Block], fallback: Entries | None = None) -> None:
        blocks = sorted((b for b in blocks if b.count), key=lambda b: b.first)
        for prev, cur in itertools.pairwise(blocks):
            if cur.first < prev.first + prev.count:
                raise PdfMalformed(
                    f"cross-reference subsections overlap (objects {cur.first}–"
                    f"{min(prev.first + prev.count, cur.first + cur.count) - 1} listed twice)"
                )
        self._blocks = blocks
        self._firsts = [b.first for b in blocks]
        self._fallback = fallback
        self._count = sum(b.count for b in blocks)

    def _block(self, num: int) -> _Block | None:
        i = bisect.bisect_right(self._firsts, num) - 1
        if i >= 0:
            block = self._blocks[i]
            if num < block.first + block.count:
                return block
        return None

    def get(self, num: int, default: Entry | None = None) -> Entry | None:  # type: ignore[override]
        block = self._block(num)
        if block is not None:
            return block.entry(num - block.first)
        if self._fallback is not None:
            return self._fallback.get(num, default)
        return default

    def __getitem__(self, num: int) -> Entry:
        e = self.get(num)
        if e is None:
            raise KeyError(num)
        return e

    def __contains__(self, num: object) -> bool:
        if not isinstance(num, int):
            return False
        return self._block(num) is not None or (
            self._fallback is not None and num in self._fallback
        )

    def __iter__(self) -> Iterator[int]:
        for block in self._blocks:
            yield from range(block.first, block.first + block.count)
        if self._fallback is not None:
            for num in self._fallback:
                if self._block(num) is None:
                    yield num

    def items(self) -> Iterator[tuple[int, Entry]]:  # type: ignore[override]
        """(number, entry) of every entry, decoded once each."""
        for block in self._blocks:
            yield from block.entries()
        if self._fallback is not None:
            for num, e in self._fallback.items():
                if self._block(num) is None:
                    yield num, e

    def __len__(self) -> int:
        return self._count + (len(self._fallback) if self._fallback is not None else 0)

    def odd_generations(self) -> Iterator[int]:
        """Numbers of the in-use (type 1) entries with a generation other than 0."""
        for block in self._blocks:
            yield from block.odd_generations()
        if self._fallback is not None:
            yield from self._fallback.odd_generations()

    def highest(self) -> int:
        tops = [b.first + b.count - 1 for b in self._blocks]
        if self._fallback is not None:
            tops.append(self._fallback.highest())
        return max(tops, default=0)


@dataclass(frozen=True)
class Section:
    """One cross-reference section with its trailer: one revision of the file."""

    offset: int
    """Where ``xref`` or the xref stream object starts (what ``startxref`` names)."""
    kind: Literal["table", "stream"]
    entries: Entries = field(repr=False)
    trailer: dict[str, PdfObject] = field(repr=False)
    prev: int | None
    """``/Prev``: the offset of the previous section."""
    end: int = 0
    """Where the section ends: after the trailer dictionary, or the xref stream object."""


@dataclass(frozen=True, slots=True)
class FoundObject:
    """One in-use object of one section, as :meth:`PdfFile.objects` reads it."""

    section: int
    """Index of the section that lists it (0: the newest)."""
    num: int
    gen: int
    value: PdfObject
    """The value; a stream's data is left out (``raw`` is empty)."""
    dicts: list[dict[str, PdfObject]]
    """Every dictionary in the value (nested ones too), outermost first."""


_STARTXREF = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d{1,20})")
_TAIL = re.compile(
    rb"[\x00\t\n\x0c\r ]*startxref[\x00\t\n\x0c\r ]+(\d{1,20})[\x00\t\n\x0c\r ]+%%EOF[ \t]*"
    rb"(?:\r\n|\r|\n)?"
)
_EOF = re.compile(rb"%%EOF[ \t]*(?:\r\n|\r|\n)?")
_XREF_SUB = re.compile(rb"(\d{1,10})[\x00\t\x0c ]+(\d{1,10})[\x00\t\x0c ]*(?:\r\n|\r|\n)")
_XREF_BLOCK_20 = re.compile(rb"(?:\d{10} \d{5} [nf](?: \r| \n|\r\n))*")
_XREF_BLOCK_19 = re.compile(rb"(?:\d{10} \d{5} [nf][\r\n])*")
_XREF_ROW = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_XREF_ENTRY = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,10})[ ]+(\d{1,5})[ ]+([nf])")
_OBJSTM_HEAD = re.compile(rb"\d{1,20}")
_PW = rb"[\x00\t\n\x0c\r ]"
_PREG = rb"[^\x00\t\n\x0c\r ()<>\[\]{}/%#]"
_PLAIN_BODY = re.compile(  # possessive: no backtracking
    rb"(?:[\x00\t\n\x0c\r \[\]]++|/" + _PREG + rb"*+|<<|>>"
    rb"|(?:\d{1,10}+" + _PW + rb"++\d{1,5}+" + _PW + rb"++R"
    rb"|[+-]?+(?:\d{1,20}+(?:\.\d{0,40}+)?+|\.\d{1,40}+)|true|false|null)"
    rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%]))*+"
)
"""The body of a plain object (see :meth:`PdfFile.objects`)."""
_PLAIN_OBJECT = re.compile(
    rb"(\d{1,10}+)" + _PW + rb"++(\d{1,5}+)" + _PW + rb"++obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])("
    + _PLAIN_BODY.pattern + rb")(endobj|stream)"
)
_SCAN_SHIFT = 2
"""Scanning a plain object costs a unit of work per 4 bytes (the densest objects' cost)."""
# Why: bench/PERFORMANCE.md, "PDF reader: units of work"
_NOT_PLAIN = re.compile(rb"[()%{}#]|(?<!<)<(?!<)")
"""A byte that never occurs in a plain object (a string, a comment, a name escape…)."""
_SCAN_FREE = 256
"""Bytes of a plain object included in its flat cost (4 units)."""
_REF_ITEM = re.compile(rb"(\d{1,10}+)" + _PW + rb"++(\d{1,5}+)" + _PW + rb"++R")
_ODD_REF = re.compile(rb"\d" + _PW + rb"++0*+[1-9]\d{0,4}+" + _PW + rb"++R")
_PLAIN_LENGTH = re.compile(
    rb"/Length" + _PW + rb"*(?:(\d{1,10})" + _PW + rb"+(\d{1,5})" + _PW + rb"+R|(\d{1,20}))"
    rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)


def find_eof(data: bytes, start: int) -> int | None:
    """The end of the first ``%%EOF`` line at or after ``start`` (with its end of line)."""
    i = data.find(b"%%EOF", start)
    if i < 0:
        return None
    m = _EOF.match(data, i)
    assert m is not None
    return m.end()


def startxref_before(data: bytes, end: int) -> int | None:
    """What the last ``startxref`` before ``end`` names, if the bytes from it to ``end`` are
    exactly ``startxref N %%EOF`` (the end of a revision)."""
    kw = data.rfind(b"startxref", max(0, end - 1024), end)
    if kw < 0:
        return None
    m = _TAIL.match(data, kw)
    if m is None or m.end() != end:
        return None
    return int(m.group(1))


@dataclass
class _ObjStm:
    decoded: bytes
    nums: array[int]
    offsets: array[int]
    first: int


class PdfFile:
    """The parsed cross-reference chain of a PDF (see the module docstring)."""

    def __init__(self, data: bytes, limits: PdfLimits = DEFAULT_LIMITS) -> None:
        if len(data) > limits.max_size:
            raise PdfTooLarge(
                f"the PDF is {len(data)} bytes; the limit is {limits.max_size} bytes"
            )
        self.data = data
        self.limits = limits
        self.budget = Budget(limits.max_work, limits.max_stream_bytes)
        self.parser = Parser(data, max_depth=limits.max_depth, budget=self.budget)
        self._decoded_total = 0
        self._subsections = 0
        self._predicted = 0
        self._predicted_per_byte = 0
        self._objstm: dict[tuple[int, int], _ObjStm] = {}
        self._objects: dict[int, Indirect] = {}
        self._members: dict[tuple[int, int, int], PdfObject] = {}
        self._where: dict[int, list[int]] | None = None
        self.extents: list[int] = []
        """Per section: where its last object (or its cross-reference part) ends; known
        after :meth:`objects` has run."""
        self.references: list[array[int]] = []
        """Per section: the sorted numbers its objects refer to; known after
        :meth:`objects` has run."""
        head = data.find(b"%PDF-", 0, 1024)
        if head < 0:
            raise PdfMalformed("not a PDF: no '%PDF-' header in the first 1024 bytes")
        self.version = data[head + 5 : head + 8].decode("latin-1")
        kw = data.rfind(b"startxref")
        m = _STARTXREF.match(data, kw) if kw >= 0 else None
        if not m:
            raise PdfMalformed("no 'startxref' at the end of the file (truncated?)")
        end = find_eof(data, m.end())
        if end is None:
            raise PdfMalformed("no '%%EOF' after the last 'startxref' (truncated?)")
        self.end = end
        """Where the last revision ends (after its ``%%EOF`` line)."""
        self.startxref = int(m.group(1))
        self.sections = self._chain(self.startxref)
        for section in self.sections:
            if "Encrypt" in section.trailer:
                raise PdfEncrypted("the PDF is encrypted; encrypted PDFs cannot be sealed here")
        self._views: dict[tuple[int, int | None], View] = {}

    # ------------------------------------------------------------------ xref sections

    def _chain(self, offset: int) -> tuple[Section, ...]:
        sections: list[Section] = []
        seen: set[int] = set()
        total = 0
        next_offset: int | None = offset
        while next_offset is not None:
            if next_offset in seen:
                raise PdfMalformed(f"the /Prev chain loops back to byte {next_offset}")
            if len(sections) >= self.limits.max_sections:
                raise PdfHostile(f"more than {self.limits.max_sections} cross-reference sections")
            seen.add(next_offset)
            section = self._section(next_offset, self.limits.max_objects - total)
            total += len(section.entries)
            if total > self.limits.max_objects:
                raise PdfHostile(f"more than {self.limits.max_objects} cross-reference entries")
            sections.append(section)
            next_offset = section.prev
        return tuple(sections)

    def _section(self, offset: int, room: int) -> Section:
        if not 0 <= offset < len(self.data):
            raise PdfMalformed(f"cross-reference offset {offset} is outside the file")
        if self.data.startswith(b"xref", offset):
            entries, trailer, end = self._table(offset + 4, room)
            kind: Literal["table", "stream"] = "table"
            xrefstm = trailer.get("XRefStm")
            if xrefstm is not None:  # hybrid file: table entries take precedence
                if not isinstance(xrefstm, int) or isinstance(xrefstm, bool):
                    raise PdfMalformed(f"bad /XRefStm in the trailer at byte {offset}")
                extra, _, _ = self._xref_stream(xrefstm, room - len(entries))
                self._agree(entries, extra, offset)
                entries = Entries(entries._blocks, extra)
        else:
            entries, trailer, end = self._xref_stream(offset, room)
            kind = "stream"
        if entries.highest() > MAX_OBJECT_NUMBER:
            raise PdfMalformed(
                f"the cross-reference section at byte {offset} lists object "
                f"{entries.highest()}, beyond {MAX_OBJECT_NUMBER}, the highest number that "
                "viewers share (MuPDF repairs such a file, poppler does not)"
            )
        prev = trailer.get("Prev")
        if prev is not None and (not isinstance(prev, int) or isinstance(prev, bool)):
            raise PdfMalformed(f"/Prev of the section at byte {offset} is not a number")
        return Section(offset, kind, entries, trailer, prev, end)

    def _agree(self, table: Entries, stream: Entries, offset: int) -> None:
        """A hybrid file's table and ``/XRefStm`` must not both list an object unless they
        say the same: poppler, MuPDF and qpdf take the table's row (a free row: poppler
        rebuilds the xref, MuPDF shows nothing), other readers the stream's."""
        self.budget.spend(len(stream) // 4)
        for num, e in stream.items():
            t = table.get(num)
            if t is None:
                continue
            same = (t.kind == 0 and e.kind == 0) or (
                t.kind == 1 and e.kind == 1 and t.a == e.a and t.b == e.b
            )
            if not same:
                raise PdfMalformed(
                    f"the hybrid section at byte {offset}: its table and its /XRefStm disagree "
                    f"about object {num} (viewers would not agree on which to show)"
                )

    def _table(self, pos: int, room: int) -> tuple[Entries, dict[str, PdfObject], int]:
        data = self.data
        blocks: list[_Block] = []
        listed = 0
        while True:
            pos = skip_ws(data, pos)
            if data.startswith(b"trailer", pos):
                trailer, end = self.parser.value(pos + 7)
                if not isinstance(trailer, dict):
                    raise PdfMalformed(f"the trailer at byte {pos} is not a dictionary")
                return Entries(blocks), trailer, end
            m = _XREF_SUB.match(data, pos)
            if not m:
                raise PdfMalformed(f"bad cross-reference table at byte {pos}")
            first, count = int(m.group(1)), int(m.group(2))
            listed += count
            if listed > room:
                raise PdfHostile(f"cross-reference subsection of {count} entries at byte {pos}")
            self._subsections += 1
            if self._subsections > self.limits.max_subsections:
                raise PdfHostile(
                    f"more than {self.limits.max_subsections} cross-reference subsections"
                )
            pos = m.end()
            if not count:
                continue
            for stride, layout in ((20, _XREF_BLOCK_20), (19, _XREF_BLOCK_19)):
                if layout.fullmatch(data, pos, pos + stride * count):
                    blocks.append(_TableBlock(first, count, data, pos, stride))
                    pos += stride * count
                    break
            else:  # irregular rows: parse them now, into compact arrays
                self.budget.spend(count)
                kinds = bytearray(count)
                a, b = array("q", bytes(8 * count)), array("q", bytes(8 * count))
                for i in range(count):
                    e = _XREF_ENTRY.match(data, pos)
                    if not e:
                        raise PdfMalformed(f"bad cross-reference entry at byte {pos}")
                    pos = e.end()
                    kinds[i] = 1 if e.group(3) == b"n" else 0
                    a[i], b[i] = int(e.group(1)), int(e.group(2))
                blocks.append(_ArrayBlock(first, bytes(kinds), a, b))

    def _xref_stream(self, offset: int, room: int) -> tuple[Entries, dict[str, PdfObject], int]:
        if not 0 <= offset < len(self.data):
            raise PdfMalformed(f"cross-reference stream offset {offset} is outside the file")
        try:
            obj = self.parser.indirect(offset)
        except PdfMalformed as exc:
            raise PdfMalformed(
                f"no cross-reference table or stream at byte {offset}: {exc}"
            ) from exc
        d = obj.value.dict if isinstance(obj.value, Stream) else None
        if d is None or d.get("Type") != "XRef":
            raise PdfMalformed(f"no cross-reference table or stream at byte {offset}")
        assert isinstance(obj.value, Stream)
        widths = d.get("W")
        size = d.get("Size")
        if (
            not isinstance(widths, list)
            or len(widths) != 3
            or not all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 8
                       for w in widths)
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise PdfMalformed(f"bad /W or /Size in the xref stream at byte {offset}")
        index = d.get("Index", [0, size])
        if (
            not isinstance(index, list)
            or len(index) % 2
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in index)
        ):
            raise PdfMalformed(f"bad /Index in the xref stream at byte {offset}")
        w0, w1, w2 = widths
        row = w0 + w1 + w2
        if row == 0:
            raise PdfMalformed(f"empty /W in the xref stream at byte {offset}")
        counts = index[1::2]
        self._subsections += len(counts)
        if self._subsections > self.limits.max_subsections:
            raise PdfHostile(f"more than {self.limits.max_subsections} cross-reference subsections")
        if sum(counts) > room:
            raise PdfHostile(f"xref stream at byte {offset} lists too many objects")
        needed = sum(counts) * row
        raw = self.decode(obj.value, needed=needed)
        if needed > len(raw):
            raise PdfMalformed(f"xref stream at byte {offset} is shorter than its /Index")
        blocks: list[_Block] = []
        pos = 0
        for first, count in zip(index[::2], counts, strict=True):
            blocks.append(_StreamBlock(first, count, raw, pos, (w0, w1, w2)))
            pos += count * row
        trailer = {k: v for k, v in d.items() if k not in ("Length", "Filter", "DecodeParms")}
        return Entries(blocks), trailer, obj.end

    # -------------------------------------------------------------------- decoding

    def decode(self, stream: Stream, *, needed: int | None = None) -> bytes:
        """The decoded data of a stream (FlateDecode with PNG predictors, bounded).
        ``needed``: how many decoded bytes are used (the rest is not decoded)."""
        filters = stream.dict.get("Filter")
        params = stream.dict.get("DecodeParms")
        if filters is None:
            return stream.raw
        if isinstance(filters, list):
            if len(filters) != 1:
                raise PdfMalformed("structure streams with chained filters are not supported")
            filters = filters[0]
            params = params[0] if isinstance(params, list) and params else params
        if filters != "FlateDecode":
            raise PdfMalformed(f"structure stream with unsupported filter /{filters}")
        predictor = params.get("Predictor", 1) if isinstance(params, dict) else 1
        row = 0
        if predictor not in (1, None):
            if not isinstance(predictor, int) or not 10 <= predictor <= 15:
                raise PdfMalformed(f"structure stream with unsupported predictor {predictor}")
            assert isinstance(params, dict)
            columns = params.get("Columns", 1)
            colors = params.get("Colors", 1)
            bpc = params.get("BitsPerComponent", 8)
            if not (
                isinstance(columns, int) and isinstance(colors, int) and 1 <= colors <= 32
                and 1 <= columns <= self.limits.max_decoded and bpc in (1, 2, 4, 8, 16)
            ):
                raise PdfMalformed(f"bad /DecodeParms of a structure stream: {brief(params)}")
            row = (columns * colors * bpc + 7) // 8
        budget = min(self.limits.max_decoded, self.limits.max_decoded_total - self._decoded_total)
        want = budget + 1
        if needed is not None:  # decode what is used, not what the stream claims
            if needed == 0:
                return b""
            want = min(want, needed + (needed // row + 1 if row else 0))
        d = zlib.decompressobj()
        try:
            out = d.decompress(stream.raw, want)
        except zlib.error as exc:
            raise PdfMalformed(f"a compressed structure stream is corrupt: {exc}") from exc
        if needed is None and (len(out) > budget or d.unconsumed_tail):
            raise PdfHostile(
                "a compressed stream expands beyond the limit "
                f"({self.limits.max_decoded} bytes per stream, "
                f"{self.limits.max_decoded_total} per file): a decompression bomb?"
            )
        if len(out) > budget:
            raise PdfHostile("compressed structure streams expand beyond the limit per file")
        self._decoded_total += len(out)
        self.budget.spend(len(out) // 256 + len(stream.raw) // 256)
        if row:
            if row + 1 > len(out):
                raise PdfMalformed(
                    f"a structure stream's predictor rows ({row} bytes) are longer than its data"
                )
            colors = params.get("Colors", 1) if isinstance(params, dict) else 1
            bpc = params.get("BitsPerComponent", 8) if isinstance(params, dict) else 8
            out = self._unpredict(out, row, max(1, colors * bpc // 8))
        return out

    def _unpredict(self, data: bytes, row: int, bpp: int) -> bytes:
        """PNG predictors (ISO 32000-1 §7.4.4.4), every row tagged with its filter type.

        Rows of type None or Up (what writers use) are undone a column at a time in C
        (``accumulate``); Sub, Average and Paeth need a Python loop per byte and have their
        own, smaller budget."""
        stride = row + 1
        n = len(data) // stride
        body = n * stride
        self._predicted += body
        if self._predicted > self.limits.max_predicted:
            raise PdfHostile(
                f"more than {self.limits.max_predicted} bytes of predicted structure data"
            )
        self.budget.spend(body // 16)
        types = data[0:body:stride]
        mask = (255).__and__
        if types[0] in (0, 2) and not types[1:].strip(b"\x02"):
            out = bytearray(n * row)
            for j in range(row):
                out[j::row] = bytes(map(mask, accumulate(data[j + 1 : body : stride])))
            return bytes(out)
        out = bytearray()
        prev = bytes(row)
        m7 = int.from_bytes(b"\x7f" * row, "big")
        m8 = int.from_bytes(b"\x80" * row, "big")
        for start in range(0, body, stride):
            kind = data[start]
            if kind == 0:
                cur = data[start + 1 : start + stride]
            elif kind == 2:
                x = int.from_bytes(data[start + 1 : start + stride], "big")
                y = int.from_bytes(prev, "big")
                cur = (((x & m7) + (y & m7)) ^ ((x ^ y) & m8)).to_bytes(row, "big")
            elif kind in (1, 3, 4):
                self._predicted_per_byte += row
                self.budget.spend(row)
                if self._predicted_per_byte > self.limits.max_predicted_per_byte:
                    raise PdfHostile(
                        "more than "
                        f"{self.limits.max_predicted_per_byte} bytes of Sub/Average/Paeth rows"
                    )
                cur = _per_byte(kind, bytearray(data[start + 1 : start + stride]), prev, bpp)
            else:
                raise PdfMalformed(f"bad PNG predictor row type {kind}")
            out += cur
            prev = cur
        return bytes(out)

    def _object_stream(self, holder: Indirect, offset: int) -> _ObjStm:
        stream = holder.value
        if not isinstance(stream, Stream) or stream.dict.get("Type") != "ObjStm":
            raise PdfMalformed(f"object {holder.num} is not an object stream")
        key = (offset, len(stream.raw))
        cached = self._objstm.get(key)
        if cached is not None:
            return cached
        n, first = stream.dict.get("N"), stream.dict.get("First")
        if not isinstance(n, int) or not isinstance(first, int) or n < 0 or first < 0:
            raise PdfMalformed(f"bad object stream at byte {offset}")
        if n > self.limits.max_objects:
            raise PdfHostile(f"object stream at byte {offset} holds {n} objects")
        decoded = self.decode(stream)
        if first > len(decoded):
            raise PdfMalformed(f"object stream at byte {offset}: /First is past its data")
        self.budget.spend(2 * n)
        head = _OBJSTM_HEAD.findall(decoded, 0, first)
        if len(head) < 2 * n:
            raise PdfMalformed(f"object stream at byte {offset}: short header")
        try:
            nums = array("q", map(int, head[0 : 2 * n : 2]))
            offsets = array("q", map(int, head[1 : 2 * n : 2]))
        except OverflowError as exc:
            raise PdfMalformed(f"object stream at byte {offset}: a number is too large") from exc
        if any(b <= a for a, b in itertools.pairwise(offsets)) or (
            offsets and first + offsets[-1] > len(decoded)
        ):
            raise PdfMalformed(f"object stream at byte {offset}: its members are out of order")
        cached = _ObjStm(decoded, nums, offsets, first)
        self._objstm[key] = cached
        return cached

    def member_span(
        self, holder: Indirect, offset: int, index: int, num: int
    ) -> tuple[bytes, int, int]:
        """Where object ``num``, the ``index``-th member of the object stream ``holder``
        (written at ``offset``), lies: (decoded stream, start, stop). It must be listed there
        under that number; it ends where the next member begins."""
        objstm = self._object_stream(holder, offset)
        if not 0 <= index < len(objstm.nums):
            raise PdfMalformed(f"object stream {holder.num} has no object {index}")
        if objstm.nums[index] != num:
            raise PdfMalformed(
                f"object stream {holder.num} holds object {objstm.nums[index]} at index "
                f"{index}, not object {num}"
            )
        start = objstm.first + objstm.offsets[index]
        stop = (
            objstm.first + objstm.offsets[index + 1]
            if index + 1 < len(objstm.offsets)
            else len(objstm.decoded)
        )
        return objstm.decoded, start, stop

    def member(self, holder: Indirect, offset: int, index: int, num: int) -> PdfObject:
        """Object ``num``, the ``index``-th member of the object stream ``holder`` (written
        at ``offset``); its value must end before the next member begins (viewers read
        members up to it)."""
        decoded, start, stop = self.member_span(holder, offset, index, num)
        key = (offset, len(decoded), index)
        if key in self._members:
            return self._members[key]
        parser = Parser(decoded, max_depth=self.limits.max_depth, budget=self.budget)
        value, end = parser.value(start)
        if end > stop:
            raise PdfMalformed(
                f"object {num} in object stream {holder.num} runs into the next member"
            )
        self._members[key] = value
        return value

    def read(
        self, offset: int, resolve_length: Callable[[Ref], int], *, keep_data: bool = True
    ) -> Indirect:
        """The indirect object written at ``offset``. Cached unless ``keep_data`` is False
        (then a stream's data is left out: only its dictionary is read)."""
        if not 0 <= offset < len(self.data):
            raise PdfMalformed(f"object offset {offset} is outside the file")
        cached = self._objects.get(offset)
        if cached is not None:
            value = cached.value
            if not (isinstance(value, Stream) and isinstance(value.dict.get("Length"), Ref)):
                return cached
            if resolve_length(value.dict["Length"]) == len(value.raw):
                return cached
        obj = self.parser.indirect(offset, resolve_length=resolve_length, keep_data=keep_data)
        if keep_data and cached is None:
            self._objects[offset] = obj
        return obj

    def view(self, skip: int = 0, limit: int | None = None) -> View:
        """The document without its ``skip`` newest sections; ``limit``: where its bytes end
        (objects past it are malformed in this view)."""
        key = (skip, limit)
        view = self._views.get(key)
        if view is None:
            if not 0 <= skip < len(self.sections):
                raise IndexError(skip)
            view = View(self, skip, limit)
            self._views[key] = view
        return view

    def where(self, num: int) -> list[int]:
        """The indices of the sections listing object ``num``, newest first."""
        if self._where is None:
            where: dict[int, list[int]] = {}
            for i, section in enumerate(self.sections):
                self.budget.spend(len(section.entries) // 8)
                for n in section.entries:
                    where.setdefault(n, []).append(i)
            self._where = where
        return self._where.get(num, [])

    def highest_number(self) -> int:
        """The highest object number any section lists."""
        return max((s.entries.highest() for s in self.sections), default=0)

    # -------------------------------------------------------------- whole-file checks

    def objects(
        self,
        interesting: re.Pattern[bytes] | None = None,
        *,
        fast: bool = True,
        references: bool = True,
    ) -> Iterator[FoundObject]:
        """Every in-use object of every section (the oldest section first), each read from
        where its entry points and checked: the header has the entry's number and generation,
        a compressed object is in the object stream its entry names, under that number; every
        reference in it has the generation its object has (in the section's own view and, if
        the object is current, in the newest one). Streams' data is not read. Bounded by the
        budget; raises :class:`PdfMalformed` at the first bad entry.

        ``interesting``: a pattern of what the caller looks for (None: nothing). With
        ``fast``, a *plain* object — only names without ``#`` escapes, numbers, references,
        ``true``/``false``/``null``, balanced brackets (a stream's dictionary with a plain
        ``/Length``), then ``endobj`` (or the next member) — in which the pattern does not
        occur is checked but not parsed nor yielded: its references are read off its bytes
        (exact, as a plain object holds no strings or comments). Anything else is parsed in
        full and yielded. What every object of a section refers to ends in
        :attr:`references`."""
        newest = self.view()
        odd_gens = self._odd_generations()
        budget = self.budget
        self.extents = [s.end for s in self.sections]
        self.references = [array("q") for _ in self.sections]
        for i in range(len(self.sections) - 1, -1, -1):
            view = self.view(i)
            referenced: set[int] = set()
            extent = self.extents[i]
            spent = 0
            for num, entry in self.sections[i].entries.items():
                if num <= 0 or entry.kind not in (1, 2):
                    continue
                plain = (
                    self._plain(view, num, entry, interesting, references or bool(odd_gens))
                    if fast
                    else None
                )
                if plain is not None:
                    found, end = plain
                    for a, b in found:
                        n = int(a)
                        if n > MAX_OBJECT_NUMBER:
                            check_object_number(n, entry.a)
                        if references:
                            referenced.add(n)
                        if b != b"0" or n in odd_gens:
                            self._check_ref(view, newest, i, num, Ref(n, int(b)))
                    # an object's scan, its references and their generations' checks cost
                    # 9 units (10 in an object stream)
                    # Why: bench/PERFORMANCE.md, "PDF reader: units of work"
                    spent += (9 if entry.kind == 1 else 10) + (len(found) >> 1)
                    if spent > 4096:
                        budget.spend(spent)
                        spent = 0
                else:
                    value, end = view.locate(num, entry, keep_data=False)
                    refs: list[Ref] = []
                    dicts: list[dict[str, PdfObject]] = []
                    walk(value, refs, dicts)
                    budget.spend(len(refs) // 4 + 4)
                    for ref in refs:
                        if references:
                            referenced.add(ref.num)
                        if ref.gen or ref.num in odd_gens:
                            self._check_ref(view, newest, i, num, ref)
                    yield FoundObject(i, num, entry.gen, value, dicts)
                if end > extent:
                    extent = end
            budget.spend(spent + len(referenced) // 8)
            self.extents[i] = extent
            self.references[i] = array("q", sorted(referenced))

    def _check_ref(self, view: View, newest: View, i: int, num: int, ref: Ref) -> None:
        """A reference in object ``num`` of section ``i`` names its object's generation, in
        the section's own view and, if the object is the current one, in the newest view."""
        view.check_ref(ref)
        if i == 0 or self._newest_section(num) == i:
            newest.check_ref(ref)

    def _plain_stream(self, view: View, data: bytes, start: int, stop: int) -> int | None:
        """The end (after ``endobj``) of a plain stream object whose dictionary is
        ``data[start:stop]``, its ``/Length`` read off the bytes; None if unsure."""
        head = data[start:stop]
        if head.count(b"/Length") != 1 or not head.lstrip(b"\x00\t\n\x0c\r ").startswith(b"<<"):
            return None
        m = _PLAIN_LENGTH.search(head)
        if m is None:
            return None
        before = head[: m.start()]
        if before.count(b"<<") - before.count(b">>") != 1 or before.count(b"[") != before.count(
            b"]"
        ):
            return None  # /Length of a nested dictionary
        if m.group(1) is not None:
            length = view.length(Ref(int(m.group(1)), int(m.group(2))), 1)
        else:
            length = int(m.group(3))
        _, end = stream_span(data, stop + 6, length, view.limit)
        end = skip_ws(data, end)
        if not data.startswith(b"endobj", end):
            return None
        return end + 6

    def _plain(
        self,
        view: View,
        num: int,
        entry: Entry,
        interesting: re.Pattern[bytes] | None,
        all_refs: bool = True,
    ) -> tuple[list[tuple[bytes, bytes]], int] | None:
        """The references (number, generation, as written) and end of object ``num`` if it is
        plain and not interesting (see :meth:`objects`), else None. Without ``all_refs``,
        only if one of them may name a generation other than 0."""
        # the scan costs a unit of work per 4 bytes: it may look no further than what
        # is left of the budget (then the parser, which pays as it goes, reads the object)
        window = (max(self.budget.work, 0) << _SCAN_SHIFT) + _SCAN_FREE
        if entry.kind == 1:
            data = self.data
            if view.limit is not None and entry.a >= view.limit:
                return None
            m = None
            if 0 <= entry.a < len(data):
                # most objects are small: a first look at _SCAN_FREE bytes, for their flat cost
                m = _PLAIN_OBJECT.match(data, entry.a, min(len(data), entry.a + _SCAN_FREE))
                if m is None and window > _SCAN_FREE:
                    # a bigger one ends at its first 'endobj' or 'stream': the expression
                    # looks no further, and the bytes up to there are paid for
                    top = _first_end(data, entry.a, min(len(data), entry.a + window))
                    if not self._scan(data, entry.a, top):
                        return None  # a string, a comment…: not plain, the parser reads it
                    m = _PLAIN_OBJECT.match(data, entry.a, top)
            if m is None or int(m.group(1)) != num or int(m.group(2)) != entry.b:
                return None  # the full read says what is wrong, if anything
            start, stop = m.span(3)
            if m.group(4) == b"stream":
                after = self._plain_stream(view, data, start, stop)
                if after is None:
                    return None
                end = after
            else:
                end = m.end()
        else:
            holder_entry = view.entry(entry.a)
            if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
                return None
            holder = view._read(holder_entry.a, keep_data=True, level=0)
            if holder.num != entry.a or holder.gen != 0:
                return None
            data, start, member_stop = self.member_span(holder, holder_entry.a, entry.b, num)
            top = min(member_stop, start + window)
            if top - start > _SCAN_FREE and not self._scan(data, start, top):
                return None
            body = _PLAIN_BODY.match(data, start, top)
            assert body is not None
            stop = body.end()
            if stop != member_stop:
                return None
            end = holder.end
        if interesting is not None and interesting.search(data, start, stop):
            return None
        segment = data[start:stop]
        opened = segment.count(b"<<"), segment.count(b"[")
        if opened != (segment.count(b">>"), segment.count(b"]")):
            return None
        if opened[0] + opened[1] > self.limits.max_depth:
            return None  # could be nested too deeply: the parser checks
        if opened[0] + opened[1] > 1 and not _nested(segment):
            return None
        if not segment.strip(b"\x00\t\n\x0c\r "):
            return None  # no value at all: let the parser say so
        if not all_refs and not _ODD_REF.search(segment):
            return [], end
        return _REF_ITEM.findall(segment), end

    def _scan(self, data: bytes, start: int, top: int) -> bool:
        """Whether ``data[start:top]`` may be plain (no string, comment or ``#`` escape: a
        quick search in C), the bytes the plain-object expressions will scan paid for: a
        big plain object, or one listed again by many sections, is not one object's worth
        of work. Only what comes before the first byte that is never plain is paid for at
        the expressions' rate."""
        self.budget.spend((top - start) >> 8)  # the searches for the end and for that byte
        bad = _NOT_PLAIN.search(data, start, top)
        scanned = (bad.start() if bad else top) - start
        if scanned > _SCAN_FREE:
            self.budget.spend((scanned - _SCAN_FREE) >> _SCAN_SHIFT)
        return bad is None

    def _newest_section(self, num: int) -> int:
        if len(self.sections) > 8:
            where = self.where(num)
            return where[0] if where else -1
        for i, section in enumerate(self.sections):
            if num in section.entries:
                return i
        return -1

    def _odd_generations(self) -> set[int]:
        """Numbers that some section lists in use with a generation other than 0."""
        out: set[int] = set()
        for section in self.sections:
            out.update(section.entries.odd_generations())
        return out

    def tail(self, section: Section) -> int | None:
        """The end of ``startxref N %%EOF`` right after ``section`` (N its offset), or None."""
        m = _TAIL.match(self.data, section.end)
        if m is None or int(m.group(1)) != section.offset:
            return None
        return m.end()

    def tile(self, index: int, start: int) -> tuple[int, str | None]:
        """Check that revision ``index`` is written exactly from ``start``: its listed
        objects one after the other (each with ``endobj``), its cross-reference section,
        ``startxref`` naming it and ``%%EOF``, with only whitespace between. Returns where
        the revision ends and the first problem found (None: it tiles)."""
        data = self.data
        section = self.sections[index]
        view = self.view(index)
        listed = sorted(
            (e.a, num) for num, e in section.entries.items() if num > 0 and e.kind == 1
        )
        self.budget.spend(len(listed))
        pos = start
        xref_seen = False
        for offset, num in listed:
            pos = skip_plain_ws(data, pos)
            if offset != pos:
                if offset < pos:
                    return pos, (
                        f"object {num} at byte {offset} overlaps what comes before it "
                        f"(or lies outside this revision, which starts at byte {start})"
                    )
                return pos, (
                    f"bytes {pos}–{offset} are not an object listed in the revision's "
                    "cross-reference section"
                )
            if offset == section.offset and section.kind == "stream":
                pos, xref_seen = section.end, True
                continue
            obj = self.read(offset, view.length)
            if obj.num != num or not obj.endobj:
                return pos, f"object {num} at byte {offset} does not end with 'endobj'"
            pos = obj.end
        if not xref_seen:
            pos = skip_plain_ws(data, pos)
            if pos != section.offset:
                if section.offset < pos:
                    return pos, (
                        f"the cross-reference section at byte {section.offset} overlaps the "
                        "revision's objects or lies outside the revision"
                    )
                return pos, (
                    f"bytes {pos}–{section.offset} are not an object listed in the revision's "
                    "cross-reference section"
                )
            pos = section.end
        m = _TAIL.match(data, pos)
        if m is None or int(m.group(1)) != section.offset:
            return pos, (
                f"the cross-reference section at byte {section.offset} is not followed by "
                "'startxref' naming it and '%%EOF'"
            )
        return m.end(), None


_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"<>[]")


def _first_end(data: bytes, start: int, top: int) -> int:
    """The end of the first ``endobj`` or ``stream`` keyword after ``start``, else ``top``;
    looked for in growing chunks, so that what is searched is at most twice what comes
    before it (a big stream's data is not searched for the ``endobj`` after it)."""
    pos, step = start, 1024
    while pos < top:
        stop = min(top, pos + step + 6)
        found = [i for i in (data.find(b"endobj", pos, stop), data.find(b"stream", pos, stop))
                 if i >= 0]
        if found:
            return min(found) + 6
        pos += step
        step *= 2
    return top


def _nested(segment: bytes) -> bool:
    """Whether the brackets of a plain object's body (``<<``/``>>`` and ``[``/``]``, no
    hex strings there) close in order: innermost pairs are removed until none is left."""
    brackets = segment.translate(None, _NOT_BRACKETS)
    while brackets:
        inner = brackets.replace(b"[]", b"").replace(b"<<>>", b"")
        if inner == brackets:
            return False
        brackets = inner
    return True


def _per_byte(kind: int, cur: bytearray, prev: bytes, bpp: int) -> bytes:
    """One PNG row of type Sub (1), Average (3) or Paeth (4)."""
    columns = len(cur)
    if kind == 1:
        for i in range(bpp, columns):
            cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
    elif kind == 3:
        for i in range(columns):
            left = cur[i - bpp] if i >= bpp else 0
            cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
    else:
        for i in range(columns):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            cur[i] = (cur[i] + pred) & 0xFF
    return bytes(cur)


class View:
    """The document as described by a suffix of the cross-reference chain."""

    def __init__(self, file: PdfFile, index: int = 0, limit: int | None = None) -> None:
        self.file = file
        self.index = index
        self.sections = file.sections[index:]
        self.trailer = self.sections[0].trailer
        self.limit = limit
        self._entries: dict[int, Entry | None] = {}
        self._cache: dict[int, PdfObject] = {}
        self._busy: set[int] = set()
        self._fields: list[tuple[Ref | None, dict[str, PdfObject], str]] | None = None

    def entry(self, num: int) -> Entry | None:
        """The newest cross-reference entry of object ``num`` in this view."""
        try:
            return self._entries[num]
        except KeyError:
            pass
        found: Entry | None = None
        if len(self.file.sections) > 8:
            where = self.file.where(num)
            j = bisect.bisect_left(where, self.index)
            if j < len(where):
                found = self.file.sections[where[j]].entries.get(num)
        else:
            for section in self.sections:
                found = section.entries.get(num)
                if found is not None:
                    break
        self._entries[num] = found
        return found

    def in_use(self, num: int) -> bool:
        entry = self.entry(num)
        return entry is not None and entry.kind in (1, 2) and num > 0

    def peek(self, num: int) -> PdfObject:
        """Object ``num`` as :meth:`get` reads it, but a stream without its data (not kept:
        a look at the dictionary that costs no copy of the data)."""
        if num in self._cache:
            return self._cache[num]
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            return None
        return self.fetch(num, entry, keep_data=False)

    def source(self, num: int) -> tuple[bytes, int]:
        """Where object ``num``'s value is written: the file's bytes (or its object stream's
        decoded data) and the position of the value in them. Read :meth:`get` first."""
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            raise PdfMalformed(f"object {num} is not in use")
        if entry.kind == 1:
            m = OBJ_HEADER.match(self.file.data, entry.a)
            if m is None:
                raise PdfMalformed(f"no object at byte {entry.a}")
            return self.file.data, m.end()
        holder_entry = self.entry(entry.a)
        if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
            raise PdfMalformed(f"object {num} is in object stream {entry.a}, which is not here")
        holder = self._read(holder_entry.a, keep_data=True, level=0)
        decoded, start, _ = self.file.member_span(holder, holder_entry.a, entry.b, num)
        return decoded, start

    def check_ref(self, ref: Ref) -> None:
        """A reference to an object in use must carry that object's generation."""
        entry = self.entry(ref.num)
        if entry is not None and entry.kind in (1, 2) and ref.num > 0 and entry.gen != ref.gen:
            raise PdfMalformed(
                f"a reference '{ref.num} {ref.gen} R' names generation {ref.gen}, but object "
                f"{ref.num} has generation {entry.gen} (viewers disagree on what it means)"
            )

    def get(self, num: int, gen: int | None = None) -> PdfObject:
        """Object ``num`` (``None`` when free or absent, as the PDF rules say); with ``gen``,
        a reference ``num gen R`` (its generation must be the object's)."""
        if gen is not None:
            self.check_ref(Ref(num, gen))
        if num in self._cache:
            return self._cache[num]
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            return None
        if num in self._busy:
            raise PdfMalformed(f"object {num} refers to itself while being read")
        self._busy.add(num)
        try:
            value = self.fetch(num, entry)
        finally:
            self._busy.discard(num)
        self._cache[num] = value
        return value

    def fetch(
        self, num: int, entry: Entry, *, keep_data: bool = True, level: int = 0
    ) -> PdfObject:
        """The object ``entry`` defines as object ``num``, checked against the entry."""
        return self.locate(num, entry, keep_data=keep_data, level=level)[0]

    def locate(
        self, num: int, entry: Entry, *, keep_data: bool = True, level: int = 0
    ) -> tuple[PdfObject, int]:
        """:meth:`fetch`, and where the object (or its object stream) ends in the file."""
        if entry.kind == 1:
            obj = self._read(entry.a, keep_data=keep_data, level=level)
            if obj.num != num or obj.gen != entry.b:
                raise PdfMalformed(
                    f"the xref says object {num} {entry.b} is at byte {entry.a}, but object "
                    f"{obj.num} {obj.gen} is"
                )
            return obj.value, obj.end
        holder_entry = self.entry(entry.a)
        if holder_entry is None or holder_entry.kind != 1 or holder_entry.b != 0:
            raise PdfMalformed(
                f"object {num} is in object stream {entry.a}, which is not an object here"
            )
        holder = self._read(holder_entry.a, keep_data=True, level=level)
        if holder.num != entry.a or holder.gen != 0:
            raise PdfMalformed(
                f"the xref says object stream {entry.a} is at byte {holder_entry.a}, but "
                f"object {holder.num} {holder.gen} is"
            )
        return self.file.member(holder, holder_entry.a, entry.b, num), holder.end

    def _read(self, offset: int, *, keep_data: bool, level: int) -> Indirect:
        if self.limit is not None and offset >= self.limit:
            raise PdfMalformed(f"an object at byte {offset} lies past the end of the revision")

        def length(ref: Ref) -> int:
            return self.length(ref, level + 1)

        obj = self.file.read(offset, length, keep_data=keep_data)
        if self.limit is not None and obj.end > self.limit:
            raise PdfMalformed(f"object {obj.num} runs past the end of the revision")
        return obj

    def length(self, ref: Ref, level: int = 1) -> int:
        """An indirect ``/Length``: an integer object, read without following further
        ``/Length``s beyond one object stream (no chains, no recursion)."""
        if level > 2:
            raise PdfMalformed("a stream /Length refers through more than one object stream")
        self.check_ref(ref)
        entry = self.entry(ref.num)
        if entry is None or entry.kind not in (1, 2) or ref.num <= 0:
            raise PdfMalformed(f"a stream /Length refers to object {ref.num}, which is not in use")
        if entry.kind == 1:
            if self.limit is not None and entry.a >= self.limit:
                raise PdfMalformed(f"object {ref.num} lies past the end of the revision")
            obj = self.file.parser.indirect(entry.a)  # a stream here has no usable /Length
            if obj.num != ref.num or obj.gen != entry.b:
                raise PdfMalformed(
                    f"the xref says object {ref.num} {entry.b} is at byte {entry.a}, but "
                    f"object {obj.num} {obj.gen} is"
                )
            value = obj.value
        else:
            value = self.fetch(ref.num, entry, level=level)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PdfMalformed(f"a stream /Length refers to object {ref.num}, not an integer")
        return value

    def resolve(self, value: PdfObject) -> PdfObject:
        """``value`` with one level of reference followed (chains of references too)."""
        hops = 0
        while isinstance(value, Ref):
            hops += 1
            if hops > 32:
                raise PdfHostile("a chain of more than 32 references")
            value = self.get(value.num, value.gen)
        return value

    def resolve_dict(self, value: PdfObject) -> dict[str, PdfObject]:
        """The dictionary ``value`` refers to (a stream's dictionary too), else ``{}``."""
        value = self.resolve(value)
        if isinstance(value, Stream):
            return value.dict
        return value if isinstance(value, dict) else {}

    @property
    def size(self) -> int:
        size = self.trailer.get("Size")
        highest = max((s.entries.highest() for s in self.sections), default=0) + 1
        return max(size, highest) if isinstance(size, int) else highest

    def catalog(self) -> tuple[Ref, dict[str, PdfObject]]:
        root = self.trailer.get("Root")
        catalog = self.resolve(root)
        if not isinstance(root, Ref) or not isinstance(catalog, dict):
            raise PdfMalformed("the trailer's /Root is not a catalog dictionary")
        return root, catalog

    def pages(self) -> list[tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]]:
        """Every page in order: (reference, page dictionary, inherited attributes)."""
        _, catalog = self.catalog()
        out: list[tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]] = []
        seen: set[int] = set()
        stack: list[tuple[PdfObject, dict[str, PdfObject]]] = [(catalog.get("Pages"), {})]
        while stack:
            ref, inherited = stack.pop()
            if not isinstance(ref, Ref) or ref.num in seen:
                raise PdfMalformed("the page tree is broken (a node is missing or repeated)")
            seen.add(ref.num)
            if len(seen) > self.file.limits.max_nodes:
                raise PdfHostile(f"more than {self.file.limits.max_nodes} page-tree nodes")
            node = self.resolve(ref)
            if not isinstance(node, dict):
                raise PdfMalformed(f"page-tree node {ref.num} is not a dictionary")
            here = dict(inherited)
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key in node:
                    here[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if node.get("Type") == "Pages" or (node.get("Type") != "Page" and kids is not None):
                if not isinstance(kids, list):
                    raise PdfMalformed(f"page-tree node {ref.num} has no /Kids array")
                stack.extend((kid, here) for kid in reversed(kids))
            else:
                out.append((ref, node, here))
        return out

    def page_count(self) -> int:
        """``/Count`` of the page tree's root."""
        _, catalog = self.catalog()
        count = self.resolve_dict(catalog.get("Pages")).get("Count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise PdfMalformed("the page tree has no usable /Count")
        return count

    def page(self, index: int) -> tuple[Ref, dict[str, PdfObject], dict[str, PdfObject]]:
        """Page ``index`` (0-based), found by descending the tree with ``/Count``: only the
        nodes on the way (and siblings counted past) are read, so the last page of a long
        document is found quickly. Returns what :meth:`pages` returns for that page."""
        _, catalog = self.catalog()
        ref: PdfObject = catalog.get("Pages")
        inherited: dict[str, PdfObject] = {}
        remaining = index
        for _ in range(self.file.limits.max_depth):
            node = self.resolve(ref)
            if not isinstance(ref, Ref) or not isinstance(node, dict):
                raise PdfMalformed("the page tree is broken (a node is missing)")
            inherited = dict(inherited)
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key in node:
                    inherited[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if node.get("Type") == "Page" or not isinstance(kids, list):
                if remaining != 0:
                    raise PdfMalformed("the page tree's /Count does not match its pages")
                return ref, node, inherited
            self.file.budget.spend(len(kids) + 1)  # a shared /Kids may be met at every level
            total = node.get("Count")
            backwards = isinstance(total, int) and remaining >= total // 2
            order = range(len(kids) - 1, -1, -1) if backwards else range(len(kids))
            if backwards and isinstance(total, int):
                remaining = total - 1 - remaining
            for i in order:
                kid = self.resolve_dict(kids[i])
                n = kid.get("Count") if kid.get("Type") != "Page" and "Kids" in kid else 1
                if not isinstance(n, int) or n < 0:
                    raise PdfMalformed("the page tree has a node without a usable /Count")
                if remaining < n:
                    if backwards:
                        remaining = n - 1 - remaining
                    ref = kids[i]
                    break
                remaining -= n
            else:
                raise PdfMalformed("the page tree's /Count does not match its pages")
        raise PdfHostile("the page tree is nested too deeply")

    def page_attributes(self, page: dict[str, PdfObject]) -> dict[str, PdfObject]:
        """A page's inheritable attributes (``/MediaBox``, ``/CropBox``, ``/Rotate``,
        ``/Resources``), its own or its ancestors' (``/Parent``), bounded."""
        out: dict[str, PdfObject] = {}
        node: dict[str, PdfObject] = page
        seen: set[int] = set()
        for _ in range(self.file.limits.max_depth):
            for key in ("MediaBox", "CropBox", "Rotate", "Resources"):
                if key not in out and key in node:
                    out[key] = node[key]
            parent = node.get("Parent")
            if not isinstance(parent, Ref) or parent.num in seen:
                return out
            seen.add(parent.num)
            node = self.resolve_dict(parent)
        raise PdfHostile("the page tree is nested too deeply")

    def field_value(self, d: dict[str, PdfObject]) -> tuple[PdfObject, PdfObject, str]:
        """(``/FT``, ``/V``, partial name ``/T``) of a field or widget dictionary, inherited
        through ``/Parent`` where the dictionary has none (bounded)."""
        ft, value, name = d.get("FT"), d.get("V"), decode_text(d.get("T"))
        node = d
        seen: set[int] = set()
        for _ in range(self.file.limits.max_depth):
            if ft is not None and value is not None:
                break
            parent = node.get("Parent")
            if not isinstance(parent, Ref) or parent.num in seen:
                break
            seen.add(parent.num)
            node = self.resolve_dict(parent)
            ft = ft if ft is not None else node.get("FT")
            value = value if value is not None else node.get("V")
            name = name or decode_text(node.get("T"))
        return ft, value, name

    def acroform(self) -> dict[str, PdfObject]:
        _, catalog = self.catalog()
        return self.resolve_dict(catalog.get("AcroForm"))

    def fields(self) -> list[tuple[Ref | None, dict[str, PdfObject], str]]:
        """Every terminal form field: (reference, dictionary, full name), in order. Walked
        once per view (then remembered): each node at most once (shared ``/Kids`` arrays
        make a DAG, not a tree), at most ``max_nodes`` of them, every kid looked at paid
        for from the budget."""
        if self._fields is None:
            self._fields = self._walk_fields()
        return list(self._fields)

    def _walk_fields(self) -> list[tuple[Ref | None, dict[str, PdfObject], str]]:
        fields = self.resolve(self.acroform().get("Fields"))
        out: list[tuple[Ref | None, dict[str, PdfObject], str]] = []
        if not isinstance(fields, list):
            return out
        budget = self.file.budget
        budget.spend(len(fields) + 1)
        seen: set[int] = set()
        walked = 0
        # depth first, in order; a frame per node whose kids are being walked (an iterator
        # over its /Kids, not a copy: a shared array of thousands costs no memory per visit)
        stack: list[tuple[Iterator[PdfObject], str, dict[str, PdfObject]]] = [
            (iter(fields), "", {})
        ]
        while stack:
            kids_left, parent_name, inherited = stack[-1]
            ref = next(kids_left, _END)
            if ref is _END:
                stack.pop()
                continue
            if isinstance(ref, Ref):
                if ref.num in seen:
                    continue
                seen.add(ref.num)
            walked += 1
            if walked > self.file.limits.max_nodes:
                raise PdfHostile(f"more than {self.file.limits.max_nodes} form fields")
            node = self.resolve(ref)
            if not isinstance(node, dict):
                continue
            part = decode_text(node.get("T")) if "T" in node else ""
            name = f"{parent_name}.{part}" if parent_name and part else parent_name or part
            here = dict(inherited)
            for key in ("FT", "V"):
                if key in node:
                    here[key] = node[key]
            kids = self.resolve(node.get("Kids"))
            if isinstance(kids, list):
                budget.spend(len(kids) + 1)  # a shared array is paid for at every visit
            named_kids = isinstance(kids, list) and any(
                "T" in self.resolve_dict(k) for k in kids
            )
            if named_kids and isinstance(kids, list):
                stack.append((iter(kids), name, here))
            else:
                merged = {**here, **node}
                out.append((ref if isinstance(ref, Ref) else None, merged, name))
        return out


_END = object()
"""The end of a frame's kids (:meth:`View._walk_fields`)."""


def is_name(value: PdfObject, name: str) -> bool:
    return isinstance(value, Name) and value == name


__all__ = [
    "DEFAULT_LIMITS",
    "OBJ_HEADER",
    "Entries",
    "Entry",
    "FoundObject",
    "PdfFile",
    "PdfLimits",
    "Section",
    "View",
    "find_eof",
    "startxref_before",
]
