"""The QR symbol of a payload as a module matrix, encoded by zxing-cpp (ISO/IEC 18004).

zxing-cpp's encoder (C++) picks the smallest version for the error level and the data mask
with the lowest penalty score, as the standard describes, in under a millisecond; segno's
pure-Python encoder took about 9 ms for the version-9 symbol a certificate carries, a third
of a certificate PDF's time budget. ``tests/certs/test_render.py`` reads every symbol back
and checks its version and error level against segno's choice for the same payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import zxingcpp

_DARK = bytes.maketrans(bytes(range(256)), b"\x01" + b"\x00" * 255)
"""zxing-cpp draws dark modules as 0 and light ones as 255: → 1 dark, 0 light."""


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol without its quiet zone."""

    rows: tuple[bytes, ...]
    """One byte per module, 1 = dark, top row first."""
    error: str
    """Error correction level: ``L``, ``M``, ``Q`` or ``H``."""

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def version(self) -> int:
        return (self.size - 17) // 4


def qr_matrix(payload: str, *, error: str = "m") -> QrMatrix:
    """The QR symbol (not Micro QR) of ``payload`` at error level ``error``."""
    level = error.upper()
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    image = memoryview(cast(Any, code.to_image(scale=1, add_quiet_zones=False)))
    height, width = image.shape or (0, 0)
    pixels = image.tobytes().translate(_DARK)
    rows = tuple(pixels[i * width : (i + 1) * width] for i in range(height))
    return QrMatrix(rows, level)
