"""Certificates as OFD (GB/T 33190): the same A4 page as the certificate PDF, as an OFD document.

:func:`certificate_ofd` draws a certificate document with the PDF's own layout
(:func:`certs.render.draw_certificate`: the same positions, sizes, colours, fonts and line
breaks) onto :class:`OfdSurface`, which records OFD page objects instead of PDF operators:

- text: one ``TextObject`` per run of one font (the font of each character chosen as for the
  PDF, :meth:`~certs.render_fonts.FontSet.runs`), every character placed by its advance
  (``DeltaX``) from the same TrueType metrics, so lines break and centre exactly as in the PDF;
- fonts: a subset of each TrueType face used (the same font files as the PDF,
  :attr:`~certs.render_fonts.FontSet.sources`) holding only the characters drawn in it, with
  a Unicode ``cmap``, made by fontTools' subsetter (reportlab's subsets are PDF-only: codes
  0–255 of their own, no Unicode ``cmap``), embedded as ``FontFile``;
- the frame and rules: ``PathObject``; the QR code: a PNG (``ImageObject``, 10 pixels a
  module, quiet zone included) of the same matrix (:func:`certs.qrmatrix.qr_matrix`);
- the certificate document (canonical JSON) attached as ``certificate.json``
  (:data:`certs.render.ATTACHMENT_NAME`, ``Format`` json).

The seal goes on at :data:`certs.render.SEAL_PLACEMENT` as the signature's ``StampAnnot``
(``verifier.app.render``); ``seal_picture_png`` draws the picture as an image instead (an
unsealed preview), as for the PDF. The result is reproducible.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]

from certs import qr
from certs.canonical import CertificateDocument, ClaimValue
from certs.qrmatrix import qr_matrix
from certs.render import (
    _FRAME,
    _INK,
    ATTACHMENT_NAME,
    MM,
    PAGE_HEIGHT_MM,
    PAGE_WIDTH_MM,
    QR_ERROR,
    CertificateMeta,
    draw_certificate,
)
from certs.render_fonts import MONO_FALLBACK, FontMissing, FontSet
from certs.types import CertificateType
from seals import sm2
from seals.ofd.write import (
    Attachment,
    Font,
    ImageObject,
    ImageResource,
    OfdDocument,
    OfdPage,
    PageObject,
    PathObject,
    TextObject,
    rectangle,
    write_ofd,
)

__all__ = ["QR_PIXELS_PER_MODULE", "OfdSurface", "certificate_ofd", "render_certificate_ofd"]

QR_PIXELS_PER_MODULE = 10
"""Pixels per module of the QR code's PNG (a version-10 code: about 650 pixels wide)."""
_QR_BORDER = 4

Color = tuple[float, float, float]


def _rgb(color: Color) -> tuple[int, int, int]:
    r, g, b = (round(max(0.0, min(1.0, c)) * 255) for c in color)
    return (r, g, b)


