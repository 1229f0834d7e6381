"""Certificate PDFs (certs.render): real PDFs read back with pypdf, rasterised with poppler's
pdftoppm and their QR codes decoded with zxing-cpp, also from a degraded "phone photo"."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pikepdf
import pytest
import segno
import zxingcpp
from PIL import Image, ImageEnhance, ImageFilter
from pypdf import PdfReader

from certs import qr
from certs.canonical import Anchor, CertificateDocument, IssuerSignature, disclose, make_document
from certs.issuance import key_id_of
from certs.merkle import MerkleTree
from certs.qrmatrix import qr_matrix
from certs.render import (
    ATTACHMENT_NAME,
    SEAL_PLACEMENT,
    FontMissing,
    FontSet,
    MissingGlyphWarning,
    default_fonts,
    render_certificate,
    short_code_of,
)
from certs.types import CertificateType
from seals.pdf.attachments import embedded_files
from seals.picture import draw_round_seal
from seals.sm2 import KeySigner, generate_private_key
from tests.certs.samples import (
    REGISTRY,
    TODAY,
    business_licence_request,
    certificate,
    example_request,
)
from verifier.checks.certificates import local_checks

RARE_HOLDER = "北京堃喆赟玥昇䶮𠮷科技有限公司"
RARE_PERSON = "王𠮷䶮"
NO_GLYPH = "\U000f0000"  # supplementary private use: no installed font has it


def anchored(request: dict[str, Any]) -> CertificateDocument:
    """A signed document in a three-leaf batch, as the pipeline makes it (no chain needed:
    the anchor's chain facts are placeholders; local checks do not read them)."""
    document = make_document(certificate(request))
    signer = KeySigner(generate_private_key())
    key_id = key_id_of(signer.public_key)
    signature = signer.sign_raw(document.signing_input(key_id))
    document = replace(
        document, signature=IssuerSignature(key_id, signer.public_key.point, signature)
    )
    tree = MerkleTree.build([b"\x01" * 32, document.leaf, b"\x02" * 32])
    anchor = Anchor(tree.root, tree.proof(1), 3005, "0x" + "11" * 20, "0x" + "22" * 32, 7)
    return replace(document, anchor=anchor)


def licence_request() -> dict[str, Any]:
    request = business_licence_request()
    request["holder"]["name"] = RARE_HOLDER
    request["fields"]["企业名称"] = RARE_HOLDER
    request["fields"]["法定代表人"] = RARE_PERSON
    return request


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return default_fonts()


@pytest.fixture(scope="module")
def licence_type() -> CertificateType:
    return REGISTRY.get(business_licence_request()["type"])


@pytest.fixture(scope="module")
def document() -> CertificateDocument:
    return anchored(licence_request())


@pytest.fixture(scope="module")
def pdf(document: CertificateDocument, licence_type: CertificateType, fonts: FontSet) -> bytes:
    picture = draw_round_seal("北京市朝阳区市场监督管理局").data
    return render_certificate(
        document, certificate_type=licence_type, seal_picture_png=picture, fonts=fonts
    )


def page_text(pdf: bytes, page: int = 0) -> str:
    return PdfReader(io.BytesIO(pdf)).pages[page].extract_text()


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def rasterise(pdf: bytes, tmp_path: Path, dpi: int = 150) -> Image.Image:
    source = tmp_path / "certificate.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", "-png",
         str(source), str(tmp_path / "page")],
        check=True,
    )
    with Image.open(tmp_path / "page.png") as image:
        return image.convert("RGB")


def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)
            if result.format == zxingcpp.BarcodeFormat.QRCode]


