"""Helpers for bulk work (thousands of certificates in one call): pausing the collector, and
worker processes that never outlive the process that started them."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_PR_SET_PDEATHSIG = 1

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk operation.

    Issuing or verifying thousands of certificates allocates hundreds of thousands of
    long-lived objects (documents, fragments, verdicts) and no reference cycles; the collector
    would rescan them over and over (measured: a fifth to a quarter of a 10,000-certificate
    run). Reference counting still frees everything as usual. Nested and concurrent pauses
    are counted: the collector is restored, if it was on, when the last one ends."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def die_with_parent(parent_pid: int) -> None:
    """In a worker process (as its pool's initializer): be killed with ``SIGKILL`` when the
    process that started it dies, whatever kills that one (``kill -9`` included), so no
    worker — ~140 MB each while issuing — outlives it. Linux ``prctl(PR_SET_PDEATHSIG)``;
    then, as the parent may have died before that call, a check that it is still the
    parent. Elsewhere only the check runs."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the check below still runs
            pass
    if os.getppid() != parent_pid:
        os._exit(1)
