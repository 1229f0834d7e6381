"""The service behind the HTTP API: who is calling, and what each role may do.

Route functions stay thin; everything an endpoint does happens here, on domain objects.
Background work runs in daemon threads started by :meth:`Service.start`: the chain indexer's
loop (PostgreSQL: in one elected process of all the instances; SQLite: in every process); the
batcher (which also reads recent anchors back from the chain) and the status reconciler
(:mod:`certs.reconcile`) in exactly one elected process (:mod:`verifier.app.service.leader`);
the writer of the 'verified' event log. Each loop logs every error on one line, counts it (the
metrics) and carries on. The service never starts, stops or restarts the chain.
"""

from __future__ import annotations

from verifier.app.service.auditing import Auditing, EventFilter, TimelineKey
from verifier.app.service.background import BackgroundWork
from verifier.app.service.base import (
    IDEMPOTENCY_SECONDS,
    KEY_CACHE_SECONDS,
    ROLES,
    AccessDenied,
    Answer,
    NotFound,
    Principal,
    Unauthenticated,
    check_idempotency_key,
    json_text,
)
from verifier.app.service.issuing import Issuing
from verifier.app.service.reading import Reading, limit_verdict, verify_file_isolated

__all__ = [
    "IDEMPOTENCY_SECONDS",
    "KEY_CACHE_SECONDS",
    "ROLES",
    "AccessDenied",
    "Answer",
    "Auditing",
    "EventFilter",
    "NotFound",
    "Principal",
    "Service",
    "TimelineKey",
    "Unauthenticated",
    "check_idempotency_key",
    "json_text",
    "limit_verdict",
    "verify_file_isolated",
]


class Service(BackgroundWork, Issuing, Reading, Auditing):
    """One process's view of the service: its core (:mod:`verifier.app.service.base`), its
    background work, what it changes, what it reads, what the auditor reads."""
