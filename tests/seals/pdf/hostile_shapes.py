"""Hostile PDFs for the bounded-cost tests and ``bench/pdf_hostile.py``: each is *generated*
here from a small sealed sample (nothing large is committed), and measured in a child process
(CPU seconds, peak memory above the child's base), the way the API would meet it.

Shapes (issue #14, item 7 and the reader's other bounds): an xref of tens of thousands of
subsections; 500 revisions; a hundred fake seals; PNG-predictor rows sized by the attacker;
hundreds of overlapping streams; ``/Length`` chains; 5,000-digit integers; strings of escapes;
hundreds of thousands of tiny objects (in the file, and in object streams); tokens up to the
budget; deep nesting; a decompression bomb; sixty signatures; a 20 MB sealed file; many
20 MB hashes. Each is refused with a code (``pdf_hostile``, ``pdf_malformed``), judged
invalid, or (the large genuine one) valid — never an unexplained exception.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, Ref, Stream, serialize

MB = 1 << 20


@dataclass(frozen=True)
class Kit:
    """What the shapes are made from."""

    plain: bytes
    """The three-page sample (``tests/data/pdf/three-pages.pdf``)."""
    sealed: bytes
    """The sample with one seal on its last page."""
    stamp: Callable[..., bytes]
    """Seals a PDF: ``stamp(pdf, page=None, x_mm=None, y_mm=None)`` (default: the last
    page, bottom right); a later seal is dated after the first."""


@dataclass(frozen=True)
class Shape:
    name: str
    what: str
    build: Callable[[Kit], bytes]
    expect: frozenset[str]
    """Acceptable outcomes: ``valid``, ``invalid``, or an error code."""


# ------------------------------------------------------------------------- writing


class _Base:
    """Facts of a PDF that revisions are appended to."""

    def __init__(self, pdf: bytes) -> None:
        file = PdfFile(pdf)
        view = file.view()
        self.pdf = pdf
        self.prev = file.startxref
        self.root = view.trailer["Root"]
        self.next = max(s.entries.highest() for s in file.sections) + 1
        self.catalog = view.catalog()[1]
        self.page_ref, self.page, _ = view.page(view.page_count() - 1)
        annots = view.resolve(self.page.get("Annots"))
        self.annots = list(annots) if isinstance(annots, list) else []
        (_, field, _), *_ = view.fields() or [(None, {}, "")]
        sig = view.resolve(field.get("V")) if field else None
        self.signature = sig if isinstance(sig, dict) else None


def _revision(
    pdf: bytes, objects: list[tuple[int, bytes]], root: Ref, prev: int, size: int
) -> bytes:
    """An incremental update with a classic table (one subsection per object)."""
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    rows = []
    for num, body in objects:
        rows.append(b"%d 1\n%010d 00000 n\r\n" % (num, len(out)))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n" + b"".join(rows) + b"trailer\n"
    out += serialize({"Size": size, "Root": root, "Prev": prev})
    out += b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _startxref(pdf: bytes) -> int:
    return int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])


def _original(objects: list[bytes], catalog_extra: bytes = b"") -> bytes:
    """A whole (unsealed) PDF: a catalog, an empty page tree, then ``objects`` as 3, 4, …"""
    out = bytearray(b"%PDF-1.7\n")
    offsets = [len(out)]
    out += b"1 0 obj\n<</Type /Catalog /Pages 2 0 R" + catalog_extra + b">>\nendobj\n"
    offsets.append(len(out))
    out += b"2 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\n"
    for i, body in enumerate(objects, start=3):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(offsets) + 1)
    out += b"".join(b"%010d 00000 n\r\n" % o for o in offsets)
    out += b"trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref)
    return bytes(out)


def _xref_stream_revision(pdf: bytes, dictionary: dict[str, object], data: bytes) -> bytes:
    base = _Base(pdf)
    out = bytearray(pdf)
    at = len(out)
    head = {"Type": Name("XRef"), "Root": base.root, "Prev": base.prev, **dictionary}
    out += b"%d 0 obj\n" % base.next + serialize(Stream(head, data)) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % at
    return bytes(out)


_SLOT = b"[0 0000000000 0000000000 0000000000]"


def _fake_seal_objects(base: _Base, n: int, byte_range: list[int] | None,
                       contents: bytes) -> list[tuple[int, bytes]]:
    """A signature widget (number ``n``) and its signature dictionary (``n + 1``); without
    ``byte_range``, a fixed-width slot for :func:`_point_at_revision` to fill in."""
    br = serialize(byte_range) if byte_range is not None else _SLOT
    sig = (b"<</Type /Sig /Filter /Zhengyin.SES /SubFilter /GB.T38540.SES_Signature "
           b"/ByteRange " + br + b" /Contents <" + contents.hex().encode() + b">>>")
    widget = {"Type": Name("Annot"), "Subtype": Name("Widget"), "FT": Name("Sig"),
              "T": b"Fake%d" % n, "V": Ref(n + 1), "P": base.page_ref, "Rect": [0, 0, 9, 9]}
    return [(n, serialize(widget)), (n + 1, sig)]


def _point_at_revision(pdf: bytes, at: int) -> bytes:
    """Fill the slot written after ``at``: the range ends at the file's end, the gap is the
    signature dictionary's /Contents."""
    slot = pdf.index(_SLOT, at)
    gap = pdf.index(b"/Contents <", slot) + 10
    end = pdf.index(b">", gap) + 1
    text = b"[0 %010d %010d %010d]" % (gap, end, len(pdf) - end)
    return pdf[:slot] + text + pdf[slot + len(_SLOT) :]


