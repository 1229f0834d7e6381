"""What the service changes: issuing (at most once per idempotency key), certificates'
statuses, the catalogue and authorizations on chain (admins), and sealing PDFs."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from certs.events import issued_events
from certs.issuance import IssueReport, issue
from certs.status import (
    CertificateNotFound,
    StatusChangeRefused,
    change_status,
    load_records,
)
from chain.errors import ContractRevert
from chain.registry import RegistryClient
from chain.transactions import TransactionReceipt
from verifier.app import catalogue as governance
from verifier.app import catalogue_context as timeline_context
from verifier.app.catalogue import checked_entitlements
from verifier.app.context import operator
from verifier.app.service.base import (
    IDEMPOTENCY_SECONDS,
    ROLES,
    AccessDenied,
    Answer,
    NotFound,
    Principal,
    ServiceBase,
    _Replay,
    check_idempotency_key,
    json_text,
)
from verifier.checks.authority import fold_catalogue
from verifier.errors import VerifierError

_log = logging.getLogger("verifier.service")  # one logger for the whole service



REFUSALS = frozenset({"forbidden", "wrong_role", "wrong_agency", "mixed_agencies"})
"""The service's own refusals of a status change that the audit log records (besides the
store's and the chain's)."""


class Issuing(ServiceBase):
    """Issuing, status changes, governance and sealing."""

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
        transaction; ``before_commit``, then the 'issued' events, last: all commit with the
        certificates, or none does."""
        self.require(principal, "issuer")
        self.flush_log()  # what this process queued happened before
        allowed = checked_entitlements(
            self.indexer.authorization_events(principal.subject), principal.subject
        )

        def finish(connection: Connection, report: IssueReport) -> None:
            if before_commit is not None:
                before_commit(connection, report)
            # last: the log's order is held from its first id to the commit (certs.events)
            issued_events(connection, principal.subject, report.accepted, principal.actor)

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
        try:
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
            self.flush_log()  # what this process queued happened before
            receipt = change_status(
                self.store,
                self.registry_for(issuer),
                issuer,
                identifiers,
                action,
                reason_code=reason_code,
                reason=reason,
                actor=principal.actor,
            )
        except (AccessDenied, StatusChangeRefused, CertificateNotFound, ContractRevert,
                VerifierError) as exc:
            # a refused change is logged, for each certificate named (the chain and the
            # database not answering is no refusal: nothing is logged then)
            if not isinstance(exc, VerifierError) or exc.code in REFUSALS:
                for identifier in dict.fromkeys(identifiers):
                    self.log_refusal(principal, "status_refused", identifier, exc,
                                     reason_code=reason_code, reason=reason,
                                     detail={"action": action})
            raise
        self.index_now("a status change")  # the next verification sees it at once
        return receipt

    # ---- the catalogue and authorizations (admins) ----

    def governing_registry(self) -> RegistryClient:
        """A registry client sending from the service's operator account (the CLI's
        ``zhengyin type …`` / ``issuer authorize …`` account), one per process: its
        transactions are numbered by one sender."""
        with self._lock:
            if self._governing is None:
                self._governing = RegistryClient(
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
        entries = fold_catalogue(self.indexer.catalogue_events())
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
        jurisdiction = timeline_context.context_detail(registered[-1]).get("jurisdiction", "")
        return governance.authorizations_json(
            self.indexer.catalogue_events() + events, uscc, str(jurisdiction)
        )

    # ---- sealing ----

    def stamp(
        self,
        principal: Principal,
        data: bytes,
        page: int | None,
        x_mm: float | None,
        y_mm: float | None,
        width_mm: float | None,
    ) -> tuple[bytes, TransactionReceipt]:
        from seals.pdf import sealed_document_digest
        from verifier.app.stamping import AgencyStamper

        self.require(principal, "issuer")
        with self._lock:
            stamper = self._stampers.get(principal.subject)
            if stamper is None:
                stamper = AgencyStamper.load(self.settings, principal.subject)
                self._stampers[principal.subject] = stamper
        sealed = stamper.stamp(data, page=page, x_mm=x_mm, y_mm=y_mm, width_mm=width_mm)
        receipt = self.registry_for(principal.subject).anchor_document(
            principal.subject, sealed_document_digest(sealed)
        )
        self.index_now("stamping")
        return sealed, receipt

    def certificate_pdf(self, principal: Principal, identifier: str) -> bytes:
        """The sealed, anchored PDF of a certificate: made once, then kept under
        ``<home>/pdfs`` (every copy handed out is the same anchored file)."""
        return self._certificate_file(principal, identifier, "pdf")

    def certificate_ofd(self, principal: Principal, identifier: str) -> bytes:
        """The sealed, anchored OFD of a certificate: made once, then kept under
        ``<home>/ofds``, as :meth:`certificate_pdf`."""
        return self._certificate_file(principal, identifier, "ofd")

    def _certificate_file(self, principal: Principal, identifier: str, kind: str) -> bytes:
        from seals.pdf import sealed_document_digest
        from verifier.app.render import CertificatePdfMaker

        # the file carries the full salted document, the holder's credential: an auditor
        # reads the certificate's values (GET /v1/certificates/{id}), never the file
        record = self.own_record(principal, identifier)
        path = self.settings.home_dir / f"{kind}s" / f"{record.identifier}.{kind}"
        if path.is_file():
            return path.read_bytes()
        with self._lock:
            if self._pdf_maker is None:
                self._pdf_maker = CertificatePdfMaker(self.settings)
            maker = self._pdf_maker
        sealed: bytes = maker.render_ofd(record) if kind == "ofd" else maker.render(record)
        self.registry_for(record.issuer).anchor_document(
            record.issuer, sealed_document_digest(sealed)
        )
        self.index_now(f"anchoring a certificate {kind.upper()}")  # the next verification sees it
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_bytes(sealed)
        partial.replace(path)
        return sealed
