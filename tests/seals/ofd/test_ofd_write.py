"""Sealed OFD packages (seals.ofd.write) of certificates (certs.render_ofd), read back by
independent means: easyofd (PyPI) opens and draws them, OpenSSL verifies the SM2 signature
inside SignedValue.dat, FreeType (Pillow) loads the embedded font subsets, lxml walks the
XML, zxing-cpp decodes the QR code; the signed bytes follow ofdrw's reference file."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from lxml import etree
from ofd_testlib import assert_openssl_verifies
from PIL import Image, ImageFont
from seals_testlib import OFDRW, T0, Pki, make_seal

from certs import qr
from certs.canonical import CertificateDocument
from certs.render import ATTACHMENT_NAME, FontSet, default_fonts
from certs.render_ofd import certificate_ofd
from seals import sm2
from seals.ca import Issued
from seals.ofd.write import StampAnnot, write_ofd, write_sealed_ofd
from seals.ses import Seal, parse_signature
from tests.certs.samples import REGISTRY, TODAY, business_licence_request
from tests.certs.test_render import RARE_HOLDER, anchored, licence_request
from verifier.checks.certificates import local_checks

NS = {"ofd": "http://www.ofdspec.org/2016"}
AT = T0 + timedelta(days=2)
STAMP = StampAnnot(page=1, x=128.0, y=221.0, width=40.0, height=40.0)
"""Where verifier.app.render puts the seal (SEAL_PLACEMENT, a square picture)."""
SIGN = "Doc_0/Signs/Sign_0"
HERE = Path(__file__).resolve().parent
UMING = Path("/usr/share/fonts/truetype/arphic/uming.ttc")


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return default_fonts()


@pytest.fixture(scope="module")
def document() -> CertificateDocument:
    return anchored(licence_request())


@pytest.fixture(scope="module")
def seal(pki: Pki) -> Seal:
    return make_seal(pki)


def sealed_ofd(document: CertificateDocument, fonts: FontSet, seal: Seal, signer: Issued) -> bytes:
    licence = REGISTRY.get(business_licence_request()["type"])
    ofd = certificate_ofd(document, certificate_type=licence, fonts=fonts)
    return write_sealed_ofd(ofd, seal=seal, signer=signer.signer,
                            signer_certificate=signer.certificate, stamp=STAMP, at=AT)


@pytest.fixture(scope="module")
def package(document: CertificateDocument, fonts: FontSet, seal: Seal, pki: Pki) -> bytes:
    return sealed_ofd(document, fonts, seal, pki.signer)


def files(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


# ---------------------------------------------------------------- what the standard signs


def test_ofdrw_reference_signs_sm3_of_its_signature_xml() -> None:
    """The choice the writer follows, checked on ofdrw's own signed file with this project's
    SES parser: dataHash = SM3(Signature.xml bytes), propertyInfo = its path; each
    CheckValue = base64 SM3 of the referenced file."""
    ofdrw = files((OFDRW / "v4signed.ofd").read_bytes())
    signature_xml = ofdrw["Doc_0/Signs/Sign_0/Signature.xml"]
    value = parse_signature(ofdrw["Doc_0/Signs/Sign_0/SignedValue.dat"])
    assert value.data_hash == sm2.sm3(signature_xml)
    assert value.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    refs = xml(signature_xml).findall(".//ofd:Reference", NS)
    assert len(refs) == 13
    for ref in refs:
        data = ofdrw[ref.get("FileRef").lstrip("/")]
        assert ref.findtext("ofd:CheckValue", namespaces=NS) == base64.b64encode(
            sm2.sm3(data)).decode()


# -------------------------------------------------------------------- the written package


def test_every_file_is_referenced_with_its_sm3(package: bytes) -> None:
    entries = files(package)
    signature = xml(entries[f"{SIGN}/Signature.xml"])
    info = signature.find("ofd:SignedInfo", NS)
    assert info.findtext("ofd:SignatureMethod", namespaces=NS) == "1.2.156.10197.1.501"
    refs = info.find("ofd:References", NS)
    assert refs.get("CheckMethod") == "1.2.156.10197.1.401"
    checked = {r.get("FileRef"): r.findtext("ofd:CheckValue", namespaces=NS) for r in refs}
    unsigned = {"Doc_0/Signs/Signatures.xml", f"{SIGN}/Signature.xml", f"{SIGN}/SignedValue.dat"}
    assert set(checked) == {f"/{name}" for name in entries if name not in unsigned}
    for ref, value in checked.items():
        assert base64.b64decode(value) == sm2.sm3(entries[ref[1:]]), ref
    assert signature.findtext("ofd:SignedValue", namespaces=NS) == f"/{SIGN}/SignedValue.dat"
    listed = xml(entries["Doc_0/Signs/Signatures.xml"]).find("ofd:Signature", NS)
    assert listed.get("BaseLoc") == f"/{SIGN}/Signature.xml" and listed.get("Type") == "Seal"
    root = xml(entries["OFD.xml"])
    assert root.findtext(".//ofd:Signatures", namespaces=NS) == "Doc_0/Signs/Signatures.xml"
    assert root.findtext(".//ofd:DocRoot", namespaces=NS) == "Doc_0/Document.xml"


def test_stamp_annotation_names_page_one_and_the_seal_place(package: bytes) -> None:
    entries = files(package)
    stamp = xml(entries[f"{SIGN}/Signature.xml"]).find(".//ofd:StampAnnot", NS)
    page = xml(entries["Doc_0/Document.xml"]).find(".//ofd:Pages/ofd:Page", NS)
    assert page.get("BaseLoc") == "Pages/Page_0/Content.xml"
    assert stamp.get("PageRef") == page.get("ID")
    assert stamp.get("Boundary") == "128 221 40 40"


def test_signed_value_is_a_seal_signature_over_signature_xml(
    package: bytes, seal: Seal, pki: Pki
) -> None:
    entries = files(package)
    value = parse_signature(entries[f"{SIGN}/SignedValue.dat"])
    assert value.layout == "v4" and value.seal.der == seal.der
    assert value.data_hash == sm2.sm3(entries[f"{SIGN}/Signature.xml"])
    assert value.property_info == f"/{SIGN}/Signature.xml"
    assert value.signing_time == AT
    assert value.signer_certificate == pki.signer.certificate.der
    pki.signer.certificate.public_key().verify(value.tbs_der, value.signature)  # raises if not


def test_openssl_verifies_the_signature_value(
    package: bytes, openssl: str, tmp_path: Path
) -> None:
    """OpenSSL checks the SM2 signature of SignedValue.dat over its DER TBS_Sign with the
    signer certificate's key (ID 1234567812345678); a flipped byte of TBS_Sign fails."""
    value = parse_signature(files(package)[f"{SIGN}/SignedValue.dat"])
    assert_openssl_verifies(value, openssl, tmp_path)


