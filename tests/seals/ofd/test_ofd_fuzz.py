"""Mutated OFD packages: nothing but an OfdError escapes, nothing takes long, and a package
is judged valid only when every file is what was sealed. The mutations hit the zip layer
(raw bytes) and the XML layer (one file's bytes changed, the zip rewritten)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ofd_testlib import TODAY, files_of, fixture, rezip

from seals.ofd import OfdError, verify_ofd

V4 = fixture("v4signed.ofd")
FILES = files_of(V4)
NAMES = sorted(n for n in FILES if n != "Doc_0/Signs/Signatures.xml")
"""Every file but Signatures.xml, which no signature protects (seals/ofd/README.md): its
MaxSignId may change, say, and the package stays valid."""


def judged(data: bytes) -> bool | None:
    started = time.process_time()
    try:
        ok = verify_ofd(data, now=TODAY).ok
    except OfdError:
        ok = None
    assert time.process_time() - started < 2.0
    return ok


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(V4) - 1), st.integers(min_value=1, max_value=255),
       st.integers(min_value=0, max_value=len(V4)))
def test_raw_bytes_changed_or_cut(pos: int, mask: int, cut: int) -> None:
    flipped = V4[:pos] + bytes([V4[pos] ^ mask]) + V4[pos + 1 :]
    if judged(flipped):
        assert files_of(flipped) == FILES  # a header field that changes no file
    if cut < len(V4):
        assert judged(V4[:cut]) is None


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(NAMES), st.data())
def test_one_file_changed(name: str, data: st.DataObject) -> None:
    content = FILES[name]
    pos = data.draw(st.integers(min_value=0, max_value=max(len(content) - 1, 0)))
    new = data.draw(st.binary(min_size=0, max_size=8))
    changed = content[:pos] + new + content[pos + 1 :]
    files = {**FILES, name: changed}
    assert judged(rezip(files)) in ((True,) if changed == content else (False, None))
