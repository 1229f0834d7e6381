"""Issue #14, items 5 and 6: every signature-like object of every revision is verified VALID
or makes the verdict invalid; the object model is the one viewers render (generation numbers,
``/Length``, bytes a revision's xref does not list); and the appearance policy for seals added
after an earlier one (``seals/pdf/README.md``), checked against what poppler and MuPDF draw.

Each attack here was judged valid before the fix; renders show that it changes what viewers
show (where it does), so that a valid verdict on it would have been wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pdf_testlib import (
    LATER,
    PLAIN,
    VIEWERS,
    append_revision,
    append_table_revision,
    differing_pixels,
    insert_before_xref,
    later_seal_with,
    pixel_box,
    render,
    stamp,
)
from seals_testlib import Pki

from seals.errors import SealError
from seals.pdf import PdfInputError, PdfReport, verify_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import HexString, Name, Ref, Stream, equal, serialize
from seals.seal import StepStatus
from seals.ses import Seal

A4_HEIGHT = 841.8898


def outcome(data: bytes) -> PdfReport | str:
    """The report, or the code of the error refusing the whole file."""
    try:
        return verify_pdf(data)
    except SealError as exc:
        return exc.code


def rejected(data: bytes) -> bool:
    result = outcome(data)
    return isinstance(result, str) or not result.ok


def step(report: PdfReport, field: str, name: str) -> tuple[StepStatus, str]:
    sig = next(s for s in report.signatures if s.field == field)
    found = next(s for s in sig.steps if s.name == name)
    return found.status, found.reason


def zh_reason(report: PdfReport, field: str, name: str = "pdf.modifications") -> str:
    sig = next(s for s in report.signatures if s.field == field)
    return next(s for s in sig.steps if s.name == name).reason_zh


def last_page(pdf: bytes) -> tuple[Ref, dict[str, object]]:
    ref, page, _ = PdfFile(pdf).view().page(2)
    return ref, page


def next_number(pdf: bytes) -> int:
    file = PdfFile(pdf)
    return max(s.entries.highest() for s in file.sections) + 1


WHITE_PAGE = Stream(
    {"Type": Name("XObject"), "Subtype": Name("Form"), "BBox": [0, 0, 595, 842]},
    b"1 1 1 rg 0 0 595 842 re f 0 0 0 rg 30 w 100 400 m 500 400 l S",
)


def fake_seal(
    pdf: bytes,
    *,
    subfilter: str = "GB.T38540.SES_Signature",
    in_form: bool = False,
    rect: list[float] | None = None,
    direct_value: bool = False,
) -> bytes:
    """An attacker's revision: a signature widget whose /V merely has /ByteRange and
    /Contents, with an appearance that paints over the whole page."""
    view = PdfFile(pdf).view()
    n = next_number(pdf)
    ref, page = last_page(pdf)
    sig = {
        "Type": Name("Sig"), "Filter": Name("Zhengyin.SES"), "SubFilter": Name(subfilter),
        "ByteRange": [0, 10, 20, 30], "Contents": HexString(b"\x30\x03\x02\x01\x01"),
    }
    widget = {
        "Type": Name("Annot"), "Subtype": Name("Widget"), "FT": Name("Sig"), "T": b"Fake",
        "V": sig if direct_value else Ref(n + 1), "P": ref, "Rect": rect or [0, 0, 595, 842],
        "F": 4, "AP": {"N": Ref(n + 2)},
    }
    annots = view.resolve(page.get("Annots")) or []
    objects = {
        n: serialize(widget),
        n + 2: serialize(WHITE_PAGE),
        ref.num: serialize({**page, "Annots": [*annots, Ref(n)]}),
    }
    if not direct_value:
        objects[n + 1] = serialize(sig)
    if in_form:
        acro_ref = view.catalog()[1]["AcroForm"]
        acro = view.resolve(acro_ref)
        objects[acro_ref.num] = serialize({**acro, "Fields": [*acro["Fields"], Ref(n)]})
    return append_revision(pdf, objects)


# ------------------------------------------------------- item 5: every signature verified


@pytest.mark.parametrize("tool", VIEWERS)
def test_a_fake_seal_listed_only_in_the_page_annots_is_invalid(sealed: bytes, tool: str) -> None:
    """It paints over the whole page in both viewers; it used to count as 'a further seal'
    and was never verified (only /AcroForm fields were collected)."""
    out = fake_seal(sealed)
    assert differing_pixels(render(sealed, 3, tool), render(out, 3, tool)) > 1000
    report = verify_pdf(out)
    assert not report.ok
    assert {s.field for s in report.signatures} == {"Seal1", "Fake"}
    fake = next(s for s in report.signatures if s.field == "Fake")
    assert not fake.ok
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID and "Fake" in reason


def test_a_fake_seal_with_a_foreign_subfilter_is_invalid_not_skipped(sealed: bytes) -> None:
    out = fake_seal(sealed, subfilter="adbe.pkcs7.detached", in_form=True)
    report = verify_pdf(out)
    assert not report.ok
    status, reason = step(report, "Fake", "pdf.format")
    assert status is StepStatus.INVALID
    assert "/SubFilter /adbe.pkcs7.detached" in reason and "cannot verify" in reason
    assert step(report, "Seal1", "pdf.modifications")[0] is StepStatus.INVALID


def test_a_fake_seal_whose_byte_range_ends_at_its_revision_is_verified(
    sealed: bytes,
) -> None:
    """Even with a byte range that ends where its revision ends and a genuine signature
    copied into /Contents, a fake seal gets its own report, which fails."""
    genuine = verify_pdf(sealed).signatures[0]
    view = PdfFile(sealed).view()
    (_, field, _), *_ = view.fields()
    contents = view.resolve(field["V"])["Contents"]
    out = fake_seal(sealed)
    a, b, c, d = genuine.byte_range
    size = len(out)
    # point the fake's /ByteRange at the end of its own revision
    fixed = out.replace(b"/ByteRange [0 10 20 30]", b"/ByteRange [0 10 20 %d]" % (size - 20))
    fixed = fixed.replace(b"<3003020101>", b"<" + contents.hex().encode() + b">")
    report = outcome(fixed)
    assert isinstance(report, str) or not report.ok
    assert (a, b, c, d) == genuine.byte_range


def test_a_direct_signature_value_is_reported(sealed: bytes) -> None:
    report = verify_pdf(fake_seal(sealed, direct_value=True))
    assert not report.ok
    fake = next(s for s in report.signatures if s.field == "Fake")
    assert fake.report().step("pdf.byte_range").status is StepStatus.INVALID


def test_a_signature_dictionary_no_field_holds_is_reported(sealed: bytes) -> None:
    n = next_number(sealed)
    sig = {"Type": Name("Sig"), "SubFilter": Name("adbe.pkcs7.detached"),
           "ByteRange": [0, 1, 2, 3], "Contents": HexString(b"\x01")}
    out = append_revision(sealed, {n: serialize(sig)})
    report = verify_pdf(out)
    assert not report.ok
    assert any(s.field == f"signature object {n}" and not s.ok for s in report.signatures)


def test_a_foreign_signature_in_the_sealed_original_is_invalid(pki: Pki, seal: Seal) -> None:
    """A signature this service cannot verify, already in the document when it was sealed:
    the file cannot be accepted as sealed (it used to be listed as SKIPPED)."""
    prepared = fake_seal(PLAIN, subfilter="adbe.pkcs7.detached", in_form=False,
                         rect=[10, 10, 50, 50])
    out = stamp(prepared, pki, seal)
    report = verify_pdf(out)
    assert not report.ok
    assert step(report, "Seal1", "pdf.modifications")[0] is StepStatus.VALID
    assert step(report, "Fake", "pdf.format")[0] is StepStatus.INVALID


def test_an_empty_signature_field_added_later_is_a_modification(sealed: bytes) -> None:
    n = next_number(sealed)
    ref, page = last_page(sealed)
    view = PdfFile(sealed).view()
    widget = {"Type": Name("Annot"), "Subtype": Name("Widget"), "FT": Name("Sig"),
              "T": b"Empty", "P": ref, "Rect": [0, 0, 10, 10]}
    out = append_revision(sealed, {
        n: serialize(widget),
        ref.num: serialize({**page, "Annots": [*view.resolve(page["Annots"]), Ref(n)]}),
    })
    report = verify_pdf(out)
    assert [s.field for s in report.signatures] == ["Seal1"]
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID and "without a new signature" in reason


# --------------------------------------------- item 6: the object model viewers render


def _as_generation_1(num: int) -> object:
    """An edit that writes object ``num`` of the update as generation 1 (header and xref)."""

    def edit(out: bytearray) -> bytearray:
        data = bytes(out)
        tag = b"\n%d 0 obj\n" % num
        at = data.rindex(tag, 0, data.rindex(b"\nxref\n")) + 1
        data = data[:at] + b"%d 1 obj\n" % num + data[at + len(tag) - 1 :]
        row = b"%010d 00000 n" % at
        i = data.index(row, data.rindex(b"\nxref\n"))
        return bytearray(data[:i] + b"%010d 00001 n" % at + data[i + len(row) :])

    return edit


def test_an_object_rewritten_under_another_generation(sealed: bytes, pki: Pki, seal: Seal) -> None:
    """A genuine later seal whose revision also rewrites the last page's content stream,
    unchanged, as generation 1: poppler then draws no text (the page still says 11 0 R),
    MuPDF draws it. It used to pass as 'rewritten unchanged'."""
    view = PdfFile(sealed).view()
    _, page = last_page(sealed)
    content = page["Contents"]
    assert isinstance(content, Ref)
    with later_seal_with({content.num: serialize(view.get(content.num))},
                         _as_generation_1(content.num)):  # type: ignore[arg-type]
        out = stamp(sealed, pki, seal, page=1, at=LATER)
    assert differing_pixels(render(sealed, 3), render(out, 3)) > 1000
    assert differing_pixels(render(sealed, 3, "mupdf"), render(out, 3, "mupdf")) == 0
    assert outcome(out) == "pdf_malformed"


def test_a_reference_must_name_its_objects_generation(sealed: bytes) -> None:
    ref, page = last_page(sealed)
    content = page["Contents"]
    assert isinstance(content, Ref)
    out = append_table_revision(
        sealed, {(ref.num, ref.gen): serialize({**page, "Contents": Ref(content.num, 1)})}
    )
    assert outcome(out) == "pdf_malformed"


def test_an_object_header_must_carry_its_entrys_generation(sealed: bytes) -> None:
    """The xref says generation 0, the header says 1: viewers disagree (poppler reads a
    missing object, MuPDF the object)."""
    ref, page = last_page(sealed)
    out = append_table_revision(sealed, {(ref.num, 0): serialize(page)})
    out = out.replace(b"\n%d 0 obj\n<<" % ref.num, b"\n%d 1 obj\n<<" % ref.num)
    assert outcome(out) == "pdf_malformed"


def test_a_stream_length_must_be_exact(sealed: bytes, pki: Pki, seal: Seal) -> None:
    """A genuine later seal whose revision rewrites a content stream with its data unchanged
    but a wrong /Length: it used to read the data up to the first 'endstream' and call the
    stream unchanged (/Length was not compared)."""
    view = PdfFile(sealed).view()
    _, page = last_page(sealed)
    content = page["Contents"]
    assert isinstance(content, Ref)
    stream = view.get(content.num)
    body = serialize({**stream.dict, "Length": 100})[:-2] + b">>\nstream\n" + stream.raw
    with later_seal_with({content.num: body + b"\nendstream"}):
        out = stamp(sealed, pki, seal, page=1, at=LATER)
    assert outcome(out) == "pdf_malformed"
    with later_seal_with({content.num: body + b"\nendstream"}):
        with pytest.raises(SealError):  # the stamper refuses a broken stream it is given
            stamp(out, pki, seal, page=2, at=LATER)


def test_stream_comparison_includes_length() -> None:
    a = Stream({"Length": 3}, b"abc")
    assert equal(a, Stream({"Length": 3}, b"abc"))
    assert not equal(a, Stream({"Length": Ref(9)}, b"abc"))


def test_bytes_a_later_revision_does_not_list_make_it_invalid(
    sealed: bytes, pki: Pki, seal: Seal
) -> None:
    """A genuine later seal whose revision also carries an unlisted object redefining the
    last page's content: a viewer that rebuilds the xref would show it."""
    _, page = last_page(sealed)
    content = page["Contents"]
    assert isinstance(content, Ref)
    evil = b"%d 0 obj\n" % content.num
    evil += serialize(Stream({}, b"BT /F1 48 Tf 72 400 Td (VOID) Tj ET")) + b"\nendobj\n"
    with later_seal_with(edit=lambda out: insert_before_xref(out, evil)):
        out = stamp(sealed, pki, seal, page=1, at=LATER)
    report = verify_pdf(out)
    assert not report.ok
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID
    assert re.search(r"bytes \d+–\d+ are not an object listed", reason), reason
    assert re.search(r"第 \d+–\d+ 字节不是本版本交叉引用表所列的对象", zh_reason(report, "Seal1")
                     ), zh_reason(report, "Seal1")
    assert step(report, "Seal2", "pdf.modifications")[0] is StepStatus.VALID  # its own bytes


