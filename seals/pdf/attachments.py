"""Embedded files of a PDF (``/Names /EmbeddedFiles``), read with the bounded reader.

A rendered certificate PDF carries its certificate document as ``certificate.json``, so a
verifier can run the full certificate check from the PDF alone.
"""

from __future__ import annotations

from seals.pdf.errors import PdfMalformed
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits, View
from seals.pdf.syntax import PdfObject, Stream, decode_text

MAX_FILES = 64


def embedded_files(data: bytes, *, limits: PdfLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Name → decoded bytes of every embedded file of the last revision (bounded)."""
    file = PdfFile(data, limits)
    view = file.view()
    _, catalog = view.catalog()
    names = view.resolve_dict(catalog.get("Names")) if "Names" in catalog else {}
    tree = names.get("EmbeddedFiles")
    if tree is None:
        return {}
    out: dict[str, bytes] = {}
    _walk(view, file, view.resolve_dict(tree), out, depth=0)
    return out


def _walk(view: View, file: PdfFile, node: dict[str, PdfObject], out: dict[str, bytes],
          depth: int) -> None:
    if depth > 16 or len(out) >= MAX_FILES:
        raise PdfMalformed("the embedded-file tree is too deep or too large")
    pairs = view.resolve(node.get("Names", []))
    if isinstance(pairs, list):
        for i in range(0, len(pairs) - 1, 2):
            name = decode_text(view.resolve(pairs[i]))
            spec = view.resolve(pairs[i + 1])
            if not isinstance(spec, dict):
                continue
            ef = view.resolve(spec.get("EF"))
            stream = view.resolve(ef.get("F")) if isinstance(ef, dict) else None
            if isinstance(stream, Stream):
                out[name] = file.decode(stream)
    kids = view.resolve(node.get("Kids", []))
    if isinstance(kids, list):
        for kid in kids:
            child = view.resolve(kid)
            if isinstance(child, dict):
                _walk(view, file, child, out, depth + 1)
