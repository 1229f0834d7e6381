"""The PDF signature attacks a verifier must catch, each built from a real sealed PDF:
incremental saving (appended content, garbage), signature wrapping (/ByteRange skipping bytes,
pointing elsewhere, /Contents moved), universal forgery (no or empty /Contents or
/ByteRange), flipped bytes, truncation, and shadow attacks (objects redefined later)."""

from __future__ import annotations

import random
import re

from pdf_testlib import LATER, PLAIN, append_revision, stamp
from seals_testlib import Pki

from seals.errors import SealError
from seals.pdf import PdfReport, verify_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, Ref, Stream, serialize
from seals.seal import StepStatus
from seals.ses import Seal


def statuses(report: PdfReport) -> dict[str, StepStatus]:
    (sig,) = report.signatures[:1]
    return {s.name: s.status for s in sig.steps}


def invalid(report: PdfReport, step: str) -> str:
    assert not report.ok
    s = report.signatures[0].report().step(step)
    assert s.status is StepStatus.INVALID, s
    return s.reason


def rejected(data: bytes) -> bool:
    """True when verification refuses the file or says it is not validly sealed."""
    try:
        return not verify_pdf(data).ok
    except SealError:
        return True


def last_page(pdf: bytes) -> tuple[Ref, dict[str, object]]:
    ref, page, _ = PdfFile(pdf).view().page(2)
    return ref, page


# ------------------------------------------------------------- incremental saving attack


def test_appended_revision_changing_page_content(sealed: bytes) -> None:
    view = PdfFile(sealed).view()
    ref, page = last_page(sealed)
    contents = page["Contents"]
    new_num = view.size
    evil = Stream({}, b"BT /F1 48 Tf 72 400 Td (VOID) Tj ET")
    # 1: the page gets an extra content stream
    page2 = {**page, "Contents": [contents, Ref(new_num)]}
    out = append_revision(sealed, {ref.num: serialize(page2), new_num: serialize(evil)})
    reason = invalid(verify_pdf(out), "pdf.modifications")
    assert f"page object {ref.num} was changed (Contents)" in reason
    # the seal itself is still intact: only the modifications step fails
    assert statuses(verify_pdf(out))["pdf.digest"] is StepStatus.VALID
    # 2: the content stream object itself is replaced (same number)
    assert isinstance(contents, Ref)
    out = append_revision(sealed, {contents.num: serialize(evil)})
    assert f"object {contents.num} (stream) was changed" in invalid(
        verify_pdf(out), "pdf.modifications"
    )


def test_appended_garbage(sealed: bytes) -> None:
    for tail in (b"garbage", b"\n1 0 obj\n<<>>\nendobj\n", b"%%EOF\n", b"\x00\x01\x02"):
        reason = invalid(verify_pdf(sealed + tail), "pdf.modifications")
        assert "after the end of the last revision" in reason
    # whitespace after %%EOF is ignored, and said so
    step = verify_pdf(sealed + b"\r\n  \n").signatures[0].report().step("pdf.modifications")
    assert step.status is StepStatus.VALID and "whitespace" in step.reason


def test_appended_objects_with_a_startxref_to_the_old_xref(sealed: bytes) -> None:
    startxref = PdfFile(sealed).startxref
    out = sealed + b"99 0 obj\n(hidden)\nendobj\nstartxref\n%d\n%%%%EOF\n" % startxref
    assert "no revision" in invalid(verify_pdf(out), "pdf.modifications")


def test_a_later_unsigned_form_field_is_not_a_seal(sealed: bytes, pki: Pki, seal: Seal) -> None:
    two = stamp(sealed, pki, seal, page=1, at=LATER)
    ok = verify_pdf(two)
    assert ok.ok
    # a later 'seal' revision that also changes the page's resources is not allowed
    view = PdfFile(two).view()
    ref, page = last_page(two)
    page2 = {**page, "Rotate": 90}
    out = append_revision(two, {ref.num: serialize(page2)})
    report = verify_pdf(out)
    assert not report.ok
    for sig in report.signatures:
        assert sig.report().step("pdf.modifications").status is StepStatus.INVALID
    assert view.size > 0


# ------------------------------------------------------------------- signature wrapping


