"""Reading the registry contracts' state through ``eth_call``: the issuer and key registry,
the catalogue, anchors and statuses, one at a time or many at one block (a snapshot), and the
one decoding of each view's raw tuple into its record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_utils import to_checksum_address

from chain.abi import ContractAbi
from chain.errors import ChainError
from chain.records import (
    AnchorInfo,
    Block,
    ChainSnapshot,
    ChainStatus,
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
from chain.registry_events import RegistryHistory

RPC_BATCH = 100
"""JSON-RPC requests per batch."""
VIEW_STEP = 1_000
"""Items per call of an array view (``anchorsOf``, ``statusesOf``): the views loop over their
arrays, one call reads a thousand."""


def anchor_from_view(digest: bytes, raw: Any) -> AnchorInfo | None:
    """The anchor of ``digest`` from an ``anchorOf``/``documentOf``/``anchorsOf`` tuple
    (``None``: not anchored)."""
    issuer, by, leaf_count, timestamp, block_number = raw
    if block_number == 0:
        return None
    return AnchorInfo(
        digest, uscc_of(issuer), leaf_count, block_number, timestamp, to_checksum_address(by)
    )


def status_from_view(raw: Any) -> LeafStatus:
    """A leaf's status from a ``statusOf``/``statusesOf`` tuple."""
    status, reason, block_number, timestamp, superseded_by = raw
    return LeafStatus(
        ChainStatus(status),
        reason,
        block_number or None,
        timestamp or None,
        bytes(superseded_by) if any(superseded_by) else None,
    )


def key_from_view(key_id: bytes, raw: Any) -> KeyRecord | None:
    """The record of ``key_id`` from a ``keyRecord`` tuple (``None``: no such key)."""
    valid_from, valid_until, compromised_at, exists = raw
    if not exists:
        return None
    return KeyRecord(bytes(key_id), valid_from, valid_until or None, compromised_at or None)


