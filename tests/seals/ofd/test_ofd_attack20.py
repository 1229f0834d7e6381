"""An attacker's review of the OFD verifier (issue #20): packages another reader shows
otherwise than the seals protect, which must never be valid."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ofd_testlib import files_of, rezip, sign_into
from seals_testlib import T0, Pki, make_seal
from test_ofd_write import easyofd_render, sealed_ofd

from certs.render import default_fonts
from seals.ofd import OfdError, verify_ofd
from seals.ofd.stamp import stamp_ofd
from seals.report import Status
from tests.certs.test_render import anchored, licence_request
from verifier.checks.ofd_checks import read_ofd
from verifier.checks.verdict import Outcome

AT = T0 + timedelta(days=1)
NOW = T0 + timedelta(days=2)


@pytest.fixture(scope="module")
def package(pki: Pki) -> bytes:
    return sealed_ofd(anchored(licence_request()), default_fonts(), make_seal(pki), pki.signer)


PAGE = "Doc_0/Pages/Page_0/Content.xml"
SIGNATURES = "Doc_0/Signs/Signatures.xml"


def later(package: bytes, pki: Pki, added: dict[str, bytes]) -> bytes:
    """``package`` with ``added`` files and a second genuine signature (another key holder
    of the tests' PKI) over every file but Signatures.xml, a small stamp at the top left."""
    files = files_of(package)
    files.update(added)
    covered = [n for n in files if n != SIGNATURES]
    sign_into(files, pki, make_seal(pki), covered, folder="Doc_0/Signs/Sign_1", at=AT,
              stamp='<ofd:StampAnnot ID="90" PageRef="6" Boundary="10 10 20 20"/>')
    return rezip(files)


def test_a_later_file_named_for_easyofds_substring_lookup_breaks_the_first(
    package: bytes, pki: Pki
) -> None:
    """easyofd finds a file by its location as a *substring* of the extracted paths ('/'
    read as '-'), root files first: ``Doc_0-Pages-Page_0-Content.xml`` at the package root,
    which no document file refers to, is the page easyofd shows. A later signer that adds
    it must not leave the first seal valid over a page it never saw."""
    page = files_of(package)[PAGE]
    decoy = page.replace(b"91110000101623741K", b"91110000999999999K")
    assert decoy != page
    data = later(package, pki, {"Doc_0-Pages-Page_0-Content.xml": decoy})
    _, shown = easyofd_render(data)
    text = "".join("".join(p.split()) for p in shown["pages"])
    assert "91110000999999999K" in text and "91110000101623741K" not in text  # the decoy
    report = verify_ofd(data, now=NOW)
    first = {s.name: s for s in report.signatures[0].steps}
    assert first["ofd.modifications"].status is Status.INVALID
    assert not report.ok


def test_a_later_signature_file_named_for_easyofds_substring_lookup(
    package: bytes, pki: Pki
) -> None:
    """The same lookup with no added file: the later signer's own ``Signature.xml`` (any
    XML under ``SignedInfo`` is ignored by the model) named ``Doc_0-Pages-Page_0-Content.xml``
    at the root, carrying a page's content."""
    files = files_of(package)
    page = files[PAGE]
    start, end = page.index(b"<ofd:Content>"), page.index(b"</ofd:Content>") + 14
    decoy = page[start:end].replace(b"91110000101623741K", b"91110000999999999K")
    stamp = '<ofd:StampAnnot ID="90" PageRef="6" Boundary="10 10 20 20"/>' + decoy.decode()
    covered = [n for n in files if n != SIGNATURES]
    sign_into(files, pki, make_seal(pki), covered, folder="Doc_0/Signs/Sign_1", at=AT,
              stamp=stamp)
    name = "Doc_0-Pages-Page_0-Content.xml"
    files[name] = files.pop("Doc_0/Signs/Sign_1/Signature.xml")
    files[SIGNATURES] = files[SIGNATURES].replace(
        b"/Doc_0/Signs/Sign_1/Signature.xml", f"/{name}".encode())
    data = rezip(files)
    _, shown = easyofd_render(data)
    text = "".join("".join(p.split()) for p in shown["pages"])
    assert "91110000999999999K" in text and "91110000101623741K" not in text  # the decoy
    with pytest.raises(OfdError) as refused:
        verify_ofd(data, now=NOW)
    assert refused.value.code == "ofd_bad_structure"
    # and as a verdict: invalid, never valid
    local = read_ofd(data, anchors=[])
    assert local.verdict.outcome is Outcome.INVALID


def test_stamping_refuses_a_sealed_package_with_a_file_added_after_its_seal(
    package: bytes, pki: Pki
) -> None:
    """Through the service: an agency stamps (``POST /v1/seals/stamp``) another's sealed
    OFD to which the easyofd decoy was added. The result would be anchored, every seal
    VALID; stamping must refuse it instead (the first seal no longer covers the package)."""
    files = files_of(package)
    decoy = files[PAGE].replace(b"91110000101623741K", b"91110000999999999K")
    files["Doc_0-Pages-Page_0-Content.xml"] = decoy
    with pytest.raises(OfdError) as refused:
        stamp_ofd(rezip(files), seal=make_seal(pki), signer=pki.signer.signer,
                  signer_certificate=pki.signer.certificate, x_mm=20, y_mm=20, at=AT)
    assert refused.value.code == "ofd_stamp_breaks"


def test_a_signature_file_of_the_standard_schema_still_verifies(package: bytes, pki: Pki) -> None:
    """What the schema rule allows: OFD 2.0's ``Parameters`` (GM/T 0099 B.2, ofdrw writes
    them), a ``Provider``, comments; an element of another name anywhere is refused."""
    for extra, ok in (
        ('<ofd:Parameters><ofd:Parameter Name="k" Type="string">v</ofd:Parameter>'
         "</ofd:Parameters><!-- a comment -->", True),
        ('<ofd:Parameters><ofd:Parameter Name="k"><ofd:Layer/></ofd:Parameter>'
         "</ofd:Parameters>", False),
        ('<ofd:StampAnnot ID="91" PageRef="6" Boundary="40 10 20 20"><ofd:TextObject/>'
         "</ofd:StampAnnot>", False),
        ("<x:Content xmlns:x='urn:other'/>", False),
    ):
        files = files_of(package)
        covered = [n for n in files if n != SIGNATURES]
        sign_into(files, pki, make_seal(pki), covered, folder="Doc_0/Signs/Sign_1", at=AT,
                  stamp='<ofd:StampAnnot ID="90" PageRef="6" Boundary="10 10 20 20"/>' + extra)
        data = rezip(files)
        if ok:
            assert verify_ofd(data, now=NOW).ok, extra
        else:
            with pytest.raises(OfdError) as refused:
                verify_ofd(data, now=NOW)
            assert refused.value.code == "ofd_bad_structure", extra
