"""The short code (核验码, certs.shortcode): its format, what a typist may vary, and that a
typing error is caught — by the parser, or by the check characters against the leaf."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from certs import shortcode
from certs.identifiers import IDENTIFIER_PREFIX, build_identifier

IDENTIFIER = str(build_identifier("11100000MA0000001Q001", "91110000101623741K", "2430599"))
LEAF = bytes(range(32))
TYPED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def independent_check(identifier: str, leaf: bytes) -> str:
    """The check characters computed apart from the module: OpenSSL's SM3 (hashlib), the
    40 bits read as one number, Crockford's alphabet written out."""
    digest = hashlib.new("sm3", b"zhengyin:short-code:v1" + identifier.encode() + leaf).digest()
    number = int(digest[:5].hex(), 16)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(alphabet[(number >> shift) & 31] for shift in range(35, -5, -5))


def test_the_format_and_an_independent_computation() -> None:
    code = shortcode.short_code(IDENTIFIER, LEAF)
    check = independent_check(IDENTIFIER, LEAF)
    assert code == f"{IDENTIFIER.removeprefix(IDENTIFIER_PREFIX)}-{check[:4]}-{check[4:]}"
    assert len(code) == 64 and str(shortcode.parse(code)) == code
    assert shortcode.matches(shortcode.parse(code), IDENTIFIER, LEAF)
    assert not shortcode.matches(shortcode.parse(code), IDENTIFIER, bytes(32))
    longest = str(build_identifier("11100000MA0000001Q001", "91110000101623741K", "9" * 32))
    assert len(shortcode.short_code(longest, LEAF)) == 89  # 83 letters and digits
    assert shortcode.looks_like_short_code(shortcode.short_code(longest, LEAF))


def test_every_single_typing_error_is_caught() -> None:
    """Each character replaced by any other a keyboard gives, and each two neighbours
    swapped: never read as this certificate's code, and never as a code that would match
    (the parser refuses it, or it names another identifier, or its check characters differ
    from those of this leaf)."""
    code = shortcode.short_code(IDENTIFIER, LEAF)
    positions = [i for i, c in enumerate(code) if c not in ".-"]

    def caught(text: str) -> bool:
        try:
            typed = shortcode.parse(text)
        except shortcode.ShortCodeError:
            return True
        return not shortcode.matches(typed, IDENTIFIER, LEAF)

    tried = 0
    for i in positions:
        for c in TYPED:
            typed = code[:i] + c + code[i + 1 :]
            # O, I and L read as 0, 1 and 1 in the check characters: the same code
            same = i >= len(code) - 9 and {code[i], c} in ({"0", "O"}, {"1", "I"}, {"1", "L"})
            if c != code[i] and not same:
                assert caught(typed), typed
                tried += 1
    for i, j in itertools.pairwise(positions):
        if code[i] != code[j]:
            swapped = list(code)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            assert caught("".join(swapped)), "".join(swapped)
            tried += 1
    assert tried > 1500


@pytest.mark.parametrize("text", [
    "ZY2.11100000MA0000001Q001.91110000101623741K", "hello", "", "1" * 39, "1" * 111,
    "証照" * 30, "1" * 201,
])
def test_what_is_not_taken_for_a_short_code(text: str) -> None:
    assert not shortcode.looks_like_short_code(text)
