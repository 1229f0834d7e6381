"""A bound on the shape of DER input, checked before the ASN.1 library builds it.

asn1crypto decodes a whole structure into Python objects: a 4 MB input of a million tiny
INTEGERs took 20 s and 670 MB. Real seals, seal signatures and certificates hold tens to a
few hundred elements (pictures and certificates inside a seal are OCTET STRINGs: one element
each), so :func:`within` counts the elements of ``data`` by their headers alone and stops at
``limit``: ten thousand elements cost about 10 ms to count, whatever the input's size.
"""

from __future__ import annotations

MAX_ELEMENTS = 10_000
"""Most ASN.1 elements accepted in one seal, seal signature or certificate."""


def within(data: bytes, limit: int = MAX_ELEMENTS) -> bool:
    """Whether ``data`` holds at most ``limit`` elements (counted through constructed ones).
    Malformed headers end the count early: the parser then says what is wrong."""
    stack = [(0, len(data))]
    count = 0
    while stack:
        pos, end = stack.pop()
        while pos < end:
            tag = data[pos]
            pos += 1
            if tag & 0x1F == 0x1F:  # high tag number: base-128 continuation bytes
                while pos < end and data[pos] & 0x80:
                    pos += 1
                pos += 1
            if pos >= end:
                return True
            first = data[pos]
            pos += 1
            if first < 0x80:
                length = first
            else:
                size = first & 0x7F
                if size == 0 or size > 4 or pos + size > end:  # indefinite or absurd
                    return True
                length = int.from_bytes(data[pos : pos + size], "big")
                pos += size
            if pos + length > end:
                return True
            count += 1
            if count > limit:
                return False
            if tag & 0x20:  # constructed: its content is elements too
                stack.append((pos + length, end))
                end = pos + length
            else:
                pos += length
    return True
