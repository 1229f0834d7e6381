"""Bad input never escapes as anything but SealError, and never takes long."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seals_testlib import OFDRW

from seals import ses
from seals.errors import SealError
from seals.seal import verify_seal, verify_signature

SEAL = (OFDRW / "UserV4.esl").read_bytes()
SIG = (OFDRW / "SignedValueV4.dat").read_bytes()
V1 = (OFDRW / "UserV1.esl").read_bytes()


def _parse_all(data: bytes) -> None:
    for fn in (ses.parse_seal, ses.parse_signature, ses.detect):
        try:
            fn(data)
        except SealError:
            pass


@settings(
    max_examples=300, deadline=1000, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _parse_all(data)
    _parse_all(b"\x30\x82" + len(data).to_bytes(2, "big") + data)


@settings(max_examples=150, deadline=2000, database=None)
@given(st.sampled_from([SEAL, SIG, V1]), st.integers(min_value=0, max_value=17800))
def test_truncations(raw: bytes, cut: int) -> None:
    _parse_all(raw[: min(cut, len(raw))])


@settings(max_examples=150, deadline=2000, database=None)
@given(st.sampled_from([SEAL, SIG, V1]), st.integers(min_value=0), st.integers(1, 255))
def test_byte_changes_parse_or_fail_cleanly(raw: bytes, pos: int, xor: int) -> None:
    i = pos % len(raw)
    changed = raw[:i] + bytes([raw[i] ^ xor]) + raw[i + 1 :]
    _parse_all(changed)
    # verification never raises, whatever the input
    verify_seal(changed)
    verify_signature(changed)


def test_every_truncation_of_a_signature_is_fast() -> None:
    start = time.perf_counter()
    for cut in range(0, len(SIG), 37):
        _parse_all(SIG[:cut])
    assert time.perf_counter() - start < 10


def test_an_element_the_asn1_library_cannot_build_is_a_named_format_error() -> None:
    """The fuzz test's find (CI, 2026-12-04): a signature whose first element is a primitive
    of the application (or private) class made `parse_signature` raise asn1crypto's
    ValueError, not a SealError: an API answer would have been a 500."""
    for first in (0x4E, 0x41, 0xC1, 0xDF):
        for body in (bytes([first, 3, 0, 0, 0]), bytes([first, 0]) + b"\x02\x01\x00"):
            raw = b"\x30\x82" + len(body).to_bytes(2, "big") + body
            for fn in (ses.parse_seal, ses.parse_signature, ses.detect):
                try:
                    fn(raw)
                except SealError as exc:
                    assert exc.code.startswith("ses_"), exc.code
