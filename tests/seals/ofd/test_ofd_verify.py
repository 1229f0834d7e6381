"""Sealed OFD files: the ofdrw fixtures verify with their known facts; every tampering is
caught, each with its own reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from ofd_testlib import OFDRW, TODAY, changed, files_of, fixture, rezip

from seals.ofd import verify_ofd
from seals.ofd.document import resolve
from seals.ofd.errors import OfdMalformed
from seals.ofd.names import SM3_OID
from seals.report import Status
from seals.x509 import load_certificate
from verifier.cli import main

V4 = "v4signed.ofd"
SES = "SESV4SignDoc.ofd"
SIG0 = "Doc_0/Signs/Sign_0/"


def statuses(data: bytes, **kw: object) -> dict[str, Status]:
    report = verify_ofd(data, now=TODAY, **kw)  # type: ignore[arg-type]
    steps = report.steps + tuple(s for sig in report.signatures for s in sig.steps)
    return {s.name: s.status for s in steps}


def step_of(data: bytes, name: str, **kw: object):  # type: ignore[no-untyped-def]
    report = verify_ofd(data, now=TODAY, **kw)  # type: ignore[arg-type]
    steps = report.steps + tuple(s for sig in report.signatures for s in sig.steps)
    return report, next(s for s in steps if s.name == name)


def test_v4signed_valid_at_its_signing_time_and_honest_about_expiry() -> None:
    report = verify_ofd(fixture(V4), now=TODAY)
    assert report.ok
    (sig,) = report.signatures
    assert sig.field == SIG0 + "Signature.xml"
    assert sig.signing_time == datetime(2020, 10, 10, 7, 11, 20, tzinfo=UTC)
    s = {c.name: c for c in sig.steps}
    assert s["ofd.references"].status is Status.VALID
    assert s["ofd.references"].reason.startswith("the 13 protected file(s)")
    assert s["signature.data_hash"].status is Status.VALID
    assert s["ofd.stamp"].status is Status.VALID and "page 1 at 90 8 30 20" in s["ofd.stamp"].reason
    assert "expired since" in s["seal.validity"].reason
    assert "expired since" in s["seal.maker_certificate"].reason
    # judged today instead of at the signing time: the seal has expired
    today = verify_ofd(fixture(V4), at=TODAY, now=TODAY)
    assert not today.ok
    assert {c.name: c.status for c in today.signatures[0].steps}["seal.validity"] is Status.INVALID


def test_sesv4_intact_but_signed_after_its_certificates_expired() -> None:
    """ofdrw made this sample in 2026 with its 2020–2022 test certificates: everything is
    intact, and the certificates and the seal had expired at the signing time."""
    report = verify_ofd(fixture(SES), now=TODAY)
    s = {c.name: c for c in report.signatures[0].steps}
    for name in ("ofd.references", "signature.value", "signature.data_hash", "ofd.seal_file",
                 "ofd.stamp", "ofd.modifications", "seal.maker_signature"):
        assert s[name].status is Status.VALID, name
    assert s["signature.signer_certificate"].status is Status.INVALID
    assert "had expired at the signing time 2026-08-04" in s["signature.signer_certificate"].reason
    assert not report.ok
    # judged in 2021, inside every validity period: valid; with ROOT.pem, the path problem
    at = datetime(2021, 1, 1, tzinfo=UTC)
    assert verify_ofd(fixture(SES), at=at, now=TODAY).ok
    root = [load_certificate(fixture("ROOT.pem"))]
    strict = verify_ofd(fixture(SES), at=at, now=TODAY, anchors=root)
    path = {c.name: c for c in strict.signatures[0].steps}["signature.signer_path"]
    assert path.status is Status.INVALID and "keyCertSign" in path.reason
    lenient = verify_ofd(fixture(SES), at=at, now=TODAY, anchors=root, lenient_ca=True)
    assert lenient.ok
    path = {c.name: c for c in lenient.signatures[0].steps}["signature.signer_path"]
    assert "lenient" in path.reason and "keyCertSign" in path.reason


def _flip_one_byte(name: str, data: bytes) -> bytes:
    """One byte changed; in XML a space becomes a tab (the same XML, other bytes), elsewhere
    the middle byte is inverted."""
    pos = data.index(b" ") if name.endswith(".xml") else len(data) // 2
    new = 0x09 if name.endswith(".xml") else data[pos] ^ 0xFF
    return data[:pos] + bytes([new]) + data[pos + 1 :]


@pytest.mark.parametrize("base", [V4, SES])
def test_a_byte_changed_in_any_referenced_file_is_caught_and_named(base: str) -> None:
    files = files_of(fixture(base))
    sig = verify_ofd(fixture(base), now=TODAY).signatures[0]
    referenced = {c.name: c for c in sig.steps}["ofd.references"].data["files"]
    assert len(referenced) >= 5
    for name in referenced:
        tampered = changed(base, {name: _flip_one_byte(name, files[name])})
        report, step = step_of(tampered, "ofd.references")
        assert not report.ok, name
        assert step.status is Status.INVALID, name
        assert step.data["problems"] == [
            {**step.data["problems"][0], "file": name, "problem": "changed"}
        ], name
        assert f"'{name}' changed after sealing" in step.reason


def test_a_page_added_is_caught() -> None:
    files = files_of(fixture(V4))
    page = files["Doc_0/Pages/Page_0/Content.xml"]
    doc = files["Doc_0/Document.xml"].replace(
        b'</ofd:Pages>', b'<ofd:Page ID="9" BaseLoc="Pages/Page_1/Content.xml"/></ofd:Pages>'
    )
    tampered = changed(V4, {"Doc_0/Document.xml": doc, "Doc_0/Pages/Page_1/Content.xml": page})
    s = statuses(tampered)
    assert s["ofd.references"] is Status.INVALID  # Document.xml changed
    assert s["ofd.files"] is Status.INVALID  # the new page is protected by no seal
    assert s["ofd.modifications"] is Status.INVALID
    _, mods = step_of(tampered, "ofd.modifications")
    assert "Doc_0/Pages/Page_1/Content.xml" in mods.data["files"]
    # the new page's file alone, Document.xml left as it was: still protected by no seal
    alone = changed(V4, {"Doc_0/Pages/Page_1/Content.xml": page})
    report, step = step_of(alone, "ofd.files")
    assert not report.ok and step.status is Status.INVALID
    assert step.data["unprotected"] == ["Doc_0/Pages/Page_1/Content.xml"]
    assert statuses(alone)["ofd.references"] is Status.VALID


def _other_picture(seal: bytes) -> bytes:
    start = seal.index(b"\x89PNG")
    pos = start + 200
    return seal[:pos] + bytes([seal[pos] ^ 0xFF]) + seal[pos + 1 :]


def test_the_seal_picture_replaced_is_caught() -> None:
    files = files_of(fixture(SES))
    at = datetime(2021, 1, 1, tzinfo=UTC)
    # in the seal file: its reference and the comparison with the signature's seal
    tampered = changed(SES, {SIG0 + "Seal.esl": _other_picture(
        files[SIG0 + "Seal.esl"])})
    s = statuses(tampered, at=at)
    assert s["ofd.references"] is Status.INVALID and s["ofd.seal_file"] is Status.INVALID
    # in the seal inside the signed value: the maker's and the signer's signatures
    value = files[SIG0 + "SignedValue.dat"]
    tampered = changed(SES, {SIG0 + "SignedValue.dat": _other_picture(value)})
    s = statuses(tampered, at=at)
    assert s["seal.maker_signature"] is Status.INVALID
    assert s["signature.value"] is Status.INVALID
    assert s["ofd.seal_file"] is Status.INVALID


def test_signature_xml_edited_is_caught() -> None:
    files = files_of(fixture(V4))
    xml = files[SIG0 + "Signature.xml"].replace(b'Boundary="90.00', b'Boundary="10.00')
    tampered = changed(V4, {SIG0 + "Signature.xml": xml})
    report, step = step_of(tampered, "signature.data_hash")
    assert step.status is Status.INVALID and not report.ok
    # a reference dropped from Signature.xml: the data hash, and the file now unprotected
    xml = files[SIG0 + "Signature.xml"]
    start = xml.index(b'<ofd:Reference FileRef="/Doc_0/Res/qr.png">')
    end = xml.index(b"</ofd:Reference>", start) + len(b"</ofd:Reference>")
    tampered = changed(V4, {SIG0 + "Signature.xml": xml[:start] + xml[end:]})
    s = statuses(tampered)
    assert s["signature.data_hash"] is Status.INVALID
    assert s["ofd.files"] is Status.INVALID and s["ofd.modifications"] is Status.INVALID


def test_signed_value_swapped_is_caught() -> None:
    other = files_of(fixture(SES))[SIG0 + "SignedValue.dat"]
    tampered = changed(V4, {SIG0 + "SignedValue.dat": other})
    report, step = step_of(tampered, "signature.data_hash")
    assert step.status is Status.INVALID and not report.ok
    garbage = changed(V4, {SIG0 + "SignedValue.dat": b"\x30\x03\x02\x01\x01"})
    report, step = step_of(garbage, "signature.structure")
    assert step.status is Status.INVALID and not report.ok


def test_no_signature_and_unlisted_signature_files() -> None:
    files = files_of(fixture(V4))
    ofd = files["OFD.xml"].replace(
        b"<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>", b"")
    # OFD.xml changed too, so nothing is sealed any more: no seal, unprotected files
    tampered = changed(V4, {"OFD.xml": ofd})
    report = verify_ofd(tampered, now=TODAY)
    assert not report.ok and not report.signatures
    assert {c.name: c.status for c in report.steps}["ofd.signatures"] is Status.INVALID


def test_stamp_outside_its_page_or_on_a_missing_page() -> None:
    files = files_of(fixture(V4))
    for old, new, why in (
        (b'PageRef="1"', b'PageRef="7"', "names page 7"),
        (b'Boundary="90.00 8.00 30.00 20.00"', b'Boundary="190.00 8.00 30.00 20.00"',
         "is not inside page 1"),
    ):
        xml = files[SIG0 + "Signature.xml"].replace(old, new)
        report, step = step_of(changed(V4, {SIG0 + "Signature.xml": xml}),
                               "ofd.stamp")
        assert step.status is Status.INVALID and why in step.reason
        assert not report.ok


def test_locations() -> None:
    assert resolve("/Doc_0/Signs/Sign_0/Signature.xml", "x/y") == "Doc_0/Signs/Sign_0/Signature.xml"
    assert resolve("Pages/Page_0/Content.xml", "Doc_0") == "Doc_0/Pages/Page_0/Content.xml"
    assert resolve("../Res/a.png", "Doc_0/Pages") == "Doc_0/Res/a.png"
    for bad in ("../../x", "/..", "a\\b", "C:/x", "", "a\x00b"):
        with pytest.raises(OfdMalformed) as info:
            resolve(bad, "Doc_0")
        assert info.value.code == "ofd_bad_path"
    assert SM3_OID == "1.2.156.10197.1.401"


def test_cli_verifies_an_ofd_by_content(home: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["verify", "--json", str(OFDRW / V4)], catch_exceptions=False)
    out = json.loads(result.stdout)
    assert out["subject"]["kind"] == "ofd"
    # verified now: valid at its signing time (the seal expired since), exit 0
    assert result.exit_code == 0 and out["verdict"] == "valid", out
    result = runner.invoke(main, ["verify", "--json", "--at", "2026-12-04", str(OFDRW / V4)],
                           catch_exceptions=False)
    assert result.exit_code == 1 and json.loads(result.stdout)["verdict"] == "invalid"
    # a zip that is not an OFD: refused as one, with its code (exit 1, invalid)
    bad = home.parent / "x.ofd"
    bad.write_bytes(rezip({"a.txt": b"x"}))
    result = runner.invoke(main, ["verify", "--json", str(bad)], catch_exceptions=False)
    out = json.loads(result.stdout)
    assert result.exit_code == 1 and out["checks"][0]["data"]["error"] == "ofd_missing_file"


def test_a_second_document_without_a_seal() -> None:
    """A second DocBody whose files the first document's seal does not even need to cover:
    readers may show it; it has no seal of its own."""
    files = files_of(fixture(V4))
    ofd = files["OFD.xml"].replace(
        b"</ofd:DocBody>",
        b"</ofd:DocBody><ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo>"
        b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody>", 1)
    with pytest.raises(OfdMalformed) as info:  # the same Document.xml twice
        verify_ofd(changed(V4, {"OFD.xml": ofd}), now=TODAY)
    assert info.value.code == "ofd_bad_structure"
    files = files_of(fixture(V4))
    ofd = ofd.replace(b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody><",
                      b"<ofd:DocRoot>Doc_1/Document.xml</ofd:DocRoot></ofd:DocBody><")
    assert ofd.count(b"Doc_1/Document.xml") == 1
    second = {"OFD.xml": ofd, "Doc_1/Document.xml": files["Doc_0/Document.xml"]}
    for name in files:
        if name.startswith("Doc_0/") and not name.startswith("Doc_0/Signs"):
            second[name.replace("Doc_0/", "Doc_1/", 1)] = files[name]
    report, step = step_of(changed(V4, second), "ofd.signatures")
    assert step.status is Status.INVALID and "without a seal" in step.reason
    assert step.data["unsealed"] == ["Doc_1/Document.xml"]
    assert not report.ok
