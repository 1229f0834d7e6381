"""The reader's two ways of checking an object agree: a *plain* object checked by regular
expressions (its references read off its bytes) gives what the parser gives; what the fast
path is unsure of goes to the parser, which refuses what is broken."""

from __future__ import annotations

import hostile_shapes
import pytest
from pdf_testlib import PLAIN, append_revision, xref_stream_copy

from seals.errors import SealError
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import serialize


def references(pdf: bytes, fast: bool) -> list[list[int]]:
    file = PdfFile(pdf)
    for _ in file.objects(fast=fast):
        pass
    return [list(r) for r in file.references]


@pytest.mark.parametrize("which", ["plain", "sealed", "xref_stream", "tiny", "compressed"])
def test_plain_objects_give_the_parsers_references(
    which: str, sealed: bytes, sealed_xref_stream: bytes
) -> None:
    kit = hostile_shapes.Kit(PLAIN, sealed, lambda pdf, **kw: pdf)
    pdf = {
        "plain": PLAIN,
        "sealed": sealed,
        "xref_stream": sealed_xref_stream,
        "tiny": hostile_shapes.tiny_objects(2000)(kit),
        "compressed": hostile_shapes.compressed_objects(2000)(kit),
    }[which]
    assert references(pdf, fast=True) == references(pdf, fast=False)
    fast, full = PdfFile(pdf), PdfFile(pdf)
    parsed = sum(1 for _ in fast.objects())
    assert parsed < sum(1 for _ in full.objects(fast=False))  # the fast path took some
    assert fast.extents == full.extents


@pytest.mark.parametrize(
    "body",
    [b"<< /A [ >> ]", b"[ << ] >>", b"<< /A 1 0 R /B [1 2 >>", b"", b"1 0R", b"<< /A#41 1 >>x"],
)
def test_what_the_fast_path_is_unsure_of_the_parser_refuses(body: bytes) -> None:
    view = PdfFile(PLAIN).view()
    n = view.size
    root, catalog = view.catalog()
    pdf = append_revision(PLAIN, {n: body, root.num: serialize(catalog)})
    with pytest.raises(SealError) as info:
        for _ in PdfFile(pdf).objects():
            pass
    assert info.value.code == "pdf_malformed"


def test_xref_stream_copy_is_read_the_same_both_ways() -> None:
    pdf = xref_stream_copy()
    assert references(pdf, fast=True) == references(pdf, fast=False)
