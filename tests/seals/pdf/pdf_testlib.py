"""Helpers of the ``seals.pdf`` tests: the sample PDFs, a seal, stamping at a pinned time,
writing attacker revisions (with the library's own incremental writer, or by hand), and
rendering pages with poppler and MuPDF to see what a viewer shows."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pikepdf
from PIL import Image, ImageChops
from seals_testlib import T0, Pki

from seals.pdf import stamp_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.syntax import serialize
from seals.pdf.writer import write_incremental
from seals.ses import Seal

DATA = Path(__file__).resolve().parents[2] / "data" / "pdf"
PLAIN = (DATA / "three-pages.pdf").read_bytes()
"""Three A4 pages by reportlab, classic xref table (``tests/data/pdf/make_samples.py``)."""
AT = T0 + timedelta(days=1)
"""The pinned signing time."""
LATER = T0 + timedelta(days=2)


def xref_stream_copy(pdf: bytes = PLAIN) -> bytes:
    """``pdf`` rewritten by pikepdf with object streams and a cross-reference stream."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        out = io.BytesIO()
        doc.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate, deterministic_id=True)
    return out.getvalue()


def stamp(pdf: bytes, pki: Pki, seal: Seal, **kwargs: object) -> bytes:
    kwargs.setdefault("at", AT)
    return stamp_pdf(
        pdf,
        seal=seal,
        signer=pki.signer.signer,
        signer_certificate=pki.signer.certificate,
        **kwargs,  # type: ignore[arg-type]
    )


def append_revision(pdf: bytes, objects: Mapping[int, bytes]) -> bytes:
    """An incremental update (what an attacker's tool would write) redefining ``objects``."""
    out, _ = write_incremental(PdfFile(pdf), objects)
    return bytes(out)


# ---------------------------------------------------------------------- what viewers show


def render(pdf: bytes, page: int, tool: str = "poppler", dpi: int = 36) -> Image.Image:
    """Page ``page`` (1-based) as poppler (``pdftoppm``) or MuPDF (``mutool draw``) draws it."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        out = Path(tmp) / "out.png"
        if tool == "poppler":
            cmd = ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                   "-png", str(src), str(out.with_suffix(""))]
        else:
            cmd = ["mutool", "draw", "-q", "-r", str(dpi), "-o", str(out), str(src), str(page)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        with Image.open(out) as im:
            return im.convert("RGB")


VIEWERS = ("poppler", "mupdf")


def pixel_box(rect: list[float], page_height: float, dpi: int = 36, margin: int = 2) -> tuple[
    int, int, int, int
]:
    """A rectangle in points (PDF space) as a pixel box of a render, widened by ``margin``."""
    k = dpi / 72
    x0, y0, x1, y1 = rect
    return (
        int(x0 * k) - margin,
        int((page_height - y1) * k) - margin,
        int(x1 * k + 1) + margin,
        int((page_height - y0) * k + 1) + margin,
    )


ANTIALIASING = 2
"""A seal's appearance is drawn with blend mode Multiply: MuPDF then composites the whole page
through a transparency group, and anti-aliased edges elsewhere on it come out up to 2 levels
(of 255) apart — no drawing, and nothing anyone can see."""


def differing_pixels(a: Image.Image, b: Image.Image, outside: tuple[int, int, int, int] | None
                     = None, *, tolerance: int = 0) -> int:
    """How many pixels differ between two renders (by more than ``tolerance`` levels of
    grey), those inside ``outside`` not counted."""
    assert a.size == b.size
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > tolerance else 0)
    if outside is not None:
        diff.paste(0, outside)
    return diff.histogram()[255]


# ------------------------------------------------------------- revisions written by hand


@contextmanager
def later_seal_with(
    extra: Mapping[int, bytes] | None = None,
    edit: Callable[[bytearray], bytearray] | None = None,
) -> Iterator[None]:
    """While active, ``stamp_pdf`` writes its update with ``extra`` objects too, and lets
    ``edit`` change the update's bytes before it is signed (keeping the offsets of the
    stamper's own objects): a genuine later seal whose revision carries something more."""
    import seals.pdf.stamp as stamp_module

    real = stamp_module.write_incremental

    def write(file: PdfFile, objects: Mapping[int, bytes]) -> tuple[bytearray, dict[int, int]]:
        out, offsets = real(file, {**objects, **(extra or {})})
        return (edit(out) if edit else out), offsets

    stamp_module.write_incremental = write  # type: ignore[assignment]
    try:
        yield
    finally:
        stamp_module.write_incremental = real  # type: ignore[assignment]


def insert_before_xref(out: bytearray, junk: bytes) -> bytearray:
    """``junk`` put just before the last cross-reference table (``startxref`` moved)."""
    at = out.rindex(b"\nxref\n") + 1
    m = re.search(rb"startxref\n(\d+)\n%%EOF\n\Z", bytes(out))
    assert m is not None and int(m.group(1)) == at
    new = bytes(out[:at]) + junk + bytes(out[at : m.start()])
    return bytearray(new + b"startxref\n%d\n%%%%EOF\n" % (at + len(junk)))


def append_table_revision(pdf: bytes, objects: Mapping[tuple[int, int], bytes]) -> bytes:
    """An incremental update with a classic table, written by hand: each object under the
    number *and generation* given, whatever the file says (what another tool may write)."""
    file = PdfFile(pdf)
    view = file.view()
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    offsets: dict[int, tuple[int, int]] = {}
    for (num, gen), body in sorted(objects.items()):
        offsets[num] = (len(out), gen)
        out += b"%d %d obj\n" % (num, gen) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n"
    for num in sorted(offsets):
        offset, gen = offsets[num]
        out += b"%d 1\n%010d %05d n\r\n" % (num, offset, gen)
    size = max(view.size, max(offsets) + 1)
    trailer = {"Size": size, "Root": view.trailer["Root"], "Prev": file.startxref}
    if "Info" in view.trailer:
        trailer["Info"] = view.trailer["Info"]
    out += b"trailer\n" + serialize(trailer) + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
