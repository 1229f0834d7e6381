"""The chain client against real nodes: EIP-1559 or legacy fees as the chain offers, bounded
retries of transient failures (through a real HTTP proxy that fails on purpose), a resent
transaction that is never sent twice, and paged log queries."""

from __future__ import annotations

import itertools
import random
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chain.errors import ChainError, ChainUnavailable, RpcError
from chain.registry import RegistryClient
from chain.rpc import Rpc
from chain.transactions import LocalAccount, TransactionSender
from devnet.anvil import anvil_binary
from devnet.deploy import fund_on_devnet
from tests.chain.test_transactions import _eth_account
from tests.conftest import Issuer, free_port, only_on
from tests.rpc_proxy import calls, proxy

# ---- a node of the test's own, started with the options under test ----


@contextmanager
def anvil(*options: str) -> Iterator[Rpc]:
    port = free_port()
    process = subprocess.Popen(
        [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--accounts", "1",
         "--chain-id", "31337", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    rpc = Rpc(f"http://127.0.0.1:{port}", timeout=5)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                rpc.call("eth_chainId")
                break
            except ChainUnavailable:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield rpc
    finally:
        process.terminate()
        process.wait(10)


def _sent_type(rpc: Rpc, **sender_options: Any) -> tuple[int, dict[str, Any]]:
    sender = TransactionSender(rpc, "0x" + secrets.token_hex(32), **sender_options)
    fund_on_devnet(rpc, sender.address)
    receipt = sender.transact(to=None, data="0x600a600c600039600a6000f3602a60005260206000f3")
    tx = rpc.call("eth_getTransactionByHash", [receipt.tx_hash])
    assert receipt.contract_address is not None
    return int(tx["type"], 16), tx


@only_on("anvil", "starts anvils of its own with fee options")
def test_type_2_where_the_chain_has_a_base_fee() -> None:
    with anvil() as rpc:  # anvil's default: a London-or-later chain with a base fee
        base = int(rpc.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
        assert base > 0
        kind, tx = _sent_type(rpc)
        assert kind == 2
        assert int(tx["maxFeePerGas"], 16) >= base
        assert int(tx["maxPriorityFeePerGas"], 16) <= int(tx["maxFeePerGas"], 16)
        kind, tx = _sent_type(rpc, legacy=True)  # the setting that forces legacy
        assert kind == 0 and "maxFeePerGas" not in tx


@only_on("anvil", "starts anvils of its own with fee options")
def test_legacy_where_the_chain_has_no_fee_market() -> None:
    with anvil("--base-fee", "0", "--disable-min-priority-fee") as rpc:
        assert int(rpc.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16) == 0
        assert _sent_type(rpc)[0] == 0
    with anvil("--hardfork", "berlin") as rpc:  # before EIP-1559: no base fee at all
        assert "baseFeePerGas" not in rpc.call("eth_getBlockByNumber", ["latest", False])
        assert _sent_type(rpc)[0] == 0


def test_the_fee_fields_follow_the_session_node(rpc: Rpc) -> None:
    """On the run's node (anvil or Hardhat's, both past London, with a base fee above zero):
    a type-2 transaction whose fee cap covers the base fee, and legacy when asked."""
    base = int(rpc.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    assert base > 0
    kind, tx = _sent_type(rpc)
    assert kind == 2 and int(tx["maxFeePerGas"], 16) >= base
    kind, tx = _sent_type(rpc, legacy=True)
    assert kind == 0 and int(tx["gasPrice"], 16) >= base


def test_type_2_signing_matches_eth_account_byte_for_byte() -> None:
    account_class = _eth_account()
    rng = random.Random(1559)
    for _ in range(40):
        key = "0x" + rng.randbytes(32).hex()
        tx = {
            "type": 2,
            "chainId": rng.choice([1, 31337, 2**40]),
            "nonce": rng.randrange(2**20),
            "maxPriorityFeePerGas": rng.choice([0, 1, 10**9, rng.randrange(2**64)]),
            "maxFeePerGas": rng.choice([1, 10**10, rng.randrange(2**70)]),
            "gas": rng.randrange(21_000, 30_000_000),
            "to": rng.choice([None, "0x" + rng.randbytes(20).hex()]),
            "value": rng.choice([0, rng.randrange(2**80)]),
            "data": "0x" + rng.randbytes(rng.randrange(0, 200)).hex(),
        }
        ours = LocalAccount(key).sign_transaction(tx)
        reference = {**tx, "accessList": []}
        if reference["to"] is None:
            del reference["to"]
        else:
            reference["to"] = _checksum(reference["to"])
        theirs = account_class.sign_transaction(reference, key).raw_transaction
        assert ours == bytes(theirs), tx


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def test_transient_http_errors_are_retried_a_bounded_number_of_times(rpc: Rpc) -> None:
    head = int(rpc.call("eth_blockNumber"), 16)
    with proxy(rpc.url) as p:
        p.plan = lambda n, body: ("status", (503, 502, 504)[n - 1], {}) if n <= 3 else None
        client = Rpc(p.url, retries=3, backoff=0.01)
        assert int(client.call("eth_blockNumber"), 16) >= head
        assert len(p.seen) == 4
        p.seen.clear()
        p.plan = lambda n, body: ("status", 503, {})
        started = time.monotonic()
        with pytest.raises(ChainUnavailable, match="HTTP 503") as caught:
            Rpc(p.url, retries=2, backoff=0.01).call("eth_blockNumber")
        assert len(p.seen) == 3  # the first try and two retries, then it gives up
        assert time.monotonic() - started < 2
        assert "retry" not in str(caught.value) and p.url.split("//")[1] in str(caught.value)
        # a 429 asks to wait: its Retry-After is honoured
        p.seen.clear()
        p.plan = lambda n, body: ("status", 429, {"Retry-After": "0.4"}) if n == 1 else None
        started = time.monotonic()
        Rpc(p.url, retries=1, backoff=0.01).call("eth_blockNumber")
        assert time.monotonic() - started >= 0.4 and len(p.seen) == 2
        # a JSON-RPC error is the node's answer, not a transport failure: never retried
        p.seen.clear()
        p.plan = lambda n, body: ("error", -32601, "the method does not exist")
        with pytest.raises(RpcError):
            Rpc(p.url, retries=3, backoff=0.01).call("eth_blockNumber")
        assert len(p.seen) == 1


def test_a_dropped_connection_is_retried(rpc: Rpc) -> None:
    with proxy(rpc.url) as p:
        p.plan = lambda n, body: ("close",) if n <= 2 else None
        assert Rpc(p.url, retries=2, backoff=0.01).call("eth_chainId") == rpc.call("eth_chainId")
        assert len(p.seen) == 3
        p.seen.clear()
        p.plan = lambda n, body: ("close",)
        with pytest.raises(ChainUnavailable, match="connection refused or lost"):
            Rpc(p.url, retries=1, backoff=0.01).call("eth_chainId")
        assert len(p.seen) == 2


def test_a_malformed_node_url_is_a_coded_refusal_never_retried() -> None:
    """A URL that cannot be one (urllib3 raises its own ValueError for ``a..b``) is
    ``bad_rpc_url``, a :class:`ChainUnavailable` (could not check), at once: the same URL
    fails the same way each time. Its message shows no more of the URL than its host."""
    for url in ("http://a..b/x", "https://user:secret@a..b/v3/TOKEN", "http://[::1/x",
                "http://127.0.0.1:99999/x", "ftp://node.example/x", "node.example:8545"):
        started = time.monotonic()
        with pytest.raises(ChainUnavailable) as caught:
            Rpc(url, retries=3, backoff=0.5).call("eth_chainId")
        assert time.monotonic() - started < 0.4, url  # no back-off: not retried
        assert caught.value.code == "bad_rpc_url", (url, caught.value)
        message = str(caught.value)
        assert "cannot be used" in message and "correct" in message, message
        assert "secret" not in message and "TOKEN" not in message and "/x" not in message


def _batch_answer(single: Any) -> Callable[[int, Any], tuple[Any, ...] | None]:
    """A node that answers a batch with ``single(batch)`` and forwards the rest."""
    return lambda n, body: ("reply", single(body)) if isinstance(body, list) else None


def test_a_fee_batch_answered_oddly_is_a_chain_error_or_the_fallback(rpc: Rpc) -> None:
    """The fee read sends the latest block and the tip in one batch. A node that answers
    the batch with one object takes no batches: the fees are read one request at a time. A
    tip or base fee that is not a hex quantity is an :class:`RpcError` naming the method,
    never a bare ValueError."""
    key = "0x" + secrets.token_hex(32)
    with proxy(rpc.url) as p:
        sender = TransactionSender(Rpc(p.url, retries=0), key)
        expected = TransactionSender(rpc, key).fees()
        # one object for the whole batch (the latest block's answer, as a node without
        # batches answers the first request)
        p.plan = _batch_answer(lambda body: {
            "jsonrpc": "2.0", "id": body[0]["id"],
            "result": rpc.call("eth_getBlockByNumber", ["latest", False])})
        fees = sender.fees()
        assert set(fees) == set(expected) and all(v >= 0 for v in fees.values()), fees
        assert any(not isinstance(b, list) and b["method"] == "eth_getBlockByNumber"
                   for b in p.seen)  # read again, alone
        # a tip that is not a quantity: the fallback asks for the gas price instead
        p.seen.clear()
        block = rpc.call("eth_getBlockByNumber", ["latest", False])
        p.plan = _batch_answer(lambda body: [
            {"jsonrpc": "2.0", "id": body[0]["id"], "result": block},
            {"jsonrpc": "2.0", "id": body[1]["id"], "result": "lots"}])
        fees = sender.fees()
        assert set(fees) == set(expected), fees
        assert any(not isinstance(b, list) and b["method"] == "eth_gasPrice" for b in p.seen)
        # and when nothing the node says is a quantity: a clear RpcError
        def nonsense(n: int, body: Any) -> tuple[Any, ...] | None:
            if isinstance(body, list):
                return ("reply", [{"jsonrpc": "2.0", "id": b["id"], "result": "zz"}
                                  for b in body])
            if body["method"] == "eth_getBlockByNumber":
                return ("reply", {"jsonrpc": "2.0", "id": body["id"],
                                  "result": {**block, "baseFeePerGas": "0xnope"}})
            return ("reply", {"jsonrpc": "2.0", "id": body["id"], "result": None})
        p.plan = nonsense
        with pytest.raises(RpcError, match="not a hex quantity") as caught:
            sender.fees()
        assert isinstance(caught.value, ChainError)
        assert caught.value.method == "eth_getBlockByNumber", caught.value


def test_a_resent_transaction_is_sent_once(issuer: Issuer, rpc: Rpc) -> None:
    """The node receives (and mines) a transaction but its answer is lost: the client sends
    the same signed bytes again, the node says it has them, and that is success — one
    transaction, one nonce, no second anchor attempt."""
    key = issuer.account._account.key
    with proxy(rpc.url) as p:
        lost: list[int] = []

        def plan(n: int, body: Any) -> tuple[Any, ...] | None:
            if isinstance(body, dict) and body.get("method") == "eth_sendRawTransaction":
                lost.append(n)
                if len(lost) == 1:
                    return ("lose",)
            return None

        p.plan = plan
        sender = TransactionSender(Rpc(p.url, retries=2, backoff=0.01), key)
        reader = RegistryClient(rpc, issuer.registry.deployment)
        nonce = int(rpc.call("eth_getTransactionCount", [sender.address, "latest"]), 16)
        root = secrets.token_bytes(32)
        receipt = RegistryClient(sender.rpc, issuer.registry.deployment, sender).anchor(
            issuer.uscc, root, 3
        )
        assert len(lost) == 2  # sent, answer lost, sent again
        after = int(rpc.call("eth_getTransactionCount", [sender.address, "latest"]), 16)
        assert after == nonce + 1  # exactly one transaction of the account
        anchored = reader.anchor_of(root)
        assert anchored is not None and anchored.block_number == receipt.block_number
        sent = [b["params"][0] for b in p.seen
                if isinstance(b, dict) and b.get("method") == "eth_sendRawTransaction"]
        assert sent[0] == sent[1]  # the very same signed bytes


def test_paged_log_queries_give_the_same_events(issuer: Issuer, rpc: Rpc) -> None:
    roots = [secrets.token_bytes(32) for _ in range(6)]
    for root in roots:
        issuer.registry.anchor(issuer.uscc, root, 1)  # one block each
    whole = RegistryClient(rpc, issuer.registry.deployment, log_page=10**9)
    tiny = RegistryClient(rpc, issuer.registry.deployment, log_page=1)
    everything = whole.events()
    assert len(everything) > 10
    assert tiny.events() == everything
    assert tiny.history_of_issuer(issuer.uscc) == whole.history_of_issuer(issuer.uscc)
    assert [e.args["root"] for e in tiny.history_of_issuer(issuer.uscc)
            if e.name == "RootAnchored"][-6:] == roots
    head = whole.block_number()
    assert tiny.events(head - 3, head) == whole.events(head - 3, head)
    # a node that refuses wide pages ("too many results"): the client halves the page
    with proxy(rpc.url) as p:
        widest = 4

        def plan(n: int, body: Any) -> tuple[Any, ...] | None:
            for call in calls([body], "eth_getLogs"):  # each page: a batch with its header
                query = call["params"][0]
                if int(query["toBlock"], 16) - int(query["fromBlock"], 16) + 1 > widest:
                    # the node answers the batch's other requests, and refuses this one
                    others = [c for c in body if c is not call]
                    answers = rpc.batch([(c["method"], c["params"]) for c in others])
                    return ("reply", [
                        *({"jsonrpc": "2.0", "id": c["id"], "result": a}
                          for c, a in zip(others, answers, strict=True)),
                        {"jsonrpc": "2.0", "id": call["id"], "error": {
                            "code": -32005, "message": "query returned more than 10000 results"}},
                    ])
            return None

        p.plan = plan
        refusing = RegistryClient(Rpc(p.url), issuer.registry.deployment)
        assert refusing.events() == everything
        assert refusing.history_of_issuer(issuer.uscc) == whole.history_of_issuer(issuer.uscc)
        pages = [c["params"][0] for c in calls(p.seen, "eth_getLogs")]
        answered = [q for q in pages
                    if int(q["toBlock"], 16) - int(q["fromBlock"], 16) + 1 <= widest]
        assert len(answered) < len(pages)  # it was refused, then read in halves
        covered = sorted((int(q["fromBlock"], 16), int(q["toBlock"], 16)) for q in answered
                         if "topics" not in q)
        assert covered[0][0] == issuer.registry.deployment.block
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(covered))