def test_embedded_fonts_draw_every_character_in_freetype(package: bytes) -> None:
    """Each text object's characters are in its embedded font subset, and FreeType (Pillow)
    draws them: the rare 𠮷 (U+20BB7) comes from the HanaMin subset, as in the PDF."""
    entries = files(package)
    fonts = xml(entries["Doc_0/PublicRes.xml"])
    by_id = {f.get("ID"): f for f in fonts.findall(".//ofd:Font", NS)}
    assert fonts.get("BaseLoc") == "Res" and by_id
    page = xml(entries["Doc_0/Pages/Page_0/Content.xml"])
    drawn: dict[str, str] = {}
    for text in page.iter(f"{{{NS['ofd']}}}TextObject"):
        drawn[text.get("Font")] = drawn.get(text.get("Font"), "") + "".join(
            text.findtext("ofd:TextCode", namespaces=NS) or "")
        code = text.find("ofd:TextCode", NS)
        deltas = (code.get("DeltaX") or "").split()
        assert len(deltas) == len(code.text) - 1
    assert "𠮷" in "".join(drawn.values())
    for font_id, chars in drawn.items():
        font = by_id[font_id]
        data = entries[f"Doc_0/Res/{font.findtext('ofd:FontFile', namespaces=NS)}"]
        face = ImageFont.truetype(io.BytesIO(data), 48)
        for ch in set(chars) - {" "}:
            assert face.getmask(ch).getbbox() is not None, (font.get("FontName"), ch)
    size = sum(len(entries[f"Doc_0/Res/{f.findtext('ofd:FontFile', namespaces=NS)}"])
               for f in by_id.values())
    assert size < 400_000  # subsets, not the 20-30 MB font files


