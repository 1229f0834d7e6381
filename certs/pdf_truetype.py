"""The one place that reaches into reportlab's internals: a subsetting TrueType font whose
embedded subsets carry a correct ``ToUnicode`` map — also for characters beyond the BMP,
which reportlab 5.1 writes as 5 hex digits that readers reject — and a faster
``/FlateDecode`` for the streams the renderer writes (:mod:`certs.render`)."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from typing import Any

from isal import isal_zlib
from reportlab.lib.rl_accel import fp_str  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont  # type: ignore[import-untyped]

REPORTLAB_ADD_OBJECTS = "33ac8d69ad7fe232ed36285a5e73913e3652b3c8adda826ac5d316a5c801036f"
"""SHA-256 of the source of reportlab's ``TTFont.addObjects`` (5.1.0) that
:meth:`EmbeddedTTFont.addObjects` copies."""


def _utf16_hex(code: int) -> str:
    if code <= 0xFFFF:
        return f"{code:04X}"
    return chr(code).encode("utf-16-be").hex().upper()  # a surrogate pair


def to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """reportlab's ToUnicode CMap, with code points beyond the BMP written as UTF-16
    surrogate pairs (reportlab 5.1 writes them as 5 hex digits, which readers reject)."""

    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
    ]
    pairs = [f"<{i:02X}> <{_utf16_hex(v)}>" for i, v in enumerate(subset)]
    for start in range(0, len(pairs), 100):  # at most 100 entries per bfchar block
        chunk = pairs[start : start + 100]
        lines += [f"{len(chunk)} beginbfchar", *chunk, "endbfchar"]
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)


class FastFlate:
    """``/FlateDecode`` by ISA-L (``isal``) at its level 1: a standard zlib stream, made
    faster than by zlib and no larger; embedded font subsets are most of a certificate's
    bytes (# Why: bench/PERFORMANCE.md, "Rendering: ISA-L for PDF streams")."""

    pdfname = "FlateDecode"

    def encode(self, data: bytes | str) -> bytes:
        return bytes(isal_zlib.compress(data.encode("utf-8") if isinstance(data, str) else data, 1))

    def decode(self, data: bytes) -> bytes:
        return zlib.decompress(data)


FAST_FLATE = FastFlate()


class EmbeddedTTFont(TTFont):  # type: ignore[misc]
    """reportlab's subsetting TrueType font with a correct ToUnicode map beyond the BMP.

    ``addObjects`` overrides a method reportlab documents nowhere (``TTFont.addObjects``,
    called by its canvas as it saves): it is a copy of reportlab 5.1.0's own, except for
    the ToUnicode CMap (:func:`to_unicode_cmap`), the widths written preformatted and the
    streams compressed by :data:`FAST_FLATE`. No public reportlab API writes code points
    beyond the BMP as surrogate pairs, so the copy stays; ``tests/certs/test_pdf_truetype.py``
    fails when reportlab's method changes (:data:`REPORTLAB_ADD_OBJECTS`), so it is compared
    again before reportlab is upgraded. The font's
    tables are read from the file once, not once per document (reportlab copies them out of
    the font data each time it makes a subset)."""

    def __init__(self, name: str, path: str, subfont: int) -> None:
        super().__init__(name, path, subfontIndex=subfont, asciiReadable=False)
        self.face.get_table = functools.lru_cache(maxsize=None)(self.face.get_table)

    def addObjects(self, doc: Any) -> None:
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base = b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))
            base_name = base.decode("pdfdoc")
            font = pdfdoc.PDFTrueTypeFont()
            font.__Comment__ = f"Font {self.fontName} subset {n}"
            font.Name = internal_name
            font.BaseFont = base_name
            font.FirstChar = 0
            font.LastChar = len(subset) - 1
            # preformatted: reportlab would format each width as an object of its own
            font.Widths = b"[" + fp_str(*map(self.face.getCharWidth, subset)).encode() + b"]"
            cmap = pdfdoc.PDFStream(content=to_unicode_cmap(base_name, subset),
                                    filters=[FAST_FLATE])
            font.ToUnicode = doc.Reference(cmap, "toUnicodeCMap:" + base_name)
            font.FontDescriptor = self.face.addSubsetObjects(doc, base_name, subset)
            font_file = doc.idToObject.get(f"fontFile:{self.face.filename}({base_name})")
            if font_file is not None:
                font_file.filters = [FAST_FLATE]
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]
