"""Certificates after issuance: reading them back as documents, and status changes
(revoke — final, suspend, reinstate, supersede — final) recorded on chain, then here.

The chain is the authority; the database mirrors each change with its reason text and the
transaction that made it. Local statuses: ``pending`` (not yet anchored), ``active``,
``suspended``, ``revoked``, ``superseded``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from certs.canonical import Anchor, CertificateDocument
from certs.errors import CertError, MerkleError
from certs.events import SYSTEM, Actor, certificate_facts, event_row, write_events
from certs.formats import jcs_text
from certs.merkle import MerkleProof, proof_from_bytes, proof_offsets
from certs.store import Store, certificates, document_json, now, status_changes
from chain.registry import ChainStatus, RegistryClient
from chain.transactions import TransactionReceipt
from seals.report import Message, register

STATUS_REASONS: dict[int, tuple[str, str]] = {
    0: ("unspecified", "未说明"),
    1: ("wrong information", "信息有误"),
    2: ("at the holder's request", "持证人申请"),
    3: ("withdrawn by the issuer under law", "依法撤销"),
    4: ("holder dissolved or deceased", "主体注销"),
    5: ("replaced by a new certificate", "换发"),
    6: ("lost", "遗失"),
    7: ("under review", "核查中"),
}
"""The reason codes of status changes recorded on chain: code → (English, Chinese)."""

REASONS: dict[int, str] = {code: f"{en} ({zh})" for code, (en, zh) in STATUS_REASONS.items()}
"""Each reason code as the API and the CLI name it: "english (中文)"."""

register({f"status.reason.{code}": (REASONS[code], zh) for code, (_, zh) in STATUS_REASONS.items()})
register({"status.reason.unknown": ("unknown", "未知")})


def status_reason(code: int) -> Message:
    """The reason of a status change, a catalogue message (English as :data:`REASONS` says
    it, Chinese alone)."""
    return Message(f"status.reason.{code}" if code in STATUS_REASONS else "status.reason.unknown")


_ALLOWED_FROM = {
    "revoke": {"active", "suspended"},
    "suspend": {"active"},
    "reinstate": {"suspended"},
    "supersede": {"active", "suspended"},
}
_RESULT = {
    "revoke": "revoked",
    "suspend": "suspended",
    "reinstate": "active",
    "supersede": "superseded",
}
LOCAL_STATUS = {
    ChainStatus.ACTIVE: "active",
    ChainStatus.REVOKED: "revoked",
    ChainStatus.SUSPENDED: "suspended",
    ChainStatus.SUPERSEDED: "superseded",
}
"""The database's word for each status on chain."""


class StatusChangeRefused(CertError):
    code = "status_change_refused"


class CertificateNotFound(CertError):
    code = "certificate_not_found"


@dataclass(frozen=True)
class CertificateRecord:
    """A stored certificate with its batch facts."""

    identifier: str
    issuer: str
    leaf: bytes
    status: str
    document: CertificateDocument
    """With its anchor filled in once the batch is anchored."""
    root: bytes | None
    tx_hash: str | None
    block_number: int | None


class _Trees:
    """Batch trees read whole from the store, the last few kept in memory (a tree never
    changes once its batch is prepared; the root names it, so two databases in one process
    cannot mix theirs up)."""

    KEEP = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: OrderedDict[str, bytes] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._trees.clear()

    def cached(self, root: str) -> bytes | None:
        with self._lock:
            tree = self._trees.get(root)
            if tree is not None:
                self._trees.move_to_end(root)
            return tree

    def load(self, store: Store, connection: Connection, batch_id: int, root: str) -> bytes:
        tree = store.batch_tree(batch_id, connection)
        if tree is None:
            raise _no_tree(batch_id)
        with self._lock:
            self._trees[root] = tree
            while len(self._trees) > self.KEEP:
                self._trees.popitem(last=False)
        return tree


_trees = _Trees()

