"""Stamping existing OFD packages (seals.ofd.stamp): ofdrw's sealed samples, a certificate
OFD sealed once and again, an unsealed package. Each result is checked by the project's OFD
verifier (earlier signatures exactly as before, the new one valid), by OpenSSL (the SM2 value
of the new SignedValue.dat) and by easyofd (an independent reader draws every stamp)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ofd_testlib import assert_openssl_verifies, files_of, fixture, raw_zip, rezip, sign_into
from seals_testlib import OFDRW, T0, Pki, make_seal

from certs.canonical import CertificateDocument
from certs.render import ATTACHMENT_NAME, FontSet, default_fonts
from certs.render_ofd import certificate_ofd
from seals import sm2
from seals.errors import SealError
from seals.ofd.stamp import stamp_ofd
from seals.ofd.verify import OfdReport, verify_ofd
from seals.ofd.write import StampAnnot, stored_entries, write_ofd, write_sealed_ofd
from seals.ses import Seal, parse_signature
from seals.x509 import load_certificate
from tests.certs.samples import REGISTRY, business_licence_request
from tests.certs.test_render import anchored, licence_request
from tests.seals.ofd.test_ofd_write import STAMP, easyofd_render, red_share

AT = T0 + timedelta(days=2)
LATER = T0 + timedelta(days=3)
SECOND = StampAnnot(page=1, x=20.0, y=297 - 20 - 40, width=40.0, height=40.0)
"""Where ``x=20, y=20`` (bottom-left corner from the page's bottom-left) puts a 40 mm seal."""


@pytest.fixture(scope="module")
def seal(pki: Pki) -> Seal:
    return make_seal(pki)


@pytest.fixture(scope="module")
def fonts() -> FontSet:
    return default_fonts()


@pytest.fixture(scope="module")
def document() -> CertificateDocument:
    return anchored(licence_request())


def certificate(document: CertificateDocument, fonts: FontSet):  # type: ignore[no-untyped-def]
    return certificate_ofd(document, certificate_type=REGISTRY.get(
        business_licence_request()["type"]), fonts=fonts)


@pytest.fixture(scope="module")
def sealed_once(document: CertificateDocument, fonts: FontSet, seal: Seal, pki: Pki) -> bytes:
    return write_sealed_ofd(certificate(document, fonts), seal=seal, signer=pki.signer.signer,
                            signer_certificate=pki.signer.certificate, stamp=STAMP, at=AT)


@pytest.fixture(scope="module")
def sealed_twice(sealed_once: bytes, seal: Seal, pki: Pki) -> bytes:
    return stamp(sealed_once, seal, pki, x_mm=20, y_mm=20)


def stamp(data: bytes, seal: Seal, pki: Pki, **place: float) -> bytes:
    return stamp_ofd(data, seal=seal, signer=pki.signer.signer,
                     signer_certificate=pki.signer.certificate, at=LATER,
                     **place)  # type: ignore[arg-type]


def verify(data: bytes, pki: Pki) -> OfdReport:
    ofdrw_root = load_certificate((OFDRW / "ROOT.pem").read_bytes())
    return verify_ofd(data, anchors=[pki.root.certificate, ofdrw_root], now=LATER)


def statuses(report: OfdReport) -> dict[str, dict[str, str]]:
    return {s.field: {c.name: c.status.value for c in s.steps} for s in report.signatures}


# ------------------------------------------------------------- earlier signatures intact


@pytest.mark.parametrize("name", ["v4signed.ofd", "SESV4SignDoc.ofd"])
def test_ofdrw_samples_stamped_keep_their_signature_as_it_was(
    name: str, seal: Seal, pki: Pki
) -> None:
    """ofdrw's sealed samples, stamped: every file they had is byte for byte the same but
    Signatures.xml (one signature more); ofdrw's signature verifies exactly as before (every
    step the same status); the new signature is valid."""
    original = fixture(name)
    sealed = stamp(original, seal, pki)
    before, after = files_of(original), files_of(sealed)
    listed = "Doc_0/Signs/Signatures.xml"
    assert {k: v for k, v in before.items() if k != listed} == {
        k: v for k, v in after.items() if k in before and k != listed}
    new = sorted(set(after) - set(before))
    assert new == ["Doc_0/Signs/Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/SignedValue.dat"]
    assert after[listed].count(b"<ofd:Signature ") == 2
    old_report, new_report = verify(original, pki), verify(sealed, pki)
    old = statuses(old_report)
    assert statuses(new_report)["Doc_0/Signs/Sign_0/Signature.xml"] == old[
        "Doc_0/Signs/Sign_0/Signature.xml"]
    mine = new_report.signatures[1]
    assert mine.field == "Doc_0/Signs/Sign_1/Signature.xml" and mine.ok, [
        (c.name, c.status.value) for c in mine.steps]
    assert mine.signing_time == LATER
    # the new signature protects every file but Signatures.xml and its own two
    # each unchanged entry is copied as it was stored (not inflated and deflated again)
    kept, written = stored_entries(original, before), stored_entries(sealed, after)
    for path in set(before) - {listed}:
        assert written[path] == kept[path], path
    refs = next(c for c in mine.steps if c.name == "ofd.references")
    assert refs.data["files"] == sorted(set(after) - {listed, *new})
    assert {s.name: s.status.value for s in new_report.steps} == {
        "ofd.structure": "VALID", "ofd.signatures": "VALID", "ofd.files": "VALID"}


def test_a_certificate_sealed_twice_verifies_both(sealed_twice: bytes, pki: Pki) -> None:
    report = verify_ofd(sealed_twice, anchors=[pki.root.certificate], now=LATER)
    assert report.ok and len(report.signatures) == 2
    first, second = report.signatures
    assert first.signing_time == AT and second.signing_time == LATER
    stamp_step = next(c for c in second.steps if c.name == "ofd.stamp")
    assert stamp_step.status.value == "VALID"
    xml = files_of(sealed_twice)["Doc_0/Signs/Sign_1/Signature.xml"].decode()
    assert re.search(r'<ofd:StampAnnot ID="1" PageRef="\d+" Boundary="20 237 40 40"/>', xml)


def test_an_unsealed_ofd_gets_its_first_signature(
    document: CertificateDocument, fonts: FontSet, seal: Seal, pki: Pki
) -> None:
    """OFD.xml names no Signatures.xml: it gets one (the only file that changes), and the
    package verifies with one seal."""
    plain = write_ofd(certificate(document, fonts))
    sealed = stamp(plain, seal, pki)
    before, after = files_of(plain), files_of(sealed)
    assert b"<ofd:Signatures>/Doc_0/Signs/Signatures.xml</ofd:Signatures></ofd:DocBody>" in (
        after["OFD.xml"])
    assert {k: v for k, v in before.items() if k != "OFD.xml"} == {
        k: v for k, v in after.items() if k in before and k != "OFD.xml"}
    report = verify_ofd(sealed, anchors=[pki.root.certificate], now=LATER)
    assert report.ok and [s.field for s in report.signatures] == [
        "Doc_0/Signs/Sign_0/Signature.xml"]


def test_changing_a_page_after_the_second_seal_breaks_both(sealed_twice: bytes,
                                                            pki: Pki) -> None:
    files = files_of(sealed_twice)
    page = "Doc_0/Pages/Page_0/Content.xml"
    files[page] = files[page].replace("营业执照".encode(), "营业执照 ".encode(), 1)
    report = verify_ofd(rezip(files), anchors=[pki.root.certificate], now=LATER)
    assert not report.ok
    for sig in report.signatures:
        refs = next(c for c in sig.steps if c.name == "ofd.references")
        assert refs.status.value == "INVALID", sig.field


# ------------------------------------------------------------------ independent checks


def test_openssl_verifies_the_new_signature_value(
    sealed_twice: bytes, openssl: str, tmp_path: Path
) -> None:
    files = files_of(sealed_twice)
    value = parse_signature(files["Doc_0/Signs/Sign_1/SignedValue.dat"])
    assert value.data_hash == sm2.sm3(files["Doc_0/Signs/Sign_1/Signature.xml"])
    assert value.property_info == "/Doc_0/Signs/Sign_1/Signature.xml"
    assert_openssl_verifies(value, openssl, tmp_path)


def test_info_zip_reads_the_sealed_package(sealed_twice: bytes, tmp_path: Path) -> None:
    """The zip is written here, not by zipfile: Info-ZIP's unzip tests every entry's CRC and
    lists the UTF-8 names."""
    unzip = shutil.which("unzip")
    assert unzip is not None, "Info-ZIP unzip is required"
    (tmp_path / "sealed.ofd").write_bytes(sealed_twice)
    tested = subprocess.run([unzip, "-t", str(tmp_path / "sealed.ofd")], capture_output=True,
                            text=True, check=False)
    assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout
    assert tested.stdout.count("OK") == len(files_of(sealed_twice))


def test_easyofd_draws_both_stamps(sealed_once: bytes, sealed_twice: bytes) -> None:
    once, _ = easyofd_render(sealed_once)
    twice, text = easyofd_render(sealed_twice)
    assert red_share(once, STAMP) > 0.08 and red_share(once, SECOND) < 0.001
    assert red_share(twice, STAMP) > 0.08 and red_share(twice, SECOND) > 0.08
    assert "营业执照" in "".join(text["pages"][0].split())


# ------------------------------------------------------------------------------ refusals


def code_of(data: bytes, seal: Seal, pki: Pki, **place: float) -> str:
    with pytest.raises(SealError) as raised:
        stamp(data, seal, pki, **place)
    return raised.value.code


def test_the_default_place_avoids_the_first_stamp(sealed_once: bytes, seal: Seal,
                                                  pki: Pki) -> None:
    """Bottom right, 15 mm from the edges (155 mm from the left), overlaps the certificate's
    seal (128–168 mm): the stamp moves left by its width and 5 mm until it does not."""
    sealed = stamp(sealed_once, seal, pki)
    xml = files_of(sealed)["Doc_0/Signs/Sign_1/Signature.xml"].decode()
    assert 'Boundary="65 242 40 40"' in xml  # 155, 110: both overlap
    assert verify_ofd(sealed, anchors=[pki.root.certificate], now=LATER).ok


def test_refused_places(sealed_once: bytes, seal: Seal, pki: Pki) -> None:
    # over the first seal's stamp (x 128, bottom 297 - 221 - 40 = 36)
    assert code_of(sealed_once, seal, pki, x_mm=130, y_mm=40) == "ofd_bad_input"
    assert code_of(sealed_once, seal, pki, page=2) == "ofd_bad_input"
    assert code_of(sealed_once, seal, pki, x_mm=200) == "ofd_bad_input"  # off the page
    # 80 mm square is 10.3 % of A4: too large beside another seal
    assert code_of(sealed_once, seal, pki, x_mm=10, y_mm=10, width_mm=80) == "ofd_bad_input"


def test_an_earlier_stamp_the_second_seal_would_break_is_refused(
    document: CertificateDocument, fonts: FontSet, seal: Seal, pki: Pki
) -> None:
    """A first stamp over 10 % of its page is fine alone, not beside a second seal: the
    result would make the first signature INVALID, so it is not handed out."""
    big = StampAnnot(page=1, x=10.0, y=10.0, width=100.0, height=100.0)
    alone = write_sealed_ofd(certificate(document, fonts), seal=seal, signer=pki.signer.signer,
                             signer_certificate=pki.signer.certificate, stamp=big, at=AT)
    assert verify_ofd(alone, anchors=[pki.root.certificate], now=LATER).ok
    assert code_of(alone, seal, pki, x_mm=20, y_mm=20) == "ofd_stamp_breaks"


def test_an_earlier_signature_covering_signatures_xml_is_not_broken(
    seal: Seal, pki: Pki
) -> None:
    """A signature that protects Signatures.xml itself (allowed by the standard, unlike
    ofdrw's) cannot be followed by another: listing one more signature would change a
    protected file."""
    files = {k: v for k, v in files_of(fixture("SESV4SignDoc.ofd")).items()
             if not k.startswith("Doc_0/Signs/Sign_0/")}
    files["Doc_0/Signs/Signatures.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="'
        b'http://www.ofdspec.org/2016"><ofd:MaxSignId>1</ofd:MaxSignId><ofd:Signature ID="1" '
        b'BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/></ofd:Signatures>')
    files["scratch.xml"] = b"<ofd:Signatures></ofd:Signatures>"  # sign_into lists it here
    sign_into(files, pki, seal, sorted(files.keys() - {"scratch.xml"}),
              folder="Doc_0/Signs/Sign_0", at=AT, signatures="scratch.xml")
    del files["scratch.xml"]
    package = rezip({k: v for k, v in files.items() if not k.endswith("/")})
    assert verify_ofd(package, anchors=[pki.root.certificate], now=LATER).ok
    assert code_of(package, seal, pki, x_mm=120, y_mm=20) == "ofd_stamp_breaks"


def test_refused_packages(sealed_once: bytes, seal: Seal, pki: Pki) -> None:
    files = files_of(sealed_once)
    # two documents
    ofd = files["OFD.xml"].decode()
    body = ofd[ofd.index("<ofd:DocBody>"):ofd.index("</ofd:DocBody>") + len("</ofd:DocBody>")]
    two = dict(files)
    two["OFD.xml"] = ofd.replace(body, body + body.replace(
        "Doc_0/Document.xml", "Doc_1/Document.xml").replace(
        "Doc_0/Signs/Signatures.xml", "Doc_1/Signs/Signatures.xml")).encode()
    for name, data in files.items():
        if name in ("Doc_0/Document.xml", "Doc_0/Signs/Signatures.xml"):
            two[name.replace("Doc_0", "Doc_1")] = data
    assert code_of(rezip(two), seal, pki) == "ofd_bad_input"
    # a missing file (a shadow a later writer could supply)
    missing = {k: v for k, v in files.items() if k != f"Doc_0/Attachs/{ATTACHMENT_NAME}"}
    assert code_of(rezip(missing), seal, pki) == "ofd_bad_input"
    # what verification refuses, with its code
    assert code_of(raw_zip([(b"../OFD.xml", b"<x/>")]), seal, pki) == "ofd_bad_name"
    assert code_of(b"PK\x03\x04 not a zip", seal, pki).startswith("ofd_")


def test_the_seal_must_be_valid_at_the_signing_time(sealed_once: bytes, seal: Seal,
                                                    pki: Pki) -> None:
    with pytest.raises(SealError) as raised:
        stamp_ofd(sealed_once, seal=seal, signer=pki.signer.signer,
                  signer_certificate=pki.signer.certificate, at=T0 + timedelta(days=400))
    assert raised.value.code == "seal_expired"


def test_the_last_page_by_default_any_page_when_asked(seal: Seal, pki: Pki) -> None:
    """Pages are counted in Document.xml's order; the stamp names the page's ID, its boundary
    from the page's top (the options count y from the bottom, as for PDF)."""
    from datetime import date

    from seals.ofd.write import OfdDocument, OfdPage, PathObject, rectangle

    box = PathObject(rectangle(20, 20, 50, 50), (20, 20, 50, 50))
    plain = write_ofd(OfdDocument(pages=(OfdPage((box,)), OfdPage((box,))), doc_id="0" * 32,
                                  created=date(2025, 3, 1), width_mm=148, height_mm=210))
    document = files_of(plain)["Doc_0/Document.xml"].decode()
    ids = re.findall(r'<ofd:Page ID="(\d+)" BaseLoc="Pages/Page_(\d)/Content.xml"/>', document)
    by_number = {int(n) + 1: pid for pid, n in ids}
    last = files_of(stamp(plain, seal, pki))["Doc_0/Signs/Sign_0/Signature.xml"].decode()
    assert f'PageRef="{by_number[2]}" Boundary="93 155 40 40"' in last  # 148-40-15, 210-15-40
    first = stamp(plain, seal, pki, page=1, x_mm=10, y_mm=150, width_mm=30)
    xml = files_of(first)["Doc_0/Signs/Sign_0/Signature.xml"].decode()
    assert f'PageRef="{by_number[1]}" Boundary="10 30 30 30"' in xml
    assert verify_ofd(first, anchors=[pki.root.certificate], now=LATER).ok


# ------------------------------------------------------------------- mutated packages

V4_FILES = files_of(fixture("v4signed.ofd"))
_FUZZ_PKI = Pki()
_FUZZ_SEAL = make_seal(_FUZZ_PKI)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(V4_FILES)), st.data())
def test_a_mutated_package_is_refused_with_a_code_or_sealed_without_harm(
    name: str, data: st.DataObject
) -> None:
    """One file of ofdrw's sample changed (any file: the XML of the structure, a page, the
    signature's own files, Signatures.xml): stamping raises only a coded SealError, in
    bounded time, or returns a package in which every file given is unchanged but
    Signatures.xml, only the new signature's two files are added, every earlier signature
    verifies exactly as it did, and the new signature protects what it lists."""
    content = V4_FILES[name]
    pos = data.draw(st.integers(min_value=0, max_value=max(len(content) - 1, 0)))
    new = data.draw(st.one_of(  # raw bytes (mostly not UTF-8), or XML-ish text
        st.binary(min_size=0, max_size=8),
        st.text(alphabet='<>/="\' abcDIL0123456789', max_size=8).map(str.encode)))
    given_files = {**V4_FILES, name: content[:pos] + new + content[pos + 1 :]}
    package = rezip(given_files)
    started = time.process_time()
    try:
        sealed = stamp(package, _FUZZ_SEAL, _FUZZ_PKI, x_mm=20, y_mm=20)
    except SealError as exc:
        assert exc.code and exc.code != "seal_error"
        return
    finally:
        assert time.process_time() - started < 2.0
    out = files_of(sealed)
    listed = "Doc_0/Signs/Signatures.xml"
    assert {k: v for k, v in given_files.items() if k != listed} == {
        k: v for k, v in out.items() if k in given_files and k != listed}
    assert sorted(set(out) - set(given_files)) == [
        "Doc_0/Signs/Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/SignedValue.dat"]
    before, after = statuses(verify(package, _FUZZ_PKI)), statuses(verify(sealed, _FUZZ_PKI))
    for field, steps in before.items():
        assert after[field] == steps, field
    mine = after["Doc_0/Signs/Sign_1/Signature.xml"]
    assert mine["ofd.references"] == mine["signature.data_hash"] == "VALID"