def test_chinese_text_including_rare_characters_is_copyable(
    pdf: bytes, document: CertificateDocument
) -> None:
    text = page_text(pdf)
    values = document.values()
    for expected in ("营业执照", "企业名称", "统一社会信用代码", "证照编号", "电子证照标识",
                     "签发日期", "2026年11月28日", "有效期", "长期", "发证机关",
                     "北京市朝阳区市场监督管理局", "法定代表人", "住所", "经营范围", "加注件",
                     RARE_HOLDER, RARE_PERSON, "䶮", "𠮷", "91110000101623741K",
                     str(values["identifier"])):
        assert expected in text, expected
    # the short code (核验码) is printed for manual entry, not the ~280-character payload
    assert short_code_of(document) in text
    assert squeeze(qr.payload_for(document).encode()) not in squeeze(text)


LABELS = ("持证主体", "企业名称", "统一社会信用代码", "居民身份证号码", "证照编号",
          "电子证照标识", "签发日期", "有效期", "发证机关", "类型", "法定代表人", "注册资本",
          "成立日期", "住所", "经营范围", "加注件", "核验码")


def poppler_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(source), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_no_label_appears_twice(pdf: bytes, tmp_path: Path) -> None:
    """Issue #21: 统一社会信用代码 and 企业名称 were each shown twice (the holder's rows and
    the licence's own fields), 发证机关 in the table and by the seal: each fact once now."""
    text = poppler_text(pdf, tmp_path)
    lines = [line.strip() for line in text.splitlines()]
    counts = {label: sum(1 for line in lines if line == label or line.startswith(label + "："))
              for label in LABELS}  # a label: a line of its own, or before a colon
    assert all(n <= 1 for n in counts.values()), counts
    for shown in ("企业名称", "统一社会信用代码", "发证机关", "签发日期", "核验码"):
        assert counts[shown] == 1, counts
    assert text.count(RARE_HOLDER) == 1 and text.count("91110000101623741K") == 1


def test_a_field_that_differs_from_the_holder_keeps_its_row(fonts: FontSet) -> None:
    """Only a field equal to the holder's name or code gives up its row: a person holder of
    the example type keeps 持证主体, and a free field is never merged into it."""
    request = example_request()
    request["fields"] = {"企业名称": "另一家公司", "备注": "无"}
    document = anchored(request)
    text = page_text(render_certificate(document, certificate_type=REGISTRY.get(request["type"]),
                                        seal_picture_png=None, fonts=fonts))
    assert "持证主体" in text and "另一家公司" in text and "企业名称" in text


def test_creation_date_is_the_issue_and_mod_date_the_sealing(
    document: CertificateDocument, licence_type: CertificateType, fonts: FontSet
) -> None:
    """Not reportlab's 2000-01-01: the certificate's issue date (00:00 北京时间), and the
    time it is sealed, when rendered to be sealed."""
    plain = render_certificate(document, certificate_type=licence_type, seal_picture_png=None,
                               fonts=fonts)
    with pikepdf.open(io.BytesIO(plain)) as doc:
        assert str(doc.docinfo["/CreationDate"]) == "D:20261128000000+08'00'"
        assert str(doc.docinfo["/ModDate"]) == "D:20261128000000+08'00'"
    sealed_at = dt.datetime(2026, 11, 28, 9, 30, 15, tzinfo=dt.UTC)
    later = render_certificate(document, certificate_type=licence_type, seal_picture_png=None,
                               fonts=fonts, modified=sealed_at)
    with pikepdf.open(io.BytesIO(later)) as doc:
        assert str(doc.docinfo["/CreationDate"]) == "D:20261128000000+08'00'"
        assert str(doc.docinfo["/ModDate"]) == "D:20261128173015+08'00'"
    assert b"D:20000101" not in plain + later


# ------------------------------------------------------------------ the seal multiplies