# -------------------------------------------------------------------------- shapes


def xref_subsections(size: int) -> Callable[[Kit], bytes]:
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        count = (size - len(kit.sealed)) // 27
        rows = b"".join(b"%d 1\n0000000000 00001 f\r\n" % (base.next + 2 * i)
                        for i in range(count))
        at = len(kit.sealed)
        trailer = serialize({"Size": base.next + 2 * count, "Root": base.root,
                             "Prev": base.prev})
        return kit.sealed + b"xref\n" + rows + b"trailer\n" + trailer + (
            b"\nstartxref\n%d\n%%%%EOF\n" % at)
    return build


def revisions(count: int) -> Callable[[Kit], bytes]:
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        pdf = kit.sealed
        body = serialize(base.catalog)
        prev = base.prev
        for _ in range(count):
            pdf = _revision(pdf, [(base.root.num, body)], base.root, prev, base.next)
            prev = _startxref(pdf)
        return pdf
    return build


def fake_seals(count: int, in_form: bool) -> Callable[[Kit], bytes]:
    """``count`` revisions, each adding a fake seal to the last page (and to the form)."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        view = PdfFile(kit.sealed).view()
        form_ref = view.catalog()[1]["AcroForm"]
        form = dict(view.resolve(form_ref))
        fields = list(form["Fields"])
        pdf, prev, n, annots = kit.sealed, base.prev, base.next, list(base.annots)
        for _ in range(count):
            objects = _fake_seal_objects(base, n, [0, 1, 2, 3], b"\x30\x00")
            annots.append(Ref(n))
            objects.append((base.page_ref.num, serialize({**base.page, "Annots": annots})))
            if in_form:
                fields.append(Ref(n))
                objects.append((form_ref.num, serialize({**form, "Fields": fields})))
            pdf = _revision(pdf, objects, base.root, prev, n + 2)
            prev = _startxref(pdf)
            n += 2
        return pdf
    return build


def png_huge_row(kit: Kit) -> bytes:
    """Predictor rows of 65535 columns × 65535 colours × 4 bits (2.1 GB a row)."""
    base = _Base(kit.sealed)
    data = zlib.compress(bytes(16 * MB), 9) + os.urandom(70_000)
    params = {"Predictor": 12, "Columns": 65535, "Colors": 65535, "BitsPerComponent": 4}
    return _xref_stream_revision(kit.sealed, {
        "Size": base.next + 1, "W": [1, 4, 2], "Index": [base.next, 1],
        "Filter": Name("FlateDecode"), "DecodeParms": params,
    }, data)


def png_rows(kind: int, rows: int) -> Callable[[Kit], bytes]:
    """An xref stream of ``rows`` entries, every predictor row of type ``kind``."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        rng = random.Random(kind)
        raw = b"".join(bytes([kind]) + rng.randbytes(7) for _ in range(rows))
        return _xref_stream_revision(kit.sealed, {
            "Size": base.next + 1 + rows, "W": [1, 4, 2], "Index": [base.next + 1, rows],
            "Filter": Name("FlateDecode"),
            "DecodeParms": {"Predictor": 12, "Columns": 7},
        }, zlib.compress(raw, 6))
    return build