class RegistryReads(RegistryHistory):
    """The reading part of the registry client (:class:`chain.registry.RegistryClient`): views
    of both contracts at a block; what it needs is declared by :class:`RegistryHistory`."""

    # ---- plumbing ----

    def _call(
        self, abi: ContractAbi, address: str, fn: str, *args: Any, block: Block = "latest"
    ) -> tuple[Any, ...]:
        data = abi.encode_call(fn, *args)
        tag = hex(block) if isinstance(block, int) else block
        return abi.decode_result(
            fn, self.rpc.call("eth_call", [{"to": address, "data": data}, tag])
        )

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
        for start in range(0, len(wanted), RPC_BATCH):
            chunk = wanted[start : start + RPC_BATCH]
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

    # ---- governance, issuers and keys ----

    def has_role(self, role: bytes, account: str) -> bool:
        found = self._issuer_view("hasRole", digest32(role, "role"), account_address(account))
        return bool(found[0])

    def admin_scope(self, account: str) -> str:
        return uscc_of(self._issuer_view("adminScope", account_address(account))[0])

    def jurisdiction_of(self, uscc: str) -> str:
        return uscc_of(self._issuer_view("jurisdictionOf", issuer_id(uscc))[0])

    def issuer_status(self, uscc: str, *, block: Block = "latest") -> IssuerStatus:
        return IssuerStatus(self._issuer_view("issuerStatus", issuer_id(uscc), block=block)[0])

    def issuer_of(self, account: str) -> str | None:
        raw = self._issuer_view("issuerOf", account_address(account))[0]
        return uscc_of(raw) if any(raw) else None

    def key_record(self, uscc: str, key_id: bytes, *, block: Block = "latest") -> KeyRecord | None:
        (raw,) = self._issuer_view(
            "keyRecord", issuer_id(uscc), digest32(key_id, "key id"), block=block
        )
        return key_from_view(key_id, raw)

    def key_ids(self, uscc: str) -> list[bytes]:
        return [bytes(k) for k in self._issuer_view("keyIds", issuer_id(uscc))[0]]

    def key_valid_at(self, uscc: str, key_id: bytes, when: int, *, block: Block = "latest") -> bool:
        return bool(
            self._issuer_view(
                "keyValidAt", issuer_id(uscc), digest32(key_id, "key id"), when, block=block
            )[0]
        )

    # ---- the catalogue and authorizations ----

    def type_record(self, code: str, *, block: Block = "latest") -> TypeRecord | None:
        (raw,) = self._issuer_view("typeRecord", type_id(code), block=block)
        version, withdrawn_at, digest = raw
        if not version:
            return None
        return TypeRecord(code, version, withdrawn_at or None, bytes(digest))

    def grants(self, uscc: str, code: str, *, block: Block = "latest") -> list[Grant]:
        (raw,) = self._issuer_view("grants", issuer_id(uscc), type_id(code), block=block)
        return [Grant(f, u or None, uscc_of(j)) for f, u, j in raw]

    def authorized_at(
        self, uscc: str, code: str, when: int, jurisdiction: str, *, block: Block = "latest"
    ) -> bool:
        return bool(
            self._issuer_view(
                "authorizedAt", issuer_id(uscc), type_id(code), when, place_id(jurisdiction),
                block=block,
            )[0]
        )

    # ---- anchors and statuses ----

    def anchor_of(self, root: bytes, *, block: Block = "latest") -> AnchorInfo | None:
        return self._anchor_info("anchorOf", digest32(root, "root"), block)

    def document_of(self, digest: bytes, *, block: Block = "latest") -> AnchorInfo | None:
        return self._anchor_info("documentOf", digest32(digest, "document digest"), block)

    def documents(self, digests: Iterable[bytes]) -> dict[bytes, AnchorInfo | None]:
        """Anchors of sealed-document digests (``None`` where not anchored)."""
        return {d: self.document_of(d) for d in dict.fromkeys(digests)}

    def _anchor_info(self, fn: str, digest: bytes, block: Block) -> AnchorInfo | None:
        (raw,) = self._cert_view(fn, digest, block=block)
        return anchor_from_view(digest, raw)

    def status_of(self, uscc: str, leaf: bytes, *, block: Block = "latest") -> LeafStatus:
        (raw,) = self._cert_view("statusOf", issuer_id(uscc), digest32(leaf, "leaf"), block=block)
        return status_from_view(raw)

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
        calls += [
            (c, cert, "anchorsOf", (root_list[i : i + VIEW_STEP],))
            for i in range(0, len(root_list), VIEW_STEP)
        ]
        calls += [
            (
                c,
                cert,
                "statusesOf",
                (
                    [issuer_id(u) for u, _ in leaf_list[i : i + VIEW_STEP]],
                    [x for _, x in leaf_list[i : i + VIEW_STEP]],
                ),
            )
            for i in range(0, len(leaf_list), VIEW_STEP)
        ]
        calls += [(self._issuers, iss, "keyRecord", (issuer_id(u), k)) for u, k in key_list]
        results: list[Any] = []
        tag = hex(at)
        for start in range(0, len(calls), RPC_BATCH):
            chunk = calls[start : start + RPC_BATCH]
            raw = self.rpc.batch(
                [
                    ("eth_call", [{"to": addr, "data": abi.encode_call(fn, *args)}, tag])
                    for abi, addr, fn, args in chunk
                ]
            )
            for (abi, _, fn, _), data in zip(chunk, raw, strict=True):
                value = abi.decode_result(fn, data)[0]
                results += value if fn in ("anchorsOf", "statusesOf") else [value]
        anchors = {
            root: anchor_from_view(root, raw_anchor)
            for root, raw_anchor in zip(root_list, results, strict=False)
        }
        offset = len(root_list)
        statuses = {
            key: status_from_view(raw_status)
            for key, raw_status in zip(leaf_list, results[offset:], strict=False)
        }
        offset += len(leaf_list)
        records = {
            key: key_from_view(key[1], raw_key)
            for key, raw_key in zip(key_list, results[offset:], strict=False)
        }
        return ChainSnapshot(at, anchors, statuses, records)