def test_a_document_in_a_non_ascii_folder_is_sealed_from_an_ascii_path(
    seal: Seal, pki: Pki
) -> None:
    """propertyInfo (the Signature.xml path) is an IA5String: a document under 文档/ gets its
    signature files under Signs/ at the root, and verifies."""
    from datetime import date

    from seals.ofd.write import OfdDocument, OfdPage, PathObject, rectangle

    box = PathObject(rectangle(20, 20, 50, 50), (20, 20, 50, 50))
    plain = files_of(write_ofd(OfdDocument(pages=(OfdPage((box,)),), doc_id="0" * 32,
                                           created=date(2025, 3, 1))))
    moved = {name.replace("Doc_0/", "文档/"): data for name, data in plain.items()}
    moved["OFD.xml"] = plain["OFD.xml"].replace(b"Doc_0/", "文档/".encode())
    sealed = stamp(rezip(moved), seal, pki)
    out = files_of(sealed)
    assert sorted(set(out) - set(moved)) == [
        "Signs/Sign_0/Signature.xml", "Signs/Sign_0/SignedValue.dat", "Signs/Signatures.xml"]
    assert parse_signature(out["Signs/Sign_0/SignedValue.dat"]).property_info == (
        "/Signs/Sign_0/Signature.xml")
    assert verify_ofd(sealed, anchors=[pki.root.certificate], now=LATER).ok