SEAL_NAME = "北京市朝阳区市场监督管理局"
T0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def agency() -> Any:
    """An issuer's key and seal (a local CA; no chain needed to stamp)."""
    from seals.ca import create_root, issue_seal_maker, issue_signer
    from seals.seal import SealSpec, create_seal
    from seals.ses import parse_seal
    from verifier.app.stamping import AgencyStamper

    root = create_root(now=T0 - dt.timedelta(days=30))
    maker = issue_seal_maker(root, now=T0 - dt.timedelta(days=30))
    uscc = "91110000101623741K"
    signer = issue_signer(root, uscc=uscc, name=SEAL_NAME, now=T0)
    seal = create_seal(
        SealSpec(name=SEAL_NAME, es_id=uscc + "0001", valid_from=T0,
                 valid_until=T0 + dt.timedelta(days=365), picture=draw_round_seal(SEAL_NAME),
                 signer_certificates=(signer.certificate,), created=T0),
        maker.certificate, maker.signer,
    )
    return AgencyStamper(uscc, parse_seal(seal.der), signer)


def draw(pdf: bytes, tmp_path: Path, tool: str, dpi: int = 150) -> Image.Image:
    """Page 1 rasterised by poppler (``pdftoppm``) or MuPDF (``mutool draw``)."""
    source = tmp_path / f"{tool}.pdf"
    source.write_bytes(pdf)
    out = tmp_path / f"{tool}.png"
    if tool == "poppler":
        command = ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", "-png",
                   str(source), str(out.with_suffix(""))]
    else:
        command = ["mutool", "draw", "-q", "-r", str(dpi), "-o", str(out), str(source), "1"]
    subprocess.run(command, check=True, capture_output=True)
    with Image.open(out) as image:
        return image.convert("RGB")


def seal_box(dpi: int) -> tuple[int, int, int, int]:
    """The seal's square on page 1 in pixels (left, top, right, bottom)."""
    place, px = SEAL_PLACEMENT, dpi / 25.4
    top = (297 - place.y_mm - place.width_mm) * px
    left = place.x_mm * px
    return (round(left), round(top), round(left + place.width_mm * px),
            round(top + place.width_mm * px))


@pytest.mark.parametrize("tool", ["poppler", "mupdf"])
@pytest.mark.parametrize("how", ["preview", "sealed"])
def test_the_date_under_the_seal_shows_through_it(
    tool: str, how: str, document: CertificateDocument, licence_type: CertificateType,
    fonts: FontSet, agency: Any, tmp_path: Path,
) -> None:
    """Issue #21: the opaque seal hid the month of the date. Drawn with blend mode Multiply
    (as seal ink), the glyphs under the seal's strokes stay dark, and the strokes elsewhere
    stay red. Checked as poppler and MuPDF draw it, for the preview (``seal_picture_png``)
    and for the sealed file (the seal signature's own appearance)."""
    from verifier.app.render import seal_certificate_pdf

    picture = draw_round_seal(SEAL_NAME).data
    bare = render_certificate(document, certificate_type=licence_type, seal_picture_png=None,
                              fonts=fonts)
    if how == "preview":
        shown = render_certificate(document, certificate_type=licence_type,
                                   seal_picture_png=picture, fonts=fonts)
    else:
        shown = seal_certificate_pdf(bare, issuer=agency.uscc, stamper=agency, at=T0)
    dpi = 200
    box = seal_box(dpi)
    size = (box[2] - box[0], box[3] - box[1])
    with Image.open(io.BytesIO(picture)) as seal_png:
        alpha = seal_png.convert("RGBA").getchannel("A").resize(size, Image.Resampling.BILINEAR)
    ink = alpha.point(lambda a: 255 if a > 128 else 0).filter(ImageFilter.MinFilter(5))
    text = draw(bare, tmp_path, tool, dpi).crop(box).convert("L")
    glyphs = text.point(lambda v: 255 if v < 90 else 0)
    near_glyphs = glyphs.filter(ImageFilter.MaxFilter(9))
    page = draw(shown, tmp_path, tool, dpi).crop(box)
    covered = [page.getpixel((x, y)) for y in range(size[1]) for x in range(size[0])
               if ink.getpixel((x, y)) and glyphs.getpixel((x, y))]
    red = [page.getpixel((x, y)) for y in range(size[1]) for x in range(size[0])
           if ink.getpixel((x, y)) and not near_glyphs.getpixel((x, y))]
    assert len(covered) > 80, len(covered)  # the date and the issuer's name lie under ink
    dark = [p for p in covered if p[0] < 120]
    assert len(dark) >= 0.9 * len(covered), (len(dark), len(covered), covered[:5])
    reddish = [p for p in red if p[0] > 150 and p[1] < 110 and p[2] < 110]
    assert len(red) > 2000 and len(reddish) >= 0.9 * len(red), (len(reddish), len(red))


