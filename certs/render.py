"""Certificate PDFs: the A4 page a holder prints or keeps, with the QR code to verify it.

:func:`render_certificate` draws one certificate document (:class:`CertificateDocument`) as
an A4 PDF (reportlab):

- the certificate's name as the title; a table of labelled facts — 持证主体, the holder's code
  (labelled by its code type), 证照编号, 电子证照标识, 签发日期, 有效期 — then the
  type-specific fields with their Chinese labels (:meth:`CertificateType.label`) and any
  加注件, each fact once (:func:`_rows`: a field that repeats the holder's name or code, such
  as a business licence's 企业名称 and 统一社会信用代码, gives its label to the holder's row
  instead of a row of its own). Hidden claims are left out. The page is the holder's own
  document: personal data appears in clear on it; only the QR code must not carry any.
- a QR code (segno, error correction M or better, 4-module quiet zone, :data:`QR_SIZE_MM`
  wide, drawn as vector rectangles) carrying :func:`certs.qr.payload_for` — format ``ZY2``,
  no personal data, about 280 characters — and, for manual entry, the short code (核验码,
  :mod:`certs.shortcode`: the identifier and eight check characters, about 60) on one line
  under it;
- the issuer line (发证机关 and the issue date) at the bottom right, where the seal goes:
  :data:`SEAL_PLACEMENT` says where (page 1; ≈ 40 mm). ``seal_picture_png`` draws the seal
  picture there (a preview); a sealed PDF instead gets its visible seal from the seal
  signature's own appearance (``verifier.app.render.seal_certificate_pdf`` renders without the
  picture and stamps at :data:`SEAL_PLACEMENT`), so the picture is not drawn twice. Either
  way the picture is drawn with blend mode ``Multiply``, as seal ink: the date and name
  under it stay legible, a white background leaves the page as it is;
- the document information's ``/CreationDate``, the certificate's issue (its issue date,
  00:00 北京时间: :func:`issued_at`), and ``/ModDate``, the sealing time when the file is
  rendered to be sealed, both with the ``+08'00'`` offset;
- the whole certificate document (canonical JSON) as an embedded file named
  ``certificate.json`` (:data:`ATTACHMENT_NAME`, ``/Names /EmbeddedFiles``, MIME type
  ``application/json``), so a verifier can run the full certificate check from the PDF alone.

Rows that do not fit on the first page continue on further pages (续页); the QR code and the
seal stay on page 1.

Fonts (:mod:`certs.render_fonts`, :mod:`certs.pdf_truetype`). Chinese text is set in
embedded, subsetted TrueType fonts (reportlab embeds subsets of
TrueType outlines; it cannot embed CFF/OpenType such as Noto CJK), each subset with a
``ToUnicode`` map — also for characters beyond the BMP — so text can be copied and searched
and the page looks the same on a machine without Chinese fonts. :data:`FONT_FILES` lists the
fonts looked for under :data:`FONT_ROOTS`, in order of preference (Debian packages
``fonts-arphic-uming``, ``fonts-wqy-zenhei``, ``fonts-hanazono``). Every character is set in
the first font of its role (明体 body, 黑体 headings) that has a glyph for it, falling back
through the others (so 𠮷 U+20BB7 comes from HanaMin when AR PL UMing lacks it); a character
no font has is drawn with the first font's "missing" glyph and :class:`MissingGlyphWarning` is
issued naming it. No CJK font at all: :class:`FontMissing` (``font_missing``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc, pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from certs import qr, shortcode
from certs.canonical import CertificateDocument, ClaimValue
from certs.pdf_truetype import FAST_FLATE
from certs.qrmatrix import qr_matrix
from certs.render_fonts import FONT_FILES as FONT_FILES
from certs.render_fonts import FONT_ROOTS as FONT_ROOTS
from certs.render_fonts import MONO_FALLBACK as MONO_FALLBACK
from certs.render_fonts import FontFile as FontFile
from certs.render_fonts import FontMissing as FontMissing
from certs.render_fonts import FontSet
from certs.render_fonts import MissingGlyphWarning as MissingGlyphWarning
from certs.render_fonts import RenderError as RenderError
from certs.render_fonts import default_fonts as default_fonts
from certs.types import CORE_LABELS, HOLDER_CODE_TYPES, CertificateType

__all__ = [
    "ATTACHMENT_NAME", "FONT_FILES", "FONT_ROOTS", "MONO_FALLBACK", "QR_SIZE_MM",
    "SEAL_PLACEMENT", "FontFile", "FontMissing", "FontSet", "MissingGlyphWarning",
    "RenderError", "SealPlacement", "chinese_date", "default_fonts", "render_certificate",
]

_DARK_RUN = re.compile(b"\x01+")

MM = 72 / 25.4
"""PDF points per millimetre."""
PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
ATTACHMENT_NAME = "certificate.json"
"""Name of the embedded certificate document."""
QR_SIZE_MM = 40.0
"""Width of the QR code, quiet zone included (a version-10 code: ≈ 0.6 mm per module)."""
QR_ERROR = "m"
"""Error correction level of the QR code (segno raises it when that costs no size)."""
CODE_Y_MM = 29.0
"""Baseline of the short code (核验码) line, under the QR code and the seal."""
CODE_SIZE_PT = 10.5
"""Size of the short code (smaller when a long serial would not fit the line)."""
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
"""北京时间: the offset of the dates a rendered file carries."""


def short_code_of(document: CertificateDocument) -> str:
    """The short code (核验码, :mod:`certs.shortcode`) printed on ``document``'s page."""
    return shortcode.short_code(str(document.values()["identifier"]), document.leaf)


