"""Shared fixtures for the ``seals`` tests: fixture paths, SM2 backends, a small in-memory PKI.

Clocks are pinned: everything made here is dated from ``T0``, never from today's date.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from seals_testlib import Pki

from seals import sm2


@pytest.fixture(params=[b.name for b in sm2.available_backends()])
def backend(request: pytest.FixtureRequest) -> sm2.Sm2Backend:
    """Every SM2 backend that loads here (native, libcrypto, gmssl-pyx)."""
    return sm2.get_backend(request.param)


@pytest.fixture(scope="session")
def openssl() -> str:
    exe = shutil.which("openssl")
    assert exe is not None, "the openssl CLI is required for the interop tests"
    return exe


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ZHENGYIN_HOME with a fixed key passphrase."""
    h = tmp_path / "home"
    monkeypatch.setenv("ZHENGYIN_HOME", str(h))
    monkeypatch.setenv("ZHENGYIN_KEY_PASSPHRASE", "test passphrase")
    yield h
