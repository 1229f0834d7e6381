"""Sending: nonces under concurrency and across senders, receipts, confirmations, failures."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from chain.errors import ChainUnavailable, ContractRevert, TransactionTimeout
from chain.registry import Registry, issuer_id
from chain.rpc import Rpc
from chain.transactions import TransactionSender
from tests.conftest import Issuer, free_port


def test_concurrent_callers_get_distinct_nonces(issuer: Issuer) -> None:
    roots = [secrets.token_bytes(32) for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(lambda r: issuer.registry.anchor(issuer.uscc, r, 1), roots))
    assert len({r.tx_hash for r in receipts}) == 24
    assert all(issuer.registry.anchor_of(r) is not None for r in roots)


def test_two_senders_on_one_account_recover_from_stale_nonces(issuer: Issuer, rpc: Rpc) -> None:
    """Two processes (or a restarted one) sharing an account: the stale one re-reads the nonce."""
    key = issuer.account._account.key  # the same private key, a second independent sender
    twin = Registry(rpc, issuer.registry.deployment, TransactionSender(rpc, key))
    issuer.registry.anchor(issuer.uscc, secrets.token_bytes(32), 1)  # twin's first nonce read next
    twin.anchor(issuer.uscc, secrets.token_bytes(32), 1)
    # the first sender's cached nonce is now stale
    issuer.registry.anchor(issuer.uscc, secrets.token_bytes(32), 1)
    twin.anchor(issuer.uscc, secrets.token_bytes(32), 1)


def test_receipt_timeout_then_confirmations(issuer: Issuer, rpc: Rpc) -> None:
    rpc.call("evm_setAutomine", [False])
    try:
        sender = issuer.registry.sender
        assert sender is not None
        data = issuer.registry._certificates.encode_call(
            "anchor", issuer_id(issuer.uscc), secrets.token_bytes(32), 1
        )
        tx_hash = sender.submit(to=issuer.registry.deployment.certificate_registry, data=data)
        with pytest.raises(TransactionTimeout) as caught:
            sender.wait(tx_hash, timeout=0.2)
        assert caught.value.tx_hash == tx_hash
        confirmed = TransactionSender(rpc, sender._account.key, confirmations=2)
        result: list[object] = []
        waiter = threading.Thread(target=lambda: result.append(confirmed.wait(tx_hash, timeout=10)))
        waiter.start()
        rpc.call("evm_mine")  # mined: 0 confirmations beyond its block
        waiter.join(0.3)
        assert waiter.is_alive(), "returned before the confirmations arrived"
        rpc.call("anvil_mine", ["0x2"])
        waiter.join(10)
        assert not waiter.is_alive() and getattr(result[0], "tx_hash", None) == tx_hash
    finally:
        rpc.call("evm_setAutomine", [True])


def test_mined_failure_is_decoded(issuer: Issuer, rpc: Rpc) -> None:
    """Two sends of one root in one block: the loser's status-0 receipt is explained."""
    sender = issuer.registry.sender
    assert sender is not None
    root = secrets.token_bytes(32)
    data = issuer.registry._certificates.encode_call("anchor", issuer_id(issuer.uscc), root, 1)
    to = issuer.registry.deployment.certificate_registry
    rpc.call("evm_setAutomine", [False])
    try:
        first = sender.submit(to=to, data=data)
        second = sender.submit(to=to, data=data, gas=200_000)  # skip estimation: it would refuse
        rpc.call("evm_mine")
    finally:
        rpc.call("evm_setAutomine", [True])
    assert sender.wait(first).tx_hash == first
    with pytest.raises(ContractRevert) as caught:
        sender.wait(second)
    assert caught.value.error_name == "RootAlreadyAnchored"
    assert caught.value.args_by_name["root"] == root


def test_unreachable_chain_is_its_own_error(issuer: Issuer) -> None:
    dead = Rpc(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(ChainUnavailable, match="did not answer"):
        dead.call("eth_blockNumber")
    reader = Registry(dead, issuer.registry.deployment)
    with pytest.raises(ChainUnavailable):
        reader.status_of(issuer.uscc, secrets.token_bytes(32))
    with pytest.raises(ChainUnavailable):
        TransactionSender(dead, "0x" + secrets.token_hex(32)).transact(to=None, data="0x00")