def _replace_byte_range(pdf: bytes, new: bytes) -> bytes:
    m = re.search(rb"/ByteRange (\[[0-9 ]+\] *)", pdf)
    assert m is not None
    slot = m.group(1)
    assert len(new) <= len(slot)
    return pdf[: m.start(1)] + new.ljust(len(slot)) + pdf[m.end(1) :]


def byte_range(pdf: bytes) -> list[int]:
    m = re.search(rb"/ByteRange \[([0-9 ]+)\]", pdf)
    assert m is not None
    return [int(v) for v in m.group(1).split()]


def test_byte_range_that_skips_bytes(sealed: bytes) -> None:
    a, b, c, d = byte_range(sealed)
    for bad in ([a, b, c, d - 100], [a, b - 10, c, d], [a, b, c + 10, d - 10], [5, b - 5, c, d]):
        out = _replace_byte_range(sealed, b"[%d %d %d %d]" % tuple(bad))
        assert rejected(out)
        invalid(verify_pdf(out), "pdf.byte_range")


def test_byte_range_pointing_elsewhere(sealed: bytes) -> None:
    _a, b, c, d = byte_range(sealed)
    # the gap moved onto another hex string of the file (the xref has none: use the ID)
    m = re.search(rb"/ID\s*\[\s*(<[0-9a-fA-F]+>)", sealed)
    assert m is not None
    start, end = m.start(1), m.end(1)
    out = _replace_byte_range(sealed, b"[0 %d %d %d]" % (start, end, len(sealed) - end))
    invalid(verify_pdf(out), "pdf.byte_range")
    # ranges outside the file, overlapping, negative-looking, too few numbers
    for bad in (
        b"[0 %d %d %d]" % (b, c, d + 1),
        b"[0 %d %d %d]" % (c, b, d),
        b"[0 %d %d]" % (b, c),
    ):
        out = _replace_byte_range(sealed, bad)
        invalid(verify_pdf(out), "pdf.byte_range")


def test_contents_moved(sealed: bytes) -> None:
    """Signature wrapping: the signed /Contents moved to the end of the file, the gap now
    covering a new signature dictionary of the attacker's choosing."""
    a, b, c, d = byte_range(sealed)
    hexsig = sealed[b:c]
    view = PdfFile(sealed).view()
    (_, field, _), *_ = [f for f in view.fields() if f[1].get("FT") == "Sig"]
    sig_num = field["V"].num
    # the attacker redefines the signature dictionary in a new revision: same /Contents,
    # /ByteRange naming the old ranges; the file also gets a changed page
    ref, page = last_page(sealed)
    forged = (
        b"<</Type /Sig /Filter /Zhengyin.SES /SubFilter /GB.T38540.SES_Signature "
        b"/ByteRange [%d %d %d %d] /Contents " % (a, b, c, d) + hexsig + b">>"
    )
    out = append_revision(
        sealed, {sig_num: forged, ref.num: serialize({**page, "Rotate": 180})}
    )
    assert rejected(out)


# --------------------------------------------------------------------- universal forgery


def test_missing_or_empty_contents_and_byte_range(sealed: bytes) -> None:
    _a, b, c, _d = byte_range(sealed)
    zeros = sealed[:b] + b"<" + b"0" * (c - b - 2) + b">" + sealed[c:]
    assert "no /Contents" in invalid(verify_pdf(zeros), "pdf.byte_range")
    m = re.search(rb"/ByteRange \[[0-9 ]+\] *", sealed)
    assert m is not None
    blank = sealed[: m.start()] + b" " * (m.end() - m.start()) + sealed[m.end() :]
    assert "no /ByteRange" in invalid(verify_pdf(blank), "pdf.byte_range")
    empty = _replace_byte_range(sealed, b"[]")
    assert "no /ByteRange" in invalid(verify_pdf(empty), "pdf.byte_range")
    null = sealed[: m.start()] + b"/ByteRange null".ljust(m.end() - m.start()) + sealed[m.end() :]
    assert rejected(null)
    nocontents = sealed[: b - 10] + b"/Xontents " + sealed[b:]
    assert rejected(nocontents)


def _chinese_range_reason(report: PdfReport) -> str:
    step = report.signatures[0].report().step("pdf.byte_range")
    assert step.status is StepStatus.INVALID, step
    return step.reason_zh


_ENGLISH = re.compile(r"[A-Za-z]{3,}")
_PDF_WORDS = re.compile(r"/[A-Za-z]+|%%EOF")