def test_fonts_are_embedded_truetype_subsets(pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(pdf))
    resources: Any = reader.pages[0]["/Resources"]
    fonts = resources["/Font"]
    names = []
    for ref in fonts.values():
        font = ref.get_object()
        names.append(str(font["/BaseFont"]))
        assert font["/Subtype"] == "/TrueType"
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert "/ToUnicode" in font
    assert names and all(re.fullmatch(r"/[A-Z]{6}\+\S+", n) for n in names), names
    assert any("UMing" in n for n in names) and any("HanaMin" in n for n in names)  # 𠮷
    assert b"/Helvetica" not in pdf and b"/Courier" not in pdf


def test_qr_decodes_from_a_150_dpi_rendering(
    pdf: bytes, document: CertificateDocument, tmp_path: Path
) -> None:
    assert decoded(rasterise(pdf, tmp_path)) == [qr.payload_for(document).encode()]


def test_qr_decodes_from_an_80_dpi_rendering(
    pdf: bytes, document: CertificateDocument, tmp_path: Path
) -> None:
    """A low-resolution scan still reads: the ZY2 payload (which also carries the validity
    dates) keeps the 40 mm code small enough."""
    page = rasterise(pdf, tmp_path, dpi=80)
    assert decoded(page) == [qr.payload_for(document).encode()]
    assert qr.payload_for(document).encode().startswith("ZY2.")


