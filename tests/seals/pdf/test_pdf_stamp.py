"""Stamping PDFs: the result is an incremental update that verifies, is readable by qpdf
(pikepdf), puts the stamp where asked, and takes several seals and xref-stream files."""

from __future__ import annotations

import io
from datetime import timedelta

import pikepdf
import pytest
from pdf_testlib import AT, LATER, PLAIN, append_revision, stamp, xref_stream_copy
from seals_testlib import T0, Pki

from seals import sm2
from seals.errors import SealError
from seals.pdf import (
    FILTER,
    SUBFILTER,
    PdfInputError,
    sealed_document_digest,
    verify_pdf,
)
from seals.pdf.reader import PdfFile
from seals.pdf.stamp import MM
from seals.seal import StepStatus
from seals.ses import Seal, parse_signature


def test_one_seal_verifies_every_step(pki: Pki, sealed: bytes) -> None:
    assert sealed.startswith(PLAIN)
    report = verify_pdf(sealed, anchors=[pki.root.certificate])
    assert report.ok and len(report.signatures) == 1
    sig = report.signatures[0]
    assert sig.field == "Seal1" and sig.revision == 2
    assert sig.signing_time == AT and sig.seal_name == "北京市测试局"
    assert all(s.status is StepStatus.VALID for s in sig.steps), sig.steps
    names = [s.name for s in sig.steps]
    assert names[0] == "pdf.byte_range" and names[-1] == "pdf.modifications"
    assert "pdf.digest" in names and "signature.data_hash" not in names
    assert {"signature.value", "signature.signer_path", "seal.maker_signature"} <= set(names)
    a, b, c, d = sig.byte_range
    assert a == 0 and c + d == len(sealed) and sealed[b : b + 1] == b"<"
    assert report.document_digest == sealed_document_digest(sealed) == sm2.sm3(sealed)


def test_signature_dictionary_and_property_info(sealed: bytes) -> None:
    view = PdfFile(sealed).view()
    (_, field, _name), *_ = [f for f in view.fields() if f[1].get("FT") == "Sig"]
    sig = view.resolve(field["V"])
    assert sig["Filter"] == FILTER and sig["SubFilter"] == SUBFILTER
    assert sig["M"] == b"D:" + AT.strftime("%Y%m%d%H%M%S").encode() + b"Z"
    br = sig["ByteRange"]
    der = sig["Contents"]  # the DER (30 82 LL LL …) then zero padding: cut at its length
    parsed = parse_signature(der[: 4 + int.from_bytes(der[2:4], "big")])
    assert parsed.property_info == "/ByteRange [{} {} {} {}]".format(*br)
    assert parsed.data_hash == sm2.sm3(sealed[: br[1]] + sealed[br[2] :])


def test_qpdf_reads_the_result_and_sees_the_stamp(sealed: bytes, seal: Seal) -> None:
    with pikepdf.open(io.BytesIO(sealed)) as doc:
        assert doc.check_pdf_syntax() == []
        assert int(doc.Root.AcroForm.SigFlags) == 3
        (field,) = list(doc.Root.AcroForm.Fields)
        assert str(field.T) == "Seal1" and field.FT == "/Sig"
        last = doc.pages[-1]
        assert any(a.objgen == field.objgen for a in last.Annots)
        image = field.AP.N.Resources.XObject.Im0
        assert image.Subtype == "/Image" and image.SMask.Subtype == "/Image"
        assert (int(image.Width), int(image.Height)) == (400, 400)
        x1, y1, x2, y2 = (float(v) for v in field.Rect)
        width, _height = float(last.MediaBox[2]), float(last.MediaBox[3])
        # default: bottom-right area, 15 mm margins, the picture's own 40 mm
        assert x2 == pytest.approx(width - 15 * MM, abs=0.01)
        assert y1 == pytest.approx(15 * MM, abs=0.01)
        assert x2 - x1 == pytest.approx(seal.picture.width_mm * MM, abs=0.01)
        assert y2 - y1 == pytest.approx(x2 - x1, abs=0.01)