def test_a_byte_range_reason_is_chinese_throughout(sealed: bytes) -> None:
    """What is wrong with a /ByteRange is said in the Chinese reason in Chinese (PDF names such
    as /ByteRange aside), not as an English sentence of technical detail."""
    _a, b, c, d = byte_range(sealed)
    zeros = sealed[:b] + b"<" + b"0" * (c - b - 2) + b">" + sealed[c:]
    m = re.search(rb"/ByteRange \[[0-9 ]+\] *", sealed)
    assert m is not None
    blank = sealed[: m.start()] + b" " * (m.end() - m.start()) + sealed[m.end() :]
    cases = {
        "没有 /Contents": zeros,
        "没有 /ByteRange": blank,
        "不是四个整数": _replace_byte_range(sealed, b"[0 %d %d]" % (b, c)),
        "从第 5 字节而不是第 0 字节开始": _replace_byte_range(
            sealed, b"[5 %d %d %d]" % (b - 5, c, d)
        ),
        "指向文件之外": _replace_byte_range(sealed, b"[0 %d %d %d]" % (b, c, d + 1)),
        "不是某一版本的结尾": _replace_byte_range(sealed, b"[0 %d %d %d]" % (b, c, d - 100)),
    }
    for expected, pdf in cases.items():
        zh = _chinese_range_reason(verify_pdf(pdf))
        assert zh.startswith("签名范围（/ByteRange）不正确：") and expected in zh, zh
        assert not _ENGLISH.search(_PDF_WORDS.sub("", zh)), zh
    # the English reason is as it was
    report = verify_pdf(blank).signatures[0].report()
    assert report.step("pdf.byte_range").reason == (
        "the signature has no /ByteRange: it protects nothing"
    )


def test_a_modification_reason_is_chinese_throughout(sealed: bytes) -> None:
    """What a later revision changed is said in the Chinese reason in Chinese (PDF key names
    aside), not as the English sentence."""
    ref, page = last_page(sealed)
    changed = append_revision(sealed, {ref.num: serialize({**page, "Rotate": 90})})
    step = verify_pdf(changed).signatures[0].report().step("pdf.modifications")
    assert step.status is StepStatus.INVALID
    m = re.search(rf"revision (\d+): page object {ref.num} was changed \(Rotate\)", step.reason)
    assert m is not None, step.reason
    zh = step.reason_zh
    assert f"第 {m.group(1)} 版：页面对象 {ref.num} 被改动（Rotate）" in zh, zh
    assert f"第 {m.group(1)} 版：该版本没有加入已签名的签名字段，不是盖章" in zh, zh
    assert not _ENGLISH.search(_PDF_WORDS.sub("", zh.replace("Rotate", ""))), zh


def test_forged_signature_field_in_a_later_revision(sealed: bytes) -> None:
    """A later revision adding a signature field whose signature has no /Contents."""
    view = PdfFile(sealed).view()
    n = view.size
    ref, page = last_page(sealed)
    acro_ref = view.catalog()[1]["AcroForm"]
    acro = view.resolve(acro_ref)
    widget = {
        "Type": Name("Annot"), "Subtype": Name("Widget"), "FT": Name("Sig"), "T": b"Fake",
        "V": Ref(n + 1), "P": ref, "Rect": [0, 0, 10, 10],
    }
    out = append_revision(
        sealed,
        {
            n: serialize(widget),
            n + 1: serialize({"Type": Name("Sig"), "SubFilter": Name("GB.T38540.SES_Signature")}),
            ref.num: serialize({**page, "Annots": [*view.resolve(page["Annots"]), Ref(n)]}),
            acro_ref.num: serialize({**acro, "Fields": [*acro["Fields"], Ref(n)]}),
        },
    )
    report = verify_pdf(out)
    assert not report.ok
    fake = next(s for s in report.signatures if s.field == "Fake")
    assert "no /ByteRange" in fake.report().step("pdf.byte_range").reason
    real = next(s for s in report.signatures if s.field == "Seal1")
    first = real.report().step("pdf.modifications")
    assert first.status is StepStatus.INVALID and "without a new signature" in first.reason


# ------------------------------------------------------------- flipped bytes, truncation


