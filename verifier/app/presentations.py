"""Presentation codes: short-lived, single-use codes a holder shows at a counter.

A code is 10 characters from an alphabet without look-alikes (``23456789ABCDEFGHJKMNPQRSTUVWXYZ``,
about 49 bits), shown as ``XXXXX-XXXXX`` to read aloud. Only its SHA-256 is stored. Redeeming
marks it used in the same transaction that checks it, so a replay is refused even under
concurrency. Each creation and use is a service event in the certificate's history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from certs.errors import CertError
from certs.store import Store, now, presentations, service_events

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
        connection.execute(
            service_events.insert().values(
                identifier=identifier,
                event="presented",
                actor=actor,
                detail=json.dumps({"purpose": purpose, "fields": fields}, ensure_ascii=False),
                created_at=created,
            )
        )
    return Presentation(
        code, identifier, purpose, tuple(fields) if fields is not None else None, expires
    )


def redeem(store: Store, code: str, actor: str) -> Presentation:
    """Use a code once. Unknown, expired or used codes are refused with distinct codes."""
    digest = _hash(code)
    at = now()
    with store.transaction() as connection:
        row = connection.execute(
            sa.select(presentations).where(presentations.c.code_hash == digest)
        ).first()
        if row is None:
            raise PresentationRefused(
                "no such presentation code: check it with the holder", code="presentation_unknown"
            )
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
        if row.used_at is not None:
            raise PresentationRefused(
                "this presentation code was already used; ask the holder for a new one",
                code="presentation_used",
            )
        if expires <= at:
            raise PresentationRefused(
                "this presentation code has expired; ask the holder for a new one",
                code="presentation_expired",
            )
        updated = connection.execute(
            presentations.update()
            .where(presentations.c.code_hash == digest, presentations.c.used_at.is_(None))
            .values(used_at=at, used_by=actor)
        )
        if updated.rowcount != 1:
            raise PresentationRefused(
                "this presentation code was already used", code="presentation_used"
            )
        connection.execute(
            service_events.insert().values(
                identifier=row.identifier,
                event="redeemed",
                actor=actor,
                detail=json.dumps({"purpose": row.purpose}, ensure_ascii=False),
                created_at=at,
            )
        )
    # an empty list discloses nothing but what is always shown; only null discloses all
    fields = json.loads(row.fields) if row.fields is not None else None
    return Presentation(
        code, row.identifier, row.purpose, tuple(fields) if fields is not None else None, expires
    )


def log_event(
    store: Store, identifier: str, event: str, actor: str, detail: dict[str, object]
) -> None:
    with store.transaction() as connection:
        connection.execute(
            service_events.insert().values(
                identifier=identifier,
                event=event,
                actor=actor,
                detail=json.dumps(detail, ensure_ascii=False),
                created_at=now(),
            )
        )
