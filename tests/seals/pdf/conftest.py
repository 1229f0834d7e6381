"""Fixtures of the ``seals.pdf`` tests: one seal and sealed samples per session."""

from __future__ import annotations

import pytest
from pdf_testlib import PLAIN, stamp, xref_stream_copy
from seals_testlib import Pki, make_seal

from seals.ses import Seal


@pytest.fixture(scope="session")
def seal(pki: Pki) -> Seal:
    return make_seal(pki)


@pytest.fixture(scope="session")
def sealed(pki: Pki, seal: Seal) -> bytes:
    """``three-pages.pdf`` with one seal on its last page."""
    return stamp(PLAIN, pki, seal)


@pytest.fixture(scope="session")
def sealed_xref_stream(pki: Pki, seal: Seal) -> bytes:
    """The cross-reference-stream copy of ``three-pages.pdf``, with one seal."""
    return stamp(xref_stream_copy(), pki, seal)