def test_flipped_bytes_anywhere_in_the_signed_range(sealed: bytes) -> None:
    _a, b, c, d = byte_range(sealed)
    rng = random.Random(38540)
    positions = rng.sample(range(0, b), 60) + rng.sample(range(c, c + d), 60)
    positions += [0, b - 1, c, len(sealed) - 1]
    for pos in positions:
        out = sealed[:pos] + bytes([sealed[pos] ^ 0x01]) + sealed[pos + 1 :]
        assert rejected(out), f"a flipped byte at {pos} went unnoticed"


def test_changed_bytes_inside_contents_break_the_signature(sealed: bytes) -> None:
    _a, b, c, _d = byte_range(sealed)
    rng = random.Random(7)
    for pos in rng.sample(range(b + 1, c - 1), 20):
        digit = b"1" if sealed[pos : pos + 1] != b"1" else b"2"
        assert rejected(sealed[:pos] + digit + sealed[pos + 1 :]), pos


def test_truncated_mid_file(sealed: bytes) -> None:
    original_end = len(PLAIN)
    rng = random.Random(5)
    cuts = [*rng.sample(range(1, len(sealed) - 1), 40), len(sealed) - 1, len(sealed) - 7]
    for cut in cuts:
        data = sealed[:cut]
        if cut in (original_end, original_end + 1):
            continue  # exactly the original file: a valid, unsealed PDF
        assert rejected(data), cut


# ------------------------------------------------------------------------ shadow attacks


def test_shadow_replace_a_font_resource(sealed: bytes) -> None:
    """Hide-and-replace: a later revision redefines an object the page shows (its font)."""
    view = PdfFile(sealed).view()
    _, page = last_page(sealed)
    fonts = view.resolve(view.resolve_dict(page["Resources"])["Font"])
    font_ref = next(iter(fonts.values()))
    font = view.resolve(font_ref)
    out = append_revision(sealed, {font_ref.num: serialize({**font, "BaseFont": Name("Symbol")})})
    assert f"object {font_ref.num} (/Font) was changed (BaseFont)" in invalid(
        verify_pdf(out), "pdf.modifications"
    )


def test_shadow_define_an_object_the_sealed_revision_referred_to(pki: Pki, seal: Seal) -> None:
    """The attacker prepares the document with a reference to an undefined object (shown as
    nothing), has it sealed, then defines the object in a later revision."""
    view = PdfFile(PLAIN).view()
    ref, page = last_page(PLAIN)
    hidden = view.size + 50
    prepared = append_revision(
        PLAIN, {ref.num: serialize({**page, "Contents": [page["Contents"], Ref(hidden)]})}
    )
    sealed = stamp(prepared, pki, seal)
    assert verify_pdf(sealed).ok
    evil = Stream({}, b"BT /F1 48 Tf 72 400 Td (PAID) Tj ET")
    out = append_revision(sealed, {hidden: serialize(evil)})
    reason = invalid(verify_pdf(out), "pdf.modifications")
    assert f"object {hidden} was referred to but undefined" in reason


def test_shadow_overlay_via_a_later_seal_with_extra_changes(
    pki: Pki, seal: Seal, sealed: bytes
) -> None:
    """A genuine later seal is fine; the same revision also deleting an object is not."""
    two = stamp(sealed, pki, seal, page=1, at=LATER)
    view = PdfFile(two).view()
    _ref, page = last_page(two)
    # delete the last page's content stream through a free entry: write an xref by hand
    contents = page["Contents"]
    assert isinstance(contents, Ref)
    file = PdfFile(two)
    offset = len(two)
    xref = b"xref\n%d 1\n0000000000 00001 f\r\ntrailer\n" % contents.num
    xref += serialize({"Size": view.size, "Root": view.trailer["Root"], "Prev": file.startxref})
    out = two + xref + b"\nstartxref\n%d\n%%%%EOF\n" % offset
    report = verify_pdf(out)
    assert not report.ok
    assert f"object {contents.num} was deleted" in invalid(report, "pdf.modifications")


# ------------------------------------------------------------- what the counter clerk reads