def pdf_date(when: dt.datetime) -> str:
    """A PDF date string (ISO 32000-1 §7.9.4) in 北京时间: ``D:20261128093000+08'00'``
    (a naive ``when`` is UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(BEIJING).strftime("D:%Y%m%d%H%M%S+08'00'")


def issued_at(document: CertificateDocument) -> dt.datetime:
    """When ``document`` was issued, as far as it says: the start of its issue date (else of
    its validity) in 北京时间. The rendered file's creation date: true, and the same for
    every rendering of one certificate."""
    values = document.values()
    day = values.get("issue_date") or values.get("valid_from")
    if not isinstance(day, str):
        raise RenderError("the certificate shows neither its issue date nor its validity")
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), BEIJING)


class _Info(pdfdoc.PDFInfo):  # type: ignore[misc]
    """The document information dictionary with a creation and a modification date of its
    own (reportlab writes one time for both, and 2000-01-01 in invariant mode)."""

    def __init__(self, created: dt.datetime, modified: dt.datetime) -> None:
        super().__init__()
        self.created, self.modified = pdf_date(created), pdf_date(modified)

    def format(self, document: Any) -> bytes:
        entries = {
            "Title": pdfdoc.PDFString(self.title),
            "Author": pdfdoc.PDFString(self.author),
            "CreationDate": pdfdoc.PDFString(self.created),
            "ModDate": pdfdoc.PDFString(self.modified),
            "Producer": pdfdoc.PDFString(self.producer),
            "Creator": pdfdoc.PDFString(self.creator),
            "Subject": pdfdoc.PDFString(self.subject),
            "Keywords": pdfdoc.PDFString(self.keywords),
            "Trapped": pdfdoc.PDFName(self.trapped),
        }
        return pdfdoc.PDFDictionary(entries).format(document)  # type: ignore[no-any-return]

# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class SealPlacement:
    """Where the seal goes on a rendered certificate."""

    page: int
    """1-based page number."""
    x_mm: float
    """Left edge, millimetres from the page's left edge."""
    y_mm: float
    """Bottom edge, millimetres from the page's bottom edge."""
    width_mm: float
    """Width of the seal picture (its height keeps the picture's proportions)."""