def test_certificate_json_is_attached_and_verifies(
    package: bytes, document: CertificateDocument
) -> None:
    entries = files(package)
    attachment = xml(entries["Doc_0/Attachs/Attachments.xml"]).find("ofd:Attachment", NS)
    assert attachment.get("Name") == ATTACHMENT_NAME and attachment.get("Format") == "json"
    data = entries[f"Doc_0/Attachs/{attachment.findtext('ofd:FileLoc', namespaces=NS)}"]
    assert data == document.to_json().encode("utf-8")
    assert xml(entries["Doc_0/Document.xml"]).findtext(".//ofd:Attachments",
                                                       namespaces=NS) == "Attachs/Attachments.xml"
    result = local_checks(data, TODAY)
    assert all(f.status.value == "VALID" for f in result.fragments), result.fragments


def test_qr_image_decodes_to_the_payload(package: bytes, document: CertificateDocument) -> None:
    entries = files(package)
    media = xml(entries["Doc_0/DocumentRes.xml"]).findall(".//ofd:MultiMedia", NS)
    pngs = [entries[f"Doc_0/Res/{m.findtext('ofd:MediaFile', namespaces=NS)}"] for m in media]
    assert len(pngs) == 1  # the QR code; the seal picture is the signature's, not an image
    with Image.open(io.BytesIO(pngs[0])) as image:
        texts = [r.text for r in zxingcpp.read_barcodes(image.convert("RGB"))]
    assert texts == [qr.payload_for(document).encode()]


def test_reproducible_but_for_the_signature_value(
    package: bytes, document: CertificateDocument, fonts: FontSet, seal: Seal, pki: Pki
) -> None:
    again = files(sealed_ofd(document, fonts, seal, pki.signer))
    first = files(package)
    assert list(again) == list(first)
    assert {k: v for k, v in again.items() if k != f"{SIGN}/SignedValue.dat"} == {
        k: v for k, v in first.items() if k != f"{SIGN}/SignedValue.dat"}


# ---------------------------------------------------------------- an independent renderer