def overlapping_streams(kit: Kit) -> bytes:
    """A fake seal, and 300 stream objects whose data overlap over 8 MB."""
    base = _Base(kit.sealed)
    n = base.next
    objects = _fake_seal_objects(base, n, [0, 1, 2, 3], b"\x30\x00")
    count = 300
    heads = [b"%d 0 obj\n<</Length 0000000000>>\nstream\n" % (n + 2 + i) for i in range(count)]
    payload = os.urandom(8 * MB)
    out = bytearray(kit.sealed)
    rows = []
    for num, body in objects:
        rows.append(b"%d 1\n%010d 00000 n\r\n" % (num, len(out)))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    starts = []
    for head in heads:
        starts.append(len(out))
        out += head
    data_end = len(out) + len(payload)
    for i, start in enumerate(starts):
        head = heads[i]
        after_head = start + len(head)
        length = data_end - after_head
        out[start:after_head] = head.replace(b"0000000000", b"%010d" % length)
        rows.append(b"%d 1\n%010d 00000 n\r\n" % (n + 2 + i, start))
    out += payload + b"\nendstream\nendobj\n"
    xref = len(out)
    out += b"xref\n" + b"".join(rows) + b"trailer\n"
    out += serialize({"Size": n + 2 + count, "Root": base.root, "Prev": base.prev})
    out += b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def length_chain(depth: int) -> Callable[[Kit], bytes]:
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        objects = [(n + i, serialize({"Length": Ref(n + i + 1)})[:-2]
                    + b">>\nstream\nx\nendstream") for i in range(depth)]
        objects.append((n + depth, b"1"))
        objects.append((base.page_ref.num, serialize({**base.page, "Annots": Ref(n)})))
        return _revision(kit.sealed, objects, base.root, base.prev, n + depth + 1)
    return build


def long_integer(kit: Kit) -> bytes:
    base = _Base(kit.sealed)
    body = serialize(base.catalog)[:-2] + b" /X " + b"7" * 5000 + b">>"
    return _revision(kit.sealed, [(base.root.num, body)], base.root, base.prev, base.next)


def escapes(kit: Kit) -> bytes:
    """A 10 MB string of escapes, in a revision after the seal."""
    base = _Base(kit.sealed)
    body = b"(" + b"\\n" * (5 * MB) + b")"
    return _revision(kit.sealed, [(base.next, body)], base.root, base.prev, base.next + 1)


def tiny_objects(count: int) -> Callable[[Kit], bytes]:
    def build(kit: Kit) -> bytes:
        return _original([b"[%d 0 R]" % (i + 2) for i in range(count)])
    return build


def compressed_objects(count: int) -> Callable[[Kit], bytes]:
    """``count`` tiny objects in object streams of 100, listed by an xref stream."""
    def build(kit: Kit) -> bytes:
        out = bytearray(b"%PDF-1.7\n")
        offsets: dict[int, tuple[int, int, int]] = {}
        offsets[1] = (1, len(out), 0)
        out += b"1 0 obj\n<</Type /Catalog /Pages 2 0 R>>\nendobj\n"
        offsets[2] = (1, len(out), 0)
        out += b"2 0 obj\n<</Type /Pages /Kids [] /Count 0>>\nendobj\n"
        first = 3 + (count + 99) // 100
        num = first
        for holder in range(3, first):
            members = list(range(num, min(num + 100, first + count)))
            num += len(members)
            head, body, pos = [], b"", 0
            for i, m in enumerate(members):
                head.append(b"%d %d" % (m, pos))
                item = b"[%d 0 R] " % (m - 1)
                body += item
                pos += len(item)
                offsets[m] = (2, holder, i)
            head_bytes = b" ".join(head) + b" "
            stream = Stream({"Type": Name("ObjStm"), "N": len(members), "First": len(head_bytes),
                             "Filter": Name("FlateDecode")}, zlib.compress(head_bytes + body))
            offsets[holder] = (1, len(out), 0)
            out += b"%d 0 obj\n" % holder + serialize(stream) + b"\nendobj\n"
        size = first + count + 1
        offsets[size - 1] = (1, len(out), 0)
        rows = b"".join(
            bytes([offsets[i][0]]) + offsets[i][1].to_bytes(4, "big")
            + offsets[i][2].to_bytes(2, "big") if i in offsets else bytes(7)
            for i in range(size)
        )
        xref = Stream({"Type": Name("XRef"), "Size": size, "W": [1, 4, 2],
                       "Root": Ref(1), "Filter": Name("FlateDecode")}, zlib.compress(rows))
        at = offsets[size - 1][1]
        out += b"%d 0 obj\n" % (size - 1) + serialize(xref) + b"\nendobj\n"
        out += b"startxref\n%d\n%%%%EOF\n" % at
        return bytes(out)
    return build


