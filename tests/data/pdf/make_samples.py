"""Rebuild the sample PDFs of ``tests/seals/pdf`` (run from the repository root):

    python tests/data/pdf/make_samples.py

- ``three-pages.pdf``: reportlab 5.1.0, invariant mode (no dates, fixed /ID), three A4 pages
  of text, classic cross-reference table. ``tests/seals/pdf`` derives the other shapes it
  needs from it (a cross-reference-stream copy with pikepdf, encrypted copies, attacks).
"""

from __future__ import annotations

import io
from pathlib import Path

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent


def three_pages() -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for n in range(1, 4):
        c.setFont("Helvetica", 14)
        c.drawString(72, 770, f"Zhengyin test document, page {n} of 3")
        for i in range(20):
            c.drawString(72, 740 - 18 * i, f"line {i + 1}: the quick brown fox jumps over the dog")
        c.showPage()
    c.save()
    return buf.getvalue()


if __name__ == "__main__":
    (HERE / "three-pages.pdf").write_bytes(three_pages())
