"""Reading untrusted files in a child process: results and errors come back; time, memory
and a dying child give coded refusals in bounded time (the child is really stopped)."""

from __future__ import annotations

import os
import time

import pytest

from certs.errors import DocumentError
from verifier.app.isolation import LimitExceeded, run_isolated

MB = 1024 * 1024


def double(x: int) -> tuple[int, int]:
    return x * 2, os.getpid()


def refuse(message: str) -> None:
    raise DocumentError(message, code="claims_inconsistent")


def sleep_then_write(seconds: float, path: str) -> None:
    time.sleep(seconds)
    with open(path, "w") as out:  # only reached if the child was not stopped
        out.write("still running")


def spin() -> None:
    while True:
        pass


def hog(megabytes: int) -> int:
    blocks = [bytearray(MB) for _ in range(megabytes)]
    return len(blocks)


def die() -> None:
    os._exit(3)


def test_the_result_comes_back_from_another_process() -> None:
    value, pid = run_isolated(double, 21, seconds=30, memory=256 * MB)
    assert value == 42 and pid != os.getpid()


def test_an_error_comes_back_with_its_code() -> None:
    with pytest.raises(DocumentError) as err:
        run_isolated(refuse, "no", seconds=30, memory=256 * MB)
    assert err.value.code == "claims_inconsistent" and str(err.value) == "no"


def test_a_child_past_its_deadline_is_stopped(tmp_path: os.PathLike[str]) -> None:
    marker = os.path.join(tmp_path, "marker")
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as err:
        run_isolated(sleep_then_write, 3.0, marker, seconds=0.5, memory=256 * MB)
    assert err.value.code == "verify_timeout"
    assert time.monotonic() - started < 2.5
    time.sleep(3.5)
    assert not os.path.exists(marker)  # killed, not left running
    with pytest.raises(LimitExceeded) as spun:
        run_isolated(spin, seconds=0.5, memory=256 * MB)
    assert spun.value.code == "verify_timeout"


def test_a_child_past_its_memory_ceiling_is_refused() -> None:
    assert run_isolated(hog, 32, seconds=30, memory=256 * MB) == 32
    with pytest.raises(LimitExceeded) as err:
        run_isolated(hog, 1024, seconds=30, memory=256 * MB)
    assert err.value.code == "verify_memory"


def test_a_child_that_dies_is_reported() -> None:
    with pytest.raises(LimitExceeded) as err:
        run_isolated(die, seconds=30, memory=256 * MB)
    assert err.value.code == "verify_crashed"


def refuse_a_field() -> None:
    from certs.errors import ValidationError

    raise ValidationError("holder.code: wrong", field="holder.code", code="invalid_uscc")


def test_an_error_that_cannot_be_pickled_still_comes_back_with_its_code() -> None:
    from verifier.errors import VerifierError

    with pytest.raises(VerifierError) as err:  # ValidationError needs its field to unpickle
        run_isolated(refuse_a_field, seconds=30, memory=256 * MB)
    assert err.value.code == "invalid_uscc" and "wrong" in str(err.value)


def test_at_most_one_child_a_core_runs_at_once() -> None:
    """Each child may use its memory ceiling: their number is bounded too. A call that finds
    every slot taken for its whole time is refused, in time."""
    import threading

    from verifier.app.isolation import SLOTS

    errors: list[str] = []

    def occupy() -> None:
        try:
            run_isolated(time.sleep, 2.0, seconds=30, memory=256 * MB)
        except LimitExceeded as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=occupy) for _ in range(SLOTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as err:
        run_isolated(double, 1, seconds=0.5, memory=256 * MB)
    assert err.value.code == "verify_busy" and time.monotonic() - started < 1.5
    for thread in threads:
        thread.join()
    assert errors == []
    assert run_isolated(double, 2, seconds=30, memory=256 * MB)[0] == 4  # free again


def test_callers_without_a_key_never_take_the_counters_slots() -> None:
    """Attack: the holder's routes need no key, and each upload may keep a reader busy for
    the whole deadline; they took the same slots as the counters' uploads, so anyone could
    keep every slot busy and the counters got ``verify_busy``. Anonymous readings now run in
    a share of the slots (the rest stays for keyed callers) and wait for it briefly."""
    import threading

    from verifier.app.isolation import PUBLIC_SLOTS, PUBLIC_WAIT, SLOTS

    assert PUBLIC_SLOTS < SLOTS or SLOTS == 1
    errors: list[str] = []

    def occupy() -> None:
        try:
            run_isolated(time.sleep, PUBLIC_WAIT + 3.0, seconds=30, memory=256 * MB,
                         public=True)
        except LimitExceeded as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=occupy) for _ in range(PUBLIC_SLOTS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as err:  # one more anonymous reading: refused soon
        run_isolated(double, 1, seconds=30, memory=256 * MB, public=True)
    assert err.value.code == "verify_busy"
    assert time.monotonic() - started < PUBLIC_WAIT + 0.5
    if SLOTS > 1:  # a counter's reading runs at once, beside the anonymous ones
        started = time.monotonic()
        assert run_isolated(double, 2, seconds=30, memory=256 * MB)[0] == 4
        assert time.monotonic() - started < 1.5
    for thread in threads:
        thread.join()
    assert errors == []
    assert run_isolated(double, 3, seconds=30, memory=256 * MB, public=True)[0] == 6
