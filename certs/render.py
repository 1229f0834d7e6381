"""Certificate PDFs: the A4 page a holder prints or keeps, with the QR code to verify it.

:func:`render_certificate` draws one certificate document (:class:`CertificateDocument`) as
an A4 PDF (reportlab):

- the certificate's name as the title; a table of labelled facts — 持证主体, the holder's code
  (labelled by its code type), 证照编号, 电子证照标识, 签发日期, 有效期, 发证机关 — then the
  type-specific fields with their Chinese labels (:meth:`CertificateType.label`) and any
  加注件. Hidden claims are left out. The page is the holder's own document: personal data
  appears in clear on it; only the QR code must not carry any.
- a QR code (segno, error correction M or better, 4-module quiet zone, :data:`QR_SIZE_MM`
  wide, drawn as vector rectangles) carrying :func:`certs.qr.payload_for` — format ``ZY2``,
  no personal data, about 280 characters — and the same payload printed below it as text
  (核验码) for manual entry;
- the issuer line (发证机关 and the issue date) at the bottom right, where the seal goes:
  :data:`SEAL_PLACEMENT` says where (page 1; ≈ 40 mm). ``seal_picture_png`` draws the seal
  picture there (a preview); a sealed PDF instead gets its visible seal from the seal
  signature's own appearance (``verifier.render.seal_certificate_pdf`` renders without the
  picture and stamps at :data:`SEAL_PLACEMENT`), so the picture is not drawn twice;
- the whole certificate document (canonical JSON) as an embedded file named
  ``certificate.json`` (:data:`ATTACHMENT_NAME`, ``/Names /EmbeddedFiles``, MIME type
  ``application/json``), so a verifier can run the full certificate check from the PDF alone.

Rows that do not fit on the first page continue on further pages (续页); the QR code and the
seal stay on page 1.

Fonts. Chinese text is set in embedded, subsetted TrueType fonts (reportlab embeds subsets of
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
import logging
import re
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isal import isal_zlib
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.rl_accel import fp_str  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfdoc, pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from certs import qr
from certs.canonical import CertificateDocument, ClaimValue
from certs.errors import CertError
from certs.qrmatrix import qr_matrix
from certs.types import CORE_LABELS, HOLDER_CODE_TYPES, CertificateType

log = logging.getLogger(__name__)
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

FONT_ROOTS: tuple[str, ...] = ("/usr/share/fonts",)
"""Directories the font files of :data:`FONT_FILES` are looked up in (first match wins)."""


class RenderError(CertError):
    """A certificate that cannot be rendered."""

    code = "render_error"


class FontMissing(RenderError):
    """No CJK TrueType font is installed (or a named font file is unusable)."""

    code = "font_missing"


class MissingGlyphWarning(UserWarning):
    """A character that no configured font can draw (it is printed as a "missing" glyph)."""


@dataclass(frozen=True)
class FontFile:
    """One TrueType font file the renderer may use."""

    name: str
    """Name the font is registered under in reportlab (unique per face)."""
    path: str
    """Path of the ``.ttf``/``.ttc`` file, relative to a directory of :data:`FONT_ROOTS`
    (or absolute)."""
    subfont: int = 0
    """Index of the face inside a TrueType collection (``.ttc``)."""
    role: str = "fallback"
    """``song`` (明体/宋体, body text), ``hei`` (黑体, headings and labels) or ``fallback``
    (used only for characters the others lack)."""
    package: str = ""
    """The Debian package that installs it (for error messages)."""


FONT_FILES: tuple[FontFile, ...] = (
    FontFile("ZY-UMingCN", "truetype/arphic/uming.ttc", 0, "song", "fonts-arphic-uming"),
    FontFile("ZY-WQYZenHei", "truetype/wqy/wqy-zenhei.ttc", 0, "hei", "fonts-wqy-zenhei"),
    FontFile("ZY-WQYZenHeiMono", "truetype/wqy/wqy-zenhei.ttc", 1, "mono", "fonts-wqy-zenhei"),
    FontFile("ZY-HanaMinA", "truetype/hanazono/HanaMinA.ttf", 0, "fallback", "fonts-hanazono"),
    FontFile("ZY-HanaMinB", "truetype/hanazono/HanaMinB.ttf", 0, "fallback", "fonts-hanazono"),
)
"""The fonts looked for, in order of preference within each role."""

MONO_FALLBACK = "Courier"
"""Font of the printed verification payload when no ``mono`` font is installed (a PDF
standard font; the payload is ASCII)."""


# --------------------------------------------------------------------------- fonts


def _utf16_hex(code: int) -> str:
    if code <= 0xFFFF:
        return f"{code:04X}"
    return chr(code).encode("utf-16-be").hex().upper()  # a surrogate pair


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
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


class _FastFlate:
    """``/FlateDecode`` by ISA-L (``isal``) at its level 1: a standard zlib stream, made
    five times faster than by zlib at level 1 and no larger; embedded font subsets are most
    of a certificate's bytes, and compressing them was a tenth of its rendering time."""

    pdfname = "FlateDecode"

    def encode(self, data: bytes | str) -> bytes:
        return bytes(isal_zlib.compress(data.encode("utf-8") if isinstance(data, str) else data, 1))

    def decode(self, data: bytes) -> bytes:
        return zlib.decompress(data)


