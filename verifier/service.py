"""The service behind the HTTP API: who is calling, and what each role may do.

Route functions stay thin; everything an endpoint does happens here, on domain objects.
Background work runs in daemon threads started by :meth:`Service.start`: the chain indexer
in every process; the batcher (which also reads recent anchors back from the chain) and the
status reconciler (:mod:`certs.reconcile`) in exactly one, chosen by a lock file; the
writer of the 'verified' event log. Each loop logs every error on one line, counts it (the
metrics) and carries on. The service never starts, stops or restarts the chain.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from certs import qr
from certs.batcher import Batcher, BatchResult
from certs.canonical import ALWAYS_DISCLOSED, disclose
from certs.issuance import IssueReport, IssuerProfile, issue
from certs.reconcile import Repair, reconcile_statuses
from certs.status import (
    CertificateRecord,
    change_status,
    load_record,
    load_records,
)
from certs.store import Store, chain_cursor, service_events
from chain.registry import ChainEvent, Registry
from chain.rpc import Rpc
from chain.transactions import TransactionReceipt
from verifier import catalogue as governance
from verifier import presentations
from verifier.agency import hash_api_key, issuer_profile, issuer_registry
from verifier.catalogue import checked_entitlements
from verifier.certificates import (
    certificate_subject,
    mask_code,
    mask_name,
    verify_certificate_text,
    verify_qr,
)
from verifier.context import chain_rpc, deployment, operator
from verifier.errors import VerifierError
from verifier.indexer import Indexer
from verifier.isolation import LimitExceeded, run_isolated
from verifier.settings import Settings
from verifier.verdict import Fragment, Status, Verdict

_log = logging.getLogger(__name__)

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


class Service:
    """One process's view of the service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store.open(settings.database)
        self.rpc = chain_rpc(settings)  # the running devnet or ZHENGYIN_RPC_URL; never started
        self.deployment = deployment(settings, self.rpc)
        self.reader = Registry(self.rpc, self.deployment)
        self.indexer = Indexer(
            self.store,
            Registry(Rpc(self.rpc.url, timeout=INDEX_RPC_TIMEOUT), self.deployment),
            confirmations=settings.confirmations,
            max_staleness=settings.max_staleness_seconds,
        )
        self.batcher: Batcher | None = None
        self.loop_errors: Counter[tuple[str, str]] = Counter()
        """Errors of the background loops but the indexer's and batcher's (which count their
        own), by (loop, code)."""
        self.repairs: Counter[str] = Counter()
        """Repairs made by the reconciler, by kind (``status_resent``,
        ``status_database_updated``)."""
        self._rewind_seen: int | None = None
        self._registries: dict[str, Registry] = {}
        self._governing: Registry | None = None
        self._profiles: dict[str, IssuerProfile] = {}
        self._stampers: dict[str, Any] = {}
        self._pdf_maker: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._batcher_lock: Any = None
        self.batch_sizes: list[int] = []
        self._keys: dict[str, tuple[Principal, float]] = {}
        self._purged_at = -math.inf
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()

    # ---- background ----

    def start(self) -> None:
        try:
            self.indexer.catch_up()
        except Exception as exc:  # reported by /healthz and as ERROR checks until it recovers
            self._count("service_start", exc)
            _log.warning(
                "service start: the first catch-up of the index failed; verifications answer "
                "error until it succeeds", exc_info=exc,
            )
        self._spawn("indexer", lambda: self.indexer.run_forever(self._stop))
        self._spawn("audit-log", self._flush_forever)
        batcher = self._take_batcher_lock()
        if batcher:
            self.batcher = Batcher(
                self.store, self.registry_for, on_mined=lambda: self.index_now("anchoring")
            )
            loop = self.batcher.run_forever
            self._spawn(
                "batcher",
                lambda: loop(
                    self._stop.is_set, on_batch=self._anchored, recheck_since=self._rewound_to
                ),
            )
            self._spawn("reconciler", self._reconcile_forever)
        _log.info(
            "service started pid=%d chain=%s chain_id=%d contract=%s batcher=%s "
            "max_staleness=%gs",
            os.getpid(), self.rpc.shown_url, self.deployment.chain_id,
            self.deployment.certificate_registry, "yes" if batcher else "no",
            self.settings.max_staleness_seconds,
        )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        try:
            self.flush_log()
        except Exception as exc:
            self._count("event_log", exc)
            _log.error("service stop: the queued 'verified' events were not written",
                       exc_info=exc)
        if self._batcher_lock is not None:
            self._batcher_lock.close()

    def _count(self, loop: str, exc: BaseException) -> None:
        code = getattr(exc, "code", None)
        self.loop_errors[(loop, code if isinstance(code, str) else type(exc).__name__)] += 1

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"zhengyin-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _take_batcher_lock(self) -> bool:
        path = Path(self.settings.home_dir) / "batcher.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._batcher_lock = handle
        return True

    def _anchored(self, result: BatchResult) -> None:
        self.batch_sizes.append(result.leaf_count)

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

    def _rewound_to(self) -> int | None:
        """The block the index last rewound to, once after each rewind (any process's): the
        batcher then reads back every anchor after it."""
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(chain_cursor.c.generation, chain_cursor.c.rewound_to).where(
                    chain_cursor.c.id == 1
                )
            ).first()
        if row is None:
            return None
        first = self._rewind_seen is None
        if self._rewind_seen == row.generation:
            return None
        self._rewind_seen = int(row.generation)
        return None if first or row.rewound_to is None else int(row.rewound_to)

    def reconcile(self) -> list[Repair]:
        """One pass of the status reconciler, while the index is current."""
        if not self.indexer.state().healthy:
            return []
        repairs = reconcile_statuses(self.store, self.registry_for)
        for repair in repairs:
            if repair.action != "waiting":
                self.repairs[f"status_{repair.action}"] += 1
        if any(r.action != "waiting" for r in repairs):
            self.index_now("reconciling")
        return repairs

    def _reconcile_forever(self) -> None:
        while not self._stop.wait(RECONCILE_SECONDS):
            try:
                self.reconcile()
            except Exception as exc:
                self._count("reconciler", exc)
                _log.warning("status reconciliation failed; retried in %gs", RECONCILE_SECONDS,
                             exc_info=exc)

    def registry_for(self, uscc: str) -> Registry:
        with self._lock:
            if uscc not in self._registries:
                self._registries[uscc] = issuer_registry(self.settings, uscc, self.rpc)
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
        self.require(principal, *roles)
        record = load_record(self.store, identifier)
        if principal.role == "issuer" and record.issuer != principal.subject:
            raise AccessDenied("this certificate belongs to another agency", code="wrong_agency")
        return record

    # ---- issuing ----

    def issue(
        self,
        principal: Principal,
        rows: list[tuple[int, Any]],
        *,
        on_begin: Callable[[Connection], object] | None = None,
        before_commit: Callable[[Connection, IssueReport], object] | None = None,
    ) -> IssueReport:
        """Issue ``rows`` for the caller's agency. ``on_begin`` runs first in the issuance
        transaction; the 'issued' events, then ``before_commit``, last: all commit with the
        certificates, or none does."""
        self.require(principal, "issuer")
        allowed = checked_entitlements(
            self.indexer.authorization_events(principal.subject), principal.subject
        )

        def finish(connection: Connection, report: IssueReport) -> None:
            if report.accepted:
                created = dt.datetime.now(dt.UTC)
                connection.execute(
                    service_events.insert(),
                    [
                        {
                            "identifier": a.identifier,
                            "event": "issued",
                            "actor": principal.actor,
                            "detail": "{}",
                            "created_at": created,
                        }
                        for a in report.accepted
                    ],
                )
            if before_commit is not None:
                before_commit(connection, report)

        return issue(
            self.store,
            self.profile(principal.subject),
            rows,
            entitlements=allowed,
            on_begin=on_begin,
            before_commit=finish,
        )

    def issue_once(
        self,
        principal: Principal,
        rows: list[tuple[int, Any]],
        answer: Callable[[IssueReport], tuple[int, Any]],
        *,
        key: str | None,
        digest: str,
    ) -> Answer:
        """Issue ``rows`` and give ``answer(report)`` (status code and JSON body), at most
        once per idempotency ``key`` of this caller (:attr:`Principal.actor`).

        A retry with the same key and the same request (``digest``) gets the first answer
        again and issues nothing; the same key with another request is refused
        (``idempotency_key_reused``, HTTP 422). The key is claimed first in the issuance
        transaction and the answer written last in it: both commit with the certificates or
        none does, so a crash before the commit leaves nothing (a retry issues afresh) and
        one after it leaves the answer (a retry gets it). A retry that arrives while the
        first is still issuing waits for it (the database's write lock on SQLite, the key's
        row on PostgreSQL), then gets its answer. Answers are kept
        :data:`IDEMPOTENCY_SECONDS`. Without a key: issue and answer, as ever."""
        self.require(principal, "issuer")
        if key is None:
            status, body = answer(self.issue(principal, rows))
            return Answer(status, json_text(body), replayed=False)
        check_idempotency_key(key)
        who = principal.actor
        kept = self._kept_answer(who, key, digest)
        if kept is not None:
            return kept
        self._purge_answers()
        made: list[Answer] = []

        def claim(connection: Connection) -> None:
            # a request with this key may have committed since the look above
            found = self._kept_answer(who, key, digest, connection)
            if found is not None:
                raise _Replay(found)
            self.store.claim_key(connection, who, key, digest, self._answers_since())

        def keep(connection: Connection, report: IssueReport) -> None:
            status, body = answer(report)
            text = json_text(body)
            self.store.answer_key(connection, who, key, status, text)
            made.append(Answer(status, text, replayed=False))

        try:
            self.issue(principal, rows, on_begin=claim, before_commit=keep)
        except _Replay as replay:
            return replay.answer
        except sa.exc.IntegrityError:
            # PostgreSQL: the same key is being used by a request in progress; this one
            # waited for it to commit, and its answer is now stored
            kept = self._kept_answer(who, key, digest)
            if kept is None:
                raise
            return kept
        return made[0]

    def _answers_since(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=IDEMPOTENCY_SECONDS)

    def _kept_answer(
        self, who: str, key: str, digest: str, connection: Connection | None = None
    ) -> Answer | None:
        found = self.store.stored_answer(who, key, self._answers_since(), connection)
        if found is None:
            return None
        stored_digest, status, text = found
        if stored_digest != digest:
            raise VerifierError(
                "this Idempotency-Key was already used for a different request; use a new "
                "key for a new request",
                code="idempotency_key_reused",
            )
        return Answer(status, text, replayed=True)

    def _purge_answers(self) -> None:
        """Forget expired idempotent answers, at most once a minute per process."""
        now_ = time.monotonic()
        with self._lock:
            if now_ - self._purged_at < 60.0:
                return
            self._purged_at = now_
        self.store.purge_answers(self._answers_since())

    def change_status(
        self,
        principal: Principal,
        identifiers: list[str],
        action: str,
        reason_code: int,
        reason: str,
    ) -> TransactionReceipt:
        self.require(principal, "issuer", "admin")
        records = load_records(self.store, identifiers)
        issuers = {r.issuer for r in records}
        if principal.role == "issuer" and issuers != {principal.subject}:
            raise AccessDenied(
                "you can change only your own agency's certificates", code="wrong_agency"
            )
        if len(issuers) != 1:
            raise VerifierError(
                "one request changes the certificates of one agency", code="mixed_agencies"
            )
        issuer = issuers.pop()
        receipt = change_status(
            self.store,
            self.registry_for(issuer),
            issuer,
            identifiers,
            action,
            reason_code=reason_code,
            reason=reason,
        )
        self.index_now("a status change")  # the next verification sees it at once
        return receipt

    # ---- the catalogue and authorizations (admins) ----

    def governing_registry(self) -> Registry:
        """A registry client sending from the service's operator account (the CLI's
        ``zhengyin type …`` / ``issuer authorize …`` account), one per process: its
        transactions are numbered by one sender."""
        with self._lock:
            if self._governing is None:
                self._governing = Registry(
                    self.rpc, self.deployment, operator(self.settings, self.rpc)
                )
            return self._governing

    def _governed(self, principal: Principal, after: str, what: str, change: Any) -> Any:
        """``change(operator registry)``, logged with the API key's holder (the chain knows
        only the operator account), then the index caught up."""
        try:
            result = change(self.governing_registry())
        except Exception as exc:
            _log.warning("admin change refused what=%r actor=%s code=%s", what,
                         principal.actor, getattr(exc, "code", type(exc).__name__))
            raise
        receipt = result[1] if isinstance(result, tuple) else result
        _log.info("admin change what=%r actor=%s tx=%s block=%s", what, principal.actor,
                  receipt.tx_hash, receipt.block_number)
        self.index_now(after)  # the next verification and issuance see it at once
        return result

    def publish_type(self, principal: Principal, code: str, *, revise: bool = False) -> Any:
        self.require(principal, "admin")
        return self._governed(
            principal, "a catalogue change", f"{'revise' if revise else 'add'} type {code}",
            lambda admin: governance.publish_type(admin, code, revise=revise),
        )

    def withdraw_type(self, principal: Principal, code: str) -> TransactionReceipt:
        self.require(principal, "admin")
        receipt: TransactionReceipt = self._governed(
            principal, "a catalogue change", f"withdraw type {code}",
            lambda admin: governance.withdraw_type(admin, code),
        )
        return receipt

    def authorize(
        self,
        principal: Principal,
        uscc: str,
        type_code: str,
        valid_from: str | None,
        valid_until: str | None,
        jurisdiction: str | None,
    ) -> tuple[governance.Authorization, TransactionReceipt]:
        self.require(principal, "admin")
        found: tuple[governance.Authorization, TransactionReceipt] = self._governed(
            principal, "an authorization", f"authorize {uscc} for {type_code}",
            lambda admin: governance.authorize_issuer(
                admin, uscc, type_code, valid_from, valid_until, jurisdiction
            ),
        )
        return found

    def deauthorize(self, principal: Principal, uscc: str, type_code: str) -> TransactionReceipt:
        self.require(principal, "admin")
        receipt: TransactionReceipt = self._governed(
            principal, "an authorization withdrawn", f"deauthorize {uscc} for {type_code}",
            lambda admin: governance.deauthorize_issuer(admin, uscc, type_code),
        )
        return receipt

    def catalogue(self, principal: Principal, code: str | None = None) -> Any:
        """The catalogue as the index holds it (every role may read it); one type with its
        field schema when ``code`` is given."""
        self.require(principal, *ROLES)
        entries = governance.fold_catalogue(self.indexer.catalogue_events())
        if code is not None:
            return governance.type_json(entries, code)
        return governance.catalogue_json(entries)

    def authorizations(self, principal: Principal, uscc: str) -> list[dict[str, Any]]:
        """An agency's grants as the index holds them: for admins and the agency itself."""
        self.require(principal, "admin", "issuer")
        if principal.role == "issuer" and principal.subject != uscc:
            raise AccessDenied(
                "an agency may read only its own authorizations", code="wrong_agency"
            )
        events = self.indexer.issuer_events(uscc)
        registered = [e for e in events if e.name == "IssuerRegistered"]
        if not registered:
            raise NotFound(
                f"agency {uscc} is not registered on chain (as far as this service's index "
                "has read it)",
                code="unknown_issuer",
            )
        jurisdiction = governance.context_detail(registered[-1]).get("jurisdiction", "")
        return governance.authorizations_json(
            self.indexer.catalogue_events() + events, uscc, str(jurisdiction)
        )

    # ---- sealing ----

    def stamp(
        self,
        principal: Principal,
        pdf: bytes,
        page: int | None,
        x_mm: float | None,
        y_mm: float | None,
        width_mm: float | None,
    ) -> tuple[bytes, TransactionReceipt]:
        from seals.pdf import sealed_document_digest
        from verifier.stamping import AgencyStamper

        self.require(principal, "issuer")
        with self._lock:
            stamper = self._stampers.get(principal.subject)
            if stamper is None:
                stamper = AgencyStamper.load(self.settings, principal.subject)
                self._stampers[principal.subject] = stamper
        sealed = stamper.stamp(pdf, page=page, x_mm=x_mm, y_mm=y_mm, width_mm=width_mm)
        receipt = self.registry_for(principal.subject).anchor_document(
            principal.subject, sealed_document_digest(sealed)
        )
        self.index_now("stamping")
        return sealed, receipt

    def certificate_pdf(self, principal: Principal, identifier: str) -> bytes:
        """The sealed, anchored PDF of a certificate: made once, then kept under
        ``<home>/pdfs`` (every copy handed out is the same anchored file)."""
        from seals.pdf import sealed_document_digest
        from verifier.render import CertificatePdfMaker

        record = self.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
        path = self.settings.home_dir / "pdfs" / f"{record.identifier}.pdf"
        if path.is_file():
            return path.read_bytes()
        with self._lock:
            if self._pdf_maker is None:
                self._pdf_maker = CertificatePdfMaker(self.settings)
            maker = self._pdf_maker
        sealed: bytes = maker.render(record)
        self.registry_for(record.issuer).anchor_document(
            record.issuer, sealed_document_digest(sealed)
        )
        self.index_now("anchoring a certificate PDF")  # the next verification sees it
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(sealed)
        partial.replace(path)
        return sealed

    # ---- verifying ----

    def verify_qr(self, text: str) -> Verdict:
        return verify_qr(text, self.indexer)

    def verify_bytes(self, data: bytes) -> Verdict:
        """An uploaded file, whatever it is: certificate JSON, sealed PDF, seal, signature."""
        if data.lstrip()[:1] == b"{":
            return verify_certificate_text(data, lambda: self.indexer)
        return verify_file_isolated(data, self)

    def log_verification(self, principal: Principal, verdict: Verdict, how: str) -> None:
        """Queue a 'verified at counter X' event; a background thread writes the queue every
        ``LOG_FLUSH_SECONDS`` in one transaction (a crash loses at most that window)."""
        identifier = verdict.subject.get("identifier")
        if not isinstance(identifier, str):
            return
        row = {
            "identifier": identifier,
            "event": "verified",
            "actor": principal.actor,
            "detail": json.dumps({"verdict": verdict.outcome.value, "input": how}),
            "created_at": dt.datetime.now(dt.UTC),
        }
        with self._log_lock:
            self._log.append(row)
        if not self._threads:  # no background writer in this process: write now
            self.flush_log()

    def flush_log(self) -> None:
        with self._log_lock:
            rows, self._log = self._log, []
        if not rows:
            return
        try:
            with self.store.transaction() as connection:
                connection.execute(service_events.insert(), rows)
        except Exception:
            with self._log_lock:  # kept for the next round, in order
                self._log[:0] = rows
            raise

    def _flush_forever(self) -> None:
        failures = 0
        while not self._stop.wait(LOG_FLUSH_SECONDS if not failures else 1.0):
            try:
                self.flush_log()
            except Exception as exc:  # the database is away: the rows wait for the next round
                failures += 1
                self._count("event_log", exc)
                with self._log_lock:
                    waiting = len(self._log)
                _log.warning("event log flush failed attempt=%d waiting=%d", failures, waiting,
                             exc_info=exc)
                continue
            if failures:
                _log.info("event log flush recovered after=%d failed attempts", failures)
            failures = 0

    # ---- presenting ----

    def present(
        self,
        principal: Principal,
        identifier: str,
        purpose: str,
        fields: list[str] | None,
        ttl: dt.timedelta = presentations.DEFAULT_TTL,
    ) -> presentations.Presentation:
        record = self.own_record(principal, identifier)
        if fields is not None:
            unknown = [f for f in fields if f not in record.document.claims]
            if unknown:
                raise VerifierError(
                    f"unknown field(s) to disclose: {', '.join(unknown)}", code="unknown_field"
                )
            # what the certificate is, who issued it and its validity are always shown
            fields = [*dict.fromkeys([*ALWAYS_DISCLOSED, *fields])]
        if record.status == "pending":
            raise VerifierError(
                "the certificate is not anchored yet; try again in a moment", code="not_anchored"
            )
        return presentations.create(self.store, identifier, purpose, fields, principal.actor, ttl)

    def redeem(self, principal: Principal, code: str) -> tuple[Verdict, dict[str, Any]]:
        self.require(principal, "counter")
        presentation = presentations.redeem(self.store, code, principal.actor)
        record = load_record(self.store, presentation.identifier)
        # every check runs on the full stored document (its validity and status whatever
        # the holder hides); the counter is shown only the disclosed claims
        full = verify_certificate_text(record.document.to_json().encode(), lambda: self.indexer)
        document = record.document
        if presentation.fields is not None:
            shown_paths = {*ALWAYS_DISCLOSED, *presentation.fields}
            document = disclose(document, [p for p in document.claims if p not in shown_paths])
        subject = {
            **certificate_subject(document),
            **{k: v for k, v in full.subject.items() if k == "chain"},
        }
        verdict = Verdict(full.checks, subject)
        shown = {
            "values": document.values(),
            "hidden": list(document.hidden_paths),
            "purpose": presentation.purpose,
        }
        return verdict, shown

    # ---- history ----

    def history(
        self,
        principal: Principal,
        identifier: str,
        *,
        after: HistoryKey | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """The certificate's timeline, chain and service events in time order, ``limit``
        events after the position ``after`` (each event's position is its ``"key"``; the
        answer's ``"more"`` says whether events follow)."""
        record = self.own_record(principal, identifier, roles=("issuer", "auditor", "admin"))
        self.flush_log()  # this process's queued 'verified' events belong in the timeline
        subjects = [record.leaf] + ([record.root] if record.root else [])
        own = self.indexer.events_of(record.issuer, subjects)
        # what stands behind it: its type in the catalogue, its issuer's authorization for
        # that type, the issuer's registration and keys (each in chain order)
        type_code = str(record.document.values()["type.code"])
        context = governance.context_events(
            self.indexer.authorization_events(record.issuer, type_code)
            + self.indexer.issuer_events(record.issuer),
            record.issuer,
            type_code,
        )
        chain = [
            (_key_of(dt.datetime.fromtimestamp(e.timestamp, dt.UTC), 0, e.block_number,
                     e.log_index), _chain_entry(e))
            for e in own + context
        ]
        # the service's events (a 'verified' for each verification: unbounded) are read a
        # page at a time, in (time, id) order from the position asked
        query = sa.select(service_events).where(service_events.c.identifier == identifier)
        if after is not None:
            moment = dt.datetime.fromisoformat(after[0])
            later = service_events.c.created_at > moment
            if after[1] == 0:  # after a chain event: service events of that moment follow it
                query = query.where(service_events.c.created_at >= moment)
            else:
                query = query.where(sa.or_(later, sa.and_(
                    service_events.c.created_at == moment, service_events.c.id > after[2])))
        query = query.order_by(service_events.c.created_at, service_events.c.id)
        if limit is not None:
            query = query.limit(limit + 1)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        service = [
            (_key_of(r.created_at, 1, r.id, 0), {
                "source": "service",
                "event": r.event,
                "actor": r.actor,
                "time": _iso(r.created_at),
                "detail": json.loads(r.detail),
            })
            for r in rows
        ]
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

    # ---- reading ----

    def masked(self, record: CertificateRecord) -> dict[str, Any]:
        values = record.document.values()
        out: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith("holder.")}
        if isinstance(values.get("holder.name"), str):
            out["holder.name"] = mask_name(str(values["holder.name"]))
        if isinstance(values.get("holder.code"), str):
            out["holder.code"] = mask_code(str(values["holder.code"]))
        return out

    def qr_text(self, record: CertificateRecord) -> str:
        return qr.payload_for(record.document).encode()


