"""What the auditor reads: a certificate's timeline (service and chain events in their true
order), the audit log across certificates (``GET /v1/events``), an agency's certificates.

The order (docs/audit.md): service events by their sequence (``service_events.id``, given in
commit order, :mod:`certs.events`); a chain event caused by a service event (a status change:
same transaction) is attached to it; every other chain event (anchoring, an issuer's
registration, a type's authorization, a change made by another tool) is placed after the
last service event that happened while the chain was older than its block (its
``chain_block`` below the event's block), in chain order (block, log index). No clock is
compared: block timestamps (second resolution, a node's clock) and the service's times are
shown, never sorted on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from certs.status import STATUS_REASONS
from certs.store import Store, certificates, chain_events, service_events
from chain.registry import ChainEvent
from verifier.app import catalogue_context as timeline_context
from verifier.app.service.base import AccessDenied, Principal, ServiceBase
from verifier.errors import VerifierError

BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
"""Every time shown to people: 北京时间 (UTC+8, Asia/Shanghai has had no daylight saving
since 1991)."""

TimelineKey = tuple[int, int, int, int]
"""A timeline position: (service event id, 1, 0, 0) for a service event; (id of the service
event it follows, 2, block, log index) for a chain event (0: before every service event)."""

CHAIN_CAUSED = ("StatusChanged", "Superseded")
"""The chain events a service event's transaction makes (attached to it)."""


