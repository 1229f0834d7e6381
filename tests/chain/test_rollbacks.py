"""Sending and reading when the chain loses its last blocks (issue #15 items 4 and 8).

A private devnet (anvil, or Hardhat's node), rolled back with ``evm_snapshot``/``evm_revert``
(its head goes back and the next blocks differ), transactions dropped from the node's pool,
and a transaction sent behind a nonce gap: each must be answered at once, never after the
receipt timeout.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.errors import ChainError, RpcError, TransactionTimeout
from chain.registry import RegistryClient
from chain.rpc import Rpc
from chain.transactions import LocalAccount
from devnet.anvil import Devnet
from tests.conftest import drop_transaction, make_uscc, only_on, private_chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rpc, RegistryClient, str]]:
    with private_chain(tmp_path_factory.mktemp("rollbacks"), receipt_timeout=5.0) as own:
        yield own.registry.rpc, own.registry, own.uscc


def _anchor_data(registry: RegistryClient, uscc: str) -> str:
    return registry.anchor_call(uscc, secrets.token_bytes(32), 1)


def test_after_the_chain_lost_blocks_the_next_send_is_mined(
    chain: tuple[Rpc, RegistryClient, str],
) -> None:
    """Issue #15 item 4: the sender gave out nonces from memory; after the chain lost a
    block holding one of its transactions, the next one carried a nonce above the
    account's, waited behind the gap and was never mined (a 5 s receipt timeout here)."""
    rpc, registry, uscc = chain
    before = rpc.call("evm_snapshot")
    registry.anchor(uscc, secrets.token_bytes(32), 1)
    assert rpc.call("evm_revert", [before]) is True  # the block (and its nonce) is gone
    started = time.monotonic()
    root = secrets.token_bytes(32)
    receipt = registry.anchor(uscc, root, 1)
    assert time.monotonic() - started < 3
    assert registry.anchor_of(root) is not None and receipt.block_number >= 1


def test_a_dropped_transaction_is_reported_at_once(chain: tuple[Rpc, RegistryClient, str]) -> None:
    """A transaction the node no longer knows (dropped by a rollback) is reported within a
    second with code ``tx_dropped`` (not after the receipt timeout), and the next send is
    mined."""
    rpc, registry, uscc = chain
    sender = registry.sender
    assert sender is not None
    rpc.call("evm_setAutomine", [False])
    try:
        tx_hash = sender.submit(to=registry.deployment.certificate_registry,
                                data=_anchor_data(registry, uscc))
        drop_transaction(rpc, tx_hash)
        started = time.monotonic()
        with pytest.raises(ChainError) as caught:
            sender.wait(tx_hash, timeout=30)
        assert not isinstance(caught.value, TransactionTimeout)
        assert caught.value.code == "tx_dropped" and tx_hash in str(caught.value)
        assert time.monotonic() - started < 2
    finally:
        rpc.call("evm_setAutomine", [True])
    registry.anchor(uscc, secrets.token_bytes(32), 1)


def test_a_transaction_behind_a_nonce_gap_is_reported_at_once(
    chain: tuple[Rpc, RegistryClient, str],
) -> None:
    """A transaction whose nonce is above the account's next waits for ever: reported
    within a second with code ``tx_nonce_gap``. (Hardhat's node refuses such a transaction
    at once while it mines on each one, "Nonce too high": it queues it only with automine
    off, as a node that mines on a schedule does.)"""
    rpc, registry, uscc = chain
    sender = registry.sender
    assert sender is not None
    nonce = int(rpc.call("eth_getTransactionCount", [sender.address, "pending"]), 16)
    raw = LocalAccount(sender._account.key).sign_transaction(
        {"chainId": sender.chain_id, "nonce": nonce + 3, "gas": 300_000,
         "gasPrice": int(rpc.call("eth_gasPrice"), 16), "value": 0,
         "to": registry.deployment.certificate_registry, "data": _anchor_data(registry, uscc)}
    )
    rpc.call("evm_setAutomine", [False])
    try:
        tx_hash = rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
        started = time.monotonic()
        with pytest.raises(ChainError) as caught:
            sender.wait(tx_hash, timeout=30)
        assert caught.value.code == "tx_nonce_gap", caught.value
        assert time.monotonic() - started < 2
        drop_transaction(rpc, tx_hash)
    finally:
        rpc.call("evm_setAutomine", [True])


def test_sending_bytes_the_node_already_has_is_success(
    chain: tuple[Rpc, RegistryClient, str],
) -> None:
    """Issue #15 item 8: two anchorers of one batch (the CLI's and the service's) sign the
    same transaction; the second send is answered "already imported". That is the very
    transaction, sent: its hash, not an error. Other bytes at a taken nonce still fail."""
    rpc, registry, uscc = chain
    sender = registry.sender
    assert sender is not None
    fields = {"chainId": sender.chain_id, "gas": 300_000,
              "gasPrice": int(rpc.call("eth_gasPrice"), 16), "value": 0,
              "to": registry.deployment.certificate_registry}
    rpc.call("evm_setAutomine", [False])
    try:
        nonce = int(rpc.call("eth_getTransactionCount", [sender.address, "pending"]), 16)
        account = LocalAccount(sender._account.key)
        raw = account.sign_transaction(
            {**fields, "nonce": nonce, "data": _anchor_data(registry, uscc)}
        )
        first = rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])  # the other process
        assert sender.send_raw(raw) == first
        other = account.sign_transaction(
            {**fields, "nonce": nonce, "data": _anchor_data(registry, uscc)}
        )
        with pytest.raises(RpcError):
            sender.send_raw(other)
        rpc.call("evm_mine")
    finally:
        rpc.call("evm_setAutomine", [True])
    assert sender.wait(first).tx_hash == first


def test_event_times_come_from_the_block_that_holds_them_now(
    chain: tuple[Rpc, RegistryClient, str],
) -> None:
    """After a rollback a block number names another block, with another time: an event is
    dated by its block's hash (a cache by number dated it by the lost block)."""
    rpc, registry, uscc = chain
    reader = RegistryClient(rpc, registry.deployment)
    before = rpc.call("evm_snapshot")
    first = registry.anchor(uscc, secrets.token_bytes(32), 1)
    (lost,) = reader.events(first.block_number, first.block_number)
    assert rpc.call("evm_revert", [before]) is True
    rpc.call("evm_setNextBlockTimestamp", [lost.timestamp + 3600])
    again = registry.anchor(uscc, secrets.token_bytes(32), 1)
    assert again.block_number == first.block_number
    (found,) = reader.events(again.block_number, again.block_number)
    assert found.timestamp == lost.timestamp + 3600 == reader.block_timestamp(again.block_number)


@only_on("anvil", "its state file is what is restored (Hardhat's node keeps no state)")
def test_the_state_after_a_rollback_reads_the_same_from_a_restarted_node(tmp_path: Path) -> None:
    """A devnet restored from an older state file (what a crash, or an operator, does):
    the head goes back and the next blocks differ, so a block number is not a block."""
    with private_chain(tmp_path) as own:
        node, registry = own.node, own.registry
        assert isinstance(node, Devnet)
        node.down()
        older = node.state_file.read_bytes()
        node.up(own.port)
        registry.register_issuer(make_uscc(), "机关")
        head, head_hash = registry.head()
        node.down()
        node.state_file.write_bytes(older)
        node.up(own.port)
        assert registry.block_number() < head
        registry.register_issuer(make_uscc(), "另一机关")
        while registry.block_number() < head:
            registry.rpc.call("evm_mine")
        assert registry.block_hashes([head])[head] != head_hash
