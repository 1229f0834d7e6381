"""The review of the PDF seal verifier and stamper (findings F1–F7, W1, W2): what the
stamper writes back and what the verifier compares must mean exactly what viewers read.
Each attack is built from real sealed files; renders (poppler, MuPDF) show that it changes
what a viewer shows, so that a "valid" verdict on it would be wrong. Each test failed before
its fix."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pdf_testlib import (
    LATER,
    PLAIN,
    append_revision,
    later_seal_with,
    render,
    stamp,
)
from seals_testlib import Pki

from seals.errors import SealError
from seals.pdf import verify_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, Ref, Stream, serialize
from seals.seal import StepStatus
from seals.ses import Seal


def outcome(data: bytes) -> str:
    """``valid``, ``invalid`` or the code of the error refusing the whole file."""
    try:
        return "valid" if verify_pdf(data).ok else "invalid"
    except SealError as exc:
        return exc.code


def kinds(data: bytes, field: str = "Seal1") -> set[str]:
    """The kinds of problems ``pdf.modifications`` of ``field`` reports (empty: VALID)."""
    report = verify_pdf(data)
    sig = next(s for s in report.signatures if s.field == field)
    step = sig.report().step("pdf.modifications")
    if step.status is StepStatus.VALID:
        return set()
    assert step.status is StepStatus.INVALID, step
    if "kinds" not in step.data:  # the step could not read the file: its error code
        return {step.data["error"]}
    return set(step.data["kinds"])


def refused_or_invalid(data: bytes, *kind: str, field: str = "Seal1") -> None:
    """The file is refused with ``pdf_malformed`` or ``field``'s modifications step names
    one of ``kind``."""
    result = outcome(data)
    if result == "pdf_malformed":
        return
    assert result == "invalid", result
    assert kinds(data, field) & set(kind), kinds(data, field)


def page_ref(pdf: bytes, index: int) -> tuple[Ref, dict[str, Any]]:
    ref, page, _ = PdfFile(pdf).view().page(index)
    return ref, page


def next_number(pdf: bytes) -> int:
    return PdfFile(pdf).highest_number() + 1


def object_bytes(pdf: bytes, num: int) -> bytes:
    """The bytes of the newest definition of object ``num`` (uncompressed), value only."""
    view = PdfFile(pdf).view()
    entry = view.entry(num)
    assert entry is not None and entry.kind == 1
    m = re.compile(rb"\d+ \d+ obj\s*(.*?)\s*endobj", re.S).match(pdf, entry.a)
    assert m is not None
    return m.group(1)


def with_page(pdf: bytes, index: int, body: bytes) -> bytes:
    ref, _ = page_ref(pdf, index)
    return append_revision(pdf, {ref.num: body})


# ---------------------------------------------------- F1: the stamper preserves meaning


def test_stamper_keeps_a_real_where_viewers_need_a_real(pki: Pki, seal: Seal) -> None:
    """``/Rotate 90.0``: poppler ignores a real /Rotate, MuPDF does not. The stamper used to
    write it back as ``/Rotate 90``, and poppler then drew the sealed page rotated."""
    ref, page = page_ref(PLAIN, 2)
    body = serialize({k: v for k, v in page.items() if k != "Rotate"})[:-2]
    body += b" /Rotate 90.0 /UserUnit null /Foo [8.0 -0.50 .25 1.000001]>>"
    original = with_page(PLAIN, 2, body)
    sealed = stamp(original, pki, seal)
    assert outcome(sealed) == "valid"
    written = object_bytes(sealed, ref.num)
    # exactly the original dictionary, with the widget appended as /Annots
    widget = re.search(rb" /Annots \[(\d+) 0 R\]>>\Z", written)
    assert widget is not None, written
    assert written[: widget.start()] + b">>" == body
    assert render(sealed, 3, "poppler").size == render(original, 3, "poppler").size


def test_stamper_refuses_duplicate_keys(pki: Pki, seal: Seal) -> None:
    """``/Contents X … /Contents null``: viewers take the last (a blank page); the stamper
    took the first non-null one and wrote it back, so the sealed page showed text the
    original never showed."""
    _, page = page_ref(PLAIN, 2)
    body = serialize(page)[:-2] + b" /Contents null>>"
    original = with_page(PLAIN, 2, body)
    blank = render(with_page(PLAIN, 2, serialize({**page, "Contents": []})), 3)
    assert render(original, 3).tobytes() == blank.tobytes()  # viewers: the last one wins
    with pytest.raises(SealError) as info:
        stamp(original, pki, seal)
    assert info.value.code in ("pdf_malformed", "pdf_bad_input")
    assert outcome(original) in ("pdf_malformed", "invalid")


def test_stamper_keeps_strings_and_direct_annotations_exactly(pki: Pki, seal: Seal) -> None:
    """A page with a direct annotation in /Annots (reals, strings with escapes): the
    rewritten page keeps every byte of it."""
    ref, page = page_ref(PLAIN, 2)
    annot = (b"<</Type /Annot /Subtype /Square /Rect [100.5 100.25 200.125 200.0] "
             b"/C [1.0 0 0] /Contents (a\\051b\\\\c\r\nd) /F 4 /Border [0 0 2.0]>>")
    body = serialize({k: v for k, v in page.items()})[:-2] + b" /Annots [" + annot + b"]>>"
    original = with_page(PLAIN, 2, body)
    sealed = stamp(original, pki, seal)
    assert outcome(sealed) == "valid"
    assert annot in object_bytes(sealed, ref.num)


# ----------------------------------- F2: what a later revision changes is compared exactly


def later_seal_rewriting(sealed: bytes, pki: Pki, seal: Seal, num: int, body: bytes) -> bytes:
    """A genuine later seal on page 1 whose revision also rewrites object ``num``."""
    with later_seal_with(extra={num: body}):
        return stamp(sealed, pki, seal, page=1, at=LATER)


def test_a_later_revision_with_a_duplicate_key_is_a_change(
    pki: Pki, seal: Seal, sealed: bytes
) -> None:
    """The sealed page rewritten with ``/Contents null`` after its own /Contents: viewers
    read the last one (a blank page); the verifier used to drop the null and see no change."""
    ref, _ = page_ref(sealed, 2)
    body = object_bytes(sealed, ref.num)[:-2] + b" /Contents null>>"
    out = later_seal_rewriting(sealed, pki, seal, ref.num, body)
    assert render(out, 3).tobytes() != render(sealed, 3).tobytes()
    refused_or_invalid(out, "unreadable", "changed", "pdf_malformed")


def test_a_later_revision_writing_an_integer_as_a_real_is_a_change(
    pki: Pki, seal: Seal
) -> None:
    """``/Rotate 90`` rewritten as ``/Rotate 90.0`` (equal as numbers): poppler ignores a
    real /Rotate and draws the page upright."""
    ref, page = page_ref(PLAIN, 2)
    turned = with_page(PLAIN, 2, serialize({**page, "Rotate": 90}))
    sealed = stamp(turned, pki, seal, x_mm=10, y_mm=10, width_mm=20)
    assert outcome(sealed) == "valid"
    body = object_bytes(sealed, ref.num).replace(b"/Rotate 90", b"/Rotate 90.0")
    out = later_seal_rewriting(sealed, pki, seal, ref.num, body)
    assert render(out, 3).size != render(sealed, 3).size  # poppler: upright again
    refused_or_invalid(out, "changed")


def test_a_later_revision_adding_a_null_value_is_a_change(
    pki: Pki, seal: Seal, sealed: bytes
) -> None:
    """A key added with a null value is not "nothing": MuPDF takes an explicit null for
    an inheritable attribute instead of inheriting it."""
    ref, _ = page_ref(sealed, 2)
    body = object_bytes(sealed, ref.num)[:-2] + b" /CropBox null>>"
    out = later_seal_rewriting(sealed, pki, seal, ref.num, body)
    refused_or_invalid(out, "changed")


# ------------------------------- F4: a dangling reference must not start naming the seal


def prepared_with_a_dangling_picture() -> tuple[bytes, int]:
    """Page 1 draws an image XObject whose reference names no object yet (null: nothing
    drawn): the number an older stamper gave the seal's picture."""
    file = PdfFile(PLAIN)
    top = file.highest_number()
    ref, page = page_ref(PLAIN, 0)
    content = top + 1
    dangling = top + 5  # signature, widget, appearance, then the picture
    resources = {**PdfFile(PLAIN).view().resolve(page["Resources"]),
                 "XObject": {"Zimg": Ref(dangling)}}
    prepared = append_revision(PLAIN, {
        content: serialize(Stream({}, b"q 400 0 0 400 100 300 cm /Zimg Do Q")),
        ref.num: serialize({**page, "Contents": [page["Contents"], Ref(content)],
                            "Resources": resources}),
    })
    return prepared, dangling