def beijing(value: dt.datetime) -> str:
    """``value`` in 北京时间, ISO 8601 with its offset (``2026-12-04T23:30:01.123456+08:00``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING).isoformat()


def parse_time(text: str, name: str) -> dt.datetime:
    """An ISO 8601 time given by a person: with an offset, or without one as 北京时间 (a
    date alone is its midnight, 北京时间)."""
    raw = text.strip()
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise VerifierError(
            f"{name}={text!r} is not an ISO 8601 time (e.g. 2026-12-04T09:00:00+08:00, or "
            "2026-12-04 09:00 read as 北京时间)",
            code="bad_time",
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


@dataclass(frozen=True)
class EventFilter:
    """What ``GET /v1/events`` and ``zhengyin audit`` select; ``None``: any."""

    issuer: str | None = None
    identifier: str | None = None
    type_code: str | None = None
    actor: str | None = None
    role: str | None = None
    events: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self) -> list[Any]:
        c = service_events.c
        found: list[Any] = []
        if self.issuer is not None:
            found.append(c.issuer == self.issuer)
        if self.identifier is not None:
            found.append(c.identifier == self.identifier)
        if self.type_code is not None:
            found.append(c.type_code == self.type_code)
        if self.actor is not None:
            found.append(c.actor == self.actor)
        if self.role is not None:
            found.append(c.role == self.role)
        if self.events:
            found.append(c.event.in_(self.events))
        if self.since is not None:
            found.append(c.created_at >= self.since.astimezone(dt.UTC))
        if self.until is not None:
            found.append(c.created_at < self.until.astimezone(dt.UTC))
        return found


def event_entry(row: Any, chain: dict[str, Any] | None = None) -> dict[str, Any]:
    """A service event as the API and the CLI answer it."""
    entry: dict[str, Any] = {
        "source": "service",
        "seq": int(row.id),
        "event": row.event,
        "actor": row.actor,
        "role": row.role,
        "time": beijing(row.created_at),
        "identifier": row.identifier,
        "issuer": row.issuer,
        "type": row.type_code,
        "reason_code": row.reason_code,
        "reason": row.reason,
        "chain_block": row.chain_block,
        "detail": json.loads(row.detail),
    }
    if row.reason_code is not None:  # a status change's: its name in the catalogue
        names = STATUS_REASONS.get(int(row.reason_code))
        entry["reason_name"] = names[1] if names is not None else None
    if chain is not None:
        entry["chain"] = chain
    return entry


def _chain_entry(event: ChainEvent) -> dict[str, Any]:
    names = {"RootAnchored": "anchored", "Superseded": "superseded"}
    name = names.get(event.name, event.name)
    if event.name == "StatusChanged":
        name = {1: "revoked", 2: "suspended", 0: "reinstated"}.get(
            int(event.args["status"]), "status"
        )
    about = "certificate"
    if event.name in timeline_context.CONTEXT_NAMES:
        about, name = timeline_context.CONTEXT_NAMES[event.name]
        detail = timeline_context.context_detail(event)
    else:
        detail = {
            k: (v.hex() if isinstance(v, bytes) else v)
            for k, v in event.args.items()
            if k not in ("issuer", "by")
        }
    return {
        "source": "chain",
        "about": about,
        "event": name,
        "block": event.block_number,
        "log_index": event.log_index,
        "tx_hash": event.tx_hash,
        "time": beijing(dt.datetime.fromtimestamp(event.timestamp, dt.UTC)),
        "detail": detail,
    }


def _attached(row: Any) -> dict[str, Any]:
    """A chain event (a ``chain_events`` row) attached to the service event that caused it."""
    return {
        "block": int(row.block_number),
        "log_index": int(row.log_index),
        "tx_hash": row.tx_hash,
        "event": row.name,
        "time": beijing(dt.datetime.fromtimestamp(int(row.timestamp), dt.UTC)),
    }


def attached_chain_events(
    connection: Connection, rows: Sequence[Any]
) -> dict[int, dict[str, Any]]:
    """The chain event each service event of ``rows`` caused (by its transaction and its
    certificate's leaf), by the service event's id; those the index has not read yet are
    absent."""
    caused = [r for r in rows if r.tx_hash and r.identifier]
    if not caused:
        return {}
    leaves = dict(connection.execute(
        sa.select(certificates.c.identifier, certificates.c.leaf)
        .where(certificates.c.identifier.in_({r.identifier for r in caused}))
    ).all())
    found = connection.execute(
        sa.select(chain_events)
        .where(chain_events.c.tx_hash.in_({r.tx_hash for r in caused}),
               chain_events.c.name.in_(CHAIN_CAUSED))
    ).all()
    by_tx: dict[tuple[str, str | None], Any] = {(c.tx_hash, c.subject): c for c in found}
    out: dict[int, dict[str, Any]] = {}
    for r in caused:
        hit = by_tx.get((r.tx_hash, leaves.get(r.identifier)))
        if hit is not None:
            out[int(r.id)] = _attached(hit)
    return out


def audit_events(
    store: Store, wanted: EventFilter, *, after: int | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """The audit log's events that ``wanted`` selects, in sequence, ``limit`` after the
    sequence number ``after``; and whether more follow (the API's and the CLI's query)."""
    c = service_events.c
    query = sa.select(service_events).where(*wanted.where())
    if after is not None:
        query = query.where(c.id > after)
    query = query.order_by(c.id).limit(limit + 1)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        attached = attached_chain_events(connection, rows)
    return [event_entry(r, attached.get(int(r.id))) for r in rows], more


class Auditing(ServiceBase):
    """The auditor's reads."""

    AUDIT_ROLES = ("auditor", "admin", "issuer")

    def history(
        self,
        principal: Principal,
        identifier: str,
        *,
        after: TimelineKey | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The certificate's timeline in its true order (the module's text), ``limit``
        entries after the position ``after`` (each entry's position is its ``"key"``; the
        answer's ``"more"`` says whether entries follow)."""
        record = self.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
        self.flush_log()  # this process's queued events belong in the timeline
        subjects = [record.leaf] + ([record.root] if record.root else [])
        own = self.indexer.events_of(record.issuer, subjects)
        # what stands behind it: its type in the catalogue, its issuer's authorization for
        # that type, the issuer's registration and keys (each in chain order)
        type_code = str(record.document.values()["type.code"])
        context = timeline_context.context_events(
            self.indexer.authorization_events(record.issuer, type_code)
            + self.indexer.issuer_events(record.issuer),
            record.issuer,
            type_code,
        )
        c = service_events.c
        with self.store.engine.connect() as connection:
            caused = {
                row.tx_hash for row in connection.execute(
                    sa.select(c.tx_hash).where(c.identifier == identifier,
                                               c.tx_hash.is_not(None))
                )
            }
            chain: list[tuple[TimelineKey, dict[str, Any]]] = []
            for e in own + context:
                if e.name in CHAIN_CAUSED and e.tx_hash in caused:
                    continue  # attached to the service event that caused it
                before = connection.execute(
                    sa.select(sa.func.max(c.id)).where(c.identifier == identifier,
                                                       c.chain_block < e.block_number)
                ).scalar()
                chain.append(((int(before or 0), 2, e.block_number, e.log_index),
                              _chain_entry(e)))
            # the service's events (a 'verified' for each verification: unbounded) are read
            # a page at a time, in sequence from the position asked
            query = sa.select(service_events).where(c.identifier == identifier)
            if after is not None:
                query = query.where(c.id > after[0])
            query = query.order_by(c.id)
            if limit is not None:
                query = query.limit(limit + 1)
            rows = connection.execute(query).all()
            attached = attached_chain_events(connection, rows)
        service = [((int(r.id), 1, 0, 0), event_entry(r, attached.get(int(r.id))))
                   for r in rows]
        timeline = sorted(
            (item for item in chain + service if after is None or item[0] > after),
            key=lambda item: item[0],
        )
        more = limit is not None and len(timeline) > limit
        if limit is not None:
            timeline = timeline[:limit]
        return {
            "identifier": identifier,
            "status": record.status,
            "events": [{**entry, "key": key} for key, entry in timeline],
            "more": more,
            "indexed_block": self.indexer.state().indexed_block,
        }

    def _audit_scope(self, principal: Principal, wanted: EventFilter) -> EventFilter:
        """The filter as the caller may ask it: an agency's key sees its own agency's
        events only."""
        if principal.role not in self.AUDIT_ROLES:
            self.log_refusal(principal, "access_denied", wanted.identifier, AccessDenied(
                "the audit log is for auditors, admins and agencies (their own events)",
                code="wrong_role"), detail={"what": "events"})
            self.require(principal, *self.AUDIT_ROLES)
        if principal.role == "issuer":
            if wanted.issuer is not None and wanted.issuer != principal.subject:
                raise AccessDenied("an agency may read only its own events",
                                   code="wrong_agency")
            return replace(wanted, issuer=principal.subject)
        return wanted

    def events(
        self,
        principal: Principal,
        wanted: EventFilter,
        *,
        after: int | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], bool]:
        """The audit log's events that ``wanted`` selects, in sequence, ``limit`` after the
        sequence number ``after``; and whether more follow."""
        wanted = self._audit_scope(principal, wanted)
        self.flush_log()
        return audit_events(self.store, wanted, after=after, limit=limit)

    def list_certificates(
        self,
        principal: Principal,
        *,
        issuer: str | None,
        type_code: str | None,
        status: str | None,
        since: dt.datetime | None,
        until: dt.datetime | None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], bool]:
        """An agency's certificates (auditors and admins: any agency's; an agency: its own),
        by identifier, ``limit`` after the identifier ``after``."""
        self.require(principal, "auditor", "admin", "issuer")
        if principal.role == "issuer":
            if issuer is not None and issuer != principal.subject:
                raise AccessDenied("an agency may list only its own certificates",
                                   code="wrong_agency")
            issuer = principal.subject
        c = certificates.c
        query = sa.select(c.identifier, c.issuer, c.type_code, c.serial, c.number, c.status,
                          c.created_at)
        if issuer is not None:
            query = query.where(c.issuer == issuer)
        if type_code is not None:
            query = query.where(c.type_code == type_code)
        if status is not None:
            query = query.where(c.status == status)
        if since is not None:
            query = query.where(c.created_at >= since.astimezone(dt.UTC))
        if until is not None:
            query = query.where(c.created_at < until.astimezone(dt.UTC))
        if after is not None:
            query = query.where(c.identifier > after)
        query = query.order_by(c.identifier).limit(limit + 1)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        more = len(rows) > limit
        return [
            {"identifier": r.identifier, "issuer": r.issuer, "type": r.type_code,
             "serial": int(r.serial), "number": r.number, "status": r.status,
             "created_at": beijing(r.created_at)}
            for r in rows[:limit]
        ], more

