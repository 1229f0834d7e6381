"""Issue #14, item 8: the stamper's defects. Each sealed file is read back by an independent
reader (qpdf, through pikepdf) and drawn by poppler and MuPDF: the seal must be on the page
the verifier says it is on. Each test failed before the fix."""

from __future__ import annotations

import io
import re

import pikepdf
import pytest
from pdf_testlib import (
    ANTIALIASING,
    LATER,
    PLAIN,
    VIEWERS,
    append_revision,
    append_table_revision,
    differing_pixels,
    pixel_box,
    render,
    stamp,
)
from seals_testlib import Pki

from seals.errors import SealError
from seals.pdf import PdfInputError, verify_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Ref, serialize
from seals.seal import StepStatus
from seals.ses import Seal

A4_HEIGHT = 841.8898


def widget_rect(pdf: bytes, field: str) -> list[float]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for f in doc.Root.AcroForm.Fields:
            if str(f.T) == field:
                return [float(v) for v in f.Rect]
    raise KeyError(field)


def assert_seal_shown(
    before: bytes, after: bytes, page: int, field: str, *, warnings: str = "^$"
) -> None:
    """qpdf finds the widget on ``page`` and in the form (and warns of nothing but what
    ``warnings`` matches); poppler and MuPDF draw it there (many pixels of its rectangle
    change, none outside it)."""
    with pikepdf.open(io.BytesIO(after)) as doc:
        assert [w for w in doc.check_pdf_syntax() if not re.search(warnings, w)] == []
        widgets = [a for a in doc.pages[page - 1].get("/Annots", []) if str(a.get("/T")) == field]
        assert len(widgets) == 1, f"qpdf sees no widget '{field}' on page {page}"
        assert widgets[0].P.objgen == doc.pages[page - 1].objgen
        assert any(f.objgen == widgets[0].objgen for f in doc.Root.AcroForm.Fields)
        assert not bool(doc.Root.AcroForm.get("/NeedAppearances", False))
    box = pixel_box(widget_rect(after, field), A4_HEIGHT)
    for tool in VIEWERS:
        a, b = render(before, page, tool), render(after, page, tool)
        assert differing_pixels(a, b) > 200, f"{tool} draws no seal"
        assert differing_pixels(a, b, outside=box, tolerance=ANTIALIASING) == 0, (
            f"{tool} draws outside the seal"
        )


# ------------------------------------------------------------------ generation numbers


def with_generation_1(pdf: bytes) -> bytes:
    """``pdf`` with its last page and a new, empty form both of generation 1."""
    view = PdfFile(pdf).view()
    root, catalog = view.catalog()
    pages_ref = catalog["Pages"]
    pages = view.resolve(pages_ref)
    page_ref = pages["Kids"][2]
    form = max(s.entries.highest() for s in PdfFile(pdf).sections) + 1
    kids = [*pages["Kids"][:2], Ref(page_ref.num, 1)]
    return append_table_revision(pdf, {
        (page_ref.num, 1): serialize(view.get(page_ref.num)),
        (pages_ref.num, 0): serialize({**pages, "Kids": kids}),
        (form, 1): serialize({"Fields": []}),
        (root.num, 0): serialize({**catalog, "AcroForm": Ref(form, 1)}),
    })


def test_a_page_and_form_of_generation_1_keep_their_seal(pki: Pki, seal: Seal) -> None:
    """The page and the form are rewritten under their own generation: before, they were
    written as generation 0 and poppler, MuPDF's strict readers and qpdf lost the seal."""
    gen1 = with_generation_1(PLAIN)
    with pikepdf.open(io.BytesIO(gen1)) as doc:
        assert doc.pages[2].objgen[1] == 1 and doc.Root.AcroForm.objgen[1] == 1
    sealed = stamp(gen1, pki, seal)
    assert re.search(rb"(?m)^\d+ 1 obj\n<<[^\n]*/Annots", sealed[len(gen1) :])
    assert verify_pdf(sealed).ok
    assert_seal_shown(gen1, sealed, 3, "Seal1")


# -------------------------------------------------------------------- /NeedAppearances