def test_the_stamper_numbers_new_objects_after_every_referenced_number(
    pki: Pki, seal: Seal
) -> None:
    prepared, dangling = prepared_with_a_dangling_picture()
    sealed = stamp(prepared, pki, seal)
    assert outcome(sealed) == "valid"
    new = PdfFile(sealed).sections[0].entries
    assert all(num > dangling for num in new if num not in (3, 4, 5, 6, 7, 8, 10))
    # page 1 still shows nothing in place of the image (MuPDF fails on a missing XObject)
    assert render(sealed, 1).tobytes() == render(prepared, 1).tobytes()


def test_a_seal_revision_defining_a_referenced_number_is_invalid(
    pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seal made by a stamper that numbered its objects after the listed ones only: its
    picture fills the original's dangling reference, and page 1 now shows it."""
    import seals.pdf.stamp as stamp_module

    prepared, _ = prepared_with_a_dangling_picture()
    monkeypatch.setattr(stamp_module, "_first_number", lambda f: f.highest_number() + 1)
    sealed = stamp(prepared, pki, seal)
    assert render(sealed, 1).tobytes() != render(prepared, 1).tobytes()
    assert outcome(sealed) == "invalid"
    assert "shadow" in kinds(sealed)


# ------------------------------------------- F5: bytes after the last revision's %%EOF


def test_trailing_whitespace_that_makes_viewers_repair_is_not_ignored(
    pki: Pki, seal: Seal
) -> None:
    """A prepared original holds a second page 1 that no cross-reference section lists;
    after sealing, 1 100 spaces after the last %%EOF push 'startxref' out of the last
    1 024 bytes, where MuPDF looks for it: it rebuilds the xref from the bytes and shows
    the hidden page. The verifier used to ignore whitespace of any length there."""
    view = PdfFile(PLAIN).view()
    ref, page = page_ref(PLAIN, 0)
    evil = PdfFile(PLAIN).highest_number() + 40
    hidden = (b"%d 0 obj\n" % ref.num + serialize({**page, "Contents": Ref(evil)})
              + b"\nendobj\n%d 0 obj\n" % evil
              + serialize(Stream({}, b"BT /F1 60 Tf 72 400 Td (PAID) Tj ET")) + b"\nendobj\n")
    root, catalog = view.catalog()
    prepared = append_revision(PLAIN + hidden, {root.num: serialize(catalog)})
    sealed = stamp(prepared, pki, seal)
    assert outcome(sealed) == "valid"
    assert outcome(sealed + b"\r\n") == "valid"  # an end of line or two: nothing to repair
    padded = sealed + b" " * 1100
    assert render(padded, 1, "mupdf").tobytes() != render(sealed, 1, "mupdf").tobytes()
    assert outcome(padded) == "invalid"
    assert kinds(padded) == {"bytes"}


# ---------------------------------------- F6: hybrid files whose two sections disagree


def hybrid(table_kind: bytes) -> bytes:
    """PLAIN with a hybrid revision: its table lists page 1's content stream (object 9)
    at one definition (or as free), its /XRefStm at another."""
    file = PdfFile(PLAIN)
    out = bytearray(PLAIN)
    first = len(out)
    out += b"9 0 obj\n" + serialize(Stream({}, b"BT /F1 60 Tf 72 400 Td (AAAA) Tj ET"))
    out += b"\nendobj\n"
    second = len(out)
    out += b"9 0 obj\n" + serialize(Stream({}, b"BT /F1 60 Tf 72 400 Td (BBBB) Tj ET"))
    out += b"\nendobj\n"
    stm = len(out)
    rows = b"".join(b"\x01" + at.to_bytes(4, "big") + b"\0\0" for at in (second, stm))
    head = {"Type": Name("XRef"), "Size": 21, "W": [1, 4, 2], "Index": [9, 1, 20, 1],
            "Length": len(rows)}
    out += b"20 0 obj\n" + serialize(head) + b"\nstream\n" + rows + b"\nendstream\nendobj\n"
    xref = len(out)
    row = b"%010d 00000 n" % first if table_kind == b"n" else b"0000000000 00000 f"
    out += b"xref\n9 1\n" + row + b"\r\ntrailer\n"
    trailer = {"Size": 21, "Root": file.view().trailer["Root"], "Prev": file.startxref,
               "XRefStm": stm}
    out += serialize(trailer) + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.mark.parametrize("table_kind", [b"n", b"f"])
def test_a_hybrid_file_whose_table_and_xref_stream_disagree_is_refused(
    table_kind: bytes, pki: Pki, seal: Seal
) -> None:
    """Poppler, MuPDF and qpdf take the table's row (or, for a free row, poppler rebuilds
    the xref and MuPDF shows nothing); a reader taking the stream's shows the other page."""
    data = hybrid(table_kind)
    assert outcome(data) == "pdf_malformed"
    with pytest.raises(SealError) as info:
        stamp(data, pki, seal, page=3)
    assert info.value.code == "pdf_malformed"


# --------------------------------- F7: object numbers beyond what viewers can represent


def test_object_numbers_beyond_8388607_are_refused(pki: Pki, seal: Seal) -> None:
    """Poppler shows object 8 388 608; MuPDF (whose limit it is) repairs the file and does
    not: the verifier cannot share both views."""
    ref, page = page_ref(PLAIN, 0)
    for big in (8_388_608, 2**31):
        data = append_revision(PLAIN, {
            big: serialize(Stream({}, b"BT /F1 60 Tf 72 400 Td (PAID) Tj ET")),
            ref.num: serialize({**page, "Contents": [page["Contents"], Ref(big)]}),
        })
        assert outcome(data) == "pdf_malformed"
        with pytest.raises(SealError) as info:
            stamp(data, pki, seal, page=3)
        assert info.value.code == "pdf_malformed"
    # a reference alone (to nothing: null everywhere) is refused too
    data = with_page(PLAIN, 0, serialize({**page, "Annots": [Ref(8_388_608)]}))
    assert outcome(data) == "pdf_malformed"
    # the stamper never numbers its own objects beyond the limit
    near = with_page(PLAIN, 0, serialize({**page, "Annots": [Ref(8_388_605)]}))
    assert outcome(near) == "invalid"  # readable, not sealed
    with pytest.raises(SealError) as info:
        stamp(near, pki, seal, page=3)
    assert info.value.code == "pdf_bad_input"


# ------------------------------------------------ F3: /NeedAppearances in the sealed form


def flag_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamper as it was: it sealed a form with other fields and /NeedAppearances."""
    import seals.pdf.stamp as stamp_module

    monkeypatch.setattr(stamp_module, "_need_appearances", lambda *args: None)


def test_need_appearances_in_a_sealed_form_is_invalid(
    pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seal whose own revision keeps /NeedAppearances true (another stamper, or an older
    one): poppler redraws the text field from its value and draws no seal; what viewers show
    is no longer what the appearances say."""
    from test_pdf_stamper_defects import form_with_text_field

    flag_kept(monkeypatch)
    form = form_with_text_field(appearance=True)
    plain_seal = stamp(form, pki, seal)
    acro = PdfFile(plain_seal).view().catalog()[1]["AcroForm"]
    body = object_bytes(plain_seal, acro.num)[:-2] + b" /NeedAppearances true>>"
    with later_seal_with(extra={acro.num: body}):
        flagged = stamp(form, pki, seal)
    assert render(flagged, 3).tobytes() != render(plain_seal, 3).tobytes()
    assert outcome(flagged) == "invalid"
    assert kinds(flagged) == {"redraw"}


def test_need_appearances_set_by_a_later_seal_is_invalid(
    pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_pdf_stamper_defects import form_with_text_field

    with monkeypatch.context() as patch:
        flag_kept(patch)
        sealed = stamp(form_with_text_field(appearance=True), pki, seal)
    acro = PdfFile(sealed).view().catalog()[1]["AcroForm"]
    plain_two = stamp(sealed, pki, seal, page=1, at=LATER)
    body = object_bytes(plain_two, acro.num)[:-2] + b" /NeedAppearances true>>"
    out = later_seal_rewriting(sealed, pki, seal, acro.num, body)
    assert outcome(out) == "invalid"
    assert {"changed", "redraw"} & kinds(out)


def stale_form() -> bytes:
    """A text field whose value is 100 and whose own appearance says 1000000, with
    /NeedAppearances true: viewers honouring the flag (poppler) show 100."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        helv = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                  BaseFont=pikepdf.Name.Helvetica)
        ap = pikepdf.Stream(doc, b"BT /Helv 12 Tf 2 5 Td (1000000) Tj ET")
        ap.Type, ap.Subtype, ap.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 228, 20]
        ap.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv))
        widget = doc.make_indirect(pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
            T=pikepdf.String("amount"), V=pikepdf.String("100"), Rect=[72, 700, 300, 720],
            P=doc.pages[-1].obj, DA=pikepdf.String("/Helv 12 Tf 0 g"),
            AP=pikepdf.Dictionary(N=ap),
        ))
        doc.pages[-1].Annots = doc.make_indirect(pikepdf.Array([widget]))
        doc.Root.AcroForm = pikepdf.Dictionary(
            Fields=[widget], NeedAppearances=True, DA=pikepdf.String("/Helv 12 Tf 0 g"),
            DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv)),
        )
        buf = io.BytesIO()
        doc.save(buf)
    return buf.getvalue()


def test_the_stamper_does_not_remove_need_appearances_over_other_fields(
    pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removing the flag made viewers show the field's own appearance (1000000) instead of
    what they drew from its value (100): sealing changed what the page showed, outside the
    seal, and the seal was valid. The stamper now refuses such a form."""
    from pdf_testlib import differing_pixels, pixel_box

    form = stale_form()
    with pytest.raises(SealError) as info:
        stamp(form, pki, seal)
    assert info.value.code == "pdf_bad_input"
    with monkeypatch.context() as patch:  # what the stamper did
        flag_kept(patch)
        sealed = stamp(form, pki, seal)
    assert outcome(sealed) == "valid"  # the flag is gone: nothing for the verifier to see
    widget = next(f for _, f, n in PdfFile(sealed).view().fields() if n == "Seal1")
    box = pixel_box([float(v) for v in widget["Rect"]], 841.8898)
    assert differing_pixels(render(form, 3), render(sealed, 3), outside=box) > 0


# ------------------------------------------- W2: '/Contents' inside a seal's own strings


@pytest.mark.parametrize("name", [
    "Seal /Contents <00>", "A /ByteRange [0 1 2 3] /Contents <", "(/Contents) \\ )",
])
def test_a_seal_name_holding_pdf_keys_seals_and_verifies(pki: Pki, name: str) -> None:
    """The stamper found /ByteRange by a byte search, the verifier counted '/Contents' in
    the signature dictionary's bytes: a seal named with those words failed."""
    from seals_testlib import make_seal

    odd = make_seal(pki, name)
    sealed = stamp(PLAIN, pki, odd)
    assert outcome(sealed) == "valid"
    assert verify_pdf(sealed).signatures[0].seal_name == name


# --------------------------------------------- W1: several genuine seals on a large file


def test_seven_genuine_seals_on_a_large_file_verify(pki: Pki, seal: Seal) -> None:
    """Each seal hashed the whole file again: seven seals on a 20 MB file (what the stamper
    makes without complaint) were 140 MB to hash, over the 128 MB bound, and the file was
    refused as pdf_hostile. Here at a tenth of the scale (2 MB, a 14 MB bound): the seals
    share the hashing, about the file's size in all."""
    import hostile_shapes

    from seals.pdf import PdfLimits

    def later(pdf: bytes, **kwargs: object) -> bytes:
        return stamp(pdf, pki, seal, at=LATER, **kwargs)

    kit = hostile_shapes.Kit(PLAIN, stamp(PLAIN, pki, seal), later)
    pdf = hostile_shapes.hashes(2 << 20, 6)(kit)
    report = verify_pdf(pdf, limits=PdfLimits(max_hashed=7 * (2 << 20)))
    assert report.ok
    assert len(report.signatures) == 7
    # the revision digests (what is anchored) are still SM3 of each revision
    from seals import sm2

    for sig in report.signatures:
        end = sig.byte_range[2] + sig.byte_range[3]
        assert sig.revision_digest == sm2.sm3(pdf[:end])


def many_small_objects(count: int) -> bytes:
    """PLAIN and a revision of ``count`` small, honest objects (one subsection)."""
    file = PdfFile(PLAIN)
    top = file.highest_number()
    out = bytearray(PLAIN)
    rows = bytearray()
    for i in range(count):
        rows += b"%010d 00000 n\r\n" % len(out)
        out += b"%d 0 obj\n<</A %d>>\nendobj\n" % (top + 1 + i, i)
    xref = len(out)
    trailer = {"Size": top + 1 + count, "Root": file.view().trailer["Root"],
               "Prev": file.startxref}
    out += b"xref\n%d %d\n" % (top + 1, count) + rows + b"trailer\n" + serialize(trailer)
    return bytes(out + b"\nstartxref\n%d\n%%%%EOF\n" % xref)


def test_the_stamper_does_not_make_a_seal_the_verifier_refuses(pki: Pki, seal: Seal) -> None:
    """320 000 objects: within what the stamper may read, but not with what verification
    adds (hashing, the signature, the revision checks): the sealed file was refused as
    pdf_hostile. Now the stamper checks a file near the bound, and refuses it instead."""
    doc = many_small_objects(320_000)
    try:
        sealed = stamp(doc, pki, seal)
    except SealError as exc:
        assert exc.code == "pdf_hostile"
    else:
        assert outcome(sealed) == "valid"
