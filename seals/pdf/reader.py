"""Reading a PDF's structure strictly: header, ``startxref``, the chain of cross-reference
sections (classic tables, cross-reference streams, hybrid files), object streams, objects.

- :class:`PdfFile` parses the chain once: ``sections`` newest first (each an incremental
  update, or the original file). ``view(k)`` is the document as it was before the ``k`` newest
  sections were added; ``view()`` is the document as a viewer shows it.
- :class:`View` resolves objects (``get``, ``resolve``), the catalog, and the pages in order.

No repair is ever attempted: a broken xref is :class:`PdfMalformed`, an encrypted file
:class:`PdfEncrypted`, a file over the size cap :class:`PdfTooLarge`, anything that exceeds
a resource bound (:class:`PdfLimits`) :class:`PdfHostile`. This module knows nothing of
signing.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from seals.pdf.errors import PdfEncrypted, PdfHostile, PdfMalformed, PdfTooLarge
from seals.pdf.syntax import Name, Parser, PdfObject, Ref, Stream, decode_text, skip_ws

MB = 1024 * 1024


@dataclass(frozen=True)
class PdfLimits:
    """Resource bounds for reading untrusted PDFs."""

    max_size: int = 50 * MB
    """Largest file accepted (``pdf_too_large``)."""
    max_depth: int = 64
    """Deepest nesting of arrays and dictionaries (``pdf_hostile``)."""
    max_decoded: int = 16 * MB
    """Largest decoded size of one structure stream (xref stream, object stream)."""
    max_decoded_total: int = 64 * MB
    """Largest decoded size of all structure streams of one file together."""
    max_sections: int = 512
    """Longest chain of cross-reference sections (``/Prev``)."""
    max_objects: int = 2_000_000
    """Most cross-reference entries in one file."""
    max_nodes: int = 100_000
    """Most page-tree or form-field nodes walked."""


DEFAULT_LIMITS = PdfLimits()


@dataclass(frozen=True, slots=True)
class Entry:
    """One cross-reference entry: ``kind`` 0 free, 1 at byte ``a`` (generation ``b``),
    2 the ``b``-th object of object stream ``a``."""

    kind: int
    a: int
    b: int


class Entries(Mapping[int, Entry]):
    """The entries of one section. Rows of the usual 20-byte table layout are read when
    asked for (a table of thousands of objects costs nothing until used); others are parsed
    up front. ``fallback`` (a hybrid file's ``/XRefStm`` entries) answers what the table does
    not."""

    def __init__(
        self,
        data: bytes,
        blocks: list[tuple[int, int, int]],
        parsed: dict[int, Entry],
        fallback: Mapping[int, Entry] | None = None,
    ) -> None:
        self._data = data
        self._blocks = blocks
        """(first object number, count, offset of the first row)."""
        self._parsed = parsed
        self._fallback = fallback or {}
        self._cache: dict[int, Entry] = {}

    def __getitem__(self, num: int) -> Entry:
        e = self._parsed.get(num) or self._cache.get(num)
        if e is not None:
            return e
        for first, count, offset in self._blocks:
            if first <= num < first + count:
                at = offset + 20 * (num - first)
                row = self._data[at : at + 18]
                e = Entry(1 if row[17] == 110 else 0, int(row[:10]), int(row[11:16]))
                self._cache[num] = e
                return e
        return self._fallback[num]

    def __iter__(self) -> Iterator[int]:
        seen: set[int] = set()
        for num in self._parsed:
            seen.add(num)
            yield num
        for first, count, _ in self._blocks:
            for num in range(first, first + count):
                if num not in seen:
                    seen.add(num)
                    yield num
        for num in self._fallback:
            if num not in seen:
                yield num

    def __len__(self) -> int:
        return sum(c for _, c, _ in self._blocks) + len(self._parsed) + len(self._fallback)

    def highest(self) -> int:
        tops = [first + count - 1 for first, count, _ in self._blocks if count]
        return max([*tops, *self._parsed, *self._fallback], default=0)


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


_STARTXREF = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d+)")
_EOF = re.compile(rb"%%EOF[ \t]*(?:\r\n|\r|\n)?")
_XREF_SUB = re.compile(rb"(\d+)[\x00\t\x0c ]+(\d+)[\x00\t\x0c ]*(?:\r\n|\r|\n)")
_XREF_BLOCK = re.compile(rb"(?:\d{10} \d{5} [nf](?: \r| \n|\r\n))*")
_XREF_ENTRY = re.compile(rb"[\x00\t\n\x0c\r ]*(\d{1,10})[ ]+(\d{1,5})[ ]+([nf])")


def find_eof(data: bytes, start: int) -> int | None:
    """The end of the first ``%%EOF`` line at or after ``start`` (with its end of line)."""
    i = data.find(b"%%EOF", start)
    if i < 0:
        return None
    m = _EOF.match(data, i)
    assert m is not None
    return m.end()


class PdfFile:
    """The parsed cross-reference chain of a PDF (see the module docstring)."""

    def __init__(self, data: bytes, limits: PdfLimits = DEFAULT_LIMITS) -> None:
        if len(data) > limits.max_size:
            raise PdfTooLarge(
                f"the PDF is {len(data)} bytes; the limit is {limits.max_size} bytes"
            )
        self.data = data
        self.limits = limits
        self.parser = Parser(data, max_depth=limits.max_depth)
        self._decoded_total = 0
        self._objstm: dict[int, tuple[bytes, list[tuple[int, int]], int]] = {}
        self._objects: dict[int, tuple[int, int, PdfObject]] = {}
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
        self._views: dict[int, View] = {}

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
            section = self._section(next_offset)
            total += len(section.entries)
            if total > self.limits.max_objects:
                raise PdfHostile(f"more than {self.limits.max_objects} cross-reference entries")
            sections.append(section)
            next_offset = section.prev
        return tuple(sections)

    def _section(self, offset: int) -> Section:
        if not 0 <= offset < len(self.data):
            raise PdfMalformed(f"cross-reference offset {offset} is outside the file")
        if self.data.startswith(b"xref", offset):
            entries, trailer = self._table(offset + 4)
            kind: Literal["table", "stream"] = "table"
            xrefstm = trailer.get("XRefStm")
            if isinstance(xrefstm, int):  # hybrid file: table entries take precedence
                extra, _ = self._xref_stream(xrefstm)
                entries = Entries(self.data, entries._blocks, entries._parsed, extra)
        else:
            entries, trailer = self._xref_stream(offset)
            kind = "stream"
        prev = trailer.get("Prev")
        if prev is not None and (not isinstance(prev, int) or isinstance(prev, bool)):
            raise PdfMalformed(f"/Prev of the section at byte {offset} is not a number")
        return Section(offset, kind, entries, trailer, prev)

    def _table(self, pos: int) -> tuple[Entries, dict[str, PdfObject]]:
        data = self.data
        entries: dict[int, Entry] = {}
        blocks: list[tuple[int, int, int]] = []
        listed = 0
        while True:
            pos = skip_ws(data, pos)
            if data.startswith(b"trailer", pos):
                trailer, _ = self.parser.value(pos + 7)
                if not isinstance(trailer, dict):
                    raise PdfMalformed(f"the trailer at byte {pos} is not a dictionary")
                return Entries(data, blocks, entries), trailer
            m = _XREF_SUB.match(data, pos)
            if not m:
                raise PdfMalformed(f"bad cross-reference table at byte {pos}")
            first, count = int(m.group(1)), int(m.group(2))
            listed += count
            if listed > self.limits.max_objects:
                raise PdfHostile(f"cross-reference subsection of {count} entries at byte {pos}")
            pos = m.end()
            block = data[pos : pos + 20 * count]
            if count and _XREF_BLOCK.fullmatch(block):  # the usual 20-byte rows: read later
                blocks.append((first, count, pos))
                pos += 20 * count
                continue
            for i in range(count):
                e = _XREF_ENTRY.match(data, pos)
                if not e:
                    raise PdfMalformed(f"bad cross-reference entry at byte {pos}")
                pos = e.end()
                num = first + i
                if num not in entries:
                    a, b = int(e.group(1)), int(e.group(2))
                    entries[num] = Entry(1 if e.group(3) == b"n" else 0, a, b)

    def _xref_stream(self, offset: int) -> tuple[Entries, dict[str, PdfObject]]:
        _, _, obj, _ = self.parser.indirect(offset)
        if not isinstance(obj, Stream) or obj.dict.get("Type") != "XRef":
            raise PdfMalformed(f"no cross-reference table or stream at byte {offset}")
        d = obj.dict
        widths = d.get("W")
        size = d.get("Size")
        if (
            not isinstance(widths, list)
            or len(widths) != 3
            or not all(isinstance(w, int) and 0 <= w <= 8 for w in widths)
            or not isinstance(size, int)
        ):
            raise PdfMalformed(f"bad /W or /Size in the xref stream at byte {offset}")
        index = d.get("Index", [0, size])
        if (
            not isinstance(index, list)
            or len(index) % 2
            or not all(isinstance(i, int) and i >= 0 for i in index)
        ):
            raise PdfMalformed(f"bad /Index in the xref stream at byte {offset}")
        raw = self.decode(obj)
        w0, w1, w2 = widths
        row = w0 + w1 + w2
        if row == 0:
            raise PdfMalformed(f"empty /W in the xref stream at byte {offset}")
        entries: dict[int, Entry] = {}
        pos = 0
        for first, count in zip(index[::2], index[1::2], strict=True):
            if len(entries) + count > self.limits.max_objects:
                raise PdfHostile(f"xref stream at byte {offset} lists too many objects")
            if pos + count * row > len(raw):
                raise PdfMalformed(f"xref stream at byte {offset} is shorter than its /Index")
            for i in range(count):
                kind = int.from_bytes(raw[pos : pos + w0], "big") if w0 else 1
                a = int.from_bytes(raw[pos + w0 : pos + w0 + w1], "big")
                b = int.from_bytes(raw[pos + w0 + w1 : pos + row], "big")
                pos += row
                entries.setdefault(first + i, Entry(kind, a, b))
        trailer = {k: v for k, v in d.items() if k not in ("Length", "Filter", "DecodeParms")}
        return Entries(self.data, [], entries), trailer

    # -------------------------------------------------------------------- decoding

    def decode(self, stream: Stream) -> bytes:
        """The decoded data of a structure stream (FlateDecode with PNG predictors, bounded)."""
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
        budget = min(
            self.limits.max_decoded, self.limits.max_decoded_total - self._decoded_total
        )
        d = zlib.decompressobj()
        try:
            out = d.decompress(stream.raw, budget + 1)
        except zlib.error as exc:
            raise PdfMalformed(f"a compressed structure stream is corrupt: {exc}") from exc
        if len(out) > budget or d.unconsumed_tail:
            raise PdfHostile(
                "a compressed stream expands beyond the limit "
                f"({self.limits.max_decoded} bytes per stream, "
                f"{self.limits.max_decoded_total} per file): a decompression bomb?"
            )
        self._decoded_total += len(out)
        if isinstance(params, dict):
            predictor = params.get("Predictor", 1)
            if isinstance(predictor, int) and predictor >= 10:
                columns = params.get("Columns", 1)
                colors = params.get("Colors", 1)
                bpc = params.get("BitsPerComponent", 8)
                if not all(isinstance(v, int) and 0 < v < 1 << 16 for v in (columns, colors, bpc)):
                    raise PdfMalformed("bad /DecodeParms of a structure stream")
                row = (columns * colors * bpc + 7) // 8
                out = _png_unpredict(out, row, max(1, colors * bpc // 8))
            elif predictor not in (1, None):
                raise PdfMalformed(f"structure stream with unsupported predictor {predictor}")
        return out

    def object_stream_member(self, stream: Stream, stream_offset: int, index: int) -> PdfObject:
        """The ``index``-th object in an object stream."""
        cached = self._objstm.get(stream_offset)
        if cached is None:
            n, first = stream.dict.get("N"), stream.dict.get("First")
            if not isinstance(n, int) or not isinstance(first, int) or n < 0 or first < 0:
                raise PdfMalformed(f"bad object stream at byte {stream_offset}")
            if n > self.limits.max_objects:
                raise PdfHostile(f"object stream at byte {stream_offset} holds {n} objects")
            decoded = self.decode(stream)
            head = decoded[:first].split()
            if len(head) < 2 * n:
                raise PdfMalformed(f"object stream at byte {stream_offset}: short header")
            try:
                pairs = [(int(head[2 * i]), int(head[2 * i + 1])) for i in range(n)]
            except ValueError as exc:
                raise PdfMalformed(f"object stream at byte {stream_offset}: bad header") from exc
            cached = (decoded, pairs, first)
            self._objstm[stream_offset] = cached
        decoded, pairs, first = cached
        if not 0 <= index < len(pairs):
            raise PdfMalformed(f"object stream at byte {stream_offset} has no object {index}")
        value, _ = Parser(decoded, max_depth=self.limits.max_depth).value(first + pairs[index][1])
        return value

    def object_at(self, offset: int, resolve_length: View) -> tuple[int, int, PdfObject]:
        """The indirect object written at ``offset``: (num, gen, value)."""
        cached = self._objects.get(offset)
        if cached is None:
            if not 0 <= offset < len(self.data):
                raise PdfMalformed(f"object offset {offset} is outside the file")
            num, gen, value, _ = self.parser.indirect(
                offset, resolve_length=resolve_length.get_length
            )
            cached = (num, gen, value)
            self._objects[offset] = cached
        return cached

    def view(self, skip: int = 0) -> View:
        """The document without its ``skip`` newest sections."""
        view = self._views.get(skip)
        if view is None:
            if not 0 <= skip < len(self.sections):
                raise IndexError(skip)
            view = View(self, self.sections[skip:])
            self._views[skip] = view
        return view


def _png_unpredict(data: bytes, columns: int, bpp: int) -> bytes:
    row = columns + 1
    out = bytearray()
    prev = bytearray(columns)
    for start in range(0, len(data) - row + 1, row):
        kind = data[start]
        cur = bytearray(data[start + 1 : start + row])
        if kind == 1:
            for i in range(bpp, columns):
                cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
        elif kind == 2:
            cur = bytearray((c + p) & 0xFF for c, p in zip(cur, prev, strict=True))
        elif kind == 3:
            for i in range(columns):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(columns):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[i] = (cur[i] + pred) & 0xFF
        elif kind != 0:
            raise PdfMalformed(f"bad PNG predictor row type {kind}")
        out += cur
        prev = cur
    return bytes(out)


class View:
    """The document as described by a suffix of the cross-reference chain."""

    def __init__(self, file: PdfFile, sections: tuple[Section, ...]) -> None:
        self.file = file
        self.sections = sections
        self.trailer = sections[0].trailer
        self._cache: dict[int, PdfObject] = {}
        self._busy: set[int] = set()

    def entry(self, num: int) -> Entry | None:
        """The newest cross-reference entry of object ``num`` in this view."""
        for section in self.sections:
            e = section.entries.get(num)
            if e is not None:
                return e
        return None

    def numbers(self) -> set[int]:
        """Every object number with an entry in this view."""
        out: set[int] = set()
        for section in self.sections:
            out.update(section.entries)
        return out

    def in_use(self, num: int) -> bool:
        entry = self.entry(num)
        return entry is not None and entry.kind in (1, 2) and num > 0

    def get(self, num: int) -> PdfObject:
        """Object ``num`` (``None`` when free or absent, as the PDF rules say)."""
        if num in self._cache:
            return self._cache[num]
        entry = self.entry(num)
        if entry is None or entry.kind not in (1, 2) or num <= 0:
            return None
        if num in self._busy:
            raise PdfMalformed(f"object {num} refers to itself while being read")
        self._busy.add(num)
        try:
            if entry.kind == 1:
                got, _, value = self.file.object_at(entry.a, self)
                if got != num:
                    raise PdfMalformed(
                        f"the xref says object {num} is at byte {entry.a}, but object {got} is"
                    )
            else:
                holder = self.entry(entry.a)
                if holder is None or holder.kind != 1:
                    raise PdfMalformed(f"object {num} is in object stream {entry.a}, not found")
                _, _, stream = self.file.object_at(holder.a, self)
                if not isinstance(stream, Stream):
                    raise PdfMalformed(f"object {entry.a} is not an object stream")
                value = self.file.object_stream_member(stream, holder.a, entry.b)
        finally:
            self._busy.discard(num)
        self._cache[num] = value
        return value

    def get_length(self, ref: Ref) -> PdfObject:
        value = self.get(ref.num)
        if isinstance(value, Stream):
            raise PdfMalformed("a stream /Length refers to a stream")
        return value

    def resolve(self, value: PdfObject) -> PdfObject:
        """``value`` with one level of reference followed (chains of references too)."""
        hops = 0
        while isinstance(value, Ref):
            hops += 1
            if hops > 32:
                raise PdfHostile("a chain of more than 32 references")
            value = self.get(value.num)
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

    def acroform(self) -> dict[str, PdfObject]:
        _, catalog = self.catalog()
        return self.resolve_dict(catalog.get("AcroForm"))

    def fields(self) -> list[tuple[Ref | None, dict[str, PdfObject], str]]:
        """Every terminal form field: (reference, dictionary, full name), in order."""
        fields = self.resolve(self.acroform().get("Fields"))
        out: list[tuple[Ref | None, dict[str, PdfObject], str]] = []
        if not isinstance(fields, list):
            return out
        seen: set[int] = set()
        stack: list[tuple[PdfObject, str, dict[str, PdfObject]]] = [
            (f, "", {}) for f in reversed(fields)
        ]
        while stack:
            ref, parent_name, inherited = stack.pop()
            if isinstance(ref, Ref):
                if ref.num in seen:
                    continue
                seen.add(ref.num)
            if len(seen) > self.file.limits.max_nodes:
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
            named_kids = isinstance(kids, list) and any(
                "T" in self.resolve_dict(k) for k in kids
            )
            if named_kids and isinstance(kids, list):
                stack.extend((k, name, here) for k in reversed(kids))
            else:
                merged = {**here, **node}
                out.append((ref if isinstance(ref, Ref) else None, merged, name))
        return out


def is_name(value: PdfObject, name: str) -> bool:
    return isinstance(value, Name) and value == name