def test_every_pdf_and_seal_check_has_a_chinese_reason(
    pki: Pki, seal: Seal, sealed: bytes
) -> None:
    """The verifier turns each step into a verdict fragment with a Chinese ``reason_zh`` (the
    counter page shows it): for sealed PDFs valid, attacked, unreadable or unsealed, for a
    chain that cannot be read, and for seals and seal signatures on their own."""
    from datetime import timedelta

    from seals_testlib import T0

    from seals.seal import verify_seal, verify_signature
    from verifier.checks.certificates import ChainFacts
    from verifier.checks.pdf_checks import verify_pdf_full
    from verifier.checks.seal_checks import pdf_verdict_of, verdict_of
    from verifier.checks.verdict import Verdict

    cjk = re.compile(r"[\u4e00-\u9fff]")

    def chinese(verdict: Verdict) -> dict[str, str]:
        assert verdict.checks
        for f in verdict.checks:
            assert f.reason_zh and cjk.search(f.reason_zh), f
            assert f.to_json()["reason_zh"] == f.reason_zh
        return {f.name: f.reason_zh for f in verdict.checks}

    anchors = [pki.root.certificate]
    good = pdf_verdict_of(verify_pdf(sealed, anchors=anchors))
    assert good.outcome.value == "valid"
    zh = chinese(good)
    assert zh["seal.structure"] == (
        "[Seal1] 签章内嵌 v4 印章“北京市测试局”（印章编码 91110000101623741K0001）"
    )
    assert "签章时间 2025-03-02 16:00:00（北京时间）" in zh["seal.maker_certificate"]
    assert "信任根 Zhengyin Development Root CA" in zh["signature.signer_path"]
    assert zh["pdf.modifications"] == "[Seal1] 盖章后文件未被改动"
    assert zh["pdf.signatures"] == "共 1 个电子签章：Seal1"
    # the English reasons stay as they were
    assert good.checks[1].reason == "1 seal signature(s): Seal1"

    expired = chinese(pdf_verdict_of(verify_pdf(sealed, at=T0 + timedelta(days=4000),
                                                 anchors=anchors)))
    assert "已过期（有效期至 2026-03-01 16:00:00（北京时间））" in expired["seal.validity"]
    assert "证书链不可信" in expired["seal.maker_path"]

    ref, page = last_page(sealed)
    changed = append_revision(sealed, {ref.num: serialize({**page, "Rotate": 90})})
    assert "盖章后文件被改动过" in chinese(pdf_verdict_of(verify_pdf(changed)))[
        "pdf.modifications"]
    at = sealed.index(b"stream\n") + 20  # inside the first stream's data: still a PDF
    flipped = sealed[:at] + bytes([sealed[at] ^ 1]) + sealed[at + 1 :]
    assert "SM3 摘要不符" in chinese(pdf_verdict_of(verify_pdf(flipped)))["pdf.digest"]
    _a, b, c, _d = byte_range(sealed)
    zeros = sealed[:b] + b"<" + b"0" * (c - b - 2) + b">" + sealed[c:]
    assert "签名范围" in chinese(pdf_verdict_of(verify_pdf(zeros)))["pdf.byte_range"]
    two = pdf_verdict_of(verify_pdf(stamp(sealed, pki, seal, page=1, at=LATER)))
    chinese(two)
    assert [f.reason_zh for f in two.checks if f.name == "pdf.modifications"] == [
        "[Seal1] 盖章后只加盖了其他签章（均已核验通过）：第 3 版加盖签章“Seal2”",
        "[Seal2] 盖章后文件未被改动",
    ]
    unsealed = chinese(pdf_verdict_of(verify_pdf(PLAIN)))
    assert "没有 GB/T 38540 电子签章" in unsealed["pdf.signatures"]

    no_chain = verify_pdf_full(sealed, None, anchors=[])
    zh = chinese(no_chain)
    assert "未配置信任根证书" in zh["seal.maker_path"]
    assert "没有配置区块链" in zh["pdf.anchored"]
    truncated = verify_pdf_full(sealed[:500], None, anchors=[])
    assert truncated.outcome.value == "invalid"
    assert "PDF 文件已损坏" in chinese(truncated)["pdf.structure"]

    def unreachable() -> ChainFacts:
        raise ConnectionError("the chain at http://127.0.0.1:1 did not answer")

    down = verify_pdf_full(sealed, unreachable, anchors=anchors)
    assert down.outcome.value == "error"
    assert "无法读取区块链" in chinese(down)["pdf.anchored"]

    assert "制章者证书可追溯到信任根" in chinese(
        verdict_of(verify_seal(seal, at=T0 + timedelta(days=2), anchors=anchors))
    )["seal.maker_path"]
    assert "不是有效的 GB/T 38540 电子签章" in chinese(verdict_of(verify_signature(b"junk")))[
        "signature.structure"]
