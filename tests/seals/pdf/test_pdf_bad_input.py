"""Bad input: encrypted, over-large, malformed and hostile PDFs end as a :class:`SealError`
with a stable code, in bounded time; mutated and truncated sealed PDFs only ever give a report
or a SealError."""

from __future__ import annotations

import io
import time
import zlib

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdf_testlib import PLAIN, append_revision, stamp
from seals_testlib import Pki

from seals.errors import SealError
from seals.pdf import PdfLimits, verify_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import Name, Ref, Stream, serialize
from seals.ses import Seal


def code_of(data: bytes, limits: PdfLimits | None = None) -> str:
    with pytest.raises(SealError) as info:
        verify_pdf(data, limits=limits) if limits else verify_pdf(data)
    return info.value.code


def test_encrypted_pdfs_are_refused(pki: Pki, seal: Seal) -> None:
    for user in ("", "secret"):
        with pikepdf.open(io.BytesIO(PLAIN)) as doc:
            buf = io.BytesIO()
            doc.save(buf, encryption=pikepdf.Encryption(owner="owner", user=user))
        assert code_of(buf.getvalue()) == "pdf_encrypted"
        with pytest.raises(SealError) as info:
            stamp(buf.getvalue(), pki, seal)
        assert info.value.code == "pdf_encrypted"


def test_size_cap(pki: Pki, seal: Seal) -> None:
    assert code_of(PLAIN, PdfLimits(max_size=1000)) == "pdf_too_large"
    with pytest.raises(SealError) as info:
        stamp(PLAIN, pki, seal, limits=PdfLimits(max_size=1000))
    assert info.value.code == "pdf_too_large"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"%PDF-1.7\n",
        b"%PDF-1.7\nstartxref\n0\n%%EOF\n",
        b"%PDF-1.7\nstartxref\n99999\n%%EOF\n",
        b"%PDF-1.7\nxref\n0 1\n0000000000 65535 f\r\ntrailer\n<</Size 1>>\nstartxref\n9\n",
        PLAIN.replace(b"trailer", b"trailor"),
        PLAIN[: PLAIN.rfind(b"startxref")],
    ],
)
def test_malformed(data: bytes) -> None:
    assert code_of(data) == "pdf_malformed"


def test_prev_loop_is_malformed() -> None:
    file = PdfFile(PLAIN)
    at = len(PLAIN)
    view = file.view()
    loop = b"xref\n0 0\ntrailer\n" + serialize(
        {"Size": view.size, "Root": view.trailer["Root"], "Prev": at}
    )
    assert code_of(PLAIN + loop + b"\nstartxref\n%d\n%%%%EOF\n" % at) == "pdf_malformed"


def test_deep_nesting_is_hostile(pki: Pki, seal: Seal) -> None:
    view = PdfFile(PLAIN).view()
    root, catalog = view.catalog()
    deep = b"<</Type /Catalog /Pages " + serialize(catalog["Pages"]) + b" /X "
    deep += b"[" * 5000 + b"]" * 5000 + b">>"
    data = append_revision(PLAIN, {root.num: deep})
    assert code_of(data) == "pdf_hostile"
    with pytest.raises(SealError) as info:
        stamp(data, pki, seal)
    assert info.value.code == "pdf_hostile"


def test_decompression_bomb_is_hostile() -> None:
    """An object stream that inflates to 1 GB: refused after the per-stream bound."""
    view = PdfFile(PLAIN).view()
    bomb = zlib.compressobj(9)
    raw = bomb.compress(b"\x00" * (64 << 20)) + bomb.flush()
    n = view.size
    objstm = Stream(
        {"Type": Name("ObjStm"), "N": 1, "First": 4, "Filter": Name("FlateDecode")}, raw
    )
    root, catalog = view.catalog()
    data = append_revision(
        PLAIN,
        {n: serialize(objstm), root.num: serialize({**catalog, "AcroForm": Ref(n + 1)})},
    )
    # object n+1 lives in the object stream: a hand-made xref stream entry says so
    file = PdfFile(data)
    rows = b"\x02" + n.to_bytes(4, "big") + b"\x00\x00"
    xref = serialize(
        Stream(
            {
                "Type": Name("XRef"), "Size": n + 3, "W": [1, 4, 2], "Index": [n + 1, 1],
                "Root": root, "Prev": file.startxref,
            },
            rows,
        )
    )
    at = len(data)
    data += b"%d 0 obj\n" % (n + 2) + xref + b"\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
    start = time.perf_counter()
    assert code_of(data, PdfLimits(max_decoded=8 << 20)) == "pdf_hostile"
    assert time.perf_counter() - start < 2


def test_page_tree_loop_is_malformed(pki: Pki, seal: Seal) -> None:
    view = PdfFile(PLAIN).view()
    pages_ref = view.catalog()[1]["Pages"]
    pages = view.resolve(pages_ref)
    data = append_revision(
        PLAIN, {pages_ref.num: serialize({**pages, "Kids": [pages_ref], "Count": 3})}
    )
    with pytest.raises(SealError) as info:
        stamp(data, pki, seal, page=1)
    assert info.value.code in ("pdf_malformed", "pdf_hostile")


# -------------------------------------------------------------------------- fuzzing


@settings(
    max_examples=120,
    deadline=3000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), min_size=1, max_size=4),
    st.integers(min_value=0),
)
def test_mutated_and_truncated_sealed_pdfs(
    sealed_xref_stream: bytes, changes: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(sealed_xref_stream)
    for pos, xor in changes:
        data[pos % len(data)] ^= xor
    for candidate in (bytes(data), bytes(data[: cut % (len(data) + 1)])):
        try:
            report = verify_pdf(candidate)
        except SealError:
            continue
        if report.ok:  # only a change of hex-digit case inside /Contents is harmless
            _, b, c, _ = report.signatures[0].byte_range
            assert candidate[:b] == sealed_xref_stream[:b]
            assert candidate[c:] == sealed_xref_stream[c:]
            assert candidate[b:c].lower() == sealed_xref_stream[b:c].lower()


@settings(max_examples=150, deadline=2000, database=None)
@given(st.binary(max_size=400))
def test_random_bytes_after_a_header(tail: bytes) -> None:
    try:
        verify_pdf(b"%PDF-1.7\n" + tail)
    except SealError:
        pass