_FAST_FLATE = _FastFlate()


class _EmbeddedTTFont(TTFont):  # type: ignore[misc]
    """reportlab's subsetting TrueType font with a correct ToUnicode map beyond the BMP.

    ``addObjects`` is reportlab 5.1.0's own, except for the ToUnicode CMap. The font's
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
            cmap = pdfdoc.PDFStream(content=_to_unicode_cmap(base_name, subset),
                                    filters=[_FAST_FLATE])
            font.ToUnicode = doc.Reference(cmap, "toUnicodeCMap:" + base_name)
            font.FontDescriptor = self.face.addSubsetObjects(doc, base_name, subset)
            font_file = doc.idToObject.get(f"fontFile:{self.face.filename}({base_name})")
            if font_file is not None:
                font_file.filters = [_FAST_FLATE]
            doc.Reference(font, internal_name)
            doc.idToObject["BasicFonts"].dict[internal_name] = font
        del self.state[doc]


def _find(file: FontFile, roots: Sequence[str | Path]) -> Path | None:
    candidate = Path(file.path)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for root in roots:
        path = Path(root) / candidate
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class FontSet:
    """The loaded fonts, in fallback order per role. Build once (:meth:`load` or
    :func:`default_fonts`) and reuse: loading parses each font file."""

    body: tuple[Any, ...]
    """reportlab TrueType fonts for body text: the song fonts first, then hei, then fallbacks."""
    heading: tuple[Any, ...]
    """For titles and labels: hei first, then song, then fallbacks."""
    paths: tuple[Path, ...]
    """The font files loaded."""
    mono: str = MONO_FALLBACK
    """Registered name of the monospaced font for the verification payload."""
    _choice: dict[tuple[int, str], int] = field(default_factory=dict, compare=False, repr=False)
    _widths: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(
        cls, files: Iterable[FontFile] = FONT_FILES, roots: Sequence[str | Path] = FONT_ROOTS
    ) -> FontSet:
        """Load every font of ``files`` found under ``roots``; :class:`FontMissing` if none
        is found or one that is found cannot be read."""
        wanted = list(files)
        loaded: dict[str, list[Any]] = {"song": [], "hei": [], "mono": [], "fallback": []}
        paths: list[Path] = []
        for file in wanted:
            path = _find(file, roots)
            if path is None:
                continue
            try:
                font = _EmbeddedTTFont(file.name, str(path), file.subfont)
            except Exception as exc:  # reportlab raises TTFError and plain errors alike
                raise FontMissing(f"the font file {path} cannot be used: {exc}") from exc
            pdfmetrics.registerFont(font)
            loaded.setdefault(file.role, []).append(font)
            paths.append(path)
        if not paths:
            packages = sorted({f.package for f in wanted if f.package})
            raise FontMissing(
                "no CJK TrueType font found under "
                + ", ".join(str(r) for r in roots)
                + (f": install the Debian packages {' '.join(packages)}" if packages else "")
            )
        song, hei, rest = loaded["song"], loaded["hei"], loaded["fallback"]
        if not song + hei + rest:
            raise FontMissing("of the fonts found, none is a song, hei or fallback CJK font")
        mono = loaded["mono"][0].fontName if loaded["mono"] else MONO_FALLBACK
        return cls(tuple(song + hei + rest), tuple(hei + song + rest), tuple(paths), mono)

    def runs(self, text: str, *, heading: bool = False) -> list[tuple[str, str]]:
        """Split ``text`` into ``(font name, text)`` runs: each character in the first font
        of the role that has it. A character no font has warns (:class:`MissingGlyphWarning`)
        and stays in the run's font, drawn as that font's missing glyph."""
        chain = self.heading if heading else self.body
        role = 1 if heading else 0
        out: list[tuple[str, str]] = []
        current = -1
        start = 0
        for i, ch in enumerate(text):
            index = self._choice.get((role, ch))
            if index is None:
                index = self._pick(chain, ch)
                self._choice[(role, ch)] = index
            if index < 0:  # whitespace or missing: keep the current font
                if index == -2:
                    _warn_missing(ch, text)
                index = max(current, 0)
            if index != current:
                if i > start:
                    out.append((chain[current].fontName, text[start:i]))
                current, start = index, i
        if start < len(text):
            out.append((chain[max(current, 0)].fontName, text[start:]))
        return out

    @staticmethod
    def _pick(chain: Sequence[Any], ch: str) -> int:
        code = ord(ch)
        if ch.isspace():
            return -1
        for index, font in enumerate(chain):
            if code in font.face.charToGlyph:
                return index
        return -2

    def char_width(self, ch: str) -> float:
        """Width of one character of body text at size 1 (cached)."""
        width = self._widths.get(ch)
        if width is None:
            width = self._widths[ch] = self.width(self.runs(ch), 1.0)
        return width

    def width(self, runs: Iterable[tuple[str, str]], size: float) -> float:
        """Width in points of ``runs`` set at ``size``."""
        return float(sum(pdfmetrics.stringWidth(text, name, size) for name, text in runs))


def _warn_missing(ch: str, text: str) -> None:
    message = (
        f"no installed font has a glyph for {ch!r} (U+{ord(ch):04X}) in {text!r}: "
        "it is printed as a missing-glyph box"
    )
    log.warning(message)
    warnings.warn(message, MissingGlyphWarning, stacklevel=4)


@functools.lru_cache(maxsize=1)
def default_fonts() -> FontSet:
    """:meth:`FontSet.load` with the defaults, loaded once per process."""
    return FontSet.load()


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
    rows: list[_Row] = []

    def add(label: str, path: str, *, small: bool = False, date: bool = False) -> None:
        if path in values and values[path] not in (None, "", ()):
            value = chinese_date(values[path]) if date else _text(values[path])
            rows.append(_Row(label, value, small))

    add("持证主体", "holder.name")
    code_type = values.get("holder.code_type")
    holder_code_label = (
        HOLDER_CODE_TYPES.get(code_type, CORE_LABELS["holder.code"])
        if isinstance(code_type, str)
        else CORE_LABELS["holder.code"]
    )
    add(holder_code_label, "holder.code")
    add("证照编号", "number")
    add("电子证照标识", "identifier", small=True)
    add("签发日期", "issue_date", date=True)
    if "valid_from" in values or "valid_until" in values:
        start = chinese_date(values["valid_from"]) if "valid_from" in values else "……"
        until = values.get("valid_until", "……")
        end = "长期" if until is None else chinese_date(until)
        rows.append(_Row("有效期", f"{start} 至 {end}"))
    add("发证机关", "issuer.name")
    declared = (*certificate_type.required_fields, *certificate_type.optional_fields)
    prefix = "fields."
    present = [p.removeprefix(prefix) for p in values if p.startswith(prefix)]
    for key in [k for k in declared if k in present] + [k for k in present if k not in declared]:
        is_date = certificate_type.kind(key) == "date"
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


class _Page:
    """Drawing helpers over a reportlab canvas, in millimetres."""

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


def _qr(page: _Page, payload: str, x: float, y: float, size: float) -> None:
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
        filters=[_FAST_FLATE],
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
    """Each page's content stream compressed with :data:`_FAST_FLATE` (reportlab's own page
    compression would use zlib at its default level)."""
    for page in canvas._doc.Pages.pages:
        if not page.Contents:
            page.Contents = pdfdoc.PDFStream(content=page.stream, filters=[_FAST_FLATE])


def render_certificate(
    document: CertificateDocument,
    *,
    certificate_type: CertificateType,
    seal_picture_png: bytes | None,
    fonts: FontSet,
) -> bytes:
    """The certificate as an A4 PDF (see the module docstring). ``document`` must be signed
    and anchored (its QR payload needs both): :class:`certs.qr.QrPayloadError` otherwise.
    ``seal_picture_png`` (PNG or any image Pillow reads), when given, is drawn at
    :data:`SEAL_PLACEMENT`. The output is reproducible: the same inputs give the same bytes."""
    payload = qr.payload_for(document).encode()
    values = document.values()
    title = _text(values.get("name")) or certificate_type.name
    issuer = _text(values.get("issuer.name"))
    identifier = _text(values.get("identifier"))

    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=0,
               initialFontName=fonts.body[0].fontName)
    c.setTitle(f"{title} {identifier}".strip())
    c.setSubject("电子证照 (Zhengyin certificate)")
    c.setAuthor(issuer)
    c.setCreator("Zhengyin")
    page = _Page(c, fonts)
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
    _footer(page, payload, issuer, values, seal_picture_png)
    for number, items in enumerate(pages[1:], start=2):
        c.showPage()
        page.frame()
        page.text(_RIGHT, 272, f"{title} 续页（第 {number} 页，共 {len(pages)} 页）", 9,
                  color=_GREY, align="right")
        page.line(_LEFT, 268, _RIGHT, 268, 0.8, _FRAME)
        _draw_rows(page, items, size)
    c.showPage()
    _attach(c, ATTACHMENT_NAME, document.to_json().encode("utf-8"),
            "电子证照数据 (zhengyin-cert/1 certificate document)")
    _compress_pages(c)
    c.save()
    return buffer.getvalue()


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


def _draw_rows(page: _Page, items: Sequence[_Item], size: float) -> None:
    for y, label, line, value_size in items:
        if label is None:
            page.line(_LEFT, y, _RIGHT, y, 0.35, _RULE)
            continue
        if label:
            page.text(_LEFT, y, label, size, heading=True, color=_GREY)
        page.text(_LEFT + _LABEL_WIDTH, y, line, value_size)


def _footer(
    page: _Page,
    payload: str,
    issuer: str,
    values: dict[str, ClaimValue],
    seal_picture_png: bytes | None,
) -> None:
    qr_x, qr_y = _LEFT - 2.5, 46.0
    _qr(page, payload, qr_x, qr_y, QR_SIZE_MM)
    page.text(qr_x + QR_SIZE_MM + 2, 74, "扫描二维码核验", 9.5, heading=True, color=_GREY)
    page.text(qr_x + QR_SIZE_MM + 2, 68.5, "或在核验服务中输入下方核验码", 8.5, color=_GREY)
    page.text(_LEFT, 41.5, "核验码：", 8.5, heading=True, color=_GREY)
    mono = page.fonts.mono
    per_line = int((_RIGHT - _LEFT) * MM / pdfmetrics.stringWidth("M", mono, 7.5))
    y = 37.5
    page.c.setFillColorRGB(*_INK)
    page.c.setFont(mono, 7.5)
    for start in range(0, len(payload), per_line):
        page.c.drawString(_LEFT * MM, y * MM, payload[start : start + per_line])
        y -= 3.4
    seal = SEAL_PLACEMENT
    center = seal.x_mm + seal.width_mm / 2
    page.text(center, 62, f"发证机关：{issuer}" if issuer else "发证机关", 11, heading=True,
              align="center")
    if "issue_date" in values:
        page.text(center, 54, chinese_date(values["issue_date"]), 11, align="center")
    page.text(PAGE_WIDTH_MM / 2, 15.5,
              f"本电子证照内嵌证照数据文件 {ATTACHMENT_NAME}，加盖发证机关电子印章；"
              "可扫描二维码或输入核验码核验真伪与状态。", 7, color=_GREY, align="center")
    if seal_picture_png is not None:
        image = _image_reader(seal_picture_png)
        w, h = image.getSize()
        width = seal.width_mm * MM
        page.c.drawImage(image, seal.x_mm * MM, seal.y_mm * MM, width, width * h / w,
                         mask="auto")