def form_with_text_field(appearance: bool) -> bytes:
    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        widget = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
            T=pikepdf.String("name"), V=pikepdf.String("Zhang San"), Rect=[72, 700, 300, 720],
            P=doc.pages[-1].obj,
        )
        if appearance:
            ap = pikepdf.Stream(doc, b"BT /Helv 12 Tf 2 5 Td (Zhang San) Tj ET")
            ap.Type, ap.Subtype, ap.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 228, 20]
            widget.AP = pikepdf.Dictionary(N=ap)
        widget = doc.make_indirect(widget)
        doc.pages[-1].Annots = doc.make_indirect(pikepdf.Array([widget]))
        doc.Root.AcroForm = pikepdf.Dictionary(Fields=[widget], NeedAppearances=True)
        buf = io.BytesIO()
        doc.save(buf)
    return buf.getvalue()


def form_with_flag_only() -> bytes:
    """A form with /NeedAppearances true and no field yet."""
    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        doc.Root.AcroForm = pikepdf.Dictionary(Fields=[], NeedAppearances=True)
        buf = io.BytesIO()
        doc.save(buf)
    return buf.getvalue()


def test_need_appearances_is_removed(pki: Pki, seal: Seal) -> None:
    """With /NeedAppearances true poppler redraws every field and draws no seal: the flag
    is removed when the form has no other field."""
    form = form_with_flag_only()
    sealed = stamp(form, pki, seal)
    assert verify_pdf(sealed).ok
    assert_seal_shown(form, sealed, 3, "Seal1")


def test_need_appearances_that_cannot_be_removed_is_refused(pki: Pki, seal: Seal) -> None:
    for appearance in (False, True):  # see test_pdf_exactness for the one with appearance
        with pytest.raises(PdfInputError, match="draw its fields anew"):
            stamp(form_with_text_field(appearance=appearance), pki, seal)
    # already sealed, the flag set (as an older stamper kept it): removing it would change
    # the sealed document, keeping it would hide the new seal in poppler
    sealed = stamp(form_with_flag_only(), pki, seal)
    view = PdfFile(sealed).view()
    acro_ref = view.catalog()[1]["AcroForm"]
    flagged = append_revision(
        sealed, {acro_ref.num: serialize({**view.resolve(acro_ref), "NeedAppearances": True})}
    )
    with pytest.raises(PdfInputError, match="already sealed"):
        stamp(flagged, pki, seal, page=1, at=LATER)


# ----------------------------------------------------------------------- object numbers


def test_new_objects_are_numbered_after_the_highest_object_not_the_size(
    pki: Pki, seal: Seal
) -> None:
    """A trailer claiming /Size 60000000: new objects used to get numbers from 60 000 000 on,
    and poppler could not open the result."""
    huge = PLAIN.replace(b"/Size 12", b"/Size 60000000")
    assert huge != PLAIN
    sealed = stamp(huge, pki, seal)
    with pikepdf.open(io.BytesIO(sealed)) as doc:
        assert all(f.objgen[0] < 100 for f in doc.Root.AcroForm.Fields)
    assert max(s.entries.highest() for s in PdfFile(sealed).sections) < 100
    assert verify_pdf(sealed).ok
    assert_seal_shown(huge, sealed, 3, "Seal1")


# ------------------------------------------------------------- pages without /Type /Page


def test_a_second_seal_on_a_page_without_type(pki: Pki, seal: Seal) -> None:
    """/Type is missing from pages in the wild; a second seal on such a page used to make
    the first INVALID (the page was not recognised as a page)."""
    view = PdfFile(PLAIN).view()
    untyped = append_revision(PLAIN, {
        ref.num: serialize({k: v for k, v in page.items() if k != "Type"})
        for ref, page, _ in view.pages()
    })
    one = stamp(untyped, pki, seal, page=3)
    two = stamp(one, pki, seal, page=3, x_mm=20, y_mm=20, at=LATER)
    report = verify_pdf(two)
    assert report.ok, [s for sig in report.signatures for s in sig.steps if s.status != "VALID"]
    assert_seal_shown(one, two, 3, "Seal2", warnings="/Type key should be /Page")


# ------------------------------------------------------ coded answers, never a crash


def deep_length_chain(depth: int) -> bytes:
    """The last page's /Annots names a stream whose /Length is a stream whose /Length is a
    stream… (read as soon as the page is stamped)."""
    view = PdfFile(PLAIN).view()
    n = view.size
    objects = {}
    for i in range(depth):
        objects[n + i] = serialize({"Length": Ref(n + i + 1)})[:-2] + b">>\nstream\nx\nendstream"
    objects[n + depth] = b"1"
    ref, page, _ = view.page(2)
    objects[ref.num] = serialize({**page, "Annots": Ref(n)})
    return append_revision(PLAIN, objects)


