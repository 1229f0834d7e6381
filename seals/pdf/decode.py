"""Decoding the streams that hold a PDF's structure (cross-reference and object streams):
FlateDecode with PNG predictors, bounded per stream and per file (a decompression bomb is
:class:`PdfHostile`). :meth:`PdfFile.decode <seals.pdf.reader.PdfFile.decode>` calls it.
"""

from __future__ import annotations

import zlib
from itertools import accumulate
from typing import TYPE_CHECKING

from seals.pdf.errors import PdfHostile, PdfMalformed
from seals.pdf.syntax import Stream, brief

if TYPE_CHECKING:
    from seals.pdf.reader import PdfFile


def decode_stream(file: PdfFile, stream: Stream, *, needed: int | None = None) -> bytes:
    """The decoded data of a stream (FlateDecode with PNG predictors, bounded).
    ``needed``: how many decoded bytes are used (the rest is not decoded)."""
    filters = stream.dict.get("Filter")
    params = stream.dict.get("DecodeParms")
    if filters is None:
        return stream.raw
    if isinstance(filters, list):
        if len(filters) != 1:
            raise PdfMalformed("structure streams with chained filters are not supported")
        filters = filters[0]
        params = params[0] if isinstance(params, list) and params else params
    if filters != "FlateDecode":
        raise PdfMalformed(f"structure stream with unsupported filter /{filters}")
    predictor = params.get("Predictor", 1) if isinstance(params, dict) else 1
    row = 0
    if predictor not in (1, None):
        if not isinstance(predictor, int) or not 10 <= predictor <= 15:
            raise PdfMalformed(f"structure stream with unsupported predictor {predictor}")
        assert isinstance(params, dict)
        columns = params.get("Columns", 1)
        colors = params.get("Colors", 1)
        bpc = params.get("BitsPerComponent", 8)
        if not (
            isinstance(columns, int) and isinstance(colors, int) and 1 <= colors <= 32
            and 1 <= columns <= file.limits.max_decoded and bpc in (1, 2, 4, 8, 16)
        ):
            raise PdfMalformed(f"bad /DecodeParms of a structure stream: {brief(params)}")
        row = (columns * colors * bpc + 7) // 8
    budget = min(file.limits.max_decoded, file.limits.max_decoded_total - file._decoded_total)
    want = budget + 1
    if needed is not None:  # decode what is used, not what the stream claims
        if needed == 0:
            return b""
        want = min(want, needed + (needed // row + 1 if row else 0))
    d = zlib.decompressobj()
    try:
        out = d.decompress(stream.raw, want)
    except zlib.error as exc:
        raise PdfMalformed(f"a compressed structure stream is corrupt: {exc}") from exc
    if needed is None and (len(out) > budget or d.unconsumed_tail):
        raise PdfHostile(
            "a compressed stream expands beyond the limit "
            f"({file.limits.max_decoded} bytes per stream, "
            f"{file.limits.max_decoded_total} per file): a decompression bomb?"
        )
    if len(out) > budget:
        raise PdfHostile("compressed structure streams expand beyond the limit per file")
    file._decoded_total += len(out)
    file.budget.spend(len(out) // 256 + len(stream.raw) // 256)
    if row:
        if row + 1 > len(out):
            raise PdfMalformed(
                f"a structure stream's predictor rows ({row} bytes) are longer than its data"
            )
        colors = params.get("Colors", 1) if isinstance(params, dict) else 1
        bpc = params.get("BitsPerComponent", 8) if isinstance(params, dict) else 8
        out = _unpredict(file, out, row, max(1, colors * bpc // 8))
    return out

def _unpredict(file: PdfFile, data: bytes, row: int, bpp: int) -> bytes:
    """PNG predictors (ISO 32000-1 §7.4.4.4), every row tagged with its filter type.

    Rows of type None or Up (what writers use) are undone a column at a time in C
    (``accumulate``); Sub, Average and Paeth need a Python loop per byte and have their
    own, smaller budget."""
    stride = row + 1
    n = len(data) // stride
    body = n * stride
    file._predicted += body
    if file._predicted > file.limits.max_predicted:
        raise PdfHostile(
            f"more than {file.limits.max_predicted} bytes of predicted structure data"
        )
    file.budget.spend(body // 16)
    types = data[0:body:stride]
    mask = (255).__and__
    if types[0] in (0, 2) and not types[1:].strip(b"\x02"):
        out = bytearray(n * row)
        for j in range(row):
            out[j::row] = bytes(map(mask, accumulate(data[j + 1 : body : stride])))
        return bytes(out)
    out = bytearray()
    prev = bytes(row)
    m7 = int.from_bytes(b"\x7f" * row, "big")
    m8 = int.from_bytes(b"\x80" * row, "big")
    for start in range(0, body, stride):
        kind = data[start]
        if kind == 0:
            cur = data[start + 1 : start + stride]
        elif kind == 2:
            x = int.from_bytes(data[start + 1 : start + stride], "big")
            y = int.from_bytes(prev, "big")
            cur = (((x & m7) + (y & m7)) ^ ((x ^ y) & m8)).to_bytes(row, "big")
        elif kind in (1, 3, 4):
            file._predicted_per_byte += row
            file.budget.spend(row)
            if file._predicted_per_byte > file.limits.max_predicted_per_byte:
                raise PdfHostile(
                    "more than "
                    f"{file.limits.max_predicted_per_byte} bytes of Sub/Average/Paeth rows"
                )
            cur = _per_byte(kind, bytearray(data[start + 1 : start + stride]), prev, bpp)
        else:
            raise PdfMalformed(f"bad PNG predictor row type {kind}")
        out += cur
        prev = cur
    return bytes(out)


def _per_byte(kind: int, cur: bytearray, prev: bytes, bpp: int) -> bytes:
    """One PNG row of type Sub (1), Average (3) or Paeth (4)."""
    columns = len(cur)
    if kind == 1:
        for i in range(bpp, columns):
            cur[i] = (cur[i] + cur[i - bpp]) & 0xFF
    elif kind == 3:
        for i in range(columns):
            left = cur[i - bpp] if i >= bpp else 0
            cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
    else:
        for i in range(columns):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            cur[i] = (cur[i] + pred) & 0xFF
    return bytes(cur)
