"""The service's core: who is calling (API keys, roles), the state one process keeps (the
store, the chain clients, the index), and the errors and answers every part of it shares."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from certs.batcher import Batcher
from certs.events import certificate_facts, event_row, write_events
from certs.issuance import IssuerProfile
from certs.status import (
    CertificateRecord,
    load_record,
)
from certs.store import Store
from chain.registry import RegistryClient
from chain.rpc import Rpc
from verifier.app.agency import hash_api_key, issuer_chain_client, issuer_profile
from verifier.app.context import chain_rpc, deployment
from verifier.app.service.leader import Election
from verifier.checks.verdict import Verdict
from verifier.errors import VerifierError
from verifier.index.indexer import Indexer
from verifier.settings import Settings

_log = logging.getLogger("verifier.service")  # one logger for the whole service


ROLES = ("admin", "issuer", "counter", "auditor")
KEY_CACHE_SECONDS = 2.0
"""How long a process trusts an API key lookup (a revocation takes effect within this time)."""
LOG_FLUSH_SECONDS = 0.2
RECONCILE_SECONDS = 5.0
"""How often the service compares stored statuses with the chain's (and repairs them)."""
INDEX_RPC_TIMEOUT = 5.0
"""The indexer's requests give up after this long (a stopped node: retried with back-off;
verdicts are ``error`` after ``max_staleness_seconds`` whatever this is)."""


IDEMPOTENCY_SECONDS = 24 * 3600
"""How long the answer to a request with an ``Idempotency-Key`` is kept (a retry after that
is a new request)."""
IDEMPOTENCY_KEY_MAX = 255


def check_idempotency_key(key: str) -> None:
    """An ``Idempotency-Key`` is 1 to 255 printable ASCII characters (space to ``~``)."""
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX or not all(" " <= c <= "~" for c in key):
        raise VerifierError(
            f"the Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII "
            "characters (a UUID is a good key)",
            code="idempotency_key_invalid",
        )


def json_text(body: Any) -> str:
    """A JSON answer as the API sends it (as Starlette's ``JSONResponse`` renders it)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True)
class Answer:
    """An API answer: status code and JSON text; ``replayed`` if it was stored earlier."""

    status: int
    body: str
    replayed: bool


class _Replay(Exception):
    """Raised inside an issuance transaction to end it: the answer was already stored."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


class AccessDenied(VerifierError):
    """The caller may not do this (HTTP 403)."""

    code = "forbidden"


class Unauthenticated(VerifierError):
    """No or an unknown API key (HTTP 401)."""

    code = "unauthenticated"


class NotFound(VerifierError):
    code = "not_found"


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    """The issuer's USCC, or the counter's / auditor's name."""

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.subject}"