def easyofd_render(package: bytes) -> tuple[Image.Image, dict[str, list[str]]]:
    """Page 1 as easyofd draws it, and the text read back. easyofd unzips next to the file
    into ``path.split('.')[0]`` and removes that directory after: it must run where no
    ``.`` is in the path (a fresh directory of ``tempfile``), or it would extract into, and
    delete, an ancestor."""
    with tempfile.TemporaryDirectory(prefix="easyofd_") as scratch:
        where = Path(scratch)
        assert "." not in str(where), f"easyofd cannot run safely under {where}"
        (where / "in").write_bytes(package)
        (where / "simsun.ttc").symlink_to(UMING)  # easyofd's one CJK font name (the script)
        done = subprocess.run([sys.executable, str(HERE / "easyofd_render.py"), "in"],
                              cwd=where, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        with Image.open(where / "page-0.png") as page:
            image = page.convert("RGB")
        return image, json.loads((where / "text.json").read_text(encoding="utf-8"))


def red_share(image: Image.Image, box: StampAnnot) -> float:
    """The share of seal-red pixels in a box (mm from the top left of an A4 page)."""
    sx, sy = image.width / 210, image.height / 297
    crop = image.crop((round(box.x * sx), round(box.y * sy), round((box.x + box.width) * sx),
                       round((box.y + box.height) * sy)))
    pixels = list(crop.getdata())
    red = sum(1 for r, g, b in pixels if r > 150 and g < 110 and b < 110)
    return red / len(pixels)


def test_easyofd_draws_the_text_and_the_stamp(
    package: bytes, document: CertificateDocument, fonts: FontSet
) -> None:
    sealed_page, sealed_text = easyofd_render(package)
    text = "".join(sealed_text["pages"][0].split())
    for expected in ("营业执照", "电子证照", "统一社会信用代码", "91110000101623741K",
                     "北京市朝阳区市场监督管理局", "扫描二维码核验",
                     RARE_HOLDER.replace("𠮷", "")[:8]):
        assert expected in text, expected
    assert RARE_HOLDER in "".join(sealed_text["parsed"])  # 𠮷 too, in the parsed text
    assert red_share(sealed_page, STAMP) > 0.08
    # the same certificate unsealed: nothing red where the stamp goes
    plain = write_ofd(certificate_ofd(
        document, certificate_type=REGISTRY.get(business_licence_request()["type"]),
        fonts=fonts))
    plain_page, _ = easyofd_render(plain)
    assert red_share(plain_page, STAMP) < 0.001
    # and the QR code of the drawn page scans
    texts = [r.text for r in zxingcpp.read_barcodes(sealed_page)]
    assert texts == [qr.payload_for(document).encode()]


def test_a_rendered_certificate_ofd_verifies_in_the_ofd_verifier(package: bytes, pki: Pki) -> None:
    """The writer and the reader agree on what is signed: the package verifies, one seal."""
    from seals.ofd.verify import verify_ofd

    report = verify_ofd(package, anchors=[pki.root.certificate], at=T0, now=T0)
    assert report.ok and len(report.signatures) == 1


def test_a_second_certificate_attachment_is_never_judged_as_one_file(
    package: bytes, pki: Pki, seal: Seal
) -> None:
    """Which certificate a sealed OFD carries must be one file: a second attachment named
    certificate.json (sealed with the rest) makes the file unreadable as a certificate —
    never a verdict on whichever of the two a reader happens to take."""
    from ofd_testlib import rezip, sign_into

    from verifier.checks.ofd_checks import read_ofd

    plain = read_ofd(package, anchors=[pki.root.certificate], at=AT)
    assert plain.certificate is not None
    assert plain.certificate == files(package)["Doc_0/Attachs/certificate.json"]
    parts = {n: d for n, d in files(package).items() if not n.startswith(SIGN)}
    parts["Doc_0/Signs/Signatures.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="{NS["ofd"]}">'
        "<ofd:MaxSignId>1</ofd:MaxSignId></ofd:Signatures>").encode()
    listed = parts["Doc_0/Attachs/Attachments.xml"]
    assert listed.count(b"</ofd:Attachments>") == 1
    parts["Doc_0/Attachs/Attachments.xml"] = listed.replace(
        b"</ofd:Attachments>",
        b'<ofd:Attachment ID="990" Name="certificate.json"><ofd:FileLoc>other.json'
        b"</ofd:FileLoc></ofd:Attachment></ofd:Attachments>")
    parts["Doc_0/Attachs/other.json"] = plain.certificate  # a second copy (or another one)
    sign_into(parts, pki, seal, [n for n in parts if n != "Doc_0/Signs/Signatures.xml"],
              folder=SIGN, at=AT)
    forged = read_ofd(rezip(parts), anchors=[pki.root.certificate], at=AT)
    assert forged.certificate is None
    [check] = forged.verdict.checks
    assert check.status.value == "INVALID" and check.data["error"] == "ofd_certificate_attachment"


def test_the_short_code_is_on_the_page_as_on_the_pdf(
    package: bytes, document: CertificateDocument
) -> None:
    """The OFD shares the PDF's layout: the short code (核验码) for manual entry, not the
    ~280-character QR payload."""
    from certs.render import short_code_of

    page = xml(files(package)["Doc_0/Pages/Page_0/Content.xml"])
    lines = ["".join(t.findtext("ofd:TextCode", namespaces=NS) or "")
             for t in page.iter(f"{{{NS['ofd']}}}TextObject")]
    assert short_code_of(document) in lines
    assert not any(qr.payload_for(document).encode()[:40] in line for line in lines)