WHOLE_TREE_ROWS = 16
"""Where the store can slice a stored tree (:attr:`Store.slices_trees`), a read of fewer
certificates of one batch than this takes only their proofs' nodes from the store (a
10,000-leaf tree is 640 KB); otherwise the whole tree is read, and kept."""


def _no_tree(batch_id: int) -> CertError:
    return CertError(
        f"batch {batch_id} has neither a stored tree nor stored proofs", code="batch_tree_missing"
    )


def _anchored(row: Any) -> bool:
    return row.status != "pending" and bool(row.root) and row.block_number is not None


def _proofs(store: Store, connection: Connection, rows: Sequence[Any]) -> dict[str, MerkleProof]:
    """The proof of each anchored row: its stored JSON proof (anchored before migration
    0003), or read from its batch's stored tree."""
    proofs: dict[str, MerkleProof] = {}
    by_batch: dict[tuple[int, str, int], list[Any]] = {}
    for row in rows:
        if not _anchored(row):
            continue
        if row.proof is not None:
            proofs[row.identifier] = MerkleProof.from_json(json.loads(row.proof))
        elif row.batch_index is None:
            raise CertError(
                f"{row.identifier} is anchored but has neither a stored proof nor a position "
                "in its batch",
                code="batch_position_missing",
            )
        else:
            key = (int(row.batch_id), str(row.root), int(row.leaf_count))
            by_batch.setdefault(key, []).append(row)
    for (batch_id, root, leaf_count), members in by_batch.items():
        tree = _trees.cached(root)
        if tree is None and (len(members) >= WHOLE_TREE_ROWS or not store.slices_trees):
            tree = _trees.load(store, connection, batch_id, root)
        if tree is not None:
            for row in members:
                proofs[row.identifier] = proof_from_bytes(
                    tree, leaf_count, int(row.batch_index)
                )
            continue
        wanted = {row.identifier: proof_offsets(leaf_count, int(row.batch_index))
                  for row in members}
        nodes = store.batch_tree_nodes(
            batch_id, [at for offsets in wanted.values() for at, _ in offsets], connection
        )
        if nodes is None:
            raise _no_tree(batch_id)
        if any(len(node) != 32 for node in nodes.values()):
            raise MerkleError(
                f"the stored tree of batch {batch_id} is shorter than {leaf_count} leaves need",
                code="merkle_bad_tree",
            )
        for identifier, offsets in wanted.items():
            proofs[identifier] = MerkleProof(tuple((nodes[at], left) for at, left in offsets))
    return proofs


def _record(row: Any, proof: MerkleProof | None) -> CertificateRecord:
    document = CertificateDocument.from_json(document_json(row.document))
    root = bytes.fromhex(row.root) if row.root else None
    anchor = _anchor(row, proof)
    if anchor is not None:
        document = replace(document, anchor=anchor)
    return CertificateRecord(
        row.identifier,
        row.issuer,
        bytes.fromhex(row.leaf),
        row.status,
        document,
        root,
        row.tx_hash,
        row.block_number,
    )


def load_records(store: Store, identifiers: Sequence[str]) -> list[CertificateRecord]:
    """Records in the order asked; :class:`CertificateNotFound` names any unknown one."""
    rows, proofs = _rows_and_proofs(store, identifiers)
    return [_record(rows[i], proofs.get(i)) for i in identifiers]


def load_document_texts(store: Store, identifiers: Sequence[str]) -> list[str]:
    """The document JSON (JCS) of each certificate, in the order asked, anchored ones with
    their anchor: what ``load_records(…)[k].document.to_json()`` gives, without reading an
    anchored one strictly again (:func:`anchored_text`). :class:`CertificateNotFound` names
    any unknown one."""
    rows, proofs = _rows_and_proofs(store, identifiers)
    out: list[str] = []
    for identifier in identifiers:
        row, proof = rows[identifier], proofs.get(identifier)
        anchor = _anchor(row, proof)
        text = None if anchor is None else anchored_text(document_json(row.document), anchor)
        out.append(text if text is not None else _record(row, proof).document.to_json())
    return out