SEAL_PLACEMENT = SealPlacement(page=1, x_mm=128.0, y_mm=36.0, width_mm=40.0)
"""Over the issuer line (发证机关 and the issue date), bottom right of page 1."""

_LEFT, _RIGHT = 25.0, 185.0
_LABEL_WIDTH = 40.0
_TABLE_TOP = 236.0
_TABLE_BOTTOM_FIRST = 96.0
_TABLE_TOP_NEXT = 262.0
_TABLE_BOTTOM_NEXT = 24.0
_SIZES = (11.0, 10.0, 9.0)
"""Body text sizes (pt), largest first: the largest whose table fits on page 1 is used."""
_FRAME = (0.55, 0.09, 0.09)
_INK = (0.08, 0.08, 0.1)
_GREY = (0.38, 0.38, 0.4)
_RULE = (0.78, 0.74, 0.7)


def chinese_date(value: ClaimValue) -> str:
    """``2026-11-28`` → ``2026年11月28日`` (other values unchanged)."""
    if isinstance(value, str):
        try:
            d = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return f"{d.year}年{d.month}月{d.day}日"
    return "" if value is None else "；".join(value)


def _text(value: ClaimValue) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else "\n".join(value)


@dataclass(frozen=True)
class _Row:
    label: str
    value: str
    small: bool = False
    """Set smaller (the long identifier)."""


def _rows(values: dict[str, ClaimValue], certificate_type: CertificateType) -> list[_Row]:
    """The table's rows, each fact once: a type-specific field that repeats the holder's name
    or code (the type's ``holder_fields``, e.g. a business licence's 企业名称 and
    统一社会信用代码) is not shown again, the holder's row takes its label instead; any
    other row whose label and value an earlier row already shows is left out too. The
    issuer is named once, in the footer by the seal (发证机关)."""
    rows: list[_Row] = []

    def add(label: str, path: str, *, small: bool = False, date: bool = False) -> None:
        if path in values and values[path] not in (None, "", ()):
            value = chinese_date(values[path]) if date else _text(values[path])
            if any(r.label == label and r.value == value for r in rows):
                return
            rows.append(_Row(label, value, small))

    prefix = "fields."
    merged: set[str] = set()  # fields shown as the holder's row

    def holder_label(what: str, default: str) -> str:
        key = certificate_type.holder_fields.get(what)
        path = f"holder.{what}"
        if key is None or path not in values or values.get(prefix + key) != values[path]:
            return default
        merged.add(key)
        return certificate_type.label(key)

    add(holder_label("name", "持证主体"), "holder.name")
    code_type = values.get("holder.code_type")
    holder_code_label = (
        HOLDER_CODE_TYPES.get(code_type, CORE_LABELS["holder.code"])
        if isinstance(code_type, str)
        else CORE_LABELS["holder.code"]
    )
    add(holder_label("code", holder_code_label), "holder.code")
    add("证照编号", "number")
    add("电子证照标识", "identifier", small=True)
    add("签发日期", "issue_date", date=True)
    if "valid_from" in values or "valid_until" in values:
        start = chinese_date(values["valid_from"]) if "valid_from" in values else "……"
        until = values.get("valid_until", "……")
        end = "长期" if until is None else chinese_date(until)
        rows.append(_Row("有效期", f"{start} 至 {end}"))
    declared = (*certificate_type.required_fields, *certificate_type.optional_fields)
    present = [p.removeprefix(prefix) for p in values if p.startswith(prefix)]
    for key in [k for k in declared if k in present] + [k for k in present if k not in declared]:
        if key in merged:
            continue
        is_date = certificate_type.kind(key) in ("date", "past_date")
        add(certificate_type.label(key), prefix + key, date=is_date)
    add(CORE_LABELS["annotations"], "annotations")
    return rows