def strings(size: int) -> Callable[[Kit], bytes]:
    """Objects made of small strings and names (each one parsed), up to ``size`` bytes."""
    def build(kit: Kit) -> bytes:
        body = b"<</T (a) /V (b) /A [(c) (d) (e) (f) /G /H 1 2 3 4]>>"
        return _original([body] * (size // (len(body) + 40)))
    return build


def nesting(kit: Kit) -> bytes:
    base = _Base(kit.sealed)
    body = serialize(base.catalog)[:-2] + b" /X " + b"[" * 100_000 + b"]" * 100_000 + b">>"
    return _revision(kit.sealed, [(base.root.num, body)], base.root, base.prev, base.next)


def bomb(kit: Kit) -> bytes:
    base = _Base(kit.sealed)
    z = zlib.compressobj(9)
    data = z.compress(bytes(256 * MB)) * 4 + z.flush()  # inflates to 1 GB, then fails
    stream = Stream({"Type": Name("ObjStm"), "N": 1, "First": 4,
                     "Filter": Name("FlateDecode")}, data)
    n = base.next
    pdf = _revision(kit.sealed, [(n, serialize(stream)),
                                 (base.root.num, serialize({**base.catalog, "X": Ref(n + 1)}))],
                    base.root, base.prev, n + 2)
    rows = b"\x02" + n.to_bytes(4, "big") + b"\x00\x00"
    return _xref_stream_revision(pdf, {"Size": n + 3, "W": [1, 4, 2], "Index": [n + 1, 1]},
                                 rows)


def signatures(count: int) -> Callable[[Kit], bytes]:
    """``count`` copies of the genuine seal signature in new signature dictionaries."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        assert base.signature is not None
        contents = base.signature["Contents"]
        br = base.signature["ByteRange"]
        objects = []
        n = base.next
        for _ in range(count):
            objects += _fake_seal_objects(base, n, list(br), contents)
            n += 2
        return _revision(kit.sealed, objects, base.root, base.prev, n)
    return build


def large_sealed(size: int) -> Callable[[Kit], bytes]:
    """The sample with an incompressible image of ``size`` bytes on its last page, sealed."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.plain)
        image = Stream({"Type": Name("XObject"), "Subtype": Name("Image"), "Width": 1024,
                        "Height": size // 3072, "ColorSpace": Name("DeviceRGB"),
                        "BitsPerComponent": 8}, random.Random(7).randbytes(size))
        resources = {"XObject": {"Big": Ref(base.next)}}
        page = {**base.page, "Resources": {**_resources(kit.plain), **resources}}
        prepared = _revision(kit.plain, [(base.next, serialize(image)),
                                         (base.page_ref.num, serialize(page))],
                             base.root, base.prev, base.next + 1)
        return kit.stamp(prepared)
    return build


def _resources(pdf: bytes) -> dict[str, object]:
    view = PdfFile(pdf).view()
    _, _, inherited = view.page(view.page_count() - 1)
    return dict(view.resolve_dict(inherited.get("Resources")))


def hashes(size: int, count: int) -> Callable[[Kit], bytes]:
    """A large sealed file and ``count`` more genuine seals, each hashing the whole file
    (what the hashing bound allows)."""
    def build(kit: Kit) -> bytes:
        pdf = large_sealed(size)(kit)
        for i in range(count):
            pdf = kit.stamp(pdf, page=1 + i % 2, x_mm=15 + 50 * (i // 2), y_mm=20)
        return pdf
    return build



# ------------------------------------------------- walks and budget escapes (d1–d7)


def shared_kids_scan(leaves: int, kids: int) -> Callable[[Kit], bytes]:
    """d1: after the seal, ``leaves`` page-like leaves (no ``/Type``) under one parent whose
    ``/Kids`` is a shared array of ``kids`` references; a later revision changes every leaf,
    so deciding whether each is a page scans the parent's ``/Kids`` (was leaves × kids)."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        parent, array_num, first = n, n + 1, n + 2
        objects = [(parent, b"<</Kids %d 0 R /Count 0>>" % array_num),
                   (array_num, b"[" + b"%d 0 R " % base.root.num * kids + b"]")]
        objects += [(first + i, b"<</Parent %d 0 R /X 1>>" % parent) for i in range(leaves)]
        size = first + leaves
        pdf = _revision(kit.sealed, objects, base.root, base.prev, size)
        changed = [(first + i, b"<</Parent %d 0 R /X 2>>" % parent) for i in range(leaves)]
        return _revision(pdf, changed, base.root, _startxref(pdf), size)
    return build


def _fake_seal_revision(kit: Kit, extra: Callable[[_Base, int], tuple[list[tuple[int, bytes]],
                                                                       list[Ref], int]]) -> bytes:
    """A revision after the seal holding a fake seal whose byte range covers exactly that
    revision (so the verifier reads the revision's form), and what ``extra`` adds: (objects,
    references appended to the form's ``/Fields``, the next free number)."""
    base = _Base(kit.sealed)
    view = PdfFile(kit.sealed).view()
    form_ref = view.catalog()[1]["AcroForm"]
    form = dict(view.resolve(form_ref))
    n = base.next
    objects = _fake_seal_objects(base, n, None, b"\x30\x03\x02\x01\x00")
    more, fields, size = extra(base, n + 2)
    objects += more
    form["Fields"] = [*form["Fields"], Ref(n), *fields]
    objects.append((form_ref.num, serialize(form)))
    objects.append((base.page_ref.num,
                    serialize({**base.page, "Annots": [*base.annots, Ref(n)]})))
    at = len(kit.sealed)
    return _point_at_revision(_revision(kit.sealed, objects, base.root, base.prev, size), at)


def shared_field_kids(count: int) -> Callable[[Kit], bytes]:
    """d2: ``count`` named form fields whose ``/Kids`` are all one shared array listing all
    of them (and a DAG: each field reachable from every other): every visit used to push the
    whole array (count² entries on the walk's stack)."""
    def extra(base: _Base, n: int) -> tuple[list[tuple[int, bytes]], list[Ref], int]:
        array_num = n + count
        nodes = [(n + i, b"<</T (f%d) /Kids %d 0 R>>" % (i, array_num)) for i in range(count)]
        nodes.append((array_num, b"[" + b"".join(b"%d 0 R " % (n + i) for i in range(count))
                      + b"]"))
        return nodes, [Ref(n)], array_num + 1
    return lambda kit: _fake_seal_revision(kit, extra)


def names_tree_fanout(levels: int, fanout: int) -> Callable[[Kit], bytes]:
    """d3: an ``/EmbeddedFiles`` name tree of ``levels`` levels whose nodes each list the next
    level's one node ``fanout`` times (``fanout ** levels`` visits without a seen-set)."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        objects = [(n + i, b"<</Kids [" + b"%d 0 R " % (n + i + 1) * fanout + b"]>>")
                   for i in range(levels)]
        objects.append((n + levels, b"<</Names [(a.txt) null]>>"))
        names = n + levels + 1
        objects.append((names, b"<</EmbeddedFiles %d 0 R>>" % n))
        objects.append((base.root.num, serialize({**base.catalog, "Names": Ref(names)})))
        return _revision(kit.sealed, objects, base.root, base.prev, names + 1)
    return build


def big_reference_array(size: int) -> Callable[[Kit], bytes]:
    """d4: one object, an array of ``size`` bytes of references then a string (so that it is
    parsed, not only scanned): the run of references used to be built whole (hundreds of MB)
    before its tokens were counted."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        body = b"[" + b"1 0 R " * (size // 6) + b"(x)]"
        return _revision(kit.sealed, [(base.next, body)], base.root, base.prev, base.next + 1)
    return build


def big_flat_array(size: int) -> Callable[[Kit], bytes]:
    """d4: one object, an array of ``size`` bytes of small numbers and a string: its tokens
    used to be counted only once the whole array was parsed."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        body = b"[(x) " + b"0 " * (size // 2) + b"]"
        return _revision(kit.sealed, [(base.next, body)], base.root, base.prev, base.next + 1)
    return build


def big_object_sections(size: int, sections: int) -> Callable[[Kit], bytes]:
    """d4b: one plain object of ``size`` bytes, then ``sections`` revisions each listing it
    again (same offset): it used to be scanned once per section, charged as one object."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        body = b"[" + b"0 " * (size // 2) + b"]"
        pdf = _revision(kit.sealed, [(n, body)], base.root, base.prev, n + 1)
        at = pdf.index(b"%d 0 obj\n" % n, len(kit.sealed))
        for _ in range(sections):
            prev = _startxref(pdf)
            out = bytearray(pdf)
            xref = len(out)
            out += b"xref\n%d 1\n%010d 00000 n\r\ntrailer\n" % (n, at)
            out += serialize({"Size": n + 1, "Root": base.root, "Prev": prev})
            out += b"\nstartxref\n%d\n%%%%EOF\n" % xref
            pdf = bytes(out)
        return pdf
    return build


def big_string_sections(size: int, sections: int) -> Callable[[Kit], bytes]:
    """d4b: one object holding a string of ``size`` bytes (one token), listed again by
    ``sections`` revisions: each section's scan used to copy the string again, charged as
    one token."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        body = b"<</FT /Sig /X (" + b"a" * size + b")>>"
        pdf = _revision(kit.sealed, [(n, body)], base.root, base.prev, n + 1)
        at = pdf.index(b"%d 0 obj\n" % n, len(kit.sealed))
        for _ in range(sections):
            prev = _startxref(pdf)
            out = bytearray(pdf)
            xref = len(out)
            out += b"xref\n%d 1\n%010d 00000 n\r\ntrailer\n" % (n, at)
            out += serialize({"Size": n + 1, "Root": base.root, "Prev": prev})
            out += b"\nstartxref\n%d\n%%%%EOF\n" % xref
            pdf = bytes(out)
        return pdf
    return build


def nested_parentheses(size: int) -> Callable[[Kit], bytes]:
    """d6: a literal string of ``size`` bytes of balanced parentheses, nested ``size // 2``
    deep, in a revision after the seal."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        body = b"(" * (size // 2) + b")" * (size // 2)
        return _revision(kit.sealed, [(base.next, body)], base.root, base.prev, base.next + 1)
    return build


def nested_containers(count: int) -> Callable[[Kit], bytes]:
    """d6: ``count`` objects each nested as deep as allowed (63 levels of arrays and
    dictionaries, a string inside so that each is parsed)."""
    def build(kit: Kit) -> bytes:
        body = b"<</A " * 31 + b"[" * 32 + b"(x)" + b"]" * 32 + b">>" * 31
        return _original([body] * count)
    return build


def signature_repr(size: int, fields: int) -> Callable[[Kit], bytes]:
    """d7: a signature dictionary with a ``/Contents`` of ``size`` bytes and ``fields``
    signature fields naming it: every field used to format the whole dictionary
    (``repr``) to tell signatures apart."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        sig = (b"<</Type /Sig /SubFilter /" + b"S" * 64 + b" /ByteRange [0 1 2 3] /Contents <"
               + b"30" * (size // 2) + b">>>")
        objects = [(n, sig)]
        objects += [(n + 1 + i, b"<</FT /Sig /V %d 0 R>>" % n) for i in range(fields)]
        return _revision(kit.sealed, objects, base.root, base.prev, n + 1 + fields)
    return build


def field_in_its_own_kids(title: int) -> Callable[[Kit], bytes]:
    """d8: a form field whose ``/Kids`` array lists one direct named field whose ``/Kids`` is
    that array again (only indirect nodes are met once): each level's full name is the last
    one and ``title`` more characters, built unpaid (quadratic: 400 bytes took > 3 GB)."""
    def extra(base: _Base, n: int) -> tuple[list[tuple[int, bytes]], list[Ref], int]:
        kid = b"<</T (" + b"a" * title + b") /Kids %d 0 R>>" % (n + 1)
        nodes = [(n, b"<</T (top) /Kids %d 0 R>>" % (n + 1)), (n + 1, b"[" + kid + b"]")]
        return nodes, [Ref(n)], n + 2
    return lambda kit: _fake_seal_revision(kit, extra)


def names_tree_of_one_string(size: int, levels: int) -> Callable[[Kit], bytes]:
    """d9: an ``/EmbeddedFiles`` tree of ``levels`` levels, each an array of two direct nodes
    whose ``/Kids`` is the next level's, every node naming one ``size``-byte string: 2 **
    ``levels`` visits decoded it unpaid (4 MB took 50 s)."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        string, first = n, n + 1
        objects = [(string, b"(" + b"a" * size + b")")]
        for i in range(levels):
            kids = b" /Kids %d 0 R" % (first + i + 1) if i < levels - 1 else b""
            node = b"<</Names [%d 0 R null]" % string + kids + b">>"
            objects.append((first + i, b"[" + node + b" " + node + b"]"))
        names = first + levels
        objects.append((names, b"<</EmbeddedFiles <</Kids %d 0 R>> >>" % first))
        objects.append((base.root.num, serialize({**base.catalog, "Names": Ref(names)})))
        return _revision(kit.sealed, objects, base.root, base.prev, names + 1)
    return build


def widgets_of_one_long_name(title: int, widgets: int) -> Callable[[Kit], bytes]:
    """d10: ``widgets`` direct widgets without a ``/T`` under one signature field whose ``/T``
    is ``title`` bytes: looking for signature fields decoded it once per widget, unpaid
    (8 MB and 25 000 widgets took 55 s)."""
    def build(kit: Kit) -> bytes:
        base = _Base(kit.sealed)
        n = base.next
        objects = [(n, b"<</FT /Sig /V <</Type /Sig>> /T (" + b"a" * title + b")>>"),
                   (n + 1, b"[" + b"<</Subtype /Widget /Parent %d 0 R>>" % n * widgets + b"]")]
        return _revision(kit.sealed, objects, base.root, base.prev, n + 2)
    return build


SHAPES: tuple[Shape, ...] = (
    Shape("xref_subsections_1.8MB", "65 000 one-entry subsections (was ~100 s)",
          xref_subsections(int(1.8 * MB)), frozenset({"invalid"})),
    Shape("xref_subsections_20MB", "740 000 one-entry subsections (was hours)",
          xref_subsections(20 * MB), frozenset({"pdf_hostile"})),
    Shape("revisions_500", "500 revisions, each a fake seal in the form (was 60-90 s)",
          fake_seals(500, in_form=True), frozenset({"pdf_hostile"})),
    Shape("revisions_500_unchanged", "500 revisions rewriting the catalog unchanged",
          revisions(500), frozenset({"invalid"})),
    Shape("fake_seals_60", "60 revisions, each a fake seal only in the page /Annots",
          fake_seals(60, in_form=False), frozenset({"invalid"})),
    Shape("png_row_2GB", "predictor rows of 2.1 GB each (was 2.1 GB)", png_huge_row,
          frozenset({"pdf_malformed"})),
    Shape("png_paeth_rows", "300 000 Paeth rows (a Python loop per byte)",
          png_rows(4, 300_000), frozenset({"pdf_hostile"})),
    Shape("png_up_rows", "390 000 Up rows (the fast path)", png_rows(2, 390_000),
          frozenset({"invalid", "pdf_malformed"})),
    Shape("overlapping_streams", "300 streams overlapping over 8 MB (was 2.4 GB)",
          overlapping_streams, frozenset({"invalid", "pdf_hostile"})),
    Shape("length_chain", "a /Length chain 3 000 deep", length_chain(3000),
          frozenset({"pdf_malformed"})),
    Shape("integer_5000_digits", "a 5 000-digit integer", long_integer,
          frozenset({"pdf_malformed"})),
    Shape("escapes_10MB", "a 10 MB string of escapes", escapes,
          frozenset({"pdf_hostile"})),
    Shape("tiny_objects_20MB", "390 000 tiny objects", tiny_objects(390_000),
          frozenset({"pdf_hostile"})),
    Shape("tiny_objects_2MB", "70 000 tiny objects (read to the end)", tiny_objects(70_000),
          frozenset({"invalid"})),
    Shape("compressed_objects", "390 000 tiny objects in object streams",
          compressed_objects(390_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("strings_20MB", "20 MB of small strings (all parsed)", strings(20 * MB),
          frozenset({"pdf_hostile"})),
    Shape("nesting", "arrays 100 000 deep", nesting, frozenset({"pdf_hostile"})),
    Shape("bomb_1GB", "an object stream inflating to 1 GB or more", bomb,
          frozenset({"pdf_hostile"})),
    Shape("signatures_60", "60 copies of a genuine signature", signatures(60),
          frozenset({"invalid"})),
    Shape("sealed_20MB", "a genuine 20 MB sealed file", large_sealed(20 * MB - 100_000),
          frozenset({"valid"})),
    Shape("seals_6x20MB", "a 20 MB file with 6 genuine seals (6 hashes of 20 MB)",
          hashes(20 * MB - 400_000, 5), frozenset({"valid"})),
    Shape("d1_shared_kids_scan", "2 000 changed leaves under a parent of 300 000 kids",
          shared_kids_scan(2_000, 300_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("d2_shared_field_kids", "6 000 fields sharing one /Kids array of all of them",
          shared_field_kids(6_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("d3_names_tree_fanout", "an /EmbeddedFiles tree, 16 levels of 4 shared kids",
          names_tree_fanout(16, 4), frozenset({"invalid", "pdf_hostile"})),
    Shape("d4_big_reference_array", "one array of 19 MB of references (3.3 million)",
          big_reference_array(19 * MB), frozenset({"invalid", "pdf_hostile"})),
    Shape("d4_big_flat_array", "one array of 19 MB of numbers (9.5 million)",
          big_flat_array(19 * MB), frozenset({"invalid", "pdf_hostile"})),
    Shape("d4b_big_object_sections", "a plain 4 MB array listed by 400 sections",
          big_object_sections(4 * MB, 400), frozenset({"invalid", "pdf_hostile"})),
    Shape("d4b_big_string_sections", "a 12 MB string listed by 400 sections",
          big_string_sections(12 * MB, 400), frozenset({"invalid", "pdf_hostile"})),
    Shape("d6_nested_parentheses", "a string of parentheses nested 9.5 million deep",
          nested_parentheses(19 * MB), frozenset({"invalid", "pdf_hostile"})),
    Shape("d6_nested_containers", "60 000 objects nested 63 levels deep",
          nested_containers(60_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("d7_signature_repr", "3 000 fields naming one signature of 12 MB",
          signature_repr(12 * MB, 3_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("d8_field_in_its_own_kids", "a direct field in its own /Kids, a 1 000-byte /T",
          field_in_its_own_kids(1_000), frozenset({"invalid", "pdf_hostile"})),
    Shape("d9_names_tree_of_one_string", "an /EmbeddedFiles tree of 2^16 direct nodes naming "
          "one 16 MB string", names_tree_of_one_string(16 * MB, 16),
          frozenset({"invalid", "pdf_hostile"})),
    Shape("d10_widgets_of_one_long_name", "25 000 widgets under a field of an 8 MB /T",
          widgets_of_one_long_name(8 * MB, 25_000), frozenset({"invalid", "pdf_hostile"})),
)


# ----------------------------------------------------------------------- measuring

_CHILD = r"""
import json, os, resource, sys, time, tracemalloc
import verifier.checks.pdf_checks as checks
with open(sys.argv[1], "rb") as f:
    data = f.read(os.fstat(f.fileno()).st_size)  # one allocation of the file's size
trace = sys.argv[2] == "trace"
if trace:
    tracemalloc.start()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
try:
    verdict = checks.verify_pdf_full(data, None, anchors=[])
    outcome = verdict.outcome.value
    first = verdict.checks[0]
    if first.name == "pdf.structure" and first.status.value == "INVALID":
        outcome = str(first.data.get("error", outcome))
except Exception as exc:
    outcome = "EXCEPTION " + type(exc).__name__ + ": " + str(exc)[:200]
cpu = time.process_time() - start
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
print(json.dumps({"cpu": cpu, "peak_mb": max(peak, traced), "rss_mb": peak,
                  "outcome": outcome}))
"""


def measure(
    path: Path, *, trace: bool = False, pythonpath: str | None = None, timeout: float = 120,
    memory_limit: int = 4 << 30,
) -> dict[str, object]:
    """Verify ``path`` as the API does (``verify_pdf_full``, no chain) in a fresh child:
    ``cpu`` seconds, ``peak_mb`` above the child's base (growth of ``ru_maxrss``; with
    ``trace``, the larger of that and tracemalloc's peak, since freed import-time memory is
    reused without growing the RSS — the CPU time is then slower), ``outcome`` (``valid``,
    ``invalid``, an error code, ``EXCEPTION …``, ``TIMEOUT``, ``CRASH …``). ``pythonpath``:
    verify with another checkout's code (to measure the code before a change); the child
    may use at most ``memory_limit`` bytes of address space."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path), "trace" if trace else "time"], env=env,
            cwd=pythonpath or path.parent,  # `-c` puts the working directory first on the path
            capture_output=True,
            text=True, timeout=timeout, preexec_fn=limit, check=False,
        )
    except subprocess.TimeoutExpired:
        return {"cpu": float(timeout), "peak_mb": float("nan"), "rss_mb": float("nan"),
                "outcome": "TIMEOUT"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"cpu": float("nan"), "peak_mb": float("nan"), "rss_mb": float("nan"),
                "outcome": f"CRASH {tail[:200]}"}
    result: dict[str, object] = json.loads(lines[-1])
    return result