def anchored_text(stored: str, anchor: Anchor) -> str | None:
    """The JCS text of a stored document given ``anchor``: its JSON object with the anchor
    set, written by the JCS writer :mod:`certs.formats` selects; ``None`` unless the stored
    object's anchor is null (the issuer stores its documents unanchored)."""
    obj = json.loads(stored)
    if not isinstance(obj, dict) or obj.get("anchor", False) is not None:
        return None
    obj["anchor"] = anchor.to_dict()
    return jcs_text(obj)


def _anchor(row: Any, proof: MerkleProof | None) -> Anchor | None:
    """A stored row's anchor, if it has one."""
    if proof is None or not row.root:
        return None
    return Anchor(
        root=bytes.fromhex(row.root),
        proof=proof,
        chain_id=int(row.chain_id),
        contract=str(row.contract),
        tx_hash=str(row.tx_hash),
        block=int(row.block_number),
    )


def _rows_and_proofs(
    store: Store, identifiers: Sequence[str]
) -> tuple[dict[str, Any], dict[str, MerkleProof]]:
    with store.engine.connect() as connection:  # one connection: a round trip less each
        rows = {r.identifier: r for r in store.certificate_rows(list(identifiers), connection)}
        missing = [i for i in identifiers if i not in rows]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise CertificateNotFound(f"no certificate with identifier {shown} is stored here")
        proofs = _proofs(store, connection, list(rows.values()))
    return rows, proofs


def load_record(store: Store, identifier: str) -> CertificateRecord:
    return load_records(store, [identifier])[0]


def leaf_of(store: Store, identifier: str) -> bytes | None:
    """The leaf digest stored for ``identifier`` (one indexed row, no document read), or
    ``None``."""
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(certificates.c.leaf).where(certificates.c.identifier == identifier)
        ).scalar()
    return bytes.fromhex(found) if isinstance(found, str) else None


def identifier_of_leaf(store: Store, leaf: bytes) -> str | None:
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(certificates.c.identifier).where(certificates.c.leaf == leaf.hex())
        ).scalar()
    return str(found) if found is not None else None


def change_status(
    store: Store,
    registry: RegistryClient,
    issuer: str,
    identifiers: Sequence[str],
    action: str,
    *,
    reason_code: int = 0,
    reason: str = "",
    successor: str | None = None,
    actor: Actor | str = SYSTEM,
) -> TransactionReceipt:
    """Record one status change for many certificates in one transaction (on chain first),
    each change an event of ``actor`` in the audit log (:mod:`certs.events`)."""
    if action not in _ALLOWED_FROM:
        raise StatusChangeRefused(f"unknown status action {action!r}", code="unknown_action")
    if reason_code not in REASONS:
        raise StatusChangeRefused(
            f"reason code {reason_code} is unknown; use one of {sorted(REASONS)}",
            code="unknown_reason_code",
        )
    if not identifiers:
        raise StatusChangeRefused("no certificate given", code="no_certificate")
    records = load_records(store, list(dict.fromkeys(identifiers)))
    for record in records:
        if record.issuer != issuer:
            raise StatusChangeRefused(
                f"{record.identifier} was issued by {record.issuer}, not {issuer}",
                code="not_your_certificate",
            )
        if record.status not in _ALLOWED_FROM[action]:
            raise StatusChangeRefused(
                f"cannot {action} {record.identifier}: it is {record.status}",
                code=f"cannot_{action}",
            )
    leaves = [r.leaf for r in records]
    if action == "supersede":
        if successor is None or len(records) != 1:
            raise StatusChangeRefused("supersede takes one certificate and its successor")
        new = load_record(store, successor)
        receipt = registry.supersede(issuer, leaves[0], new.leaf, reason_code)
    elif len(leaves) == 1:
        receipt = getattr(registry, action)(issuer, leaves[0], reason_code)
    else:
        receipt = getattr(registry, f"{action}_many")(issuer, leaves, reason_code)
    with store.transaction() as connection:
        _record_status(connection, registry, issuer, records, _RESULT[action])
        if successor is not None:
            connection.execute(
                certificates.update()
                .where(certificates.c.identifier == successor)
                .values(supersedes=records[0].identifier)
            )
        record_changes(
            connection, [(r.identifier, receipt) for r in records], action, reason_code, reason,
            actor=actor, facts={r.identifier: (r.issuer, _type_code(r)) for r in records},
        )
    return receipt


