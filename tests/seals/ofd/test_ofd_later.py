"""A later signature on an ofdrw sample (made here with the tests' PKI): what it may add
without making the earlier seal invalid, and what it may not (seals/ofd/README.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ofd_testlib import files_of, fixture, rezip, sign_into
from seals_testlib import T0, Pki, make_seal

from seals.ofd import OfdError, verify_ofd
from seals.report import Status
from seals.ses import Seal

AT = T0 + timedelta(days=1)
NOW = T0 + timedelta(days=2)
S1 = "Doc_0/Signs/Sign_0/Signature.xml"
S2 = "Doc_0/Signs/Sign_1/Signature.xml"


@pytest.fixture(scope="module")
def seal(pki: Pki) -> Seal:
    return make_seal(pki)


def later(pki: Pki, seal: Seal, edit: dict[str, bytes] | None = None,
          cover: list[str] | None = None) -> bytes:
    """v4signed with ``edit`` applied, then a second signature over every file but
    Signatures.xml (or ``cover``)."""
    files = files_of(fixture("v4signed.ofd"))
    files.update(edit or {})
    covered = cover if cover is not None else [
        n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_1", at=AT)
    return rezip(files)


def by_signature(data: bytes, **kw: object) -> dict[str, dict[str, Status]]:
    report = verify_ofd(data, now=NOW, **kw)  # type: ignore[arg-type]
    out = {sig.field: {s.name: s.status for s in sig.steps} for sig in report.signatures}
    out["document"] = {s.name: s.status for s in report.steps}
    return out


def test_a_later_seal_over_everything_leaves_the_first_valid(pki: Pki, seal: Seal) -> None:
    data = later(pki, seal)
    report = verify_ofd(data, now=NOW)
    assert [s.field for s in report.signatures] == [S1, S2]
    assert report.ok, [(s.name, s.reason) for g in report.signatures for s in g.steps
                       if s.status is not Status.VALID]
    first = {s.name: s for s in report.signatures[0].steps}["ofd.modifications"]
    assert first.data["later_files"] == [
        "Doc_0/Signs/Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/SignedValue.dat"]
    # with the tests' root as the only anchor, the second seal's path is checked too
    strict = by_signature(data, anchors=[pki.root.certificate])
    assert strict[S2]["signature.signer_path"] is Status.VALID


def test_a_file_outside_the_document_added_by_a_later_seal(pki: Pki, seal: Seal) -> None:
    """A later seal may add its own files only: any other added file is a change to the
    package the first seal protected (readers find files by name too: easyofd takes the
    first path containing a location, test_ofd_attack20.py)."""
    data = later(pki, seal, {"Doc_0/Res/note.txt": b"a note"})
    report = verify_ofd(data, now=NOW)
    assert not report.ok
    first = {s.name: s for s in report.signatures[0].steps}["ofd.modifications"]
    assert first.status is Status.INVALID
    assert first.data["files"] == ["Doc_0/Res/note.txt"]
    assert "Doc_0/Res/note.txt" in first.reason
    second = {s.name: s for s in report.signatures[1].steps}["ofd.modifications"]
    assert second.status is Status.VALID


def test_a_page_or_picture_changed_under_a_later_seal_breaks_the_first(
    pki: Pki, seal: Seal
) -> None:
    files = files_of(fixture("v4signed.ofd"))
    doc = files["Doc_0/Document.xml"].replace(
        b"</ofd:Pages>", b'<ofd:Page ID="9" BaseLoc="Pages/Page_1/Content.xml"/></ofd:Pages>')
    page = files["Doc_0/Pages/Page_0/Content.xml"]
    for edit in (
        {"Doc_0/Document.xml": doc, "Doc_0/Pages/Page_1/Content.xml": page},
        {"Doc_0/Res/qr.png": files["Doc_0/Res/qr.png"][:-1] + b"\0"},
    ):
        s = by_signature(later(pki, seal, edit))
        assert s[S2]["ofd.references"] is Status.VALID
        assert s[S2]["signature.data_hash"] is Status.VALID
        assert s[S1]["ofd.references"] is Status.INVALID
    # the new page alone (the first seal's Document.xml untouched), covered by the later
    # seal: not part of the document the first seal shows, but a file added after it,
    # which readers that find files by name rather than by location may show
    s = by_signature(later(pki, seal, {"Doc_0/Pages/Page_1/Content.xml": page}))
    assert s[S1]["ofd.modifications"] is Status.INVALID
    assert s[S2]["ofd.modifications"] is Status.VALID


def test_a_later_seal_that_leaves_document_files_out(pki: Pki, seal: Seal) -> None:
    files = files_of(fixture("v4signed.ofd"))
    cover = [n for n in files if n not in ("Doc_0/Signs/Signatures.xml", "Doc_0/Res/qr.png")]
    s = by_signature(later(pki, seal, cover=cover))
    assert s[S2]["ofd.modifications"] is Status.INVALID  # it does not protect the picture
    assert s[S1]["ofd.modifications"] is Status.VALID


def test_unlisted_or_fake_later_signatures(pki: Pki, seal: Seal) -> None:
    data = later(pki, seal)
    files = files_of(data)
    listed = files["Doc_0/Signs/Signatures.xml"]
    files["Doc_0/Signs/Signatures.xml"] = listed.replace(
        b'<ofd:Signature ID="2" BaseLoc="/Doc_0/Signs/Sign_1/Signature.xml"/>', b"")
    report = verify_ofd(rezip(files), now=NOW)
    files_step = {s.name: s for s in report.steps}["ofd.files"]
    assert not report.ok and files_step.status is Status.INVALID
    assert files_step.data["unprotected"] == [
        "Doc_0/Signs/Sign_1/Signature.xml", "Doc_0/Signs/Sign_1/SignedValue.dat"]
    files = files_of(data)
    files["Doc_0/Signs/Sign_1/SignedValue.dat"] = files_of(fixture("v4signed.ofd"))[
        "Doc_0/Signs/Sign_0/SignedValue.dat"]
    report = verify_ofd(rezip(files), now=NOW)
    assert not report.ok
    assert by_signature(rezip(files))[S2]["signature.data_hash"] is Status.INVALID


@pytest.mark.parametrize("boundary, why", [
    ("100 10 30 30", "overlaps a stamp of Doc_0/Signs/Sign_0/Signature.xml"),
    ("0 0 150 100", "covers 51% of page 1; with several seals at most 10%"),
])
def test_a_later_stamp_over_the_first_or_over_the_page(
    pki: Pki, seal: Seal, boundary: str, why: str
) -> None:
    files = files_of(fixture("v4signed.ofd"))
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_1", at=AT,
              stamp=f'<ofd:StampAnnot ID="9" PageRef="1" Boundary="{boundary}"/>')
    report = verify_ofd(rezip(files), now=NOW)
    assert not report.ok
    stamp = {s.name: s for s in report.signatures[1].steps}["ofd.stamp"]
    assert stamp.status is Status.INVALID and why in stamp.reason, stamp.reason


def test_a_prepared_shadow_page(pki: Pki, seal: Seal) -> None:
    """A document sealed while it refers to a page file that is not there (invalid: a
    writer could add it later), and the page added afterwards (invalid: not protected)."""
    files = files_of(fixture("SESV4SignDoc.ofd"))
    for name in [n for n in files if n.startswith("Doc_0/Signs/Sign_0/")]:
        del files[name]
    files["Doc_0/Signs/Signatures.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="'
        b'http://www.ofdspec.org/2016"></ofd:Signatures>')
    files["Doc_0/Document.xml"] = files["Doc_0/Document.xml"].replace(
        b"</ofd:Pages>", b'<ofd:Page ID="2" BaseLoc="Pages/Page_1/Content.xml"/></ofd:Pages>')
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_0", at=AT)
    report = verify_ofd(rezip(files), now=NOW)
    step = {s.name: s for s in report.steps}["ofd.files"]
    assert step.status is Status.INVALID and step.data["missing"] == [
        "Doc_0/Pages/Page_1/Content.xml"]
    assert "is missing" in step.reason and not report.ok
    assert all(s.status is not Status.INVALID for s in report.signatures[0].steps)
    files["Doc_0/Pages/Page_1/Content.xml"] = files["Doc_0/Pages/Page_0/Content.xml"]
    report = verify_ofd(rezip(files), now=NOW)
    mods = {s.name: s for s in report.signatures[0].steps}["ofd.modifications"]
    assert mods.status is Status.INVALID
    assert mods.data["files"] == ["Doc_0/Pages/Page_1/Content.xml"]


def test_a_later_file_where_another_reader_would_look_breaks_the_first(
    pki: Pki, seal: Seal
) -> None:
    """``Pages/Page_0/Content.xml`` at the package root is where a reader resolving
    Document.xml's relative locations from the root would find page 1: a document file,
    which the first seal does not protect, even when a later seal does."""
    files = files_of(fixture("v4signed.ofd"))
    other = files["Doc_0/Pages/Page_0/Content.xml"].replace(b"318.00", b"999.00")
    s = by_signature(later(pki, seal, {"Pages/Page_0/Content.xml": other}))
    assert s[S1]["ofd.modifications"] is Status.INVALID
    assert s[S2]["ofd.modifications"] is Status.VALID


def test_an_element_given_twice_is_refused() -> None:
    files = files_of(fixture("v4signed.ofd"))
    ofd = files["OFD.xml"].replace(
        b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>",
        b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot><ofd:DocRoot>Doc_1/Document.xml"
        b"</ofd:DocRoot>")
    files["OFD.xml"] = ofd
    with pytest.raises(OfdError) as info:
        verify_ofd(rezip(files), now=NOW)
    assert info.value.code == "ofd_bad_structure" and "two DocRoot" in str(info.value)


def test_a_page_first_met_as_a_leaf_is_still_followed(pki: Pki, seal: Seal) -> None:
    """A version file naming page 1's file first: the page is still read as a page, so the
    resources it refers to are document files the first seal must protect."""
    files = files_of(fixture("SESV4SignDoc.ofd"))
    for name in [n for n in files if n.startswith("Doc_0/Signs/Sign_0/")]:
        del files[name]
    files["Doc_0/Signs/Signatures.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="'
        b'http://www.ofdspec.org/2016"></ofd:Signatures>')
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"<ofd:DocRoot>", b'<ofd:Versions><ofd:Version ID="1" BaseLoc="Doc_0/Pages/Page_0/'
        b'Content.xml"/></ofd:Versions><ofd:DocRoot>')
    page = files["Doc_0/Pages/Page_0/Content.xml"]
    files["Doc_0/Pages/Page_0/Content.xml"] = page.replace(
        b"<ofd:Content>", b"<ofd:PageRes>Res.xml</ofd:PageRes><ofd:Content>")
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_0", at=AT,
              stamp='<ofd:StampAnnot ID="9" PageRef="1" Boundary="10 10 30 30"/>')
    # the page's resource file added afterwards, under a later genuine seal
    files["Doc_0/Pages/Page_0/Res.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?><ofd:Res xmlns:ofd="'
        b'http://www.ofdspec.org/2016" BaseLoc="Res"/>')
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_1", at=AT,
              stamp='<ofd:StampAnnot ID="8" PageRef="1" Boundary="60 60 30 30"/>')
    s = by_signature(rezip(files))
    assert s[S1]["ofd.modifications"] is Status.INVALID


def _unsigned_sesv4() -> dict[str, bytes]:
    files = files_of(fixture("SESV4SignDoc.ofd"))
    for name in [n for n in files if n.startswith("Doc_0/Signs/Sign_0/")]:
        del files[name]
    files["Doc_0/Signs/Signatures.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signatures xmlns:ofd="'
        b'http://www.ofdspec.org/2016"></ofd:Signatures>')
    return files


def test_a_cover_image_added_under_a_later_seal(pki: Pki, seal: Seal) -> None:
    files = _unsigned_sesv4()
    files["OFD.xml"] = files["OFD.xml"].replace(
        b"</ofd:DocInfo>", b"<ofd:Cover>cover.png</ofd:Cover></ofd:DocInfo>")
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_0", at=AT)
    files["cover.png"] = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    covered = [n for n in files if n != "Doc_0/Signs/Signatures.xml"]
    sign_into(files, pki, seal, covered, folder="Doc_0/Signs/Sign_1", at=AT,
              stamp='<ofd:StampAnnot ID="8" PageRef="1" Boundary="60 60 30 30"/>')
    s = by_signature(rezip(files))
    assert s[S1]["ofd.modifications"] is Status.INVALID
    assert s[S2]["ofd.modifications"] is Status.VALID
