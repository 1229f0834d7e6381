"""Certificate statuses: the database and the chain brought back into agreement.

The chain is the authority on status; the database mirrors each change with its reason and
transaction. They can part: a change mined while its request failed (a receipt that came too
late), or a change the chain lost with its last blocks (a devnet restored from an older
state). :func:`reconcile_statuses` finds every certificate whose stored status differs from
the chain's — candidates from the chain index (``chain_status``), each confirmed by reading
the chain itself — and repairs it:

- the database's last change of it was requested here and its transaction is gone from the
  chain (lost in a rollback): the change is **sent again** (the issuer's accepted request is
  not lost), recorded as a new ``status_changes`` row with a ``resent`` note;
- otherwise the chain is the authority: the database **follows it**, with a
  ``status_changes`` row (action ``reconciled``) saying so;
- a change less than ``grace`` seconds old on either side may be a request being recorded
  right now: it is left for the next pass (``waiting``).

The caller keeps the index current (the service runs this only while its indexer is; the
``zhengyin reconcile`` command catches the index up first).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from certs.events import SYSTEM, certificate_facts, event_row, write_events
from certs.status import LOCAL_STATUS, record_changes
from certs.store import (
    Store,
    batches,
    certificates,
    chain_events,
    chain_status,
    now,
    status_changes,
)
from chain.errors import ContractRevert
from chain.registry import ChainStatus, LeafStatus, RegistryClient

_log = logging.getLogger(__name__)

GRACE_SECONDS = 10.0
"""A change younger than this (on chain or in the database) is left for the next pass."""
LIMIT = 1_000
"""Certificates repaired per pass at most."""

_RESULT = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active",
           "supersede": "superseded"}


@dataclass(frozen=True)
class Repair:
    """One certificate whose database status differed from the chain's, and what was done."""

    identifier: str
    database: str
    """The status the database had."""
    chain: str
    """The status the chain has."""
    action: str
    """``resent`` (the lost change sent again), ``database_updated`` (the database now
    follows the chain) or ``waiting`` (too recent to judge; the next pass will)."""
    tx_hash: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "database": self.database,
            "chain": self.chain,
            "action": self.action,
            "tx_hash": self.tx_hash,
            "detail": self.detail,
        }


def _chain_word(column: Any) -> Any:
    """The local word of an indexed chain status (no row: never changed, ``active``)."""
    return sa.case(
        (column == int(ChainStatus.REVOKED), "revoked"),
        (column == int(ChainStatus.SUSPENDED), "suspended"),
        (column == int(ChainStatus.SUPERSEDED), "superseded"),
        else_="active",
    )


def disagreements(store: Store, *, limit: int = LIMIT) -> list[Any]:
    """Anchored, non-pending certificates whose stored status differs from the indexed chain
    status: rows ``(identifier, issuer, leaf, status, indexed)``. Two narrow reads, never a
    scan of every certificate: the leaves the chain changed (``chain_status``, few) against
    their certificates, and the certificates stored as not active (by the status index)
    that the chain never changed."""
    indexed = _chain_word(chain_status.c.status)
    columns = (
        certificates.c.identifier,
        certificates.c.issuer,
        certificates.c.leaf,
        certificates.c.status,
    )
    changed_on_chain = (
        sa.select(*columns, indexed.label("indexed"))
        .select_from(
            chain_status.join(
                certificates,
                sa.and_(
                    certificates.c.leaf == chain_status.c.leaf,
                    certificates.c.issuer == chain_status.c.issuer,
                ),
            ).join(batches, batches.c.id == certificates.c.batch_id)
        )
        .where(
            batches.c.state == "anchored",
            certificates.c.status != "pending",
            certificates.c.status != indexed,
        )
        .limit(limit)
    )
    unchanged_on_chain = (
        sa.select(*columns, sa.literal("active").label("indexed"))
        .select_from(
            certificates.join(batches, batches.c.id == certificates.c.batch_id).outerjoin(
                chain_status,
                sa.and_(
                    chain_status.c.issuer == certificates.c.issuer,
                    chain_status.c.leaf == certificates.c.leaf,
                ),
            )
        )
        .where(
            batches.c.state == "anchored",
            certificates.c.status.in_(("revoked", "suspended", "superseded")),
            chain_status.c.leaf.is_(None),
        )
        .limit(limit)
    )
    with store.engine.connect() as connection:
        rows = list(connection.execute(changed_on_chain).all())
        rows += connection.execute(unchanged_on_chain).all()
    return rows[:limit]


