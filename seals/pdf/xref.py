"""The cross-reference model of a PDF: resource limits for reading untrusted files, entries
(in compact blocks), a section's entries and trailer, and the end-of-revision markers
(``startxref N %%EOF``). :class:`~seals.pdf.reader.PdfFile` parses the chain into it.
"""

from __future__ import annotations

import bisect
import itertools
import re
from abc import ABC, abstractmethod
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from seals.pdf.errors import PdfMalformed
from seals.pdf.syntax import PdfObject

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
    at, 1/16 a character of a name it builds (see :class:`~seals.pdf.syntax.Budget` and
    ``seals/pdf/README.md``)."""
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


class Block(ABC):
    """A run of entries ``first … first + count - 1`` (one subsection)."""

    __slots__ = ("count", "first")

    def __init__(self, first: int, count: int) -> None:
        self.first = first
        self.count = count

    @abstractmethod
    def entry(self, i: int) -> Entry:
        """The ``i``-th entry of the run: each kind of block (a table's text, a stream's
        fields) reads its own."""

    def entries(self) -> Iterator[tuple[int, Entry]]:
        for i in range(self.count):
            yield self.first + i, self.entry(i)

    def odd_generations(self) -> Iterator[int]:
        """Numbers of the in-use (type 1) entries with a generation other than 0."""
        for num, e in self.entries():
            if e.kind == 1 and e.b:
                yield num


class TableBlock(Block):
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


class ArrayBlock(Block):
    """Entries parsed up front (tables with irregular rows), kept compact."""

    __slots__ = ("a", "b", "kinds")

    def __init__(self, first: int, kinds: bytes, a: array[int], b: array[int]) -> None:
        super().__init__(first, len(kinds))
        self.kinds, self.a, self.b = kinds, a, b

    def entry(self, i: int) -> Entry:
        return Entry(self.kinds[i], self.a[i], self.b[i])


class StreamBlock(Block):
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

    def __init__(self, blocks: list[Block], fallback: Entries | None = None) -> None:
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

    def _block(self, num: int) -> Block | None:
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


TAIL = re.compile(
    rb"[\x00\t\n\x0c\r ]*startxref[\x00\t\n\x0c\r ]+(\d{1,20})[\x00\t\n\x0c\r ]+%%EOF[ \t]*"
    rb"(?:\r\n|\r|\n)?"
)
"""``startxref N %%EOF`` (and whitespace before it): the end of a revision."""
_EOF = re.compile(rb"%%EOF[ \t]*(?:\r\n|\r|\n)?")
_XREF_ROW = re.compile(rb"(\d{10}) (\d{5}) ([nf])")


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
    m = TAIL.match(data, kw)
    if m is None or m.end() != end:
        return None
    return int(m.group(1))
