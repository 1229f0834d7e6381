"""The ABI fast paths of the bulk views give exactly eth_abi's bytes and values, and leave
everything they do not handle (or anything malformed) to eth_abi."""

from __future__ import annotations

import os
import random

import pytest
from eth_abi import decode, encode

from chain.abi import contract_abi
from chain.errors import ChainError

STATUS = "(uint8,uint16,uint64,uint64,bytes32)[]"
ANCHOR = "(bytes32,address,uint32,uint64,uint64)[]"


def _status(rng: random.Random) -> tuple[object, ...]:
    return (
        rng.choice([0, 1, 2, 3, 255]),
        rng.choice([0, 7, 65535]),
        rng.choice([0, 1, 2**64 - 1]),
        rng.randrange(2**64),
        os.urandom(32) if rng.random() < 0.5 else bytes(32),
    )


def _anchor(rng: random.Random) -> tuple[object, ...]:
    return (
        os.urandom(32),
        "0x" + os.urandom(20).hex(),
        rng.choice([0, 1, 2**32 - 1]),
        rng.randrange(2**64),
        rng.randrange(2**64),
    )


@pytest.mark.parametrize("count", [0, 1, 2, 1000])
def test_calls_encode_as_eth_abi_does(count: int) -> None:
    c = contract_abi("CertificateRegistry")
    issuers = [os.urandom(32) for _ in range(count)]
    leaves = [os.urandom(32) for _ in range(count)]
    data = c.encode_call("statusesOf", issuers, leaves)
    selector = data[:10]
    assert bytes.fromhex(data[10:]) == encode(["bytes32[]", "bytes32[]"], [issuers, leaves])
    assert c.encode_call("anchorsOf", leaves)[10:] == encode(["bytes32[]"], [leaves]).hex()
    assert selector == c.encode_call("statusesOf", [], [])[:10]


def test_results_decode_as_eth_abi_does() -> None:
    c = contract_abi("CertificateRegistry")
    rng = random.Random(7)
    for count in (0, 1, 3, 500):
        statuses = [_status(rng) for _ in range(count)]
        raw = encode([STATUS], [statuses])
        assert c.decode_result("statusesOf", "0x" + raw.hex()) == decode([STATUS], raw)
        assert list(c.decode_result("statusesOf", "0x" + raw.hex())[0]) == statuses
        anchors = [_anchor(rng) for _ in range(count)]
        raw = encode([ANCHOR], [anchors])
        assert c.decode_result("anchorsOf", "0x" + raw.hex()) == decode([ANCHOR], raw)


def test_malformed_results_are_refused_as_before() -> None:
    """Words eth_abi refuses (dirty padding, a value too wide), a wrong length or a wrong
    offset: the fast path steps aside and the result is a ChainError, never a wrong value."""
    c = contract_abi("CertificateRegistry")
    good = encode([STATUS], [[(1, 2, 3, 4, bytes(32))]])
    word = 64  # the first member of the first element
    too_wide = good[:word] + (256).to_bytes(32, "big") + good[word + 32 :]  # uint8 = 256
    anchors = encode([ANCHOR], [[(bytes(32), "0x" + "11" * 20, 1, 2, 3)]])
    dirty_address = anchors[:96] + b"\x01" + anchors[97:]  # address with a non-zero pad byte
    for name, raw in [
        ("statusesOf", too_wide),
        ("statusesOf", good[:-1]),
        ("statusesOf", (64).to_bytes(32, "big") + good[32:]),
        ("anchorsOf", dirty_address),
        ("statusesOf", b""),
    ]:
        with pytest.raises(ChainError):
            c.decode_result(name, "0x" + raw.hex())
    # trailing bytes: eth_abi reads past them, and so does the fast path (by deferring)
    assert c.decode_result("statusesOf", "0x" + (good + bytes(32)).hex()) == decode([STATUS], good)
