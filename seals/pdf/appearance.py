"""The visible part of a seal in a PDF: the seal picture as PDF image data (with its alpha as a
soft mask), or a red ring for pictures that cannot be drawn as an image (SVG).
"""

from __future__ import annotations

import functools
import io
import zlib
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from seals.pdf.errors import PdfInputError
from seals.pdf.syntax import serialize


@dataclass(frozen=True)
class SealImage:
    width: int
    height: int
    color_space: str
    filter: str
    data: bytes
    alpha: bytes | None


@functools.lru_cache(maxsize=16)
def seal_image(kind: str, data: bytes) -> SealImage | None:
    """The seal picture as PDF image data (cached: seals are reused for many documents)."""
    if kind == "SVG":
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if kind == "JPG" and im.mode in ("RGB", "L", "CMYK"):
                space = {"RGB": "DeviceRGB", "L": "DeviceGray", "CMYK": "DeviceCMYK"}[im.mode]
                return SealImage(im.width, im.height, space, "DCTDecode", data, None)
            has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
            rgba = im.convert("RGBA" if has_alpha else "RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise PdfInputError(f"the seal picture cannot be drawn: {exc}") from exc
    alpha = None
    if has_alpha:
        alpha = zlib.compress(rgba.getchannel("A").tobytes(), 6)
        rgba = rgba.convert("RGB")
    return SealImage(
        rgba.width, rgba.height, "DeviceRGB", "FlateDecode", zlib.compress(rgba.tobytes(), 6), alpha
    )


def ring(w: float, h: float) -> bytes:
    """A red ring, for pictures that cannot be drawn as an image (SVG)."""
    k = 0.5523
    rx, ry, cx, cy = w / 2 - 2, h / 2 - 2, w / 2, h / 2
    n = serialize
    return b" ".join(
        [
            b"q 0.86 0.08 0.12 RG 3 w",
            n(cx + rx) + b" " + n(cy) + b" m",
            b"%s %s %s %s %s %s c" % (n(cx + rx), n(cy + k * ry), n(cx + k * rx), n(cy + ry),
                                      n(cx), n(cy + ry)),
            b"%s %s %s %s %s %s c" % (n(cx - k * rx), n(cy + ry), n(cx - rx), n(cy + k * ry),
                                      n(cx - rx), n(cy)),
            b"%s %s %s %s %s %s c" % (n(cx - rx), n(cy - k * ry), n(cx - k * rx), n(cy - ry),
                                      n(cx), n(cy - ry)),
            b"%s %s %s %s %s %s c" % (n(cx + k * rx), n(cy - ry), n(cx + rx), n(cy - k * ry),
                                      n(cx + rx), n(cy)),
            b"s Q",
        ]
    )
