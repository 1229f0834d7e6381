"""Presentation codes: short-lived, single-use codes a holder shows at a counter.

A code is 10 characters from an alphabet without look-alikes (``23456789ABCDEFGHJKMNPQRSTUVWXYZ``,
about 49 bits), shown as ``XXXXX-XXXXX`` to read aloud. Only its SHA-256 is stored. Redeeming
marks it used in the same transaction that checks it, so a replay is refused even under
concurrency. Each creation and use, and each refused use, is an event of the audit log
(:mod:`certs.events`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa

from certs.errors import CertError
from certs.events import certificate_facts, event_row, write_events
from certs.store import Store, now, presentations

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 10
DEFAULT_TTL = dt.timedelta(minutes=5)


class PresentationRefused(CertError):
    code = "presentation_refused"


@dataclass(frozen=True)
class Presentation:
    code: str
    identifier: str
    purpose: str
    fields: tuple[str, ...] | None
    """Paths to disclose; ``None`` discloses every field."""
    expires_at: dt.datetime


def normalize(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def create(
    store: Store,
    identifier: str,
    purpose: str,
    fields: list[str] | None,
    actor: str,
    ttl: dt.timedelta = DEFAULT_TTL,
) -> Presentation:
    """A new code for ``identifier``; its creation is a 'presented' event of ``actor``
    (``role:name``, or a bare role such as ``holder``)."""
    purpose = purpose.strip()
    if not purpose or len(purpose) > 200:
        raise PresentationRefused(
            "a purpose of use (用证事由) of 1-200 characters is required", code="purpose_required"
        )
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    code = f"{raw[:5]}-{raw[5:]}"
    created = now()
    expires = created + ttl
    with store.transaction() as connection:
        connection.execute(
            presentations.insert().values(
                code_hash=_hash(code),
                identifier=identifier,
                purpose=purpose,
                fields=json.dumps(fields, ensure_ascii=False) if fields is not None else None,
                created_by=actor,
                created_at=created,
                expires_at=expires,
            )
        )
        issuer, type_code = certificate_facts(connection, [identifier]).get(
            identifier, (None, None)
        )
        write_events(connection, [event_row(
            "presented", actor, identifier=identifier, issuer=issuer, type_code=type_code,
            detail={"purpose": purpose, "fields": fields,
                    "expires_at": expires.isoformat()},
            created_at=created,
        )])
    return Presentation(
        code, identifier, purpose, tuple(fields) if fields is not None else None, expires
    )


Judge = Callable[["Presentation"], Mapping[str, Any]]
"""What a redemption found: called with the presentation before its code is used, it
answers what the 'redeemed' event records of it (``verdict``, the disclosed ``fields``)."""

Log = Callable[[dict[str, Any]], object]
"""Where a refused redemption's event goes (:func:`certs.events.event_row`): the service's
queue; by default, written at once."""


def redeem(
    store: Store,
    code: str,
    actor: str,
    *,
    judge: Judge | None = None,
    log: Log | None = None,
) -> Presentation:
    """Use a code once. Unknown, expired or used codes are refused with distinct codes, each
    refusal a 'redeem_refused' event (the code itself is never logged; an unknown one names
    no certificate). ``judge`` runs before the code is marked used (if it raises, the code
    stays unused); what it answers goes into the 'redeemed' event, written in the
    transaction that marks the code used — unless its verdict is ``error`` (could not
    check): then the code stays usable and the event is 'redeem_unchecked'."""
    digest = _hash(code)
    at = now()
    with store.engine.connect() as connection:
        row = connection.execute(
            sa.select(presentations).where(presentations.c.code_hash == digest)
        ).first()
    if row is None:
        _refused(store, actor, None, log, PresentationRefused(
            "no such presentation code: check it with the holder", code="presentation_unknown"
        ))
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if row.used_at is not None:
        _refused(store, actor, row.identifier, log, PresentationRefused(
            "this presentation code was already used; ask the holder for a new one",
            code="presentation_used",
        ))
    if expires <= at:
        _refused(store, actor, row.identifier, log, PresentationRefused(
            "this presentation code has expired; ask the holder for a new one",
            code="presentation_expired",
        ))
    # an empty list discloses nothing but what is always shown; only null discloses all
    fields = json.loads(row.fields) if row.fields is not None else None
    presentation = Presentation(
        code, row.identifier, row.purpose, tuple(fields) if fields is not None else None, expires
    )
    found: Mapping[str, Any] = judge(presentation) if judge is not None else {}
    if found.get("verdict") == "error":
        # could not check (the chain unreachable, say): the counter learnt nothing it can
        # act on, so the code is not used up — the holder need not make a new one
        with store.transaction() as connection:
            issuer, type_code = certificate_facts(connection, [row.identifier]).get(
                row.identifier, (None, None)
            )
            write_events(connection, [event_row(
                "redeem_unchecked", actor, identifier=row.identifier, issuer=issuer,
                type_code=type_code, detail={"purpose": row.purpose, "fields": fields, **found},
            )])
        return presentation
    with store.transaction() as connection:
        updated = connection.execute(
            presentations.update()
            .where(presentations.c.code_hash == digest, presentations.c.used_at.is_(None))
            .values(used_at=now(), used_by=actor)
        )
        if updated.rowcount == 1:
            issuer, type_code = certificate_facts(connection, [row.identifier]).get(
                row.identifier, (None, None)
            )
            write_events(connection, [event_row(
                "redeemed", actor, identifier=row.identifier, issuer=issuer,
                type_code=type_code,
                detail={"purpose": row.purpose, "fields": fields, **found},
            )])
    if updated.rowcount != 1:
        _refused(store, actor, row.identifier, log, PresentationRefused(
            "this presentation code was already used", code="presentation_used"
        ))
    return presentation


def _refused(
    store: Store, actor: str, identifier: str | None, log: Log | None, exc: PresentationRefused
) -> NoReturn:
    row = event_row("redeem_refused", actor, identifier=identifier,
                    detail={"error": exc.code, "message": str(exc)})
    if log is not None:
        log(row)
    else:
        with store.transaction() as connection:
            facts = certificate_facts(connection, [identifier] if identifier else [])
            issuer, type_code = facts.get(identifier or "", (None, None))
            write_events(connection, [{**row, "issuer": issuer, "type_code": type_code}])
    raise exc


def log_event(
    store: Store, identifier: str, event: str, actor: str, detail: dict[str, object]
) -> None:
    """Write one event of ``actor`` about ``identifier`` at once."""
    with store.transaction() as connection:
        issuer, type_code = certificate_facts(connection, [identifier]).get(
            identifier, (None, None)
        )
        write_events(connection, [event_row(event, actor, identifier=identifier, issuer=issuer,
                                            type_code=type_code, detail=detail)])
