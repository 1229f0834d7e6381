"""Editing objects of a PDF in an incremental update byte for byte: a dictionary with some
values replaced or removed, an array with one reference appended. What the stamper does not
change keeps exactly the bytes, and so the meaning, it had (no value is parsed and written
back).
"""

from __future__ import annotations

from seals.pdf.reader import View
from seals.pdf.syntax import Parser, PdfObject, Ref, serialize, skip_ws, write_name


def edit_dict(
    view: View, buf: bytes, pos: int, put: dict[str, bytes], drop: tuple[str, ...] = ()
) -> bytes:
    """The dictionary written at ``buf[pos:]``, byte for byte, with the values of ``put``
    replaced (or added before ``>>``) and the keys ``drop`` removed: what the stamper does
    not change keeps exactly the bytes, and so the meaning, it had (no value is parsed and
    written back)."""
    parser = Parser(buf, max_depth=view.file.limits.max_depth, budget=view.file.budget)
    start, end, spans = parser.dict_spans(pos)
    edits: list[tuple[int, int, bytes]] = []
    for key in drop:
        if key in spans:
            edits.append((spans[key][0], spans[key][2], b""))
    tail = b""
    for key, value in put.items():
        if key in spans:
            edits.append((spans[key][1], spans[key][2], b" " + value))
        else:
            tail += b" " + write_name(key) + b" " + value
    out = bytearray()
    at = start
    for a, b, text in sorted(edits):
        out += buf[at:a] + text
        at = b
    out += buf[at : end - 2] + tail + b">>"
    return bytes(out)


def source_of(view: View, value: PdfObject) -> tuple[bytes, int] | None:
    """Where the value ``value`` names is written: (bytes, position) of the object at the
    end of its chain of references; None for a direct value."""
    num = None
    for _ in range(32):
        if not isinstance(value, Ref):
            break
        num = value.num
        value = view.get(value.num, value.gen)
    return view.source(num) if num is not None else None


def appended_array(view: View, buf: bytes, span: tuple[int, int, int] | None,
                    extra: Ref) -> bytes:
    """The array a key's value is (directly, or through references), byte for byte, with
    ``extra`` appended; ``[extra]`` when it is no array."""
    if span is None:
        return serialize([extra])
    _, value_start, _ = span
    parser = Parser(buf, max_depth=view.file.limits.max_depth, budget=view.file.budget)
    value, _ = parser.value(value_start)
    where: tuple[bytes, int] | None = (buf, value_start)
    if isinstance(value, Ref):
        where = source_of(view, value)
        value = view.resolve(value)
    if not isinstance(value, list) or where is None:
        return serialize([extra])
    src, at = where
    parser = Parser(src, max_depth=view.file.limits.max_depth, budget=view.file.budget)
    _, end = parser.value(at)
    start = skip_ws(src, at)
    assert src[end - 1 : end] == b"]"
    return src[start : end - 1] + b" " + serialize(extra) + b"]"


def spans_of(view: View, buf: bytes, pos: int) -> dict[str, tuple[int, int, int]]:
    parser = Parser(buf, max_depth=view.file.limits.max_depth, budget=view.file.budget)
    return parser.dict_spans(pos)[2]