def test_page_position_and_width(pki: Pki, seal: Seal) -> None:
    out = stamp(PLAIN, pki, seal, page=1, x_mm=20, y_mm=30, width_mm=25)
    with pikepdf.open(io.BytesIO(out)) as doc:
        field = doc.Root.AcroForm.Fields[0]
        assert field.P.objgen == doc.pages[0].objgen
        assert [round(float(v) / MM, 3) for v in field.Rect] == [20, 30, 45, 55]
    assert verify_pdf(out).ok


def test_bad_stamp_arguments(pki: Pki, seal: Seal) -> None:
    for kwargs in ({"page": 4}, {"page": 0}, {"x_mm": 200}, {"y_mm": -1}, {"width_mm": 0}):
        with pytest.raises(PdfInputError) as info:
            stamp(PLAIN, pki, seal, **kwargs)
        assert info.value.code == "pdf_bad_input"
    with pytest.raises(SealError) as err:
        stamp(PLAIN, pki, seal, at=T0 + timedelta(days=400))
    assert err.value.code == "seal_expired"
    with pytest.raises(PdfInputError):
        stamp(stamp(PLAIN, pki, seal, field_name="Seal7"), pki, seal, field_name="Seal7")


def test_three_seals_each_its_own_revision(pki: Pki, sealed: bytes, seal: Seal) -> None:
    two = stamp(sealed, pki, seal, page=1, x_mm=20, y_mm=20, at=LATER)
    three = stamp(two, pki, seal, page=2, at=LATER)
    assert three.startswith(two) and two.startswith(sealed)
    report = verify_pdf(three)
    assert report.ok, [s for sig in report.signatures for s in sig.steps if s.status != "VALID"]
    assert [s.field for s in report.signatures] == ["Seal1", "Seal2", "Seal3"]
    assert [s.revision for s in report.signatures] == [2, 3, 4]
    first = report.signatures[0].report().step("pdf.modifications")
    assert "Seal2" in first.reason and "Seal3" in first.reason
    assert report.signatures[2].report().step("pdf.modifications").reason.startswith("nothing")


def test_xref_stream_files(pki: Pki, seal: Seal, sealed_xref_stream: bytes) -> None:
    original = xref_stream_copy()
    assert PdfFile(original).sections[0].kind == "stream"
    assert sealed_xref_stream.startswith(original)
    file = PdfFile(sealed_xref_stream)
    assert [s.kind for s in file.sections] == ["stream", "stream"]
    two = stamp(sealed_xref_stream, pki, seal, page=1, at=LATER)
    report = verify_pdf(two)
    assert report.ok and len(report.signatures) == 2
    with pikepdf.open(io.BytesIO(two)) as doc:
        assert doc.check_pdf_syntax() == [] and len(doc.Root.AcroForm.Fields) == 2


def test_existing_form_fields_and_annotations_are_kept(pki: Pki, seal: Seal) -> None:
    # a document whose last page already has an annotation and whose form has a text field
    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        appearance = pikepdf.Stream(doc, b"")
        appearance.Subtype, appearance.BBox = pikepdf.Name.Form, [0, 0, 90, 20]
        widget = doc.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
                T=pikepdf.String("name"), Rect=[10, 10, 100, 30], P=doc.pages[-1].obj,
                AP=pikepdf.Dictionary(N=appearance),
            )
        )
        doc.pages[-1].Annots = doc.make_indirect(pikepdf.Array([widget]))
        doc.Root.AcroForm = pikepdf.Dictionary(Fields=[widget])
        buf = io.BytesIO()
        doc.save(buf)
        # the same form asking viewers to draw its fields anew is refused: removing the flag
        # could change how the text field looks (test_pdf_exactness)
        doc.Root.AcroForm.NeedAppearances = True
        flagged = io.BytesIO()
        doc.save(flagged)
    with pytest.raises(PdfInputError):
        stamp(flagged.getvalue(), pki, seal)
    out = stamp(buf.getvalue(), pki, seal)
    assert verify_pdf(out).ok
    with pikepdf.open(io.BytesIO(out)) as doc:
        assert [str(f.T) for f in doc.Root.AcroForm.Fields] == ["name", "Seal1"]
        assert "/NeedAppearances" not in doc.Root.AcroForm
        assert len(doc.pages[-1].Annots) == 2