@dataclass
class OfdSurface:
    """:class:`certs.render.Surface` recording OFD page objects (mm, origin top left)."""

    fonts: FontSet
    pages: list[list[PageObject]] = field(default_factory=lambda: [[]])
    images: dict[str, ImageResource] = field(default_factory=dict)
    chars: dict[str, set[str]] = field(default_factory=dict)
    """The characters drawn in each font (by registered name)."""

    def _y(self, y: float) -> float:
        return PAGE_HEIGHT_MM - y

    def _run(self, x_pt: float, y: float, name: str, text: str, size: float,
             color: Color, char_space: float) -> float:
        """One run in one font from ``x_pt``; returns where the next run starts (pt)."""
        widths = [pdfmetrics.stringWidth(ch, name, size) + char_space for ch in text]
        self.chars.setdefault(name, set()).update(text)
        self.pages[-1].append(TextObject(
            x=x_pt / MM, baseline=self._y(y), text=text, font=name, size=size / MM,
            advances=tuple(w / MM for w in widths[:-1]), color=_rgb(color),
        ))
        return float(x_pt + sum(widths))

    def text(self, x: float, y: float, text: str, size: float, *, heading: bool = False,
             color: Color = _INK, align: str = "left", char_space: float = 0.0) -> None:
        runs = self.fonts.runs(text, heading=heading)
        width = self.fonts.width(runs, size) + char_space * max(len(text) - 1, 0)
        x_pt = x * MM
        if align == "center":
            x_pt -= width / 2
        elif align == "right":
            x_pt -= width
        for name, part in runs:
            x_pt = self._run(x_pt, y, name, part, size, color, char_space)

    def mono_lines(self, x: float, y: float, lines: Sequence[str], size: float,
                   leading: float) -> None:
        for line in lines:
            if line:
                self._run(x * MM, y, self.fonts.mono, line, size, _INK, 0.0)
            y -= leading

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float,
             color: Color) -> None:
        w = width / MM
        ya, yb = self._y(y1), self._y(y2)
        box = (min(x1, x2) - w, min(ya, yb) - w, abs(x2 - x1) + 2 * w, abs(yb - ya) + 2 * w)
        self.pages[-1].append(PathObject(
            f"M {x1:.3f} {ya:.3f} L {x2:.3f} {yb:.3f}", box, line_width=w, stroke=_rgb(color),
        ))

    def _rect(self, x: float, y: float, w: float, h: float, width_pt: float) -> None:
        lw = width_pt / MM
        top = self._y(y + h)
        self.pages[-1].append(PathObject(
            rectangle(x, top, w, h), (x - lw, top - lw, w + 2 * lw, h + 2 * lw),
            line_width=lw, stroke=_rgb(_FRAME),
        ))

    def frame(self) -> None:
        self._rect(10, 10, 190, 277, 1.6)
        self._rect(12, 12, 186, 273, 0.5)

    def qr(self, payload: str, x: float, y: float, size: float) -> None:
        self.images["qr"] = ImageResource("qr", qr_png(payload), "PNG")
        self.pages[-1].append(ImageObject("qr", (x, self._y(y + size), size, size)))

    def image(self, png: bytes, x: float, y: float, width: float) -> None:
        with Image.open(io.BytesIO(png)) as picture:
            w, h = picture.size
            if picture.format != "PNG":
                out = io.BytesIO()
                picture.save(out, "PNG")
                png = out.getvalue()
        height = width * h / w
        self.images["seal-picture"] = ImageResource("seal-picture", png, "PNG")
        self.pages[-1].append(ImageObject("seal-picture", (x, self._y(y + height), width,
                                                           height)))

    def new_page(self) -> None:
        self.pages.append([])


def qr_png(payload: str) -> bytes:
    """The QR code of ``payload`` as a black-and-white PNG, quiet zone included."""
    code = qr_matrix(payload, error=QR_ERROR)
    side = code.size + 2 * _QR_BORDER
    image = Image.new("1", (side, side), 1)
    pixels = image.load()
    assert pixels is not None
    for r, row in enumerate(code.rows):
        for c, dark in enumerate(row):
            if dark:
                pixels[c + _QR_BORDER, r + _QR_BORDER] = 0
    scale = QR_PIXELS_PER_MODULE
    out = io.BytesIO()
    image.resize((side * scale, side * scale), Image.Resampling.NEAREST).save(out, "PNG",
                                                                              optimize=True)
    return out.getvalue()


def _subset(path: str, face: int, chars: set[str]) -> tuple[bytes, str, str]:
    """A TrueType subset of ``path`` (face ``face``) with ``chars``; its full and family
    names."""
    from fontTools import subset  # type: ignore[import-untyped]
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    quiet = logging.getLogger("fontTools")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "BDF NOT subset; dropped": tables no reader needs
    try:
        font = TTFont(path, fontNumber=face, lazy=True, recalcTimestamp=False)
        options = subset.Options()
        options.hinting = False
        options.layout_features = []
        options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
        options.notdef_outline = True
        options.drop_tables += ["BDF ", "FFTM", "EBDT", "EBLC", "EBSC"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(sorted(chars)))
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
        names = font["name"]
        full = str(names.getDebugName(4) or names.getDebugName(6) or "")
        family = str(names.getDebugName(1) or full)
    except Exception as exc:  # fontTools raises plain errors of many kinds
        raise FontMissing(f"the font file {path} cannot be subset: {exc}") from exc
    finally:
        quiet.setLevel(level)
    return out.getvalue(), full, family


