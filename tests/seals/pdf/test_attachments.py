"""Embedded files are read back exactly, from plain and sealed PDFs."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf

from seals.pdf.attachments import embedded_files

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "pdf" / "three-pages.pdf"


def with_attachment(name: str, data: bytes) -> bytes:
    pdf = pikepdf.open(io.BytesIO(SAMPLE.read_bytes()))
    pdf.attachments[name] = pikepdf.AttachedFileSpec(pdf, data, mime_type="application/json")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_embedded_file_round_trip() -> None:
    payload = '{"format": "zhengyin-cert/1", "名": "证照"}'.encode() * 50
    assert embedded_files(with_attachment("certificate.json", payload)) == {
        "certificate.json": payload}


def test_no_attachments() -> None:
    assert embedded_files(SAMPLE.read_bytes()) == {}