HistoryKey = tuple[str, int, int, int]
"""An event's position in a timeline: (UTC time, 0 chain / 1 service, block or row id,
log index)."""


def _key_of(when: dt.datetime, source: int, first: int, second: int) -> HistoryKey:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when.astimezone(dt.UTC).isoformat(timespec="microseconds"), source, first, second)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _chain_entry(event: ChainEvent) -> dict[str, Any]:
    names = {"RootAnchored": "anchored", "Superseded": "superseded"}
    name = names.get(event.name, event.name)
    if event.name == "StatusChanged":
        name = {1: "revoked", 2: "suspended", 0: "reinstated"}.get(
            int(event.args["status"]), "status"
        )
    about = "certificate"
    if event.name in governance.CONTEXT_NAMES:
        about, name = governance.CONTEXT_NAMES[event.name]
        detail = governance.context_detail(event)
    else:
        detail = {
            k: (v.hex() if isinstance(v, bytes) else v)
            for k, v in event.args.items()
            if k not in ("issuer", "by")
        }
    when = dt.datetime.fromtimestamp(event.timestamp, dt.UTC)
    return {
        "source": "chain",
        "about": about,
        "event": name,
        "block": event.block_number,
        "tx_hash": event.tx_hash,
        "time": _iso(when),
        "detail": detail,
    }


