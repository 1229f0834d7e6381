"""The copy of reportlab's private ``TTFont.addObjects`` (:mod:`certs.pdf_truetype`) is made
against one version of it: this fails when reportlab's method changes, so the copy is
compared again (and the ToUnicode fix checked) before reportlab is upgraded."""

from __future__ import annotations

import hashlib
import inspect

from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

from certs.pdf_truetype import REPORTLAB_ADD_OBJECTS, EmbeddedTTFont, to_unicode_cmap


def test_reportlab_add_objects_is_the_one_copied() -> None:
    source = inspect.getsource(TTFont.addObjects)
    assert hashlib.sha256(source.encode()).hexdigest() == REPORTLAB_ADD_OBJECTS, (
        "reportlab's TTFont.addObjects changed: compare it with EmbeddedTTFont.addObjects "
        "and update the copy and REPORTLAB_ADD_OBJECTS"
    )
    assert EmbeddedTTFont.addObjects is not TTFont.addObjects


def test_code_points_beyond_the_bmp_map_to_surrogate_pairs() -> None:
    cmap = to_unicode_cmap("AAAAAA+Test", [0x41, 0x20BB7])
    assert "<00> <0041>" in cmap and "<01> <D842DFB7>" in cmap
