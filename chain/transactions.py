"""Sending transactions reliably: local signing, nonces, gas, receipts, confirmations.

- Fees: an EIP-1559 (type-2) transaction when the latest block has a base fee above zero —
  ``maxFeePerGas`` twice the base fee plus the tip (the node's ``eth_maxPriorityFeePerGas``),
  so it stays minable through several blocks of rising fees; a legacy (EIP-155,
  ``gasPrice``) one on a chain without a fee market (no base fee, or zero), or when the
  sender is made with ``legacy=True``.
- Nonces: given out behind a lock (concurrent callers in one process never share one), each
  the node's *pending* count for the account, read as the transaction is signed: a restart
  picks up where the last process stopped, another process using the account is seen at
  once, and a nonce the node no longer counts (our transactions lost when the chain lost
  its last blocks) is never used beyond it, so no transaction waits behind a gap. A node
  that says a nonce is stale (another process took it meanwhile) gets the next one.
- A transaction the node says it already has ("already known", "already imported") or
  whose nonce it says is used ("nonce too low") is success when the node holds the very one
  signed here (the same hash, computed locally): two processes anchoring one batch sign the
  same bytes, and a send retried after a lost answer (:mod:`chain.rpc`) finds its first
  attempt received or already mined. Only a nonce taken by *another* transaction makes the
  sender sign again with the next one.
- Reverts: gas is estimated first, so a refused call is decoded into
  :class:`ContractRevert` with the contract's custom error before any nonce is used. A mined
  transaction with status 0 is replayed with ``eth_call`` to decode why.
- Receipts are polled every ``poll_interval`` (10 ms: anvil's receipt latency grows with
  chain height, web3's default 100 ms would dominate) until ``receipt_timeout``. Every
  ``DROP_CHECK_SECONDS`` meanwhile the node is asked whether it still knows the transaction
  and whether its nonce can be mined: if not, :class:`TransactionDropped` is raised at once
  (not after the timeout) so the caller sends again.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import coincurve
import rlp
from eth_utils import keccak, to_checksum_address

from chain.errors import (
    ChainError,
    ContractRevert,
    RpcError,
    TransactionDropped,
    TransactionFailed,
    TransactionTimeout,
)
from chain.rpc import Rpc

_log = logging.getLogger(__name__)
DROP_CHECK_SECONDS = 0.5
"""While waiting for a receipt, how often the node is asked whether it still has the
transaction and can mine it."""


class LocalAccount:
    """An Ethereum account whose key is held in memory: its address, and transaction signing
    (EIP-155 legacy and EIP-1559 type 2) with libsecp256k1 through ``coincurve``
    (deterministic RFC 6979 nonces, low ``s``).

    This replaces ``eth_account``, which signs the same bytes (a test holds the two equal) but
    takes 1.3–2 s to import: it loads ``py_ecc``'s BLS pairing code for keystores this project
    never uses, which every CLI command that sends a transaction paid, and the import raised
    the interpreter's recursion limit to 100,000 (deep JSON could then overflow the C stack).

    ``private_key``: 32 bytes, or their hex (``0x`` optional). A key outside 1 … n-1 of
    secp256k1 raises ``ValueError``."""

    def __init__(self, private_key: str | bytes) -> None:
        if isinstance(private_key, str):
            text = private_key.strip()
            text = text[2:] if text[:2].lower() == "0x" else text
            if len(text) != 64:
                raise ValueError("a private key is 32 bytes: 64 hex digits")
            raw = bytes.fromhex(text)
        else:
            raw = bytes(private_key)
            if len(raw) != 32:
                raise ValueError("a private key is 32 bytes")
        self._key = coincurve.PrivateKey(raw)  # refuses 0 and n or more
        self.key = raw
        point = self._key.public_key.format(compressed=False)[1:]
        self.address: str = to_checksum_address(keccak(point)[-20:])

    def sign_transaction(self, tx: Mapping[str, Any]) -> bytes:
        """The raw signed transaction: ``nonce``, ``gas``, ``to`` (absent or ``None`` to
        create a contract), ``value``, ``data`` (hex), ``chainId``, and either ``gasPrice``
        (legacy, EIP-155) or ``maxFeePerGas`` and ``maxPriorityFeePerGas`` (EIP-1559, type 2,
        empty access list)."""
        to = tx.get("to")
        target = b"" if to is None else bytes.fromhex(to[2:] if to[:2].lower() == "0x" else to)
        chain_id = tx["chainId"]
        if "maxFeePerGas" in tx:
            fields = [
                chain_id,
                tx["nonce"],
                tx["maxPriorityFeePerGas"],
                tx["maxFeePerGas"],
                tx["gas"],
                target,
                tx["value"],
                _hex_bytes(tx["data"]),
                [],  # access list
            ]
            v, r, s = self._sign(keccak(b"\x02" + rlp.encode(fields)))
            return b"\x02" + bytes(rlp.encode([*fields, v, r, s]))
        fields = [tx["nonce"], tx["gasPrice"], tx["gas"], target, tx["value"],
                  _hex_bytes(tx["data"])]
        v, r, s = self._sign(keccak(rlp.encode([*fields, chain_id, 0, 0])))
        return bytes(rlp.encode([*fields, 35 + 2 * chain_id + v, r, s]))

    def _sign(self, digest: bytes) -> tuple[int, int, int]:
        """``(y parity, r, s)`` of a signature of ``digest``."""
        signature = self._key.sign_recoverable(digest, hasher=None)
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:64], "big")
        return signature[64], r, s


def _hex_bytes(text: str) -> bytes:
    return bytes.fromhex(text[2:] if text[:2].lower() == "0x" else text)


_STALE_NONCE = ("nonce too low", "already known", "replacement transaction underpriced", "nonce")
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")
"""A JSON-RPC quantity as this client reads it (at most 256 bits)."""
_ALREADY_HAVE = ("already known", "already imported", "known transaction", "nonce too low")
"""What a node answers to a transaction it may hold already (checked by its hash)."""


@dataclass(frozen=True)
class TransactionReceipt:
    """A mined, successful transaction."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    contract_address: str | None
    logs: tuple[Mapping[str, Any], ...]