def verify_file_isolated(data: bytes, service: Service) -> Verdict:
    """A sealed PDF (every seal, each sealed revision's anchor, the embedded certificate) or
    a seal or seal signature file. The file is read in a child process within the
    service's limits (:mod:`verifier.isolation`); the chain is asked here."""
    from verifier.cli.verify import seal_file_verdict, trust_anchors
    from verifier.pdf_checks import judge_pdf, read_pdf

    settings = service.settings
    anchors = trust_anchors(settings.home_dir, ())
    pdf = data.lstrip()[:5].startswith(b"%PDF-")
    try:
        if pdf:
            local = run_isolated(
                functools.partial(read_pdf, anchors=anchors), data,
                seconds=settings.verify_seconds, memory=settings.verify_memory_bytes,
            )
            return judge_pdf(local, lambda: service.indexer)
        return run_isolated(
            seal_file_verdict, data, anchors,
            seconds=settings.verify_seconds, memory=settings.verify_memory_bytes,
        )
    except LimitExceeded as exc:
        return limit_verdict(exc, "pdf" if pdf else "file")


def limit_verdict(exc: LimitExceeded, kind: str) -> Verdict:
    """The verdict on a file whose reading ran out of time or memory: could not check."""
    why = exc.code if exc.code in ("verify_busy", "verify_timeout", "verify_memory") else "other"
    return Verdict(
        (
            Fragment(
                "file.resources",
                "format",
                Status.ERROR,
                f"file.resources.{why}",
                {"error": str(exc)},
                {"code": exc.code},
            ),
        ),
        {"kind": kind},
    )
