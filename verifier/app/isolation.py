"""Untrusted files are read in a child process with a wall-clock deadline and a memory
ceiling: a file that defeats the readers' own bounds costs one killed process, never the
service, and the counter gets a coded answer in bounded time.

:func:`run_isolated` runs a module-level function in a process forked from a small server
process (``multiprocessing``'s *forkserver*: forking it is safe while the service runs
threads, and it has the readers imported already, so a child starts in milliseconds). The
child lowers its own address-space limit (``RLIMIT_AS``) to what it uses at start plus
``memory`` bytes, and its CPU limit to the deadline, then runs the function and sends back
the result (pickled). The parent waits at most ``seconds``; after that it kills the child.

What can come back: the function's result; the exception it raised (re-raised here, with
its code; one that does not survive pickling comes back as a :class:`VerifierError` with its
code and message); :class:`LimitExceeded` (``verify_timeout``, ``verify_memory``,
``verify_crashed``, ``verify_busy``) when the child ran out of time or memory or died, or
when every slot stayed taken.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import resource
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from verifier.errors import VerifierError

T = TypeVar("T")

PRELOAD = ["verifier.checks.pdf_checks", "verifier.checks.seal_checks"]
"""Imported once by the server process, so that every child has them. The program's main
module is imported there too (when it is a file): a child then does not run it again."""

SLOTS = max(1, os.cpu_count() or 1)
"""Children a process runs at once: one a core (each may use its memory ceiling)."""

PUBLIC_SLOTS = max(1, SLOTS // 2)
"""Of those, children reading for a caller without a key (the holder's routes) at once: the
other slots stay for the counters, whatever anonymous callers send."""
PUBLIC_WAIT = 2.0
"""Seconds an anonymous call waits for a slot of its share before it is refused: no longer,
so that waiting anonymous requests do not fill the server's threads either."""

_context: Any = None
_context_lock = threading.Lock()
_slots = threading.BoundedSemaphore(SLOTS)
_public_slots = threading.BoundedSemaphore(PUBLIC_SLOTS)


class LimitExceeded(VerifierError):
    """The child ran out of time or memory, or died, before it answered."""

    code = "verify_limit"


def _get_context() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            main = getattr(sys.modules.get("__main__"), "__file__", None)
            own = ["__main__"] if main and os.path.isfile(main) else []
            context.set_forkserver_preload(own + PRELOAD)
            _context = context
        return _context


def run_isolated(
    fn: Callable[..., T], *args: Any, seconds: float, memory: int, public: bool = False
) -> T:
    """``fn(*args)`` in a child process, within ``seconds`` of wall-clock time and
    ``memory`` bytes beyond what the child has at its start (see the module docstring). At
    most :data:`SLOTS` children run at once in a process (so at most that many times
    ``memory``); a call that finds none free within ``seconds`` is refused
    (``verify_busy``). A ``public`` call (for a caller without a key) runs only in one of
    :data:`PUBLIC_SLOTS` and waits at most :data:`PUBLIC_WAIT` seconds for it."""
    started = time.monotonic()
    if public:
        wait = min(seconds, PUBLIC_WAIT)
        if not _public_slots.acquire(timeout=wait):
            raise LimitExceeded(
                f"{PUBLIC_SLOTS} files of callers without a key are being read already; "
                f"none finished within {wait:g} s: try again",
                code="verify_busy",
            )
        try:
            return _slotted(fn, args, started, seconds, memory)
        finally:
            _public_slots.release()
    return _slotted(fn, args, started, seconds, memory)


def _slotted(
    fn: Callable[..., T], args: tuple[Any, ...], started: float, seconds: float, memory: int
) -> T:
    if not _slots.acquire(timeout=max(0.0, seconds - (time.monotonic() - started))):
        raise LimitExceeded(
            f"{SLOTS} files are being read already; none finished within {seconds:g} s: "
            "try again",
            code="verify_busy",
        )
    try:
        return _run(fn, args, max(0.0, seconds - (time.monotonic() - started)), memory)
    finally:
        _slots.release()


def _run(fn: Callable[..., T], args: tuple[Any, ...], seconds: float, memory: int) -> T:
    context = _get_context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child, args=(sender, fn, args, memory, seconds), name="zhengyin-isolated",
        daemon=True,
    )
    try:
        child.start()
        sender.close()
        if not receiver.poll(seconds):
            raise LimitExceeded(
                f"reading the file took more than {seconds:g} s: it was stopped",
                code="verify_timeout",
            )
        try:
            kind, value = receiver.recv()
        except (EOFError, OSError):
            raise LimitExceeded(
                "the process reading the file ended without an answer (out of memory?)",
                code="verify_crashed",
            ) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()
        child.close()
    if kind == "ok":
        return value  # type: ignore[no-any-return]
    if kind == "memory":
        raise LimitExceeded(
            f"reading the file needed more than {memory // (1024 * 1024)} MB: it was stopped",
            code="verify_memory",
        )
    assert isinstance(value, BaseException)
    raise value


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling (the parent re-raises it as it is), else a
    :class:`VerifierError` with its code and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return VerifierError(str(exc), code=str(getattr(exc, "code", "verify_failed")))
    return exc


def _address_space() -> int:
    """The process's virtual memory size now (``VmSize``), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(
    sender: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory: int,
    seconds: float,
) -> None:
    try:
        base = _address_space()
        if base:
            resource.setrlimit(resource.RLIMIT_AS, (base + memory, base + memory))
        cpu = int(seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        try:
            result: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            result = ("memory", None)
        except Exception as exc:  # sent back and re-raised by the parent
            result = ("error", _portable(exc))
        try:
            sender.send(result)
        except MemoryError:
            sender.send(("memory", None))
        except Exception as exc:  # the result could not be pickled: say so, not crash
            sender.send(("error", VerifierError(f"unexpected {type(exc).__name__}")))
    finally:
        sender.close()
