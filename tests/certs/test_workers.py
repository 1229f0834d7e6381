"""The process policy (:mod:`certs.workers`): when bulk work goes to worker processes, and how
those workers run calls, keep their own state, report errors and end."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from certs import workers
from certs.workers import BULK, IN_FLIGHT, WorkerFailed, Workers, can_fork, worker_count


class Tally:
    """A worker's state: what it was forked with, and what it was sent since."""

    def __init__(self, base: list[int]) -> None:
        self.base = base
        self.seen: list[int] = []

    def add(self, k: int) -> tuple[int, int, list[int]]:
        self.seen.append(k)
        return os.getpid(), self.base[k], list(self.seen)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def die(self) -> None:
        os._exit(3)

    def big(self) -> bytes:
        return b"x" * 1_000_000

    def hold(self, gate: str) -> float:
        """Wait (at most 3 s) until the file ``gate`` exists; the time it waited."""
        started = time.monotonic()
        while not os.path.exists(gate) and time.monotonic() - started < 3:
            time.sleep(0.01)
        return time.monotonic() - started


def test_bulk_work_goes_to_processes_only_when_large_wanted_and_forkable() -> None:
    assert can_fork()  # the test process runs one thread here
    assert worker_count(BULK, 2) == 2
    assert worker_count(BULK - 1, 2) == 0
    assert worker_count(BULK, 1) == 0
    assert worker_count(10 * BULK, None) == ((os.cpu_count() or 1) if (os.cpu_count() or 1) > 1
                                              else 0)


def test_a_process_running_threads_does_the_work_itself() -> None:
    """Forking a process that runs other threads is unsafe (a lock one of them holds stays
    held in the child): the policy then keeps the work in this process."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        assert worker_count(10 * BULK, 2) == 0
    finally:
        release.set()
        other.join()
    assert worker_count(10 * BULK, 2) == 2


def test_each_worker_keeps_its_own_state_and_answers_in_order() -> None:
    base = list(range(100, 140))
    with Workers(2, lambda: Tally(base)) as pool:
        calls = [pool.submit(k % 2, Tally.add, k) for k in range(40)]  # more than IN_FLIGHT
        answers = [pool.result(call) for call in calls]
    assert len(calls) > 2 * IN_FLIGHT
    pids = {pid for pid, _, _ in answers}
    assert len(pids) == 2 and os.getpid() not in pids
    assert [value for _, value, _ in answers] == base
    last_even, last_odd = answers[-2][2], answers[-1][2]
    assert last_even == list(range(0, 40, 2)) and last_odd == list(range(1, 40, 2))


def test_submitting_never_waits_for_a_busy_worker(tmp_path: Path) -> None:
    """The caller goes on (issuance numbers the next chunks and stores the signed ones) while
    the workers work: calls beyond IN_FLIGHT wait in this process, not in ``submit``. Before,
    ``submit`` waited for answers, and issuance stored nothing until the workers had been
    sent every chunk (10,000 certificates took ~50 % longer)."""
    gate = tmp_path / "open"
    with Workers(1, lambda: Tally([])) as pool:
        started = time.monotonic()
        calls = [pool.submit(0, Tally.hold, str(gate)) for _ in range(3 * IN_FLIGHT)]
        submitting = time.monotonic() - started
        gate.touch()
        waited = [pool.result(call) for call in calls]
    # waiting for answers here would take at least 2 * IN_FLIGHT * 3 s: each call holds the
    # worker until the gate opens, or 3 s
    assert submitting < 2.5, submitting
    assert len(waited) == 3 * IN_FLIGHT and all(w < 3 for w in waited)


def test_map_answers_in_order_across_workers() -> None:
    base = list(range(50))
    with Workers(3, lambda: Tally(base)) as pool:
        values = [v for _, v, _ in pool.map(Tally.add, [(k,) for k in range(50)])]
    assert values == base


def test_a_worker_error_is_raised_to_the_caller_and_the_worker_goes_on() -> None:
    with Workers(1, lambda: Tally([7])) as pool:
        failed = pool.submit(0, Tally.fail, "a bug")
        after = pool.submit(0, Tally.add, 0)
        with pytest.raises(ValueError, match="a bug"):
            pool.result(failed)
        assert pool.result(after)[1] == 7


def test_a_worker_that_dies_fails_the_call_and_leaves_no_process() -> None:
    pool = Workers(1, lambda: Tally([]))
    with pytest.raises(WorkerFailed), pool:
        pool.result(pool.submit(0, Tally.die))
    assert not [p for p in workers.multiprocessing.active_children() if p.is_alive()]


def test_a_worker_that_dies_with_calls_queued_fails_them_and_keeps_earlier_answers() -> None:
    """Calls beyond IN_FLIGHT wait in this process; if the worker dies meanwhile, reading an
    answer it sent is not an error, and every later call is WorkerFailed (not the pipe's
    BrokenPipeError when the next waiting call is written)."""
    with Workers(1, lambda: Tally([5])) as pool:
        first = pool.submit(0, Tally.add, 0)
        pool.submit(0, Tally.die)
        later = [pool.submit(0, Tally.add, 0) for _ in range(2 * IN_FLIGHT)]
        pool._workers[0].process.join(10)  # dead, its answer to ``first`` still in the pipe
        assert pool.result(first)[1] == 5
        for call in later:
            with pytest.raises(WorkerFailed):
                pool.result(call)


def test_workers_end_with_their_block() -> None:
    with Workers(2, lambda: Tally([0])) as pool:
        processes = [w.process for w in pool._workers]
        assert all(p.is_alive() for p in processes)
    assert not any(p.is_alive() for p in processes)


def test_a_worker_stuck_on_an_answer_no_one_reads_is_killed_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "STOP_TIMEOUT", 0.5)
    with Workers(1, lambda: Tally([])) as pool:
        pool.submit(0, Tally.big)  # larger than the pipe holds: the worker waits to send it
        process = pool._workers[0].process
    assert not process.is_alive()