def test_objects_overlapping_in_a_later_revision_make_it_invalid(
    sealed: bytes, pki: Pki, seal: Seal
) -> None:
    """A genuine later seal whose revision also lists an object written inside another
    object's stream data (two entries covering the same bytes)."""
    n = next_number(sealed) + 40
    inner = b"%d 0 obj\n(inner)\nendobj\n" % n
    outer = serialize(Stream({}, b"% " + inner))

    def edit(out: bytearray) -> bytearray:
        data = bytes(out)
        at = data.index(inner, len(sealed))
        xref = data.rindex(b"\nxref\n") + 1
        row = b"%d 1\n%010d 00000 n\r\n" % (n, at)
        return bytearray(data[:xref] + data[xref:].replace(b"trailer", row + b"trailer", 1))

    with later_seal_with({n + 1: outer}, edit):
        out = stamp(sealed, pki, seal, page=1, at=LATER)
    report = verify_pdf(out)
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID and f"object {n} at byte" in reason, reason
    assert "overlaps" in reason


def test_every_xref_entry_is_checked_even_unused_ones(sealed: bytes) -> None:
    """An entry of an unused number pointing at another object: a viewer fetching it would
    rebuild the xref; it is refused whether or not anything refers to it."""
    ref, page = last_page(sealed)
    out = append_revision(sealed, {ref.num: serialize(page)})
    start = out.rindex(b"\nxref\n") + 1
    offset = int(re.search(rb"(\d{10}) 00000 n", out[start:]).group(1))  # type: ignore[union-attr]
    n = next_number(out) + 5
    extra = b"%d 1\n%010d 00000 n\r\n" % (n, offset)
    out = out[:start] + out[start:].replace(b"trailer", extra + b"trailer", 1)
    assert outcome(out) == "pdf_malformed"


