"""The contract client: deploy, the issuer and key registry, anchors, status, history.

Values at this layer: an issuer is its 18-character USCC (stored on chain as its ASCII bytes
left-aligned in a ``bytes32``); roots, leaves, key ids and document digests are 32-byte
``bytes``; times are Unix seconds (``int``). Reads take an optional ``block`` so a caller
can judge several facts at one block and say which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_utils import keccak, to_checksum_address

from chain.abi import ContractAbi, contract_abi
from chain.errors import ChainError, InvalidArgument
from chain.records import (
    CATALOGUE_EVENTS,
    GRANT_EVENTS,
    AnchorInfo,
    Block,
    ChainEvent,
    ChainSnapshot,
    ChainStatus,
    Deployment,
    Grant,
    IssuerStatus,
    KeyRecord,
    LeafStatus,
    TypeRecord,
    account_address,
    digest32,
    issuer_id,
    place_id,
    type_id,
    uscc_of,
)
from chain.registry_events import LOG_PAGE_BLOCKS, RegistryHistory
from chain.rpc import Rpc
from chain.transactions import TransactionReceipt, TransactionSender

__all__ = [  # the records, read through the client's module by most callers
    "ADMIN_ROLE",
    "CATALOGUE_EVENTS",
    "GRANT_EVENTS",
    "LOG_PAGE_BLOCKS",
    "AnchorInfo",
    "Block",
    "ChainEvent",
    "ChainSnapshot",
    "ChainStatus",
    "Deployment",
    "Grant",
    "IssuerStatus",
    "KeyRecord",
    "LeafStatus",
    "RegistryClient",
    "TypeRecord",
    "deploy_contracts",
    "issuer_id",
    "place_id",
    "type_id",
    "uscc_of",
]

ADMIN_ROLE = keccak(text="ADMIN_ROLE")


def deploy_contracts(sender: TransactionSender) -> Deployment:
    """Deploy IssuerRegistry (admin: the sender) and CertificateRegistry."""
    issuers = contract_abi("IssuerRegistry")
    first = sender.transact(to=None, data=issuers.encode_constructor(sender.address))
    if first.contract_address is None:
        raise ChainError("IssuerRegistry deployment returned no contract address")
    certificates = contract_abi("CertificateRegistry")
    second = sender.transact(to=None, data=certificates.encode_constructor(first.contract_address))
    if second.contract_address is None:
        raise ChainError("CertificateRegistry deployment returned no contract address")
    return Deployment(
        chain_id=sender.chain_id,
        issuer_registry=to_checksum_address(first.contract_address),
        certificate_registry=to_checksum_address(second.contract_address),
        block=first.block_number,
        deployer=sender.address,
    )


class RegistryClient(RegistryHistory):
    """A client of the two registry contracts of one deployment (IssuerRegistry and
    CertificateRegistry, on chain). Writes need a ``sender``; reads do not."""

    def __init__(
        self,
        rpc: Rpc,
        deployment: Deployment,
        sender: TransactionSender | None = None,
        *,
        log_page: int = LOG_PAGE_BLOCKS,
    ) -> None:
        self.rpc = rpc
        self.log_page = max(1, log_page)
        """Blocks per ``eth_getLogs`` request (halved for the rest of a query when the node
        refuses one as too large)."""
        self.deployment = deployment
        self.sender = sender
        self._issuers = contract_abi("IssuerRegistry")
        self._certificates = contract_abi("CertificateRegistry")
        self._timestamps: dict[str, int] = {}
        """Block timestamps by block hash (a number names another block after a rollback)."""

    # ---- plumbing ----

    def _send(self, abi: ContractAbi, address: str, fn: str, *args: Any) -> TransactionReceipt:
        if self.sender is None:
            raise ChainError("this registry client has no account to send from", code="no_sender")
        return self.sender.transact(to=address, data=abi.encode_call(fn, *args))

    def _call(
        self, abi: ContractAbi, address: str, fn: str, *args: Any, block: Block = "latest"
    ) -> tuple[Any, ...]:
        data = abi.encode_call(fn, *args)
        tag = hex(block) if isinstance(block, int) else block
        return abi.decode_result(
            fn, self.rpc.call("eth_call", [{"to": address, "data": data}, tag])
        )

    def _issuer_tx(self, fn: str, *args: Any) -> TransactionReceipt:
        return self._send(self._issuers, self.deployment.issuer_registry, fn, *args)

    def _cert_tx(self, fn: str, *args: Any) -> TransactionReceipt:
        return self._send(self._certificates, self.deployment.certificate_registry, fn, *args)

    def _issuer_view(self, fn: str, *args: Any, block: Block = "latest") -> tuple[Any, ...]:
        return self._call(self._issuers, self.deployment.issuer_registry, fn, *args, block=block)

    def _cert_view(self, fn: str, *args: Any, block: Block = "latest") -> tuple[Any, ...]:
        return self._call(
            self._certificates, self.deployment.certificate_registry, fn, *args, block=block
        )

    def lag(self) -> Mapping[str, Any]:
        """Facts read from the chain itself are current: no lag."""
        return {"lag_blocks": 0, "lag_seconds": 0.0}

    def head(self) -> tuple[int, str]:
        """Number and hash of the latest block, read in one request."""
        block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(block, dict):
            raise ChainError("the node returned no latest block", code="block_missing")
        return int(block["number"], 16), str(block["hash"])

    def block_hashes(self, numbers: Iterable[int]) -> dict[int, str | None]:
        """The hash of each block number on the chain now (``None``: no such block), in
        JSON-RPC batches."""
        wanted = sorted(set(numbers))
        found: dict[int, str | None] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            results = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in chunk])
            for number, block in zip(chunk, results, strict=True):
                found[number] = str(block["hash"]) if isinstance(block, dict) else None
        return found

    def code_present(self) -> bool:
        """Is contract code at both recorded addresses (e.g. not a wiped devnet)?"""
        codes = self.rpc.batch(
            [
                ("eth_getCode", [self.deployment.issuer_registry, "latest"]),
                ("eth_getCode", [self.deployment.certificate_registry, "latest"]),
            ]
        )
        return all(isinstance(c, str) and len(c) > 2 for c in codes)

    # ---- governance ----

    def grant_role(self, role: bytes, account: str) -> TransactionReceipt:
        return self._issuer_tx("grantRole", digest32(role, "role"), account_address(account))

    def revoke_role(self, role: bytes, account: str) -> TransactionReceipt:
        return self._issuer_tx("revokeRole", digest32(role, "role"), account_address(account))

    def has_role(self, role: bytes, account: str) -> bool:
        found = self._issuer_view("hasRole", digest32(role, "role"), account_address(account))
        return bool(found[0])

    def register_issuer(self, uscc: str, name: str, jurisdiction: str = "") -> TransactionReceipt:
        """Register an issuer in ``jurisdiction`` ("" for a national body)."""
        return self._issuer_tx("registerIssuer", issuer_id(uscc), name, place_id(jurisdiction))

    def set_admin_scope(self, account: str, prefix: str) -> TransactionReceipt:
        """Limit an admin to a jurisdiction prefix ("": national). Set it before granting the
        admin role, so the account is never unlimited meanwhile."""
        return self._issuer_tx("setAdminScope", account_address(account), place_id(prefix))

    def admin_scope(self, account: str) -> str:
        return uscc_of(self._issuer_view("adminScope", account_address(account))[0])

    def jurisdiction_of(self, uscc: str) -> str:
        return uscc_of(self._issuer_view("jurisdictionOf", issuer_id(uscc))[0])

    # ---- the catalogue and authorizations ----

    def add_type(
        self, code: str, name: str, defining_body: str, schema_digest: bytes
    ) -> TransactionReceipt:
        return self._issuer_tx(
            "addType", type_id(code), name, defining_body, digest32(schema_digest, "schema digest")
        )

    def revise_type(
        self, code: str, name: str, defining_body: str, schema_digest: bytes
    ) -> TransactionReceipt:
        return self._issuer_tx(
            "reviseType", type_id(code), name, defining_body,
            digest32(schema_digest, "schema digest"),
        )

    def withdraw_type(self, code: str) -> TransactionReceipt:
        return self._issuer_tx("withdrawType", type_id(code))

    def type_record(self, code: str, *, block: Block = "latest") -> TypeRecord | None:
        (raw,) = self._issuer_view("typeRecord", type_id(code), block=block)
        version, withdrawn_at, digest = raw
        if not version:
            return None
        return TypeRecord(code, version, withdrawn_at or None, bytes(digest))

    def authorize(
        self,
        uscc: str,
        code: str,
        valid_from: int,
        valid_until: int | None = None,
        jurisdiction: str = "",
    ) -> TransactionReceipt:
        return self._issuer_tx(
            "authorize", issuer_id(uscc), type_id(code), valid_from, valid_until or 0,
            place_id(jurisdiction),
        )

    def deauthorize(self, uscc: str, code: str) -> TransactionReceipt:
        return self._issuer_tx("deauthorize", issuer_id(uscc), type_id(code))

    def grants(self, uscc: str, code: str, *, block: Block = "latest") -> list[Grant]:
        (raw,) = self._issuer_view("grants", issuer_id(uscc), type_id(code), block=block)
        return [Grant(f, u or None, uscc_of(j)) for f, u, j in raw]

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

    def authorized_at(
        self, uscc: str, code: str, when: int, jurisdiction: str, *, block: Block = "latest"
    ) -> bool:
        return bool(
            self._issuer_view(
                "authorizedAt", issuer_id(uscc), type_id(code), when, place_id(jurisdiction),
                block=block,
            )[0]
        )

    def suspend_issuer(self, uscc: str, reason: str) -> TransactionReceipt:
        return self._issuer_tx("suspendIssuer", issuer_id(uscc), reason)

    def reinstate_issuer(self, uscc: str) -> TransactionReceipt:
        return self._issuer_tx("reinstateIssuer", issuer_id(uscc))

    def add_account(self, uscc: str, account: str) -> TransactionReceipt:
        return self._issuer_tx("addAccount", issuer_id(uscc), account_address(account))

    def remove_account(self, uscc: str, account: str) -> TransactionReceipt:
        return self._issuer_tx("removeAccount", issuer_id(uscc), account_address(account))

    def add_key(
        self,
        uscc: str,
        key_id: bytes,
        valid_from: int,
        valid_until: int | None = None,
        public_key: bytes = b"",
    ) -> TransactionReceipt:
        """Register a signing key. ``public_key`` (the SM2 point, whose SM3 digest should be
        ``key_id``) is published in the ``KeyAdded`` event for verifiers."""
        return self._issuer_tx(
            "addKey",
            issuer_id(uscc),
            digest32(key_id, "key id"),
            valid_from,
            valid_until or 0,
            bytes(public_key),
        )

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

    def retire_key(self, uscc: str, key_id: bytes, valid_until: int) -> TransactionReceipt:
        return self._issuer_tx(
            "retireKey", issuer_id(uscc), digest32(key_id, "key id"), valid_until
        )

    def report_key_compromised(
        self, uscc: str, key_id: bytes, compromised_at: int
    ) -> TransactionReceipt:
        return self._issuer_tx(
            "reportKeyCompromised", issuer_id(uscc), digest32(key_id, "key id"), compromised_at
        )

    def issuer_status(self, uscc: str, *, block: Block = "latest") -> IssuerStatus:
        return IssuerStatus(self._issuer_view("issuerStatus", issuer_id(uscc), block=block)[0])

    def issuer_of(self, account: str) -> str | None:
        raw = self._issuer_view("issuerOf", account_address(account))[0]
        return uscc_of(raw) if any(raw) else None

    def key_record(self, uscc: str, key_id: bytes, *, block: Block = "latest") -> KeyRecord | None:
        (raw,) = self._issuer_view(
            "keyRecord", issuer_id(uscc), digest32(key_id, "key id"), block=block
        )
        valid_from, valid_until, compromised_at, exists = raw
        if not exists:
            return None
        return KeyRecord(bytes(key_id), valid_from, valid_until or None, compromised_at or None)

    def key_ids(self, uscc: str) -> list[bytes]:
        return [bytes(k) for k in self._issuer_view("keyIds", issuer_id(uscc))[0]]

    def key_valid_at(self, uscc: str, key_id: bytes, when: int, *, block: Block = "latest") -> bool:
        return bool(
            self._issuer_view(
                "keyValidAt", issuer_id(uscc), digest32(key_id, "key id"), when, block=block
            )[0]
        )

    # ---- anchors ----

    def anchor(self, uscc: str, root: bytes, leaf_count: int) -> TransactionReceipt:
        return self._cert_tx("anchor", issuer_id(uscc), digest32(root, "root"), leaf_count)

    def anchor_call(self, uscc: str, root: bytes, leaf_count: int) -> str:
        """The call data of :meth:`anchor`, for callers that record the transaction hash
        before waiting (``sender.submit`` then ``sender.wait``)."""
        return self._certificates.encode_call(
            "anchor", issuer_id(uscc), digest32(root, "root"), leaf_count
        )

    def anchor_document(self, uscc: str, digest: bytes) -> TransactionReceipt:
        return self._cert_tx("anchorDocument", issuer_id(uscc), digest32(digest, "document digest"))

    def anchor_of(self, root: bytes, *, block: Block = "latest") -> AnchorInfo | None:
        return self._anchor_info("anchorOf", digest32(root, "root"), block)

    def document_of(self, digest: bytes, *, block: Block = "latest") -> AnchorInfo | None:
        return self._anchor_info("documentOf", digest32(digest, "document digest"), block)

    def documents(self, digests: Iterable[bytes]) -> dict[bytes, AnchorInfo | None]:
        """Anchors of sealed-document digests (``None`` where not anchored)."""
        return {d: self.document_of(d) for d in dict.fromkeys(digests)}

    def _anchor_info(self, fn: str, digest: bytes, block: Block) -> AnchorInfo | None:
        (raw,) = self._cert_view(fn, digest, block=block)
        issuer, by, leaf_count, timestamp, block_number = raw
        if block_number == 0:
            return None
        return AnchorInfo(
            digest, uscc_of(issuer), leaf_count, block_number, timestamp,
            to_checksum_address(by),
        )

    # ---- status ----

    def revoke(self, uscc: str, leaf: bytes, reason: int) -> TransactionReceipt:
        return self._cert_tx("revoke", issuer_id(uscc), digest32(leaf, "leaf"), reason)

    def suspend(self, uscc: str, leaf: bytes, reason: int) -> TransactionReceipt:
        return self._cert_tx("suspend", issuer_id(uscc), digest32(leaf, "leaf"), reason)

    def reinstate(self, uscc: str, leaf: bytes, reason: int = 0) -> TransactionReceipt:
        return self._cert_tx("reinstate", issuer_id(uscc), digest32(leaf, "leaf"), reason)

    def revoke_many(self, uscc: str, leaves: Sequence[bytes], reason: int) -> TransactionReceipt:
        return self._cert_tx("revokeMany", issuer_id(uscc), _digests(leaves), reason)

    def suspend_many(self, uscc: str, leaves: Sequence[bytes], reason: int) -> TransactionReceipt:
        return self._cert_tx("suspendMany", issuer_id(uscc), _digests(leaves), reason)

    def reinstate_many(
        self, uscc: str, leaves: Sequence[bytes], reason: int = 0
    ) -> TransactionReceipt:
        return self._cert_tx("reinstateMany", issuer_id(uscc), _digests(leaves), reason)

    def supersede(self, uscc: str, old: bytes, new: bytes, reason: int) -> TransactionReceipt:
        return self._cert_tx(
            "supersede", issuer_id(uscc), digest32(old, "old leaf"), digest32(new, "new leaf"),
            reason,
        )

    def status_of(self, uscc: str, leaf: bytes, *, block: Block = "latest") -> LeafStatus:
        (raw,) = self._cert_view("statusOf", issuer_id(uscc), digest32(leaf, "leaf"), block=block)
        status, reason, block_number, timestamp, superseded_by = raw
        return LeafStatus(
            ChainStatus(status),
            reason,
            block_number or None,
            timestamp or None,
            bytes(superseded_by) if any(superseded_by) else None,
        )

    # ---- many reads at one block ----

    def snapshot(
        self,
        *,
        roots: Iterable[bytes] = (),
        leaves: Iterable[tuple[str, bytes]] = (),
        keys: Iterable[tuple[str, bytes]] = (),
        block: int | None = None,
    ) -> ChainSnapshot:
        """Anchors of ``roots``, statuses of ``(issuer, leaf)`` and records of
        ``(issuer, key id)``, all judged at one block (the latest unless given), fetched in
        JSON-RPC batches of ``eth_call``s."""
        at = self.block_number() if block is None else block
        root_list = list(dict.fromkeys(digest32(r, "root") for r in roots))
        leaf_list = list(dict.fromkeys((u, digest32(x, "leaf")) for u, x in leaves))
        key_list = list(dict.fromkeys((u, digest32(k, "key id")) for u, k in keys))
        cert, iss = self.deployment.certificate_registry, self.deployment.issuer_registry
        c = self._certificates
        calls: list[tuple[ContractAbi, str, str, tuple[Any, ...]]] = []
        step = 1_000  # per call: the views loop over arrays, one call reads a thousand
        calls += [
            (c, cert, "anchorsOf", (root_list[i : i + step],))
            for i in range(0, len(root_list), step)
        ]
        calls += [
            (
                c,
                cert,
                "statusesOf",
                (
                    [issuer_id(u) for u, _ in leaf_list[i : i + step]],
                    [x for _, x in leaf_list[i : i + step]],
                ),
            )
            for i in range(0, len(leaf_list), step)
        ]
        calls += [(self._issuers, iss, "keyRecord", (issuer_id(u), k)) for u, k in key_list]
        results: list[Any] = []
        tag = hex(at)
        for start in range(0, len(calls), 100):
            chunk = calls[start : start + 100]
            raw = self.rpc.batch(
                [
                    ("eth_call", [{"to": addr, "data": abi.encode_call(fn, *args)}, tag])
                    for abi, addr, fn, args in chunk
                ]
            )
            for (abi, _, fn, _), data in zip(chunk, raw, strict=True):
                value = abi.decode_result(fn, data)[0]
                results += value if fn in ("anchorsOf", "statusesOf") else [value]
        anchors: dict[bytes, AnchorInfo | None] = {}
        for root, raw_anchor in zip(root_list, results, strict=False):
            issuer, by, leaf_count, timestamp, block_number = raw_anchor
            anchors[root] = (
                None
                if block_number == 0
                else AnchorInfo(
                    root,
                    uscc_of(issuer),
                    leaf_count,
                    block_number,
                    timestamp,
                    to_checksum_address(by),
                )
            )
        offset = len(root_list)
        statuses: dict[tuple[str, bytes], LeafStatus] = {}
        for key, raw_status in zip(leaf_list, results[offset:], strict=False):
            status, reason, block_number, timestamp, superseded_by = raw_status
            statuses[key] = LeafStatus(
                ChainStatus(status),
                reason,
                block_number or None,
                timestamp or None,
                bytes(superseded_by) if any(superseded_by) else None,
            )
        offset += len(leaf_list)
        records: dict[tuple[str, bytes], KeyRecord | None] = {}
        for key, raw_key in zip(key_list, results[offset:], strict=False):
            valid_from, valid_until, compromised_at, exists = raw_key
            records[key] = (
                KeyRecord(key[1], valid_from, valid_until or None, compromised_at or None)
                if exists
                else None
            )
        return ChainSnapshot(at, anchors, statuses, records)


def _digests(values: Sequence[bytes]) -> list[bytes]:
    if not values:
        raise InvalidArgument("at least one leaf is needed")
    return [digest32(v, "leaf") for v in values]
