"""Writing an incremental update (ISO 32000-1 §7.5.6): new and changed objects, a
cross-reference section and a trailer with ``/Prev``, appended after the original bytes,
which stay an exact prefix of the result.

The section matches the file: a cross-reference stream (uncompressed) after a file whose
newest section is a stream, a classic table otherwise. An object that is rewritten keeps its
generation (in its header and in its cross-reference row): a page or form of generation 1
rewritten as generation 0 would vanish for viewers, whose references still say 1. ``/Size``
is one more than the highest object number any section lists, whatever the old trailer
claimed. This module knows nothing of signing.
"""

from __future__ import annotations

from collections.abc import Mapping

from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, PdfObject, serialize


def _runs(nums: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in nums:
        if runs and runs[-1][0] + runs[-1][1] == n:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((n, 1))
    return runs


def write_incremental(
    file: PdfFile, objects: Mapping[int, bytes]
) -> tuple[bytearray, dict[int, int]]:
    """Append ``objects`` (object number -> serialized value) to ``file``: an object in use
    keeps its generation, a new one gets generation 0.

    Returns the whole new file and where each object starts (``N G obj``) in it.
    """
    original = file.data
    view = file.view()
    out = bytearray(original)
    if not original.endswith((b"\n", b"\r")):
        out += b"\n"
    offsets: dict[int, int] = {}
    gens: dict[int, int] = {}
    for num in sorted(objects):
        entry = view.entry(num)
        gens[num] = entry.gen if entry is not None and entry.kind in (1, 2) else 0
        offsets[num] = len(out)
        out += b"%d %d obj\n" % (num, gens[num])
        out += objects[num]
        out += b"\nendobj\n"
    size = max(file.highest_number(), max(objects, default=0)) + 1
    trailer: dict[str, PdfObject] = {}
    for key in ("Root", "Info", "ID"):
        if key in view.trailer:
            trailer[key] = view.trailer[key]
    trailer["Prev"] = file.startxref
    if file.sections[0].kind == "stream":
        xref_num = size
        size += 1
        offsets[xref_num] = len(out)
        nums = sorted(offsets)
        rows = b"".join(
            b"\x01" + offsets[n].to_bytes(4, "big") + gens.get(n, 0).to_bytes(2, "big")
            for n in nums
        )
        head: dict[str, PdfObject] = {
            "Type": Name("XRef"),
            "Size": size,
            "W": [1, 4, 2],
            "Index": [v for run in _runs(nums) for v in run],
            **trailer,
            "Length": len(rows),
        }
        out += b"%d 0 obj\n" % xref_num + serialize(head) + b"\nstream\n" + rows
        out += b"\nendstream\nendobj\n"
    else:
        xref_at = len(out)
        out += b"xref\n"
        for first, count in _runs(sorted(offsets)):
            out += b"%d %d\n" % (first, count)
            for n in range(first, first + count):
                out += b"%010d %05d n\r\n" % (offsets[n], gens[n])
        out += b"trailer\n" + serialize({"Size": size, **trailer}) + b"\n"
    start = offsets[xref_num] if file.sections[0].kind == "stream" else xref_at
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return out, offsets
