"""When bulk work goes to worker processes, and how those workers run: the one policy that
issuance (:mod:`certs.issuance`) and verification (:mod:`verifier.checks.certificates`) share.

The policy (:func:`worker_count`): work goes to processes when it is large (at least
:data:`BULK` items), more than one worker is wanted, and this process may fork — a POSIX
process running a single thread. Otherwise it is done here, in this process.

Why fork, and only from a single thread: a forked worker inherits what the caller holds — an
issuer's in-memory key (which refuses to be pickled, so it never leaves a process any other
way), a request's rows, the texts to verify — and starts in milliseconds; a spawned worker (a
fresh interpreter importing the application, everything pickled to it) cost more than it
saved (# Why: bench/PERFORMANCE.md, "Issuance: worker processes"). Forking a process that
runs other threads is unsafe: a lock another thread holds at that moment stays held in the
child for ever. So a multi-threaded process (the service) does bulk work in-process; the CLI
and the benchmarks, single-threaded, use every core.

:class:`Workers` starts every worker at once, before it starts anything else (it runs no
thread of its own), and stops them when its ``with`` block ends. Each worker builds its own
state object from what it inherited (``factory``) and runs the calls sent to it, in order;
the caller chooses the worker (a chunk's claims stay where they were validated). Calls and
their arguments must be small (a few KB: they go through a pipe no one drains while the
worker answers); answers may be large.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from certs.bulk import die_with_parent, gc_paused

BULK = 2_000
"""Below this many items, one process is faster than starting workers."""

IN_FLIGHT = 8
"""Calls written to one worker's pipe and not yet answered, at most (a call of a few KB each:
the pipe holds them all, so writing one never waits). Further calls wait in this process,
in order, and are written as answers come back: :meth:`Workers.submit` never waits."""

STOP_TIMEOUT = 30.0
"""Seconds a worker told to stop may take before it is killed."""

State = TypeVar("State")


def can_fork() -> bool:
    """Whether this process may fork workers: on POSIX, while it runs a single thread."""
    return os.name == "posix" and threading.active_count() == 1


def worker_count(items: int, wanted: int | None = None) -> int:
    """How many worker processes to use for ``items`` items when ``wanted`` are asked for
    (``None``: one per core); 0 means do the work in this process (see the module
    docstring)."""
    count = wanted if wanted is not None else (os.cpu_count() or 1)
    if items < BULK or count < 2 or not can_fork():
        return 0
    return count


class WorkerFailed(RuntimeError):
    """A worker process raised, or died, while running a call."""


@dataclass
class _Worker:
    process: Any
    connection: Connection
    sent: int = 0
    """Calls submitted (their numbers are 0 … sent − 1)."""
    written: int = 0
    """Calls written to the pipe: the first ``written`` of them."""
    answered: int = 0
    answers: dict[int, Any] = field(default_factory=dict)
    waiting: deque[tuple[str, tuple[Any, ...]]] = field(default_factory=deque)
    """Calls submitted and not yet written, in order."""


@dataclass(frozen=True)
class Call:
    """A call sent to a worker: its answer is :meth:`Workers.result` of it."""

    worker: int
    number: int


class Workers(Generic[State]):
    """``count`` forked worker processes, each running calls on its own ``factory()`` state
    (built in the worker from what it inherited). Use as a context manager."""

    def __init__(self, count: int, factory: Callable[[], State]) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        self.count = count
        self._factory = factory
        self._workers: list[_Worker] = []

    def __enter__(self) -> Workers[State]:
        context = multiprocessing.get_context("fork")
        parent = os.getpid()
        try:
            for _ in range(self.count):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_serve, args=(theirs, parent, self._factory), daemon=True
                )
                process.start()
                theirs.close()
                self._workers.append(_Worker(process, ours))
        except BaseException:
            self._stop(kill=True)
            raise
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._stop(kill=error is not None)

    def submit(self, worker: int, method: Callable[..., Any], *args: Any) -> Call:
        """Run ``method(state, *args)`` (a method of the state's class) on worker ``worker``.
        Never waits: a call beyond :data:`IN_FLIGHT` is written when an earlier one is
        answered (so the caller can go on numbering while the workers sign; # Why:
        bench/PERFORMANCE.md, "Issuance: worker processes")."""
        target = self._workers[worker]
        target.waiting.append((method.__name__, args))
        target.sent += 1
        self._write(target)
        return Call(worker, target.sent - 1)

    def result(self, call: Call) -> Any:
        """The answer to ``call`` (waiting for it); what the worker raised is raised here."""
        target = self._workers[call.worker]
        while call.number not in target.answers:
            self._receive(target)
        ok, value = target.answers.pop(call.number)
        if not ok:
            raise value
        return value

    def map(self, method: Callable[..., Any], calls: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """The answers to ``method(*args)`` for each ``args``, in order; call ``k`` runs on
        worker ``k % count``."""
        pending: deque[Call] = deque()
        for k, args in enumerate(calls):
            pending.append(self.submit(k % self.count, method, *args))
            while len(pending) > self.count * IN_FLIGHT // 2:
                yield self.result(pending.popleft())
        while pending:
            yield self.result(pending.popleft())

    def _write(self, target: _Worker) -> None:
        """Write waiting calls while fewer than :data:`IN_FLIGHT` are unanswered."""
        while target.waiting and target.written - target.answered < IN_FLIGHT:
            try:
                target.connection.send(target.waiting[0])
            except OSError:  # the worker is gone: reading its answers ends in WorkerFailed
                return
            target.waiting.popleft()
            target.written += 1

    def _receive(self, target: _Worker) -> None:
        # a call not yet answered has been written (calls wait only while IN_FLIGHT are
        # unanswered, and each answer writes the next), or its worker is gone: then the
        # answers it sent are read, then the end of the pipe
        try:
            answer = target.connection.recv()
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"a worker process ended unexpectedly ({exc!r})") from None
        target.answers[target.answered] = answer
        target.answered += 1
        self._write(target)

    def _stop(self, *, kill: bool) -> None:
        for worker in self._workers:
            try:
                if kill:
                    worker.process.kill()
                else:
                    worker.connection.send(None)
            except OSError:
                pass
        for worker in self._workers:
            worker.process.join(STOP_TIMEOUT)
            if worker.process.is_alive():  # stuck (an answer no one read): not left behind
                worker.process.kill()
                worker.process.join()
            worker.connection.close()
        self._workers = []


def _serve(connection: Connection, parent: int, factory: Callable[[], Any]) -> None:
    """A worker's life: build the state, then answer calls in order until told to stop."""
    die_with_parent(parent)  # a killed `zhengyin issue` leaves no worker behind
    with gc_paused():
        state = factory()
        while True:
            try:
                call = connection.recv()
            except EOFError:
                return
            if call is None:
                return
            name, args = call
            try:
                answer: tuple[bool, Any] = (True, getattr(state, name)(*args))
            except Exception as exc:
                answer = (False, exc)
            try:
                connection.send(answer)
            except Exception:  # an answer or exception that cannot be pickled
                connection.send((False, WorkerFailed(traceback.format_exc())))