class TransactionSender:
    """Signs locally with one account and sends through :class:`Rpc`."""

    def __init__(
        self,
        rpc: Rpc,
        private_key: str | bytes,
        *,
        confirmations: int = 0,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.01,
        gas_margin: float = 1.25,
        legacy: bool = False,
    ) -> None:
        self.rpc = rpc
        self._account = LocalAccount(private_key)
        self.address: str = self._account.address
        self.confirmations = confirmations
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.gas_margin = gas_margin
        self.legacy = legacy
        """Always send legacy (``gasPrice``) transactions, even where EIP-1559 is known."""
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc.call("eth_chainId"), 16)
        return self._chain_id

    def transact(self, *, to: str | None, data: str, gas: int | None = None) -> TransactionReceipt:
        """Send a transaction and wait for its receipt (and confirmations)."""
        return self.wait(self.submit(to=to, data=data, gas=gas))

    def submit(self, *, to: str | None, data: str, gas: int | None = None) -> str:
        """Sign and send; return the transaction hash without waiting for it to be mined."""
        call: dict[str, Any] = {"from": self.address, "data": data}
        if to is not None:
            call["to"] = to
        if gas is None:
            estimate = int(self.rpc.call("eth_estimateGas", [call]), 16)
            gas = int(estimate * self.gas_margin) + 10_000
        fees = self.fees()
        chain_id = self.chain_id
        for attempt in range(4):
            with self._lock:
                nonce = self._pending_nonce()
                if self._next_nonce is not None and self._next_nonce > nonce:
                    _log.warning(
                        "nonce gap account=%s node_next=%d sent_up_to=%d: transactions sent "
                        "from it were lost (the chain lost blocks?); resynced",
                        self.address, nonce, self._next_nonce - 1,
                    )
                tx = {
                    "chainId": chain_id,
                    "nonce": nonce,
                    "gas": gas,
                    **fees,
                    "data": data,
                    "value": 0,
                }
                if to is not None:
                    tx["to"] = to
                try:
                    tx_hash = self.send_raw(self._account.sign_transaction(tx))
                except RpcError as exc:
                    if attempt < 3 and any(s in exc.rpc_message.lower() for s in _STALE_NONCE):
                        self._next_nonce = None  # another sender used it: re-read and retry
                        continue
                    raise
                self._next_nonce = nonce + 1
                return tx_hash
        raise ChainError("could not find a free nonce after 4 attempts", code="tx_nonce")

    def fees(self) -> dict[str, int]:
        """The fee fields of the next transaction: ``maxFeePerGas`` and
        ``maxPriorityFeePerGas`` where the latest block has a base fee above zero (EIP-1559),
        else ``gasPrice``."""
        if not self.legacy:
            tip: int | None = None
            try:  # one round trip: the latest block and the node's tip
                answers = self.rpc.batch(
                    [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
                )
                if len(answers) != 2:  # one answer to two requests: the node takes no batches
                    raise RpcError("batch", -1, f"{len(answers)} answer(s) to 2 requests")
                block, raw_tip = answers
                tip = _quantity("eth_maxPriorityFeePerGas", raw_tip)
            except RpcError:  # a node without the method (or without batches)
                block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            base_fee = block.get("baseFeePerGas") if isinstance(block, dict) else None
            base = None if base_fee is None else _quantity("eth_getBlockByNumber", base_fee)
            if base is not None and base > 0:
                if tip is None:  # what the node asks above the base fee
                    tip = max(_quantity("eth_gasPrice", self.rpc.call("eth_gasPrice")) - base, 0)
                return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}
        return {"gasPrice": _quantity("eth_gasPrice", self.rpc.call("eth_gasPrice"))}

    def send_raw(self, signed: bytes) -> str:
        """Send a signed transaction; its hash (computed here). A node answering that it
        already has it ("already known", "already imported") or that its nonce is used
        ("nonce too low") is success when it does hold this very hash: another process sent
        the same bytes first (two anchorers of one batch sign identical transactions), or
        an earlier attempt of this send reached it though its answer was lost."""
        tx_hash = "0x" + keccak(signed).hex()
        try:
            self.rpc.call("eth_sendRawTransaction", ["0x" + signed.hex()])
        except RpcError as exc:
            message = exc.rpc_message.lower()
            if any(s in message for s in _ALREADY_HAVE) and self._known(tx_hash):
                return tx_hash
            raise
        return tx_hash

    def wait(self, tx_hash: str, *, timeout: float | None = None) -> TransactionReceipt:
        """Wait for the receipt of ``tx_hash`` and the configured confirmations.

        :class:`TransactionDropped` as soon as the node no longer knows the transaction or
        it cannot be mined (its nonce beyond the account's next), the nonce resynced;
        :class:`TransactionTimeout` after ``timeout`` (the transaction may still be mined)."""
        limit = self.receipt_timeout if timeout is None else timeout
        started = time.monotonic()
        checked = started
        while True:
            raw = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if raw is not None:
                block = int(raw["blockNumber"], 16)
                if self.confirmations == 0 or (
                    int(self.rpc.call("eth_blockNumber"), 16) >= block + self.confirmations
                ):
                    break
            elif time.monotonic() - checked >= DROP_CHECK_SECONDS:
                self._check_minable(tx_hash)
                checked = time.monotonic()
            if time.monotonic() - started > limit:
                if raw is None:
                    self._check_minable(tx_hash)
                self.resync_nonce()
                raise TransactionTimeout(tx_hash, time.monotonic() - started)
            time.sleep(self.poll_interval)
        if int(raw["status"], 16) != 1:
            raise self._why_failed(tx_hash, block)
        return TransactionReceipt(
            tx_hash=tx_hash,
            block_number=block,
            block_hash=raw["blockHash"],
            gas_used=int(raw["gasUsed"], 16),
            contract_address=raw.get("contractAddress"),
            logs=tuple(raw.get("logs", ())),
        )

    def resync_nonce(self) -> None:
        """Forget the nonce last given out; the next send reads the node's pending count."""
        with self._lock:
            self._next_nonce = None

    def _known(self, tx_hash: str) -> bool:
        return self.rpc.call("eth_getTransactionByHash", [tx_hash]) is not None

    def _check_minable(self, tx_hash: str) -> None:
        """Raise :class:`TransactionDropped` (nonce resynced) if the node no longer knows the
        unmined ``tx_hash``, or knows it but its nonce lies beyond the account's next."""
        tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
        if tx is None:
            self.resync_nonce()
            raise TransactionDropped(
                tx_hash,
                f"the node no longer knows transaction {tx_hash} (dropped, e.g. when the "
                "chain lost its last blocks); send it again",
            )
        if tx.get("blockNumber") is not None:
            return  # mined meanwhile: the receipt comes with the next poll
        nonce = int(tx["nonce"], 16)
        next_nonce = int(self.rpc.call("eth_getTransactionCount", [tx["from"], "pending"]), 16)
        if nonce >= next_nonce:
            self.resync_nonce()
            raise TransactionDropped(
                tx_hash,
                f"transaction {tx_hash} has nonce {nonce} but the account's next is "
                f"{next_nonce}: it waits behind a gap and will not be mined; send it again",
                code="tx_nonce_gap",
            )

    def _pending_nonce(self) -> int:
        return int(self.rpc.call("eth_getTransactionCount", [self.address, "pending"]), 16)

    def _why_failed(self, tx_hash: str, block: int) -> ChainError:
        tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
        call = {"from": tx["from"], "to": tx.get("to"), "data": tx["input"], "gas": tx["gas"]}
        try:
            self.rpc.call("eth_call", [call, hex(block)])
        except ContractRevert as revert:
            return revert
        return TransactionFailed(f"transaction {tx_hash} failed in block {block}")


def _quantity(method: str, value: Any) -> int:
    """A JSON-RPC quantity (``0x`` and hex digits) as an integer; :class:`RpcError` for any
    other answer (a node that answers it so is not one this client can use)."""
    if isinstance(value, str) and _QUANTITY.fullmatch(value):
        return int(value, 16)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
    raise RpcError(method, -1, f"the node answered {shown}, which is not a hex quantity")