def _fonts(surface: OfdSurface) -> tuple[tuple[Font, ...], dict[str, str]]:
    """The font resources of what was drawn, and each registered name's OFD ``FontName``."""
    fonts: list[Font] = []
    names: dict[str, str] = {}
    for registered in sorted(surface.chars):
        if registered == MONO_FALLBACK:  # a PDF standard font: the reader's own Courier
            names[registered] = "Courier New"
            fonts.append(Font("Courier New", "Courier New", None, fixed_width=True))
            continue
        path, face = surface.fonts.sources[registered]
        data, full, family = _subset(str(path), face, surface.chars[registered])
        name = full or registered
        if name in names.values():
            name = registered
        names[registered] = name
        fonts.append(Font(name, family, data, fixed_width=registered == surface.fonts.mono))
    return tuple(fonts), names


def _renamed(obj: PageObject, names: dict[str, str]) -> PageObject:
    if isinstance(obj, TextObject):
        return TextObject(obj.x, obj.baseline, obj.text, names[obj.font], obj.size,
                          obj.advances, obj.color)
    return obj


def _created(values: dict[str, ClaimValue]) -> str:
    issued = values.get("issue_date")
    return issued if isinstance(issued, str) else "1970-01-01"


def certificate_ofd(
    document: CertificateDocument,
    *,
    certificate_type: CertificateType,
    fonts: FontSet,
    seal_picture_png: bytes | None = None,
    creator_version: str = "",
) -> OfdDocument:
    """The certificate as an OFD document (see the module docstring), ready for
    :func:`seals.ofd.write.write_sealed_ofd`. ``document`` must be signed and anchored
    (:class:`certs.qr.QrPayloadError` otherwise). ``DocID`` is derived from the identifier
    and ``CreationDate`` is the issue date, so the same inputs give the same document."""
    import datetime as dt

    payload = qr.payload_for(document).encode()
    meta = CertificateMeta.of(document, certificate_type)
    surface = OfdSurface(fonts)
    draw_certificate(surface, document, certificate_type, payload, seal_picture_png)
    font_resources, names = _fonts(surface)
    pages = tuple(OfdPage(tuple(_renamed(o, names) for o in page)) for page in surface.pages)
    values = document.values()
    created = dt.date.fromisoformat(_created(values))
    attachment = Attachment(ATTACHMENT_NAME, document.to_json().encode("utf-8"), "json",
                            created)
    return OfdDocument(
        pages=pages,
        doc_id=sm2.sm3(meta.identifier.encode())[:16].hex(),
        created=created,
        width_mm=PAGE_WIDTH_MM,
        height_mm=PAGE_HEIGHT_MM,
        fonts=font_resources,
        images=tuple(surface.images.values()),
        attachments=(attachment,),
        title=f"{meta.title} {meta.identifier}".strip(),
        author=meta.issuer,
        creator="Zhengyin",
        creator_version=creator_version,
    )


def render_certificate_ofd(
    document: CertificateDocument,
    *,
    certificate_type: CertificateType,
    fonts: FontSet,
    seal_picture_png: bytes | None = None,
) -> bytes:
    """The certificate as an unsealed OFD package (a preview; ``seal_picture_png`` drawn at
    :data:`certs.render.SEAL_PLACEMENT` when given)."""
    return write_ofd(certificate_ofd(document, certificate_type=certificate_type, fonts=fonts,
                                     seal_picture_png=seal_picture_png))
