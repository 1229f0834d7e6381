"""The fonts of rendered certificates: which TrueType files are looked for and where, and
:class:`FontSet`, the loaded fonts with their fallback order per role (明体 body, 黑体
headings, fallbacks, monospaced payload). See :mod:`certs.render` for how they are used."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]

from certs.errors import CertError
from certs.pdf_truetype import EmbeddedTTFont

log = logging.getLogger("certs.render")


class RenderError(CertError):
    """A certificate that cannot be rendered."""

    code = "render_error"


class FontMissing(RenderError):
    """No CJK TrueType font is installed (or a named font file is unusable)."""

    code = "font_missing"


class MissingGlyphWarning(UserWarning):
    """A character that no configured font can draw (it is printed as a "missing" glyph)."""


FONT_ROOTS: tuple[str, ...] = ("/usr/share/fonts",)
"""Directories the font files of :data:`FONT_FILES` are looked up in (first match wins)."""


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
    sources: dict[str, tuple[Path, int]] = field(default_factory=dict, compare=False)
    """Each loaded font's file and face index (in a ``.ttc``), by registered name: what an
    OFD package embeds subsets of (:mod:`certs.render_ofd`)."""
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
        sources: dict[str, tuple[Path, int]] = {}
        for file in wanted:
            path = _find(file, roots)
            if path is None:
                continue
            try:
                font = EmbeddedTTFont(file.name, str(path), file.subfont)
            except Exception as exc:  # reportlab raises TTFError and plain errors alike
                raise FontMissing(f"the font file {path} cannot be used: {exc}") from exc
            pdfmetrics.registerFont(font)
            loaded.setdefault(file.role, []).append(font)
            paths.append(path)
            sources[file.name] = (path, file.subfont)
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
        return cls(tuple(song + hei + rest), tuple(hei + song + rest), tuple(paths), mono,
                   sources=sources)

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
