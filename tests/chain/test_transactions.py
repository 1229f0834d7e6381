"""Sending: nonces under concurrency and across senders, receipts, confirmations, failures."""

from __future__ import annotations

import random
import secrets
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from chain.errors import ChainUnavailable, ContractRevert, TransactionTimeout
from chain.registry import RegistryClient, issuer_id
from chain.rpc import Rpc
from chain.transactions import LocalAccount, TransactionSender
from tests.conftest import Issuer, free_port, mine


def test_concurrent_callers_get_distinct_nonces(issuer: Issuer) -> None:
    roots = [secrets.token_bytes(32) for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        receipts = list(pool.map(lambda r: issuer.registry.anchor(issuer.uscc, r, 1), roots))
    assert len({r.tx_hash for r in receipts}) == 24
    assert all(issuer.registry.anchor_of(r) is not None for r in roots)


def test_two_senders_on_one_account_recover_from_stale_nonces(issuer: Issuer, rpc: Rpc) -> None:
    """Two processes (or a restarted one) sharing an account: the stale one re-reads the nonce."""
    key = issuer.account._account.key  # the same private key, a second independent sender
    twin = RegistryClient(rpc, issuer.registry.deployment, TransactionSender(rpc, key))
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
        mine(rpc, 2)
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
    reader = RegistryClient(dead, issuer.registry.deployment)
    with pytest.raises(ChainUnavailable):
        reader.status_of(issuer.uscc, secrets.token_bytes(32))
    with pytest.raises(ChainUnavailable):
        TransactionSender(dead, "0x" + secrets.token_hex(32)).transact(to=None, data="0x00")


def _eth_account() -> Any:
    """``eth_account.Account``, the reference signer (importing it raises the recursion limit
    for the whole process: put back)."""
    limit = sys.getrecursionlimit()
    from eth_account import Account

    sys.setrecursionlimit(limit)
    return Account


def test_local_signing_matches_eth_account_byte_for_byte() -> None:
    """Transactions are signed without eth_account (whose import took 1.3–2 s of every CLI
    command that sends one): address and raw signed bytes equal its own, for contract
    creations and calls, zero and huge values, several chain ids."""
    account_class = _eth_account()
    rng = random.Random(3005)
    for n in range(300):
        key = rng.randbytes(32)
        reference = account_class.from_key(key)
        ours = LocalAccount("0x" + key.hex() if n % 2 else key)
        assert ours.address == reference.address and ours.key == key
        tx: dict[str, Any] = {
            "chainId": rng.choice([1, 3005, 31337, 2**31 + 11]),
            "nonce": rng.choice([0, 1, rng.randrange(2**40)]),
            "gas": rng.randrange(21_000, 30_000_000),
            "gasPrice": rng.choice([0, 1, 10**9, rng.randrange(2**90)]),
            "data": "0x" + rng.randbytes(rng.choice([0, 1, 4, 68, 300, 5000])).hex(),
            "value": rng.choice([0, 0, 1, rng.randrange(2**100)]),
        }
        if n % 5:
            tx["to"] = account_class.from_key(rng.randbytes(32)).address
        assert ours.sign_transaction(tx) == bytes(reference.sign_transaction(tx).raw_transaction)


def test_unusable_private_keys_are_refused() -> None:
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    for bad in (
        b"\x00" * 32,
        order.to_bytes(32, "big"),
        b"\x01" * 31,
        "0x" + "ab" * 31,
        "0x" + "zz" * 32,
        "",
    ):
        with pytest.raises(ValueError):
            LocalAccount(bad)
    assert LocalAccount((order - 1).to_bytes(32, "big")).address.startswith("0x")


def test_sending_does_not_import_eth_account(tmp_path: Path) -> None:
    """A fresh process that signs and sends never loads eth_account (nor py_ecc), and keeps
    the interpreter's recursion limit."""
    script = (
        "import sys\n"
        "from chain.transactions import LocalAccount\n"
        "limit = sys.getrecursionlimit()\n"
        "LocalAccount('0x' + '11' * 32).sign_transaction({'chainId': 1, 'nonce': 0, 'gas': 1,"
        " 'gasPrice': 1, 'data': '0x', 'value': 0})\n"
        "assert sys.getrecursionlimit() == limit\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eth_account', 'py_ecc')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"


def test_an_endpoint_is_shown_by_scheme_host_and_port_only() -> None:
    """Issue #15 item 9: a provider's token rides in the URL's user part, path or query;
    no message shows more than scheme, host and port (the transport's own exception texts,
    which quote the path and query, are not passed on)."""
    from certs.store import Store
    from chain.rpc import redact_url

    port = free_port()
    url = f"http://user:secret@127.0.0.1:{port}/path/key-abc?token=tok-xyz#frag"
    assert redact_url(url) == f"http://127.0.0.1:{port}"
    assert redact_url("https://[::1]:8545/v3/key") == "https://[::1]:8545"
    assert redact_url("wss://node.example/ws?apikey=1") == "wss://node.example"
    assert redact_url("not a url") == "<unparsable URL>"
    with pytest.raises(ChainUnavailable) as caught:
        Rpc(url, timeout=1).call("eth_blockNumber")
    with pytest.raises(Exception) as refused:
        Store.open("postgresql+nodriver://zhengyin:db-secret@db.example:5432/zy?sslkey=x")
    shown = str(caught.value) + str(refused.value)
    assert f"http://127.0.0.1:{port}" in shown and "db.example:5432" in shown
    for secret in ("user", "secret", "path", "key-abc", "tok-xyz", "frag", "sslkey"):
        assert secret not in shown, secret