def test_qr_decodes_from_a_degraded_phone_photo(
    pdf: bytes, document: CertificateDocument, tmp_path: Path
) -> None:
    page = rasterise(pdf, tmp_path)
    # smaller (120 dpi), out of focus, dull grey paper, askew, strongly JPEG-compressed
    photo = page.resize((page.width * 4 // 5, page.height * 4 // 5), Image.Resampling.BILINEAR)
    photo = photo.filter(ImageFilter.GaussianBlur(1.0))
    photo = ImageEnhance.Contrast(photo).enhance(0.7)
    photo = photo.rotate(4, resample=Image.Resampling.BILINEAR, expand=True,
                         fillcolor=(235, 235, 230))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=40)
    with Image.open(io.BytesIO(buffer.getvalue())) as jpeg:
        assert decoded(jpeg.convert("RGB")) == [qr.payload_for(document).encode()]


def test_embedded_certificate_json_is_the_document_and_verifies(
    pdf: bytes, document: CertificateDocument
) -> None:
    attached = embedded_files(pdf)
    assert list(attached) == [ATTACHMENT_NAME]
    assert attached[ATTACHMENT_NAME] == document.to_json().encode("utf-8")
    result = local_checks(attached[ATTACHMENT_NAME], TODAY)
    assert [(f.name, f.status.value) for f in result.fragments] == [
        ("certificate.format", "VALID"),
        ("certificate.integrity", "VALID"),
        ("certificate.signature", "VALID"),
        ("certificate.merkle_proof", "VALID"),
        ("certificate.validity", "VALID"),
    ]
    assert PdfReader(io.BytesIO(pdf)).attachments == {ATTACHMENT_NAME: [attached[ATTACHMENT_NAME]]}


def test_rendering_is_reproducible(
    pdf: bytes, document: CertificateDocument, licence_type: CertificateType, fonts: FontSet
) -> None:
    picture = draw_round_seal("北京市朝阳区市场监督管理局").data
    again = render_certificate(
        document, certificate_type=licence_type, seal_picture_png=picture, fonts=fonts
    )
    assert again == pdf


def test_hidden_claims_are_left_out(
    document: CertificateDocument, licence_type: CertificateType, fonts: FontSet
) -> None:
    shown = disclose(document, ["holder.code", "fields.注册资本"])
    text = page_text(render_certificate(
        shown, certificate_type=licence_type, seal_picture_png=None, fonts=fonts))
    assert "注册资本" not in text and "100万元人民币" not in text
    assert "企业名称" in text and RARE_HOLDER in text


def test_a_character_no_font_has_warns_and_still_renders(
    licence_type: CertificateType, fonts: FontSet
) -> None:
    request = licence_request()
    request["fields"]["住所"] = f"北京市朝阳区某某路{NO_GLYPH}号"
    document = anchored(request)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdf = render_certificate(
            document, certificate_type=licence_type, seal_picture_png=None, fonts=fonts
        )
    missing = [w for w in caught if issubclass(w.category, MissingGlyphWarning)]
    assert missing and "U+F0000" in str(missing[0].message)
    text = page_text(pdf)
    assert "北京市朝阳区某某路" in text and RARE_HOLDER in text


def test_long_certificates_continue_on_further_pages(fonts: FontSet) -> None:
    request: dict[str, Any] = {
        "type": "11100000000013338W032",
        "holder": {"name": "张三", "code": "11010519491231002X", "code_type": "111"},
        "issue_date": "2026-11-28",
        "valid_from": "2026-11-28",
        "valid_until": "2031-11-27",
        "jurisdiction": "360100",
        "fields": {f"事项{i:02d}": f"第{i}项：" + "许可经营范围内容" * 20 for i in range(40)},
    }
    document = anchored(request)
    pdf = render_certificate(document, certificate_type=REGISTRY.get(request["type"]),
                             seal_picture_png=None, fonts=fonts)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 3
    text = "".join(p.extract_text() for p in reader.pages)
    assert all(f"第{i}项" in text for i in range(40))
    assert "续页" in reader.pages[1].extract_text()


def test_no_cjk_font_is_font_missing(tmp_path: Path) -> None:
    with pytest.raises(FontMissing) as caught:
        FontSet.load(roots=[tmp_path])
    assert caught.value.code == "font_missing"
    assert "fonts-arphic-uming" in str(caught.value)


def test_an_unanchored_document_has_no_page(
    licence_type: CertificateType, fonts: FontSet
) -> None:
    document = replace(anchored(licence_request()), anchor=None)
    with pytest.raises(qr.QrPayloadError):
        render_certificate(document, certificate_type=licence_type, seal_picture_png=None,
                           fonts=fonts)


def test_qr_matrix_reads_back_at_segnos_version_and_level() -> None:
    for _ in range(6):  # salts and keys are random: six different payloads
        payload = qr.payload_for(anchored(licence_request())).encode()
        matrix = qr_matrix(payload, error="m")
        reference = segno.make(payload, error="m", micro=False, boost_error=False)
        assert (matrix.version, matrix.error) == (reference.version, "M")
        assert matrix.size == reference.symbol_size(border=0)[0]
        side = matrix.size + 8  # the 4-module quiet zone, 4 pixels a module
        picture = Image.new("L", (side * 4, side * 4), 255)
        for r, row in enumerate(matrix.rows):
            for c, dark in enumerate(row):
                if dark:
                    picture.paste(0, ((c + 4) * 4, (r + 4) * 4, (c + 5) * 4, (r + 5) * 4))
        read = zxingcpp.read_barcode(picture, formats=zxingcpp.BarcodeFormat.QRCode)
        assert read is not None and read.text == payload
        assert len(payload) < 300
