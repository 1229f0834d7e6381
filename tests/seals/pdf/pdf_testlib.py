"""Helpers of the ``seals.pdf`` tests: the sample PDFs, a seal, stamping at a pinned time,
and writing attacker revisions with the library's own incremental writer."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pikepdf
from seals_testlib import T0, Pki

from seals.pdf import stamp_pdf
from seals.pdf.reader import PdfFile
from seals.pdf.writer import write_incremental
from seals.picture import draw_round_seal
from seals.seal import SealSpec, create_seal
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


def make_seal(pki: Pki, name: str = "北京市测试局") -> Seal:
    return create_seal(
        SealSpec(
            name=name,
            es_id="91110000101623741K0001",
            valid_from=T0,
            valid_until=T0 + timedelta(days=365),
            picture=draw_round_seal(name),
            signer_certificates=(pki.signer.certificate,),
            created=T0,
        ),
        pki.maker.certificate,
        pki.maker.signer,
    )


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
