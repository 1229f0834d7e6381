"""Hostile OFD packages are refused with their codes, in bounded time and memory: zip bombs,
traversal and look-alike names, 10,000 entries, ambiguous zips, deep XML, external entities,
billion laughs. Every hostile file is made here."""

from __future__ import annotations

import random
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable

import pytest
from lxml import etree
from ofd_testlib import TODAY, changed, files_of, fixture, raw_zip, rezip

from seals.ofd import OfdError, verify_ofd
from seals.ofd.xml import _parser
from verifier.checks.ofd_checks import read_ofd

OFD_XML = b'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>'


def refused(data: bytes, code: str) -> None:
    """``verify_ofd`` raises ``code`` within 2 s and 100 MB; the verdict is invalid."""
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(OfdError) as info:
            verify_ofd(data, now=TODAY)
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == code, str(info.value)
    assert elapsed < 2.0 and peak < 100 * 1024 * 1024, (elapsed, peak)
    verdict = read_ofd(data, anchors=[]).verdict
    assert verdict.outcome.value == "invalid"
    (check,) = verdict.checks
    assert check.name == "ofd.structure" and check.data["error"] == code
    assert check.reason_zh and "不能受理" in check.reason_zh


def test_zip_bombs() -> None:
    bomb = raw_zip([(b"OFD.xml", OFD_XML), (b"Doc_0/big.png", b"\0" * (20 * 1024 * 1024))])
    assert len(bomb) < 100_000
    refused(bomb, "ofd_zip_bomb")
    too_big = raw_zip([(b"OFD.xml", OFD_XML), (b"x.bin", b"\0" * 10)], declared=40 << 20)
    refused(too_big, "ofd_too_large")
    # a size declared small that inflates to more: stopped one byte after the declared size
    lying = bytearray(raw_zip([(b"x.bin", b"\0" * (8 << 20))]))
    refused(_declare(bytes(lying), 1000), "ofd_zip_inconsistent")


def _declare(data: bytes, size: int) -> bytes:
    """The one entry's uncompressed size rewritten in both headers."""
    out = bytearray(data)
    out[22:26] = size.to_bytes(4, "little")
    cd = out.rindex(b"PK\x01\x02")
    out[cd + 24 : cd + 28] = size.to_bytes(4, "little")
    return bytes(out)


@pytest.mark.parametrize(
    "name", [b"../OFD.xml", b"/OFD.xml", b"Doc_0\\x.xml", b"C:/x.xml", b"a//b.xml", b"./a.xml",
             b"a/../b.xml", b"a\x01.xml", "文件.xml".encode("gbk"), b"Doc_0/a.xml.",
             b"Doc_0 /a.xml", b"NUL.xml", b"Doc_0/com1"]
)
def test_traversal_and_odd_names(name: bytes) -> None:
    refused(raw_zip([(b"OFD.xml", OFD_XML), (name, b"x")]), "ofd_bad_name")


@pytest.mark.parametrize(
    "names", [[b"OFD.xml", b"OFD.xml"], [b"OFD.xml", b"ofd.XML"], [b"a", b"a/b"]]
)
def test_duplicate_names(names: list[bytes]) -> None:
    refused(raw_zip([(n, b"x") for n in names]), "ofd_duplicate_name")


def test_ten_thousand_entries() -> None:
    many = raw_zip([(f"f{i}".encode(), b"") for i in range(10_000)], method=0)
    refused(many, "ofd_too_many_entries")


def test_ambiguous_zips() -> None:
    good = raw_zip([(b"OFD.xml", OFD_XML)])
    refused(b"\0" * 10 + good, "ofd_not_zip")  # bytes before the first entry
    refused(b"%PDF-1.7\n" + good, "ofd_not_zip")
    cd = good.index(b"PK\x01\x02")
    gap = good[:cd] + b"junk" + good[cd:]
    # the directory's offset moved by the gap: the end record now says so
    end = gap.rindex(b"PK\x05\x06")
    gap = gap[: end + 16] + (cd + 4).to_bytes(4, "little") + gap[end + 20 :]
    refused(gap, "ofd_zip_inconsistent")
    refused(raw_zip([(b"OFD.xml", OFD_XML)], local_name=b"XFD.xml"), "ofd_zip_inconsistent")
    refused(raw_zip([(b"OFD.xml", OFD_XML)], flags=0x801), "ofd_encrypted")
    # tag 0x7075, 10 bytes: version 1, the CRC of the header's name, then another name
    unicode_path = b"\x75\x70\x0a\x00\x01" + struct.pack("<I", zlib.crc32(b"OFD.xml")) + b"a.png"
    refused(raw_zip([(b"OFD.xml", OFD_XML)], extra=unicode_path), "ofd_bad_name")
    refused(raw_zip([(b"OFD.xml", OFD_XML)], method=12), "ofd_zip_method")
    zip64 = b"\x01\x00\x10\x00" + b"\0" * 16
    refused(raw_zip([(b"OFD.xml", OFD_XML)], extra=zip64), "ofd_zip64")
    refused(raw_zip([(b"OFD.xml", OFD_XML)], comment=b"PK\x05\x06" + b"\0" * 18),
            "ofd_zip_inconsistent")
    refused(raw_zip([(b"a.xml", b"x")]), "ofd_missing_file")  # a zip, but no OFD.xml
    # an end-record signature in the last 21 bytes (found by the property test: it used to
    # escape as struct.error)
    refused(fixture("v4signed.ofd") + b"PK\x05\x06", "ofd_not_zip")


