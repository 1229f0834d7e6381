"""SM3: the reference (pyca/cryptography) and the selected fast path agree with GB/T 32905's
known answers and with each other on random inputs of every padding length."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from seals_testlib import VECTORS

from seals import sm2
from seals import sm3 as sm3_module
from seals.sm3 import new_hasher, sm3, sm3_prefixed, sm3_reference

CASES = json.loads((VECTORS / "sm3.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES)
def test_known_answers(case: dict[str, str]) -> None:
    data = case["message_ascii"].encode()
    assert sm3_reference(data).hex() == case["digest"]
    assert sm3(data).hex() == case["digest"]
    assert sm2.sm3(data).hex() == case["digest"]  # the name callers import from seals.sm2
    hasher = new_hasher()
    for i in range(len(data)):
        hasher.update(data[i : i + 1])
    assert hasher.digest().hex() == case["digest"]


def test_the_selection_is_what_this_machine_offers() -> None:
    has_hashlib = "sm3" in hashlib.algorithms_available
    assert sm3_module.IMPLEMENTATION == ("hashlib" if has_hashlib else "cryptography")
    assert (sm3 is sm3_reference) is (not has_hashlib)


def test_fast_path_equals_the_reference_at_every_length() -> None:
    rnd = random.Random(32905)
    for n in [*range(300), 1000, 4096, 65_536 + 7, 1 << 20]:  # 0-55, 56-63 (two blocks), 64, …
        data = rnd.randbytes(n)
        expected = sm3_reference(data)
        assert sm3(data) == expected, n
        assert sm3(bytearray(data)) == expected and sm3(memoryview(data)) == expected, n


def test_prefixed_and_incremental_equal_the_reference() -> None:
    rnd = random.Random(32918)
    for _ in range(50):
        prefix, rest = rnd.randbytes(rnd.randrange(200)), rnd.randbytes(rnd.randrange(200))
        assert sm3_prefixed(prefix)(rest) == sm3_reference(prefix + rest)
        hasher = new_hasher()
        hasher.update(prefix)
        fork = hasher.copy()
        fork.update(rest)
        assert fork.digest() == sm3_reference(prefix + rest)
        assert hasher.digest() == sm3_reference(prefix)  # the copy left the original alone
        assert hasher.digest() == sm3_reference(prefix)  # and digest does not end it


def test_the_reference_hasher_behaves_as_the_fast_one() -> None:
    hasher = sm3_module._ReferenceHasher()
    hasher.update(b"ab")
    fork = hasher.copy()
    fork.update(b"c")
    assert fork.digest() == sm3_reference(b"abc")
    assert hasher.digest() == sm3_reference(b"ab")
    hasher.update(memoryview(b"c"))
    assert hasher.digest() == fork.digest()


def test_text_is_refused() -> None:
    with pytest.raises(TypeError):
        sm3("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sm3_reference("abc")  # type: ignore[arg-type]