def _type_code(record: CertificateRecord) -> str | None:
    code = record.document.values().get("type.code")
    return str(code) if code is not None else None


def _record_status(
    connection: Connection,
    registry: RegistryClient,
    issuer: str,
    records: Sequence[CertificateRecord],
    result: str,
) -> None:
    """Store ``result`` as the status of ``records``, whose change the chain has mined —
    unless another change of one of them was recorded since it was read (another request,
    another instance: two changes of one certificate mined in one order may be recorded in
    the other). The rows are locked first; a certificate whose stored status moved takes the
    chain's status, read now, after both changes were mined."""
    identifiers = [r.identifier for r in records]
    stored = dict(
        connection.execute(
            sa.select(certificates.c.identifier, certificates.c.status)
            .where(certificates.c.identifier.in_(identifiers))
            .with_for_update()
        ).all()
    )
    moved = [r for r in records if stored.get(r.identifier) != r.status]
    unmoved = [r.identifier for r in records if stored.get(r.identifier) == r.status]
    if unmoved:
        connection.execute(
            certificates.update()
            .where(certificates.c.identifier.in_(unmoved))
            .values(status=result)
        )
    if moved:
        on_chain = registry.snapshot(leaves=[(issuer, r.leaf) for r in moved]).statuses
        for record in moved:
            connection.execute(
                certificates.update()
                .where(certificates.c.identifier == record.identifier)
                .values(status=LOCAL_STATUS[on_chain[(issuer, record.leaf)].status])
            )


def record_changes(
    connection: Connection,
    changes: Sequence[tuple[str, TransactionReceipt]],
    action: str,
    reason_code: int,
    reason: str,
    note: str | None = None,
    *,
    actor: Actor | str = SYSTEM,
    facts: dict[str, tuple[str, str | None]] | None = None,
) -> None:
    """``status_changes`` rows: each certificate's change made on chain by its receipt's
    transaction (``note``: why the service made it without a request); and each an event of
    ``actor`` in the audit log, last in the transaction (``facts``: each certificate's agency
    and type, read here if not given)."""
    connection.execute(
        status_changes.insert(),
        [
            {
                "identifier": identifier,
                "action": action,
                "reason_code": reason_code,
                "reason": reason,
                "tx_hash": receipt.tx_hash,
                "block_number": receipt.block_number,
                "created_at": now(),
                "note": note,
            }
            for identifier, receipt in changes
        ],
    )
    if facts is None:
        facts = dict(certificate_facts(connection, [i for i, _ in changes]))
    event = STATUS_EVENTS.get(action, action) if note is None else "status_resent"
    write_events(connection, [
        event_row(
            event, actor, identifier=identifier,
            issuer=facts.get(identifier, (None, None))[0],
            type_code=facts.get(identifier, (None, None))[1],
            reason_code=reason_code, reason=reason, tx_hash=receipt.tx_hash,
            chain_block=receipt.block_number,
            detail={"action": action, **({"note": note} if note is not None else {})},
        )
        for identifier, receipt in changes
    ])


STATUS_EVENTS = {
    "revoke": "revoked", "suspend": "suspended", "reinstate": "reinstated",
    "supersede": "superseded",
}
"""The audit log's event for each status action."""