def _wrap(fonts: FontSet, text: str, size: float, width: float) -> list[str]:
    """Greedy line breaking (any character may end a line; Latin words are kept whole
    when they fit on a line of their own)."""
    lines: list[str] = []
    limit = width / size
    char_width = fonts.char_width
    for paragraph in text.split("\n"):
        line = ""
        line_width = 0.0
        for ch in paragraph:
            w = char_width(ch)
            if line and line_width + w > limit:
                cut = _latin_break(line)
                lines.append(line[:cut].rstrip())
                line = line[cut:].lstrip() if cut < len(line) else ""
                line_width = sum(map(char_width, line))
            line += ch
            line_width += w
        lines.append(line)
    return lines


def _latin_break(line: str) -> int:
    """Where to end ``line`` so a Latin word or number is not split: after its last space,
    unless the line has no space or is one word."""
    if not line[-1:].isascii() or not line[-1:].isalnum():
        return len(line)
    space = line.rfind(" ")
    return space + 1 if space > 0 else len(line)


class Surface(Protocol):
    """What the certificate layout draws on: positions in millimetres from the bottom-left
    of an A4 page, sizes in points, the PDF canvas (:class:`_PdfPage`) or an OFD page
    (:mod:`certs.render_ofd`)."""

    fonts: FontSet

    def text(self, x: float, y: float, text: str, size: float, *, heading: bool = False,
             color: tuple[float, float, float] = _INK, align: str = "left",
             char_space: float = 0.0) -> None:
        """One line of text in the role's fonts (baseline at ``y``)."""

    def mono_lines(self, x: float, y: float, lines: Sequence[str], size: float,
                   leading: float) -> None:
        """Lines of ASCII in :attr:`FontSet.mono`, the first baseline at ``y``, then down by
        ``leading`` mm."""

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float,
             color: tuple[float, float, float]) -> None:
        """A straight line ``width`` points wide."""

    def frame(self) -> None:
        """The double frame around the page."""

    def qr(self, payload: str, x: float, y: float, size: float) -> None:
        """The QR code of ``payload``, quiet zone included in ``size`` (mm)."""

    def image(self, png: bytes, x: float, y: float, width: float) -> None:
        """A picture ``width`` mm wide, its bottom-left corner at (``x``, ``y``)."""

    def new_page(self) -> None:
        """End the page; what follows goes on a new one."""


class _PdfPage:
    """:class:`Surface` over a reportlab canvas."""

    def __init__(self, canvas: Any, fonts: FontSet) -> None:
        self.c = canvas
        self.fonts = fonts

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        heading: bool = False,
        color: tuple[float, float, float] = _INK,
        align: str = "left",
        char_space: float = 0.0,
    ) -> None:
        runs = self.fonts.runs(text, heading=heading)
        width = self.fonts.width(runs, size) + char_space * max(len(text) - 1, 0)
        x_pt = x * MM
        if align == "center":
            x_pt -= width / 2
        elif align == "right":
            x_pt -= width
        t = self.c.beginText(x_pt, y * MM)
        t.setFillColorRGB(*color)
        t.setCharSpace(char_space)  # Tc outlives the text object: always set it
        for name, part in runs:
            t.setFont(name, size)
            t.textOut(part)
        self.c.drawText(t)

    def mono_lines(self, x: float, y: float, lines: Sequence[str], size: float,
                   leading: float) -> None:
        self.c.setFillColorRGB(*_INK)
        self.c.setFont(self.fonts.mono, size)
        for line in lines:
            self.c.drawString(x * MM, y * MM, line)
            y -= leading

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float,
             color: tuple[float, float, float]) -> None:
        self.c.setStrokeColorRGB(*color)
        self.c.setLineWidth(width)
        self.c.line(x1 * MM, y1 * MM, x2 * MM, y2 * MM)

    def frame(self) -> None:
        self.c.setStrokeColorRGB(*_FRAME)
        self.c.setLineWidth(1.6)
        self.c.rect(10 * MM, 10 * MM, 190 * MM, 277 * MM)
        self.c.setLineWidth(0.5)
        self.c.rect(12 * MM, 12 * MM, 186 * MM, 273 * MM)

    def qr(self, payload: str, x: float, y: float, size: float) -> None:
        _qr(self, payload, x, y, size)

    def image(self, png: bytes, x: float, y: float, width: float) -> None:
        image = _image_reader(png)
        w, h = image.getSize()
        self.c.saveState()
        self.c.setBlendMode("Multiply")  # seal ink: the text under it stays legible
        self.c.drawImage(image, x * MM, y * MM, width * MM, width * MM * h / w, mask="auto")
        self.c.restoreState()

    def new_page(self) -> None:
        self.c.showPage()


