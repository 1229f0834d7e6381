"""The QR symbol of a payload as a module matrix: segno's encoding (ISO/IEC 18004), with the
data mask chosen by a fast evaluation of the standard's penalty rules.

segno evaluates the eight data masks in pure Python (about 20 ms for a version-10 symbol),
which alone would use the time budget of a whole certificate PDF. :func:`qr_matrix` lets
segno encode once with mask 0, then removes that mask and scores the eight candidates with
the penalty rules of ISO/IEC 18004:2015 §7.8.3.1 (N1 runs of five or more, N2 2×2 blocks,
N3 finder-like 1:1:3:1:1 patterns beside four light modules, N4 dark proportion) computed on
rows and columns held as integers (bit operations) and strings, picks the lowest, and
writes that mask's format information with segno's own routine. The result is a valid
symbol for any mask (a reader takes the mask from the format information);
``tests/certs/test_render.py`` checks that it equals segno's symbol for the same mask.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import segno
from segno import encoder

_N3 = ("00001011101", "10111010000")
"""Finder-like patterns with four light modules before or after (neither overlaps itself,
so ``str.count`` counts every occurrence)."""
_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
"""The eight QR data mask conditions (row i, column j), ISO/IEC 18004:2015 Table 10."""


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol without its quiet zone."""

    rows: tuple[bytes, ...]
    """One byte per module, 1 = dark, top row first."""
    version: int
    mask: int
    error: str
    """Error correction level: ``L``, ``M``, ``Q`` or ``H``."""

    @property
    def size(self) -> int:
        return len(self.rows)


def _transpose(rows: list[int], width: int) -> list[int]:
    """Rows as integers (column 0 = most significant bit) → columns as integers."""
    text = [format(r, f"0{width}b") for r in rows]
    return [int("".join(col), 2) for col in zip(*text, strict=True)]


@functools.lru_cache(maxsize=8)
def _mask_bits(width: int) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """Per mask: the bits it flips (data region only) per row and per column."""
    function = encoder.make_matrix(width, width)  # type: ignore[no-untyped-call]
    encoder.add_finder_patterns(function, width, width)  # type: ignore[no-untyped-call]
    encoder.add_alignment_patterns(function, width, width)  # type: ignore[no-untyped-call]
    function[-8][8] = 0x1  # the dark module
    out = []
    for condition in _MASKS:
        rows = []
        for i in range(width):
            bits = 0
            for j in range(width):
                bits <<= 1
                if function[i][j] > 0x1 and condition(i, j):
                    bits |= 1
            rows.append(bits)
        out.append((tuple(rows), tuple(_transpose(rows, width))))
    return tuple(out)


def penalty(rows: list[int], columns: list[int], width: int) -> int:
    """ISO/IEC 18004:2015 §7.8.3.1 penalty score of a symbol given as row and column
    integers (the most significant bit is column 0 or row 0)."""
    # N1 on every row and column at once: lines concatenated with a light gap bit between
    # them, dark runs found by shifting; light runs likewise on the inverted lines. A run of
    # length L >= 5 sets L - 4 bits of ``m`` in a row: its penalty L - 2 is that + 2.
    ones = (1 << width) - 1
    dark = light = 0
    for v in (*rows, *columns):
        dark = (dark << (width + 1)) | v
        light = (light << (width + 1)) | (~v & ones)
    score = 0
    for x in (dark, light):
        m = x & (x >> 1) & (x >> 2) & (x >> 3) & (x >> 4)
        score += m.bit_count() + 2 * (m & ~(m >> 1)).bit_count()
    # N3: each line padded with the light quiet zone, lines separated by "2"
    padded = "2".join("0000" + format(v, f"0{width}b") + "0000" for v in (*rows, *columns))
    score += 40 * (padded.count(_N3[0]) + padded.count(_N3[1]))
    full = (1 << (width - 1)) - 1
    for a, b in itertools.pairwise(rows):
        dark = a & b & (a >> 1) & (b >> 1) & full
        light = ~(a | b | (a >> 1) | (b >> 1)) & full
        score += 3 * (dark.bit_count() + light.bit_count())
    dark_modules = sum(r.bit_count() for r in rows)
    percent = dark_modules * 100 // (width * width)
    score += 10 * (abs(percent - 50) // 5)
    return score


def qr_matrix(payload: str, *, error: str = "m") -> QrMatrix:
    """The QR symbol (not Micro QR) of ``payload`` at error level ``error`` or higher (segno
    raises the level when that costs no size), with the lowest-penalty data mask."""
    code = segno.make(payload, error=error, micro=False, mask=0)
    width = int(code.symbol_size(border=0)[0])
    flips = _mask_bits(width)
    plain = [
        int(bytes(row).translate(_DIGITS), 2) ^ flip
        for row, flip in zip(code.matrix, flips[0][0], strict=True)
    ]
    plain_columns = _transpose(plain, width)
    best_mask, best_score = 0, -1
    for mask in range(8):
        row_flips, column_flips = flips[mask]
        score = penalty(
            [p ^ f for p, f in zip(plain, row_flips, strict=True)],
            [c ^ f for c, f in zip(plain_columns, column_flips, strict=True)],
            width,
        )
        if best_score < 0 or score < best_score:
            best_mask, best_score = mask, score
    if best_mask == 0:
        rows = tuple(bytes(row) for row in code.matrix)
    else:
        matrix = [
            bytearray(int(c) for c in format(p ^ f, f"0{width}b"))
            for p, f in zip(plain, flips[best_mask][0], strict=True)
        ]
        level = encoder.normalize_errorlevel(code.error)  # type: ignore[no-untyped-call]
        version = encoder.normalize_version(code.version)  # type: ignore[no-untyped-call]
        encoder.add_format_info(matrix, version, level, best_mask)  # type: ignore[no-untyped-call]
        rows = tuple(bytes(row) for row in matrix)
    return QrMatrix(rows, int(code.version), best_mask, str(code.error).upper())
