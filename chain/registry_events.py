"""Reading the registry contracts' history: their events in a block range (in pages a node
accepts), decoded, with block timestamps; the histories of a certificate, a batch and an
issuer, and the catalogue, grants and published keys, built from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chain.abi import ContractAbi
from chain.errors import ChainError, RpcError
from chain.records import (
    CATALOGUE_EVENTS,
    GRANT_EVENTS,
    Block,
    ChainEvent,
    Deployment,
    digest32,
    issuer_id,
    type_id,
    uscc_of,
)
from chain.rpc import Rpc

LOG_PAGE_BLOCKS = 5_000
"""Blocks per ``eth_getLogs`` request at first: under the usual provider limits (often 10,000
blocks or 10,000 results); a node that refuses a page as too large gets halves."""
_TOO_MANY_LOGS = (
    "too many", "too large", "more than", "exceed", "limit", "range", "response size",
    "timeout", "timed out",
)
"""Words of a node refusing a log query for its size (each provider has its own text)."""


class RegistryHistory:
    """The history part of the registry client (:class:`chain.registry.RegistryClient`): what it
    needs is declared here, the client provides it."""

    rpc: Rpc
    deployment: Deployment
    log_page: int
    _issuers: ContractAbi
    _certificates: ContractAbi
    _timestamps: dict[str, int]

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)


    def events(
        self,
        from_block: int | None = None,
        to_block: Block = "latest",
        *,
        topics: Sequence[Any] | None = None,
        end_hash: str | None = None,
    ) -> list[ChainEvent]:
        """Every event of both contracts in a block range (what an indexer follows), read in
        pages of at most ``log_page`` blocks; a page the node refuses as too large (too many
        results, too wide a range) is read again in halves.

        A node answers ``eth_getLogs`` for blocks it does not have yet with nothing, not an
        error: behind a load balancer, a node behind the one that gave the head would make
        the events of its missing blocks silently absent (a revocation never indexed). So
        each page is asked in one JSON-RPC batch with the header of its last block, and a
        page whose node has no such block is refused (``block_missing``); with
        ``end_hash``, the last page's block must also be that block (``block_changed``: the
        chain changed between the reads)."""
        start = self.deployment.block if from_block is None else from_block
        end = self._number_of(to_block)
        logs: list[Mapping[str, Any]] = []
        page = self.log_page
        while start <= end:
            stop = min(end, start + page - 1)
            query: dict[str, Any] = {
                "address": [self.deployment.issuer_registry, self.deployment.certificate_registry],
                "fromBlock": hex(start),
                "toBlock": hex(stop),
            }
            if topics is not None:
                query["topics"] = list(topics)
            try:
                # the header first: a node that answers a batch's items in turn and imports
                # a block between them can only have more blocks for the logs, never fewer
                last, found = self.rpc.batch(
                    [("eth_getBlockByNumber", [hex(stop), False]), ("eth_getLogs", [query])]
                )
            except RpcError as exc:
                text = exc.rpc_message.lower()
                if stop > start and (
                    exc.rpc_code == -32005 or any(w in text for w in _TOO_MANY_LOGS)
                ):
                    page = max(1, (stop - start + 1) // 2)
                    continue
                raise
            if not isinstance(last, dict):
                raise ChainError(
                    f"the node that answered the events of blocks {start}-{stop} has no block "
                    f"{stop} (a node behind another): read again",
                    code="block_missing",
                )
            if end_hash is not None and stop == end and str(last.get("hash")) != end_hash:
                raise ChainError(
                    f"block {end} changed while its events were read (a reorganisation, or "
                    "nodes on different forks): read again",
                    code="block_changed",
                )
            logs += found or []
            start = stop + 1
        return self._decode(logs)

    def _number_of(self, block: Block) -> int:
        """The number of a block given by number, hex number or tag (``latest``, …)."""
        if isinstance(block, int):
            return block
        if block.startswith("0x"):
            return int(block, 16)
        if block in ("latest", "pending"):
            return self.block_number()
        found = self.rpc.call("eth_getBlockByNumber", [block, False])
        if not isinstance(found, dict):
            raise ChainError(f"the node knows no {block!r} block", code="block_missing")
        return int(found["number"], 16)

    def history_of_leaf(
        self, uscc: str, leaf: bytes, *, root: bytes | None = None
    ) -> list[ChainEvent]:
        """A certificate's events: its batch anchored (when ``root`` is given), status changes,
        and supersede links in either direction; oldest first."""
        issuer, leaf_topic = "0x" + issuer_id(uscc).hex(), "0x" + digest32(leaf, "leaf").hex()
        c = self._certificates
        changed, superseded = c.topic("StatusChanged"), c.topic("Superseded")
        found = self.events(topics=[[changed, superseded], issuer, leaf_topic])
        found += self.events(topics=[superseded, issuer, None, leaf_topic])
        if root is not None:
            found += self.history_of_root(root)
        return _ordered(found)

    def history_of_root(self, root: bytes) -> list[ChainEvent]:
        topic = "0x" + digest32(root, "root").hex()
        return self.events(topics=[self._certificates.topic("RootAnchored"), topic])

    def history_of_issuer(self, uscc: str) -> list[ChainEvent]:
        """Registry events of an issuer, and every anchor and status change it made."""
        issuer = "0x" + issuer_id(uscc).hex()
        c = self._certificates
        found = self.events(topics=[None, issuer])
        found += self.events(
            topics=[[c.topic("RootAnchored"), c.topic("DocumentAnchored")], None, issuer]
        )
        return [e for e in _ordered(found) if e.args.get("issuer") == uscc]

    # ---- the catalogue, grants and keys, from their events ----

    def catalogue_events(
        self, code: str | None = None, *, to_block: Block = "latest"
    ) -> list[ChainEvent]:
        """Every change of the catalogue (types added, revised, withdrawn; of one type), in
        chain order."""
        topics: list[Any] = [[self._issuers.topic(n) for n in CATALOGUE_EVENTS]]
        if code is not None:
            topics.append("0x" + type_id(code).hex())
        return self.events(to_block=to_block, topics=topics)

    def authorization_events(
        self, uscc: str, code: str | None = None, *, block: int | None = None
    ) -> list[ChainEvent]:
        """What decides whether ``uscc`` may issue type ``code`` (``None``: any type): the
        type's catalogue events and the issuer's grants of it, up to ``block`` (default: the
        latest), in chain order."""
        until: Block = "latest" if block is None else block
        events = self.catalogue_events(code, to_block=until) + self.grant_events(
            uscc, code, to_block=until
        )
        return sorted(events, key=lambda e: (e.block_number, e.log_index))

    def grant_events(
        self, uscc: str | None = None, code: str | None = None, *, to_block: Block = "latest"
    ) -> list[ChainEvent]:
        """Authorizations granted and withdrawn (of one issuer, and one type), in chain order."""
        topics: list[Any] = [
            [self._issuers.topic(n) for n in GRANT_EVENTS],
            None if uscc is None else "0x" + issuer_id(uscc).hex(),
            None if code is None else "0x" + type_id(code).hex(),
        ]
        while topics and topics[-1] is None:
            topics.pop()
        return self.events(to_block=to_block, topics=topics)

    def published_keys(self, uscc: str) -> dict[bytes, bytes]:
        """Key id → public key, for every key the issuer published in ``KeyAdded``."""
        topics = [self._issuers.topic("KeyAdded"), "0x" + issuer_id(uscc).hex()]
        return {
            bytes(e.args["keyId"]): bytes(e.args["publicKey"])
            for e in self.events(topics=topics)
            if e.args.get("publicKey")
        }

    def issuer_name(self, uscc: str) -> str | None:
        """The name the issuer was registered under (its ``IssuerRegistered`` event)."""
        topics = [self._issuers.topic("IssuerRegistered"), "0x" + issuer_id(uscc).hex()]
        names = [str(e.args["name"]) for e in self.events(topics=topics)]
        return names[-1] if names else None

    def published_key(self, uscc: str, key_id: bytes) -> bytes | None:
        """The public key published with ``key_id`` (from its ``KeyAdded`` event)."""
        topics = [
            self._issuers.topic("KeyAdded"),
            "0x" + issuer_id(uscc).hex(),
            "0x" + digest32(key_id, "key id").hex(),
        ]
        for event in self.events(topics=topics):
            key = bytes(event.args.get("publicKey", b""))
            return key or None
        return None

    def _decode(self, logs: Iterable[Mapping[str, Any]]) -> list[ChainEvent]:
        logs = [log for log in logs if not log.get("removed")]
        self._fill_timestamps({str(log["blockHash"]) for log in logs})
        out: list[ChainEvent] = []
        for log in logs:
            for abi in (self._certificates, self._issuers):
                decoded = abi.decode_log(log)
                if decoded is not None:
                    break
            else:
                continue
            name, args = decoded
            for key in ("issuer",):
                if key in args:
                    args[key] = uscc_of(args[key])
            block = int(log["blockNumber"], 16)
            out.append(
                ChainEvent(
                    name=name,
                    contract=abi.artefact.name,
                    block_number=block,
                    timestamp=self._timestamps[str(log["blockHash"])],
                    tx_hash=log["transactionHash"],
                    log_index=int(log["logIndex"], 16),
                    args=args,
                    block_hash=str(log["blockHash"]),
                )
            )
        return _ordered(out)

    def block_timestamp(self, block: int) -> int:
        found = self.rpc.call("eth_getBlockByNumber", [hex(block), False])
        if not isinstance(found, dict):
            raise ChainError(f"block {block} is not known to the node", code="block_missing")
        return int(found["timestamp"], 16)

    def _fill_timestamps(self, hashes: set[str]) -> None:
        missing = sorted(h for h in hashes if h not in self._timestamps)
        if len(self._timestamps) + len(missing) > 100_000:  # a long-lived indexer: stay small
            self._timestamps.clear()
        for start in range(0, len(missing), 100):
            chunk = missing[start : start + 100]
            results = self.rpc.batch([("eth_getBlockByHash", [h, False]) for h in chunk])
            for block_hash, block in zip(chunk, results, strict=True):
                if not isinstance(block, dict):
                    raise ChainError(
                        f"block {block_hash} is not known to the node (a rollback since the "
                        "logs were read?)",
                        code="block_missing",
                    )
                self._timestamps[block_hash] = int(block["timestamp"], 16)


def _ordered(events: Iterable[ChainEvent]) -> list[ChainEvent]:
    unique = {(e.block_number, e.log_index): e for e in events}
    return [unique[k] for k in sorted(unique)]