def _qr(page: _PdfPage, payload: str, x: float, y: float, size: float) -> None:
    """The QR code as filled vector rectangles (one path: one rectangle per horizontal run
    of dark modules, in module units), quiet zone included in ``size``."""
    code = qr_matrix(payload, error=QR_ERROR)
    border = 4
    unit = size * MM / (code.size + 2 * border)
    ops = [
        f"q 1 g {x * MM:.3f} {y * MM:.3f} {size * MM:.3f} {size * MM:.3f} re f",
        # module (column, row) → its lower-left corner: rows counted down from the top
        f"{unit:.5f} 0 0 {unit:.5f} {x * MM + border * unit:.3f} {y * MM + border * unit:.3f} cm",
        "0 g",
    ]
    height = code.size
    for r, row in enumerate(code.rows):
        bottom = height - 1 - r
        for match in _DARK_RUN.finditer(row):
            ops.append(f"{match.start()} {bottom} {match.end() - match.start()} 1 re")
    ops.append("f Q")
    page.c.addLiteral("\n".join(ops))


@functools.lru_cache(maxsize=8)
def _image_reader(png: bytes) -> Any:
    """The seal picture, decoded once and reused for every certificate."""
    return ImageReader(io.BytesIO(png))


def _attach(canvas: Any, name: str, data: bytes, description: str) -> None:
    """Embed ``data`` as the file ``name`` (``/Names /EmbeddedFiles``)."""
    doc = canvas._doc
    stream = pdfdoc.PDFStream(
        pdfdoc.PDFDictionary(
            {
                "Type": pdfdoc.PDFName("EmbeddedFile"),
                "Subtype": "/application#2Fjson",  # PDFName would not escape the "/"
                "Params": pdfdoc.PDFDictionary({"Size": len(data)}),
            }
        ),
        content=data,
        filters=[FAST_FLATE],
    )
    stream_ref = doc.Reference(stream)
    spec = pdfdoc.PDFDictionary(
        {
            "Type": pdfdoc.PDFName("Filespec"),
            "F": pdfdoc.PDFString(name),
            "UF": pdfdoc.PDFString(name),
            "Desc": pdfdoc.PDFString(description),
            "AFRelationship": pdfdoc.PDFName("Source"),
            "EF": pdfdoc.PDFDictionary({"F": stream_ref}),
        }
    )
    spec_ref = doc.Reference(spec)
    doc.Catalog.Names = pdfdoc.PDFDictionary(
        {
            "EmbeddedFiles": pdfdoc.PDFDictionary(
                {"Names": pdfdoc.PDFArray([pdfdoc.PDFString(name), spec_ref])}
            )
        }
    )


def _compress_pages(canvas: Any) -> None:
    """Each page's content stream compressed with :data:`FAST_FLATE` (reportlab's own page
    compression would use zlib at its default level)."""
    for page in canvas._doc.Pages.pages:
        if not page.Contents:
            page.Contents = pdfdoc.PDFStream(content=page.stream, filters=[FAST_FLATE])