class ServiceBase:
    """One process's view of the service: its state, the callers' access, the chain clients
of the issuing agencies."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store.open(settings.database)
        self.rpc = chain_rpc(settings)  # the running devnet or ZHENGYIN_RPC_URL; never started
        self.deployment = deployment(settings, self.rpc)
        self.reader = RegistryClient(self.rpc, self.deployment)
        self.indexer = Indexer(
            self.store,
            RegistryClient(Rpc(self.rpc.url, timeout=INDEX_RPC_TIMEOUT), self.deployment),
            confirmations=settings.confirmations,
            max_staleness=settings.max_staleness_seconds,
            max_head_age=settings.max_head_age_seconds,
        )
        self.batcher: Batcher | None = None
        self.loop_errors: Counter[tuple[str, str]] = Counter()
        """Errors of the background loops but the indexer's and batcher's (which count their
        own), by (loop, code)."""
        self.repairs: Counter[str] = Counter()
        """Repairs made by the reconciler, by kind (``status_resent``,
        ``status_database_updated``)."""
        self._rewind_seen: int | None = None
        self._registries: dict[str, RegistryClient] = {}
        self._governing: RegistryClient | None = None
        self._profiles: dict[str, IssuerProfile] = {}
        self._stampers: dict[str, Any] = {}
        self._pdf_maker: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.elections: dict[str, Election] = {}
        """The singleton roles this process takes part in electing, by role."""
        self.batch_sizes: list[int] = []
        self._keys: dict[str, tuple[Principal, float]] = {}
        self._purged_at = -math.inf
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def registry_for(self, uscc: str) -> RegistryClient:
        with self._lock:
            if uscc not in self._registries:
                self._registries[uscc] = issuer_chain_client(self.settings, uscc, self.rpc)
            return self._registries[uscc]

    def profile(self, uscc: str) -> IssuerProfile:
        with self._lock:
            if uscc not in self._profiles:
                self._profiles[uscc] = issuer_profile(self.settings, self.store, uscc)
            return self._profiles[uscc]

    # ---- access ----

    def authenticate(self, authorization: str | None) -> Principal:
        # the scheme is case-insensitive (RFC 7235): "bearer KEY" is as good as "Bearer KEY"
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated(
                "send an API key as 'Authorization: Bearer <key>'", code="api_key_missing"
            )
        digest = hash_api_key(key.strip())
        cached = self._keys.get(digest)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        found = self.store.api_key(digest)
        if found is None:
            raise Unauthenticated("the API key is unknown or revoked", code="api_key_invalid")
        principal = Principal(*found)
        self._keys[digest] = (principal, time.monotonic() + KEY_CACHE_SECONDS)
        return principal

    @staticmethod
    def require(principal: Principal, *roles: str) -> None:
        if principal.role not in roles:
            raise AccessDenied(
                f"this needs the role {' or '.join(roles)}; the key is a {principal.role} key",
                code="wrong_role",
            )

    def own_record(
        self, principal: Principal, identifier: str, roles: Sequence[str] = ("issuer", "admin")
    ) -> CertificateRecord:
        try:
            self.require(principal, *roles)
        except AccessDenied as exc:
            self.log_refusal(principal, "access_denied", identifier, exc)
            raise
        record = load_record(self.store, identifier)
        if principal.role == "issuer" and record.issuer != principal.subject:
            denied = AccessDenied("this certificate belongs to another agency",
                                  code="wrong_agency")
            self.log_refusal(principal, "access_denied", identifier, denied)
            raise denied
        return record

    def log_refusal(
        self,
        principal: Principal | str,
        event: str,
        identifier: str | None,
        exc: BaseException,
        *,
        reason_code: int | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Queue a refused attempt (written with the 'verified' events): the refusal's code
        and message in the detail; a status change's reason as asked."""
        actor = principal.actor if isinstance(principal, Principal) else principal
        code = getattr(exc, "code", None)
        self.queue_event(event_row(
            event, actor, identifier=identifier, reason_code=reason_code, reason=reason,
            detail={**(detail or {}), "error": code if isinstance(code, str) else "refused",
                    "message": str(exc)},
        ))

    def _count(self, loop: str, exc: BaseException) -> None:
        code = getattr(exc, "code", None)
        self.loop_errors[(loop, code if isinstance(code, str) else type(exc).__name__)] += 1

    def index_now(self, after: str) -> None:
        """Catch the index up at once (after a change made here, so the next verification
        sees it); a failure is logged and left to the indexer's loop: until it succeeds,
        verifications answer ``error``, never a stale ``valid``."""
        try:
            self.indexer.catch_up()
        except Exception as exc:
            self._count(after, exc)
            _log.warning("index catch-up after %s failed; the indexer loop retries", after,
                         exc_info=exc)

    def log_verification(self, principal: Principal, verdict: Verdict, how: str) -> None:
        """Queue a 'verified at counter X' event; a background thread writes the queue every
        ``LOG_FLUSH_SECONDS`` in one transaction (a crash loses at most that window)."""
        identifier = verdict.subject.get("identifier")
        if not isinstance(identifier, str):
            return
        chain = verdict.subject.get("chain")
        block = chain.get("block") if isinstance(chain, dict) else None
        row = event_row(
            "verified", principal.actor, identifier=identifier,
            # the block the verdict was judged at: the verification saw the chain so far
            chain_block=block if isinstance(block, int) else None,
            detail={"verdict": verdict.outcome.value, "input": how},
        )
        self.queue_event(row)

    def queue_event(self, row: dict[str, Any]) -> None:
        """Queue an event (:func:`certs.events.event_row`) for the background writer."""
        with self._log_lock:
            self._log.append(row)
        if not self._threads:  # no background writer in this process: write now
            self.flush_log()

    def flush_log(self) -> None:
        """Write the queued events. One flush at a time: a caller that needs what was queued
        before it (a timeline, an event of its own) waits for a flush in progress in another
        thread, whose rows it would not see in the queue."""
        with self._flush_lock:
            self._flush_queued()

    def _flush_queued(self) -> None:
        with self._log_lock:
            rows, self._log = self._log, []
        if not rows:
            return
        try:
            self._write_queued(rows)
        except (sa.exc.DataError, sa.exc.IntegrityError) as exc:
            # a row the database refuses must not stop the queue: the others are written
            # one by one, the refused ones logged and dropped
            for k, row in enumerate(rows):
                try:
                    self._write_queued([row])
                except (sa.exc.DataError, sa.exc.IntegrityError):
                    _log.error("an audit event was refused by the database and dropped: "
                               "event=%s actor=%s (%s)", row.get("event"), row.get("actor"),
                               type(exc.orig).__name__)
                except Exception:
                    with self._log_lock:  # the rest kept for the next round, in order
                        self._log[:0] = rows[k:]
                    raise
        except Exception:
            with self._log_lock:  # kept for the next round, in order
                self._log[:0] = rows
            raise

    def _write_queued(self, rows: list[dict[str, Any]]) -> None:
        with self.store.transaction() as connection:
            facts = certificate_facts(connection, [r["identifier"] for r in rows])
            write_events(connection, [
                {**r, "issuer": facts.get(r["identifier"], (None, None))[0],
                 "type_code": facts.get(r["identifier"], (None, None))[1]}
                for r in rows
            ])