# ------------------------------------------------- appearance policy for later seals


def _seal_rect(pdf: bytes, field: str) -> list[float]:
    for _, f, name in PdfFile(pdf).view().fields():
        if name == field:
            return [float(v) for v in f["Rect"]]
    raise KeyError(field)


@pytest.mark.parametrize("tool", VIEWERS)
def test_a_later_seal_changes_no_pixel_outside_its_rectangle(
    sealed: bytes, pki: Pki, seal: Seal, tool: str
) -> None:
    two = stamp(sealed, pki, seal, page=3, x_mm=20, y_mm=20, at=LATER)
    assert verify_pdf(two).ok
    before, after = render(sealed, 3, tool), render(two, 3, tool)
    box = pixel_box(_seal_rect(two, "Seal2"), A4_HEIGHT)
    assert differing_pixels(before, after) > 100  # the new seal is drawn…
    assert differing_pixels(before, after, outside=box) == 0  # …and nothing else changed
    for page in (1, 2):
        assert differing_pixels(render(sealed, page, tool), render(two, page, tool)) == 0


def _without_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stamp as another implementation could: without the stamper's own policy check."""
    monkeypatch.setattr("seals.pdf.stamp.placement_problems", lambda *a: [], raising=False)


def test_a_later_seal_covering_most_of_the_page_is_invalid(
    sealed: bytes, pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A genuine later seal drawing an opaque picture over most of the page."""
    _without_policy(monkeypatch)
    big = stamp(sealed, pki, seal, page=1, x_mm=10, y_mm=60, width_mm=180, at=LATER)
    report = verify_pdf(big)
    assert not report.ok
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID and "of the page (at most 10% is allowed" in reason
    assert "它覆盖了页面的" in zh_reason(report, "Seal1"), zh_reason(report, "Seal1")
    assert step(report, "Seal2", "pdf.modifications")[0] is StepStatus.VALID


def test_a_later_seal_over_an_earlier_seal_is_invalid(
    sealed: bytes, pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    x0, y0, _, _ = _seal_rect(sealed, "Seal1")
    _without_policy(monkeypatch)
    over = stamp(sealed, pki, seal, page=3, x_mm=x0 / 2.8346 + 5, y_mm=y0 / 2.8346 + 5,
                 at=LATER)
    report = verify_pdf(over)
    status, reason = step(report, "Seal1", "pdf.modifications")
    assert status is StepStatus.INVALID and "covers an earlier seal" in reason


def test_the_placement_policy() -> None:
    """Inside the visible box (crop box clipped to the media box), at most 10% of it, over no
    earlier seal; touching edges are not an overlap."""
    from seals.pdf.stamp import placement_problems, visible_box

    page = (0.0, 0.0, 600.0, 800.0)

    def said(rect: tuple[float, float, float, float], earlier: list[Any]) -> list[tuple[str, str]]:
        return [(p.render("en"), p.render("zh")) for p in placement_problems(page, rect, earlier)]

    assert said((10, 10, 110, 110), []) == []
    assert said((10, 10, 110, 110), [(110, 10, 210, 110)]) == []
    assert said((10, 10, 110, 110), [(100, 100, 200, 200)]) == [
        ("it covers an earlier seal on its page", "它覆盖了本页上已有的签章")
    ]
    assert said((550, 10, 650, 110), []) == [
        ("it lies (partly) outside the page's crop box", "它（部分）位于页面裁剪框之外")
    ]
    assert said((0, 0, 300, 200), []) == [
        (
            "it covers 12% of the page (at most 10% is allowed after an earlier seal)",
            "它覆盖了页面的 12%（已有签章后，至多允许 10%）",
        )
    ]
    view = PdfFile(PLAIN).view()
    _, _, inherited = view.page(0)
    media = visible_box(view, inherited)
    assert media is not None and media[2] == pytest.approx(595.2756)
    assert visible_box(view, {**inherited, "CropBox": [-50, 100, 300, 2000]}) == (
        0.0, 100.0, 300.0, pytest.approx(A4_HEIGHT)
    )
    assert visible_box(view, {"MediaBox": [0, 0, 1e30, 10.0]}) is None


def test_the_stamper_refuses_a_later_seal_the_policy_forbids(
    sealed: bytes, pki: Pki, seal: Seal
) -> None:
    x0, y0, _, _ = _seal_rect(sealed, "Seal1")
    with pytest.raises(PdfInputError, match="covers an earlier seal"):
        stamp(sealed, pki, seal, page=3, x_mm=x0 / 2.8346 + 5, y_mm=y0 / 2.8346 + 5, at=LATER)
    with pytest.raises(PdfInputError, match="at most 10%"):
        stamp(sealed, pki, seal, page=1, x_mm=10, y_mm=60, width_mm=180, at=LATER)
    # the first seal on a document may be as large as asked
    assert verify_pdf(stamp(PLAIN, pki, seal, page=1, x_mm=10, y_mm=60, width_mm=180)).ok


def test_the_new_answers_have_chinese_reasons(
    sealed: bytes, pki: Pki, seal: Seal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the counter clerk reads for each new kind of answer."""
    from verifier.checks.pdf_checks import verify_pdf_full
    from verifier.checks.seal_checks import pdf_verdict_of

    def zh(data: bytes) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for f in verify_pdf_full(data, None, anchors=[pki.root.certificate]).checks:
            assert re.search(r"[\u4e00-\u9fff]", f.reason_zh), f
            out.setdefault(f.name, []).append(f.reason_zh)
        return out

    foreign = zh(fake_seal(sealed, subfilter="adbe.pkcs7.detached", in_form=True))
    assert (
        "[Fake] 字段“Fake”中是 /SubFilter /adbe.pkcs7.detached 签名，不是 GB/T 38540 电子签章："
        "本服务无法核验这种签名，文件不能作为盖章文件受理" in foreign["pdf.format"]
    )
    assert "签章的签名范围无效，未查询链上存证" not in " ".join(foreign["pdf.anchored"])
    fake = zh(fake_seal(sealed))
    assert any("盖章后追加的内容不是完整的新签章" in r for r in fake["pdf.modifications"])
    _without_policy(monkeypatch)
    big = zh(stamp(sealed, pki, seal, page=1, x_mm=10, y_mm=60, width_mm=180, at=LATER))
    assert any("超出允许的位置或大小" in r for r in big["pdf.modifications"])
    monkeypatch.undo()
    _, page = last_page(sealed)
    content = page["Contents"]
    assert isinstance(content, Ref)
    evil = b"%d 0 obj\n(x)\nendobj\n" % content.num
    with later_seal_with(edit=lambda out: insert_before_xref(out, evil)):
        unlisted = zh(stamp(sealed, pki, seal, page=1, at=LATER))
    assert any("不属于任何已登记对象" in r for r in unlisted["pdf.modifications"])
    two = zh(stamp(sealed, pki, seal, page=1, at=LATER))
    assert "[Seal1] 盖章后只加盖了其他签章（均已核验通过）：第 3 版加盖签章“Seal2”" in two[
        "pdf.modifications"]
    ref, page = last_page(sealed)
    malformed = append_table_revision(sealed, {(ref.num, ref.gen): serialize(
        {**page, "Contents": Ref(content.num, 1)})})
    assert zh(malformed)["pdf.structure"][0].startswith("PDF 文件已损坏或格式不正确")
    assert pdf_verdict_of(verify_pdf(sealed)).outcome.value == "valid"