def _with_ofd_xml(xml: bytes) -> bytes:
    return changed("v4signed.ofd", {"OFD.xml": xml})


def test_deep_xml() -> None:
    for depth in (100, 100_000):
        xml = b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>" + b"<a>" * depth + \
            b"</a>" * depth + b"</ofd:OFD>"
        refused(_with_ofd_xml(xml), "ofd_xml_too_deep")


EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE ofd:OFD [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&x;</ofd:OFD>"""

LAUGHS = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
    for i in range(1, 10)
) + b']>\n<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&lol9;</ofd:OFD>'


@pytest.mark.parametrize("xml, code", [
    (EXTERNAL, "ofd_xml_entity"),
    (LAUGHS, "ofd_xml_entity"),
    (b'<!DOCTYPE ofd:OFD SYSTEM "http://example.invalid/x.dtd"><ofd:OFD/>', "ofd_xml_dtd"),
    (b'<?xml version="1.0" encoding="GBK"?><ofd:OFD/>', "ofd_xml_encoding"),
    ("<ofd:OFD>中</ofd:OFD>".encode("utf-16"), "ofd_xml_encoding"),
    (b"<ofd:OFD", "ofd_xml_malformed"),
    (b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" xmlns:xi="http://www.w3.org/2001/'
     b'XInclude"><xi:include href="file:///etc/passwd" parse="text"/></ofd:OFD>',
     "ofd_xml_entity"),
])
def test_hostile_xml(xml: bytes, code: str) -> None:
    refused(_with_ofd_xml(xml), code)


def test_the_parser_alone_neither_expands_nor_fetches() -> None:
    """The second line of defence: were the text checks gone, lxml as configured here
    expands no entity and reads no file."""
    for xml in (LAUGHS, EXTERNAL):
        try:
            root = etree.fromstring(xml, _parser())
        except etree.XMLSyntaxError as exc:  # libxml2's own amplification limit
            assert "amplification" in str(exc)
            continue
        text = etree.tostring(root)
        assert len(text) < 1000 and b"root:" not in text


def test_bounded_on_every_truncation_and_flip() -> None:
    """Every 97th prefix and every 89th single-byte flip of a real package is refused with a
    code or judged; judged valid only when every file is what it was."""
    data = fixture("v4signed.ofd")
    cases: list[Callable[[], bytes]] = []
    for end in range(0, len(data), 97):
        cases.append(lambda end=end: data[:end])  # type: ignore[misc]
    for pos in range(0, len(data), 89):
        cases.append(lambda pos=pos: data[:pos] + bytes([data[pos] ^ 0x55]) + data[pos + 1:])  # type: ignore[misc]
    for make in cases:
        mutated = make()
        try:
            report = verify_ofd(mutated, now=TODAY)
        except OfdError:
            continue
        # valid only when no file's content changed (a flip in a header's time or
        # attributes changes no file)
        if report.ok:
            assert files_of(mutated) == files_of(data)


def test_an_unprotected_large_resource_is_read_and_judged() -> None:
    files = files_of(fixture("v4signed.ofd"))
    files["Doc_0/Res/big.png"] = zlib.compress(b"x" * 100) * 1000
    report = verify_ofd(rezip(files), now=TODAY)
    assert not report.ok
    assert {c.name: c.status.value for c in report.steps}["ofd.files"] == "INVALID"


def test_many_references_to_one_large_file_hash_it_once() -> None:
    files = files_of(fixture("v4signed.ofd"))
    files["Doc_0/Res/big.bin"] = random.Random(1).randbytes(8 << 20)
    ref = b'<ofd:Reference FileRef="/Doc_0/Res/big.bin"><ofd:CheckValue>AAAA</ofd:CheckValue>' \
        b"</ofd:Reference>"
    xml = files["Doc_0/Signs/Sign_0/Signature.xml"].replace(
        b"</ofd:References>", ref * 19_000 + b"</ofd:References>")
    files["Doc_0/Signs/Sign_0/Signature.xml"] = xml
    data = rezip(files, zipfile.ZIP_STORED)
    started = time.process_time()
    report = verify_ofd(data, now=TODAY)  # read in full, every reference checked
    assert time.process_time() - started < 2.0  # 19,000 × 8 MB would take hours
    step = {s.name: s for s in report.signatures[0].steps}["ofd.references"]
    assert step.status.value == "INVALID"
    assert sum(p["file"] == "Doc_0/Res/big.bin" for p in step.data["problems"]) == 19_000


def test_many_pages_and_elements_are_bounded() -> None:
    files = files_of(fixture("v4signed.ofd"))
    pages = b"".join(b'<ofd:Page ID="p%d" BaseLoc="Pages/Page_0/Content.xml"/>' % i
                     for i in range(9_999))
    document = files["Doc_0/Document.xml"]
    files["Doc_0/Document.xml"] = document.replace(b"</ofd:Pages>", pages + b"</ofd:Pages>")
    data = rezip(files, zipfile.ZIP_STORED)
    started = time.process_time()
    report = verify_ofd(data, now=TODAY)  # read in full: 10,000 pages
    assert time.process_time() - started < 1.0
    assert {c.name: c.status.value for c in report.signatures[0].steps}[
        "ofd.references"] == "INVALID"
    files["Doc_0/Document.xml"] = document.replace(
        b"</ofd:Pages>", pages + b'<ofd:Page ID="x" BaseLoc="a"/></ofd:Pages>')
    refused(rezip(files, zipfile.ZIP_STORED), "ofd_hostile")
    # more elements than a package may hold: refused
    files = files_of(fixture("v4signed.ofd"))
    files["OFD.xml"] = b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>" + \
        b"<a/>" * 600_000 + b"</ofd:OFD>"
    refused(rezip(files, zipfile.ZIP_STORED), "ofd_hostile")


def test_too_many_stamps() -> None:
    files = files_of(fixture("v4signed.ofd"))
    stamp = b'<ofd:StampAnnot ID="1" PageRef="1" Boundary="90.00 8.00 30.00 20.00"/>'
    xml = files["Doc_0/Signs/Sign_0/Signature.xml"]
    files["Doc_0/Signs/Sign_0/Signature.xml"] = xml.replace(stamp, stamp * 1001)
    refused(rezip(files), "ofd_bad_structure")


def test_a_stored_entry_with_a_data_descriptor_is_refused() -> None:
    """A streaming reader finds where such an entry ends by searching its bytes for a
    descriptor: content holding one would be cut short there, and not here."""
    content = OFD_XML + b"PK\x07\x08"
    body = raw_zip([(b"OFD.xml", content)], flags=0x808, method=0)
    # the descriptor after the data, as the flag announces
    cd = body.index(b"PK\x01\x02")
    descriptor = b"PK\x07\x08" + struct.pack("<III", zlib.crc32(content), len(content),
                                              len(content))
    end = body.rindex(b"PK\x05\x06")
    data = body[:cd] + descriptor + body[cd:end] + body[end:end + 16] + \
        (cd + len(descriptor)).to_bytes(4, "little") + body[end + 20:]
    refused(data, "ofd_zip_inconsistent")
    assert b"data descriptor" in _why(data)


def _why(data: bytes) -> bytes:
    try:
        verify_ofd(data, now=TODAY)
    except OfdError as exc:
        return str(exc).encode()
    raise AssertionError("not refused")


def test_too_many_documents() -> None:
    files = files_of(fixture("v4signed.ofd"))
    body = b"<ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody>"
    files["OFD.xml"] = files["OFD.xml"].replace(b"</ofd:OFD>", body * 17 + b"</ofd:OFD>")
    refused(rezip(files), "ofd_hostile")


def test_an_unexpected_error_is_an_error_verdict_never_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import seals.ofd.package

    def broken(data: bytes, limits: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(seals.ofd.package, "_read", broken)
    verdict = read_ofd(fixture("v4signed.ofd"), anchors=[]).verdict
    assert verdict.outcome.value == "error"
    assert verdict.checks[0].status.value == "ERROR" and "KeyError" in verdict.checks[0].reason