@dataclass(frozen=True)
class CertificateMeta:
    """What a rendered file says of itself (title, author)."""

    title: str
    """The certificate's name (or its type's)."""
    issuer: str
    identifier: str

    @classmethod
    def of(cls, document: CertificateDocument,
           certificate_type: CertificateType) -> CertificateMeta:
        values = document.values()
        return cls(
            title=_text(values.get("name")) or certificate_type.name,
            issuer=_text(values.get("issuer.name")),
            identifier=_text(values.get("identifier")),
        )


def render_certificate(
    document: CertificateDocument,
    *,
    certificate_type: CertificateType,
    seal_picture_png: bytes | None,
    fonts: FontSet,
    modified: dt.datetime | None = None,
) -> bytes:
    """The certificate as an A4 PDF (see the module docstring). ``document`` must be signed
    and anchored (its QR payload needs both): :class:`certs.qr.QrPayloadError` otherwise.
    ``seal_picture_png`` (PNG or any image Pillow reads), when given, is drawn at
    :data:`SEAL_PLACEMENT`. The file's ``/CreationDate`` is the certificate's issue
    (:func:`issued_at`), its ``/ModDate`` ``modified`` (the sealing time, when it is to be
    sealed) or the same. The output is reproducible: the same inputs give the same bytes."""
    payload = qr.payload_for(document).encode()
    meta = CertificateMeta.of(document, certificate_type)
    created = issued_at(document)

    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=0,
               initialFontName=fonts.body[0].fontName)
    c._doc.info = _Info(created, modified or created)
    c.setTitle(f"{meta.title} {meta.identifier}".strip())
    c.setSubject("电子证照 (Zhengyin certificate)")
    c.setAuthor(meta.issuer)
    c.setCreator("Zhengyin")
    draw_certificate(_PdfPage(c, fonts), document, certificate_type, payload, seal_picture_png)
    c.showPage()
    _attach(c, ATTACHMENT_NAME, document.to_json().encode("utf-8"),
            "电子证照数据 (zhengyin-cert/1 certificate document)")
    _compress_pages(c)
    c.save()
    return buffer.getvalue()


def draw_certificate(
    page: Surface,
    document: CertificateDocument,
    certificate_type: CertificateType,
    payload: str,
    seal_picture_png: bytes | None,
) -> None:
    """The layout of a certificate (the module docstring), drawn on ``page`` (the PDF's or
    the OFD's): page 1, then a further page for each part of the table that does not fit."""
    values = document.values()
    meta = CertificateMeta.of(document, certificate_type)
    title = meta.title
    fonts = page.fonts
    page.frame()

    # title
    page.text(PAGE_WIDTH_MM / 2, 258, title, 30 if len(title) <= 8 else 22, heading=True,
              align="center", char_space=8 if len(title) <= 5 else 2)
    page.text(PAGE_WIDTH_MM / 2, 248.5, "电子证照", 10.5, color=_GREY, align="center",
              char_space=6)
    page.line(_LEFT, 244.5, _RIGHT, 244.5, 0.8, _FRAME)

    # table of facts (rows that do not fit continue on further pages)
    rows = _rows(values, certificate_type)
    size = next(
        (s for s in _SIZES if _table_height(fonts, rows, s) <= _TABLE_TOP - _TABLE_BOTTOM_FIRST),
        _SIZES[-1],
    )
    pages = _paginate(fonts, rows, size)
    _draw_rows(page, pages[0], size)
    _footer(page, payload, short_code_of(document), meta.issuer, values, seal_picture_png)
    for number, items in enumerate(pages[1:], start=2):
        page.new_page()
        page.frame()
        page.text(_RIGHT, 272, f"{title} 续页（第 {number} 页，共 {len(pages)} 页）", 9,
                  color=_GREY, align="right")
        page.line(_LEFT, 268, _RIGHT, 268, 0.8, _FRAME)
        _draw_rows(page, items, size)


def _gap(size: float) -> float:
    """Space between two rows (mm) at a body size."""
    return size * 0.36


