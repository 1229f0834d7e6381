"""Seal pictures: draw the red round seal of an agency, or check a supplied image.

- ``draw_round_seal(name, *, centre_text=None, size_mm=40) -> SealPicture``: a PNG with
  transparency: red ring, five-pointed star, the agency name along the upper arc and an
  optional line under the star (e.g. the seal's purpose). The name needs a CJK font: the
  first of :data:`CJK_FONT_CANDIDATES` that exists (Debian: ``fonts-arphic-uming`` or
  ``fonts-wqy-zenhei``); without one, Pillow's default font is used and CJK glyphs may not
  show — the seal is still valid, only its picture is plainer.
- ``picture_from_bytes(data, *, width_mm, height_mm) -> SealPicture``: checks a supplied
  picture (type from its magic bytes, size limit, decodable by Pillow) and raises
  :class:`~seals.errors.SealPictureError` (``seal_picture_too_large`` /
  ``seal_picture_bad``) with a plain reason.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from seals.errors import SealPictureError
from seals.ses import MAX_PICTURE_BYTES, SealPicture

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
"""Fonts tried, in order, for the agency name."""

SEAL_RED = (220, 20, 30, 255)
PIXELS_PER_MM = 10


def find_cjk_font() -> Path | None:
    """The first CJK font found on this machine, or None."""
    for candidate in CJK_FONT_CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = find_cjk_font()
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, radius: float) -> None:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.382
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=SEAL_RED)


def draw_round_seal(name: str, *, centre_text: str | None = None, size_mm: int = 40) -> SealPicture:
    """A red round seal (PNG, ``size_mm`` × ``size_mm``) with ``name`` along the upper arc."""
    if not name.strip():
        raise SealPictureError("a seal picture needs the agency name")
    if not 10 <= size_mm <= 100:
        raise SealPictureError(f"seal size {size_mm} mm is outside 10..100 mm")
    px = size_mm * PIXELS_PER_MM
    img = Image.new("RGBA", (px, px), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    c = px / 2
    ring = max(px // 40, 3)
    draw.ellipse((ring, ring, px - ring, px - ring), outline=SEAL_RED, width=ring * 2)
    _star(draw, c, c, px * 0.16)

    chars = list(name.strip())
    font_size = int(px * (0.13 if len(chars) <= 12 else 0.10))
    font = _font(font_size)
    text_radius = c - ring * 3 - font_size * 0.62
    span = min(math.radians(220), math.radians(22) * len(chars))
    start = -math.pi / 2 - span / 2
    step = span / max(len(chars) - 1, 1)
    for i, ch in enumerate(chars):
        angle = start + i * step if len(chars) > 1 else -math.pi / 2
        glyph = Image.new("RGBA", (font_size * 2, font_size * 2), (255, 255, 255, 0))
        gd = ImageDraw.Draw(glyph)
        gd.text(
            (font_size, font_size),
            ch,
            font=font,
            fill=SEAL_RED,
            anchor="mm",
            stroke_width=max(font_size // 40, 1),
            stroke_fill=SEAL_RED,
        )
        rotated = glyph.rotate(-math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
        x = c + text_radius * math.cos(angle) - font_size
        y = c + text_radius * math.sin(angle) - font_size
        img.alpha_composite(rotated, (int(x), int(y)))
    if centre_text:
        small = _font(int(px * 0.08))
        draw.text((c, c + px * 0.25), centre_text, font=small, fill=SEAL_RED, anchor="mm")
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return SealPicture(type="PNG", data=out.getvalue(), width_mm=size_mm, height_mm=size_mm)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


def picture_type(data: bytes) -> str:
    """``PNG``, ``JPG``, ``GIF``, ``BMP`` or ``SVG`` from the magic bytes."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    raise SealPictureError("seal picture: not a PNG, JPG, GIF, BMP or SVG image")


def picture_from_bytes(data: bytes, *, width_mm: int = 40, height_mm: int = 40) -> SealPicture:
    """A supplied picture, checked: size limit, known type, decodable (raster types)."""
    if len(data) > MAX_PICTURE_BYTES:
        raise SealPictureError(
            f"seal picture of {len(data)} bytes exceeds the {MAX_PICTURE_BYTES}-byte limit",
            code="seal_picture_too_large",
        )
    if not 1 <= width_mm <= 1000 or not 1 <= height_mm <= 1000:
        raise SealPictureError("seal picture size must be 1..1000 mm")
    kind = picture_type(data)
    if kind != "SVG":
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > 16_000_000:
                    raise SealPictureError(
                        f"seal picture of {img.width}×{img.height} pixels is too large",
                        code="seal_picture_too_large",
                    )
                img.verify()
        except (SealPictureError, MemoryError):  # out of memory says nothing of the picture
            raise
        except Exception as exc:
            raise SealPictureError(f"seal picture: not a readable {kind} image ({exc})") from exc
    return SealPicture(type=kind, data=bytes(data), width_mm=width_mm, height_mm=height_mm)
