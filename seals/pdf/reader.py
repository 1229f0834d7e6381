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

This module owns :class:`PdfFile` (the chain's parsing, object streams, reading objects);
beside it: :mod:`seals.pdf.xref` (limits, entries, sections), :mod:`seals.pdf.view`
(:class:`View`), :mod:`seals.pdf.decode` (stream decoding) and :mod:`seals.pdf.integrity` (the
whole-file checks behind :meth:`PdfFile.objects` and :meth:`PdfFile.tile`). The names callers
used are still importable from here.
"""

from __future__ import annotations

import itertools
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from seals.pdf import integrity
from seals.pdf.decode import decode_stream
from seals.pdf.errors import PdfEncrypted, PdfHostile, PdfMalformed, PdfTooLarge
from seals.pdf.syntax import (
    MAX_OBJECT_NUMBER,
    OBJ_HEADER,
    Budget,
    Indirect,
    Parser,
    PdfObject,
    Ref,
    Stream,
    skip_ws,
)
from seals.pdf.view import View
from seals.pdf.xref import (
    DEFAULT_LIMITS,
    ArrayBlock,
    Block,
    Entries,
    Entry,
    FoundObject,
    PdfLimits,
    Section,
    StreamBlock,
    TableBlock,
    find_eof,
    startxref_before,
)
from seals.report import Message

_STARTXREF = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d{1,20})")
_XREF_SUB = re.compile(rb"(\d{1,10})[\x00\t\x0c ]+(\d{1,10})[\x00\t\x0c ]*(?:\r\n|\r|\n)")
_XREF_BLOCK_20 = re.compile(rb"(?:\d{10} \d{5} [nf](?: \r| \n|\r\n))*")
_XREF_BLOCK_19 = re.compile(rb"(?:\d{10} \d{5} [nf][\r\n])*")
_XREF_ENTRY = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,10})[ ]+(\d{1,5})[ ]+([nf])")
_OBJSTM_HEAD = re.compile(rb"\d{1,20}")


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
        blocks: list[Block] = []
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
                    blocks.append(TableBlock(first, count, data, pos, stride))
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
                blocks.append(ArrayBlock(first, bytes(kinds), a, b))

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
        blocks: list[Block] = []
        pos = 0
        for first, count in zip(index[::2], counts, strict=True):
            blocks.append(StreamBlock(first, count, raw, pos, (w0, w1, w2)))
            pos += count * row
        trailer = {k: v for k, v in d.items() if k not in ("Length", "Filter", "DecodeParms")}
        return Entries(blocks), trailer, obj.end

    # -------------------------------------------------------------------- decoding

    def decode(self, stream: Stream, *, needed: int | None = None) -> bytes:
        """The decoded data of a stream: :func:`seals.pdf.decode.decode_stream`."""
        return decode_stream(self, stream, needed=needed)


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
        """Every in-use object of every section, checked: :func:`seals.pdf.integrity.objects`."""
        return integrity.objects(self, interesting, fast=fast, references=references)

    def tail(self, section: Section) -> int | None:
        """Where ``startxref N %%EOF`` after ``section`` ends: :func:`seals.pdf.integrity.tail`."""
        return integrity.tail(self, section)

    def tile(self, index: int, start: int) -> tuple[int, Message | None]:
        """Whether revision ``index`` is written exactly from ``start``:
        :func:`seals.pdf.integrity.tile`."""
        return integrity.tile(self, index, start)


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