def _row_lines(fonts: FontSet, row: _Row, size: float) -> tuple[list[str], float, float]:
    value_size = size - 1.5 if row.small else size
    width = (_RIGHT - _LEFT - _LABEL_WIDTH) * MM
    return _wrap(fonts, row.value, value_size, width), value_size, value_size * 1.45 / MM


def _table_height(fonts: FontSet, rows: Sequence[_Row], size: float) -> float:
    total = 0.0
    for row in rows:
        lines, _, leading = _row_lines(fonts, row, size)
        total += len(lines) * leading + _gap(size)
    return total


_Item = tuple[float, str | None, str, float]
"""One drawn line of the table: y (mm), label (None: a rule under the row), text, size."""


def _paginate(fonts: FontSet, rows: Sequence[_Row], size: float) -> list[list[_Item]]:
    """Lay the rows out from the top of page 1 down to above the footer, then on further
    pages; a long value may continue on the next page."""
    y, bottom = _TABLE_TOP, _TABLE_BOTTOM_FIRST
    pages: list[list[_Item]] = [[]]
    for row in rows:
        lines, value_size, leading = _row_lines(fonts, row, size)
        label = row.label
        for line in lines:
            if y - leading < bottom:
                pages.append([])
                y, bottom = _TABLE_TOP_NEXT, _TABLE_BOTTOM_NEXT
                label = f"{row.label}（续）" if not label else label
            pages[-1].append((y - leading + 1.2, label, line, value_size))
            label = ""
            y -= leading
        pages[-1].append((y - _gap(size) * 0.4, None, "", 0.0))
        y -= _gap(size)
    return pages


def _draw_rows(page: Surface, items: Sequence[_Item], size: float) -> None:
    for y, label, line, value_size in items:
        if label is None:
            page.line(_LEFT, y, _RIGHT, y, 0.35, _RULE)
            continue
        if label:
            page.text(_LEFT, y, label, size, heading=True, color=_GREY)
        page.text(_LEFT + _LABEL_WIDTH, y, line, value_size)


def _footer(
    page: Surface,
    payload: str,
    code: str,
    issuer: str,
    values: dict[str, ClaimValue],
    seal_picture_png: bytes | None,
) -> None:
    qr_x, qr_y = _LEFT - 2.5, 46.0
    page.qr(payload, qr_x, qr_y, QR_SIZE_MM)
    page.text(qr_x + QR_SIZE_MM + 2, 74, "扫描二维码核验", 9.5, heading=True, color=_GREY)
    page.text(qr_x + QR_SIZE_MM + 2, 68.5, "或在核验服务中输入下方核验码", 8.5, color=_GREY)
    label = "核验码："
    page.text(_LEFT, CODE_Y_MM, label, 9.5, heading=True, color=_GREY)
    start = _LEFT + page.fonts.width(page.fonts.runs(label, heading=True), 9.5) / MM + 1
    fits = (_RIGHT - start) * MM / pdfmetrics.stringWidth(code, page.fonts.mono, 1.0)
    page.mono_lines(start, CODE_Y_MM, [code], min(CODE_SIZE_PT, fits), 0.0)
    seal = SEAL_PLACEMENT
    center = seal.x_mm + seal.width_mm / 2
    page.text(center, 62, f"发证机关：{issuer}" if issuer else "发证机关", 11, heading=True,
              align="center")
    if "issue_date" in values:
        page.text(center, 54, chinese_date(values["issue_date"]), 11, align="center")
    page.text(PAGE_WIDTH_MM / 2, 15.5,
              f"本电子证照内嵌证照数据文件 {ATTACHMENT_NAME}，加盖电子印章；"
              "可扫描二维码或输入核验码核验真伪与状态。", 7, color=_GREY, align="center")
    if seal_picture_png is not None:
        page.image(seal_picture_png, seal.x_mm, seal.y_mm, seal.width_mm)