def test_an_unsealed_pdf_has_no_seal() -> None:
    report = verify_pdf(PLAIN)
    assert not report.ok and report.signatures == ()
    assert report.steps[1].status is StepStatus.INVALID


def test_an_empty_update_after_a_seal_is_not_a_seal(sealed: bytes) -> None:
    catalog_num = PdfFile(sealed).view().trailer["Root"].num
    same = PdfFile(sealed).view().get(catalog_num)
    from seals.pdf.syntax import serialize

    out = append_revision(sealed, {catalog_num: serialize(same)})
    step = verify_pdf(out).signatures[0].report().step("pdf.modifications")
    assert step.status is StepStatus.INVALID and "not a seal" in step.reason


def test_nested_page_tree(pki: Pki, seal: Seal) -> None:
    """Pages found by /Count descent are the pages in document order."""
    from seals.pdf.syntax import Name, Ref, serialize

    view = PdfFile(PLAIN).view()
    pages_ref = view.catalog()[1]["Pages"]
    root = view.resolve(pages_ref)
    kids = root["Kids"]
    n = view.size
    node = {"Type": Name("Pages"), "Parent": pages_ref, "Count": 2, "Kids": kids[1:]}
    nested = append_revision(
        PLAIN,
        {
            n: serialize(node),
            pages_ref.num: serialize({**root, "Kids": [kids[0], Ref(n)], "Count": 3}),
        },
    )
    v = PdfFile(nested).view()
    in_order = [ref for ref, _, _ in v.pages()]
    assert in_order == kids
    assert [v.page(i)[0] for i in range(3)] == kids
    out = stamp(nested, pki, seal, page=2)
    with pikepdf.open(io.BytesIO(out)) as doc:
        assert "/Annots" in doc.pages[1] and "/Annots" not in doc.pages[2]
    assert verify_pdf(out).ok


@pytest.mark.parametrize("streams", [False, True])
def test_linearized_files_take_two_seals(pki: Pki, seal: Seal, streams: bool) -> None:
    """A linearized original has two sections (first page, then the rest, /Prev pointing
    forward); each seal still tiles after it and verifies."""
    mode = pikepdf.ObjectStreamMode.generate if streams else pikepdf.ObjectStreamMode.preserve
    with pikepdf.open(io.BytesIO(PLAIN)) as doc:
        buf = io.BytesIO()
        doc.save(buf, linearize=True, object_stream_mode=mode)
    linear = buf.getvalue()
    assert len(PdfFile(linear).sections) == 2
    one = stamp(linear, pki, seal)
    two = stamp(one, pki, seal, page=1, at=LATER)
    assert verify_pdf(one).ok and verify_pdf(two).ok
    with pikepdf.open(io.BytesIO(two)) as doc:
        assert len(doc.Root.AcroForm.Fields) == 2


def test_a_machine_that_cannot_check_sm2_finds_no_seal_invalid(
    pki: Pki, sealed: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's SM2 failing (no backend loads) says nothing of the PDF: the signature
    steps are ERROR (could not check), none INVALID, and the report is not ok (review of
    issue #17: a SealError of the backend was read as a defect of the file)."""
    from seals import sm2, x509
    from seals.errors import Sm2Unavailable

    assert verify_pdf(sealed, anchors=[pki.root.certificate]).ok
    gone = Sm2Unavailable("no SM2 backend loads on this machine")
    monkeypatch.setattr(sm2, "_backends", dict.fromkeys(sm2._BACKEND_FACTORIES, gone))
    x509._public_key.cache_clear()  # keys loaded before are bound to the backend that was there
    try:
        report = verify_pdf(sealed, anchors=[pki.root.certificate])
    finally:
        x509._public_key.cache_clear()
    steps = [s for sig in report.signatures for s in sig.steps]
    assert not report.ok
    assert not [s for s in steps if s.status is StepStatus.INVALID], steps
    assert {"signature.value", "seal.maker_signature"} <= {
        s.name for s in steps if s.status is StepStatus.ERROR
    }, steps
