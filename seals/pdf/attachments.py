"""Embedded files of a PDF (``/Names /EmbeddedFiles``), read with the bounded reader.

A rendered certificate PDF carries its certificate document as ``certificate.json``, so a
verifier can run the full certificate check from the PDF alone.
"""

from __future__ import annotations

from seals.pdf.errors import PdfMalformed
from seals.pdf.kids import TEXT_PER_UNIT, KidsWalk
from seals.pdf.reader import DEFAULT_LIMITS, PdfFile, PdfLimits, View
from seals.pdf.syntax import PdfObject, Stream, decode_text

MAX_FILES = 64
MAX_DEPTH = 16


def embedded_files(
    data: bytes, *, limits: PdfLimits = DEFAULT_LIMITS, file: PdfFile | None = None
) -> dict[str, bytes]:
    """Name → decoded bytes of every embedded file of the last revision (bounded). ``file``:
    the same bytes as already read (by :func:`seals.pdf.verify.verify_pdf`), whose work
    budget this walk then shares: a file is paid for once, not once per reading."""
    if file is None:
        file = PdfFile(data, limits)
    view = file.view()
    _, catalog = view.catalog()
    names = view.resolve_dict(catalog.get("Names")) if "Names" in catalog else {}
    tree = names.get("EmbeddedFiles")
    if tree is None:
        return {}
    return _walk(view, file, tree)


def _walk(view: View, file: PdfFile, root: PdfObject) -> dict[str, bytes]:
    """The name tree from ``root``, depth first in order (:class:`KidsWalk`: each node once,
    at most ``max_nodes`` nodes), at most :data:`MAX_DEPTH` levels and :data:`MAX_FILES`
    files, every kid and name looked at (and every name's length) paid for from the
    budget."""
    out: dict[str, bytes] = {}
    walk: KidsWalk[None] = KidsWalk(
        [root], None, max_nodes=file.limits.max_nodes, what="embedded-file tree nodes"
    )
    for ref, depth, _ in walk:
        if depth > MAX_DEPTH or len(out) >= MAX_FILES:
            raise PdfMalformed("the embedded-file tree is too deep or too large")
        node = view.resolve_dict(ref)
        pairs = view.resolve(node.get("Names", []))
        if isinstance(pairs, list):
            file.budget.spend(len(pairs) + 1)
            for i in range(0, len(pairs) - 1, 2):
                name = decode_text(view.resolve(pairs[i]))
                file.budget.spend(len(name) // TEXT_PER_UNIT)  # a shared string at every node
                spec = view.resolve(pairs[i + 1])
                if not isinstance(spec, dict):
                    continue
                ef = view.resolve(spec.get("EF"))
                stream = view.resolve(ef.get("F")) if isinstance(ef, dict) else None
                if isinstance(stream, Stream):
                    if len(out) >= MAX_FILES:  # in one node as across nodes
                        raise PdfMalformed("the embedded-file tree is too deep or too large")
                    out[name] = file.decode(stream)
        kids = view.resolve(node.get("Kids", []))
        if isinstance(kids, list):
            file.budget.spend(len(kids) + 1)
            walk.descend(kids, None)
    return out