def reconcile_statuses(
    store: Store,
    registry_for: Callable[[str], RegistryClient],
    *,
    grace: float = GRACE_SECONDS,
    limit: int = LIMIT,
) -> list[Repair]:
    """Repair every disagreement between stored and chain statuses (see the module); returns
    what was found and done. ``registry_for(uscc)`` sends from that issuer's account."""
    candidates = disagreements(store, limit=limit)
    if not candidates:
        return []
    repairs: list[Repair] = []
    by_issuer: dict[str, list[Any]] = {}
    for row in candidates:
        by_issuer.setdefault(row.issuer, []).append(row)
    for issuer, rows in by_issuer.items():
        registry = registry_for(issuer)
        repairs += _reconcile_issuer(store, registry, issuer, rows, grace)
    for repair in repairs:
        level = logging.INFO if repair.action == "waiting" else logging.WARNING
        _log.log(
            level,
            "status reconciled identifier=%s database=%s chain=%s action=%s tx=%s: %s",
            repair.identifier, repair.database, repair.chain, repair.action, repair.tx_hash,
            repair.detail,
        )
    return repairs


def _reconcile_issuer(
    store: Store, registry: RegistryClient, issuer: str, rows: Sequence[Any], grace: float
) -> list[Repair]:
    snapshot = registry.snapshot(leaves=[(issuer, bytes.fromhex(r.leaf)) for r in rows])
    last = _last_changes(store, [r.identifier for r in rows])
    hashes = [c.tx_hash for c in last.values() if c.tx_hash]
    known = dict(
        zip(
            hashes,
            registry.rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes]),
            strict=True,
        )
    )
    moment = time.time()
    repairs: list[Repair] = []
    resend: dict[tuple[str, int, str], list[tuple[Any, Any, str]]] = {}
    for row in rows:
        on_chain = snapshot.statuses[(issuer, bytes.fromhex(row.leaf))]
        chain = LOCAL_STATUS[on_chain.status]
        if chain == row.status:
            continue  # the index lagged; chain and database agree
        change = last.get(row.identifier)
        request = _request_behind(change, row.status)
        if request is not None and known.get(request.tx_hash) is None:
            key = (request.action, request.reason_code, request.reason)
            resend.setdefault(key, []).append((row, request, chain))
            continue
        if request is not None and known[request.tx_hash].get("blockNumber") is None:
            repairs.append(
                Repair(row.identifier, row.status, chain, "waiting", request.tx_hash,
                       "its change is sent and not yet mined")
            )
            continue
        recent_chain = on_chain.timestamp is not None and moment - on_chain.timestamp < grace
        recent_local = change is not None and moment - _epoch(change.created_at) < grace
        if recent_chain or recent_local:
            repairs.append(
                Repair(row.identifier, row.status, chain, "waiting", None,
                       f"a change less than {grace:g} s old: judged on the next pass")
            )
            continue
        repairs.append(_follow_chain(store, issuer, row, on_chain))
    for (action, reason_code, reason), members in resend.items():
        repairs += _resend(store, registry, issuer, action, reason_code, reason, members)
    return repairs


def _request_behind(change: Any | None, stored: str) -> Any | None:
    """``change`` if it is a request made here (not a reconciliation) that produced the
    ``stored`` status and was sent on chain."""
    if change is None or change.action not in _RESULT or not change.tx_hash:
        return None
    if _RESULT[change.action] != stored or (change.note or "").startswith("reconciled"):
        return None
    return change