def huge_numbers() -> list[bytes]:
    view = PdfFile(PLAIN).view()
    root, catalog = view.catalog()
    ref, page, _ = view.page(2)
    big_real = b"1" + b"0" * 400 + b".0"  # float() makes it infinite
    return [
        append_revision(PLAIN, {root.num: serialize(catalog)[:-2] + b" /X " + b"7" * 5000 + b">>"}),
        append_revision(PLAIN, {root.num: serialize(catalog)[:-2] + b" /X " + b"7" * 25 + b">>"}),
        append_revision(PLAIN, {root.num: serialize(catalog)[:-2] + b" /X 99999999999 0 R>>"}),
        append_revision(PLAIN, {ref.num: serialize(page)[:-2]
                                + b" /MediaBox [0 0 " + big_real + b" " + big_real + b"]>>"}),
        append_revision(PLAIN, {ref.num: serialize(page)[:-2] + b" /Rotate 1" + b"0" * 60
                                + b".5>>"}),
        append_revision(PLAIN, {root.num: serialize(catalog)[:-2] + b" /X 1" + b"0" * 300
                                + b".0>>"}),
        deep_length_chain(3000),
    ]


@pytest.mark.parametrize("index", range(7))
def test_hostile_numbers_get_a_coded_answer(index: int, pki: Pki, seal: Seal) -> None:
    """Huge numbers, 5,000-digit integers and deep /Length chains: a SealError with a code
    (the API answers it), never an exception of another kind (which became internal_error)."""
    data = huge_numbers()[index]
    for action in (lambda: verify_pdf(data), lambda: stamp(data, pki, seal)):
        try:
            action()
        except SealError as exc:
            assert exc.code in ("pdf_malformed", "pdf_hostile", "pdf_bad_input"), exc


def test_absurd_stamp_positions_are_refused(pki: Pki, seal: Seal) -> None:
    for kwargs in ({"x_mm": 1e300}, {"width_mm": float("inf")}, {"y_mm": float("nan")},
                   {"width_mm": 1e-300}):
        with pytest.raises(PdfInputError):
            stamp(PLAIN, pki, seal, **kwargs)


# --------------------------------------------------------- one failure, one INVALID


def test_a_failed_byte_range_check_is_the_only_invalid_step(sealed: bytes) -> None:
    """A /ByteRange cut short used to add a second, misleading INVALID: the signature read
    with its zero padding was 'not valid DER'."""
    m = re.search(rb"/ByteRange (\[[0-9 ]+\] *)", sealed)
    assert m is not None
    a, b, c, d = (int(v) for v in m.group(1).strip()[1:-1].split())
    short = (b"[%d %d %d %d]" % (a, b, c, d - 100)).ljust(len(m.group(1)))
    out = sealed[: m.start(1)] + short + sealed[m.end(1) :]
    sig = verify_pdf(out).signatures[0]
    invalid = [s.name for s in sig.steps if s.status is StepStatus.INVALID]
    assert invalid == ["pdf.byte_range"]
    assert sig.report().step("signature.structure").status is StepStatus.VALID
    assert sig.report().step("pdf.digest").status is StepStatus.SKIPPED


def test_the_stamper_refuses_what_the_verifier_would(pki: Pki, seal: Seal) -> None:
    """A broken entry in an unused number: sealing it would make a file that never
    verifies, so it is refused up front with the verifier's reason."""
    ref, page, _ = PdfFile(PLAIN).view().page(2)
    out = append_revision(PLAIN, {ref.num: serialize(page)})
    start = out.rindex(b"\nxref\n") + 1
    out = out[:start] + out[start:].replace(
        b"trailer", b"40 1\n0000000009 00000 n\r\ntrailer", 1
    )
    with pytest.raises(SealError) as info:
        stamp(out, pki, seal)
    assert info.value.code == "pdf_malformed"


def test_the_stamper_refuses_a_reference_with_the_wrong_generation(pki: Pki, seal: Seal) -> None:
    """Its whole-file check reads references only where one may name a generation other
    than 0 (it needs no more): such a reference is still checked."""
    ref, page, _ = PdfFile(PLAIN).view().page(2)
    content = page["Contents"]
    assert isinstance(content, Ref)
    out = append_table_revision(
        PLAIN, {(ref.num, ref.gen): serialize({**page, "Contents": Ref(content.num, 1)})}
    )
    with pytest.raises(SealError) as info:
        stamp(out, pki, seal)
    assert info.value.code == "pdf_malformed"
