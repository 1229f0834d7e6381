"""The contract client: deploying the two registries, and the client whose transactions
change them (governance, the catalogue, issuers and keys, anchors, statuses); its reads are
in :mod:`chain.registry_reads`, its history in :mod:`chain.registry_events`.

Values at this layer: an issuer is its 18-character USCC (stored on chain as its ASCII bytes
left-aligned in a ``bytes32``); roots, leaves, key ids and document digests are 32-byte
``bytes``; times are Unix seconds (``int``). Reads take an optional ``block`` so a caller
can judge several facts at one block and say which.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from chain.registry_events import LOG_PAGE_BLOCKS
from chain.registry_reads import RegistryReads
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


class RegistryClient(RegistryReads):
    """A client of the two registry contracts of one deployment (IssuerRegistry and
    CertificateRegistry, on chain). Writes need a ``sender``; reads do not. The reads are
    :class:`~chain.registry_reads.RegistryReads`, the history
    :class:`~chain.registry_events.RegistryHistory`; this class adds the transactions."""

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

    def _issuer_tx(self, fn: str, *args: Any) -> TransactionReceipt:
        return self._send(self._issuers, self.deployment.issuer_registry, fn, *args)

    def _cert_tx(self, fn: str, *args: Any) -> TransactionReceipt:
        return self._send(self._certificates, self.deployment.certificate_registry, fn, *args)

    # ---- governance ----

    def grant_role(self, role: bytes, account: str) -> TransactionReceipt:
        return self._issuer_tx("grantRole", digest32(role, "role"), account_address(account))

    def revoke_role(self, role: bytes, account: str) -> TransactionReceipt:
        return self._issuer_tx("revokeRole", digest32(role, "role"), account_address(account))

    def register_issuer(self, uscc: str, name: str, jurisdiction: str = "") -> TransactionReceipt:
        """Register an issuer in ``jurisdiction`` ("" for a national body)."""
        return self._issuer_tx("registerIssuer", issuer_id(uscc), name, place_id(jurisdiction))

    def set_admin_scope(self, account: str, prefix: str) -> TransactionReceipt:
        """Limit an admin to a jurisdiction prefix ("": national). Set it before granting the
        admin role, so the account is never unlimited meanwhile."""
        return self._issuer_tx("setAdminScope", account_address(account), place_id(prefix))

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

def _digests(values: Sequence[bytes]) -> list[bytes]:
    if not values:
        raise InvalidArgument("at least one leaf is needed")
    return [digest32(v, "leaf") for v in values]