def _follow_chain(store: Store, issuer: str, row: Any, on_chain: LeafStatus) -> Repair:
    """The database takes the chain's status, with a ``reconciled`` status change."""
    chain = LOCAL_STATUS[on_chain.status]
    with store.engine.connect() as connection:
        event = connection.execute(
            sa.select(chain_events.c.tx_hash)
            .where(
                chain_events.c.issuer == issuer,
                chain_events.c.subject == row.leaf,
                chain_events.c.name.in_(("StatusChanged", "Superseded")),
            )
            .order_by(chain_events.c.block_number.desc(), chain_events.c.log_index.desc())
            .limit(1)
        ).scalar()
    where = f" since block {on_chain.block_number}" if on_chain.block_number else ""
    detail = f"the chain says {chain}{where}; the database said {row.status}"
    with store.transaction() as connection:
        updated = connection.execute(
            certificates.update()
            .where(certificates.c.identifier == row.identifier, certificates.c.status == row.status)
            .values(status=chain)
        ).rowcount
        if not updated:
            return Repair(row.identifier, row.status, chain, "waiting", None,
                          "its stored status changed meanwhile: judged on the next pass")
        if on_chain.superseded_by is not None:
            connection.execute(
                certificates.update()
                .where(
                    certificates.c.leaf == on_chain.superseded_by.hex(),
                    certificates.c.issuer == issuer,
                )
                .values(supersedes=row.identifier)
            )
        connection.execute(
            status_changes.insert().values(
                identifier=row.identifier,
                action="reconciled",
                reason_code=on_chain.reason,
                reason=detail,
                tx_hash=event,
                block_number=on_chain.block_number,
                created_at=now(),
                note=f"reconciled: {detail}",
            )
        )
        facts = certificate_facts(connection, [row.identifier])
        write_events(connection, [event_row(
            "reconciled", SYSTEM, identifier=row.identifier,
            issuer=facts.get(row.identifier, (None, None))[0],
            type_code=facts.get(row.identifier, (None, None))[1],
            # the change was made on chain by another: its chain event stands on its own
            reason_code=on_chain.reason, reason=detail,
            detail={"from": row.status, "to": chain, "chain_tx": event},
        )])
    return Repair(row.identifier, row.status, chain, "database_updated", event, detail)


def _resend(
    store: Store,
    registry: RegistryClient,
    issuer: str,
    action: str,
    reason_code: int,
    reason: str,
    members: Sequence[tuple[Any, Any, str]],
) -> list[Repair]:
    """Send again a change whose transaction the chain lost (``members``: the certificate
    row, its lost change, the chain's status); on a refusal by the contract (the chain moved
    on meanwhile), the database follows the chain instead."""
    leaves = [bytes.fromhex(row.leaf) for row, _, _ in members]
    lost = ", ".join(sorted({change.tx_hash for _, change, _ in members}))
    try:
        if action == "supersede":
            receipts = [
                registry.supersede(issuer, leaf, _successor_leaf(store, row.identifier),
                                   reason_code)
                for leaf, (row, _, _) in zip(leaves, members, strict=True)
            ]
        elif len(leaves) == 1:
            receipts = [getattr(registry, action)(issuer, leaves[0], reason_code)]
        else:  # one transaction for all, as the request was
            receipts = [getattr(registry, f"{action}_many")(issuer, leaves, reason_code)]
            receipts *= len(members)
    except ContractRevert:
        after = registry.snapshot(leaves=[(issuer, leaf) for leaf in leaves]).statuses
        return [
            _follow_chain(store, issuer, row, after[(issuer, leaf)])
            for leaf, (row, _, _) in zip(leaves, members, strict=True)
        ]
    note = f"resent: the chain lost transaction {lost} (it lost its last blocks)"
    with store.transaction() as connection:
        record_changes(
            connection,
            [(row.identifier, receipt) for (row, _, _), receipt in zip(members, receipts,
                                                                       strict=True)],
            action, reason_code, reason, note,
        )
    return [
        Repair(row.identifier, row.status, chain, "resent", receipt.tx_hash,
               f"{action} sent again: {note}")
        for (row, _, chain), receipt in zip(members, receipts, strict=True)
    ]


def _successor_leaf(store: Store, identifier: str) -> bytes:
    with store.engine.connect() as connection:
        leaf = connection.execute(
            sa.select(certificates.c.leaf).where(certificates.c.supersedes == identifier)
        ).scalar()
    if leaf is None:
        raise ContractRevert("SuccessorUnknown", {"identifier": identifier})
    return bytes.fromhex(leaf)


def _last_changes(store: Store, identifiers: Sequence[str]) -> dict[str, Any]:
    """The newest ``status_changes`` row of each certificate."""
    newest = (
        sa.select(sa.func.max(status_changes.c.id))
        .where(status_changes.c.identifier.in_(sa.bindparam("ids", expanding=True)))
        .group_by(status_changes.c.identifier)
    )
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(status_changes).where(status_changes.c.id.in_(newest)),
            {"ids": list(identifiers)},
        ).all()
    return {r.identifier: r for r in rows}


def _epoch(value: dt.datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()
